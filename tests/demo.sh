#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The README's first command: installs what is missing, builds tapgate, and
# in a throwaway network + mount namespace shows an unprivileged QEMU
# getting a tap on a bridge through a setuid copy of tapgate. The host's
# interfaces and /etc are not touched (the namespace has its own).
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
if [ -z "${TG_ISOLATED:-}" ]; then
    [ "$(id -u)" -eq 0 ] || { echo "demo.sh: run as root (it makes namespaces and a setuid copy)" >&2; exit 1; }
    bash "$root/tests/deps.sh" --demo
    build=$root/build-demo
    [ -f "$build/build.ninja" ] || meson setup "$build" "$root" -Dtests=false >/dev/null
    ninja -C "$build" >/dev/null
    export TAPGATE_BUILD_ROOT=$build
fi
. "$root/tests/lib/tg.sh"
tg_isolate "$@"
set +u

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

tg_bridge br0
ip addr add 10.77.0.1/24 dev br0
tg_acl "allow br0"
helper=$(tg_setuid_copy "$TAPGATE_BUILD_ROOT/helper/tapgate" tapgate)
pidfile=$TG_ROOT/scratch/qemu.pid
qemu_as_user() {  # runs QEMU as the unprivileged user, in the background
    tg_as "$TG_USER" qemu-system-x86_64 -machine none -nodefaults -display none \
        -netdev "bridge,id=n0,br=br0,helper=$helper" \
        -netdev "socket,id=s0,udp=127.0.0.1:5555,localaddr=127.0.0.1:5556" \
        -netdev hubport,id=h0,hubid=0,netdev=n0 -netdev hubport,id=h1,hubid=0,netdev=s0 \
        -daemonize -pidfile "$pidfile" 2>&1
}

say "A bridge br0 (10.77.0.1/24) in a private network namespace; the ACL allows it"
run cat /etc/qemu/bridge.conf
run "$helper" --check
run ls -l "$helper"

say "QEMU runs as $TG_USER (uid $TG_UID) with -netdev bridge,br=br0,helper=$helper"
qemu_as_user
pid=$(cat "$pidfile")
run ps -o user,pid,args -p "$pid" | cut -c1-150
tg_taps; tap=${TG_TAPS%% *}
say "tapgate made $tap: on br0, up, the bridge's MTU, a MAC starting with fe:"
run ip -d link show "$tap" | head -3
run bridge link show dev "$tap"

say "Frames from the bridge reach QEMU through the tap (pinging a guest address)"
ping -c 3 -W 1 -i 0.2 10.77.0.2 >/dev/null 2>&1 || true
echo "packets the kernel handed to QEMU's fd: $(cat /sys/class/net/$tap/statistics/tx_packets)"

say "QEMU exits: the tap goes with it"
kill "$pid"
for _ in $(seq 50); do tg_no_taps && break; sleep 0.1; done
run ip -br link show type tun
tg_no_taps && echo "(no tap left)"

say "The ACL refuses br0: QEMU fails with tapgate's reason, and nothing is left"
tg_acl "allow br1" "deny br0"
qemu_as_user || true
tg_no_taps && echo "(no tap left)"

say "A broken ACL fails closed, and --check names every problem"
tg_acl "allow br0" "alow br1" "include /etc/qemu/missing.conf" "deny br0 extra"
run "$helper" --check || true
