#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The audit line: one syslog message per grant and per refusal, with user,
# uid, the caller's pid, bridge, tap, the deciding rule's file:line or the
# reason; facility authpriv (or as configured), none with syslog = no, and
# nothing the caller's environment can change.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/../lib/tg.sh"
tg_start "$@"
tg_helper
shopt -s extglob
tg_bridge br0
tg_bridge br1
A=/etc/qemu/bridge.conf

tg_syslog_start

# Through the service (TG_VIA=service) the line says via=service, and its
# pid is that of the tapgate that asked the service (tg-spawn's child),
# not tg-spawn's: VIA and CALLER say what a served request's line carries.
# Refusals that tapgate makes itself before it asks (a malformed command
# line, a bad --fd) say via=unprivileged there: no privilege was used.
VIA=setuid SELF=setuid
tg_via_service && VIA=service SELF=unprivileged

# logged PRI BODY: the one new line is "<PRI>Mmm dd hh:mm:ss tapgate[N]: BODY".
logged() {
    tg_syslog_new 1
    local re="^<$1>[A-Z][a-z]{2} [ 1-3][0-9] [0-9]{2}:[0-9]{2}:[0-9]{2} tapgate\[([0-9]+)\]: (.*)\$"
    if [ -z "$TG_NEW" ]; then
        tg_problem "no syslog line"
    elif [[ $TG_NEW == *$'\n'* ]]; then
        tg_problem "more than one line: $TG_NEW"
    elif ! [[ $TG_NEW =~ $re ]]; then
        tg_problem "not a <$1> tapgate line: $TG_NEW"
    elif [ "${BASH_REMATCH[2]}" != "$2" ]; then
        tg_problem "line:  ${BASH_REMATCH[2]}"
        tg_problem "want:  $2"
    elif [ "${BASH_REMATCH[1]}" = "$SPID" ] || [ "${BASH_REMATCH[1]}" = "$CALLER" ]; then
        tg_problem "tapgate[N] is the caller's pid, not the helper's"
    fi
}

# req USER [tg-spawn options]: one request; the tap (if any) held until
# tg_release; SPID = tg-spawn's pid (setpriv execs it), CALLER = the pid
# the line must name.
req() {
    rm -f "$TG_ROOT/scratch/hpid"
    tg_hold "$@" --pid-file "$TG_ROOT/scratch/hpid" -- "$TG_H"
    SPID=$TG_HOLD_PID
    CALLER=$SPID
    tg_via_service && CALLER=$(tg_read "$TG_ROOT/scratch/hpid")
}

tg_acl "allow br0 group tglab" "deny br0 user tgbob" "allow br1"
req tgalice; tg_expect_grant
logged 86 "granted: user=tgalice uid=$TG_ALICE_UID pid=$CALLER via=$VIA bridge=br0 tap=${TG_R[ifname]:-?} rule=$A:1"
tg_verdict "grant: <86> (authpriv.info), user, uid, caller's pid, bridge, tap, rule"
req tgbob; tg_expect_refusal "denied by $A:2"
logged 85 "refused: user=tgbob uid=$TG_BOB_UID pid=$CALLER via=$VIA bridge=br0 rule=$A:2 reason=\"access to bridge br0 denied by $A:2 (deny br0 user tgbob)\""
tg_verdict "refusal by a rule: <85> (authpriv.notice) with the rule and the reason"
req tguser; tg_expect_refusal "no rule"
logged 85 "refused: user=tguser uid=$TG_UID pid=$CALLER via=$VIA bridge=br0 reason=\"access to bridge br0 denied: no rule in $A allows it\""
tg_verdict "refusal by default deny: no rule field, the reason"
tg_acl "allow all"
req tguser --br brnone; tg_expect_refusal "does not exist"
logged 85 "refused: user=tguser uid=$TG_UID pid=$CALLER via=$VIA bridge=brnone rule=$A:1 reason=\"bridge brnone does not exist\""
tg_verdict "refusal after the ACL (no such bridge) keeps the allowing rule"
tg_conf "[bridge br1]" "quota = 1"
req tgalice --br br1; tg_expect_grant
tap=${TG_R[ifname]:-?}
logged 86 "granted: user=tgalice uid=$TG_ALICE_UID pid=$CALLER via=$VIA bridge=br1 tap=$tap rule=$A:1"
req tgalice --br br1; tg_expect_refusal "quota reached"
logged 85 "refused: user=tgalice uid=$TG_ALICE_UID pid=$CALLER via=$VIA bridge=br1 rule=$A:1 reason=\"quota reached: tgalice holds 1 of 1 taps allowed on bridge br1 (/etc/tapgate.conf:2)\""
tg_verdict "quota refusal: the reason names the quota and where it is set"
tg_release
tg_conf "[bridge br1]" "vlan = 30"
req tgbob --br br1; tg_expect_refusal "VLAN filtering off"
logged 85 "refused: user=tgbob uid=$TG_BOB_UID pid=$CALLER via=$VIA bridge=br1 vlan=30 rule=$A:1 reason=\"tapgate.conf sets vlan 30 for bridge br1, which has VLAN filtering off (ip link set br1 type bridge vlan_filtering 1)\""
tg_verdict "vlan refusal: the line carries vlan=30"
# A guest MAC range comes after the rule; without tc flower (this host) the
# request is refused once the tap exists, so the line names it too.
tg_conf "[bridge br1]" "guest_mac = 52:54:00:12:34:00/40"
req tgbob --br br1
tg_syslog_new 1
re="^<8[56]>.*: (granted|refused): user=tgbob uid=$TG_BOB_UID pid=$CALLER via=$VIA bridge=br1 tap=[^ ]+ "
re+="rule=$A:1 guest_mac=52:54:00:12:34:00/40( reason=\"guest_mac needs [^\"]*\")?\$"
[[ $TG_NEW =~ $re ]] || tg_problem "line: $TG_NEW"
tg_note "    $TG_NEW"
tg_verdict "guest_mac: the line carries the range after the rule"
tg_release
# A refusal for a broken tapgate.conf is logged too.
tg_conf "[bridge br1]" "quota = many"
req tgbob --br br1; tg_expect_refusal "settings error"
tg_syslog_new 1
# The caller is looked up before the settings' errors are reported, so the
# line names the user; quotes in the reason are escaped, not lost.
[[ $TG_NEW == "<85>"*"refused: user=tgbob uid=$TG_BOB_UID pid=$CALLER via=$VIA bridge=br1 reason=\"settings error: /etc/tapgate.conf:2: quota = \\x22many\\x22"* ]] ||
    tg_problem "line: $TG_NEW"
tg_verdict "settings error: one refusal line naming tapgate.conf:2"
tg_release

# --- facility and on/off ------------------------------------------------------
tg_conf "[global]" "syslog = no"
req tgalice; tg_expect_grant
req tguser --br brnone; tg_expect_refusal "does not exist"
tg_release
# Datagrams arrive in order: if the next line is the marker's, nothing came
# from the two requests above.
tg_conf
req tgbob --br br1; tg_expect_grant
tg_syslog_new 1
[[ $TG_NEW == *"granted: user=tgbob "* && $TG_NEW != *$'\n'* ]] || tg_problem "lines: $TG_NEW"
tg_verdict "syslog = no: neither a grant nor a refusal is logged"
# Refusals that come before the request is looked at (a bad --fd, a
# malformed command line) follow tapgate.conf as well.
tg_conf "[global]" "syslog = no"
tg_spawn tguser --fd-kind pipe -- "$TG_H"; tg_expect_refusal "not a socket"
tg_spawn tguser -- "$TG_H" --bogus; tg_expect_refusal "unknown option"
# A file with errors elsewhere still means what its syslog key says.
tg_conf "[global]" "syslog = no" "[bridge br0]" "quota = many"
req tgalice; tg_expect_refusal "settings error"
tg_conf
req tgbob --br br1; tg_expect_grant
tg_syslog_new 1
[[ $TG_NEW == *"granted: user=tgbob "* && $TG_NEW != *$'\n'* ]] || tg_problem "lines: $TG_NEW"
tg_verdict "syslog = no: no line for a bad --fd, a bad command line, or a file with other errors"
tg_release
tg_spawn tguser -- "$TG_H" --bogus; tg_expect_refusal "unknown option"
logged 85 "refused: user=? uid=$TG_UID pid=? via=$SELF bridge=? reason=\"unknown option \x22--bogus\x22 (see tapgate --help)\""
tg_verdict "a malformed command line is logged as a refusal"
tg_release
tg_conf "[global]" "syslog_facility = local3"
req tgalice; tg_expect_grant
logged 158 "granted: user=tgalice uid=$TG_ALICE_UID pid=$CALLER via=$VIA bridge=br0 tap=${TG_R[ifname]:-?} rule=$A:1"
req tgalice --br brnone; tg_expect_refusal "does not exist"
logged 157 "refused: user=tgalice uid=$TG_ALICE_UID pid=$CALLER via=$VIA bridge=brnone rule=$A:1 reason=\"bridge brnone does not exist\""
tg_spawn tguser --fd-kind pipe --fd-num 7 -- "$TG_H"; tg_expect_refusal "not a socket"
logged 157 "refused: user=? uid=$TG_UID pid=? via=$SELF bridge=br0 reason=\"--fd=7: not a socket\""
tg_verdict "syslog_facility = local3: <158> for a grant, <157> for a refusal, a bad --fd too"
# A helper that cannot give up its privileges does not read tapgate.conf
# with them: its refusal goes out with the defaults, whatever the file says.
# (A seccomp filter makes PR_SET_DUMPABLE fail; that takes root.)
tg_conf "[global]" "syslog = no" "syslog_facility = local3"
tg_spawn root --fail prctl-dumpable -- "$TG_H"; tg_expect_refusal "privilege drop failed"
logged 85 "refused: user=? uid=0 pid=? via=setuid bridge=br0 reason=\"privilege drop failed: cannot make the process non-dumpable: Invalid argument\""
tg_verdict "a failed privilege drop is logged with the defaults (authpriv), not as tapgate.conf says"
tg_conf
tg_release
tg_conf

# --- syslog = required ---------------------------------------------------------
# A grant that cannot be logged is refused, and nothing is left; with the
# default (yes) it is granted as before. No logger: /dev/log moved away.
tg_conf "[global]" "syslog = required"
req tgalice; tg_expect_grant
logged 86 "granted: user=tgalice uid=$TG_ALICE_UID pid=$CALLER via=$VIA bridge=br0 tap=${TG_R[ifname]:-?} rule=$A:1"
tg_release
tg_verdict "syslog = required, the logger listening: granted and logged"
mv /dev/log /dev/log.away
tg_state_baseline
tg_spawn tgalice -- "$TG_H"
tg_expect_refusal "the audit log is required (syslog = required) and the grant could not be logged: /dev/log: No such file or directory"
tg_verdict "syslog = required, no logger: refused, nothing left"
tg_run tgalice --explain --br=br0
tg_expect_rc 1
[[ $TG_OUT == *"a request would be refused: the audit log is required (syslog = required) and the grant could not be logged: /dev/log: No such file or directory"* ]] ||
    tg_problem "--explain: $TG_OUT"
tg_verdict "--explain says so"
tg_conf
tg_spawn tgalice -- "$TG_H"; tg_expect_grant
tg_verdict "syslog = yes, no logger: granted (the default keeps its meaning)"
mv /dev/log.away /dev/log
# A logger that stopped reading: its queue full, a send would block. The
# helper waits 2 s at most, then refuses (required) or grants (yes).
full=/dev/log.full  # a rename, not a copy: the same filesystem as /dev/log
exec {stuck}< <(exec setpriv --pdeathsig TERM -- "${PYTHON:-python3}" -c '
import signal, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.bind(sys.argv[1])
c = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); c.setblocking(False)
try:
    while True: c.sendto(b"x" * 1024, sys.argv[1])
except BlockingIOError:
    pass
print("full", flush=True)
signal.pause()' "$full")
stuck_pid=$!
read -r -t 10 -u "$stuck" line
[ "$line" = full ] || tg_problem "the stuck logger did not start"
mv /dev/log /dev/log.away
chmod 0666 "$full"
mv "$full" /dev/log
tg_conf "[global]" "syslog = required"
tg_spawn tgalice -- "$TG_H"
tg_expect_refusal "the grant could not be logged: /dev/log: Connection timed out"
tg_verdict "syslog = required, a logger that does not read: refused after the 2 s bound"
tg_conf
tg_spawn tgalice -- "$TG_H"; tg_expect_grant
tg_verdict "syslog = yes, a logger that does not read: granted after the 2 s bound, not hung"
rm /dev/log
mv /dev/log.away /dev/log
kill "$stuck_pid"
exec {stuck}<&-
req tgbob --br br1; tg_expect_grant
tg_syslog_new 1
[[ $TG_NEW == *"granted: user=tgbob "* && $TG_NEW != *$'\n'* ]] || tg_problem "lines: $TG_NEW"
tg_release
tg_verdict "the logger back: the next grant is logged"
TG_STATE0=

# --- the caller's environment changes nothing ---------------------------------
# TZ would move the timestamp; the helper clears the environment before it
# logs. Compare with the time as root (no TZ) sees it.
now=$(date '+%s')
TZ=XYZ+11 LANG=C.UTF-8 LOCALDOMAIN=evil LOG_PATH=/tmp/x req tgalice; tg_expect_grant
logged 86 "granted: user=tgalice uid=$TG_ALICE_UID pid=$CALLER via=$VIA bridge=br0 tap=${TG_R[ifname]:-?} rule=$A:1"
stamp=$(sed -E 's/^<[0-9]+>(.{15}).*/\1/' <<< "$TG_NEW")
t=$(date -d "$stamp" '+%s' 2> /dev/null || echo 0)
d=$((t - now))
[ ${d#-} -le 60 ] || tg_problem "timestamp $stamp is ${d}s off: TZ from the caller was used"
tg_verdict "TZ in the caller's environment does not shift the timestamp; the line still goes to /dev/log"
tg_release

# Non-helper modes (--check, --explain, --list) are not requests: they log
# nothing.
tg_as tgalice "$TG_H" --check > /dev/null 2>&1
tg_as tgalice "$TG_H" --explain --br=br0 > /dev/null 2>&1
tg_as tgalice "$TG_H" --list > /dev/null 2>&1
req tgalice; tg_expect_grant
tg_syslog_new 1
[[ $TG_NEW == *"granted: user=tgalice "* && $TG_NEW != *$'\n'* ]] || tg_problem "lines: $TG_NEW"
tg_verdict "--check, --explain, --list log nothing"
tg_release

tg_expect_nothing_left
tg_verdict "nothing left behind"
tg_elapsed
tg_done
