#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The fault walk: a -Dfault_injection=true build, setuid as usual,
# run by an unprivileged user with TAPGATE_FAULT=STEP:ACTION, killed, exited
# or stopped (then killed by the caller) at every step. Each time the caller
# must see a failure, never a half-configured tap, and once the caller has
# closed everything nothing is left: no tap, bridge ports and MTU unchanged,
# no helper process. Then the netlink failures: the bridge deleted (or
# replaced) between check and attach, and a bridge at its 1023-port limit.
#
# With guest_mac, the same at the step between the ingress qdisc and the
# tc flower filters, and the refusal of a kernel without tc flower.
#
# Env (meson sets them): TAPGATE_BUILD_ROOT (a fault-injection build),
# TG_SPAWN; HELPER overrides the binary under test.
. "$(dirname "${BASH_SOURCE[0]}")/../lib/tg.sh"
tg_start "$@"
tg_helper
SCR=$TG_ROOT/scratch
SECONDS=0

# br0 gets a veth port, so "port count unchanged" compares against one.
tg_bridge_with_port br0 1500
tg_acl "allow br0" "allow brx" "allow brfull"
tg_state_baseline

# The build must really be a fault-injection build, or every case below
# would pass for the wrong reason.
tg_raw --setenv TAPGATE_FAULT=after-acl:exit -- --use-vnet --fd={fd} --br=br0
if [[ $TG_ERR != *"fault injection"* ]]; then
    echo "not a fault-injection build ($TG_HELPER_SRC): $TG_REPORT / $TG_ERR" >&2
    exit 1
fi

# --- every step, every action -----------------------------------------------
# fault STEP ACTION [DESC]: one request stopped there, that way.
fault() {
    local step=$1 action=$2 desc="${3:-$1:$2}" opts=(--setenv "TAPGATE_FAULT=$1:$2")
    # stop: the caller sees its child stopped and kills it, as a QEMU that
    # gives up would.
    [ $action = stop ] && { opts+=(--on-stop kill); desc+=" + SIGKILL"; }
    tg_raw "${opts[@]}" -- --use-vnet --fd={fd} --br=br0
    [ "$TG_RC" = 0 ] || tg_problem "caller exit $TG_RC (124: a hang)"
    [ "${TG_R[timeout]:-}" = 0 ] || tg_problem "helper hung"
    case $action in
    kill | stop) [ "${TG_R[signal]:-}" = 9 ] || tg_problem "want death by SIGKILL" ;;
    exit) [ "${TG_R[exit]:-}" = 1 ] || tg_problem "want exit 1" ;;
    esac
    [ $action = stop ] && [ "${TG_R[stopped]:-}" != 1 ] && tg_problem "helper never stopped"
    # Before the fd is sent no fd may come back; after it, the caller has
    # one but sees the helper fail, so it must not use it (QEMU checks the
    # exit status).
    if [ $step != after-send ]; then
        [ "${TG_R[fd]:-}" = 0 ] || tg_problem "an fd came back before the send step"
    else
        [ "${TG_R[fd]:-}" = 1 ] || tg_problem "after-send: the fd should have been sent"
    fi
    [[ $TG_ERR == *"fault injection: $action at $step"* ]] || tg_problem "fault point not reached"
    tg_verdict "fault $desc"
}
STEPS=(after-drop after-acl after-tap after-attach after-send)
for step in "${STEPS[@]}"; do
    for action in kill exit stop; do fault "$step" "$action"; done
done

# CAP_NET_ADMIN is only permitted between the steps: effective only
# around the tun and netlink calls that need it, never while files are
# parsed or NSS modules run. (CAP_NET_ADMIN is bit 12: 4096.)
tg_raw --setenv TAPGATE_FAULT=all:caps -- --use-vnet --fd={fd} --br=br0
[ "${TG_R[exit]:-}" = 0 ] && [ "${TG_R[fd]:-}" = 1 ] || tg_problem "want a grant: exit ${TG_R[exit]:-} fd ${TG_R[fd]:-}"
for step in "${STEPS[@]}"; do
    [[ $TG_ERR$'\n' == *"caps at $step: CapPrm=4096 CapEff=0"$'\n'* ]] ||
        tg_problem "at $step: $(grep -F "caps at $step:" <<< "$TG_ERR")"
done
tg_verdict "CAP_NET_ADMIN permitted, not effective, at every step"

# The admin modes: a user's --list, like --check and --explain, runs with
# no capability at all; root's --list keeps only what reading other users'
# /proc/PID/fd takes (CAP_DAC_READ_SEARCH, bit 2, and CAP_SYS_PTRACE, bit
# 19), and --remove CAP_NET_ADMIN besides.
for args in "--list" "--list --json" "--check" "--explain --br=br0"; do
    tg_raw --setenv TAPGATE_FAULT=admin:caps -- $args
    [[ $TG_ERR$'\n' == *"caps at admin: CapPrm=0 CapEff=0"$'\n'* ]] || tg_problem "$args: $TG_ERR"
done
tg_verdict "a user's --list, --check and --explain run with no capability"
tg_raw --as root --setenv TAPGATE_FAULT=admin:caps -- --list
[[ $TG_ERR$'\n' == *"caps at admin: CapPrm=524292 CapEff=524292"$'\n'* ]] || tg_problem "root --list: $TG_ERR"
tg_raw --as root --setenv TAPGATE_FAULT=admin:caps -- --remove-unused
[[ $TG_ERR$'\n' == *"caps at admin: CapPrm=528388 CapEff=528388"$'\n'* ]] || tg_problem "root --remove-unused: $TG_ERR"
tg_verdict "root's --list and --remove keep only the capabilities they use"

# Calls the hardening relies on, made to fail by a seccomp filter (as
# root: a user would need no_new_privs for it, and setuid would then do
# nothing). The helper must either get the job done another way or refuse.
tg_raw --as root --fail close_range --open 3 --setenv TAPGATE_FAULT=after-acl:fds -- --use-vnet --fd={fd} --br=br0
[ "${TG_R[exit]:-}" = 0 ] && [ "${TG_R[fd]:-}" = 1 ] || tg_problem "want a grant: exit ${TG_R[exit]:-} fd ${TG_R[fd]:-}"
fds=$(sed -n 's/.*fds at after-acl: //p' <<< "$TG_ERR")
# 0, 1, 2, the socket and the quota lock file.
[ "$(wc -w <<< "$fds")" = 5 ] || tg_problem "open fds after closing: $fds"
tg_verdict "close_range fails (ENOSYS): the inherited fds are closed all the same"
for call in prctl-dumpable prctl-nnp; do
    tg_raw --as root --fail "$call" -- --use-vnet --fd={fd} --br=br0
    [ "${TG_R[exit]:-}" = 1 ] && [ "${TG_R[fd]:-}" = 0 ] || tg_problem "want a refusal: exit ${TG_R[exit]:-} fd ${TG_R[fd]:-}"
    [[ $TG_ERR == "tapgate: privilege drop failed: "* ]] || tg_problem "stderr: $TG_ERR"
    tg_verdict "$call fails: the helper refuses (${TG_ERR#tapgate: })"
done

# While the helper is stopped after attaching, the tap is there and on the
# bridge: proof that the steps are where their names say, so that "nothing
# left" above means the kernel cleaned up, not that nothing was made.
tg_raw --setenv TAPGATE_FAULT=after-attach:stop --on-stop kill --stop-gate "$SCR/gate1" \
    -- --use-vnet --fd={fd} --br=br0 &
pid=$!
for ((i = 0; i < 2000; i++)); do [ -e "$SCR/gate1.stopped" ] && break; sleep 0.01; done
tg_taps; during_taps=${TG_TAPS// /,}
during_ports=$(ls /sys/class/net/br0/brif | tr '\n' ,)
touch "$SCR/gate1"
wait $pid
tg_parse_report; TG_RC=0
[[ $during_taps == tap* ]] || tg_problem "no tap while stopped after attach ($during_taps)"
[[ $during_ports == *tap* ]] || tg_problem "tap not on br0 while stopped after attach ($during_ports)"
tg_verdict "after-attach:stop: tap on the bridge while stopped, gone after SIGKILL"

# --- guest_mac: the filter, before the tap joins the bridge ------------------
# The ingress qdisc goes on the new tap first, then the flower filters
# (which this host's kernel lacks), and only then does the tap join the
# bridge: killed in between, or refused by the kernel, nothing is left.
tg_conf "[bridge br0]" "guest_mac = 52:54:00:12:34:00/40"
for action in kill exit stop; do fault after-qdisc "$action" "guest_mac, after-qdisc:$action"; done
tg_raw --setenv TAPGATE_FAULT=after-qdisc:caps -- --use-vnet --fd={fd} --br=br0
[[ $TG_ERR$'\n' == *"caps at after-qdisc: CapPrm=4096 CapEff=0"$'\n'* ]] || tg_problem "$TG_ERR"
tg_verdict "guest_mac: CAP_NET_ADMIN not effective once the qdisc is in place"
tg_raw --setenv TAPGATE_FAULT=after-qdisc:stop --on-stop kill --stop-gate "$SCR/gate2" \
    -- --use-vnet --fd={fd} --br=br0 &
pid=$!
for ((i = 0; i < 2000; i++)); do [ -e "$SCR/gate2.stopped" ] && break; sleep 0.01; done
tg_taps
tap=${TG_TAPS%% *}
if [ -z "$tap" ]; then
    tg_problem "no tap while stopped after the qdisc"
else
    [ -n "$(tc qdisc show dev "$tap" ingress)" ] || tg_problem "$tap has no ingress qdisc"
    [ ! -e "/sys/class/net/br0/brif/$tap" ] || tg_problem "$tap is on br0 before its filter is complete"
fi
touch "$SCR/gate2"
wait $pid
tg_parse_report; TG_RC=0
tg_verdict "after-qdisc:stop: the tap has its qdisc and is not on the bridge; gone after SIGKILL"
if ! grep -qE ' fl_classify$' /proc/kallsyms; then
    tg_raw -- --use-vnet --fd={fd} --br=br0
    [ "${TG_R[exit]:-}" = 1 ] && [ "${TG_R[fd]:-}" = 0 ] || tg_problem "want a refusal: exit ${TG_R[exit]:-} fd ${TG_R[fd]:-}"
    [[ $TG_ERR == "tapgate: guest_mac needs tc flower (cls_flower), which this kernel lacks"* ]] ||
        tg_problem "stderr: $TG_ERR"
    tg_verdict "guest_mac on a kernel without tc flower: refused at the filter, nothing left"
fi
tg_conf

# --- a name taken between its choice and the tap ------------------------------
# tapgate picks the number for %d itself (the lowest that no interface
# has) and asks the kernel for a new device of that name only
# (IFF_TUN_EXCL): a persistent tap of that name made meanwhile by the
# caller, who may, must not be attached to and put on the bridge; the
# request takes the next free name.
tg_bridge brx 1500
gate=$SCR/gname
tg_raw --setenv TAPGATE_FAULT=name-chosen:stop --on-stop cont --stop-gate "$gate" \
    -- --use-vnet --fd={fd} --br=brx &
pid=$!
for ((i = 0; i < 2000; i++)); do [ -e "$gate.stopped" ] && break; sleep 0.01; done
[ -e "$gate.stopped" ] || tg_problem "helper never stopped"
ip tuntap add tap0 mode tap user "$TG_USER"
touch "$gate"
wait $pid
tg_parse_report
[ "${TG_R[fd]:-}" = 1 ] && [ "${TG_R[ifname]:-}" = tap1 ] || tg_problem "want a new tap1: $TG_REPORT / $TG_ERR"
[ -e /sys/class/net/tap0/master ] && tg_problem "the persistent tap0 was put on the bridge"
[ "$(tg_read /sys/class/net/tap0/owner)" = "$TG_UID" ] || tg_problem "tap0 changed owner"
ip link del tap0
ip link del brx
tg_verdict "a tap of the chosen name made meanwhile is neither attached to nor bridged: the next name"

# --- netlink failures -------------------------------------------------------
# gate_run NAME CMD...: run the helper stopped after creating its tap, run
# CMD (as root) while it is stopped, then SIGCONT it.
gate_run() {
    local gate=$SCR/$1 pid i
    shift
    tg_raw --setenv TAPGATE_FAULT=after-tap:stop --on-stop cont --stop-gate "$gate" \
        -- --use-vnet --fd={fd} --br=brx &
    pid=$!
    for ((i = 0; i < 2000; i++)); do [ -e "$gate.stopped" ] && break; sleep 0.01; done
    [ -e "$gate.stopped" ] || tg_problem "helper never stopped"
    "$@"
    touch "$gate"
    wait $pid
    tg_parse_report; TG_RC=0
}
# A clear refusal after the fault line: exit 1, no fd, last line tapgate:.
refused_after_fault() {
    local last
    [ "${TG_R[exit]:-}" = 1 ] || tg_problem "exit ${TG_R[exit]:-}, want 1"
    [ "${TG_R[fd]:-}" = 0 ] || tg_problem "an fd came back"
    [ "$(tg_lines "$TG_ERR")" = 2 ] || tg_problem "want the fault line and one message"
    last=$(printf '%s\n' "$TG_ERR" | tail -n 1)
    [[ $last == "tapgate: "* ]] || tg_problem "last line does not start with 'tapgate: '"
    [ -n "${1:-}" ] && ! [[ $last =~ $1 ]] && tg_problem "message does not match /$1/"
}

tg_bridge brx 1500
gate_run g2 ip link del brx
# Any clear refusal will do. (The kernel answers EINVAL, not ENODEV, for a
# master ifindex that no longer exists, so the message may say only that.)
refused_after_fault
tg_note "    message: ${TG_ERR##*$'\n'}"
tg_verdict "bridge deleted between check and attach"

tg_bridge brx 1500
# (veth, not dummy: this kernel has no dummy driver.)
gate_run g3 eval 'ip link del brx && ip link add brx type veth peer name brxp && ip link set brx up'
refused_after_fault
tg_note "    message: ${TG_ERR##*$'\n'}"
[ -e /sys/class/net/brx ] && [ ! -e /sys/class/net/brx/bridge ] || tg_problem "brx is not the veth"
ip link del brx
tg_verdict "bridge replaced by a veth of the same name between check and attach"

tg_bridge brx 1500
gate_run g4 eval 'ip link del brx && ip link add brx type bridge && ip link set brx up'
# Acting on the ifindex it checked, the helper must not attach to a
# different bridge that took the name.
refused_after_fault
tg_note "    message: ${TG_ERR##*$'\n'}"
[ -z "$(ls /sys/class/net/brx/brif)" ] || tg_problem "a port on the new brx"
ip link del brx
tg_verdict "bridge replaced by another bridge of the same name between check and attach"

# Once created, the tap is addressed by its interface index only: an
# interface that takes its name meanwhile (a caller with CAP_NET_ADMIN in
# a network namespace of its own could arrange that) is never touched.
tg_bridge brx 1500
swap_tap() {
    local t
    tg_taps
    t=${TG_TAPS%% *}
    [ -n "$t" ] || { tg_problem "no tap while stopped"; return; }
    ip link set "$t" name tgmoved && ip link add "$t" type veth peer name tgdecoy && DECOY=$t
}
DECOY=
gate_run g5 swap_tap
[ "${TG_R[exit]:-}" = 0 ] && [ "${TG_R[fd]:-}" = 1 ] || tg_problem "want a grant: exit ${TG_R[exit]:-} fd ${TG_R[fd]:-}"
[ "${TG_R[ifname]:-}" = tgmoved ] || tg_problem "the fd is not for the renamed tap: ${TG_R[ifname]:-}"
if [ -n "$DECOY" ]; then
    [ ! -e "/sys/class/net/$DECOY/master" ] || tg_problem "the decoy $DECOY was attached to brx"
    ip link del "$DECOY"
fi
ip link del brx
tg_verdict "tap renamed and its name taken between creation and attach: the decoy is untouched"

# 1023 ports (the kernel's BR_MAX_PORTS - 1): veths (no dummy driver here),
# added in one batch.
tg_bridge brfull 1500
{
    for ((i = 0; i < 1023; i++)); do
        echo "link add tgd$i type veth peer name tgp$i"
        echo "link set tgd$i master brfull"
    done
} > "$SCR/batch"
ip -batch "$SCR/batch"
nports=$(ls /sys/class/net/brfull/brif | wc -l)
if [ "$nports" != 1023 ]; then
    tg_fail "could not make 1023 ports on brfull ($nports)"
else
    tg_raw -- --use-vnet --fd={fd} --br=brfull
    [ "$TG_RC" = 0 ] || tg_problem "caller exit $TG_RC"
    [ "${TG_R[exit]:-}" = 1 ] || tg_problem "exit ${TG_R[exit]:-}, want 1"
    [ "${TG_R[fd]:-}" = 0 ] || tg_problem "an fd came back"
    [ "$(tg_lines "$TG_ERR")" = 1 ] || tg_problem "want one stderr line"
    [[ $TG_ERR == "tapgate: "*1023* ]] || tg_problem "message does not name the limit"
    [ "$(ls /sys/class/net/brfull/brif | wc -l)" = 1023 ] || tg_problem "brfull port count changed"
    tg_note "    message: $TG_ERR"
    tg_verdict "bridge at its 1023-port limit"
fi

tg_note "walk: ${SECONDS}s"
tg_done
