# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash
# The project part of the test library (sourced by tests/lib/tg.sh): the
# helper under test, run the way QEMU does through tg-spawn
# (tests/tools/spawn.cpp), what came back, and what a run left behind.
#
# Env (meson sets them): TAPGATE_BUILD_ROOT, TG_SPAWN; HELPER overrides the
# binary under test.

TG_SPAWN=${TG_SPAWN:-${TAPGATE_BUILD_ROOT:-}/tests/tools/tg-spawn}

# tg_need FILE...: every file there, else the test cannot run at all.
tg_need() {
    local f
    for f; do
        [ -e "$f" ] || { echo "missing: '$f' (run through meson test)" >&2; exit 1; }
    done
}

# tg_start "$@": the start of a test that runs helpers: skip unless root,
# re-run in namespaces, check for tg-spawn, start the clock, and work in
# the scratch directory.
tg_start() {
    tg_require_root
    tg_isolate "$@"
    tg_need "${TG_SPAWN:-}"
    tg_clock_start
    cd "$TG_ROOT/scratch" || exit 1
}

# tg_elapsed: the test's time so far, for the log.
tg_elapsed() { tg_note "time: $(tg_ms)"; }

# tg_helper [NAME]: the helper under test ($HELPER, else the build's) as a
# root-owned 4755 copy named NAME (default tapgate) in $TG_ROOT/bin, where
# setuid is honoured and the test users can reach it (the build tree may
# sit under a private home directory). Sets TG_HELPER_SRC and TG_H.
#
# With TG_VIA=service the copy is plain 0755, so it has no CAP_NET_ADMIN
# and passes every request on to the service, which tg_service_start
# starts: the same test then runs against the service path.
tg_helper() {
    TG_HELPER_SRC=${HELPER:-${TAPGATE_BUILD_ROOT:-}/helper/tapgate}
    if [ ! -x "$TG_HELPER_SRC" ]; then
        echo "helper not found: '$TG_HELPER_SRC' (set HELPER or TAPGATE_BUILD_ROOT)" >&2
        exit 1
    fi
    if [ "${TG_VIA:-setuid}" = service ]; then
        TG_H=$TG_ROOT/bin/${1:-tapgate}
        install -o root -g root -m 0755 "$TG_HELPER_SRC" "$TG_H"
        [ -n "$TG_SERVICE_PID" ] || tg_service_start
        tg_note "through the service: $TG_H (0755) passes every request on to tapgated"
    else
        TG_H=$(tg_setuid_copy "$TG_HELPER_SRC" "${1:-tapgate}")
    fi
}

# --- the service ----------------------------------------------------------------
# tg_service_start [NAME=VALUE...]: tapgated, started the way systemd starts
# it: the build's tapgate.service gives the command (ExecStart) and
# tapgate.socket the socket and its mode, and systemd-socket-activate
# (systemd is not PID 1 here) does the rest, with NAME=VALUE added to the
# service's environment (TAPGATE_FAULT in a fault-injection build). The
# command's path (the installed libexecdir) gets the build's tapgated
# through an overlay private to this test's mount namespace; the socket
# lives in its private /run. Sets TG_SERVICE_PID, TG_SERVICE_SOCKET and
# TG_SERVICE_EXEC (the path of tapgated);
# $TG_ROOT/service.log collects the service's stderr. The pid is
# systemd-socket-activate's until the first connection, which makes it
# tapgated (exec). May be called again after tg_service_stop.
TG_SERVICE_PID=
TG_SERVICE_SOCKET=
TG_SERVICE_EXEC=
tg_service_start() {
    local units=${TAPGATE_BUILD_ROOT:-}/helper exec dir base mode i env=() kv
    tg_need "$units/tapgated" "$units/tapgate.service" "$units/tapgate.socket"
    exec=$(sed -n 's/^ExecStart=//p' "$units/tapgate.service")
    TG_SERVICE_SOCKET=$(sed -n 's/^ListenStream=//p' "$units/tapgate.socket")
    mode=$(sed -n 's/^SocketMode=//p' "$units/tapgate.socket")
    if [ -z "$TG_SERVICE_EXEC" ]; then
        dir=${exec%/*}
        base=$dir
        until [ -d "$base" ]; do base=${base%/*}; done
        tg_overlay "$base"
        mkdir -p "$dir"
        install -o root -g root -m 0755 "$units/tapgated" "${exec%% *}"
        TG_SERVICE_EXEC=${exec%% *}
    fi
    mkdir -p "${TG_SERVICE_SOCKET%/*}"
    # A service killed outright leaves its socket file: systemd removes it
    # before it binds again, and so does this.
    rm -f "$TG_SERVICE_SOCKET"
    for kv; do env+=(-E "$kv"); done
    # A sanitizer build's options (meson sets them for the tests) reach the
    # service too: systemd-socket-activate passes on only what it is told.
    for kv in ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS; do
        [ -n "${!kv:-}" ] && env+=(-E "$kv")
    done
    # --pdeathsig: it ends with the test even if the test is killed outright
    # (systemd-socket-activate execs the service, which keeps it).
    # shellcheck disable=SC2086
    setpriv --pdeathsig TERM -- systemd-socket-activate -l "$TG_SERVICE_SOCKET" "${env[@]}" -- $exec \
        >> "$TG_ROOT/service.log" 2>&1 &
    TG_SERVICE_PID=$!
    for ((i = 0; i < 500; i++)); do
        [ -S "$TG_SERVICE_SOCKET" ] && break
        sleep 0.01
    done
    # systemd-socket-activate knows no SocketMode=: the unit's, by hand.
    chmod "${mode:-0666}" "$TG_SERVICE_SOCKET"
}

# tg_service_stop [SIGNAL]: stops the service (SIGTERM, as systemd would,
# or SIGNAL: KILL for a crash) and waits for it; its exit status in
# TG_SERVICE_STATUS.
TG_SERVICE_STATUS=
tg_service_stop() {
    TG_SERVICE_STATUS=
    [ -n "$TG_SERVICE_PID" ] || return 0
    kill -s "${1:-TERM}" "$TG_SERVICE_PID" 2> /dev/null
    wait "$TG_SERVICE_PID" 2> /dev/null
    TG_SERVICE_STATUS=$?
    TG_SERVICE_PID=
}

# tg_via_service: whether this run tests the service path (TG_VIA=service).
tg_via_service() { [ "${TG_VIA:-setuid}" = service ]; }

# tg_service_children: the pids of the service's children (one a request),
# space-separated, into TG_SERVICE_CHILDREN.
TG_SERVICE_CHILDREN=
tg_service_children() {
    TG_SERVICE_CHILDREN=
    local f=/proc/$TG_SERVICE_PID/task/$TG_SERVICE_PID/children
    [ -n "$TG_SERVICE_PID" ] && [ -r "$f" ] && read -r TG_SERVICE_CHILDREN < "$f"
    return 0
}

# tg_service_idle [SECONDS]: waits (default 5 s) until the service has no
# child left; status 1 if one is still there.
tg_service_idle() {
    local end=$(( ${EPOCHREALTIME/./} + ${1:-5} * 1000000 ))
    while tg_service_children; [ -n "$TG_SERVICE_CHILDREN" ]; do
        [ "${EPOCHREALTIME/./}" -lt "$end" ] || return 1
        sleep 0.01
    done
}

# tg_service_fds: the number of fds the service's main process holds, into
# TG_SERVICE_FDS.
TG_SERVICE_FDS=
tg_service_fds() {
    local f
    TG_SERVICE_FDS=0
    for f in "/proc/$TG_SERVICE_PID/fd/"*; do
        [ -e "$f" ] || [ -L "$f" ] && TG_SERVICE_FDS=$((TG_SERVICE_FDS + 1))
    done
}

# tg_differential_helpers: the two sides of a differential test as
# root-owned 4755 copies, QEMU's helper ($REFERENCE_HELPER) in TG_REF and
# tapgate (as tg_helper picks it) in TG_TGH; exits if either is missing.
tg_differential_helpers() {
    local ref=${REFERENCE_HELPER:-/usr/lib/qemu/qemu-bridge-helper}
    if [ ! -x "$ref" ]; then
        echo "reference helper not found: $ref (Debian package qemu-system-common)" >&2
        exit 1
    fi
    TG_REF=$(tg_setuid_copy "$ref" qemu-bridge-helper)
    tg_helper
    TG_TGH=$TG_H
}

# tg_user_tool FILE: a copy of FILE in $TG_ROOT/bin that the test users can
# run (the source tree may sit under a private home directory); prints its
# path.
tg_user_tool() {
    install -m 0755 "$1" "$TG_ROOT/bin/${1##*/}"
    echo "$TG_ROOT/bin/${1##*/}"
}

# --- running a helper ---------------------------------------------------------
# A run leaves tg-spawn's report in TG_REPORT, split into TG_R[key]=value,
# the helper's stderr in TG_ERR and the caller's exit status in TG_RC.
declare -gA TG_R=()
TG_REPORT=
TG_ERR=
TG_RC=

# tg_parse_report [REPORT]: the last run's report (REPORT, else the file
# tg_spawn writes, $TG_ROOT/report) and stderr ($TG_ROOT/stderr).
tg_parse_report() {
    local kv
    if [ $# -gt 0 ]; then
        TG_REPORT=$1
    else
        TG_REPORT=
        IFS= read -r TG_REPORT < "$TG_ROOT/report"
    fi
    TG_R=()
    for kv in $TG_REPORT; do TG_R[${kv%%=*}]=${kv#*=}; done
    TG_ERR=
    IFS= read -r -d '' TG_ERR < "$TG_ROOT/stderr"
    TG_ERR=${TG_ERR%$'\n'}
}

# tg_spawn USER [tg-spawn options] -- HELPER [ARGS...]: one run, QEMU's way,
# as USER (root: not through setpriv), under a hard timeout (status 124 in
# TG_RC: tg-spawn itself hung); the tap, if any, is already closed.
tg_spawn() {
    local user=$1
    shift
    if [ "$user" = root ]; then
        timeout -k 5 40 "$TG_SPAWN" "$@" > "$TG_ROOT/report" 2> "$TG_ROOT/stderr" < /dev/null
    else
        timeout -k 5 40 setpriv --reuid="$user" --regid="$user" --init-groups -- \
            "$TG_SPAWN" "$@" > "$TG_ROOT/report" 2> "$TG_ROOT/stderr" < /dev/null
    fi
    TG_RC=$?
    tg_parse_report
}

# tg_raw [--as USER] [tg-spawn options] -- ARGS...: the helper under test
# ($TG_H) with exactly ARGS ({fd}: the socket's number), as USER (default
# the test user).
tg_raw() {
    local user=$TG_USER opts=()
    if [ "$1" = --as ]; then
        user=$2
        shift 2
    fi
    while [ $# -gt 0 ] && [ "$1" != -- ]; do opts+=("$1"); shift; done
    shift
    tg_spawn "$user" --no-vnet --no-fd --no-br "${opts[@]}" -- "$TG_H" "$@"
}

# tg_spawn_nogroups USER [tg-spawn options] -- HELPER: like tg_spawn, but the
# process keeps only the user's primary group. That is what a user gets by
# shedding a supplementary group (setgroups in a user namespace, newgrp
# tricks, a service started without initgroups). USER may be a uid, which
# needs no user database.
tg_spawn_nogroups() {
    local user=$1
    shift
    setpriv --reuid="$user" --regid="$user" --clear-groups -- "$TG_SPAWN" "$@" \
        > "$TG_ROOT/report" 2> "$TG_ROOT/stderr" < /dev/null
    TG_RC=$?
    tg_parse_report
}

# tg_run USER ARGS...: the helper in an admin mode (--explain, --check,
# --list); TG_OUT (stdout), TG_EOUT (stderr), TG_RC. USER is root, a user
# name (the process gets its groups, as from a login) or a uid (no
# supplementary groups, and no user database needed to start it).
tg_run() {
    local user=$1
    shift
    case $user in
    root) TG_OUT=$("$TG_H" "$@" 2> "$TG_ROOT/admin.err") ;;
    *[!0-9]*) TG_OUT=$(tg_as "$user" "$TG_H" "$@" 2> "$TG_ROOT/admin.err") ;;
    *) TG_OUT=$(setpriv --reuid="$user" --regid="$user" --clear-groups -- "$TG_H" "$@" \
        2> "$TG_ROOT/admin.err") ;;
    esac
    TG_RC=$?
    TG_EOUT=$(< "$TG_ROOT/admin.err")
}

# --- the audit log --------------------------------------------------------------
# tg_syslog_start [FILE]: a stand-in syslogd (tests/tools/syslogd.py) at a
# /dev/log private to this test: /dev is the host's devtmpfs, so its socket
# goes into an overlay private to this mount namespace (tg_private_dev).
# Every message becomes one line of $TG_SYSLOG (FILE, by default
# $TG_ROOT/syslog; /dev/null keeps none). It ends with this shell.
# tg_syslog_new COUNT waits (up to
# 3 s) until COUNT more lines came and puts the lines new since the last
# call into TG_NEW (newline-separated).
TG_SYSLOG=
TG_SYSLOG_SEEN=0
TG_NEW=
tg_syslog_start() {
    local ready line
    tg_private_dev
    TG_SYSLOG=${1:-$TG_ROOT/syslog}
    : > "$TG_SYSLOG"
    exec {ready}< <(exec setpriv --pdeathsig TERM -- "${PYTHON:-python3}" "$TG_LIB/../tools/syslogd.py" \
        /dev/log "$TG_SYSLOG")
    read -r -t 10 -u "$ready" line
    exec {ready}<&-
    [ "$line" = ready ] || { echo "syslog listener did not start" >&2; exit 1; }
    [ -S /dev/log ] || { echo "/dev/log is not a socket" >&2; exit 1; }
}
tg_syslog_new() {
    local want=$1 i n lines
    for ((i = 0; i < 300; i++)); do
        mapfile -t lines < "$TG_SYSLOG"
        n=${#lines[@]}
        [ $((n - TG_SYSLOG_SEEN)) -ge "$want" ] && break
        sleep 0.01
    done
    TG_NEW=$(printf '%s\n' "${lines[@]:TG_SYSLOG_SEEN}")
    TG_NEW=${TG_NEW%$'\n'}
    TG_SYSLOG_SEEN=${#lines[@]}
}

# --- holding taps ---------------------------------------------------------------
# Many callers may hold their taps at once (quotas count live taps), so
# every holder reads its stdin from one FIFO, the gate. This shell keeps the
# only writer; closing it (tg_release) is end of file for all of them at
# once, and each tg-spawn then closes its tap and exits.

TG_GATE_W=
TG_HOLDERS=()
TG_HOLD_SEQ=0
TG_HOLD_PID=

tg_gate_open() {
    [ -n "$TG_GATE_W" ] && return 0
    [ -p "$TG_ROOT/gate" ] || mkfifo "$TG_ROOT/gate"
    # Read-write: opening does not wait for a reader.
    exec {TG_GATE_W}<> "$TG_ROOT/gate"
}

# tg_hold USER [tg-spawn options] -- HELPER...: one request whose tap (if
# granted) stays open until tg_release. Report and stderr as from tg_spawn,
# tg-spawn's pid in TG_HOLD_PID. The report comes through a FIFO (read with
# a timeout, no polling: forks are what makes these tests slow).
tg_hold() {
    local user=$1 out rd
    shift
    tg_gate_open
    TG_HOLD_SEQ=$((TG_HOLD_SEQ + 1))
    out=$TG_ROOT/hold.$TG_HOLD_SEQ
    [ -p "$out" ] || mkfifo "$out"
    # Read-write: the open does not wait for tg-spawn, and its report is
    # there whether it holds the tap or has already exited.
    exec {rd}<> "$out"
    if [ "$user" = root ]; then
        "$TG_SPAWN" --keep 80 "$@" < "$TG_ROOT/gate" > "$out" 2> "$TG_ROOT/stderr" {TG_GATE_W}>&- {rd}<&- &
    else
        # tg_as spelled out: a function would run in a subshell, and $!
        # would not be tg-spawn's pid (setpriv execs it).
        setpriv --reuid="$user" --regid="$user" --init-groups -- \
            "$TG_SPAWN" --keep 80 "$@" < "$TG_ROOT/gate" > "$out" 2> "$TG_ROOT/stderr" {TG_GATE_W}>&- {rd}<&- &
    fi
    TG_HOLD_PID=$!
    TG_HOLDERS+=("$TG_HOLD_PID")
    local report=
    IFS= read -r -t 30 -u "$rd" report || true
    exec {rd}<&-
    # A refusal: tg-spawn exits after the report, and its stderr is complete
    # only then.
    [[ $report == *" fd=1 "* ]] || wait "$TG_HOLD_PID" 2> /dev/null
    TG_RC=0
    tg_parse_report "$report"
}

# tg_release [--kill]: lets every holder go (or kills them) and waits for
# them all to exit.
tg_release() {
    local p
    [ "${1:-}" = --kill ] && for p in "${TG_HOLDERS[@]}"; do kill "$p" 2> /dev/null; done
    if [ -n "$TG_GATE_W" ]; then
        local w=$TG_GATE_W
        exec {w}>&-
        TG_GATE_W=
    fi
    for p in "${TG_HOLDERS[@]}"; do wait "$p" 2> /dev/null; done
    TG_HOLDERS=()
    TG_HOLD_SEQ=0
}

# --- state --------------------------------------------------------------------
# Builtins only (no fork): process creation is slow on a loaded machine and
# these run after every case.

# tg_bridge_state [mac]: one line per bridge in TG_BRIDGES: name, MTU,
# (MAC), ports; into TG_BRIDGE_STATE.
TG_BRIDGE_STATE=
tg_bridge_state() {
    local b mtu mac p ports
    TG_BRIDGE_STATE=
    for b in "${TG_BRIDGES[@]}"; do
        read -r mtu < "/sys/class/net/$b/mtu"
        ports=
        for p in "/sys/class/net/$b/brif/"*; do
            [ -e "$p" ] && ports+=${p##*/},
        done
        if [ "${1:-}" = mac ]; then
            read -r mac < "/sys/class/net/$b/address"
            TG_BRIDGE_STATE+="$b mtu=$mtu mac=$mac ports=$ports"$'\n'
        else
            TG_BRIDGE_STATE+="$b mtu=$mtu ports=$ports"$'\n'
        fi
    done
}

# tg_state: the bridges (MTU and ports), the taps, and the helper processes
# still alive (found by their executable, $TG_H: -ef is the same inode, so a
# stopped or orphaned one counts too); into TG_STATE. tg_state_baseline
# records it as the state every case must return to (tg_verdict checks).
TG_STATE=
tg_state() {
    local p
    tg_bridge_state
    tg_taps
    TG_STATE="${TG_BRIDGE_STATE//$'\n'/ }taps=$TG_TAPS procs="
    for p in /proc/[0-9]*; do [[ $p/exe -ef $TG_H ]] && TG_STATE+="${p#/proc/},"; done
}
tg_state_baseline() {
    tg_state
    TG_STATE0=$TG_STATE
}

# tg_tap_state IFNAME: flags from the kernel's side, MTU, MAC, master, up;
# into TG_TAP_STATE.
TG_TAP_STATE=
tg_tap_state() {
    local d=/sys/class/net/$1 tunf flags mtu mac master=none
    if [ ! -d "$d" ]; then
        TG_TAP_STATE=missing
        return
    fi
    read -r tunf < "$d/tun_flags"
    read -r flags < "$d/flags"
    read -r mtu < "$d/mtu"
    read -r mac < "$d/address"
    if [ -L "$d/master" ]; then
        # Known bridges first: readlink costs a process.
        local b
        for b in "${TG_BRIDGES[@]}"; do
            [ -e "/sys/class/net/$b/brif/$1" ] && master=$b && break
        done
        if [ "$master" = none ]; then
            master=$(readlink "$d/master")
            master=${master##*/}
        fi
    fi
    TG_TAP_STATE="k_tap=$(( (tunf & 0x0002) != 0 )) k_no_pi=$(( (tunf & 0x1000) != 0 ))"
    TG_TAP_STATE+=" k_vnet_hdr=$(( (tunf & 0x4000) != 0 )) mtu=$mtu mac0=${mac%%:*}"
    TG_TAP_STATE+=" master=$master up=$(( flags & 1 ))"
}

# tg_outcome: a summary of the last run that does not depend on which
# helper ran: the decision and, for a tap, its state; into TG_OUTCOME. Used
# to compare the two helpers.
TG_OUTCOME=
tg_outcome() {
    TG_OUTCOME="exit=${TG_R[exit]:-?} fd=${TG_R[fd]:-?}"
    if [ "${TG_R[fd]:-0}" = 1 ]; then
        tg_tap_state "${TG_R[ifname]}"
        TG_OUTCOME+=" tap=${TG_R[tap]} no_pi=${TG_R[no_pi]} vnet_hdr=${TG_R[vnet_hdr]} $TG_TAP_STATE"
    fi
}

# --- checks on the last run ------------------------------------------------------

# tg_expect_rc N: about the last tg_run.
tg_expect_rc() { [ "$TG_RC" = "$1" ] || tg_problem "exit $TG_RC, want $1 (stderr: $TG_EOUT)"; }

# tg_expect_grant / tg_expect_refusal TEXT: about the last spawn (TG_R, TG_ERR).
tg_expect_grant() {
    [ "${TG_R[exit]:-}" = 0 ] && [ "${TG_R[fd]:-}" = 1 ] ||
        tg_problem "expected a tap, got: $TG_REPORT; stderr: $TG_ERR"
}
tg_expect_refusal() {
    if [ "${TG_R[exit]:-}" != 1 ] || [ "${TG_R[fd]:-}" != 0 ]; then
        tg_problem "expected a refusal, got: $TG_REPORT; stderr: $TG_ERR"
    elif [[ $TG_ERR != *"$1"* ]]; then
        tg_problem "stderr lacks \"$1\": $TG_ERR"
    fi
}

# tg_expect_nothing_left: no tun/tap interface, no helper process.
tg_expect_nothing_left() {
    tg_taps
    [ -z "$TG_TAPS" ] || tg_problem "taps left: $TG_TAPS"
    local e
    for e in /proc/[0-9]*/exe; do
        # -ef (same inode) is a builtin test: no fork per process.
        [ "$e" -ef "$TG_H" ] && tg_problem "helper still running: ${e%/exe}"
    done
    return 0
}

# --- watching for interfaces the helper creates -----------------------------------
# `ip monitor` sees a tap that existed only for a moment (created, then
# removed when the helper failed), which looking afterwards cannot. Its
# output comes through a FIFO, read with a timeout between cases.

TG_MON_PID=
TG_MON_FD=
TG_MON_SEQ=0
TG_SEEN=

tg_monitor_start() {
    local fifo=$TG_ROOT/monitor.fifo
    mkfifo "$fifo"
    # The marker: an interface whose MTU each sync sets to a new value.
    ip link add tgmk type veth peer name tgmkp
    # Dies with this shell even if the shell is killed outright.
    setpriv --pdeathsig TERM -- ip -o monitor link > "$fifo" 2>&1 &
    TG_MON_PID=$!
    exec {TG_MON_FD}< "$fifo"
    # Until the monitor has subscribed, markers may go unseen: retry.
    local i
    for i in 1 2 3 4 5 6 7 8 9 10; do
        tg_monitor_sync 1 && return 0
    done
    echo "ip monitor does not report events" >&2
    exit 1
}

# tg_monitor_sync [WAIT]: sets TG_SEEN to the names of interfaces the
# monitor reported since the last sync, other than known ones (TG_BRIDGES,
# their veths, lo, the marker). Changing the marker's MTU and reading until
# that event shows up proves every earlier event has been read.
tg_monitor_sync() {
    local wait=${1:-5} line name mtu known=" lo tgmk tgmkp ${TG_BRIDGES[*]} "
    TG_MON_SEQ=$((TG_MON_SEQ + 1))
    mtu=$((1280 + TG_MON_SEQ % 60000))
    TG_SEEN=
    ip link set tgmk mtu "$mtu" || return 1
    while IFS= read -r -t "$wait" -u "$TG_MON_FD" line; do
        [[ $line =~ ^(Deleted\ )?[0-9]+:\ ([^:@\ ]+)[:@] ]] || continue
        name=${BASH_REMATCH[2]}
        if [ "$name" = tgmk ] && [[ $line == *" mtu $mtu "* ]]; then
            TG_SEEN=${TG_SEEN# }
            return 0
        fi
        [[ $known == *" $name "* || $name =~ ^tgv[0-9]+[ab]$ ]] && continue
        [[ " $TG_SEEN " == *" $name "* ]] || TG_SEEN+=" $name"
    done
    return 1
}

# --- the end of a test ------------------------------------------------------------
# tg_cleanup (the EXIT trap tg_isolate sets): holders, the monitor, QEMUs,
# libvirt.
tg_cleanup() {
    tg_release --kill 2> /dev/null
    tg_service_stop
    if [ -n "$TG_MON_PID" ]; then
        kill "$TG_MON_PID" 2> /dev/null
        wait "$TG_MON_PID" 2> /dev/null
    fi
    TG_MON_PID=
    tg_qemu_cleanup
    tg_libvirt_cleanup
}
