# Shared by the real-QEMU tests; source after tests/lib/ns.sh and tg_isolate.
# QEMU runs as $TG_USER with a root-owned 4755 copy of the helper under test:
#   HELPER                      if set, the helper to test (e.g. the reference
#                               /usr/lib/qemu/qemu-bridge-helper)
#   $TAPGATE_BUILD_ROOT/helper/tapgate   otherwise
# Every QEMU is started daemonized with a pidfile, so the start returns once
# the netdevs (and so the helper) are done, and the EXIT trap can always find
# and kill it, whatever way the test ends.

TGQ_QEMU=${QEMU:-qemu-system-x86_64}
# shellcheck disable=SC2034  # used by the test scripts
TGQ_PY=${PYTHON:-python3}
TGQ_RUN=$TG_ROOT/scratch/qemu
mkdir -p "$TGQ_RUN"
chown "$TG_USER:$TG_USER" "$TGQ_RUN"
TGQ_NAMES=()

tgq_pick_helper() {
    local src=${HELPER:-${TAPGATE_BUILD_ROOT:-}/helper/tapgate}
    if [ ! -x "$src" ]; then
        echo "FAIL: no helper to test at '$src' (set HELPER or TAPGATE_BUILD_ROOT)" >&2
        exit 1
    fi
    # A copy in $TG_ROOT/bin: setuid is honoured there, and the test user can
    # reach it (the build tree may sit under a private home directory).
    TGQ_HELPER=$(tg_setuid_copy "$src" bridge-helper)
    # The refusal test knows each helper's wording for a denied bridge.
    if [ "$(basename "$src")" = qemu-bridge-helper ]; then
        TGQ_KIND=reference
    else
        TGQ_KIND=tapgate
    fi
    echo "helper under test: $src ($TGQ_KIND), as $TGQ_HELPER"
}

# Polling loops avoid forks where bash can do the work: on a loaded machine
# each fork+exec can cost tens of milliseconds.
# tgq_wait SECONDS CMD...: poll CMD until it succeeds; status 1 on timeout.
tgq_wait() {
    local end=$(( ${EPOCHREALTIME/./} + $1 * 1000000 ))
    shift
    until "$@"; do
        [ "${EPOCHREALTIME/./}" -lt "$end" ] || return 1
        sleep 0.05
    done
}

# QEMU deletes its pidfile when it exits normally, and writes it only once it
# has daemonized: fall back to looking for the QEMU that was given it (in
# bash: procps, for pgrep, is not on every minimal system).
tgq_pid() {
    local pid= proc args i
    read -r pid 2>/dev/null < "$TGQ_RUN/$1.pid"
    if [ -z "$pid" ]; then
        for proc in /proc/[0-9]*; do
            mapfile -d '' args 2>/dev/null < "$proc/cmdline" || continue
            [ "${args[0]:-}" ] && [ "${args[0]##*/}" = "${TGQ_QEMU##*/}" ] || continue
            for (( i = 1; i < ${#args[@]} - 1; i++ )); do
                if [ "${args[i]}" = -pidfile ] && [ "${args[i + 1]}" = "$TGQ_RUN/$1.pid" ]; then
                    echo "${proc#/proc/}"
                    return
                fi
            done
        done
    fi
    echo "$pid"
}

# A zombie counts as gone: whoever reaps orphans here may take its time.
tgq_alive() {
    local stat
    [ -n "$1" ] || return 1
    read -r stat 2>/dev/null < "/proc/$1/stat" || return 1
    stat=${stat##*) }   # the state follows the command name, which may hold spaces
    [ "${stat%% *}" != Z ]
}
tgq_dead() { ! tgq_alive "$1"; }

tgq_uid() {  # PID: its real uid
    local key real _
    while read -r key real _; do
        [ "$key" = Uid: ] && { echo "$real"; return; }
    done < "/proc/$1/status"
}

# tgq_start NAME QEMU-ARGS...: QEMU as the test user, daemonized. Status is
# QEMU's (non-zero when a netdev, e.g. the helper, failed); its stderr is
# kept in $TGQ_RUN/NAME.err. A hung start is cut off after 30 s.
tgq_start() {
    local name=$1
    shift
    TGQ_NAMES+=("$name")
    rm -f "$TGQ_RUN/$name.pid"
    # Not through tg_as: timeout must see QEMU itself, not a shell function.
    timeout 30 setpriv --reuid="$TG_USER" --regid="$TG_USER" --init-groups -- \
        "$TGQ_QEMU" -nodefaults -no-user-config -display none \
        -daemonize -pidfile "$TGQ_RUN/$name.pid" "$@" 2>"$TGQ_RUN/$name.err"
}

# tgq_stop NAME: SIGTERM, then SIGKILL after 5 s. Status 1 if it would not die.
tgq_stop() {
    local pid
    pid=$(tgq_pid "$1")
    tgq_alive "$pid" || return 0
    kill -TERM "$pid" 2>/dev/null
    tgq_wait 5 tgq_dead "$pid" && return 0
    kill -KILL "$pid" 2>/dev/null
    tgq_wait 5 tgq_dead "$pid"
}

# Daemonized QEMUs are in a session of their own: nothing else kills them if
# the test dies. So: SIGTERM to all of them first (in case this shell is
# killed outright before it is done), then wait for each.
tgq_cleanup() {
    local name pid
    for name in "${TGQ_NAMES[@]}"; do
        pid=$(tgq_pid "$name")
        tgq_alive "$pid" && kill -TERM "$pid" 2>/dev/null
    done
    for name in "${TGQ_NAMES[@]}"; do tgq_stop "$name"; done
}
trap tgq_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

tgq_show_err() {  # NAME: QEMU's stderr, indented, for the log
    sed 's/^/    qemu stderr: /' "$TGQ_RUN/$1.err" >&2
}

# tun/tap interfaces (those with tun_flags), one a line; like tg_taps, but
# without forking.
tgq_tuns() {
    local f
    for f in /sys/class/net/*/tun_flags; do
        [ -e "$f" ] || continue
        f=${f%/tun_flags}
        echo "${f##*/}"
    done
}

# Taps enslaved to bridge $1, one a line.
tgq_taps_on() {
    local t m
    for t in $(tgq_tuns); do
        m=$(readlink "/sys/class/net/$t/master" 2>/dev/null) || continue
        [ "${m##*/}" = "$1" ] && echo "$t"
    done
}

tgq_no_taps() { [ -z "$(tgq_tuns)" ]; }

tgq_read() { local v=; read -r v < "$1"; echo "$v"; }

# tgq_check_tap TAP BRIDGE: the state both helpers must leave a tap in for
# QEMU (which always passes --use-vnet): a tap without packet info and with
# the vnet header, on the bridge, up, the bridge's MTU, MAC starting fe:.
tgq_check_tap() {
    local tap=$1 br=$2 sys=/sys/class/net/$1 bad=0 flags tun_flags mac mtu br_mtu master
    read -r flags < "$sys/flags"
    read -r tun_flags < "$sys/tun_flags"
    read -r mac < "$sys/address"
    read -r mtu < "$sys/mtu"
    read -r br_mtu < "/sys/class/net/$br/mtu"
    master=$(readlink "$sys/master")
    # IFF_TAP 0x2, IFF_NO_PI 0x1000, IFF_VNET_HDR 0x4000
    if [ $(( tun_flags & 0x5003 )) -ne $(( 0x5002 )) ]; then
        tg_fail "$tap: tun_flags $tun_flags, want IFF_TAP|IFF_NO_PI|IFF_VNET_HDR"; bad=1
    fi
    if [ "${master##*/}" != "$br" ]; then
        tg_fail "$tap: not a port of $br"; bad=1
    fi
    if [ $(( flags & 1 )) -ne 1 ]; then
        tg_fail "$tap: not up (flags $flags)"; bad=1
    fi
    if [ "$mtu" != "$br_mtu" ]; then
        tg_fail "$tap: MTU $mtu, $br has $br_mtu"; bad=1
    fi
    case $mac in
        fe:*) ;;
        *) tg_fail "$tap: MAC $mac does not start with fe:"; bad=1 ;;
    esac
    [ $bad -eq 0 ] && tg_pass "$tap on $br: tap+vnet_hdr, up, MTU $mtu, MAC $mac"
    return $bad
}

# tgq_check_denial NAME BRIDGE: QEMU's stderr carries the helper's own
# refusal (QEMU passes the helper's stderr straight through).
tgq_check_denial() {
    local err=$TGQ_RUN/$1.err
    if [ "$TGQ_KIND" = reference ]; then
        grep -q '^access denied by acl file$' "$err"
    else
        # One line of its own, naming the refused bridge.
        grep -q "^tapgate: .*\b$2\b" "$err"
    fi
}
