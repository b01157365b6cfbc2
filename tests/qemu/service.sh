#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Real QEMU whose helper cannot be setuid, through the ordinary helper=
# path: QEMU runs under no_new_privs, so the kernel ignores the setuid bit
# of the root-owned 4755 copy of tapgate it runs, which then asks the
# tapgate service (tapgated, started by tg_service_start as its units say)
# and hands the tap on to QEMU. -machine none with udpguest as the guest
# (tg_qemu_udp), as in fast.sh. Cases:
#   - under setpriv --no-new-privs: the tap comes from the service (its
#     alias, and the service's audit line says via=service), it is owned by
#     the test user, and frames cross both ways;
#   - inside bubblewrap (a user namespace, no_new_privs, the test's network
#     namespace shared): the same; skipped where unprivileged user
#     namespaces do not work;
#   - a bridge the ACL denies that user: QEMU fails with tapgate's one line;
#   - without the service: QEMU fails with tapgate's line naming
#     no_new_privs and how to start the service.
# Needs root (skipped otherwise).
. "$(dirname "$0")/../lib/tg.sh"
tg_require_root
tg_isolate "$@"
tg_qemu_init
# The service mode is tapgate's own: another helper (HELPER=) has none.
TG_VIA=setuid tg_helper bridge-helper
[ "${TG_HELPER_SRC##*/}" = tapgate ] || tg_skip "the service mode is tapgate's, not ${TG_HELPER_SRC##*/}'s"
tg_note "helper: $TG_HELPER_SRC as $TG_H (4755)"
# The audit lines of the service's children, which run as the caller.
LOG=$TG_ROOT/syslog
tg_syslog_start "$LOG"
tg_service_start

# A non-default MTU, so a tap that did not get the bridge's is caught.
tg_bridge br0 1400
ip addr add 10.0.0.1/24 dev br0
tg_acl "allow br0"

# logged REGEX: a line of the log matches (the service logs before it sends
# the tap, but the listener may not have written it yet).
logged() { tg_wait 3 grep -Eq -- "$1" "$LOG"; }

# served_case NAME GUEST-IP: QEMU (under TG_QEMU_UNDER) gets its tap from
# the service and uses it; the tap is gone once QEMU exits.
served_case() {
    local name=$1 pid uid nnp alias owner
    tg_note "--- $name: ${TG_QEMU_UNDER[*]} QEMU -netdev bridge,br=br0,helper=$TG_H"
    if ! tg_qemu_udp "$name" "bridge,id=n,br=br0,helper=$TG_H"; then
        tg_fail "$name: QEMU did not start"
        tg_qemu_err "$name"
        sed 's/^/    service: /' "$TG_ROOT/service.log" >&2
        return
    fi
    pid=$(tg_qemu_pid "$name")
    uid=$(tg_uid "$pid")
    nnp=$(tg_proc_status "$pid" NoNewPrivs)
    tg_check "$name: QEMU runs as uid $TG_UID under no_new_privs (uid '$uid', NoNewPrivs '$nnp')" \
        test "$uid" = "$TG_UID" -a "$nnp" = 1
    tg_qemu_one_tap "$name" br0
    if [ -n "$TG_QTAP" ]; then
        alias=$(tg_read "/sys/class/net/$TG_QTAP/ifalias")
        owner=$(tg_read "/sys/class/net/$TG_QTAP/owner")
        tg_check "$name: $TG_QTAP is tapgate's, for uid $TG_UID (alias '$alias')" eval '[[ "$alias " == "tapgate uid=$TG_UID "* ]]'
        tg_check "$name: $TG_QTAP is owned by the test user (owner '$owner')" [ "$owner" = "$TG_UID" ]
        tg_check "$name: the service made it (audit line via=service)" logged \
            "granted: user=$TG_USER uid=$TG_UID pid=[0-9]+ via=service bridge=br0 tap=$TG_QTAP "
    fi
    tg_qemu_ping "$name" br0 "$2" 10.0.0.1
    tg_qemu_stop "$name" || tg_fail "$name: QEMU would not exit"
    tg_check "$name: tap gone after QEMU exits" tg_wait 5 tg_no_taps
}

# refused_case NAME WANT: QEMU (under no_new_privs) fails, and its stderr
# has exactly one line of tapgate's, which is WANT.
refused_case() {
    local name=$1 lines
    if tg_qemu_start "$name" -machine none -netdev "bridge,id=n,br=br0,helper=$TG_H"; then
        tg_fail "$name: QEMU started"
        tg_qemu_stop "$name"
    else
        tg_qemu_err "$name"
        lines=$(grep '^tapgate: ' "$TG_QRUN/$name.err")
        tg_check "$name: QEMU's stderr has tapgate's one line" [ "$lines" = "tapgate: $2" ]
    fi
    tg_check "$name: QEMU is not running" tg_dead "$(tg_qemu_pid "$name")"
    tg_check "$name: no tap left" tg_no_taps
}

TG_QEMU_UNDER=(setpriv --no-new-privs --)
served_case nnp 10.0.0.2

# bubblewrap as a Flatpak application would meet it: a user namespace of
# its own and no_new_privs. Without --unshare-net it shares this test's
# network namespace (tg_isolate's), where br0 is.
bwrap_test=(bwrap --unshare-user --dev-bind / / --die-with-parent --)
if ! command -v bwrap > /dev/null; then
    if [ -n "${CI:-}" ]; then
        tg_fail "bwrap: not installed (bubblewrap; CI is set: this case must run)"
    else
        tg_skip_case "bwrap" "bwrap not installed (apt-get install bubblewrap)"
    fi
elif ! why=$(tg_as "$TG_USER" "${bwrap_test[@]}" true 2>&1); then
    tg_skip_case "bwrap" "$(bwrap --version): no unprivileged user namespace here: $why"
else
    tg_note "$(bwrap --version)"
    TG_QEMU_UNDER=("${bwrap_test[@]}")
    served_case bwrap 10.0.0.3
fi

TG_QEMU_UNDER=(setpriv --no-new-privs --)
tg_note "--- refused: the ACL denies br0 to $TG_USER"
tg_acl "allow br0" "deny br0 user $TG_USER"
refused_case denied "access to bridge br0 denied by /etc/qemu/bridge.conf:2 (deny br0 user $TG_USER)"
tg_check "denied: the service refused it (audit line via=service)" logged \
    "refused: user=$TG_USER uid=$TG_UID pid=[0-9]+ via=service bridge=br0 rule=/etc/qemu/bridge.conf:2 "

tg_note "--- no service"
tg_service_stop
tg_acl "allow br0"
refused_case no-service "cannot create a tap device: no_new_privs is set, so the kernel ignores tapgate's setuid bit; the tapgate service can serve such callers: systemctl start tapgate.socket"
tg_done
