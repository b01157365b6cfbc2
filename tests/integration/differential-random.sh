#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Randomized differential test of the ACL: seeded random bridge.conf trees
# (shared and per-user includes, comments, blanks, tabs, CRLF, 15- and
# 16-character names, unknown commands, missing includes), each run once
# against QEMU's qemu-bridge-helper ($REFERENCE_HELPER) and once against
# tapgate, both root-owned 4755 copies run by a random test user through
# tg-spawn (with TG_VIA=service, tapgate is a plain 0755 copy that passes
# each request on to the service). Compared: the decision (exit status, fd
# received).
#
# differential_random.py generates the trees and checks the outcomes with a
# model of each helper: every real outcome must be the one its model
# predicts, and every difference must be explained by a reference quirk
# listed in bridge.conf(5)'s DIFFERENCES section.
#
# Env: TAPGATE_BUILD_ROOT, TAPGATE_SOURCE_ROOT, TG_SPAWN, REFERENCE_HELPER,
# PYTHON (meson sets them); HELPER overrides the tapgate binary;
# TG_RDIFF_SEED (default 1) and TG_RDIFF_CASES (default 300).
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/../lib/tg.sh"
tg_start "$@"

SEED=${TG_RDIFF_SEED:-1}
CASES=${TG_RDIFF_CASES:-300}
PY=${PYTHON:-/usr/bin/python3}
MODEL=$here/differential_random.py
MAN=${TAPGATE_SOURCE_ROOT:-$here/../..}/man/bridge.conf.5
tg_differential_helpers
T0=$EPOCHREALTIME
tg_note "seed $SEED (TG_RDIFF_SEED), $CASES cases (TG_RDIFF_CASES)"

# The bridges the generator knows (differential_random.py BRIDGES); a
# fourth, brgone, is asked for but does not exist.
tg_bridge_with_port br0 1500
tg_bridge_with_port br1 1500
tg_bridge_with_port tgbr456789abcde 1500

GEN=$TG_ROOT/rdiff
RESULTS=$TG_ROOT/rdiff.results
"$PY" "$MODEL" generate --seed "$SEED" --cases "$CASES" --out "$GEN" || exit 1

# decide USER BRIDGE HELPER: "EXIT FD" of one run into DECISION; a tap left
# behind is a failure of its own, and removed so the next case starts clean.
decide() {
    local t
    tg_spawn "$1" --br "$2" -- "$3"
    DECISION="${TG_R[exit]:-?} ${TG_R[fd]:-?}"
    tg_taps
    for t in $TG_TAPS; do
        tg_gone "$t" && continue
        tg_fail "case $N: ${3##*/} left $t behind"
        ip link del "$t" 2> /dev/null
    done
}

: > "$RESULTS"
while read -r N CASE_USER BRIDGE; do
    rm -rf /etc/qemu
    cp -a "$GEN/$N" /etc/qemu
    decide "$CASE_USER" "$BRIDGE" "$TG_REF"
    ref=$DECISION
    decide "$CASE_USER" "$BRIDGE" "$TG_TGH"
    echo "$N $ref $DECISION" >> "$RESULTS"
done < "$GEN/cases"

SUMMARY=
while IFS= read -r line; do
    case $line in
    "ok "*) tg_pass "${line#ok }" ;;
    "FAIL "*) tg_fail "${line#FAIL }" ;;
    summary:*) SUMMARY=${line#summary: } ;;
    *) echo "$line" >&2 ;;
    esac
done < <("$PY" "$MODEL" check --cases "$GEN" --results "$RESULTS" --man "$MAN")
[ -n "$SUMMARY" ] || tg_fail "the check did not finish"

awk -v a="$T0" -v b="$EPOCHREALTIME" -v s="$SUMMARY" \
    'BEGIN { printf "%s; elapsed %.1f s\n", s, b - a }' | tg_note
tg_done
