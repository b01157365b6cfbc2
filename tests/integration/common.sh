# Shared by the integration and differential tests: running a helper the way
# QEMU does (through tg-spawn), reading back the tap it produced, and making
# sure a run left nothing behind. Source after tests/lib/ns.sh and after
# tg_isolate.

# A report from tg-spawn, split into R[key]=value.
declare -gA R=()
REPORT=
ERRF=$TG_ROOT/stderr
ERR=

# Bridges made by tgi_bridge: their state is compared around every run, and
# the monitor ignores them (and their veths).
TGI_BRIDGES=()

tgi_cleanup() {
    tgi_release_quiet
    if [ -n "${MON_PID:-}" ]; then
        kill "$MON_PID" 2> /dev/null
        wait "$MON_PID" 2> /dev/null
    fi
    MON_PID=
}

# tgi_start [monitor]: checks, cleanup on exit, and (with "monitor") the
# watch for interfaces created during a case.
tgi_start() {
    tg_require_root
    if [ -z "${TG_SPAWN:-}" ] || [ ! -x "$TG_SPAWN" ]; then
        echo "TG_SPAWN not set or not executable (run through meson test)" >&2
        exit 1
    fi
    trap tgi_cleanup EXIT
    [ "${1:-}" = monitor ] && tgi_monitor_start
    return 0
}

# tgi_bridge NAME MTU: an up bridge with one veth port carrying a low MAC,
# like a bridge with a physical NIC. A bare bridge takes the lowest port MAC,
# so only with such a port does "the bridge keeps its MAC" mean anything.
tgi_bridge() {
    local name=$1 mtu=$2 n=${#TGI_BRIDGES[@]}
    tg_bridge "$name" "$mtu"
    ip link add "tgv${n}a" type veth peer name "tgv${n}b"
    ip link set "tgv${n}a" address "02:00:00:00:00:$(printf %02x $((n + 1)))"
    ip link set "tgv${n}a" mtu "$mtu"
    ip link set "tgv${n}b" mtu "$mtu"
    ip link set "tgv${n}a" master "$name"
    ip link set "tgv${n}a" up
    ip link set "tgv${n}b" up
    TGI_BRIDGES+=("$name")
}

# One line per bridge: name, MTU, MAC, ports; into BRIDGE_STATE. Compared
# before and after a run that must not change anything. Builtins only: forks
# are slow here and this runs twice per case.
BRIDGE_STATE=
tgi_bridge_state() {
    local b mtu mac p ports
    BRIDGE_STATE=
    for b in "${TGI_BRIDGES[@]}"; do
        read -r mtu < "/sys/class/net/$b/mtu"
        read -r mac < "/sys/class/net/$b/address"
        ports=
        for p in "/sys/class/net/$b/brif/"*; do
            [ -e "$p" ] && ports+=${p##*/},
        done
        BRIDGE_STATE+="$b mtu=$mtu mac=$mac ports=$ports"$'\n'
    done
}

# Names of tun/tap interfaces present, space-separated, into TAPS_LEFT.
TAPS_LEFT=
tgi_taps() {
    local f
    TAPS_LEFT=
    for f in /sys/class/net/*/tun_flags; do
        [ -e "$f" ] || continue
        f=${f%/tun_flags}
        TAPS_LEFT+="${f##*/} "
    done
}

# --- watching for interfaces the helper creates ---------------------------
# `ip monitor` sees a tap that existed only for a moment (created, then
# removed when the helper failed), which looking afterwards cannot. Its
# output comes through a FIFO, read with a timeout between cases.

MON_PID=
MON_FD=
MON_SEQ=0
MON_SEEN=

tgi_monitor_start() {
    local fifo=$TG_ROOT/monitor.fifo
    mkfifo "$fifo"
    # The marker: an interface whose MTU each sync sets to a new value.
    ip link add tgmk type veth peer name tgmkp
    # Dies with this shell even if the shell is killed outright.
    setpriv --pdeathsig TERM -- ip -o monitor link > "$fifo" 2>&1 &
    MON_PID=$!
    exec {MON_FD}< "$fifo"
    # Until the monitor has subscribed, markers may go unseen: retry.
    local i
    for i in 1 2 3 4 5 6 7 8 9 10; do
        tgi_monitor_sync 1 && return 0
    done
    echo "ip monitor does not report events" >&2
    exit 1
}

# Sets MON_SEEN to the names of interfaces the monitor reported since the
# last sync, other than known ones (bridges made by tgi_bridge, their veths,
# lo, the marker). Changing the marker's MTU and reading until that event
# shows up proves every earlier event has been read.
tgi_monitor_sync() {
    local wait=${1:-5} line name mtu known=" lo tgmk tgmkp ${TGI_BRIDGES[*]} "
    MON_SEQ=$((MON_SEQ + 1))
    mtu=$((1280 + MON_SEQ % 60000))
    MON_SEEN=
    ip link set tgmk mtu "$mtu" || return 1
    while IFS= read -r -t "$wait" -u "$MON_FD" line; do
        [[ $line =~ ^(Deleted\ )?[0-9]+:\ ([^:@\ ]+)[:@] ]] || continue
        name=${BASH_REMATCH[2]}
        if [ "$name" = tgmk ] && [[ $line == *" mtu $mtu "* ]]; then
            MON_SEEN=${MON_SEEN# }
            return 0
        fi
        [[ $known == *" $name "* || $name =~ ^tgv[0-9]+[ab]$ ]] && continue
        [[ " $MON_SEEN " == *" $name "* ]] || MON_SEEN+=" $name"
    done
    return 1
}

# --- verdicts --------------------------------------------------------------
# problem MSG...: one thing wrong with the case being checked; verdict DESC
# passes the case if there was none, else fails it with each problem and the
# last spawn's report and stderr.
PROBLEMS=()
problem() { PROBLEMS+=("$*"); }
verdict() {
    if [ ${#PROBLEMS[@]} -eq 0 ]; then
        tg_pass "$1"
    else
        local p
        tg_fail "$1"
        for p in "${PROBLEMS[@]}"; do echo "    $p" >&2; done
        echo "    report: ${REPORT:-}" >&2
        [ -n "${ERR:-}" ] && printf '%s\n' "$ERR" | head -n 5 | sed 's/^/    stderr: /' >&2
    fi
    PROBLEMS=()
}

# --- running a helper -----------------------------------------------------

# tgi_differential_helpers: the two sides of a differential test as
# root-owned 4755 copies, QEMU's helper ($REFERENCE_HELPER) in REF and
# tapgate ($HELPER, else the build's) in TGH; exits if either is missing.
REF=
TGH=
tgi_differential_helpers() {
    local ref=${REFERENCE_HELPER:-/usr/lib/qemu/qemu-bridge-helper}
    local tg=${HELPER:-${TAPGATE_BUILD_ROOT:-}/helper/tapgate}
    if [ ! -x "$ref" ]; then
        echo "reference helper not found: $ref (Debian package qemu-system-common)" >&2
        exit 1
    fi
    if [ ! -x "$tg" ]; then
        echo "tapgate not found: $tg (set HELPER or TAPGATE_BUILD_ROOT)" >&2
        exit 1
    fi
    REF=$(tg_setuid_copy "$ref" qemu-bridge-helper)
    TGH=$(tg_setuid_copy "$tg" tapgate)
}

tgi_parse_report() {
    R=()
    local kv
    for kv in $REPORT; do R[${kv%%=*}]=${kv#*=}; done
    ERR=
    IFS= read -r -d '' ERR < "$ERRF" || true
    ERR=${ERR%$'\n'}
}

# tgi_spawn USER [tg-spawn options] -- HELPER [ARGS...]: one run, QEMU's way,
# as USER (root: not through setpriv). Leaves the report in R, REPORT and
# the helper's stderr in ERR; the tap, if any, is already closed.
tgi_spawn() {
    local user=$1
    shift
    if [ "$user" = root ]; then
        REPORT=$("$TG_SPAWN" "$@" 2> "$ERRF" < /dev/null)
    else
        REPORT=$(tg_as "$user" "$TG_SPAWN" "$@" 2> "$ERRF" < /dev/null)
    fi
    tgi_parse_report
}

TGI_HOLD_PID=
TGI_HOLD_W=
# tgi_hold USER [tg-spawn options] -- HELPER...: like tgi_spawn, but the tap
# stays open (tg-spawn holds it) until tgi_release. tg-spawn's stdin and
# stdout are FIFOs: the report is read from one, closing the other lets go.
tgi_hold() {
    local user=$1 r
    shift
    [ -p "$TG_ROOT/hold.in" ] || mkfifo "$TG_ROOT/hold.in" "$TG_ROOT/hold.out"
    if [ "$user" = root ]; then
        "$TG_SPAWN" --keep 60 "$@" < "$TG_ROOT/hold.in" > "$TG_ROOT/hold.out" 2> "$ERRF" &
    else
        tg_as "$user" "$TG_SPAWN" --keep 60 "$@" < "$TG_ROOT/hold.in" > "$TG_ROOT/hold.out" 2> "$ERRF" &
    fi
    TGI_HOLD_PID=$!
    # Same order as the child's redirections, or both block.
    exec {TGI_HOLD_W}> "$TG_ROOT/hold.in"
    exec {r}< "$TG_ROOT/hold.out"
    REPORT=
    IFS= read -r -t 30 -u "$r" REPORT || true
    exec {r}<&-
    tgi_parse_report
}

# Closes tg-spawn's stdin: it closes the tap fd and exits.
tgi_release() {
    [ -n "$TGI_HOLD_PID" ] || return 0
    local w=$TGI_HOLD_W
    exec {w}>&-
    wait "$TGI_HOLD_PID" 2> /dev/null
    TGI_HOLD_PID=
    TGI_HOLD_W=
}

tgi_release_quiet() {
    if [ -n "${TGI_HOLD_PID:-}" ]; then
        kill "$TGI_HOLD_PID" 2> /dev/null
        tgi_release 2> /dev/null
    fi
}

# --- reading the tap ------------------------------------------------------

# tgi_tap_state IFNAME: flags from the kernel's side, MTU, MAC, master, up;
# into TAP_STATE.
TAP_STATE=
tgi_tap_state() {
    local d=/sys/class/net/$1 tunf flags mtu mac master=none
    if [ ! -d "$d" ]; then
        TAP_STATE=missing
        return
    fi
    read -r tunf < "$d/tun_flags"
    read -r flags < "$d/flags"
    read -r mtu < "$d/mtu"
    read -r mac < "$d/address"
    if [ -L "$d/master" ]; then
        # Known bridges first: readlink costs a process.
        local b
        for b in "${TGI_BRIDGES[@]}"; do
            [ -e "/sys/class/net/$b/brif/$1" ] && master=$b && break
        done
        if [ "$master" = none ]; then
            master=$(readlink "$d/master")
            master=${master##*/}
        fi
    fi
    TAP_STATE="k_tap=$(( (tunf & 0x0002) != 0 )) k_no_pi=$(( (tunf & 0x1000) != 0 ))"
    TAP_STATE+=" k_vnet_hdr=$(( (tunf & 0x4000) != 0 )) mtu=$mtu mac0=${mac%%:*}"
    TAP_STATE+=" master=$master up=$(( flags & 1 ))"
}

# Waits (up to 2 s) for an interface to disappear.
tgi_gone() {
    local i
    for ((i = 0; i < 200; i++)); do
        [ -e "/sys/class/net/$1" ] || return 0
        sleep 0.01
    done
    return 1
}

# A summary of the last run that does not depend on which helper ran: the
# decision and, for a tap, its state; into OUTCOME. Used to compare the two
# helpers.
OUTCOME=
tgi_outcome() {
    OUTCOME="exit=${R[exit]:-?} fd=${R[fd]:-?}"
    if [ "${R[fd]:-0}" = 1 ]; then
        tgi_tap_state "${R[ifname]}"
        OUTCOME+=" tap=${R[tap]} no_pi=${R[no_pi]} vnet_hdr=${R[vnet_hdr]} $TAP_STATE"
    fi
}
