#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The service (tapgated) itself, started by tg_service_start from the
# build's units as systemd would start it: callers that cannot use the
# setuid helper (no_new_privs, a plain 0755 install, root in a user
# namespace) get their tap through it with the same decisions, lines and
# audit records; without it they are told why and what to start; who asks
# is the kernel's word (a user namespace's owner, never its subordinate
# uids); quotas are one count over both paths; and the unit's sandboxing
# stays where systemd-analyze puts it.
#
# Env (meson sets them): TAPGATE_BUILD_ROOT, TG_SPAWN, PYTHON.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/../lib/tg.sh"
tg_start "$@"
SCR=$TG_ROOT/scratch
UNITS=${TAPGATE_BUILD_ROOT:-}/helper
A=/etc/qemu/bridge.conf

# --- the unit, before anything runs ---------------------------------------------
# systemd-analyze reads a copy (it wants the unit file on its own); the
# exposure score is printed in full and must stay at most 3.0, as the
# unit's comment explains it.
mkdir -p "$TG_ROOT/units"
cp "$UNITS/tapgate.service" "$UNITS/tapgate.socket" "$TG_ROOT/units/"
sec=$(systemd-analyze security --offline=yes --root=/ "$TG_ROOT/units/tapgate.service" 2>&1)
tg_note "systemd-analyze security --offline=yes tapgate.service:" "$sec"
score=$(sed -n 's/.*Overall exposure level for tapgate.service: \([0-9.]*\).*/\1/p' <<< "$sec")
if [ -z "$score" ]; then
    tg_fail "systemd-analyze security gave no exposure level"
else
    tg_check "systemd-analyze security: exposure $score, at most 3.0" awk -v s="$score" 'BEGIN { exit !(s <= 3.0) }'
fi
# verify: the only complaint allowed is the binary that is not installed
# here (tg_service_start lays it over the libexecdir later, in this test's
# mount namespace only); --man=no: neither are the man pages.
exec_path=$(sed -n 's/^ExecStart=//p' "$UNITS/tapgate.service")
out=$(cd "$TG_ROOT/units" && systemd-analyze verify --man=no tapgate.service tapgate.socket 2>&1)
other=$(grep -vF "Command ${exec_path%% *} is not executable: No such file or directory" <<< "$out")
[ -n "$out" ] && tg_note "systemd-analyze verify:" "$out"
tg_check "systemd-analyze verify: no complaint but the binary not installed here" [ -z "$other" ]

# --- the helper as a user has it ------------------------------------------------
TG_VIA=service tg_helper
SUID=$(tg_setuid_copy "$TG_HELPER_SRC" tapgate-suid)
NNP=(/usr/bin/setpriv --no-new-privs -- "$SUID")
tg_bridge br0
tg_bridge br1
tg_syslog_start

# The socket as the unit says: SocketMode, SocketUser, SocketGroup, and
# the directory's DirectoryMode.
unit() { sed -n "s/^$1=0*//p" "$UNITS/tapgate.socket"; }
want="$(unit SocketMode) $(unit SocketUser) $(unit SocketGroup)"
got=$(stat -c '%a %U %G' "$TG_SERVICE_SOCKET")
tg_check "the socket is \"$got\" (SocketMode, SocketUser, SocketGroup: \"$want\")" [ "$got" = "$want" ]
want=$(unit DirectoryMode)
got=$(stat -c %a "${TG_SERVICE_SOCKET%/*}")
tg_check "its directory has the unit's DirectoryMode ($want)" [ "$got" = "$want" ]

# served USER UID [tg-spawn options] -- HELPER...: one request held open
# (tg_hold): a tap on the bridge whose alias names UID, whose tun owner is
# UID, and whose audit line says via=service with the pid of the tapgate
# that asked.
served() {
    local user=$1 uid=$2 tap alias owner
    shift 2
    rm -f "$SCR/hpid"
    tg_hold "$user" --pid-file "$SCR/hpid" "$@"
    tg_expect_grant
    tap=${TG_R[ifname]:-none}
    [ -e "/sys/class/net/br0/brif/$tap" ] || tg_problem "$tap is not on br0"
    alias=$(tg_read "/sys/class/net/$tap/ifalias" 2> /dev/null)
    [[ "$alias " == "tapgate uid=$uid "* ]] || tg_problem "alias \"$alias\", want \"tapgate uid=$uid ...\""
    owner=$(tg_read "/sys/class/net/$tap/owner" 2> /dev/null)
    [ "$owner" = "$uid" ] || tg_problem "tun owner $owner, want $uid"
    tg_syslog_new 1
    [[ $TG_NEW == *"granted: user=$user uid=$uid pid=$(tg_read "$SCR/hpid") via=service bridge=br0 tap=$tap rule=$A:1" ]] ||
        tg_problem "audit line: $TG_NEW"
    tg_release
}

tg_acl "allow br0" "deny br1 user $TG_USER"
served "$TG_USER" "$TG_UID" -- "${NNP[@]}"
tg_verdict "a 4755 copy under no_new_privs: a tap through the service (alias, tun owner, via=service)"
served "$TG_ALICE" "$TG_ALICE_UID" -- "$TG_H"
tg_verdict "a plain 0755 copy: a tap through the service (alias, tun owner, via=service)"

# A refusal is the setuid path's one line, word for word.
for br in br1 brnone; do
    tg_spawn "$TG_USER" --br $br -- "$SUID"
    setuid=$TG_ERR
    tg_spawn "$TG_USER" --br $br -- "${NNP[@]}"
    [ "$TG_ERR" = "$setuid" ] || tg_problem "service: \"$TG_ERR\", setuid: \"$setuid\""
    [ "$(tg_lines "$TG_ERR")" = 1 ] && [ "${TG_R[exit]:-}" = 1 ] && [ "${TG_R[fd]:-}" = 0 ] ||
        tg_problem "not one clean refusal: $TG_REPORT"
    tg_verdict "--br=$br refused through the service with the setuid path's line: $setuid"
done

# --explain: the service answers, and says so above what the setuid copy
# prints.
tg_run "$TG_USER" --explain --br=br1
svc_out=$TG_OUT svc_rc=$TG_RC
TG_H=$SUID tg_run "$TG_USER" --explain --br=br1
[ "$(head -n 1 <<< "$svc_out")" = "answered by the tapgate service" ] || tg_problem "first line: $svc_out"
[ "$(tail -n +2 <<< "$svc_out")" = "$TG_OUT" ] || tg_problem "service: $svc_out"$'\n'"setuid: $TG_OUT"
[ "$svc_rc" = "$TG_RC" ] && [ "$svc_rc" = 1 ] || tg_problem "exit $svc_rc (setuid $TG_RC), want 1"
tg_verdict "--explain through the service: \"answered by the tapgate service\", then the setuid copy's text"

# --- without the service ------------------------------------------------------------
tg_service_stop
tg_syslog_new 0
tg_spawn "$TG_USER" -- "${NNP[@]}"
tg_expect_refusal "cannot create a tap device: no_new_privs is set, so the kernel ignores tapgate's setuid bit; the tapgate service can serve such callers: systemctl start tapgate.socket"
[ "$(tg_lines "$TG_ERR")" = 1 ] || tg_problem "not one line"
# No privilege served it, and no service: neither front-end's name.
tg_syslog_new 1
[[ $TG_NEW == *"refused: user=? uid=$TG_UID pid="[0-9]*" via=unprivileged bridge=br0 reason=\"cannot create a tap device: no_new_privs is set"* ]] ||
    tg_problem "audit line: $TG_NEW"
tg_verdict "no service: a copy under no_new_privs says so and names tapgate.socket; logged via=unprivileged"
tg_spawn "$TG_USER" -- "$TG_H"
tg_expect_refusal "cannot create a tap device: tapgate has no CAP_NET_ADMIN (install it setuid root or with cap_net_admin+ep); the tapgate service can serve such callers: systemctl start tapgate.socket"
[ "$(tg_lines "$TG_ERR")" = 1 ] || tg_problem "not one line"
tg_verdict "no service: a plain copy names the missing capability and tapgate.socket"
rm -f "$TG_SERVICE_SOCKET"
tg_spawn "$TG_USER" -- "$TG_H"
tg_expect_refusal "tapgate has no CAP_NET_ADMIN"
tg_verdict "no socket file at all: the same refusal"
tg_service_start

# --- who asks ---------------------------------------------------------------------------
# Root in a user namespace the user made (unshare -r): its capabilities do
# not reach the host's network, so tapgate asks the service, which serves
# the user who made the namespace; a deny for that user applies.
served "$TG_USER" "$TG_UID" -- /usr/bin/unshare -r -- "$TG_H"
tg_verdict "root inside unshare -r (made by $TG_USER): served as $TG_USER"
tg_spawn "$TG_USER" --br br1 -- /usr/bin/unshare -r -- "$TG_H"
tg_expect_refusal "access to bridge br1 denied by $A:2 (deny br1 user $TG_USER)"
tg_verdict "root inside unshare -r: a deny for $TG_USER applies"

# A subordinate uid: tguser's user namespace with the map newuidmap would
# write for "tguser:100000:65536" in /etc/subuid, written by root from
# outside; the request comes from uid 1 inside, 100000 outside. The
# namespace's process waits on a FIFO until its maps are written.
subordinate() {
    local pid i ns
    rm -f "$SCR/go"
    mkfifo -m 0666 "$SCR/go"
    setpriv --reuid="$TG_USER" --regid="$TG_USER" --init-groups -- unshare -U -- /bin/sh -c \
        'read -r go < "$1" && exec setpriv --reuid=1 --regid=1 --clear-groups -- "$2" -- "$3"' \
        sh "$SCR/go" "$TG_SPAWN" "$TG_H" > "$TG_ROOT/report" 2> "$TG_ROOT/stderr" < /dev/null &
    pid=$!
    ns=$(readlink /proc/self/ns/user)
    for ((i = 0; i < 500; i++)); do
        [ "$(readlink "/proc/$pid/ns/user" 2> /dev/null)" != "$ns" ] && break
        sleep 0.01
    done
    # A map is written in one write(): bash's printf would write a line at
    # a time; cat writes the file's few bytes at once.
    printf '0 %s 1\n1 100000 65536\n' "$TG_UID" > "$SCR/map"
    cat "$SCR/map" > "/proc/$pid/uid_map"
    cat "$SCR/map" > "/proc/$pid/gid_map"
    echo go > "$SCR/go"
    wait "$pid"
    TG_RC=$?
    tg_parse_report
}
subordinate
# The kernel refuses the service's look into a namespace whose owner the
# asking uid is not (the line then says so, with the possible reasons),
# or lets it see the owner (the line names it): either line will do.
tg_expect_refusal "subordinate uid"
[[ $TG_ERR == *"uid 100000 "* ]] || tg_problem "the line does not name uid 100000"
tg_note "    line: $TG_ERR"
[ "$(tg_lines "$TG_ERR")" = 1 ] || tg_problem "not one line"
tg_verdict "a subordinate uid (100000 of $TG_USER's namespace) is refused, the line says why"

# --- one quota over both paths ------------------------------------------------------
tg_conf "[bridge br0]" "quota = 1"
tg_hold "$TG_USER" -- "$SUID"; tg_expect_grant
tg_hold "$TG_USER" -- "$TG_H"; tg_expect_refusal "quota reached: $TG_USER holds 1 of 1 taps allowed on bridge br0"
tg_release
tg_verdict "quota 1: a tap from the setuid path refuses one through the service"
tg_hold "$TG_USER" -- "$TG_H"; tg_expect_grant
tg_hold "$TG_USER" -- "$SUID"; tg_expect_refusal "quota reached: $TG_USER holds 1 of 1 taps allowed on bridge br0"
tg_release
tg_verdict "quota 1: a tap through the service refuses one from the setuid path"

# 8 requests of one user at once, straight to the socket, each holding its
# tap: exactly one granted, five rounds.
CLIENT="${PYTHON:-python3} $(tg_user_tool "$here/client.py")"
for round in 1 2 3 4 5; do
    out=$(tg_as "$TG_USER" $CLIENT --connections 8 --hold 0.3 "$TG_SERVICE_SOCKET")
    ok=$(grep -c '^reply=ok fds=1 ' <<< "$out")
    quota=$(grep -c "^reply=refused .*text=quota reached: $TG_USER holds 1 of 1" <<< "$out")
    [ "$ok" = 1 ] && [ "$quota" = 7 ] || tg_problem "round $round: $ok granted, $quota quota refusals: $out"
done
tg_expect_nothing_left
tg_verdict "quota 1, 8 concurrent requests of one user through the service, 5 rounds: exactly one tap each"
tg_conf

tg_service_idle || tg_problem "children left: $TG_SERVICE_CHILDREN"
tg_expect_nothing_left
tg_verdict "nothing left behind"
tg_elapsed
tg_done
