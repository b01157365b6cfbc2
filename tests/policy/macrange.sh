#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Guest MAC ranges (guest_mac) on this host, whose kernel has no tc flower
# and no tc actions: a request a range applies to is refused with one line
# that says what the kernel lacks, and nothing is left behind (the tap never
# joins the bridge); "any" lifts a range and leaves the tap unfiltered;
# --explain shows the range, where it comes from, and that a request would
# be refused here; --check names bad values with file:line. The filter
# itself, at frame level, is tested in a Debian-kernel guest
# (tests/guest-kernel/macrange.sh).
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/../lib/tg.sh"
tg_start "$@"
tg_helper
tg_bridge_with_port br0 1500
tg_acl "allow br0"
C=/etc/tapgate.conf
tg_monitor_start
tg_state_baseline

# The cases below are about this kernel: one with tc flower would grant.
if grep -qE ' (fl_classify|tcf_gact_act)$' /proc/kallsyms; then
    tg_skip "this kernel has tc flower or gact: the refusal cannot be tested here"
fi

tg_conf "[bridge br0]" "guest_mac = 52:54:00:12:34:00/40" \
    "[bridge br0 group tglab]" "guest_mac = 52:54:00:a0:00:00/ff:ff:ff:ff:00:00" \
    "[bridge br0 user tgbob]" "guest_mac = any"

# --- a request with a range: refused, nothing left -------------------------------
tg_monitor_sync
tg_spawn tguser -- "$TG_H"
tg_expect_refusal "guest_mac needs tc flower (cls_flower), which this kernel lacks"
[ "$(tg_lines "$TG_ERR")" = 1 ] || tg_problem "want one stderr line"
tg_monitor_sync || tg_problem "the interface monitor did not answer"
# The tap existed for a moment (the filter goes on it before it joins the
# bridge), and was gone with the helper.
[ -n "$TG_SEEN" ] || tg_problem "no tap was seen at all: the refusal did not come from the kernel"
tg_expect_nothing_left
tg_verdict "guest_mac on br0 without tc flower: refused with one line, nothing left ($TG_ERR)"

tg_spawn tgalice -- "$TG_H"
tg_expect_refusal "guest_mac needs tc flower (cls_flower)"
tg_expect_nothing_left
tg_verdict "... the same for a group section's range (tgalice, tglab)"

# --- "any" lifts the range --------------------------------------------------------
tg_hold tgbob -- "$TG_H"
tg_expect_grant
tap=${TG_R[ifname]:-none}
[ -e "/sys/class/net/br0/brif/$tap" ] || tg_problem "$tap is not on br0"
qdiscs=$(tc qdisc show dev "$tap" ingress 2>&1)
[ -z "$qdiscs" ] || tg_problem "an ingress qdisc on $tap: $qdiscs"
tg_release
tg_verdict "guest_mac = any in tgbob's section: granted, no filter on the tap"

tg_conf "[defaults]" "guest_mac = any"
tg_spawn tguser -- "$TG_H"; tg_expect_grant
tg_verdict "guest_mac = any alone: a plain grant"

# --- --explain --------------------------------------------------------------------
has() {
    grep -qxF -- "$1" <<< "$(tr -s ' ' <<< "$TG_OUT")" || tg_problem "missing line \"$1\" in:"$'\n'"$TG_OUT"
}
tg_conf "[bridge br0]" "guest_mac = 52:54:00:12:34:00/40" \
    "[bridge br0 group tglab]" "guest_mac = 52:54:00:a0:00:00/ff:ff:ff:ff:00:00" \
    "[bridge br0 user tgbob]" "guest_mac = any"
tg_run tguser --explain --br=br0
tg_expect_rc 1
has " guest_mac 52:54:00:12:34:00/40 ($C:2)"
has "guests send from 52:54:00:12:34:00 to 52:54:00:12:34:ff; frames from other addresses are dropped"
has "a request would be refused: guest_mac needs tc flower (cls_flower) and the tc gact action (act_gact), which this kernel lacks"
tg_verdict "--explain: the range, its line, the addresses, and the refusal this kernel gives"
tg_run tgalice --explain --br=br0
has " guest_mac 52:54:00:a0:00:00/32 ($C:4)"
has "guests send from 52:54:00:a0:00:00 to 52:54:00:a0:ff:ff; frames from other addresses are dropped"
tg_verdict "--explain for tgalice: her group's range, shown as a prefix length"
tg_run tgbob --explain --br=br0
tg_expect_rc 0
has " guest_mac any ($C:6)"
has "a request would be granted"
grep -q "guests send from" <<< "$TG_OUT" && tg_problem "a range shown for tgbob"
tg_verdict "--explain for tgbob: any, granted"
tg_run tguser --explain --br=br0 --json
"${PYTHON:-python3}" -c '
import json, sys
x = json.load(sys.stdin)
assert x["settings"]["values"]["guest_mac"] == {"value": "52:54:00:12:34:00/40", "origin": sys.argv[1] + ":2"}, x["settings"]
assert x["granted"] is False and x["refused"].startswith("guest_mac needs tc flower (cls_flower)"), x
' "$C" <<< "$TG_OUT" 2> "$TG_ROOT/json.err" || tg_problem "$(cat "$TG_ROOT/json.err")"
tg_verdict "--explain --json: settings.values.guest_mac, and the refusal"
tg_conf
tg_run tguser --explain --br=br0
has " guest_mac any (default)"
tg_verdict "--explain without tapgate.conf: guest_mac any (default)"

# --- bad values -------------------------------------------------------------------
tg_conf "[bridge br0]" "guest_mac = 52:54:00:12:34:56/40" "[defaults]" "guest_mac = 01:00:5e:00:00:00/24"
tg_run root --check "$C"
tg_expect_rc 1
[[ $TG_EOUT == "$C:2: guest_mac = \"52:54:00:12:34:56/40\": bits set past the prefix /40 (did you mean 52:54:00:12:34:00/40?)"$'\n'"$C:4: guest_mac = \"01:00:5e:00:00:00/24\": 01:00:5e:00:00:00 is a multicast address"* ]] ||
    tg_problem "--check: $TG_EOUT"
tg_spawn tgbob -- "$TG_H"
tg_expect_refusal "settings error: $C:2: guest_mac = \"52:54:00:12:34:56/40\": bits set past the prefix"
tg_verdict "bad ranges: --check names each with file:line, the helper refuses"

tg_elapsed
tg_done
