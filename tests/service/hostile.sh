#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Hostile clients of the service: local users who speak to its socket
# directly (client.py) with garbage, over-long, truncated or silent
# requests, file descriptors attached, floods of connections, a stopped
# child, a reply never read. Each must get a refusal (or its tap) or be
# closed in bounded time, and after each case the service is as before:
# no tap left, no child left, no more fds than at the start, no crash in
# its log, and it still grants a good request through tapgate.
#
# Env (meson sets them): TAPGATE_BUILD_ROOT, TG_SPAWN, PYTHON.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/../lib/tg.sh"
tg_start "$@"
# strace delays a send in the flood case.
STRACE=/usr/bin/strace
[ -x "$STRACE" ] || tg_missing "strace is not installed (Debian package strace)"
TG_VIA=service tg_helper
SCR=$TG_ROOT/scratch
CLIENT="${PYTHON:-python3} $(tg_user_tool "$here/client.py")"
tg_bridge br0
tg_acl "allow br0"
tg_syslog_start

# client USER [client.py options]: one run of client.py against the socket
# as USER; its lines in OUT.
client() {
    local user=$1
    shift
    OUT=$(tg_as "$user" $CLIENT "$@" "$TG_SERVICE_SOCKET" 2> "$SCR/client.err")
    [ -s "$SCR/client.err" ] && tg_problem "client.py: $(head -c 300 "$SCR/client.err")"
}
# expect_reply ERE: OUT is one line that matches ERE.
expect_reply() {
    [ "$(tg_lines "$OUT")" = 1 ] && [[ $OUT =~ $1 ]] || tg_problem "reply: $OUT (want /$1/)"
}

# The first request makes systemd-socket-activate exec tapgated; from then
# on its fds are the baseline.
tg_spawn "$TG_USER" -- "$TG_H"
tg_expect_grant
tg_service_fds
FDS0=$TG_SERVICE_FDS
tg_verdict "the service grants a good request; it holds $FDS0 fds"

# after DESC: closes a case with the checks every case shares.
after() {
    local t
    tg_service_idle 3 || tg_problem "children of the service left: $TG_SERVICE_CHILDREN"
    tg_taps
    for t in $TG_TAPS; do tg_gone "$t" || tg_problem "tap left: $t"; done
    tg_service_fds
    [ "$TG_SERVICE_FDS" = "$FDS0" ] || tg_problem "the service holds $TG_SERVICE_FDS fds, $FDS0 at the start"
    kill -0 "$TG_SERVICE_PID" 2> /dev/null || tg_problem "the service is gone"
    grep -E 'internal error|Sanitizer|runtime error|terminate called|Segmentation|Aborted|core dumped|stack smashing' \
        "$TG_ROOT/service.log" && tg_problem "a crash in service.log"
    tg_spawn "$TG_USER" -- "$TG_H"
    tg_expect_grant
    tg_verdict "$1"
}

# --- what comes over the socket ------------------------------------------------------
client "$TG_USER" --send 'GET / HTTP/1.0\r\n\r\n'
expect_reply '^reply=refused .*text=malformed request "GET / HTTP/1.0'
after "garbage (an HTTP request): refused as malformed"
client "$TG_USER" --send-hex 00ff7f1b5b324a0a
expect_reply '^reply=refused .*text=malformed request'
after "binary garbage with NUL and an escape sequence: refused as malformed"
client "$TG_USER" --send x --repeat 100000
expect_reply '^reply=refused .*text=request longer than 64 bytes'
after "100000 bytes without a newline: refused as too long"
client "$TG_USER" --send "tapgate/1 tap vnet $(printf 'b%.0s' {1..60})\n"
expect_reply '^reply=refused .*text=request longer than 64 bytes'
after "a request line of 80 bytes: refused as too long"
client "$TG_USER" --send 'tapgate/1 tap vnet br' --close
expect_reply '^reply=closed$'
after "a truncated request, then the client closes"
client "$TG_USER" --send 'tapgate/1 tap vnet br'
expect_reply '^reply=refused ms=(19|2[0-9])[0-9]{2} text=nothing came in time$'
after "a truncated request, then silence: refused after about 2 s"
client "$TG_USER" --fds 250 --fd-messages 4
expect_reply '^reply=refused .*text=malformed request: it came with file descriptors$'
after "a request with 1000 fds attached (SCM_RIGHTS, 4 messages of 250): refused"
client "$TG_USER" --send 'tapgate/1 explain br0\n' --fds 1
expect_reply '^reply=refused .*text=malformed request: it came with file descriptors$'
after "an --explain with an fd attached: refused"

# --- floods ----------------------------------------------------------------------------
# children N: waits (5 s) until the service has N children.
children() {
    local i c
    for ((i = 0; i < 500; i++)); do
        tg_service_children
        read -ra c <<< "$TG_SERVICE_CHILDREN"
        [ ${#c[@]} = "$1" ] && return 0
        sleep 0.01
    done
    tg_problem "the service has ${#c[@]} children, want $1"
}
# 8 silent connections fill a user's share for the 2 s the service gives
# a request; meanwhile the 9th request, through tapgate, is refused at once
# and another user is served. flood CASE COMMAND...: one such round, the
# command run while the share is full; the 8 are refused in the end.
BUSY="the tapgate service is serving 8 requests of yours already; try again when they are done"
flood() {
    local desc=$1 pid n took
    shift
    tg_as "$TG_USER" $CLIENT --connections 8 --nothing --timeout 10 "$TG_SERVICE_SOCKET" > "$SCR/flood" &
    pid=$!
    children 8
    tg_clock_start
    "$@"
    took=$(tg_ms)
    # Well inside the 2 s, or the share was free again by the end.
    [ "${took% ms}" -lt 1500 ] || tg_problem "took $took"
    wait "$pid"
    n=$(grep -c '^reply=refused ms=[0-9]* text=nothing came in time$' "$SCR/flood")
    [ "$n" = 8 ] || tg_problem "the 8 silent ones: $(cat "$SCR/flood")"
    after "8 silent connections of one user: $desc"
}
ninth() {
    tg_syslog_new 0
    tg_spawn "$TG_USER" -- "$@"
    tg_expect_refusal "$BUSY"
    [ "$(tg_lines "$TG_ERR")" = 1 ] || tg_problem "not one line"
    # The service turned it away unlogged; the tapgate that asked logs it.
    tg_syslog_new 1
    [[ $TG_NEW == *"refused: user=? uid=$TG_UID pid="[0-9]*" via=unprivileged bridge=br0 reason=\"$BUSY\""* ]] ||
        tg_problem "audit line: $TG_NEW"
}
ninth_and_alice() {
    ninth "$TG_H"
    tg_spawn "$TG_ALICE" -- "$TG_H"
    tg_expect_grant
}
flood "a 9th request refused at once, another user served" ninth_and_alice
# Its request sent late (strace delays tapgate's first sendmsg by 0.3 s):
# the service has turned it away and closed by then, and the refusal
# waits in tapgate's socket all the same.
flood "a 9th request sent late: the same refusal" \
    ninth "$STRACE" -qq -o /dev/null -e inject=sendmsg:delay_enter=300000:when=1 -- "$TG_H"

# 200 clients at once, 8 from each of 25 users: every one gets its tap,
# none waits past the limit (those beyond the service's 64 children wait
# in the backlog), and nothing stays.
users=
for ((i = 0; i < 25; i++)); do
    tg_add_user "tgsvc$i" $((4400 + i))
    users+="${users:+,}$((4400 + i)):$((4400 + i))"
done
tg_clock_start
OUT=$($CLIENT --users "$users" --connections 8 --timeout 40 "$TG_SERVICE_SOCKET" 2> "$SCR/client.err")
took=$(tg_ms)
n=$(grep -c '^reply=ok fds=1 tap=tap' <<< "$OUT")
[ "$n" = 200 ] || tg_problem "$n of 200 got a tap: $(grep -v '^reply=ok fds=1 ' <<< "$OUT" | sort | uniq -c | head -n 5)"
[ -s "$SCR/client.err" ] && tg_problem "client.py: $(head -c 300 "$SCR/client.err")"
tg_note "    200 clients: $took"
after "200 clients at once from 25 users: 200 taps, none hung, nothing left"

# --- clients that hold on --------------------------------------------------------------
client "$TG_USER" --nothing
expect_reply '^reply=refused ms=(19|2[0-9])[0-9]{2} text=nothing came in time$'
tg_service_idle 0.5 || tg_problem "its slot is still taken: $TG_SERVICE_CHILDREN"
after "a client that sends nothing: refused after about 2 s, its slot freed"

# The child serving a request runs as its caller, who may stop it: it is
# ended at once, not after the 2 s a request may take.
tg_as "$TG_USER" $CLIENT --nothing --ready --timeout 10 "$TG_SERVICE_SOCKET" > "$SCR/stopped" &
pid=$!
children 1
tg_as "$TG_USER" kill -STOP $TG_SERVICE_CHILDREN
tg_service_idle 1 || tg_problem "the stopped child is still there"
wait "$pid"
OUT=$(grep -v '^connected$' "$SCR/stopped")
expect_reply '^reply=eof ms=(1[0-4][0-9]{2}|[0-9]{1,3})$'
grep -q "tapgated: a request of uid $TG_UID was stopped: ended" "$TG_ROOT/service.log" ||
    tg_problem "service.log does not say the stopped request was ended"
after "a client that stops its own child: the child is ended at once, the client sees the end"

# A client that never reads its reply: the child does not wait for it, and
# the tap in the unread reply goes when the client closes.
tg_as "$TG_USER" $CLIENT --no-read --hold 2 "$TG_SERVICE_SOCKET" > "$SCR/unread" &
pid=$!
sleep 0.5
tg_service_idle 1 || tg_problem "a child waits for the client"
wait "$pid"
[ "$(cat "$SCR/unread")" = reply=unread ] || tg_problem "client: $(cat "$SCR/unread")"
after "a client that never reads its reply: the child is done at once, no tap after it closes"

tg_elapsed
tg_done
