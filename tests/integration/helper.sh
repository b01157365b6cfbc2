#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# tapgate as QEMU meets it: a root-owned 4755 copy run by an unprivileged
# user through tg-spawn (socketpair, fork, exec, one recvmsg, waitpid), in a
# throwaway network + mount namespace. Success paths check the tap itself;
# every refusal must exit 1 with one "tapgate:" line, pass no fd, and leave
# no trace: no interface appears even for a moment, bridges are unchanged.
#
# Env: TAPGATE_BUILD_ROOT, TG_SPAWN (meson sets both); HELPER overrides the
# binary under test.
. "$(dirname "${BASH_SOURCE[0]}")/../lib/tg.sh"
tg_start "$@"
tg_monitor_start
tg_helper
T0=$EPOCHREALTIME

tg_bridge_with_port br0 1500
tg_bridge_with_port br9k 9000
tg_bridge_with_port br1 1500
LONG15=tgbr456789abcde   # 15 bytes: the longest name the kernel takes
tg_bridge_with_port "$LONG15" 1500

# --- checks -------------------------------------------------------------------

# ok DESC BRIDGE VNET USER [tg-spawn options] -- HELPER...: the helper gives
# USER a tap on BRIDGE as QEMU wants it; it goes away with the fd.
ok() {
    local desc=$1 br=$2 vnet=$3
    shift 3
    local before t= want_mtu
    tg_bridge_state mac
    before=$TG_BRIDGE_STATE
    tg_hold "$@"
    [ "${TG_R[exit]:-}" = 0 ] || tg_problem "exit ${TG_R[exit]:-none}, want 0"
    [ "${TG_R[fd]:-}" = 1 ] && [ "${TG_R[nfds]:-}" = 1 ] || tg_problem "want exactly one fd, got ${TG_R[nfds]:-none}"
    [ "${TG_R[bytes]:-}" = 1 ] || tg_problem "payload of ${TG_R[bytes]:-?} bytes, want 1"
    [ -z "$TG_ERR" ] || tg_problem "stderr not empty"
    if [ "${TG_R[fd]:-}" = 1 ]; then
        t=${TG_R[ifname]}
        [ "${TG_R[chardev]}" = 1 ] || tg_problem "fd is not /dev/net/tun"
        [ "${TG_R[tap]} ${TG_R[no_pi]} ${TG_R[multi_queue]}" = "1 1 0" ] ||
            tg_problem "TUNGETIFF: tap=${TG_R[tap]} no_pi=${TG_R[no_pi]} multi_queue=${TG_R[multi_queue]}"
        [ "${TG_R[vnet_hdr]}" = "$vnet" ] || tg_problem "TUNGETIFF: vnet_hdr=${TG_R[vnet_hdr]}, want $vnet"
        tg_tap_state "$t"
        read -r want_mtu < "/sys/class/net/$br/mtu"
        [ "$TG_TAP_STATE" = "k_tap=1 k_no_pi=1 k_vnet_hdr=$vnet mtu=$want_mtu mac0=fe master=$br up=1" ] ||
            tg_problem "tap $t: $TG_TAP_STATE (want mtu=$want_mtu mac0=fe master=$br up=1, vnet_hdr=$vnet)"
        # The bridge keeps its MTU and MAC and gains exactly this port.
        [ -e "/sys/class/net/$br/brif/$t" ] || tg_problem "$t is not a port of $br"
        tg_bridge_state mac
        local without=${TG_BRIDGE_STATE//=$t,/=}
        without=${without//,$t,/,}
        [ "$without" = "$before" ] ||
            tg_problem "bridges changed: $(diff <(echo "$before") <(echo "$TG_BRIDGE_STATE") | grep '^[<>]' | tr '\n' ' ')"
    fi
    tg_release
    if [ -n "$t" ]; then
        tg_gone "$t" || tg_problem "tap $t still there after the fd was closed"
    fi
    tg_bridge_state mac
    [ "$TG_BRIDGE_STATE" = "$before" ] || tg_problem "bridges not back to their state before"
    tg_monitor_sync || tg_problem "ip monitor lost track"
    [ "$TG_SEEN" = "$t" ] || tg_problem "interfaces seen during the run: '$TG_SEEN', want only the tap"
    tg_taps
    [ -z "$TG_TAPS" ] || tg_problem "tun interfaces left: $TG_TAPS"
    tg_verdict "$desc"
}

# refused [--late] DESC REGEX USER [tg-spawn options] -- HELPER...: exit 1,
# no fd, one stderr line "tapgate: ..." matching REGEX (bash =~), nothing
# made or changed. --late: the failure can only show once the tap exists, so
# a tap may appear for a moment, but must be gone.
refused() {
    local late=
    if [ "$1" = --late ]; then
        late=1
        shift
    fi
    local desc=$1 regex=$2
    shift 2
    local before newlines
    tg_bridge_state mac
    before=$TG_BRIDGE_STATE
    tg_spawn "$@"
    [ "${TG_R[exit]:-}" = 1 ] || tg_problem "exit ${TG_R[exit]:-none} (signal ${TG_R[signal]:-?}), want 1"
    [ "${TG_R[fd]:-}" = 0 ] || tg_problem "an fd arrived (${TG_R[ifname]:-?})"
    [ "${TG_R[timeout]:-}" = 0 ] || tg_problem "helper hung"
    newlines=${TG_ERR//[^$'\n']/}
    [ -n "$TG_ERR" ] && [ -z "$newlines" ] || tg_problem "stderr must be exactly one line"
    [[ "$TG_ERR" == "tapgate: "* ]] || tg_problem "stderr does not start with 'tapgate: '"
    [ -z "$regex" ] || [[ $TG_ERR =~ $regex ]] || tg_problem "message does not match /$regex/"
    tg_bridge_state mac
    [ "$TG_BRIDGE_STATE" = "$before" ] || tg_problem "bridges changed"
    tg_monitor_sync || tg_problem "ip monitor lost track"
    [ -z "$TG_SEEN" ] || [ -n "$late" ] || tg_problem "interfaces created during the run: $TG_SEEN"
    tg_taps
    [ -z "$TG_TAPS" ] || tg_problem "tun interfaces left: $TG_TAPS"
    tg_verdict "$desc"
}

# A fresh bridge.conf (root:root 0644) whatever the previous case did to it.
acl() {
    rm -f /etc/qemu/bridge.conf
    tg_acl "$@"
}

U=$TG_USER

# --- success paths --------------------------------------------------------

acl "allow br0" "allow br9k" "allow $LONG15"
ok "argv form: tap with vnet header on br0" br0 1 $U -- "$TG_H"
ok "argv form without --use-vnet: no vnet header" br0 0 $U --no-vnet -- "$TG_H"
ok "bridge with MTU 9000: the tap gets 9000" br9k 1 $U --br br9k -- "$TG_H"
ok "bridge with MTU 9000, no vnet header" br9k 0 $U --br br9k --no-vnet -- "$TG_H"
ok "15-character bridge name" "$LONG15" 1 $U --br "$LONG15" -- "$TG_H"
ok "sh -c form, --br in the helper string (QEMU then omits its own)" br0 1 \
    $U --sh -- "$TG_H --br=br0"
ok "sh -c form, options in another order, --use-vnet twice" br0 1 \
    $U --sh --no-br -- "$TG_H --use-vnet --br=br0"
ok "sh -c form, helper string with --use-vnet, QEMU adds --fd and --br" br0 1 \
    $U --sh -- "$TG_H --use-vnet"
ok "argv form: --use-vnet repeated three times" br0 1 $U -- "$TG_H" --use-vnet --use-vnet
ok "argv form: --fd first, --br before --use-vnet" br0 1 \
    $U --no-fd --no-br --no-vnet -- "$TG_H" "--fd={fd}" --br=br0 --use-vnet
ok "two-word forms --br NAME --fd N" br0 0 \
    $U --no-fd --no-br --no-vnet -- "$TG_H" --br br0 --fd "{fd}"
ok "the same --br and --fd twice is harmless" br0 1 \
    $U -- "$TG_H" --br=br0 "--fd={fd}"
ok "caller closed stdin and stdout" br0 1 $U --close-std -- "$TG_H"
ok "caller closed stdin, stdout and stderr" br0 1 $U --close-std --close-stderr -- "$TG_H"
ok "socket passed as fd 3" br0 1 $U --fd-num 3 -- "$TG_H"
NLCB=debug NLDBG=4 ok "caller's NLCB/NLDBG (libnl debugging) are ignored" br0 1 $U -- "$TG_H"
ok "socket passed as fd 1000" br0 1 $U --fd-num 1000 -- "$TG_H"

# --- refusals: command line ----------------------------------------------

refused "unknown option" 'bogus' $U -- "$TG_H" --bogus
refused "single-dash unknown option" '' $U -- "$TG_H" -x
refused "two different --br" 'br1' $U -- "$TG_H" --br=br1
refused "two different --fd" '' $U -- "$TG_H" --fd=1000
refused "missing --br" 'br' $U --no-br -- "$TG_H"
refused "missing --fd" 'fd' $U --no-fd -- "$TG_H"
refused "--br without a value at the end" '' $U --no-br --no-fd --no-vnet -- "$TG_H" "--fd={fd}" --br
refused "--fd=+N" '' $U --fd-arg '+{fd}' -- "$TG_H"
refused "--fd=Nx" '' $U --fd-arg '{fd}x' -- "$TG_H"
refused "--fd= (empty)" '' $U --fd-arg '' -- "$TG_H"
refused "--fd=0x5 with a socket at fd 5" '' $U --fd-num 5 --fd-arg 0x5 -- "$TG_H"
refused "--fd=-1" '' $U --fd-arg -1 -- "$TG_H"
refused "--fd=' N' (leading space)" '' $U --fd-arg ' {fd}' -- "$TG_H"
refused "--fd=99999999999 (overflow)" '' $U --fd-arg 99999999999 -- "$TG_H"
refused "--fd=0 with the socket at fd 0" '' $U --fd-num 0 -- "$TG_H"
refused "--fd=1 with the socket at fd 1" '' $U --fd-num 1 -- "$TG_H"
refused "--fd=2" '' $U --fd-arg 2 -- "$TG_H"
refused "--fd names no open fd" '' $U --fd-kind closed --fd-num 9 -- "$TG_H"
refused "--fd is a pipe" '' $U --fd-kind pipe -- "$TG_H"
refused "--fd is a regular file" '' $U --fd-kind file -- "$TG_H"
refused "--fd is a unix datagram socket" '' $U --fd-kind dgram -- "$TG_H"
refused "--fd is a unix seqpacket socket" '' $U --fd-kind seqpacket -- "$TG_H"
refused "--fd is an unconnected unix stream socket" '' $U --fd-kind unconnected -- "$TG_H"
refused "--fd is a connected TCP socket" '' $U --fd-kind inet -- "$TG_H"
refused --late "the caller closed its end of the socket" '' $U --close-peer -- "$TG_H"
refused "bridge name of 16 characters" '' $U --br tgbr456789abcdef -- "$TG_H"
refused "empty bridge name" '' $U --br '' -- "$TG_H"
refused "bridge name with a slash" '' $U --br 'br/0' -- "$TG_H"

# --- refusals: ACL --------------------------------------------------------

acl "allow br1"
refused "ACL: no rule allows br0" 'br0' $U -- "$TG_H"
acl "allow br1" "deny br0"
refused "ACL: explicit deny names the rule" 'br0.*/etc/qemu/bridge\.conf:2' $U -- "$TG_H"
acl "allow br0" "deny br0"
refused "ACL: deny beats allow (allow first)" '/etc/qemu/bridge\.conf:2' $U -- "$TG_H"
acl "deny all" "allow br0"
refused "ACL: deny all beats allow br0 (deny first)" '/etc/qemu/bridge\.conf:1' $U -- "$TG_H"
acl "allow all" "deny br0"
refused "ACL: deny br0 beats allow all" '/etc/qemu/bridge\.conf:2' $U -- "$TG_H"
rm -f /etc/qemu/bridge.conf
refused "ACL file missing" '/etc/qemu/bridge\.conf' $U -- "$TG_H"
acl "allow br0" "allow br0 br1"
refused "ACL syntax error names file:line" '/etc/qemu/bridge\.conf:2' $U -- "$TG_H"
acl "allow br0" "frobnicate br0"
refused "ACL unknown command names file:line" '/etc/qemu/bridge\.conf:2' $U -- "$TG_H"
acl "allow br0"
chmod 0666 /etc/qemu/bridge.conf
refused "ACL file writable by others" '/etc/qemu/bridge\.conf' $U -- "$TG_H"
acl "allow br0"
chown "$TG_USER" /etc/qemu/bridge.conf
refused "ACL file owned by the user" '/etc/qemu/bridge\.conf' $U -- "$TG_H"

# An alternative name resolves to the bridge in the kernel, but the ACL only
# ever sees the name asked for: check and use must see the same name
# (CVE-2019-13164 was the same mistake through truncation).
ip link property add dev br0 altname tgalt0
acl "deny br0" "allow all"
refused "altname of a bridge the ACL denies by name" '' $U --br tgalt0 -- "$TG_H"
ip link property del dev br0 altname tgalt0

# --- refusals: the system -------------------------------------------------

acl "allow all"
refused "bridge does not exist (message names it)" 'nosuchbr' $U --br nosuchbr -- "$TG_H"
before_v=$(ip -o link show tgv0b | sed 's/^[0-9]*: //')
refused "interface is not a bridge (veth, message names it)" 'tgv0b' $U --br tgv0b -- "$TG_H"
[ "$(ip -o link show tgv0b | sed 's/^[0-9]*: //')" = "$before_v" ] &&
    tg_pass "the veth is unchanged" || tg_fail "the veth changed"
refused "interface is not a bridge (lo)" 'lo' $U --br lo -- "$TG_H"
tg_tun_mode 0600
refused "/dev/net/tun not accessible" '/dev/net/tun' $U -- "$TG_H"
tg_tun_mode 0666
PLAIN=$TG_ROOT/bin/tapgate-plain
install -o root -g root -m 0755 "$TG_HELPER_SRC" "$PLAIN"
refused "no privilege at all (0755, no capability)" '' $U -- "$PLAIN"

# --- other modes, through the setuid copy ---------------------------------

out=$(tg_as $U "$TG_H" --help 2>&1)
[ $? = 0 ] && [[ $out == *"--br="* ]] && tg_pass "--help: exit 0, usage" ||
    tg_fail "--help: $out"
out=$(tg_as $U "$TG_H" --version 2>&1)
[ $? = 0 ] && [[ $out == tapgate\ [0-9]* ]] && tg_pass "--version: exit 0, version" ||
    tg_fail "--version: $out"
# --check runs without privileges: root's files stay closed to the caller.
out=$(tg_as $U "$TG_H" --check /etc/shadow 2>&1)
[ $? != 0 ] && [[ $out != *root:* ]] && tg_pass "--check /etc/shadow as a user: refused, nothing shown" ||
    tg_fail "--check /etc/shadow: $out"

# --- concurrency ---------------------------------------------------------

# Several helpers at once, as when a user starts a few guests: each gets its
# own tap on the bridge, and all vanish with their fds.
concurrent() {
    local n=6 i try w line t taps=() pids=()
    acl "allow br0"
    mkfifo "$TG_ROOT/conc.in"
    # Read-write: opening does not block, and closing it is the only
    # writer going away, so every tg-spawn then sees end of file.
    exec {w}<> "$TG_ROOT/conc.in"
    for ((i = 0; i < n; i++)); do
        # Without our writer fd, or nobody ever sees end of file.
        (
            exec {w}>&-
            tg_as $U "$TG_SPAWN" --keep 30 -- "$TG_H" < "$TG_ROOT/conc.in" \
                > "$TG_ROOT/conc.$i" 2> "$TG_ROOT/conc.$i.err"
        ) &
        pids+=($!)
    done
    for ((i = 0; i < n; i++)); do
        line=
        for ((try = 0; try < 500; try++)); do
            IFS= read -r line < "$TG_ROOT/conc.$i" && break
            sleep 0.02
        done
        tg_parse_report "$line"
        if [ "${TG_R[fd]:-}" != 1 ]; then
            tg_problem "run $i: $line"
            continue
        fi
        taps+=("${TG_R[ifname]}")
    done
    [ "$(printf '%s\n' "${taps[@]}" | sort -u | wc -l)" = "$n" ] ||
        tg_problem "want $n distinct taps, got: ${taps[*]}"
    for t in "${taps[@]}"; do
        tg_tap_state "$t"
        [[ $TG_TAP_STATE == *"master=br0 up=1" ]] || tg_problem "$t: $TG_TAP_STATE"
    done
    exec {w}>&-
    wait "${pids[@]}"
    for t in "${taps[@]}"; do
        tg_gone "$t" || tg_problem "$t still there"
    done
    tg_monitor_sync || tg_problem "ip monitor lost track"
    TG_REPORT="(${#taps[@]} reports)"
    TG_ERR=
    tg_verdict "$n helpers at once each give their own tap"
}
concurrent

# --- other ways to run it ------------------------------------------------

acl "allow br0"
ok "root runs it directly (no setuid)" br0 1 root -- "$TG_HELPER_SRC"
refused "root is subject to the ACL" 'br9k' root --br br9k -- "$TG_HELPER_SRC"

if command -v setcap > /dev/null; then
    CAPCOPY=$TG_ROOT/bin/tapgate-cap
    install -o root -g root -m 0755 "$TG_HELPER_SRC" "$CAPCOPY"
    if setcap cap_net_admin+ep "$CAPCOPY"; then
        ok "file capability install (0755, cap_net_admin+ep)" br0 1 $U -- "$CAPCOPY"
        refused "file capability install obeys the ACL" 'br9k' $U --br br9k -- "$CAPCOPY"
    else
        tg_fail "setcap cap_net_admin+ep on $CAPCOPY failed"
    fi
else
    tg_fail "setcap not found (Debian package libcap2-bin)"
fi

# Per-user policy the documented way: an include only alice can read.
acl "include /etc/qemu/alice.conf"
printf 'allow br1\n' > /etc/qemu/alice.conf
chown root:"$TG_ALICE" /etc/qemu/alice.conf
chmod 0640 /etc/qemu/alice.conf
ok "per-user include: alice gets br1" br1 1 "$TG_ALICE" --br br1 -- "$TG_H"
refused "per-user include: bob is denied br1" 'br1' "$TG_BOB" --br br1 -- "$TG_H"
if [[ $TG_ERR == *alice* ]]; then
    tg_fail "bob's message mentions alice's file: $TG_ERR"
else
    tg_pass "bob's message does not mention alice's file"
fi
refused "per-user include: tguser is denied br1" 'br1' $U --br br1 -- "$TG_H"

awk -v a="$T0" -v b="$EPOCHREALTIME" 'BEGIN { printf "elapsed: %.1f s\n", b - a }' | tg_note
tg_done
