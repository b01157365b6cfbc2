#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Real QEMU without a guest: `-machine none`, the helper's netdev joined by a
# hub to a UDP socket netdev, and udpguest (tests/tools) on the UDP side
# playing the guest (tg_qemu_udp). QEMU runs as the unprivileged test user
# with a root-owned 4755 copy of the helper (tapgate, or HELPER=... e.g. the
# reference). Covers -netdev bridge, -netdev tap,helper= (br0 implied),
# QEMU's `sh -c` form with the user's own options, and a refusal. Needs root
# (skipped otherwise).
. "$(dirname "$0")/../lib/tg.sh"
tg_require_root
tg_isolate "$@"
tg_qemu_init
tg_qemu_helper

# A non-default MTU, so a helper that forgot to copy it is caught.
tg_bridge br0 1400
ip addr add 10.0.0.1/24 dev br0

# run_case NAME GUEST-IP NETDEV: QEMU with NETDEV (id n) hubbed to udpguest;
# the tap must look right and carry ARP and ping both ways; after QEMU exits
# the tap must be gone.
run_case() {
    local name=$1 uid
    tg_note "--- $name: -netdev $3"
    if ! tg_qemu_udp "$name" "$3"; then
        tg_fail "$name: QEMU did not start"
        tg_qemu_err "$name"
        return
    fi
    uid=$(tg_uid "$(tg_qemu_pid "$name")")
    tg_check "$name: QEMU runs as uid $TG_UID (got '$uid')" [ "$uid" = "$TG_UID" ]
    tg_qemu_one_tap "$name" br0
    tg_qemu_ping "$name" br0 "$2" 10.0.0.1
    tg_qemu_stop "$name" || tg_fail "$name: QEMU would not exit"
    tg_check "$name: tap gone after QEMU exits" tg_wait 5 tg_no_taps
}

tg_acl "allow br0"
run_case bridge 10.0.0.2 "bridge,id=n,br=br0,helper=$TG_H"
run_case tap 10.0.0.3 "tap,id=n,helper=$TG_H"
# A space in helper= makes QEMU run `/bin/sh -c "<string> --use-vnet
# --fd=N [--br=BR]"`: options in another order, --use-vnet twice, and no
# --br from QEMU when the string has one.
run_case sh-c-own-br 10.0.0.4 "bridge,id=n,br=br0,helper=$TG_H --br=br0 --use-vnet"
run_case sh-c-qemu-br 10.0.0.5 "tap,id=n,helper=$TG_H --use-vnet"

tg_note "--- refused: the ACL denies br0"
tg_acl "allow all" "deny br0"
if tg_qemu_start denied -machine none -netdev "bridge,id=n,br=br0,helper=$TG_H"; then
    tg_fail "denied: QEMU started although the ACL denies br0"
else
    tg_qemu_err denied
    tg_check "denied: the helper's refusal is in QEMU's stderr" tg_check_denial denied br0
    tg_check "denied: QEMU reports the helper failure" grep -q 'bridge helper failed' "$TG_QRUN/denied.err"
fi
tg_check "denied: QEMU is not running" tg_dead "$(tg_qemu_pid denied)"
tg_check "denied: no tap left" tg_no_taps
tg_done
