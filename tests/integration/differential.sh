#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Differential test: the same cases against QEMU's qemu-bridge-helper
# ($REFERENCE_HELPER) and tapgate, both as root-owned 4755 copies run by an
# unprivileged user through tg-spawn (with TG_VIA=service, tapgate is a
# plain 0755 copy that passes each request on to the service). Compared:
# the decision (exit status, fd received) and the tap that results (flags,
# MTU, MAC prefix, master, up), never message text.
#
# Where the reference is known to be wrong, tapgate is held to the right
# behaviour instead and the line says "reference wrong"; where tapgate is
# deliberately stricter, "tapgate stricter". Either way the reference's
# actual outcome is printed, so a change in it shows up in the log.
#
# Env: TAPGATE_BUILD_ROOT, TG_SPAWN, REFERENCE_HELPER (meson sets them);
# HELPER overrides the tapgate binary.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/../lib/tg.sh"
tg_start "$@"

tg_differential_helpers
T0=$EPOCHREALTIME

tg_bridge_with_port br0 1500
tg_bridge_with_port br1 1500
tg_bridge_with_port br9k 9000
tg_bridge_with_port ALL 1500

# The caller's working directory, which the caller controls: the reference
# resolves relative includes against it.
CWD=$TG_ROOT/scratch/cwd
mkdir -m 0755 "$CWD"
printf 'allow br0\n' > "$CWD/rel.conf"
chown -R "$TG_USER:$TG_USER" "$CWD"
cd "$CWD"

SAME=0
REF_WRONG=0
STRICTER=0

acl() {
    rm -f /etc/qemu/bridge.conf
    tg_acl "$@"
}
# conf NAME MODE OWNER LINE...: a file under /etc/qemu.
conf() {
    local f=/etc/qemu/$1 mode=$2 owner=$3
    shift 3
    rm -f "$f"
    printf '%s\n' "$@" > "$f"
    chown "$owner" "$f"
    chmod "$mode" "$f"
}

# run_one USER HELPER [tg-spawn options] [-- HELPER-ARGS]: TG_OUTCOME of one
# run, tap released.
run_one() {
    local user=$1 helper=$2 opts=() extra=()
    shift 2
    while [ $# -gt 0 ] && [ "$1" != -- ]; do
        opts+=("$1")
        shift
    done
    [ $# -gt 0 ] && shift
    extra=("$@")
    tg_hold "$user" "${opts[@]}" -- "$helper" "${extra[@]}"
    tg_outcome
    tg_release
    if [ "${TG_R[fd]:-0}" = 1 ]; then
        tg_gone "${TG_R[ifname]}" || TG_OUTCOME+=" LEFT-BEHIND"
    fi
    tg_taps
    [ -z "$TG_TAPS" ] && return
    TG_OUTCOME+=" LEFT:$TG_TAPS"
    # Do not let one case spoil the next.
    local t
    for t in $TG_TAPS; do ip link del "$t" 2> /dev/null; done
}

# same DESC [--as USER] [tg-spawn options]: both helpers decide the same and
# produce the same tap.
same() {
    local desc=$1 user=$TG_USER
    shift
    if [ "${1:-}" = --as ]; then
        user=$2
        shift 2
    fi
    local ref tg
    run_one "$user" "$TG_REF" "$@"
    ref=$TG_OUTCOME
    run_one "$user" "$TG_TGH" "$@"
    tg=$TG_OUTCOME
    if [ "$ref" = "$tg" ] && [[ $tg != *LEFT* ]]; then
        tg_pass "same: $desc: ${tg%% tap=*}"
        SAME=$((SAME + 1))
    else
        tg_fail "same: $desc"
        echo "    reference: $ref" >&2
        echo "    tapgate:   $tg" >&2
    fi
}

# differs KIND DESC WANT [--as USER] [tg-spawn options]: tapgate must give
# WANT (allow: exit 0 and a tap; deny: exit 1 and no fd); the reference's
# outcome is only reported. KIND: "reference wrong" or "tapgate stricter".
differs() {
    local kind=$1 desc=$2 want=$3 user=$TG_USER
    shift 3
    if [ "${1:-}" = --as ]; then
        user=$2
        shift 2
    fi
    local ref tg good verb=refuses
    [ "$want" = allow ] && verb=allows
    run_one "$user" "$TG_REF" "$@"
    ref=$TG_OUTCOME
    run_one "$user" "$TG_TGH" "$@"
    tg=$TG_OUTCOME
    case $want in
    allow) [[ $tg == "exit=0 fd=1 "* ]] && good=1 ;;
    deny) [ "$tg" = "exit=1 fd=0" ] && good=1 ;;
    esac
    [[ $tg == *LEFT* ]] && good=
    if [ -n "${good:-}" ]; then
        tg_pass "$kind: $desc: tapgate $verb (reference: ${ref%% tap=*})"
        if [ "$kind" = "reference wrong" ]; then
            REF_WRONG=$((REF_WRONG + 1))
        else
            STRICTER=$((STRICTER + 1))
        fi
        [ "$ref" = "$tg" ] && tg_note "    note: the reference now behaves the same"
    else
        tg_fail "$kind: $desc: tapgate must $want"
        echo "    reference: $ref" >&2
        echo "    tapgate:   $tg" >&2
    fi
}

# same_bridges DESC BRIDGE...: `same` for each bridge.
same_bridges() {
    local desc=$1 b
    shift
    for b in "$@"; do same "$desc, --br=$b" --br "$b"; done
}

# --- ACL grammar and meaning ----------------------------------------------

acl "allow br0"
same_bridges "allow br0" br0 br1
acl "allow all"
same_bridges "allow all" br0 br1 ALL
acl "deny all" "allow br0"
same_bridges "deny all, allow br0" br0 br1
acl "allow br0" "deny all"
same_bridges "allow br0, deny all" br0 br1
acl "deny br0" "allow all"
same_bridges "deny br0, allow all" br0 br1
acl "allow all" "deny br0"
same_bridges "allow all, deny br0" br0 br1
acl "allow br0" "allow br1" "deny br1"
same_bridges "deny beats an earlier allow of the same bridge" br0 br1
acl "allow ALL"
same_bridges "ALL in capitals is a bridge name" ALL br0
acl "allow all" "deny ALL"
same_bridges "deny ALL only denies the bridge called ALL" ALL br0
acl "# a comment" "" "   # an indented comment" $'\t' $'\tallow\tbr0\t' "allow  br1   " $'allow br9k\r'
same_bridges "comments, blank lines, tabs, extra spaces, CRLF" br0 br1 br9k ALL
acl ""
same_bridges "empty file" br0
rm -f /etc/qemu/bridge.conf
same_bridges "no bridge.conf" br0
acl "allow br0" "frobnicate br1"
same_bridges "unknown command in bridge.conf" br0
acl "allow br0" "allow"
same_bridges "allow without a name" br0
acl "allow br0" "allow tgbr456789abcdef"
same_bridges "16-character name in a rule" br0
acl "ALLOW br0"
same_bridges "keywords are case-sensitive" br0

# Includes.
mkdir -p /etc/qemu/inc.d
conf inc.d/a.conf 0644 root:root "allow br0"
conf b.conf 0644 root:root "deny br1"
acl "include /etc/qemu/inc.d/a.conf" "include /etc/qemu/b.conf" "allow br1"
same_bridges "includes add their rules" br0 br1
conf c.conf 0644 root:root "include /etc/qemu/inc.d/a.conf"
acl "include /etc/qemu/c.conf"
same_bridges "nested include" br0 br1
conf secret.conf 0600 root:root "deny br0"
acl "include /etc/qemu/secret.conf" "allow br0"
same_bridges "unreadable include is skipped" br0
acl "include /etc/qemu/nonexistent.conf" "allow br0"
same_bridges "missing include is skipped" br0
conf alice.conf 0640 "root:$TG_ALICE" "allow br1"
acl "include /etc/qemu/alice.conf"
same "per-user include, as alice" --as "$TG_ALICE" --br br1
same "per-user include, as bob" --as "$TG_BOB" --br br1

# --- the tap ------------------------------------------------------------

acl "allow all"
same "bridge MTU 1500, --use-vnet" --br br0
same "bridge MTU 1500, no --use-vnet" --br br0 --no-vnet
same "bridge MTU 9000, --use-vnet" --br br9k
same "bridge MTU 9000, no --use-vnet" --br br9k --no-vnet
same "sh -c form" --sh --br br1
same "missing bridge" --br nosuchbr
same "not a bridge (veth)" --br tgv0b
same "bridge name of 16 characters" --br tgbr456789abcdef

# --- where the reference is wrong ---------------------------------------

# fgets() with a 4096-byte buffer: the rest of a long line becomes a line.
{
    printf '#'
    head -c 4094 /dev/zero | tr '\0' x
    printf 'allow br0\n'
} > /etc/qemu/bridge.conf.new
mv /etc/qemu/bridge.conf.new /etc/qemu/bridge.conf
chmod 0644 /etc/qemu/bridge.conf
differs "reference wrong" "comment line of 4104 bytes ending in 'allow br0'" deny --br br0

# The reference opens relative includes from the caller's cwd ($CWD/rel.conf
# says allow br0); tapgate from the including file's directory.
conf rel.conf 0644 root:root "allow br1"
acl "include rel.conf"
differs "reference wrong" "relative include, user's cwd has 'allow br0'" deny --br br0
differs "reference wrong" "relative include, /etc/qemu/rel.conf has 'allow br1'" allow --br br1

acl "include /etc/qemu/bridge.conf" "allow br0"
differs "reference wrong" "bridge.conf includes itself" deny --br br0
conf cyc-a.conf 0644 root:root "include /etc/qemu/cyc-b.conf" "allow br0"
conf cyc-b.conf 0644 root:root "include /etc/qemu/cyc-a.conf"
acl "include /etc/qemu/cyc-a.conf"
differs "reference wrong" "include cycle a -> b -> a" deny --br br0

# Errors in included files: the reference keeps the rules read before the
# error and carries on; tapgate fails closed.
conf bad.conf 0644 root:root "allow br0" "frobnicate br1"
acl "include /etc/qemu/bad.conf"
differs "reference wrong" "unknown command in an included file" deny --br br0

# A malformed deny the reference reads as a rule for a bridge that cannot
# exist, so it denies nothing.
acl "deny br0 br1" "allow all"
differs "reference wrong" "'deny br0 br1' with allow all" deny --br br0
acl "deny br0 # not br0" "allow all"
differs "reference wrong" "'deny br0 # comment' with allow all" deny --br br0

# Files the caller can change are not policy.
conf user.conf 0644 "$TG_USER:$TG_USER" "allow br0"
acl "include /etc/qemu/user.conf"
differs "reference wrong" "include of a file owned by the user" deny --br br0
acl "include /proc/self/cwd/rel.conf"
differs "reference wrong" "include through /proc/self/cwd" deny --br br0

# fgets() again: "allow", 5000 spaces, "br0" is one valid line, which the
# reference reads as two, the second ("br0") an error.
{
    printf 'allow'
    head -c 5000 /dev/zero | tr '\0' ' '
    printf 'br0\n'
} > /etc/qemu/bridge.conf.new
mv /etc/qemu/bridge.conf.new /etc/qemu/bridge.conf
chmod 0644 /etc/qemu/bridge.conf
differs "reference wrong" "'allow', 5000 spaces, 'br0' on one line" allow --br br0

# The reference skips any whitespace around words but splits a command from
# its argument only at a space or tab (its maintainers' "whitespace handled
# inconsistently").
acl $'allow\vbr0'
differs "reference wrong" "vertical tab between allow and br0" allow --br br0

# A FIFO as include: the reference blocks in fopen() for ever.
rm -f /etc/qemu/fifo.conf
mkfifo -m 0644 /etc/qemu/fifo.conf
acl "include /etc/qemu/fifo.conf" "allow br0"
differs "reference wrong" "include of a FIFO (reference hangs; killed after 2 s)" deny \
    --br br0 --timeout 2
rm -f /etc/qemu/fifo.conf

# An alternative name reaches the bridge while the ACL sees another name.
ip link property add dev br0 altname tgalt0
acl "deny br0" "allow all"
differs "reference wrong" "altname of a bridge the ACL denies" deny --br tgalt0
ip link property del dev br0 altname tgalt0

# --- where tapgate is stricter by design (caller side) -------------------

acl "allow all"
differs "reference wrong" "connected TCP socket as --fd (reference exits 0, sends no tap)" deny \
    --br br0 --fd-kind inet
differs "tapgate stricter" "unix datagram socket as --fd" deny --br br0 --fd-kind dgram
differs "tapgate stricter" "--fd=+N" deny --br br0 --fd-arg '+{fd}'
differs "tapgate stricter" "--fd=Nx" deny --br br0 --fd-arg '{fd}x'
differs "tapgate stricter" "two different --br (the reference takes the last)" deny \
    --br br0 -- --br=br1

awk -v a="$T0" -v b="$EPOCHREALTIME" -v s="$SAME" -v w="$REF_WRONG" -v t="$STRICTER" \
    'BEGIN { printf "same: %d, reference wrong: %d, tapgate stricter: %d; elapsed %.1f s\n", s, w, t, b - a }' | tg_note
tg_done
