#!/bin/bash
# Admin commands and the vetting of tapgate.conf: --explain (decision,
# rule, settings with their origins, taps held), --explain --user (root
# only), --list (own taps for users, all for root, persistent column),
# --check on a broken file, and a tapgate.conf writable by others or owned
# by a user refusing every request.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
pol_start "$@"
tg_bridge br0
tg_bridge br1
A=/etc/qemu/bridge.conf
C=/etc/tapgate.conf

# has TEXT: OUT contains the line TEXT (exactly, whitespace squeezed).
has() {
    local squeezed
    squeezed=$(tr -s ' ' <<< "$OUT")
    grep -qxF -- "$1" <<< "$squeezed" || problem "missing line \"$1\" in:"$'\n'"$OUT"
}

tg_acl "allow br0 group tglab" "deny br0 user tgbob" "allow br1"
pol_conf "[defaults]" "learning = no" \
    "[bridge br0]" "quota = 2" "isolated = yes" \
    "[bridge br0 group tglab]" "name = lab%d" \
    "[bridge br0 user tgalice]" "quota = 3"

# --- --explain ----------------------------------------------------------------
pol_hold tgalice -- "$H"; expect_grant
pol_run tgalice --explain --br=br0
expect_rc 0
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
verdict "--explain as tgalice: decision, rule, settings with origins, 1 tap held"
pol_hold tgalice -- "$H"; expect_grant
pol_hold tgalice -- "$H"; expect_grant
pol_run tgalice --explain --br=br0
expect_rc 1
has "taps held on br0: 3"
has "a request would be refused: quota reached: tgalice holds 3 of 3 taps allowed on bridge br0 ($C:9)"
verdict "--explain at the quota: refused, exit 1"
pol_run tgbob --explain --br=br0
expect_rc 1
has "access to bridge br0 denied by $A:2 (deny br0 user tgbob)"
verdict "--explain as tgbob: denied by $A:2, exit 1"
pol_run tguser --explain --br=br0
expect_rc 1
has "access to bridge br0 denied: no rule in $A allows it"
has " quota 2 ($C:4)"
has " name tap%d (default)"
verdict "--explain as tguser: default deny, bridge settings"

# The quota lock file, which --explain checks while it is still root: one
# that users could open would let them hold the lock, so a request that
# needs a quota refuses it, and --explain says so.
chmod 0644 /run/tapgate.lock
pol_run tgalice --explain --br=br0
expect_rc 1
has "a request would be refused: a tap quota applies, but the lock file /run/tapgate.lock cannot be used: open to group or others (mode 0644)"
pol_spawn tgalice -- "$H"; expect_refusal "the lock file /run/tapgate.lock cannot be used"
pol_run tgalice --explain --br=br1
expect_rc 0
has "a request would be granted"
chmod 0600 /run/tapgate.lock
verdict "--explain names a lock file open to others (a request with a quota refuses it; br1 has none)"

# --user: root sees another user's view; a user may not.
pol_run root --explain --br=br0 --user=tgalice
expect_rc 1
has "user tgalice (uid $TG_ALICE_UID), groups: tgalice tglab"
has "taps held on br0: 3"
verdict "--explain --user=tgalice as root: her view, her taps"
pol_run root --explain --br=br1 --user=tgbob
expect_rc 0
has "user tgbob (uid $TG_BOB_UID), groups: tgbob tglab"
has "access to bridge br1 allowed by $A:3 (allow br1)"
has " learning no ($C:2)"
has " quota none (default)"
verdict "--explain --br=br1 --user=tgbob as root"
pol_run tguser --explain --br=br0 --user=tgalice
expect_rc 1
[ -z "$OUT" ] || problem "a user got output about another: $OUT"
[[ $EOUT == "tapgate: --user needs root"* ]] || problem "stderr: $EOUT"
pol_run tguser --explain --br=br0 --user=tguser
expect_rc 1
verdict "--explain --user as a user: refused, nothing shown (even about oneself)"
pol_run root --explain --br=br0 --user=tgnosuchuser
expect_rc 1
[[ $EOUT == *'unknown user "tgnosuchuser"'* ]] || problem "stderr: $EOUT"
verdict "--explain --user with an unknown user: an error"

# --- --list ---------------------------------------------------------------------
pol_hold tguser --br br1 -- "$H"; expect_grant
utap=${R[ifname]:-?}
ptap=$(tg_as tgbob $PERSIST "$H" br1)
[ -e "/sys/class/net/$ptap" ] || problem "no persistent tap: $ptap"
# Once persistent, the tap can be attached by name: only by its tun owner,
# which the helper sets to the caller before the tap joins the bridge.
for u in tgalice tguser; do
    a=$(tg_as "$u" $PERSIST --attach "$ptap")
    [[ $a == "refused errno=1 "* ]] || problem "$u attached tgbob's persistent tap: $a"
done
verdict "another user cannot attach to a persistent tap on its bridge"
a=$(tg_as tgbob $PERSIST --attach "$ptap")
[ "$a" = attached ] || problem "tgbob: $a"
a=$($PERSIST --attach "$ptap")
[ "$a" = attached ] || problem "root: $a"
verdict "its owner and root can attach to it"
pol_run tgalice --list
expect_rc 0
has "TAP BRIDGE OWNER VLAN PERSISTENT TUN-OWNER"
has "lab0 br0 tgalice - no tgalice"
has "lab1 br0 tgalice - no tgalice"
has "lab2 br0 tgalice - no tgalice"
[ "$(wc -l <<< "$OUT")" = 4 ] || problem "tgalice sees more than her 3 taps:"$'\n'"$OUT"
verdict "--list as tgalice: her 3 taps only"
pol_run tgbob --list
expect_rc 0
has "$ptap br1 tgbob - yes tgbob"
[ "$(wc -l <<< "$OUT")" = 2 ] || problem "tgbob sees:"$'\n'"$OUT"
verdict "--list as tgbob: his persistent tap, PERSISTENT yes"
pol_run root --list
expect_rc 0
for l in "lab0 br0 tgalice - no tgalice" "lab1 br0 tgalice - no tgalice" \
    "lab2 br0 tgalice - no tgalice" "$utap br1 tguser - no tguser" "$ptap br1 tgbob - yes tgbob"; do
    has "$l"
done
[ "$(wc -l <<< "$OUT")" = 6 ] || problem "root sees:"$'\n'"$OUT"
verdict "--list as root: all 5 taps with owners and persistence"
# The holder can hand the tap to another user (as it could pass the fd):
# the tun owner changes, the quota stays with the user it was made for.
a=$(tg_as tgbob $PERSIST --attach "$ptap" --owner "$TG_ALICE_UID")
[ "$a" = attached ] || problem "tgbob: $a"
a=$(tg_as tgalice $PERSIST --attach "$ptap")
[ "$a" = attached ] || problem "tgalice after the hand-over: $a"
pol_run root --list
has "$ptap br1 tgbob - yes tgalice"
verdict "a tap handed over with TUNSETOWNER: --list shows the new tun owner"
# An interface root made with an alias of its own is not tapgate's.
ip tuntap add dev manual0 mode tap
ip link set manual0 alias "some other alias"
pol_run root --list
[[ $OUT != *manual0* ]] || problem "a tap tapgate did not make is listed"
verdict "--list shows only taps tapgate made"
ip link del manual0
pol_release_all
ip link del "$ptap"
pol_run root --list
[ "$OUT" = "$(head -n 1 <<< "$OUT")" ] || problem "taps listed after release:"$'\n'"$OUT"
verdict "--list after everything is gone: the header only"

# --- --check on a broken tapgate.conf ---------------------------------------------
pol_conf "[bridge br0]" "quota = lots" "isolated = maybe" "[bridge br0 group tgnosuchgroup]" \
    "name = x" "[mystery]" "colour = blue"
pol_run root --check
expect_rc 1
for e in "$C:2: quota = \"lots\": expected a number of taps from 0 to 1023" \
    "$C:3: isolated = \"maybe\": expected yes or no" \
    "$C:4: unknown group \"tgnosuchgroup\"" \
    "$C:6: unknown section [mystery]"; do
    [[ $EOUT == *"$e"* ]] || problem "--check does not say: $e"
done
[[ $OUT == *"$C: "*" errors; the helper refuses every bridge until fixed"* ]] || problem "summary: $OUT"
verdict "--check on a broken tapgate.conf: file:line for each error, exit 1"
pol_run tguser --check "$C"
expect_rc 1
[[ $EOUT == *"$C:2: quota"* ]] || problem "as a user: $EOUT"
verdict "--check works for users as well"
pol_spawn tgalice -- "$H"; expect_refusal "settings error: $C:2: quota = \"lots\""
[[ $ERR == *"(and "*" more; run tapgate --check $C)"* ]] || problem "no pointer to --check: $ERR"
expect_nothing_left
verdict "a request with a broken tapgate.conf: refused naming $C:2, nothing left"

# --- vetting ----------------------------------------------------------------------
# Refuse every request: the message must say what is wrong with the file.
vetted() {  # DESC
    pol_spawn tgalice -- "$H"
    expect_refusal "$C"
    expect_nothing_left
    pol_run tgalice --check "$C"
    expect_rc 1
    verdict "$1: refused ($ERR)"
}
pol_conf "[bridge br0]" "quota = 5"
pol_spawn tgalice -- "$H"; expect_grant
verdict "a sound tapgate.conf: granted"
chmod 0666 "$C"; vetted "world-writable tapgate.conf"
chmod 0664 "$C"; vetted "group-writable tapgate.conf"
chmod 0644 "$C"; chown tgalice "$C"; vetted "tapgate.conf owned by the user herself"
chown tguser "$C"; vetted "tapgate.conf owned by another user"
chown root:root "$C"
# /etc itself writable by a user: the file could be swapped.
chmod o+w /etc
pol_spawn tgalice -- "$H"; expect_refusal "/etc"
expect_nothing_left
verdict "a world-writable /etc refuses ($ERR)"
chmod o-w /etc
# A directory instead of a file.
rm -f "$C"; mkdir "$C"
pol_spawn tgalice -- "$H"; expect_refusal "$C"
expect_nothing_left
verdict "tapgate.conf a directory: refused ($ERR)"
rmdir "$C"
pol_spawn tgalice -- "$H"; expect_grant
verdict "no tapgate.conf: defaults, granted"

expect_nothing_left
verdict "nothing left behind"
pol_elapsed
tg_done
