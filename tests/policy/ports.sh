#!/bin/bash
# Port settings from tapgate.conf, read back from the kernel: bridge port
# flags with their precedence (user > group > bridge > defaults, first
# matching group section in file order), tap name templates (also under
# concurrency), and a VLAN asked for on a bridge without VLAN filtering
# (this host's kernel has none: a clean refusal is all that can be tested
# here; VLANs themselves are tested in a VM).
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
pol_start "$@"
tg_bridge br0
tg_bridge br1
# The monitor ignores known bridges' own events (a port leaving changes
# the bridge): only new interfaces matter.
TGI_BRIDGES+=(br0 br1)
tg_acl "allow br0" "allow br1"
# A second group: tgalice is in tgteam and tglab, tgbob in tglab only.
echo "tgteam:x:4260:tgalice" >> /etc/group
tgi_monitor_start

# flags TAP: the port's flags as `bridge -d link` shows them, into FLAGS
# ("isolated=on hairpin=off ...").
FLAGS=
flags() {
    local out k
    out=$(bridge -d link show dev "$1")
    FLAGS=
    for k in isolated hairpin learning flood mcast_flood bcast_flood; do
        [[ $out =~ [[:space:]]$k\ (on|off) ]] && FLAGS+="$k=${BASH_REMATCH[1]} "
    done
    FLAGS=${FLAGS% }
}

# port USER BRIDGE WANT: USER's tap on BRIDGE has the flags WANT.
port() {
    pol_hold "$1" --br "$2" -- "$H"
    expect_grant
    if [ "${R[fd]:-}" = 1 ]; then
        flags "${R[ifname]}"
        [ "$FLAGS" = "$3" ] || problem "$1 on $2: $FLAGS, want $3"
        [ "$(cat "/sys/class/net/${R[ifname]}/operstate")" != down ] ||
            problem "$1 on $2: the tap is down"
    fi
    pol_release_all
}

DEFAULT="isolated=off hairpin=off learning=on flood=on mcast_flood=on bcast_flood=on"
port tguser br0 "$DEFAULT"
verdict "no tapgate.conf: the kernel's port defaults"

pol_conf "[bridge br0]" "isolated = yes" "hairpin = yes" "learning = no" \
    "unicast_flood = no" "multicast_flood = no" "broadcast_flood = no"
port tguser br0 "isolated=on hairpin=on learning=off flood=off mcast_flood=off bcast_flood=off"
verdict "every flag set on [bridge br0], read back from the kernel"
port tguser br1 "$DEFAULT"
verdict "... and not on br1"

pol_conf "[defaults]" "isolated = yes" "multicast_flood = no" \
    "[bridge br0]" "hairpin = yes" "isolated = no" \
    "[bridge br0 group tgteam]" "broadcast_flood = no" "learning = no" \
    "[bridge br0 group tglab]" "learning = yes" "hairpin = no" "broadcast_flood = yes" \
    "[bridge br0 user tgbob]" "hairpin = yes" "isolated = yes"
port tguser br0 "isolated=off hairpin=on learning=on flood=on mcast_flood=off bcast_flood=on"
verdict "bridge over defaults, defaults where the bridge is silent (tguser)"
port tgalice br0 "isolated=off hairpin=off learning=off flood=on mcast_flood=off bcast_flood=off"
verdict "group over bridge; first group section in file order wins (tgalice: tgteam before tglab)"
port tgbob br0 "isolated=on hairpin=on learning=on flood=on mcast_flood=off bcast_flood=on"
verdict "user over group over bridge (tgbob)"
port tgalice br1 "isolated=on hairpin=off learning=on flood=on mcast_flood=off bcast_flood=on"
verdict "[defaults] alone on another bridge"

# --- name templates -----------------------------------------------------------
name_is() {  # USER WANT
    pol_hold "$1" -- "$H"
    expect_grant
    [ "${R[ifname]:-}" = "$2" ] || problem "$1: tap ${R[ifname]:-none}, want $2"
    [ -e "/sys/class/net/br0/brif/${R[ifname]:-none}" ] || problem "$1: ${R[ifname]:-none} not on br0"
}
pol_conf "[bridge br0]" "name = vm%u%d"
name_is tgalice vmtgalice0
name_is tgalice vmtgalice1
name_is tgbob vmtgbob0
verdict "name = vm%u%d: vmtgalice0, vmtgalice1, vmtgbob0"
pol_release_all
pol_conf "[bridge br0]" "name = %i-%d" "[bridge br0 group tglab]" "name = lab%d" \
    "[bridge br0 user tgbob]" "name = b%u.%d"
name_is tguser 4242-0
name_is tgalice lab0
name_is tgbob btgbob.0
verdict "templates per bridge, group and user: 4242-0, lab0, btgbob.0"
pol_release_all
# A template whose first name is taken by an interface tapgate did not make
# (here a veth) does not collide: the kernel's counter skips it.
ip link add vmtgalice0 type veth peer name vmpeer0
pol_conf "[bridge br0]" "name = vm%u%d"
name_is tgalice vmtgalice1
[ -z "$(cat /sys/class/net/vmtgalice0/master 2>/dev/null)" ] && [ ! -e /sys/class/net/vmtgalice0/master ] ||
    problem "the veth vmtgalice0 was touched"
verdict "a name the template would give first is taken: the next one, the other interface untouched"
pol_release_all
ip link del vmtgalice0
# %i is given room for 10 digits whatever the uid (any uid must fit), so
# "u%i-%d" (1 + 10 + 1 + 4 for the counter = 16) is refused up front, with
# file:line, rather than failing only for users with long uids.
pol_conf "[bridge br0]" "name = u%i-%d"
out=$("$H" --check /etc/tapgate.conf 2>&1)
[[ $out == *'/etc/tapgate.conf:2: name = "u%i-%d": too long'* ]] || problem "--check: $out"
pol_spawn tguser -- "$H"; expect_refusal 'settings error: /etc/tapgate.conf:2: name = "u%i-%d": too long'
verdict "name = u%i-%d is too long for a 10-digit uid: a settings error"

# A long user name is cut so the name fits in 15 characters with room for
# a 4-digit counter.
pol_user tgverylongusername 4300
tg_acl "allow br0" "allow br1"
pol_conf "[bridge br0]" "name = vm%u%d"
name_is tgverylongusername vmtgverylon0
verdict "a long user name is cut to fit: vmtgverylon0"
pol_release_all

# 20 concurrent requests: all granted, all names distinct (the kernel picks
# the lowest free %d under its own lock).
pol_conf "[bridge br0]" "name = %i-%d"
pol_gate_open
mkdir -p "$TG_ROOT/conc"
for ((i = 0; i < 20; i++)); do
    tg_as tguser "$TG_SPAWN" --keep 80 -- "$H" < "$TG_ROOT/gate" > "$TG_ROOT/conc/$i" \
        2> "$TG_ROOT/conc/$i.err" {POL_GATE_W}>&- &
    POL_HOLDERS+=($!)
done
# Every report is in when every helper is gone and 20 taps exist (or 30 s).
for ((k = 0; k < 300; k++)); do
    n=0
    for f in "$TG_ROOT"/conc/[0-9]*; do [[ $f == *.err ]] || { [ -s "$f" ] && n=$((n + 1)); }; done
    [ $n = 20 ] && break
    sleep 0.1
done
names=$(cat "$TG_ROOT"/conc/[0-9] "$TG_ROOT"/conc/[0-9][0-9] | grep -o 'ifname=[^ ]*' | sort -u)
want=$(for ((i = 0; i < 20; i++)); do echo "ifname=4242-$i"; done | sort)
[ "$names" = "$want" ] || problem "names: $(echo $names)"
granted=$(cat "$TG_ROOT"/conc/[0-9] "$TG_ROOT"/conc/[0-9][0-9] | grep -c '^exit=0 .* fd=1 ')
[ "$granted" = 20 ] || problem "granted $granted of 20: $(cat "$TG_ROOT"/conc/*.err | head -n 3)"
verdict "20 concurrent requests with name = %i-%d: all granted, 4242-0 .. 4242-19"
pol_release_all
for t in $(tg_taps); do tgi_gone "$t" || problem "$t left"; done
verdict "all 20 gone with their callers"

# --- VLAN on a bridge without VLAN filtering ------------------------------------
tgi_monitor_sync
pol_conf "[bridge br0]" "isolated = yes" "[bridge br0 user tgbob]" "vlan = 20"
pol_spawn tgbob -- "$H"
expect_refusal "tapgate.conf sets vlan 20 for bridge br0, which has VLAN filtering off"
tgi_monitor_sync || problem "the interface monitor did not answer"
[ -z "$MON_SEEN" ] || problem "interfaces appeared: $MON_SEEN"
expect_nothing_left
verdict "vlan = 20 for tgbob on a non-filtering br0: refused, no tap even for a moment"
ports=$(ls /sys/class/net/br0/brif)
[ -z "$ports" ] || problem "br0 has ports: $ports"
pol_spawn tgalice -- "$H"; expect_grant
verdict "... while tgalice (no vlan) still gets her tap"
pol_conf "[defaults]" "vlan = 7"
tgi_monitor_sync
pol_spawn tguser --br br1 -- "$H"; expect_refusal "sets vlan 7 for bridge br1"
tgi_monitor_sync
[ -z "$MON_SEEN" ] || problem "interfaces appeared: $MON_SEEN"
verdict "vlan in [defaults]: refused on br1 as well, nothing created"

expect_nothing_left
verdict "nothing left behind"
pol_elapsed
tg_done
