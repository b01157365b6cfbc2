#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Builds the libFuzzer targets with clang and runs each for a while over a
# copy of its seed corpus. Exits non-zero if a build fails or a fuzzer finds
# a crash, a leak, a sanitizer report, a timeout or a broken invariant.
# Standard output is TAP, one case per target (what meson counts);
# the compilers' and fuzzers' own output goes to standard error.
#
#   tests/fuzz/run-fuzz.sh [SECONDS] [OUTDIR] [TARGET...]
#
# SECONDS (per target) defaults to $TAPGATE_FUZZ_SECONDS, else 60. OUTDIR
# (default: $TAPGATE_FUZZ_OUT, else .fuzz in the source tree) receives the
# binaries, the working corpora and any crash artifacts; the seed corpora in
# the tree are never modified. TARGETs: acl, args, settings (default: all). CXX may
# name another clang++.
set -eu

seconds=${1:-${TAPGATE_FUZZ_SECONDS:-60}}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=${2:-${TAPGATE_FUZZ_OUT:-$root/.fuzz}}
[ $# -gt 2 ] && shift 2 || set --
targets=${*:-acl args settings}
cxx=${CXX:-clang++}

case $seconds in
    ''|*[!0-9]*|0) echo "run-fuzz.sh: SECONDS must be a positive number, not '$seconds'" >&2; exit 2 ;;
esac
if ! command -v "$cxx" >/dev/null 2>&1; then
    echo "run-fuzz.sh: $cxx not found (libFuzzer needs clang)" >&2
    exit 2
fi
mkdir -p "$out"
out=$(cd "$out" && pwd)

n=0 failed=0
# result OK DESCRIPTION: one TAP case.
result() {
    n=$((n + 1))
    if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; failed=$((failed + 1)); fi
}

acl_src="$root/acl/text.cpp $root/acl/parser.cpp $root/acl/decision.cpp $root/acl/source.cpp $root/acl/settings.cpp -linih"
for t in $targets; do
    case $t in
        acl) src="$acl_src" max_len=12000 ;;
        args) src="$root/helper/args.cpp $acl_src" max_len=4096 ;;
        settings) src="$acl_src" max_len=8192 ;;
        *) echo "run-fuzz.sh: unknown target '$t'" >&2; exit 2 ;;
    esac
    # Built directly rather than through meson so that CI needs no second
    # build directory configured with clang. Always rebuilt: it takes
    # seconds, and a stale binary would fuzz old code.
    echo "run-fuzz.sh: building $out/fuzz_$t with $cxx" >&2
    # shellcheck disable=SC2086
    if ! "$cxx" -std=c++20 -g -O1 -fno-omit-frame-pointer \
        -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
        -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wno-sign-conversion -Wold-style-cast \
        -I"$root/acl" -I"$root/helper" \
        "$here/fuzz_$t.cpp" $src -o "$out/fuzz_$t.new" >&2; then
        result 1 "fuzz_$t builds"
        continue
    fi
    mv "$out/fuzz_$t.new" "$out/fuzz_$t"

    # The working corpus starts from the seeds and keeps what earlier runs
    # in the same OUTDIR found.
    mkdir -p "$out/corpus-$t"
    cp "$here/corpus/$t/"* "$out/corpus-$t/"

    echo "run-fuzz.sh: fuzzing $t for ${seconds}s" >&2
    status=0
    ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}" \
    UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}" \
    "$out/fuzz_$t" \
        -max_total_time="$seconds" \
        -timeout=10 \
        -rss_limit_mb=2048 \
        -max_len="$max_len" \
        -dict="$here/$t.dict" \
        -print_final_stats=1 \
        -artifact_prefix="$out/$t-" \
        "$out/corpus-$t" 2> "$out/$t.log" || status=$?
    cat "$out/$t.log" >&2
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/$t.log" | tail -n 1)
    if [ "$status" -ne 0 ]; then
        result 1 "fuzz_$t: status $status; reproducer in $out/ ($t-crash-*, $t-leak-*, ...)"
    else
        result 0 "fuzz_$t: no crashes in ${seconds}s (${execs:-?} inputs)"
    fi
done
echo "1..$n"
[ "$failed" -eq 0 ]
