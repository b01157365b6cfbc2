#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Benchmark: tapgate against Debian's qemu-bridge-helper, spawned as QEMU 7.2
# spawns it, by an unprivileged user, each a root-owned 4755 copy, inside a
# throwaway network + mount namespace (tests/lib/tg.sh) with its own bridges
# and /etc/qemu/bridge.conf. Needs root; touches no host interface. Where
# the build has tapgated, a row for the service path too: the same copy of
# tapgate run under no_new_privs asks the service (started as the tests'
# tg_service_start does) for the tap.
#
#   bash tests/bench/run.sh [BUILDDIR] [BENCH OPTIONS...]
#
# BUILDDIR defaults to build-bench/ (configured and built when needed).
# BENCH OPTIONS go to tapgate-bench, e.g. --rounds=40 --batch=10
# --spawners=8 --per-spawner=25 --parallel-rounds=4 --ports=1000 --warmup=3;
# so do the words of $TG_BENCH_ARGS (for `ninja bench`, which passes none).
# REFERENCE_HELPER overrides /usr/lib/qemu/qemu-bridge-helper.
# shellcheck source=tests/bench/common.sh
. "$(dirname "$0")/common.sh"
reference=${REFERENCE_HELPER:-/usr/lib/qemu/qemu-bridge-helper}

if [ "$(id -u)" -ne 0 ]; then
    echo "run.sh: needs root (namespaces, setuid copies)" >&2
    exit 77
fi

# Outside the namespace, once: build what is missing. When the build tree
# has tests/bench (tests/meson.build includes it) meson builds everything;
# otherwise the bench programs are compiled here, next to the build tree.
if [ -z "${TG_ISOLATED:-}" ] && [ -z "${TG_BENCH_NO_BUILD:-}" ]; then
    [ -f "$build/build.ninja" ] || meson setup "$build" "$root" >/dev/null
    # The service, for its row, where the build has it (-Dservice).
    service=
    ninja -C "$build" -t query helper/tapgated >/dev/null 2>&1 && service=helper/tapgated
    if ninja -C "$build" -t query tests/bench/tapgate-bench >/dev/null 2>&1; then
        ninja -C "$build" helper/tapgate $service tests/bench/tapgate-bench tests/bench/bench-noop-static \
            tests/bench/bench-noop-dynamic tests/bench/bench-noop-libs tests/bench/bench-relay-floor \
            tests/bench/bench-relay-floor-static tests/bench/bench-rules-floor >/dev/null
    else
        ninja -C "$build" helper/tapgate $service >/dev/null
        out=$build/tests/bench
        mkdir -p "$out"
        cxx=${CXX:-c++}
        flags=(-std=c++20 -O2 -g -Wall -Wextra -Wshadow -Wconversion -Wold-style-cast)
        hard=(-fPIE -pie -Wl,-z,relro -Wl,-z,now)
        [ "$out/tapgate-bench" -nt "$here/bench.cpp" ] && [ "$out/tapgate-bench" -nt "$here/send_fd.hpp" ] ||
            $cxx "${flags[@]}" "${hard[@]}" -o "$out/tapgate-bench" "$here/bench.cpp"
        [ "$out/bench-noop-static" -nt "$here/noop.cpp" ] ||
            $cxx "${flags[@]}" -static -o "$out/bench-noop-static" "$here/noop.cpp"
        [ "$out/bench-noop-dynamic" -nt "$here/noop.cpp" ] ||
            $cxx "${flags[@]}" "${hard[@]}" -Wl,--as-needed -o "$out/bench-noop-dynamic" "$here/noop.cpp"
        [ "$out/bench-noop-libs" -nt "$here/noop.cpp" ] ||
            $cxx "${flags[@]}" "${hard[@]}" -o "$out/bench-noop-libs" "$here/noop.cpp" \
                -Wl,--no-as-needed $(pkg-config --libs libcap-ng libnl-route-3.0 inih)
        # No floor under tapgate's own work here: it must be linked as the
        # build links tapgate, which only meson knows.
        [ "$out/bench-relay-floor" -nt "$here/relay-floor.cpp" ] && [ "$out/bench-relay-floor" -nt "$here/send_fd.hpp" ] ||
            $cxx "${flags[@]}" "${hard[@]}" -Wl,--as-needed -o "$out/bench-relay-floor" "$here/relay-floor.cpp"
        [ "$out/bench-relay-floor-static" -nt "$here/relay-floor.cpp" ] &&
            [ "$out/bench-relay-floor-static" -nt "$here/send_fd.hpp" ] ||
            $cxx "${flags[@]}" -static -o "$out/bench-relay-floor-static" "$here/relay-floor.cpp"
    fi
fi

[ -n "${TG_BENCH_BUILD_ONLY:-}" ] && exit 0

# Other load on the machine (builds, tests) adds noise that is neither
# helper's. The kernel schedules per session ("autogroup"), so plain nice
# does not reach past other sessions: the bench gets a session of its own
# whose autogroup runs at high priority while it runs. Everything from here
# on runs in it: the bench, the helpers it spawns, and the service with the
# children that serve its row. TG_BENCH_NICE=0 turns that off.
if [ -z "${TG_BENCH_SESSION:-}" ]; then
    # Built already.
    export TG_BENCH_SESSION=1 TG_BENCH_NO_BUILD=1
    exec setsid --wait bash -c '
        [ -w /proc/self/autogroup ] && echo "$0" > /proc/self/autogroup
        exec nice -n "$0" "$@"' "${TG_BENCH_NICE:--20}" "$BASH" "$0" "${all_args[@]}"
fi

tg_isolate "${all_args[@]}"

bin=$build/tests/bench
tg_bridge tgbench0 1400
tg_bridge tgbench1k 1400
tg_bridge tgbenchlab 1400
tg_bridge tgbenchheld 1400
tg_acl "allow tgbench0" "allow tgbench1k" "allow tgbenchlab" "allow tgbenchheld"
# Lab features on one bridge only: the quota means a lock and a count of
# every interface, the flags a second and third netlink request, the group
# section an NSS lookup, and the audit line a syslog message (to a listener
# below, as on a real system; every request on every bridge sends one).
# VLANs are left out: this kernel has no bridge VLAN filtering.
# The group section makes tapgate ask NSS for the caller's groups too.
# tgbenchheld has the same settings, and ports that other users hold.
for br in tgbenchlab tgbenchheld; do
    printf '[bridge %s]\nquota = 1000\nisolated = yes\nname = lab%%u%%d\n[bridge %s group %s]\nlearning = no\n' \
        "$br" "$br" "$TG_USER"
done > /etc/tapgate.conf
chmod 0644 /etc/tapgate.conf
# It keeps nothing.
tg_syslog_start /dev/null
tapgate=$(tg_setuid_copy "$build/helper/tapgate" tapgate)
ref=$(tg_setuid_copy "$reference" qemu-bridge-helper)
# The no-ops go where the user can run them; the one with tapgate's
# libraries is setuid like tapgate (ld.so's secure mode included).
install -m 0755 "$bin/bench-noop-static" "$bin/bench-noop-dynamic" "$bin/bench-relay-floor" \
    "$bin/bench-relay-floor-static" "$TG_ROOT/bin/"
libs=$(tg_setuid_copy "$bin/bench-noop-libs" bench-noop-libs)
# Setuid like tapgate: it does what tapgate must, with root's help.
rules_floor=()
[ -x "$bin/bench-rules-floor" ] &&
    rules_floor=(--rules-floor="$(tg_setuid_copy "$bin/bench-rules-floor" bench-rules-floor)")
# The service row: tapgated as tg_service_start runs it (the build's units,
# systemd-socket-activate), and the same 4755 copy of tapgate, which the
# bench runs under no_new_privs.
via_service=()
if [ -x "$build/helper/tapgated" ]; then
    TAPGATE_BUILD_ROOT=$build tg_service_start
    via_service=(--via-service="$tapgate")
else
    echo "run.sh: $build has no tapgated (-Dservice=disabled?): no service row" >&2
fi

# Ports made by tapgate for two other users, held open as their running VMs
# would hold them, for one scenario (the bench forks their holders).
# TG_BENCH_HELD=0 leaves it out.
held_args=()
[ "${TG_BENCH_HELD:-1}" != 0 ] && held_args=(--held-bridge=tgbenchheld --held-users="$TG_ALICE,$TG_BOB")

# Not exec'd: this shell, root, stays the parent of the syslog listener and
# the service, and ends them after the bench (the bench becomes the user,
# who may not signal them).
# The helpers inherit this environment, as they would QEMU's: keep it plain.
env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \
    "$bin/tapgate-bench" --tapgate="$tapgate" --reference="$ref" --user="$TG_USER" \
    --bridge=tgbench0 --full-bridge=tgbench1k --lab-bridge=tgbenchlab \
    --noop-static="$TG_ROOT/bin/bench-noop-static" --noop-dynamic="$TG_ROOT/bin/bench-noop-dynamic" \
    --noop-libs="$libs" --relay-floor="$TG_ROOT/bin/bench-relay-floor" \
    --relay-floor-static="$TG_ROOT/bin/bench-relay-floor-static" "${rules_floor[@]}" "${via_service[@]}" "${held_args[@]}" ${TG_BENCH_ARGS:-} "$@" ||
    { rc=$?; [ -s "$TG_ROOT/service.log" ] && sed 's/^/service: /' "$TG_ROOT/service.log" >&2; exit $rc; }
