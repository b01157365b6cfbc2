#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The service's memory stays flat over many requests: its main process
# accepts, forks and reaps for each, and must keep nothing of any. Two
# clients (client.py --loop, the whole protocol over the socket) send
# TG_SVC_REQUESTS requests between them (20000 by default), each decided
# by the ACL and refused, then 200 that get a tap; the main process's
# VmRSS may not grow by more than 128 kB over a warmed-up start, nor its
# fds by one. The rate is noted, with what 100000 requests would take.
#
# Env (meson sets them): TAPGATE_BUILD_ROOT, TG_SPAWN, PYTHON;
# TG_SVC_REQUESTS.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/../lib/tg.sh"
tg_start "$@"
TG_VIA=service tg_helper
CLIENT="${PYTHON:-python3} $(tg_user_tool "$here/client.py")"
N=${TG_SVC_REQUESTS:-20000}
tg_bridge br0
tg_bridge br1
tg_acl "allow br0" "deny br1"
USERS=$TG_UID:$TG_UID,$TG_ALICE_UID:$TG_ALICE_UID
DENIED="text=access to bridge br1 denied by /etc/qemu/bridge.conf:2 \\(deny br1\\)$"

rss() { sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB$/\1/p' "/proc/$TG_SERVICE_PID/status"; }
# loop COUNT-PER-USER [client.py options]: both users at once; their
# summary lines in OUT, and a problem unless every reply was the one
# expected.
loop() {
    local n=$1 line
    shift
    OUT=$($CLIENT --users "$USERS" --loop "$n" "$@" "$TG_SERVICE_SOCKET" 2>&1)
    while IFS= read -r line; do
        [[ $line =~ ^loop=$n\ ok=$n\ other=0\  ]] || tg_problem "$line"
    done <<< "$OUT"
}

# Warm up: the first requests fill the allocator's pools.
loop 500 --bridge br1 --expect "$DENIED"
tg_service_fds
fds0=$TG_SERVICE_FDS rss0=$(rss)
tg_verdict "1000 requests to warm up; the service holds $fds0 fds, VmRSS ${rss0} kB"

tg_clock_start
loop $((N / 2)) --bridge br1 --expect "$DENIED"
took=$(tg_ms)
ms=${took% ms}
tg_note "    $N requests in $took: $((N * 1000 / ms)) a second; the 100000 the issue asks for would take" \
    "    about $((100000 * ms / N / 1000)) s (TG_SVC_REQUESTS=100000 runs them)"
loop 100
tg_service_idle || tg_problem "children left: $TG_SERVICE_CHILDREN"
tg_service_fds
rss1=$(rss)
[ "$TG_SERVICE_FDS" = "$fds0" ] || tg_problem "fds: $TG_SERVICE_FDS, $fds0 before"
[[ $rss0 =~ ^[0-9]+$ && $rss1 =~ ^[0-9]+$ ]] && ((rss1 - rss0 <= 128)) ||
    tg_problem "VmRSS grew from ${rss0} kB to ${rss1} kB"
tg_expect_nothing_left
tg_verdict "$N refused requests and 200 taps: VmRSS ${rss0} kB -> ${rss1} kB, fds $fds0 -> $TG_SERVICE_FDS"
tg_elapsed
tg_done
