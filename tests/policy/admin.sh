#!/bin/bash
# Admin commands and the vetting of tapgate.conf: --explain (decision,
# rule, settings with their origins, taps held), --explain --user (root
# only), --list (own taps for users, all for root, persistent column),
# --check on a broken file, and a tapgate.conf writable by others or owned
# by a user refusing every request.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/../lib/tg.sh"
tg_start "$@"
tg_helper
PERSIST="${PYTHON:-python3} $(tg_user_tool "$here/persist.py")"
tg_bridge br0
tg_bridge br1
A=/etc/qemu/bridge.conf
C=/etc/tapgate.conf

# has TEXT: OUT contains the line TEXT (exactly, whitespace squeezed).
has() {
    local squeezed
    squeezed=$(tr -s ' ' <<< "$TG_OUT")
    grep -qxF -- "$1" <<< "$squeezed" || tg_problem "missing line \"$1\" in:"$'\n'"$TG_OUT"
}

tg_acl "allow br0 group tglab" "deny br0 user tgbob" "allow br1"
tg_conf "[defaults]" "learning = no" \
    "[bridge br0]" "quota = 2" "isolated = yes" \
    "[bridge br0 group tglab]" "name = lab%d" \
    "[bridge br0 user tgalice]" "quota = 3"

# --- --explain ----------------------------------------------------------------
tg_hold tgalice -- "$TG_H"; tg_expect_grant
tg_run tgalice --explain --br=br0
tg_expect_rc 0
has "user tgalice (uid $TG_ALICE_UID), groups: tgalice tglab"
has "access to bridge br0 allowed by $A:1 (allow br0 group tglab)"
has "settings for bridge br0 ($C):"
has " quota 3 ($C:9)"
has " isolated yes ($C:5)"
has " name lab%d ($C:7)"
has " learning no ($C:2)"
has " hairpin bridge's (default)"
has " vlan bridge's (default)"
has "taps held on br0: 1"
has "a request would be granted"
tg_verdict "--explain as tgalice: decision, rule, settings with origins, 1 tap held"
tg_hold tgalice -- "$TG_H"; tg_expect_grant
tg_hold tgalice -- "$TG_H"; tg_expect_grant
tg_run tgalice --explain --br=br0
tg_expect_rc 1
has "taps held on br0: 3"
has "a request would be refused: quota reached: tgalice holds 3 of 3 taps allowed on bridge br0 ($C:9)"
tg_verdict "--explain at the quota: refused, exit 1"
tg_run tgbob --explain --br=br0
tg_expect_rc 1
has "access to bridge br0 denied by $A:2 (deny br0 user tgbob)"
tg_verdict "--explain as tgbob: denied by $A:2, exit 1"
tg_run tguser --explain --br=br0
tg_expect_rc 1
has "access to bridge br0 denied: no rule in $A allows it"
has " quota 2 ($C:4)"
has " name tap%d (default)"
tg_verdict "--explain as tguser: default deny, bridge settings"

# The quota lock file, which --explain checks while it is still root: one
# that users could open would let them hold the lock, so a request that
# needs a quota refuses it, and --explain says so.
chmod 0644 /run/tapgate.lock
tg_run tgalice --explain --br=br0
tg_expect_rc 1
has "a request would be refused: a tap quota applies, but the lock file /run/tapgate.lock cannot be used: open to group or others (mode 0644)"
tg_spawn tgalice -- "$TG_H"; tg_expect_refusal "the lock file /run/tapgate.lock cannot be used"
tg_run tgalice --explain --br=br1
tg_expect_rc 0
has "a request would be granted"
chmod 0600 /run/tapgate.lock
tg_verdict "--explain names a lock file open to others (a request with a quota refuses it; br1 has none)"

# --user: root sees another user's view; a user may not.
tg_run root --explain --br=br0 --user=tgalice
tg_expect_rc 1
has "user tgalice (uid $TG_ALICE_UID), groups: tgalice tglab"
has "taps held on br0: 3"
tg_verdict "--explain --user=tgalice as root: her view, her taps"
tg_run root --explain --br=br1 --user=tgbob
tg_expect_rc 0
has "user tgbob (uid $TG_BOB_UID), groups: tgbob tglab"
has "access to bridge br1 allowed by $A:3 (allow br1)"
has " learning no ($C:2)"
has " quota none (default)"
tg_verdict "--explain --br=br1 --user=tgbob as root"
tg_run tguser --explain --br=br0 --user=tgalice
tg_expect_rc 1
[ -z "$TG_OUT" ] || tg_problem "a user got output about another: $TG_OUT"
[[ $TG_EOUT == "tapgate: --user needs root"* ]] || tg_problem "stderr: $TG_EOUT"
tg_run tguser --explain --br=br0 --user=tguser
tg_expect_rc 1
tg_verdict "--explain --user as a user: refused, nothing shown (even about oneself)"
tg_run root --explain --br=br0 --user=tgnosuchuser
tg_expect_rc 1
[[ $TG_EOUT == *'unknown user "tgnosuchuser"'* ]] || tg_problem "stderr: $TG_EOUT"
tg_verdict "--explain --user with an unknown user: an error"

# --- --list ---------------------------------------------------------------------
tg_hold tguser --br br1 -- "$TG_H"; tg_expect_grant
utap=${TG_R[ifname]:-?}
ptap=$(tg_as tgbob $PERSIST "$TG_H" br1)
[ -e "/sys/class/net/$ptap" ] || tg_problem "no persistent tap: $ptap"
# Once persistent, the tap can be attached by name: only by its tun owner,
# which the helper sets to the caller before the tap joins the bridge.
for u in tgalice tguser; do
    a=$(tg_as "$u" $PERSIST --attach "$ptap")
    [[ $a == "refused errno=1 "* ]] || tg_problem "$u attached tgbob's persistent tap: $a"
done
tg_verdict "another user cannot attach to a persistent tap on its bridge"
a=$(tg_as tgbob $PERSIST --attach "$ptap")
[ "$a" = attached ] || tg_problem "tgbob: $a"
a=$($PERSIST --attach "$ptap")
[ "$a" = attached ] || tg_problem "root: $a"
tg_verdict "its owner and root can attach to it"
tg_run tgalice --list
tg_expect_rc 0
has "TAP BRIDGE OWNER VLAN PERSISTENT TUN-OWNER"
has "lab0 br0 tgalice - no tgalice"
has "lab1 br0 tgalice - no tgalice"
has "lab2 br0 tgalice - no tgalice"
[ "$(wc -l <<< "$TG_OUT")" = 4 ] || tg_problem "tgalice sees more than her 3 taps:"$'\n'"$TG_OUT"
tg_verdict "--list as tgalice: her 3 taps only"
tg_run tgbob --list
tg_expect_rc 0
has "$ptap br1 tgbob - yes tgbob"
[ "$(wc -l <<< "$TG_OUT")" = 2 ] || tg_problem "tgbob sees:"$'\n'"$TG_OUT"
tg_verdict "--list as tgbob: his persistent tap, PERSISTENT yes"
tg_run root --list
tg_expect_rc 0
for l in "lab0 br0 tgalice - no tgalice" "lab1 br0 tgalice - no tgalice" \
    "lab2 br0 tgalice - no tgalice" "$utap br1 tguser - no tguser" "$ptap br1 tgbob - yes tgbob"; do
    has "$l"
done
[ "$(wc -l <<< "$TG_OUT")" = 6 ] || tg_problem "root sees:"$'\n'"$TG_OUT"
tg_verdict "--list as root: all 5 taps with owners and persistence"
# The holder can hand the tap to another user (as it could pass the fd):
# the tun owner changes, the quota stays with the user it was made for.
a=$(tg_as tgbob $PERSIST --attach "$ptap" --owner "$TG_ALICE_UID")
[ "$a" = attached ] || tg_problem "tgbob: $a"
a=$(tg_as tgalice $PERSIST --attach "$ptap")
[ "$a" = attached ] || tg_problem "tgalice after the hand-over: $a"
tg_run root --list
has "$ptap br1 tgbob - yes tgalice"
tg_verdict "a tap handed over with TUNSETOWNER: --list shows the new tun owner"
# An interface root made with an alias of its own is not tapgate's.
ip tuntap add dev manual0 mode tap
ip link set manual0 alias "some other alias"
tg_run root --list
[[ $TG_OUT != *manual0* ]] || tg_problem "a tap tapgate did not make is listed"
tg_verdict "--list shows only taps tapgate made"
ip link del manual0
tg_release
ip link del "$ptap"
tg_run root --list
[ "$TG_OUT" = "$(head -n 1 <<< "$TG_OUT")" ] || tg_problem "taps listed after release:"$'\n'"$TG_OUT"
tg_verdict "--list after everything is gone: the header only"

# --- --check on a broken tapgate.conf ---------------------------------------------
tg_conf "[bridge br0]" "quota = lots" "isolated = maybe" "[bridge br0 group tgnosuchgroup]" \
    "name = x" "[mystery]" "colour = blue"
tg_run root --check
tg_expect_rc 1
for e in "$C:2: quota = \"lots\": expected a number of taps from 0 to 1023" \
    "$C:3: isolated = \"maybe\": expected yes or no" \
    "$C:4: unknown group \"tgnosuchgroup\"" \
    "$C:6: unknown section [mystery]"; do
    [[ $TG_EOUT == *"$e"* ]] || tg_problem "--check does not say: $e"
done
[[ $TG_OUT == *"$C: "*" errors; the helper refuses every bridge until fixed"* ]] || tg_problem "summary: $TG_OUT"
tg_verdict "--check on a broken tapgate.conf: file:line for each error, exit 1"
tg_run tguser --check "$C"
tg_expect_rc 1
[[ $TG_EOUT == *"$C:2: quota"* ]] || tg_problem "as a user: $TG_EOUT"
tg_verdict "--check works for users as well"
tg_spawn tgalice -- "$TG_H"; tg_expect_refusal "settings error: $C:2: quota = \"lots\""
[[ $TG_ERR == *"(and "*" more; run tapgate --check $C)"* ]] || tg_problem "no pointer to --check: $TG_ERR"
tg_expect_nothing_left
tg_verdict "a request with a broken tapgate.conf: refused naming $C:2, nothing left"

# --- vetting ----------------------------------------------------------------------
# Refuse every request: the message must say what is wrong with the file.
vetted() {  # DESC
    tg_spawn tgalice -- "$TG_H"
    tg_expect_refusal "$C"
    tg_expect_nothing_left
    tg_run tgalice --check "$C"
    tg_expect_rc 1
    tg_verdict "$1: refused ($TG_ERR)"
}
tg_conf "[bridge br0]" "quota = 5"
tg_spawn tgalice -- "$TG_H"; tg_expect_grant
tg_verdict "a sound tapgate.conf: granted"
chmod 0666 "$C"; vetted "world-writable tapgate.conf"
chmod 0664 "$C"; vetted "group-writable tapgate.conf"
chmod 0644 "$C"; chown tgalice "$C"; vetted "tapgate.conf owned by the user herself"
chown tguser "$C"; vetted "tapgate.conf owned by another user"
chown root:root "$C"
# /etc itself writable by a user: the file could be swapped.
chmod o+w /etc
tg_spawn tgalice -- "$TG_H"; tg_expect_refusal "/etc"
tg_expect_nothing_left
tg_verdict "a world-writable /etc refuses ($TG_ERR)"
chmod o-w /etc
# A directory instead of a file.
rm -f "$C"; mkdir "$C"
tg_spawn tgalice -- "$TG_H"; tg_expect_refusal "$C"
tg_expect_nothing_left
tg_verdict "tapgate.conf a directory: refused ($TG_ERR)"
rmdir "$C"
tg_spawn tgalice -- "$TG_H"; tg_expect_grant
tg_verdict "no tapgate.conf: defaults, granted"

tg_expect_nothing_left
tg_verdict "nothing left behind"
tg_elapsed
tg_done
