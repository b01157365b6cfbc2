#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Where a helper's time goes, tapgate and the reference side by side, in the
# same throwaway namespace as run.sh:
#   1. syscalls per run (strace -f -u USER: setuid works under a root tracer;
#      only the helper processes are counted, from their execve on);
#   2. ld.so statistics (LD_DEBUG=statistics, as root on a non-setuid copy:
#      ld.so ignores LD_DEBUG in a setuid process);
#   3. libraries loaded, their constructors and relocations;
#   4. perf samples per DSO and the top symbols (system-wide cpu-clock,
#      filtered to the helper's command name), if perf is installed;
#   5. page faults per run by mapping (libc text, heap, ...) and by the
#      function that took them (perf page-faults -d), if perf is installed;
#   6. the service path, where the build has tapgated: the same tapgate,
#      as a 4755 copy named tapgate-client run under no_new_privs, is in
#      1, 4 and 5 as one more helper; the service's side (its children,
#      comm tapgated) in 4, and here its system calls and CPU time per
#      request.
# The floor under tapgate's own work (bench-rules-floor), where the build
# has it, is one more helper in 1 to 5.
# Needs root. Builds like run.sh.
#
#   bash tests/bench/profile.sh [BUILDDIR] [--count=N]
# shellcheck source=tests/bench/common.sh
. "$(dirname "$0")/common.sh"
count=100
for a in "$@"; do
    case $a in
    --count=*) count=${a#--count=} ;;
    *) echo "profile.sh: unknown option $a" >&2; exit 2 ;;
    esac
done
reference=${REFERENCE_HELPER:-/usr/lib/qemu/qemu-bridge-helper}
if [ "$(id -u)" -ne 0 ]; then
    echo "profile.sh: needs root" >&2
    exit 77
fi
if [ -z "${TG_ISOLATED:-}" ]; then
    TG_BENCH_BUILD_ONLY=1 bash "$here/run.sh" "$build"
    command -v strace >/dev/null || { echo "profile.sh: needs strace (apt-get install strace)" >&2; exit 77; }
fi

tg_isolate "${all_args[@]}"

bench=$build/tests/bench/tapgate-bench
tg_bridge tgbench0 1400
tg_acl "allow tgbench0"
out=$TG_ROOT/scratch/profile
mkdir -p "$out"
chmod 0777 "$out"
helpers=("$(tg_setuid_copy "$build/helper/tapgate" tapgate)" "$(tg_setuid_copy "$reference" qemu-bridge-helper)")
plain=("$build/helper/tapgate" "$reference")
# The floor under tapgate's own work (rules-floor.cpp), where the build has it.
if [ -x "$build/tests/bench/bench-rules-floor" ]; then
    helpers+=("$(tg_setuid_copy "$build/tests/bench/bench-rules-floor" bench-rules-floor)")
    plain+=("$build/tests/bench/bench-rules-floor")
fi
client=
if [ -x "$build/helper/tapgated" ]; then
    tg_syslog_start /dev/null
    TAPGATE_BUILD_ROOT=$build tg_service_start
    client=$(tg_setuid_copy "$build/helper/tapgate" tapgate-client)
    helpers+=("$client")
fi
# What tapgate-bench --profile= runs for a helper: the client under
# no_new_privs, where the kernel ignores its setuid bit.
subject() { if [ "$1" = "$client" ]; then echo "nnp:$1"; else echo "$1"; fi; }

echo "== 1. syscalls per helper run (strace, 5 runs each)"
for h in "${helpers[@]}"; do
    n=$(basename "$h")
    strace -f -ff -o "$out/$n" -u "$TG_USER" "$bench" --bridge=tgbench0 --profile="$(subject "$h")" --count=5 >/dev/null
    # Keep the processes that exec'd the helper, from the execve on.
    for f in "$out/$n".*; do
        grep -q "^execve(\"$h\"" "$f" && sed -n "/^execve(\"${h//\//\\/}\"/,\$p" "$f"
    done | awk -v name="$n" '
        /^execve\(/ { runs++ }
        /^[a-z_0-9]+\(/ { s = $0; sub(/\(.*/, "", s); c[s]++; total++ }
        END {
            printf "%s: %.0f syscalls per run;", name, total / runs
            for (k in c) printf " %s=%.0f", k, c[k] / runs
            printf "\n"
        }' | fold -s -w 110
done

echo
echo "== 2. ld.so statistics (root, non-setuid copy; median of 21 runs)"
for h in "${plain[@]}"; do
    for i in $(seq 21); do
        LD_DEBUG=statistics "$h" --help 2>&1 >/dev/null |
            awk '/total startup time/ { t = $(NF-1) } /time needed for relocation/ { r = $(NF-2) }
                 /number of relocations:/ { n = $NF } /relocations from cache/ { c = $NF }
                 /relative relocations/ { rel = $NF }
                 END { print t, r, n, c, rel }'
    done | sort -n | sed -n 11p | awk -v name="$(basename "$h")" \
        '{ printf "%s: startup %d cycles, relocation %d cycles; %d symbol relocations (%d from cache), %d relative\n", name, $1, $2, $3, $4, $5 }'
done

echo
echo "== 3. libraries, constructors (.init_array entries), relocations"
for h in "${plain[@]}"; do
    echo "$(basename "$h"):"
    for lib in "$h" $(ldd "$h" | awk '$3 ~ /^\// { print $3 }'); do
        lib=$(readlink -f "$lib")
        size=$(readelf -SW "$lib" | awk '$2 == ".init_array" { print $6 }')
        printf "  %-40s ctors %3d  relocs %5d  size %8d\n" "$(basename "$lib")" $((0x${size:-0} / 8)) \
            "$(readelf -rW "$lib" | grep -c 'R_X86_64' || true)" "$(stat -c %s "$lib")"
    done
done

if command -v perf >/dev/null; then
    echo
    echo "== 4. perf: share of the helper's samples per DSO, and top symbols ($count runs each)"
    for h in "${helpers[@]}"; do
        n=$(basename "$h")
        comm=${n:0:15}
        perf record -q -e cpu-clock -F 10000 -a -o "$out/$n.perf" -- \
            setpriv --reuid="$TG_USER" --regid="$TG_USER" --init-groups \
            "$bench" --bridge=tgbench0 --profile="$(subject "$h")" --count="$count" >/dev/null 2>&1
        comms=("$comm")
        # For the client, the service's children too.
        if [ "$h" = "$client" ]; then comms+=(tapgated); fi
        for comm in "${comms[@]}"; do
            perf script -i "$out/$n.perf" -F comm,ip,sym,dso 2>/dev/null | awk -v comm="$comm" '
                $1 == comm { d = $NF; gsub(/[()]/, "", d); sub(/.*\//, "", d); dso[d]++
                             s = $3; sym[s " (" d ")"]++; total++ }
                END {
                    printf "%s: %d samples\n", comm, total
                    for (k in dso) printf "  %5.1f%%  %s\n", 100 * dso[k] / total, k | "sort -rn | head -8"
                    close("sort -rn | head -8")
                    print "  top symbols:"
                    for (k in sym) printf "  %5.1f%%  %s\n", 100 * sym[k] / total, k | "sort -rn | head -12"
                    close("sort -rn | head -12")
                }'
        done
    done
fi

if command -v perf >/dev/null && command -v python3 >/dev/null; then
    echo
    echo "== 5. page faults per run, by mapping and by the function that took them (20 runs each)"
    echo "   (on a virtual machine each costs about as much as ten system calls)"
    for h in "${helpers[@]}"; do
        n=$(basename "$h")
        perf record -q -e page-faults -c 1 -d -a -o "$out/$n.faults" -- \
            setpriv --reuid="$TG_USER" --regid="$TG_USER" --init-groups \
            "$bench" --bridge=tgbench0 --profile="$(subject "$h")" --count=20 >/dev/null 2>&1
        perf script -i "$out/$n.faults" --show-mmap-events -F comm,pid,ip,sym,dso,addr 2>/dev/null |
            python3 -c '
import collections, re, sys
comm = sys.argv[1][:15]
maps = collections.defaultdict(list)
faults = collections.defaultdict(list)
mmap = re.compile(r"\s*\S+\s+(\d+)\s+PERF_RECORD_MMAP2 \S+ \[0x([0-9a-f]+)\(0x([0-9a-f]+)\).*\]: (\S+) (.*)$")
fault = re.compile(r"\s*(\S+)\s+(\d+)\s+([0-9a-f]+) .*?\s+[0-9a-f]+ (\S+) \(.*\)\s*$")
for line in sys.stdin:
    m = mmap.match(line)
    if m:
        pid, start, length, prot, name = m.groups()
        start = int(start, 16)
        maps[int(pid)].append((start, start + int(length, 16), name.split("/")[-1] + " " + prot))
        continue
    m = fault.match(line)
    if m and m.group(1) == comm:
        faults[int(m.group(2))].append((int(m.group(3), 16), m.group(4)))
runs = [p for p in faults if len(faults[p]) > 5]
if not runs:
    sys.exit(0)
where, who = collections.Counter(), collections.Counter()
for p in runs:
    for addr, sym in faults[p]:
        region = next((name for lo, hi, name in reversed(maps[p]) if lo <= addr < hi), "?")
        where[region] += 1
        who[sym] += 1
print("%s: %.0f page faults per run after execve" % (comm, sum(where.values()) / len(runs)))
for k, v in where.most_common(8):
    print("  %5.1f  %s" % (v / len(runs), k))
print("  by function:")
for k, v in who.most_common(8):
    print("  %5.1f  %s" % (v / len(runs), k))
' "$n"
    done
fi

if [ -n "$client" ]; then
    echo
    echo "== 6. the service's side of a request (the child it forks, comm tapgated)"
    strace -f -o "$out/service" -p "$TG_SERVICE_PID" 2>/dev/null &
    tracer=$!
    sleep 0.5  # until it is attached
    setpriv --reuid="$TG_USER" --regid="$TG_USER" --init-groups \
        "$bench" --bridge=tgbench0 --profile="nnp:$client" --count=5 >/dev/null
    kill "$tracer"
    wait "$tracer" 2>/dev/null || true
    # The children's lines: every pid but the service's own.
    awk -v main="$TG_SERVICE_PID" '$1 != main && $2 ~ /^[a-z_0-9]+\(/ {
            s = $2; sub(/\(.*/, "", s); c[s]++; total++; pids[$1] = 1 }
        END {
            n = length(pids)
            printf "service child: %.0f syscalls per request;", total / n
            for (k in c) printf " %s=%.0f", k, c[k] / n
            printf "\n"
        }' "$out/service" | fold -s -w 110
    # CPU: the service's own and its reaped children's, over many requests.
    cpu() { awk '{ print $14 + $15 + $16 + $17 }' "/proc/$TG_SERVICE_PID/stat"; }
    before=$(cpu)
    setpriv --reuid="$TG_USER" --regid="$TG_USER" --init-groups \
        "$bench" --bridge=tgbench0 --profile="nnp:$client" --count="$count" >/dev/null
    after=$(cpu)
    awk -v a="$before" -v b="$after" -v n="$count" -v hz="$(getconf CLK_TCK)" \
        'BEGIN { printf "service: %.2f ms CPU per request (its children included; the client'"'"'s is in tapgate-bench'"'"'s cpu column)\n", (b - a) * 1000 / hz / n }'
fi
