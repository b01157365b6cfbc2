#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The service killed at every step: a -Dfault_injection=true build's
# tapgated, started with TAPGATE_FAULT=STEP:hang, holds the child serving
# a request at STEP (without stopping it: the service ends a stopped child
# at once); then the service's main process is killed, with SIGKILL (a
# crash) or SIGTERM (systemctl stop). The caller must see a clear refusal,
# logged by the tapgate that asked (after-send: its tap), nothing may be
# left (no tap, no child, bridge ports unchanged), the quota lock must be
# free (a request of the same user under quota 1 is granted by the service
# started again), and the restarted service serves. Then a child killed
# while it holds the quota lock, the service running on: the next request
# takes the lock.
#
# Env (meson sets them): TAPGATE_BUILD_ROOT (a fault-injection build),
# TG_SPAWN.
. "$(dirname "${BASH_SOURCE[0]}")/../lib/tg.sh"
tg_start "$@"
TG_VIA=service tg_helper
LOG=$TG_ROOT/service.log
SECONDS=0

# br0 gets a veth port, so "port count unchanged" compares against one.
tg_bridge_with_port br0 1500
tg_acl "allow br0"
tg_conf "[bridge br0]" "quota = 1"
tg_syslog_start
tg_state_baseline

# hang_line STEP: the line a child held at STEP writes to the service's
# log. held STEP [N]: waits (10 s) until the log has N (default 1) more of
# them than when `mark` was called.
hang_line() { echo "tapgate: fault injection: hang at $1"; }
mark() { MARK=$(grep -cxF "$(hang_line "$1")" "$LOG"); }
held() {
    local i
    for ((i = 0; i < 1000; i++)); do
        [ "$(grep -cxF "$(hang_line "$1")" "$LOG")" -ge $((MARK + ${2:-1})) ] && return 0
        sleep 0.01
    done
    tg_problem "no child held at $1"
    return 1
}
# service_children_gone: no tapgated process left but the service's own.
service_children_gone() {
    local e
    for e in /proc/[0-9]*/exe; do
        [ "$e" -ef "$TG_SERVICE_EXEC" ] && [ "${e%/exe}" != "/proc/$TG_SERVICE_PID" ] && return 1
    done
    return 0
}
# request: one request of the test user in the background (tg_spawn's
# report and stderr); `wait $REQ` and tg_parse_report read it.
request() {
    tg_spawn "$TG_USER" -- "$TG_H" &
    REQ=$!
}

# The build must have the steps, or every case below would pass for the
# wrong reason.
tg_service_stop
tg_service_start TAPGATE_FAULT=after-acl:exit
tg_spawn "$TG_USER" -- "$TG_H"
if ! grep -q "fault injection: exit at after-acl" "$LOG"; then
    echo "not a fault-injection build ($TAPGATE_BUILD_ROOT): $TG_REPORT / $TG_ERR" >&2
    exit 1
fi

STEPS=(after-drop after-acl after-tap after-attach after-send)
for step in "${STEPS[@]}"; do
    for sig in KILL TERM; do
        tg_service_stop
        tg_service_start "TAPGATE_FAULT=$step:hang"
        mark "$step"
        tg_syslog_new 0
        request
        held "$step"
        tg_service_stop "$sig"
        status=$TG_SERVICE_STATUS
        wait "$REQ"
        TG_RC=$?
        tg_parse_report
        [ "$TG_RC" = 0 ] || tg_problem "caller exit $TG_RC (124: a hang)"
        if [ "$step" = after-send ]; then
            tg_expect_grant
        else
            [ "${TG_R[exit]:-}" = 1 ] && [ "${TG_R[fd]:-}" = 0 ] || tg_problem "want a refusal"
            [ "$(tg_lines "$TG_ERR")" = 1 ] && [[ $TG_ERR == "tapgate: "* ]] ||
                tg_problem "want one 'tapgate: ' line"
        fi
        said=${TG_ERR#tapgate: }
        # The service never logged the request it did not finish: the
        # tapgate that asked logs the refusal.
        if [ "$step" != after-send ]; then
            tg_syslog_new 1
            [[ $TG_NEW == *"refused: user=? uid=$TG_UID pid="[0-9]*" via=unprivileged bridge=br0 reason=\"${said:0:40}"* ]] ||
                tg_problem "audit line: $TG_NEW"
        fi
        [ "$sig" = TERM ] && [ "$status" != 0 ] && tg_problem "the service exited $status on SIGTERM, want 0"
        tg_wait 2 service_children_gone || tg_problem "a child of the killed service is still there"
        tg_taps
        for t in $TG_TAPS; do tg_gone "$t" || tg_problem "tap left: $t"; done
        # Started again without a fault: the same user's request under
        # quota 1 needs the lock and a free quota.
        tg_service_stop
        tg_service_start
        tg_spawn "$TG_USER" -- "$TG_H"
        tg_expect_grant
        tg_verdict "$step:hang, service SIG$sig: ${said:-the caller has its tap}; nothing left, lock free, restarted it serves"
    done
done

# A child killed (by its caller, who may) while it holds the quota lock:
# after-tap is inside it. The next child of the same user takes the lock
# and gets as far as after-tap too, while the service runs on.
tg_service_stop
tg_service_start TAPGATE_FAULT=after-tap:hang
mark after-tap
request
held after-tap
tg_service_children
tg_as "$TG_USER" kill -KILL $TG_SERVICE_CHILDREN
wait "$REQ"
tg_parse_report
[ "${TG_R[exit]:-}" = 1 ] && [ "${TG_R[fd]:-}" = 0 ] || tg_problem "the first request: $TG_REPORT"
request
held after-tap 2
tg_service_children
kill -KILL $TG_SERVICE_CHILDREN
wait "$REQ"
kill -0 "$TG_SERVICE_PID" || tg_problem "the service is gone"
tg_verdict "a child killed holding the quota lock: the next request of that user takes it"

# A child that has answered is still there a moment before it exits and
# the service reaps it, while its caller may already ask again (8 QEMUs of
# one user starting VMs one after the other). answered:hang holds every
# child in that moment: 8 requests of one user each get a tap, and a 9th
# must not be told that the user has 8 in flight.
tg_conf
tg_service_stop
tg_service_start TAPGATE_FAULT=answered:hang
mark answered
reqs=()
for i in 1 2 3 4 5 6 7 8; do
    tg_as "$TG_USER" "$TG_SPAWN" -- "$TG_H" > "$TG_ROOT/scratch/answered$i" 2>&1 &
    reqs+=($!)
done
wait "${reqs[@]}"
for i in 1 2 3 4 5 6 7 8; do
    grep -q '^exit=0 .* fd=1 ' "$TG_ROOT/scratch/answered$i" ||
        tg_problem "request $i: $(head -c 300 "$TG_ROOT/scratch/answered$i")"
done
held answered 8
tg_spawn "$TG_USER" -- "$TG_H"
tg_expect_grant
tg_verdict "8 children that have answered but not exited: the same user's 9th request is served"

tg_service_stop
tg_service_start
tg_spawn "$TG_USER" -- "$TG_H"
tg_expect_grant
tg_expect_nothing_left
tg_verdict "nothing left behind, and the service serves"
tg_note "service walk: ${SECONDS}s"
tg_done
