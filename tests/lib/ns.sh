# Shared setup for tests that touch networking or setuid binaries.
# Source it, then call `tg_isolate "$@"` before anything else: the script is
# re-run inside fresh network + mount namespaces, where
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
# the test is skipped (exit 77), not failed.
tg_require_root() {
    [ "$(id -u)" = 0 ] && return 0
    echo "SKIP: needs root (network namespaces, setuid copies)"
    exit 77
}

tg_isolate() {
    if [ -z "${TG_ISOLATED:-}" ]; then
        local holder rc
        holder=$(mktemp -d /tmp/tapgate-ns.XXXXXX)
        # A test killed by a timeout must not leave its mount point behind.
        # (The path is expanded now: $holder is local and gone at exit.)
        trap "rmdir '$holder' 2>/dev/null || true" EXIT
        trap 'exit 143' TERM INT HUP
        TG_ISOLATED=1 TG_HOLDER=$holder unshare --net --mount --propagation private --fork -- \
            "$BASH" "$0" "$@"
        rc=$?
        rmdir "$holder" 2>/dev/null
        exit $rc
    fi
    set -u
    mount -t tmpfs -o mode=0755,size=512m tapgate-test "$TG_HOLDER"
    TG_ROOT=$TG_HOLDER
    mkdir -p "$TG_ROOT/etc-upper" "$TG_ROOT/etc-work" "$TG_ROOT/bin" "$TG_ROOT/home" "$TG_ROOT/scratch"
    mount -t overlay tapgate-etc -o "lowerdir=/etc,upperdir=$TG_ROOT/etc-upper,workdir=$TG_ROOT/etc-work" /etc
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

tg_add_user() {  # NAME UID  (primary group NAME with gid UID)
    local home=$TG_ROOT/home/$1
    echo "$1:x:$2:$2:tapgate test user:$home:/bin/sh" >> /etc/passwd
    echo "$1:x:$2:" >> /etc/group
    mkdir -p "$home"
    chown "$2:$2" "$home"
    chmod 0700 "$home"
}

tg_tun_mode() { chmod "$1" "$TG_ROOT/tun"; }

# tg_private_dev: /dev is the host's devtmpfs, shared with the host and
# every other test; an overlay private to this mount namespace lets a test
# create files there (a /dev/log listener) without touching the host. The
# tun node is bound again on top.
tg_private_dev() {
    mkdir -p "$TG_ROOT/dev-upper" "$TG_ROOT/dev-work"
    mount -t overlay tapgate-dev -o "lowerdir=/dev,upperdir=$TG_ROOT/dev-upper,workdir=$TG_ROOT/dev-work" /dev
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

# tg_acl LINE...: write /etc/qemu/bridge.conf (root:root 0644).
tg_acl() {
    printf '%s\n' "$@" > /etc/qemu/bridge.conf
    chmod 0644 /etc/qemu/bridge.conf
}

# Names of tun/tap interfaces in this namespace, one a line.
tg_taps() {
    ip -o link show type tun | awk -F': ' '{print $2}' | cut -d@ -f1
}

TG_FAILS=0
tg_fail() { echo "FAIL: $*" >&2; TG_FAILS=$((TG_FAILS + 1)); }
tg_pass() { echo "ok: $*"; }
# tg_check DESC CMD...: pass if CMD succeeds.
tg_check() {
    local desc=$1
    shift
    if "$@"; then tg_pass "$desc"; else tg_fail "$desc"; fi
}
# Call last: exit status for meson.
tg_done() {
    if [ "$TG_FAILS" -ne 0 ]; then
        echo "$TG_FAILS check(s) failed" >&2
        exit 1
    fi
    exit 0
}
