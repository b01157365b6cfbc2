#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# A file behind an automount point (systemd .automount, autofs) is read,
# not taken for missing: the walk's lookup of the mount point must trigger
# the mount, as the kernel's own path walk does. Otherwise a deny include
# on an NFS share that has expired reads as absent, and grants.
. "$(dirname "${BASH_SOURCE[0]}")/../lib/tg.sh"
tg_start "$@"
tg_helper
tg_bridge br0

mkdir -p /srv/acl /srv/acl-real
chmod 0755 /srv/acl /srv/acl-real
echo "deny br0" > /srv/acl-real/deny.conf
chmod 0644 /srv/acl-real/deny.conf
tg_acl "include /srv/acl/deny.conf" "allow br0"
"${PYTHON:-/usr/bin/python3}" "$(dirname "${BASH_SOURCE[0]}")/automountd.py" \
    /srv/acl-real /srv/acl "$TG_ROOT/ready" &
daemon=$!
tg_wait 10 test -e "$TG_ROOT/ready" || { tg_fail "automountd did not start"; tg_done; }

tg_run "$TG_USER" --check
[ "$TG_RC" = 0 ] || tg_problem "exit $TG_RC: $TG_EOUT"
[[ $TG_OUT == *"OK, 2 rules"* ]] || tg_problem "the include behind the automount point was not read: $TG_OUT"
tg_verdict "--check reads an include behind an automount point that was not mounted yet"

umount /srv/acl 2> /dev/null
tg_spawn "$TG_USER" -- "$TG_H"
tg_expect_refusal "denied by /srv/acl/deny.conf:1"
tg_verdict "its deny refuses the request"

umount /srv/acl 2> /dev/null
umount /srv/acl 2> /dev/null
kill "$daemon" 2> /dev/null
wait "$daemon" 2> /dev/null
tg_done
