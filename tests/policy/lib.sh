# shellcheck shell=bash
# Shared by the policy tests (tests/policy/*.sh): the lab-policy features of
# tapgate (user/group rules, tapgate.conf quotas, port flags, name templates,
# audit log, admin commands), exercised through a root-owned setuid copy run
# by unprivileged users in throwaway namespaces (tests/lib/ns.sh), with
# tg-spawn playing QEMU. Source it from a test script, then call pol_start.
#
# Env: TAPGATE_BUILD_ROOT, TG_SPAWN (meson sets both); HELPER overrides the
# binary under test.
pol_here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$pol_here/../lib/ns.sh"

# pol_start "$@": skip unless root, re-run in namespaces, set H (the setuid
# copy) and the common.sh helpers up, and make one bridge br0.
pol_start() {
    tg_require_root
    tg_isolate "$@"
    . "$pol_here/../integration/common.sh"
    tgi_start
    local src=${HELPER:-${TAPGATE_BUILD_ROOT:-}/helper/tapgate}
    if [ ! -x "$src" ]; then
        echo "helper not found: $src (set HELPER or TAPGATE_BUILD_ROOT)" >&2
        exit 1
    fi
    H=$(tg_setuid_copy "$src" tapgate)
    # The python helpers run as the test users: a copy they can read.
    PY=${PYTHON:-/usr/bin/python3}
    install -m 0755 "$pol_here/persist.py" "$TG_ROOT/bin/persist.py"
    PERSIST="$PY $TG_ROOT/bin/persist.py"
    cd "$TG_ROOT/scratch" || exit 1
    trap pol_cleanup EXIT
    T0=$EPOCHREALTIME
}

pol_cleanup() {
    pol_release_all
    tgi_cleanup
}

# pol_conf LINE...: write /etc/tapgate.conf (root:root 0644); no argument
# removes it.
pol_conf() {
    if [ $# -eq 0 ]; then
        rm -f /etc/tapgate.conf
        return
    fi
    printf '%s\n' "$@" > /etc/tapgate.conf
    chown root:root /etc/tapgate.conf
    chmod 0644 /etc/tapgate.conf
}

# pol_user NAME UID [GROUP...]: one more test user, in the given groups
# (which must exist in /etc/group already).
pol_user() {
    local name=$1 uid=$2 g
    shift 2
    tg_add_user "$name" "$uid"
    for g in "$@"; do
        sed -i -E "s/^($g:[^:]*:[^:]*:)(.*)\$/\\1\\2,$name/; s/^($g:[^:]*:[^:]*:),/\\1/" /etc/group
    done
}

# --- holding taps ---------------------------------------------------------
# Many callers must hold their taps at once (quotas count live taps), so
# every holder reads its stdin from one FIFO, the gate. This shell keeps the
# only writer; closing it (pol_release_all) is end of file for all of them
# at once, and each tg-spawn then closes its tap and exits.

POL_GATE_W=
POL_HOLDERS=()

pol_gate_open() {
    [ -n "$POL_GATE_W" ] && return 0
    [ -p "$TG_ROOT/gate" ] || mkfifo "$TG_ROOT/gate"
    # Read-write: opening does not wait for a reader.
    exec {POL_GATE_W}<> "$TG_ROOT/gate"
}

# pol_hold USER [tg-spawn options] -- HELPER...: one request whose tap (if
# granted) stays open until pol_release_all. Report in R/REPORT, stderr in
# ERR, tg-spawn's pid in HOLD_PID. The report comes through a FIFO (read
# with a timeout, no polling: forks are what makes these tests slow).
POL_SEQ=0
pol_hold() {
    local user=$1 out rd
    shift
    pol_gate_open
    POL_SEQ=$((POL_SEQ + 1))
    out=$TG_ROOT/hold.$POL_SEQ
    mkfifo "$out"
    # Read-write: the open does not wait for tg-spawn, and its report is
    # there whether it holds the tap or has already exited.
    exec {rd}<> "$out"
    if [ "$user" = root ]; then
        "$TG_SPAWN" --keep 80 "$@" < "$TG_ROOT/gate" > "$out" 2> "$ERRF" {POL_GATE_W}>&- {rd}<&- &
    else
        # tg_as spelled out: a function would run in a subshell, and $!
        # would not be tg-spawn's pid (setpriv execs it).
        setpriv --reuid="$user" --regid="$user" --init-groups -- \
            "$TG_SPAWN" --keep 80 "$@" < "$TG_ROOT/gate" > "$out" 2> "$ERRF" {POL_GATE_W}>&- {rd}<&- &
    fi
    HOLD_PID=$!
    POL_HOLDERS+=("$HOLD_PID")
    REPORT=
    IFS= read -r -t 30 -u "$rd" REPORT || true
    exec {rd}<&-
    rm -f "$out"
    # A refusal: tg-spawn exits after the report, and its stderr is complete
    # only then.
    [[ $REPORT == *" fd=1 "* ]] || wait "$HOLD_PID" 2> /dev/null
    tgi_parse_report
}

# Lets every holder go and waits for them all to exit.
pol_release_all() {
    if [ -n "$POL_GATE_W" ]; then
        local w=$POL_GATE_W
        exec {w}>&-
        POL_GATE_W=
    fi
    local p
    for p in "${POL_HOLDERS[@]}"; do wait "$p" 2> /dev/null; done
    POL_HOLDERS=()
}

# pol_spawn USER [tg-spawn options] -- HELPER...: one request, the tap closed
# at once (tgi_spawn from common.sh).
pol_spawn() { tgi_spawn "$@"; }

# pol_spawn_nogroups USER [tg-spawn options] -- HELPER: like pol_spawn, but
# the process keeps only the user's primary group. That is what a user gets
# by shedding a supplementary group (setgroups in a user namespace, newgrp
# tricks, a service started without initgroups). USER may be a uid, which
# needs no user database.
pol_spawn_nogroups() {
    local user=$1
    shift
    REPORT=$(setpriv --reuid="$user" --regid="$user" --clear-groups -- "$TG_SPAWN" "$@" \
        2> "$ERRF" < /dev/null)
    tgi_parse_report
}

# --- a user database that can go down --------------------------------------

# pol_nss_tgtest: adds the service "tgtest" (tests/policy/nss_tgtest.c, path
# in TG_NSS_MODULE) after "files" for passwd and group, with empty
# /etc/tgnss/passwd and /etc/tgnss/group for the test to fill; touching
# /etc/tgnss/down makes it answer as SSSD does while sssd is down (more
# in tests/policy/nss_tgtest.c: initgroups, the capability log).
# A setuid program's dlopen() looks in the system library directory only
# (LD_LIBRARY_PATH is ignored), so the module is laid over that directory,
# in this mount namespace only.
pol_nss_tgtest() {
    local module=${TG_NSS_MODULE:-} libc libdir
    if [ ! -f "$module" ]; then
        echo "NSS test module not found: $module (set TG_NSS_MODULE)" >&2
        exit 1
    fi
    libc=$(ldd "$H" | awk '$1 == "libc.so.6" { print $3 }')
    libdir=$(dirname "$(readlink -f "$libc")")
    mkdir -p "$TG_ROOT/nsslib"
    install -o root -g root -m 0644 "$module" "$TG_ROOT/nsslib/libnss_tgtest.so.2"
    mount -t overlay tapgate-nsslib -o "lowerdir=$TG_ROOT/nsslib:$libdir" "$libdir"
    # An ld.so.cache entry would win over the directory.
    if ldconfig -p | grep -q libnss_tgtest; then
        echo "ld.so.cache names libnss_tgtest: the overlay would not be used" >&2
        exit 1
    fi
    # meson points LD_LIBRARY_PATH at the module's build directory: without
    # it, every program here finds the module where the helper does.
    unset LD_LIBRARY_PATH
    sed -i -E 's/^(passwd|group|initgroups):.*$//' /etc/nsswitch.conf
    printf 'passwd: files tgtest\ngroup: files tgtest\n' >> /etc/nsswitch.conf
    mkdir -p /etc/tgnss
    : > /etc/tgnss/passwd
    : > /etc/tgnss/group
}

# pol_run USER ARGS...: the helper in an admin mode (--explain, --check,
# --list); OUT (stdout), EOUT (stderr), RC. USER is root, a user name (the
# process gets its groups, as from a login) or a uid (no supplementary
# groups, and no user database needed to start it).
pol_run() {
    local user=$1
    shift
    case $user in
    root) OUT=$("$H" "$@" 2> "$TG_ROOT/admin.err") ;;
    *[!0-9]*) OUT=$(tg_as "$user" "$H" "$@" 2> "$TG_ROOT/admin.err") ;;
    *) OUT=$(setpriv --reuid="$user" --regid="$user" --clear-groups -- "$H" "$@" \
        2> "$TG_ROOT/admin.err") ;;
    esac
    RC=$?
    EOUT=$(< "$TG_ROOT/admin.err")
}

# --- checks (problem and verdict: tests/integration/common.sh) -----------

# expect_rc N: about the last pol_run.
expect_rc() { [ "$RC" = "$1" ] || problem "exit $RC, want $1 (stderr: $EOUT)"; }

# expect_grant / expect_refusal TEXT: about the last run (R, ERR).
expect_grant() {
    [ "${R[exit]:-}" = 0 ] && [ "${R[fd]:-}" = 1 ] ||
        problem "expected a tap, got: $REPORT; stderr: $ERR"
}
expect_refusal() {
    if [ "${R[exit]:-}" != 1 ] || [ "${R[fd]:-}" != 0 ]; then
        problem "expected a refusal, got: $REPORT; stderr: $ERR"
    elif [[ $ERR != *"$1"* ]]; then
        problem "stderr lacks \"$1\": $ERR"
    fi
}

# No tun/tap interface left, no helper process left.
expect_nothing_left() {
    tgi_taps
    [ -z "$TAPS_LEFT" ] || problem "taps left: $TAPS_LEFT"
    local e
    for e in /proc/[0-9]*/exe; do
        # -ef (same inode) is a builtin test: no fork per process.
        [ "$e" -ef "$H" ] && problem "helper still running: ${e%/exe}"
    done
    return 0
}

pol_elapsed() { echo "time: $(( (${EPOCHREALTIME/./} - ${T0/./}) / 1000 )) ms"; }
