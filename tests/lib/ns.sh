# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash
# The project part of the test library (sourced by tests/lib/tg.sh):
# namespaces, users, setuid copies, bridges and config files. Call
# `tg_isolate "$@"` (or tg_start, tests/lib/helper.sh) before anything else:
# the script is re-run inside fresh network + mount namespaces, where
#   - /etc is an overlay (writes stay in the namespace): /etc/qemu exists and
#     test users live in /etc/passwd and /etc/group;
#   - $TG_ROOT is a private tmpfs (suid allowed) for setuid copies, homes and
#     scratch files; it vanishes with the namespace;
#   - the loopback is up and /sys shows this namespace's interfaces;
#   - /run is a private tmpfs (the helper's quota lock is created there);
#   - /dev/net/tun is 0666 as on distros (tg_tun_mode to change).
# Nothing here touches the host's interfaces or its real /etc.

TG_USER=tguser      TG_UID=4242
TG_ALICE=tgalice    TG_ALICE_UID=4243
TG_BOB=tgbob        TG_BOB_UID=4244
TG_LAB=tglab        TG_LAB_GID=4250   # members: tgalice, tgbob

# Every test that makes namespaces or setuid copies needs root; without it
# the test is skipped, not failed.
tg_require_root() {
    [ "$(id -u)" = 0 ] || tg_skip "needs root (network namespaces, setuid copies)"
}

# tg_missing REASON: a prerequisite is missing: the test is skipped, but
# with CI set it must run, so it fails instead.
tg_missing() {
    if [ -n "${CI:-}" ]; then
        echo "FAIL: $* (CI is set: this test must run)" >&2
        exit 1
    fi
    tg_skip "$*"
}

tg_isolate() {
    if [ -z "${TG_ISOLATED:-}" ]; then
        local holder rc
        holder=$(mktemp -d /tmp/tapgate-ns.XXXXXX)
        # A test killed by a timeout must not leave its mount point behind.
        # (The path is expanded now: $holder is local and gone at exit.)
        trap "rmdir '$holder' 2>/dev/null || true" EXIT
        trap 'exit 143' TERM INT HUP
        if [ -z "${TG_OUTSIDE:-}" ]; then
            TG_ISOLATED=1 TG_HOLDER=$holder unshare --net --mount --propagation private --fork -- \
                "$BASH" "$0" "$@"
            rc=$?
        else
            tg_isolate_then_outside "$holder" "$@"
            rc=$?
        fi
        rmdir "$holder" 2>/dev/null
        exit $rc
    fi
    set -u
    # Whatever the test started (holders, QEMUs) ends with it.
    trap tg_cleanup EXIT
    trap 'exit 143' TERM INT HUP
    mount -t tmpfs -o mode=0755,size=512m tapgate-test "$TG_HOLDER"
    TG_ROOT=$TG_HOLDER
    mkdir -p "$TG_ROOT/bin" "$TG_ROOT/home" "$TG_ROOT/scratch"
    tg_overlay /etc
    mkdir -p /etc/qemu
    chmod 0755 /etc/qemu
    rm -f /etc/qemu/bridge.conf /etc/tapgate.conf
    mount -t sysfs sysfs /sys
    # The helper's quota lock lives in /run: a private one per test.
    mount -t tmpfs -o mode=0755,size=16m tapgate-run /run
    # Distros ship /dev/net/tun as 0666 (the kernel's default); this machine
    # has 0600. Give the namespace the usual node; tg_tun_mode changes it.
    mknod -m 0666 "$TG_ROOT/tun" c 10 200
    mount --bind "$TG_ROOT/tun" /dev/net/tun
    ip link set lo up
    tg_add_user "$TG_USER" "$TG_UID"
    tg_add_user "$TG_ALICE" "$TG_ALICE_UID"
    tg_add_user "$TG_BOB" "$TG_BOB_UID"
    echo "$TG_LAB:x:$TG_LAB_GID:$TG_ALICE,$TG_BOB" >> /etc/group
    chmod 1777 "$TG_ROOT/scratch"
}

# With TG_OUTSIDE set to a command, the script's first process runs it
# once the namespaces are gone, outside them, as more cases of the same
# test: what a test must prove about the host itself (that it is as it
# was) can only be seen from there. The namespace part's TAP passes
# through but for its plan, which then counts the outside cases too.
# Exits (tg_done) unless the namespace part skipped the test.
tg_isolate_then_outside() {
    local holder=$1 line rc
    shift
    while IFS= read -r line || [ -n "$line" ]; do
        case $line in
        "1..0"*) echo "$line"; TG_OUTSIDE= ;;   # skipped: nothing ran
        "1.."*) ;;
        "ok "*) TG_CASES=$((TG_CASES + 1)); echo "$line" ;;
        "not ok "*) TG_CASES=$((TG_CASES + 1)) TG_FAILS=$((TG_FAILS + 1)); echo "$line" ;;
        *) echo "$line" ;;
        esac
    done < <(TG_ISOLATED=1 TG_HOLDER=$holder unshare --net --mount --propagation private --fork -- \
                 "$BASH" "$0" "$@")
    wait $!
    rc=$?
    [ -n "$TG_OUTSIDE" ] || return $rc
    # A part that died (a timeout, a bug) may have reported no failure.
    [ $rc -ne 0 ] && [ "$TG_FAILS" -eq 0 ] && tg_fail "the part in the namespaces exited with status $rc"
    $TG_OUTSIDE
    tg_done
}

# tg_overlay DIR: an overlay over DIR private to this mount namespace:
# whatever is written there lands in $TG_ROOT and vanishes with it.
tg_overlay() {
    local top=$TG_ROOT/overlay$1
    mkdir -p "$top/upper" "$top/work"
    mount -t overlay "tapgate${1//\//-}" -o "lowerdir=$1,upperdir=$top/upper,workdir=$top/work" "$1"
}

# tg_add_user NAME UID [GROUP...]: a test user with primary group NAME (gid
# UID) and a home, and a member of each GROUP (which must exist already).
tg_add_user() {
    local name=$1 uid=$2 home=$TG_ROOT/home/$1 g
    shift 2
    echo "$name:x:$uid:$uid:tapgate test user:$home:/bin/sh" >> /etc/passwd
    echo "$name:x:$uid:" >> /etc/group
    mkdir -p "$home"
    chown "$uid:$uid" "$home"
    chmod 0700 "$home"
    for g in "$@"; do
        sed -i -E "s/^($g:[^:]*:[^:]*:)(.*)\$/\\1\\2,$name/; s/^($g:[^:]*:[^:]*:),/\\1/" /etc/group
    done
}

tg_tun_mode() { chmod "$1" "$TG_ROOT/tun"; }

# tg_private_dev: /dev is the host's devtmpfs, shared with the host and
# every other test; an overlay private to this mount namespace lets a test
# create files there (a /dev/log listener) without touching the host. The
# tun node is bound again on top.
tg_private_dev() {
    tg_overlay /dev
    mount --bind "$TG_ROOT/tun" /dev/net/tun
}

# tg_setuid_copy SRC NAME -> prints the path of a root-owned 4755 copy.
tg_setuid_copy() {
    local dst=$TG_ROOT/bin/$2
    install -o root -g root -m 4755 "$1" "$dst"
    echo "$dst"
}

# tg_as USER CMD... : run CMD as USER (real and effective ids, its groups).
tg_as() {
    local user=$1
    shift
    setpriv --reuid="$user" --regid="$user" --init-groups -- "$@"
}

# tg_bridge NAME [MTU]: an up bridge in this namespace.
tg_bridge() {
    ip link add "$1" type bridge
    [ -n "${2:-}" ] && ip link set "$1" mtu "$2"
    ip link set "$1" up
}

# tg_bridge_with_port NAME MTU: an up bridge with one veth port carrying a
# low MAC, like a bridge with a physical NIC. A bare bridge takes the lowest
# port MAC, so only with such a port does "the bridge keeps its MAC" mean
# anything. Added to TG_BRIDGES, the bridges whose state tg_bridge_state
# and tg_state record and the monitor ignores (with their veths).
TG_BRIDGES=()
tg_bridge_with_port() {
    local name=$1 mtu=$2 n=${#TG_BRIDGES[@]}
    tg_bridge "$name" "$mtu"
    ip link add "tgv${n}a" type veth peer name "tgv${n}b"
    ip link set "tgv${n}a" address "02:00:00:00:00:$(printf %02x $((n + 1)))"
    ip link set "tgv${n}a" mtu "$mtu"
    ip link set "tgv${n}b" mtu "$mtu"
    ip link set "tgv${n}a" master "$name"
    ip link set "tgv${n}a" up
    ip link set "tgv${n}b" up
    TG_BRIDGES+=("$name")
}

# tg_acl LINE...: write /etc/qemu/bridge.conf (root:root 0644).
tg_acl() {
    printf '%s\n' "$@" > /etc/qemu/bridge.conf
    chmod 0644 /etc/qemu/bridge.conf
}

# tg_conf LINE...: write /etc/tapgate.conf (root:root 0644); no argument
# removes it.
tg_conf() {
    if [ $# -eq 0 ]; then
        rm -f /etc/tapgate.conf
        return
    fi
    printf '%s\n' "$@" > /etc/tapgate.conf
    chown root:root /etc/tapgate.conf
    chmod 0644 /etc/tapgate.conf
}

# tg_taps: the tun/tap interfaces present, space-separated, into TG_TAPS.
# Builtins only: forks are slow on a loaded machine, and this runs after
# every case.
TG_TAPS=
tg_taps() {
    local f
    TG_TAPS=
    for f in /sys/class/net/*/tun_flags; do
        [ -e "$f" ] || continue
        f=${f%/tun_flags}
        TG_TAPS+="${f##*/} "
    done
}
tg_no_taps() { tg_taps; [ -z "$TG_TAPS" ]; }

# tg_taps_on BRIDGE: the taps enslaved to BRIDGE, one a line.
tg_taps_on() {
    local t m
    tg_taps
    for t in $TG_TAPS; do
        m=$(readlink "/sys/class/net/$t/master" 2>/dev/null) || continue
        [ "${m##*/}" = "$1" ] && echo "$t"
    done
}

# tg_gone IFNAME: waits (up to 2 s) for an interface to disappear.
tg_gone() {
    local i
    for ((i = 0; i < 200; i++)); do
        [ -e "/sys/class/net/$1" ] || return 0
        sleep 0.01
    done
    return 1
}

# tg_read FILE: its first line (no fork for the read itself).
tg_read() { local v=; read -r v < "$1"; echo "$v"; }

