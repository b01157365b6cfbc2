#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Admin commands and the vetting of tapgate.conf: --explain (decision,
# rule, settings with their origins, taps held), --explain --user (root
# only), --list (own taps for users, all for root, persistent column),
# --check on a broken file, and a tapgate.conf writable by others or owned
# by a user refusing every request.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/../lib/tg.sh"
tg_start "$@"
tg_helper
tg_user_tool "$here/qemu_side.py" >/dev/null
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

# row TAP BRIDGE OWNER VLAN PERSISTENT TUN-OWNER HELD-BY: a --list line
# with these columns, made within the test (HELD-BY a regular expression).
row() {
    local squeezed re
    squeezed=$(tr -s ' ' <<< "$TG_OUT")
    re="^$1 $2 $3 $4 $5 $6 [0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2} $7\$"
    grep -qE -- "$re" <<< "$squeezed" || tg_problem "no line /$re/ in:"$'\n'"$TG_OUT"
}
HELD='[0-9]+\(tg-spawn\)'

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
tg_run root --explain --br=br0 --user=tgalice --json
tg_expect_rc 1
printf '%s\n' "$TG_OUT" > "$TG_ROOT/explain.json"
"${PYTHON:-python3}" - "$TG_ROOT/explain.json" "$A" "$C" > "$TG_ROOT/json.err" 2>&1 <<'PY' ||
import json, sys
x = json.load(open(sys.argv[1]))
acl, conf = sys.argv[2], sys.argv[3]
assert set(x) == {"user", "uid", "groups", "bridge", "acl", "settings", "taps_held", "granted", "refused"}, x.keys()
assert x["user"] == "tgalice" and x["groups"] == ["tgalice", "tglab"] and x["bridge"] == "br0", x
assert x["acl"]["allowed"] is True and x["acl"]["rule"] == {"file": acl, "line": 1, "text": "allow br0 group tglab"}, x["acl"]
assert x["acl"]["errors"] == [], x["acl"]
s = x["settings"]
assert s["file"] == conf and s["present"] is True and s["errors"] == [] and s["closes"] is None, s
assert s["values"]["quota"] == {"value": "3", "origin": conf + ":9"}, s["values"]
assert s["values"]["hairpin"] == {"value": "bridge's", "origin": "default"}, s["values"]
assert x["taps_held"] == 3 and x["granted"] is False, x
assert x["refused"].startswith("quota reached: tgalice holds 3 of 3"), x["refused"]
PY
    tg_problem "--explain --json: $(cat "$TG_ROOT/json.err")"
tg_verdict "--explain --json: the same facts, in the documented shape"

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
has "TAP BRIDGE OWNER VLAN PERSISTENT TUN-OWNER MADE HELD-BY"
row lab0 br0 tgalice - no tgalice "$HELD"
row lab1 br0 tgalice - no tgalice "$HELD"
row lab2 br0 tgalice - no tgalice "$HELD"
[ "$(wc -l <<< "$TG_OUT")" = 4 ] || tg_problem "tgalice sees more than her 3 taps:"$'\n'"$TG_OUT"
tg_verdict "--list as tgalice: her 3 taps only, when made, held by her tg-spawns"
tg_run tgbob --list
tg_expect_rc 0
row "$ptap" br1 tgbob - yes tgbob -
[ "$(wc -l <<< "$TG_OUT")" = 2 ] || tg_problem "tgbob sees:"$'\n'"$TG_OUT"
tg_verdict "--list as tgbob: his persistent tap, PERSISTENT yes, held by nobody"
tg_run root --list
tg_expect_rc 0
row lab0 br0 tgalice - no tgalice "$HELD"
row lab1 br0 tgalice - no tgalice "$HELD"
row lab2 br0 tgalice - no tgalice "$HELD"
row "$utap" br1 tguser - no tguser "$HELD"
row "$ptap" br1 tgbob - yes tgbob -
[ "$(wc -l <<< "$TG_OUT")" = 6 ] || tg_problem "root sees:"$'\n'"$TG_OUT"
tg_verdict "--list as root: all 5 taps with owners, persistence and every user's holders"
# A QEMU's -name names the holder (libvirt's form: guest=NAME,...).
hold_named() {
    "${PYTHON:-python3}" -c '
import fcntl, os, struct, sys, time
tun = os.open("/dev/net/tun", os.O_RDWR)
fcntl.ioctl(tun, 0x400454CA, struct.pack("16sH22x", sys.argv[1].encode(), 0x1002))
print("holding", flush=True)
sys.stdin.read()' "$1" -name guest=labvm,debug-threads=on
}
exec {named}> >(hold_named "$ptap" > "$TG_ROOT/named.out")
tg_wait 5 grep -q holding "$TG_ROOT/named.out"
tg_run root --list
row "$ptap" br1 tgbob - yes tgbob '[0-9]+\(labvm\)'
tg_verdict "a holder with QEMU's -name guest=labvm,... is shown by that name"
tg_run root --list --json
tg_expect_rc 0
printf '%s\n' "$TG_OUT" > "$TG_ROOT/list.json"
"${PYTHON:-python3}" - "$TG_ROOT/list.json" "$ptap" "$(date +%s)" > "$TG_ROOT/json.err" 2>&1 <<'PY' ||
import json, sys
ptap, now = sys.argv[2], int(sys.argv[3])
doc = json.load(open(sys.argv[1]))
taps = {t["tap"]: t for t in doc["taps"]}
assert set(taps) >= {"lab0", "lab1", "lab2", ptap}, taps.keys()
for t in doc["taps"]:
    assert set(t) == {"tap", "bridge", "uid", "owner", "vlan", "persistent", "tun_owner", "made", "in_use", "held_by"}, t
    assert abs(t["made"] - now) < 600, t
p = taps[ptap]
assert p["bridge"] == "br1" and p["owner"] == "tgbob" and p["persistent"] is True and p["vlan"] is None, p
assert [h["vm"] for h in p["held_by"]] == ["labvm"], p
lab = taps["lab0"]
assert lab["persistent"] is False and lab["held_by"][0]["command"] == "tg-spawn" and lab["held_by"][0]["vm"] is None, lab
PY
    tg_problem "--list --json: $(cat "$TG_ROOT/json.err")"
tg_verdict "--list --json: the same facts, in the documented shape"
exec {named}>&-
# The holder is gone when no fd names the tap any more.
tg_wait 5 bash -c '! grep -qsx "iff:.$1" /proc/[0-9]*/fdinfo/*' _ "$ptap" || tg_problem "the -name holder stays"
# The holder can hand the tap to another user (as it could pass the fd):
# the tun owner changes, the quota stays with the user it was made for.
a=$(tg_as tgbob $PERSIST --attach "$ptap" --owner "$TG_ALICE_UID")
[ "$a" = attached ] || tg_problem "tgbob: $a"
a=$(tg_as tgalice $PERSIST --attach "$ptap")
[ "$a" = attached ] || tg_problem "tgalice after the hand-over: $a"
tg_run root --list
row "$ptap" br1 tgbob - yes tgalice -
tg_verdict "a tap handed over with TUNSETOWNER: --list shows the new tun owner"
# fdinfo names a tap without its network namespace. hold NAME stay|leave:
# attach to the tap NAME (creating it if there is none), then, with leave,
# move to a network namespace of its own, fd and all.
hold() {
    "${PYTHON:-python3}" -c '
import ctypes, fcntl, os, struct, sys
tun = os.open("/dev/net/tun", os.O_RDWR)
fcntl.ioctl(tun, 0x400454CA, struct.pack("16sH22x", sys.argv[1].encode(), 0x1002))
if sys.argv[2] == "leave" and ctypes.CDLL(None, use_errno=True).unshare(0x40000000) != 0:
    sys.exit("unshare: %s" % os.strerror(ctypes.get_errno()))
print("holding", flush=True)
sys.stdin.read()' "$@"
}
# A container's own tap of the same name is not ours: its process does not
# hold ours.
exec {decoy}> >(unshare -n bash -c "$(declare -f hold); hold $ptap stay" > "$TG_ROOT/decoy.out")
tg_wait 5 grep -q holding "$TG_ROOT/decoy.out" || tg_problem "decoy: $(cat "$TG_ROOT/decoy.out")"
tg_run root --list
row "$ptap" br1 tgbob - yes tgalice -
tg_verdict "a process in another network namespace holding a tap of the same name is not its holder"
# One of ours whose holder moved to another namespace (as a passed fd
# can): no holder to show, but held all the same.
ptap2=$(tg_as tgbob $PERSIST "$TG_H" br1)
[ -e "/sys/class/net/$ptap2" ] || tg_problem "no second persistent tap: $ptap2"
exec {away}> >(hold "$ptap2" leave > "$TG_ROOT/away.out")
tg_wait 5 grep -q holding "$TG_ROOT/away.out" || tg_problem "away: $(cat "$TG_ROOT/away.out")"
tg_run root --list
row "$ptap2" br1 tgbob - yes tgbob '\?'
tg_run root --list --json
"${PYTHON:-python3}" -c '
import json, sys
t = {t["tap"]: t for t in json.load(sys.stdin)["taps"]}
assert t[sys.argv[1]]["in_use"] is True and t[sys.argv[1]]["held_by"] == [], t[sys.argv[1]]
assert t[sys.argv[2]]["in_use"] is False, t[sys.argv[2]]' "$ptap2" "$ptap" <<< "$TG_OUT" 2> "$TG_ROOT/json.err" ||
    tg_problem "--list --json: $(cat "$TG_ROOT/json.err")"
tg_verdict "a tap held from another network namespace: HELD-BY ?, in use"
# An interface root made with an alias of its own is not tapgate's.
ip tuntap add dev manual0 mode tap
ip link set manual0 alias "some other alias"
tg_run root --list
[[ $TG_OUT != *manual0* ]] || tg_problem "a tap tapgate did not make is listed"
tg_verdict "--list shows only taps tapgate made"
# --remove: root only, tapgate's taps only.
tg_run root --remove=manual0
tg_expect_rc 1
[ "$TG_EOUT" = "tapgate: manual0 was not made by tapgate: not removed" ] || tg_problem "stderr: $TG_EOUT"
[ -e /sys/class/net/manual0 ] || tg_problem "manual0 was removed"
# A veth with tapgate's alias (root could write one) is still not a tap
# tapgate made.
ip link add tgfake type veth peer name tgfakep
ip link set tgfake alias "tapgate uid=$TG_UID made=1"
tg_run root --remove=tgfake
tg_expect_rc 1
[ -e /sys/class/net/tgfake ] || tg_problem "tgfake was removed"
ip link del tgfake
tg_run root --remove=nosuch0
[ "$TG_EOUT" = "tapgate: no interface nosuch0" ] || tg_problem "stderr: $TG_EOUT"
tg_run tgbob --remove="$ptap"
tg_expect_rc 1
[ "$TG_EOUT" = "tapgate: --remove and --remove-unused need root" ] || tg_problem "stderr: $TG_EOUT"
[ -e "/sys/class/net/$ptap" ] || tg_problem "a user removed $ptap"
tg_verdict "--remove refuses interfaces tapgate did not make, and users"
tg_run root --remove-unused
tg_expect_rc 0
[[ $TG_OUT == *"removed $ptap (made for tgbob, on br1)"* && $TG_OUT == *"1 tap removed"* ]] || tg_problem "stdout: $TG_OUT"
[ ! -e "/sys/class/net/$ptap" ] || tg_problem "$ptap is still there"
[ -e /sys/class/net/lab0 ] && [ -e "/sys/class/net/$utap" ] || tg_problem "a held tap was removed"
[ -e "/sys/class/net/$ptap2" ] || tg_problem "$ptap2, held from another namespace, was removed"
tg_verdict "--remove-unused removes the persistent tap no process holds, and no other"
exec {decoy}>&- {away}>&-
tg_wait 5 bash -c '! grep -qsx "iff:.$1" /proc/[0-9]*/fdinfo/*' _ "$ptap2" || tg_problem "the holder of $ptap2 stays"
tg_run root --remove-unused
[[ $TG_OUT == *"removed $ptap2 (made for tgbob, on br1)"* ]] || tg_problem "stdout: $TG_OUT"
tg_verdict "... and the one held from elsewhere once its holder lets go"
tg_run root --remove=lab0
tg_expect_rc 0
[ ! -e /sys/class/net/lab0 ] || tg_problem "lab0 is still there"
tg_verdict "--remove removes one by name, held or not"
ip link del manual0
tg_release
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
