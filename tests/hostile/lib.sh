# shellcheck shell=bash
# Shared by tests/hostile/hostile.sh and tests/faults/walk.sh: an
# unprivileged user runs a root-owned 4755 copy of the helper through
# tg-spawn, and after every case the namespace must be as it was before.
# Source it after tg_isolate; it sets H (the setuid copy), HEXEC and SCR,
# makes bridge br0 with one veth port, and defines the checks below.
#
# Env (meson sets them): TAPGATE_BUILD_ROOT, TG_SPAWN; HELPER overrides the
# binary under test.
HELPER_SRC=${HELPER:-${TAPGATE_BUILD_ROOT:-}/helper/tapgate}
HEXEC=${TG_SPAWN:-${TAPGATE_BUILD_ROOT:-}/tests/tools/tg-spawn}
# hostile_need FILE...: every file there (helper, tools), else fail.
hostile_need() {
    local f
    for f in "$HELPER_SRC" "$HEXEC" "$@"; do
        [ -e "$f" ] || { echo "missing: $f (run through meson test)" >&2; exit 1; }
    done
}
hostile_need
H=$(tg_setuid_copy "$HELPER_SRC" tapgate)
SCR=$TG_ROOT/scratch
cd "$SCR" || exit 1
SECONDS=0

# br0 gets a veth port, so "port count unchanged" compares against one.
tg_bridge br0 1500
ip link add tgva type veth peer name tgvb
ip link set tgva master br0
ip link set tgva up

# Builtins only (no fork): process creation is slow on a loaded machine and
# this runs after every case. Helper processes still alive are found by
# their executable (-ef: same inode), a stopped or orphaned one included.
# STATE_BRIDGES: the bridges whose MTU and ports are compared.
STATE_BRIDGES=(br0)
STATE=
state() {
    local b p mtu s=
    for b in "${STATE_BRIDGES[@]}"; do
        read -r mtu < "/sys/class/net/$b/mtu"
        s+="$b mtu=$mtu ports="
        for p in "/sys/class/net/$b/brif/"*; do [ -e "$p" ] && s+="${p##*/},"; done
        s+=" "
    done
    s+="taps="
    for p in /sys/class/net/*/tun_flags; do [ -e "$p" ] && { p=${p%/tun_flags}; s+="${p##*/},"; }; done
    s+=" procs="
    for p in /proc/[0-9]*; do [[ $p/exe -ef $H ]] && s+="${p#/proc/},"; done
    STATE=$s
}

OUT= ERR= RC=
# run CMD...: as the test user, under a hard timeout; stdout (the caller's
# report) into OUT, stderr (the helper's messages) into ERR.
run() {
    timeout -k 5 40 setpriv --reuid="$TG_USER" --regid="$TG_USER" --init-groups -- "$@" \
        > "$SCR/out" 2> "$SCR/err" < /dev/null
    RC=$?
    OUT=$(< "$SCR/out")
    ERR=$(< "$SCR/err")
}
# hx [tg-spawn options] -- ARGS: the helper with exactly ARGS ({fd}: the
# socket).
hx() {
    local opts=()
    while [ $# -gt 0 ] && [ "$1" != -- ]; do opts+=("$1"); shift; done
    shift
    run "$HEXEC" --no-vnet --no-fd --no-br "${opts[@]}" -- "$H" "$@"
}
field() { [[ " $OUT " =~ \ $1=([^ ]*)\  ]] && echo "${BASH_REMATCH[1]}"; }
# Lines in $1 (no fork: see state).
lines() {
    [ -z "$1" ] && { echo 0; return; }
    local t=${1%%$'\n'}
    local nl=${t//[^$'\n']/}
    echo $((${#nl} + 1))
}

# Call once the namespace is set up: the state every case must return to.
state_baseline() {
    state
    S0=$STATE
}

# problem TEXT: one thing wrong with the current case; verdict DESC ends the
# case: it passes if nothing was wrong and nothing was left behind. A
# function on_failure, if the script defines one, restores what a failed
# case may have left (the next case must start clean).
LAST_T=${EPOCHREALTIME/./}
PROBLEMS=()
problem() { PROBLEMS+=("$*"); }
verdict() {
    state
    [ "$STATE" = "$S0" ] || problem "left behind: $STATE (before: $S0)"
    # Slow cases are worth knowing about: the whole test must stay short.
    local now=${EPOCHREALTIME/./} took
    took=$(((now - LAST_T) / 1000))
    LAST_T=$now
    ((took > 3000)) && echo "    ($1: ${took} ms)"
    if [ ${#PROBLEMS[@]} -eq 0 ]; then
        tg_pass "$1"
    else
        tg_fail "$1"
        printf '    %s\n' "${PROBLEMS[@]}" >&2
        echo "    rc=$RC report: $OUT" >&2
        [ -n "$ERR" ] && printf '%s\n' "$ERR" | head -c 600 | head -n 5 | sed 's/^/    stderr: /' >&2
        declare -F on_failure > /dev/null && on_failure
    fi
    PROBLEMS=()
}
