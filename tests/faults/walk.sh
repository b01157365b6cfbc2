#!/bin/bash
# The fault walk (issue 6): a -Dfault_injection=true build, setuid as usual,
# run by an unprivileged user with TAPGATE_FAULT=STEP:ACTION, killed, exited
# or stopped (then killed by the caller) at every step. Each time the caller
# must see a failure, never a half-configured tap, and once the caller has
# closed everything nothing is left: no tap, bridge ports and MTU unchanged,
# no helper process. Then the netlink failures: the bridge deleted (or
# replaced) between check and attach, and a bridge at its 1023-port limit.
#
# Env (meson sets them): TAPGATE_BUILD_ROOT (a fault-injection build),
# TG_SPAWN; HELPER overrides the binary under test.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/../lib/ns.sh"
tg_require_root
tg_isolate "$@"

. "$here/../hostile/lib.sh"
tg_acl "allow br0" "allow brx" "allow brfull"
state_baseline

# The build must really be a fault-injection build, or every case below
# would pass for the wrong reason.
hx --setenv TAPGATE_FAULT=after-acl:exit -- --use-vnet --fd={fd} --br=br0
if [[ $ERR != *"fault injection"* ]]; then
    echo "not a fault-injection build ($HELPER_SRC): $OUT / $ERR" >&2
    exit 1
fi

# --- every step, every action -----------------------------------------------
STEPS=(after-drop after-acl after-tap after-attach after-send)
for step in "${STEPS[@]}"; do
    for action in kill exit stop; do
        desc="$step:$action"
        opts=(--setenv "TAPGATE_FAULT=$step:$action")
        # stop: the caller sees its child stopped and kills it, as a QEMU
        # that gives up would.
        [ $action = stop ] && { opts+=(--on-stop kill); desc+=" + SIGKILL"; }
        hx "${opts[@]}" -- --use-vnet --fd={fd} --br=br0
        [ "$RC" = 0 ] || problem "caller exit $RC (124: a hang)"
        [ "$(field timeout)" = 0 ] || problem "helper hung"
        case $action in
        kill | stop) [ "$(field signal)" = 9 ] || problem "want death by SIGKILL" ;;
        exit) [ "$(field exit)" = 1 ] || problem "want exit 1" ;;
        esac
        [ $action = stop ] && [ "$(field stopped)" != 1 ] && problem "helper never stopped"
        # Before the fd is sent no fd may come back; after it, the caller
        # has one but sees the helper fail, so it must not use it (QEMU
        # checks the exit status).
        if [ $step != after-send ]; then
            [ "$(field fd)" = 0 ] || problem "an fd came back before the send step"
        else
            [ "$(field fd)" = 1 ] || problem "after-send: the fd should have been sent"
        fi
        [[ $ERR == *"fault injection: $action at $step"* ]] || problem "fault point not reached"
        verdict "fault $desc"
    done
done

# CAP_NET_ADMIN is only permitted between the steps: effective only
# around the tun and netlink calls that need it, never while files are
# parsed or NSS modules run. (CAP_NET_ADMIN is bit 12: 4096.)
hx --setenv TAPGATE_FAULT=all:caps -- --use-vnet --fd={fd} --br=br0
[ "$(field exit)" = 0 ] && [ "$(field fd)" = 1 ] || problem "want a grant: exit $(field exit) fd $(field fd)"
for step in "${STEPS[@]}"; do
    [[ $ERR$'\n' == *"caps at $step: CapPrm=4096 CapEff=0"$'\n'* ]] ||
        problem "at $step: $(grep -F "caps at $step:" <<< "$ERR")"
done
verdict "CAP_NET_ADMIN permitted, not effective, at every step"

# Calls the hardening relies on, made to fail by a seccomp filter (as
# root: a user would need no_new_privs for it, and setuid would then do
# nothing). The helper must either get the job done another way or refuse.
# rhx [tg-spawn options] -- ARGS: hx as root.
rhx() {
    local opts=()
    while [ $# -gt 0 ] && [ "$1" != -- ]; do opts+=("$1"); shift; done
    shift
    timeout -k 5 40 "$HEXEC" --no-vnet --no-fd --no-br "${opts[@]}" -- "$H" "$@" > "$SCR/out" 2> "$SCR/err" < /dev/null
    RC=$?
    OUT=$(< "$SCR/out")
    ERR=$(< "$SCR/err")
}
rhx --fail close_range --open 3 --setenv TAPGATE_FAULT=after-acl:fds -- --use-vnet --fd={fd} --br=br0
[ "$(field exit)" = 0 ] && [ "$(field fd)" = 1 ] || problem "want a grant: exit $(field exit) fd $(field fd)"
fds=$(sed -n 's/.*fds at after-acl: //p' <<< "$ERR")
# 0, 1, 2, the socket and the quota lock file.
[ "$(wc -w <<< "$fds")" = 5 ] || problem "open fds after closing: $fds"
verdict "close_range fails (ENOSYS): the inherited fds are closed all the same"
for call in prctl-dumpable prctl-nnp; do
    rhx --fail "$call" -- --use-vnet --fd={fd} --br=br0
    [ "$(field exit)" = 1 ] && [ "$(field fd)" = 0 ] || problem "want a refusal: exit $(field exit) fd $(field fd)"
    [[ $ERR == "tapgate: privilege drop failed: "* ]] || problem "stderr: $ERR"
    verdict "$call fails: the helper refuses (${ERR#tapgate: })"
done

# While the helper is stopped after attaching, the tap is there and on the
# bridge: proof that the steps are where their names say, so that "nothing
# left" above means the kernel cleaned up, not that nothing was made.
hx --setenv TAPGATE_FAULT=after-attach:stop --on-stop kill --stop-gate "$SCR/gate1" \
    -- --use-vnet --fd={fd} --br=br0 &
pid=$!
for ((i = 0; i < 2000; i++)); do [ -e "$SCR/gate1.stopped" ] && break; sleep 0.01; done
during_taps=$(tg_taps | tr '\n' ,)
during_ports=$(ls /sys/class/net/br0/brif | tr '\n' ,)
touch "$SCR/gate1"
wait $pid
OUT=$(< "$SCR/out") ERR=$(< "$SCR/err") RC=0
[[ $during_taps == tap* ]] || problem "no tap while stopped after attach ($during_taps)"
[[ $during_ports == *tap* ]] || problem "tap not on br0 while stopped after attach ($during_ports)"
verdict "after-attach:stop: tap on the bridge while stopped, gone after SIGKILL"

# --- netlink failures -------------------------------------------------------
# gate_run NAME CMD...: run the helper stopped after creating its tap, run
# CMD (as root) while it is stopped, then SIGCONT it.
gate_run() {
    local gate=$SCR/$1 pid i
    shift
    hx --setenv TAPGATE_FAULT=after-tap:stop --on-stop cont --stop-gate "$gate" \
        -- --use-vnet --fd={fd} --br=brx &
    pid=$!
    for ((i = 0; i < 2000; i++)); do [ -e "$gate.stopped" ] && break; sleep 0.01; done
    [ -e "$gate.stopped" ] || problem "helper never stopped"
    "$@"
    touch "$gate"
    wait $pid
    OUT=$(< "$SCR/out") ERR=$(< "$SCR/err") RC=0
}
# A clear refusal after the fault line: exit 1, no fd, last line tapgate:.
refused_after_fault() {
    local last
    [ "$(field exit)" = 1 ] || problem "exit $(field exit), want 1"
    [ "$(field fd)" = 0 ] || problem "an fd came back"
    [ "$(lines "$ERR")" = 2 ] || problem "want the fault line and one message"
    last=$(printf '%s\n' "$ERR" | tail -n 1)
    [[ $last == "tapgate: "* ]] || problem "last line does not start with 'tapgate: '"
    [ -n "${1:-}" ] && ! [[ $last =~ $1 ]] && problem "message does not match /$1/"
}

tg_bridge brx 1500
gate_run g2 ip link del brx
# Any clear refusal will do. (The kernel answers EINVAL, not ENODEV, for a
# master ifindex that no longer exists, so the message may say only that.)
refused_after_fault
echo "    message: ${ERR##*$'\n'}"
verdict "bridge deleted between check and attach"

tg_bridge brx 1500
# (veth, not dummy: this kernel has no dummy driver.)
gate_run g3 eval 'ip link del brx && ip link add brx type veth peer name brxp && ip link set brx up'
refused_after_fault
echo "    message: ${ERR##*$'\n'}"
[ -e /sys/class/net/brx ] && [ ! -e /sys/class/net/brx/bridge ] || problem "brx is not the veth"
ip link del brx
verdict "bridge replaced by a veth of the same name between check and attach"

tg_bridge brx 1500
gate_run g4 eval 'ip link del brx && ip link add brx type bridge && ip link set brx up'
# Acting on the ifindex it checked, the helper must not attach to a
# different bridge that took the name.
refused_after_fault
echo "    message: ${ERR##*$'\n'}"
[ -z "$(ls /sys/class/net/brx/brif)" ] || problem "a port on the new brx"
ip link del brx
verdict "bridge replaced by another bridge of the same name between check and attach"

# Once created, the tap is addressed by its interface index only: an
# interface that takes its name meanwhile (a caller with CAP_NET_ADMIN in
# a network namespace of its own could arrange that) is never touched.
tg_bridge brx 1500
swap_tap() {
    local t
    t=$(tg_taps | head -n 1)
    [ -n "$t" ] || { problem "no tap while stopped"; return; }
    ip link set "$t" name tgmoved && ip link add "$t" type veth peer name tgdecoy && DECOY=$t
}
DECOY=
gate_run g5 swap_tap
[ "$(field exit)" = 0 ] && [ "$(field fd)" = 1 ] || problem "want a grant: exit $(field exit) fd $(field fd)"
[ "$(field ifname)" = tgmoved ] || problem "the fd is not for the renamed tap: $(field ifname)"
if [ -n "$DECOY" ]; then
    [ ! -e "/sys/class/net/$DECOY/master" ] || problem "the decoy $DECOY was attached to brx"
    ip link del "$DECOY"
fi
ip link del brx
verdict "tap renamed and its name taken between creation and attach: the decoy is untouched"

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
    hx -- --use-vnet --fd={fd} --br=brfull
    [ "$RC" = 0 ] || problem "caller exit $RC"
    [ "$(field exit)" = 1 ] || problem "exit $(field exit), want 1"
    [ "$(field fd)" = 0 ] || problem "an fd came back"
    [ "$(lines "$ERR")" = 1 ] || problem "want one stderr line"
    [[ $ERR == "tapgate: "*1023* ]] || problem "message does not name the limit"
    [ "$(ls /sys/class/net/brfull/brif | wc -l)" = 1023 ] || problem "brfull port count changed"
    echo "    message: $ERR"
    verdict "bridge at its 1023-port limit"
fi

echo "walk: ${SECONDS}s"
tg_done
