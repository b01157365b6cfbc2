#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Hostile callers: an unprivileged user runs the root-owned 4755
# copy of the helper with a poisoned environment, odd fds, odd argv, a bad
# config file and signals at random moments. Every case must end in a clear
# refusal (exit 1, one "tapgate: ..." line on stderr, no fd) or a correct
# result (a tap fd, exit 0), never a crash or a hang; and after every case
# the namespace is as before: no tap, bridge ports and MTU unchanged, no
# helper process left.
#
# Env (meson sets them): TAPGATE_BUILD_ROOT, TG_SPAWN, TG_PRELOAD;
# HELPER overrides the binary under test.
. "$(dirname "${BASH_SOURCE[0]}")/../lib/tg.sh"
tg_start "$@"
tg_helper
PRELOAD=${TG_PRELOAD:-${TAPGATE_BUILD_ROOT:-}/tests/hostile/libtg-preload.so}
tg_need "$PRELOAD"
SCR=$TG_ROOT/scratch
HOME_U=$TG_ROOT/home/$TG_USER
SECONDS=0

# br0 gets a veth port, so "port count unchanged" compares against one.
tg_bridge_with_port br0 1500

tg_bridge brdeny 1500
L15=abcdefghijklmno                      # 15 bytes: the kernel's longest name
tg_bridge "$L15" 1400
ACL_LINES=("allow br0" "allow $L15" "allow brgone")
# rm first: a case may have left a symlink, FIFO or directory at the path.
acl_default() {
    rm -rf /etc/qemu/bridge.conf /etc/qemu/a.conf
    tg_acl "${ACL_LINES[@]}"
}
acl_default

# --- state and checks -------------------------------------------------------
TG_BRIDGES+=(brdeny "$L15")
tg_state_baseline
spawn() { tg_spawn "$TG_USER" "$@" -- "$TG_H"; }
# A failed case may have left a bad config behind.
TG_ON_FAILURE=acl_default
common() {
    [ "$TG_RC" = 0 ] || tg_problem "caller exit $TG_RC (124: timeout, a hang)"
    [ "${TG_R[timeout]:-}" = 0 ] || tg_problem "helper hung"
    [ "${TG_R[signal]:-}" = 0 ] || tg_problem "helper died of signal ${TG_R[signal]:-}"
}
# refused DESC [ERE]: a clear refusal, its message matching ERE.
refused() {
    common
    [ "${TG_R[exit]:-}" = 1 ] || tg_problem "exit ${TG_R[exit]:-}, want 1"
    [ "${TG_R[fd]:-}" = 0 ] || tg_problem "an fd came back"
    local n
    n=$(tg_lines "$TG_ERR")
    [ "$n" = 1 ] || tg_problem "want one stderr line, got $n"
    [[ $TG_ERR == "tapgate: "* ]] || tg_problem "stderr does not start with 'tapgate: '"
    [ -n "${2:-}" ] && ! [[ $TG_ERR =~ $2 ]] && tg_problem "message does not match /$2/"
    tg_verdict "$1"
}
# granted DESC: a tap came back and the helper exited 0, silently.
granted() {
    common
    [ "${TG_R[exit]:-}" = 0 ] || tg_problem "exit ${TG_R[exit]:-}, want 0"
    [ "${TG_R[fd]:-}" = 1 ] || tg_problem "no fd came back"
    [[ ${TG_R[ifname]:-} == tap* ]] || tg_problem "not a tap: ${TG_R[ifname]:-}"
    [ -z "$TG_ERR" ] || tg_problem "unexpected stderr"
    tg_verdict "$1"
}
# either DESC: a clear refusal or a tap; which one is the helper's call.
either() {
    if [ "${TG_R[fd]:-}" = 1 ]; then granted "$1 (granted)"; else refused "$1 (refused)"; fi
}

# Two parts, so that each meson test stays well under a minute on a small
# loaded machine: "static" (environment, fds, argv, config files) and
# "races" (a config file swapped during runs, signals at random moments).
PARTS=" ${*:-static races} "
part() { [[ $PARTS == *" $1 "* ]]; }

if part static; then
tg_note "--- environment (at ${SECONDS}s)"
# --- environment ------------------------------------------------------------
# Three requests (granted, denied by the ACL, allowed but no such bridge),
# each compared byte for byte with the same request in a clean environment.
# tg-spawn sets the variables in the helper's exec only (and is static
# where the build allows), so LD_LIBRARY_PATH reaches only the helper.
REQS=(br0 brdeny brgone)
declare -A BASE=()
for r in "${REQS[@]}"; do
    tg_raw -- --use-vnet --fd={fd} --br=$r
    BASE[$r]="$TG_REPORT|$TG_ERR"
done
[[ ${BASE[br0]} == *" fd=1 ifname=tap"* ]] && [[ ${BASE[brdeny]} == *"|tapgate: "* ]] &&
    [[ ${BASE[brgone]} == *"|tapgate: "* ]] ||
    { tg_fail "baseline requests: ${BASE[*]}"; tg_done; }

# A user library, and a directory of them posing as the helper's libraries.
cp "$PRELOAD" "$HOME_U/evil.so"
mkdir "$HOME_U/lib"
for l in libc.so.6 libm.so.6 libstdc++.so.6 libgcc_s.so.1 libnl-3.so.200 libnl-route-3.so.200 \
    libcap-ng.so.0 libinih.so.1 libINIReader.so.0; do
    cp "$PRELOAD" "$HOME_U/lib/$l"
done
chown -R "$TG_USER:" "$HOME_U"
# The poisoned library does print when a normal program loads it: proof that
# the checks below could see it.
tg_spawn "$TG_USER" --no-vnet --no-fd --no-br --setenv LD_PRELOAD="$HOME_U/evil.so" -- /bin/true
tg_check "LD_PRELOAD library prints in a non-setuid program" [ "$TG_ERR" = TG-PRELOAD-LOADED ]

env_case() {  # DESC [--setenv K=V | --env-fill N]...
    local desc=$1 r
    shift
    for r in "${REQS[@]}"; do
        tg_raw "$@" -- --use-vnet --fd={fd} --br=$r
        [ "$TG_REPORT|$TG_ERR" = "${BASE[$r]}" ] ||
            tg_problem "$r: got '$TG_REPORT|$TG_ERR', want '${BASE[$r]}'"
        TG_RC=0; TG_REPORT=; TG_ERR=
    done
    tg_verdict "env: $desc"
}
env_case "LD_PRELOAD user library" --setenv LD_PRELOAD="$HOME_U/evil.so"
env_case "LD_LIBRARY_PATH fake libraries" --setenv LD_LIBRARY_PATH="$HOME_U/lib"
env_case "LD_AUDIT" --setenv LD_AUDIT="$HOME_U/evil.so"
env_case "LANG/LC_ALL/NLSPATH" --setenv LANG=fr_FR.UTF-8 --setenv LC_ALL=de_DE.UTF-8 \
    --setenv LC_MESSAGES=de_DE.UTF-8 --setenv NLSPATH="$HOME_U/%N" --setenv LANGUAGE=de
env_case "TZ, HOME, TMPDIR" --setenv TZ="$HOME_U/tz" --setenv HOME=/root \
    --setenv TMPDIR="$HOME_U/nonexistent"
env_case "libnl debug NLDBG=4 NLCB=debug" --setenv NLDBG=4 --setenv NLCB=debug
env_case "glibc tunables and malloc" --setenv GLIBC_TUNABLES=glibc.malloc.check=3 \
    --setenv MALLOC_CHECK_=3 --setenv MALLOC_PERTURB_=165 --setenv GCONV_PATH="$HOME_U"
env_case "huge environment (100000 variables)" --env-fill 100000

tg_note "--- fds (at ${SECONDS}s)"
# --- fds --------------------------------------------------------------------
spawn --close-std
granted "fds 0 and 1 closed at exec"
spawn --close-std --close-stderr
granted "fds 0, 1 and 2 closed at exec"
spawn --close-std --close-stderr --br brdeny
refused_silently() {  # no stderr to write to: exit 1 and nothing else
    common
    [ "${TG_R[exit]:-}" = 1 ] || tg_problem "exit ${TG_R[exit]:-}, want 1"
    [ "${TG_R[fd]:-}" = 0 ] || tg_problem "an fd came back"
    [ -z "$TG_ERR" ] || tg_problem "wrote somewhere: $TG_ERR"
    tg_verdict "$1"
}
refused_silently "fds 0, 1 and 2 closed, refusal"
for n in 0 1 2; do
    spawn --fd-arg $n
    refused "--fd=$n (a standard fd)" "not a socket|--fd"
done
spawn --fd-kind pipe
refused "--fd a pipe" "not a socket"
spawn --fd-kind file
refused "--fd a file" "not a socket"
spawn --fd-kind dgram
refused "--fd a datagram socket" "not a stream socket"
spawn --fd-kind seqpacket
refused "--fd a seqpacket socket" "not a stream socket"
spawn --fd-kind unconnected
refused "--fd an unconnected socket" "not connected"
spawn --fd-kind inet
refused "--fd a TCP socket" "not a unix"
tg_raw --fd-kind listen -- --use-vnet --fd={fd} --br=br0
refused "--fd a listening socket" "listening"
# A caller that never reads, its socket full: the helper (and the tap it
# made) must not wait for it for ever.
tg_raw --fill --timeout 20 -- --use-vnet --fd={fd} --br=br0
refused "a caller that never reads its full socket: the send gives up" "has not read"
spawn --fd-kind closed --fd-num 7
refused "--fd a closed number" "no such open file"
for v in 2147483647 2147483648 99999999999 -1 " 3" 3x ""; do
    spawn --fd-arg "$v"
    refused "--fd='$v'"
done
# The socket itself at 0, 1 or 2 (a caller that closed its standard fds
# first): the helper must still answer on it and report refusals somewhere
# it can see, i.e. still on fd 2 unless the socket is fd 2.
# The helper refuses a socket on a standard fd outright.
for n in 0 1; do
    spawn --fd-num $n
    refused "socket at fd $n" "standard input, output or error"
done
# At fd 2 the socket is stderr too: the refusal goes into the socket, where
# QEMU never reads it; exit 1 and no fd is all a caller can see.
spawn --fd-num 2
TG_RC=0
[ "${TG_R[exit]:-}" = 1 ] && [ "${TG_R[fd]:-}" = 0 ] || tg_problem "want exit 1 and no fd"
tg_verdict "socket at fd 2 (also stderr)"
tg_raw --open 1000 -- --use-vnet --fd={fd} --br=br0
granted "1000 inherited open fds"
tg_raw --open 1000 -- --use-vnet --fd={fd} --br=brdeny
refused "1000 inherited open fds, refusal"
for n in 4 5 6 8 16; do
    tg_raw --nofile $n -- --use-vnet --fd={fd} --br=br0
    either "RLIMIT_NOFILE $n"
done

tg_note "--- argv (at ${SECONDS}s)"
# --- argv -------------------------------------------------------------------
# argc 0: Linux >= 5.18 turns an empty argv into { "", NULL } (argc 1), so
# the helper sees no options at all and must refuse with its usage error.
tg_raw --empty-argv --
refused "argc 0 (argv[0] NULL)"
big=$(printf 'A%.0s' $(seq 1 131000))
tg_raw -- --use-vnet --fd={fd} "--br=$big"
refused "--br of 131000 bytes" "name|long"
# Near ARG_MAX (2 MB here) in bytes, and many in number. (Kept below the
# limit and to tens of thousands: each exec of a huge argv costs seconds on
# a loaded machine, and there are four execs per run.)
big=${big:0:130000}
tg_raw -- --use-vnet --fd={fd} --br=br0 "$big" "$big" "$big" "$big" "$big" "$big" "$big" \
    "$big" "$big" "$big" "$big" "$big" "$big" "$big"
refused "14 extra arguments of 130000 bytes (1.8 MB)"
args=()
for ((i = 0; i < 20000; i++)); do args+=(x); done
tg_raw -- --use-vnet --fd={fd} --br=br0 "${args[@]}"
refused "20000 extra arguments"
args=()
for ((i = 0; i < 20000; i++)); do args+=(--use-vnet); done
tg_raw -- --fd={fd} --br=br0 "${args[@]}"
either "--use-vnet 20000 times"
args=()
tg_raw -- --use-vnet --fd={fd} --br=br0 --br=brdeny
either "--br twice (allowed, denied)"
tg_raw -- --use-vnet --fd={fd} --br=brdeny --br=br0
either "--br twice (denied, allowed)"
tg_raw -- --use-vnet --fd={fd} --fd={fd} --br=br0
either "--fd twice"
for b in ';rm -rf /' '$(touch '"$SCR"'/pwned)' '`touch '"$SCR"'/pwned`' 'br0;touch '"$SCR"'/pwned' \
    'br0 && touch x' "br0'" 'br0|id' '../br0' 'br0/x' ' br0' 'br0 ' $'br0\n' 'br0:1' '' '.' '..'; do
    spawn --br "$b"
    refused "--br='$b'"
done
tg_check "shell metacharacters never executed" [ ! -e "$SCR/pwned" ]
spawn --br "$L15"
granted "--br of 15 characters"
spawn --br abcdefghijklmnop
refused "--br of 16 characters" "name|long"
# CVE-2019-13164: the ACL allows the 15-character name; a request that only
# differs after it must not be truncated into an allowed one.
spawn --br "${L15}X"
refused "--br = allowed 15-char name + 'X' (CVE-2019-13164)"
spawn --br "${L15}XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"
refused "--br = allowed 15-char name + 32 more"

tg_note "--- config file (at ${SECONDS}s)"
# --- config file ------------------------------------------------------------
U_ACL=$HOME_U/acl
printf 'allow all\n' > "$U_ACL"
chown "$TG_USER:" "$U_ACL"
cfg() {  # DESC: br0 must be refused with the current (bad) config
    spawn
    refused "config: $1"
    acl_default
}
rm /etc/qemu/bridge.conf; ln -s "$U_ACL" /etc/qemu/bridge.conf
cfg "symlink to a user-owned file"
rm /etc/qemu/bridge.conf; mkfifo -m 0644 /etc/qemu/bridge.conf
cfg "a FIFO"
rm /etc/qemu/bridge.conf; mkdir /etc/qemu/bridge.conf
cfg "a directory"
rm /etc/qemu/bridge.conf; printf 'allow all\n' > /etc/qemu/bridge.conf
chmod 0666 /etc/qemu/bridge.conf
cfg "world-writable"
printf 'allow all\n' > /etc/qemu/bridge.conf; chmod 0664 /etc/qemu/bridge.conf
cfg "group-writable"
printf 'allow all\n' > /etc/qemu/bridge.conf; chown "$TG_USER:" /etc/qemu/bridge.conf
cfg "owned by the user"
rm /etc/qemu/bridge.conf
# /etc/qemu writable by the user: the file could be swapped.
printf 'allow all\n' > /etc/qemu/bridge.conf; chmod 0644 /etc/qemu/bridge.conf
chmod 0777 /etc/qemu
cfg "in a world-writable directory"
chmod 0755 /etc/qemu
printf 'include /etc/qemu/a.conf\nallow all\n' > /etc/qemu/bridge.conf
printf 'include /etc/qemu/bridge.conf\n' > /etc/qemu/a.conf
chmod 0644 /etc/qemu/a.conf
cfg "include cycle"
printf 'include /etc/qemu/bridge.conf\nallow all\n' > /etc/qemu/bridge.conf
cfg "includes itself"
for f in /dev/zero /proc/self/status /dev/stdin /dev/fd/0; do
    tg_acl "include $f" "allow all"
    cfg "include $f"
done
# Files whose content the caller writes: environ and cmdline. The caller
# puts a rule allowing br0 on a line of its own there; the ACL has no other
# rule, so br0 is granted only if the helper parsed the pseudo file.
# (A refusal to open it, or skipping it as unreadable, both refuse br0.)
tg_acl "include /proc/self/environ"
tg_raw --setenv $'X=\nallow br0\n' -- --use-vnet --fd={fd} --br=br0
refused "config: include /proc/self/environ with a rule in the environment"
tg_note "    message: $TG_ERR"
tg_acl "include /proc/self/cmdline"
tg_raw -- --use-vnet --fd={fd} --br=br0 $'\nallow br0\n'
refused "config: include /proc/self/cmdline with a rule in argv"
tg_acl "include /proc/self/cmdline"
tg_raw -- --use-vnet --fd={fd} $'--br=br0\nallow br0\n'
refused "config: include /proc/self/cmdline with a rule in --br"
acl_default
tg_acl "include $U_ACL" "allow br0"
spawn --br brdeny
refused "config: include of a user-owned file"
acl_default
# 10 MB on one line, before and after a valid rule.
{ echo "allow br0"; head -c 10000000 /dev/zero | tr '\0' a; echo; } > /etc/qemu/bridge.conf
chmod 0644 /etc/qemu/bridge.conf
spawn
either "config: a 10 MB line"
acl_default
{ printf 'allow br0\n# x\0y\nallow brdeny\0\n'; } > /etc/qemu/bridge.conf
spawn --br brdeny
refused "config: NUL bytes (no rule allowing brdeny may come of them)"
spawn
either "config: NUL bytes, br0"
acl_default
fi  # static

if part races; then
tg_note "--- config file swapped (at ${SECONDS}s)"
# Replaced while the helper runs: two root-owned files renamed over the
# path in a loop. Each result is one of the two files' decisions.
# One process, no fork per swap (a cp/mv loop would starve the runs on a
# small machine): hard links to the two files, renamed over the path.
printf 'allow br0\n' > /etc/qemu/allow.conf
printf 'deny br0\n' > /etc/qemu/deny.conf
chmod 0644 /etc/qemu/allow.conf /etc/qemu/deny.conf
python3 -c '
import os, time
d = "/etc/qemu/"
while True:
    for f in ("allow.conf", "deny.conf"):
        try: os.unlink(d + ".new")
        except FileNotFoundError: pass
        os.link(d + f, d + ".new")
        os.rename(d + ".new", d + "bridge.conf")
        time.sleep(0.0002)
' &
SWAP=$!
ng=0 nr=0 bad=0
for ((i = 0; i < 50; i++)); do
    spawn
    if [ "$TG_RC" = 0 ] && [[ $TG_REPORT == "exit=0 signal=0 timeout=0 "*" fd=1 ifname=tap"* ]] && [ -z "$TG_ERR" ]; then
        ng=$((ng + 1))
    elif [ "$TG_RC" = 0 ] && [[ $TG_REPORT == "exit=1 signal=0 timeout=0 "*" fd=0"* ]] && [[ $TG_ERR == "tapgate: "*denied* ]] &&
        [ "$(tg_lines "$TG_ERR")" = 1 ]; then
        nr=$((nr + 1))
    else
        bad=$((bad + 1))
        echo "    swap run $i: rc=$TG_RC $TG_REPORT / $TG_ERR" >&2
    fi
done
kill "$SWAP"
wait "$SWAP" 2> /dev/null
tg_note "    config swapped 50 times: $ng granted, $nr refused, $bad other"
TG_RC=0 TG_REPORT="exit=0 signal=0 timeout=0" TG_ERR=
[ "$bad" = 0 ] || tg_problem "$bad results were neither file's decision"
rm -f /etc/qemu/allow.conf /etc/qemu/deny.conf /etc/qemu/.new
acl_default
tg_verdict "config replaced while the helper runs"

tg_note "--- signals (at ${SECONDS}s)"
# --- signals ----------------------------------------------------------------
# SIGKILL, or SIGSTOP then SIGCONT, from the caller 0-5 ms after fork: any
# outcome is fine as long as nothing is left once everything is gone.
bad=0
for ((i = 0; i < 50; i++)); do
    us=$((RANDOM % 5000))
    if ((i % 2)); then sig=(--kill-after "$us"); else sig=(--stop-after "$us"); fi
    tg_raw "${sig[@]}" -- --use-vnet --fd={fd} --br=br0
    tg_state
    if [ "$TG_RC" != 0 ] || [ "${TG_R[timeout]:-}" != 0 ] || [ "$TG_STATE" != "$TG_STATE0" ] ||
        { [ "${TG_R[signal]:-}" != 0 ] && [ "${TG_R[signal]:-}" != 9 ]; }; then
        bad=$((bad + 1))
        echo "    ${sig[*]}: rc=$TG_RC $TG_REPORT / $TG_ERR / $TG_STATE" >&2
    fi
done
TG_RC=0 TG_REPORT="exit=0 signal=0 timeout=0"
[ "$bad" = 0 ] || tg_problem "$bad of 50 runs went wrong"
tg_verdict "SIGKILL / SIGSTOP+SIGCONT at random moments, 50 runs"

fi  # races

tg_note "hostile ($PARTS): ${SECONDS}s"
tg_done
