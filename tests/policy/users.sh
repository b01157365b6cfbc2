#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# User and group rules in bridge.conf, end to end through the setuid copy:
# who is allowed, deny beating allow, unknown names as errors with
# file:line, and group membership taken from NSS, not from the process.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/../lib/tg.sh"
tg_start "$@"
tg_helper
tg_bridge br0
tg_bridge br1
tg_bridge br2
A=/etc/qemu/bridge.conf

# The test relies on --clear-groups really removing tglab from the process.
g=$(setpriv --reuid=tgalice --regid=tgalice --clear-groups -- id -G)
[ "$g" = "$TG_ALICE_UID" ] || tg_fail "setpriv --clear-groups leaves groups: $g"
g=$(tg_as tgalice id -G)
[[ " $g " == *" $TG_LAB_GID "* ]] || tg_fail "tg_as does not give tgalice tglab: $g"

# --- group allow, user deny -----------------------------------------------
tg_acl "allow br0 group tglab" "deny br0 user tgbob"
tg_spawn tgalice -- "$TG_H"; tg_expect_grant
tg_verdict "allow br0 group tglab: a member (tgalice) gets a tap"
tg_spawn tguser -- "$TG_H"; tg_expect_refusal "denied: no rule in $A allows it"
tg_verdict "allow br0 group tglab: a non-member (tguser) is refused"
tg_spawn tgbob -- "$TG_H"; tg_expect_refusal "denied by $A:2 (deny br0 user tgbob)"
tg_verdict "deny br0 user tgbob beats the group allow (refusal names $A:2)"
tg_spawn tgalice --br br1 -- "$TG_H"; tg_expect_refusal "denied: no rule in $A allows it"
tg_verdict "the group rule is for br0 only"

# Deny beats allow whatever the order, as in qemu-bridge-helper.
tg_acl "deny br0 user tgbob" "allow br0 group tglab" "allow br0 user tgbob"
tg_spawn tgbob -- "$TG_H"; tg_expect_refusal "denied by $A:1 (deny br0 user tgbob)"
tg_verdict "a user deny before two allows still wins"
tg_spawn tgalice -- "$TG_H"; tg_expect_grant
tg_verdict "... and does not touch other members of the group"

# Several groups: membership of each is taken from its member list when that
# shows it, and from getgrouplist() for the rest. tgalice is listed in tglab
# but not in tgbob's primary group, tgbob is listed in tglab and has tgbob
# as its primary group, tguser is in neither.
tg_acl "deny br0 group $TG_BOB" "allow br0 group tglab"
tg_spawn tgalice -- "$TG_H"; tg_expect_grant
tg_spawn tgbob -- "$TG_H"; tg_expect_refusal "denied by $A:1 (deny br0 group $TG_BOB)"
tg_spawn tguser -- "$TG_H"; tg_expect_refusal "denied: no rule in $A allows it"
tg_verdict "deny br0 group tgbob + allow br0 group tglab: each member judged on both groups"

# A user rule is for that user only; a user list names several.
tg_acl "allow br0 user tguser,tgbob"
tg_spawn tguser -- "$TG_H"; tg_expect_grant
tg_spawn tgbob -- "$TG_H"; tg_expect_grant
tg_spawn tgalice -- "$TG_H"; tg_expect_refusal "denied: no rule in $A allows it"
tg_verdict "allow br0 user tguser,tgbob: both listed users, nobody else"

# Plain rules keep their qemu-bridge-helper meaning next to qualified ones.
tg_acl "allow all" "deny br0 group tglab"
tg_spawn tguser -- "$TG_H"; tg_expect_grant
tg_spawn tgalice -- "$TG_H"; tg_expect_refusal "denied by $A:2 (deny br0 group tglab)"
tg_spawn tgalice --br br1 -- "$TG_H"; tg_expect_grant
tg_verdict "allow all + deny br0 group tglab: members refused on br0 only"

# --- unknown names close what their rule could decide -------------------------
# A rule naming a user or group nobody knows cannot be judged: the requests
# it could decide are refused, naming it; the others go on (an account
# deleted at the end of a term must not stop the whole lab).
tg_acl "allow br0" "allow br1 group tgnosuchgroup"
tg_spawn tguser --br br1 -- "$TG_H"; tg_expect_refusal "$A:2"
[[ $TG_ERR == *tgnosuchgroup* ]] || tg_problem "the error does not name the group: $TG_ERR"
tg_spawn tguser -- "$TG_H"; tg_expect_grant
tg_verdict "an unknown group in a rule for br1 refuses br1, naming $A:2, and nothing else"
tg_acl "deny br2 user tgnosuchuser" "allow br0" "allow br2"
tg_spawn tguser --br br2 -- "$TG_H"; tg_expect_refusal "$A:1"
[[ $TG_ERR == *tgnosuchuser* ]] || tg_problem "the error does not name the user: $TG_ERR"
tg_spawn tguser -- "$TG_H"; tg_expect_grant
tg_verdict "an unknown user in a deny for br2 refuses br2, naming $A:1, and nothing else"
tg_acl "allow br0" "deny all group tgnosuchgroup"
tg_spawn tguser -- "$TG_H"; tg_expect_refusal "$A:2"
tg_verdict "an unknown group in a rule for all bridges refuses every bridge"
tg_acl "allow br0" "allow br1 user"
tg_spawn tguser -- "$TG_H"; tg_expect_refusal "$A:2"
tg_verdict "a syntax error still refuses every bridge"
tg_acl "allow br0" "allow br1"
tg_conf "[bridge br1 user tgnosuchuser]" "isolated = yes"
tg_spawn tguser --br br1 -- "$TG_H"; tg_expect_refusal "settings error: /etc/tapgate.conf:1: unknown user \"tgnosuchuser\""
tg_spawn tguser -- "$TG_H"; tg_expect_grant
tg_verdict "a tapgate.conf section for an unknown user closes its bridge only"
tg_run root --check
tg_expect_rc 1
[[ $TG_EOUT == *'/etc/tapgate.conf:1: unknown user "tgnosuchuser" (closes bridge br1)'* ]] ||
    tg_problem "--check does not say what the error closes: $TG_EOUT"
[[ $TG_OUT == *"/etc/tapgate.conf: 1 error; the helper refuses bridge br1 until fixed"* ]] ||
    tg_problem "--check summary: $TG_OUT"
tg_acl "allow br0" "allow br1 group tgnosuchgroup" "deny br2 user tgnosuchuser" "allow all user tgghost"
tg_run root --check "$A"
[[ $TG_EOUT == *"$A:2: unknown group \"tgnosuchgroup\" (closes bridge br1)"* &&
   $TG_EOUT == *"$A:3: unknown user \"tgnosuchuser\" (closes bridge br2)"* &&
   $TG_EOUT == *"$A:4: unknown user \"tgghost\" (closes every bridge)"* ]] ||
    tg_problem "--check does not name what each error closes: $TG_EOUT"
[[ $TG_OUT == *"$A: 3 errors; the helper refuses every bridge until fixed"* ]] || tg_problem "--check summary: $TG_OUT"
tg_acl "allow br0" "allow br1 group tgnosuchgroup" "deny br2 user tgnosuchuser"
tg_run root --check "$A"
[[ $TG_OUT == *"$A: 2 errors; the helper refuses bridges br1, br2 until fixed"* ]] || tg_problem "--check summary: $TG_OUT"
tg_verdict "--check names exactly which bridges each error closes"
tg_conf
# In an included file the location is the included file's.
printf 'allow br0 group tgnosuchgroup\n' > /etc/qemu/inc.conf
chmod 0644 /etc/qemu/inc.conf
tg_acl "allow br0" "include /etc/qemu/inc.conf"
tg_spawn tguser -- "$TG_H"; tg_expect_refusal "/etc/qemu/inc.conf:1"
tg_verdict "an unknown group in an included file names that file:line"
rm -f /etc/qemu/inc.conf

# --- membership comes from NSS, not from the process --------------------------
tg_acl "allow br1" "deny br1 group tglab" "allow br0 group tglab"
tg_spawn_nogroups tgalice --br br1 -- "$TG_H"; tg_expect_refusal "denied by $A:2 (deny br1 group tglab)"
tg_verdict "deny br1 group tglab holds for a member whose process shed tglab"
tg_spawn_nogroups tgalice --br br0 -- "$TG_H"; tg_expect_grant
tg_verdict "allow br0 group tglab holds for a member whose process shed tglab"
tg_spawn_nogroups tguser --br br1 -- "$TG_H"; tg_expect_grant
tg_verdict "... and a non-member is still allowed on br1"

# The old idiom expresses per-group policy through file permissions: an
# include readable only by the group. qemu-bridge-helper (and tapgate, for
# compatibility) reads it as the caller and silently skips what the caller
# cannot open, so it depends on the process's groups: a member who sheds the
# group escapes a deny written that way. That is why deny rules should use
# "group NAME"; this case pins the difference down.
printf 'deny br2\n' > /etc/qemu/lab.conf
chown root:tglab /etc/qemu/lab.conf
chmod 0640 /etc/qemu/lab.conf
tg_acl "allow br2" "include /etc/qemu/lab.conf"
tg_spawn tgalice --br br2 -- "$TG_H"; tg_expect_refusal "denied by /etc/qemu/lab.conf:1"
tg_verdict "include idiom: a member with tglab in its process is denied"
tg_spawn_nogroups tgalice --br br2 -- "$TG_H"; tg_expect_grant
tg_verdict "include idiom: the same member without tglab in its process is allowed (weaker deny)"

tg_expect_nothing_left
tg_verdict "nothing left behind"
tg_elapsed
tg_done
