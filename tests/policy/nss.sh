#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# A user database that cannot answer is not one that says "no such user or
# group". The NSS service tgtest (tests/policy/nss_tgtest.c, after "files")
# plays a directory (SSSD, LDAP) that the test takes down. While it is
# down, every request that needs it is refused with one line naming the
# database and what was looked up, requests that need only local entries
# go on, and --check and --explain print the same line and exit 1.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/../lib/tg.sh"
tg_start "$@"
tg_helper

# nss_tgtest: adds the service "tgtest" (tests/policy/nss_tgtest.c, path
# in TG_NSS_MODULE) after "files" for passwd and group, with empty
# /etc/tgnss/passwd and /etc/tgnss/group for the test to fill; touching
# /etc/tgnss/down makes it answer as SSSD does while sssd is down (more
# in tests/policy/nss_tgtest.c: initgroups, the capability log).
# A setuid program's dlopen() looks in the system library directory only
# (LD_LIBRARY_PATH is ignored), so the module is laid over that directory,
# in this mount namespace only.
nss_tgtest() {
    local module=${TG_NSS_MODULE:-} libc libdir
    if [ ! -f "$module" ]; then
        echo "NSS test module not found: $module (set TG_NSS_MODULE)" >&2
        exit 1
    fi
    libc=$(ldd "$TG_H" | awk '$1 == "libc.so.6" { print $3 }')
    libdir=$(dirname "$(readlink -f "$libc")")
    mkdir -p "$TG_ROOT/nsslib"
    install -o root -g root -m 0644 "$module" "$TG_ROOT/nsslib/libnss_tgtest.so.2"
    mount -t overlay tapgate-nsslib -o "lowerdir=$TG_ROOT/nsslib:$libdir" "$libdir"
    # An ld.so.cache entry would win over the directory.
    if ldconfig -p | grep -q libnss_tgtest; then
        echo "ld.so.cache names libnss_tgtest: the overlay would not be used" >&2
        exit 1
    fi
    # meson points LD_LIBRARY_PATH at the module's build directory: without
    # it, every program here finds the module where the helper does.
    unset LD_LIBRARY_PATH
    sed -i -E 's/^(passwd|group|initgroups):.*$//' /etc/nsswitch.conf
    printf 'passwd: files tgtest\ngroup: files tgtest\n' >> /etc/nsswitch.conf
    mkdir -p /etc/tgnss
    : > /etc/tgnss/passwd
    : > /etc/tgnss/group
}
nss_tgtest

tg_bridge br0
tg_bridge br1
A=/etc/qemu/bridge.conf

# tgcon lives in the directory only, and so does its group tgcontractors;
# tgconlocal is a local group that lists it. tgshared is a local group
# without members: the directory alone makes tguser a member, the way SSSD
# with ignore_group_members or nested LDAP groups do.
CON=tgcon CON_UID=4245
echo "$CON:x:$CON_UID:$CON_UID:directory user:/nonexistent:/bin/sh" >> /etc/tgnss/passwd
echo "$CON:x:$CON_UID:" >> /etc/tgnss/group
echo "tgcontractors:x:4261:$CON" >> /etc/tgnss/group
echo "tgconlocal:x:4262:$CON" >> /etc/group
echo "tgshared:x:4263:" >> /etc/group
echo "$TG_USER:4263" > /etc/tgnss/initgroups

down() { touch /etc/tgnss/down; }
up() { rm -f /etc/tgnss/down; }

NO_UID="cannot look up uid $CON_UID in the passwd database: No such file or directory"
no_group() { echo "cannot look up group \"$1\" in the group database: No such file or directory"; }

# expect_refused_with LINE: the last request was refused, and stderr is that
# one line.
expect_refused_with() {
    tg_expect_refusal "$1"
    [ "$TG_ERR" = "tapgate: $1" ] || tg_problem "stderr is not the one line \"tapgate: $1\""
}
# expect_failed_with LINE: the last tg_run exited 1 with that one line on
# stderr and nothing on stdout.
expect_failed_with() {
    tg_expect_rc 1
    [ "$TG_EOUT" = "tapgate: $1" ] || tg_problem "stderr is not the one line \"tapgate: $1\": $TG_EOUT"
    [ -z "$TG_OUT" ] || tg_problem "stdout: $TG_OUT"
}

# The directory user has no supplementary groups in its process: it is
# started by uid (with the service down, setpriv could not find its name),
# and tapgate asks NSS anyway.
[ "$(getent passwd "$CON_UID" | cut -d: -f1)" = "$CON" ] || tg_problem "getent does not see $CON"
[ "$(id -G "$TG_USER")" = "$TG_UID 4263" ] || tg_problem "getgrouplist does not ask the service: $(id -G "$TG_USER")"
tg_verdict "the service answers through glibc in this namespace"

# --- a local group naming a directory user --------------------------------------
# The group resolves from /etc/group while the directory is down; the
# caller's passwd entry does not. Read as an unknown uid, the caller would
# be in no group, the deny would not apply and "allow br0" would grant.
tg_acl "allow br0" "deny br0 group tgconlocal"
tg_spawn_nogroups "$CON_UID" -- "$TG_H"; tg_expect_refusal "denied by $A:2 (deny br0 group tgconlocal)"
tg_verdict "up: the directory user is refused by the local group's deny (the setuid copy loads the service)"
down
tg_spawn_nogroups "$CON_UID" -- "$TG_H"; expect_refused_with "$NO_UID"
tg_verdict "down: the directory user is refused, naming the passwd database (not granted as an unknown uid)"
tg_spawn tguser -- "$TG_H"; tg_expect_grant
tg_verdict "down: a local user is granted by a policy of local names"
up

# --- a directory group named by a rule ------------------------------------------
tg_acl "allow br0" "deny br0 group tgcontractors"
tg_spawn_nogroups "$CON_UID" -- "$TG_H"; tg_expect_refusal "denied by $A:2 (deny br0 group tgcontractors)"
tg_spawn tguser -- "$TG_H"; tg_expect_grant
tg_verdict "up: deny br0 group tgcontractors refuses its member, not others"
down
tg_spawn_nogroups "$CON_UID" -- "$TG_H"; expect_refused_with "$(no_group tgcontractors)"
tg_verdict "down: the member is refused, naming the group database and the group"
tg_spawn tguser -- "$TG_H"; expect_refused_with "$(no_group tgcontractors)"
tg_verdict "down: so is everyone: the policy cannot be read (not an \"unknown group\" either)"
up

# A name in neither database: while the directory is down, nobody can tell
# that it does not exist.
tg_acl "allow br0" "allow br1 group tgnosuch"
tg_spawn tguser --br br1 -- "$TG_H"; tg_expect_refusal "$A:2: unknown group \"tgnosuch\""
tg_spawn tguser -- "$TG_H"; tg_expect_grant
tg_verdict "up: a group in neither database is an unknown group: it closes br1 only"
down
tg_spawn tguser -- "$TG_H"; expect_refused_with "$(no_group tgnosuch)"
tg_verdict "down: the same name is a lookup that failed, not an unknown group"
up

# --- tapgate.conf sections -----------------------------------------------------
tg_acl "allow br0"
tg_conf "[bridge br0 group tgcontractors]" "quota = 1"
tg_spawn tguser -- "$TG_H"; tg_expect_grant
tg_verdict "up: a group section naming a directory group"
down
tg_spawn tguser -- "$TG_H"; expect_refused_with "$(no_group tgcontractors)"
tg_verdict "down: a group section naming a directory group refuses, naming the group database"
tg_conf "[bridge br1 user $CON]" "quota = 1"
tg_spawn tguser -- "$TG_H"; expect_refused_with "cannot look up user \"$CON\" in the passwd database: No such file or directory"
tg_verdict "down: a user section naming a directory user refuses, naming the passwd database"
up
tg_conf

# --- local callers, local names --------------------------------------------------
tg_acl "allow br0 group tglab" "deny br0 user tgbob" "deny br0 group tgconlocal"
tg_conf "[bridge br0 group tglab]" "name = lab%d"
down
tg_spawn tgalice -- "$TG_H"; tg_expect_grant
[[ ${TG_R[ifname]:-} == lab* ]] || tg_problem "the tglab section was not applied: ${TG_R[ifname]:-}"
tg_verdict "down: a member of a local group listing it is granted, its group section applied"
tg_spawn tgbob -- "$TG_H"; tg_expect_refusal "denied by $A:2 (deny br0 user tgbob)"
tg_verdict "down: a local user deny holds"
tg_spawn tguser -- "$TG_H"; tg_expect_refusal "denied: no rule in $A allows it"
tg_verdict "down: a local non-member is refused by default"
tg_spawn_nogroups "$CON_UID" -- "$TG_H"; expect_refused_with "$NO_UID"
tg_verdict "down: a directory user is refused even so (its own entry cannot be read)"
up
tg_conf

# --- what getgrouplist() alone knows ---------------------------------------------
# glibc's getgrouplist() skips a service that is down without a word. A
# deny whose group's member list does not name the caller relies on it,
# and bridge.conf(5) says so: this pins that limit down.
tg_acl "allow br0" "deny br0 group tgshared"
tg_spawn tguser -- "$TG_H"; tg_expect_refusal "denied by $A:2 (deny br0 group tgshared)"
tg_verdict "up: a membership only the directory knows (through getgrouplist) is denied"
down
tg_spawn tguser -- "$TG_H"; tg_expect_grant
tg_verdict "down: the same membership is lost without an error (documented limit)"
up

# --- --check and --explain ---------------------------------------------------------
tg_acl "allow br0" "deny br0 group tgcontractors"
down
tg_run root --check
expect_failed_with "$(no_group tgcontractors)"
tg_verdict "down: --check prints the line, exit 1"
tg_run tguser --explain --br=br0
expect_failed_with "$(no_group tgcontractors)"
tg_verdict "down: --explain prints the line, exit 1"
tg_acl "allow br0" "deny br0 group tgconlocal"
tg_run "$CON_UID" --explain --br=br0
expect_failed_with "$NO_UID"
tg_verdict "down: --explain as a directory user names the passwd database"
tg_run root --explain --br=br0 --user="$CON"
expect_failed_with "cannot look up user \"$CON\" in the passwd database: No such file or directory"
tg_verdict "down: --explain --user of a directory user names the passwd database"
tg_conf "[bridge br0 group tgcontractors]" "quota = 1"
tg_run root --check /etc/tapgate.conf
expect_failed_with "$(no_group tgcontractors)"
tg_verdict "down: --check of tapgate.conf prints the line, exit 1"
tg_conf
up
tg_run root --explain --br=br0 --user="$CON"
tg_expect_rc 1
[[ $TG_OUT == *"denied by $A:2 (deny br0 group tgconlocal)"* ]] || tg_problem "stdout: $TG_OUT"
tg_verdict "up: --explain --user of the directory user shows its deny"

# --- the capability probe -----------------------------------------------------------
# NSS modules run inside the helper: CAP_NET_ADMIN must be permitted there,
# never effective (it is raised only around the tun and netlink calls).
# Through the service they run in its child serving the request, tapgated.
SERVER=tapgate
tg_via_service && SERVER=tapgated
: > "$TG_ROOT/scratch/caps"
chmod 0666 "$TG_ROOT/scratch/caps"
echo "$TG_ROOT/scratch/caps" > /etc/tgnss/capslog
tg_spawn_nogroups "$CON_UID" -- "$TG_H"; tg_expect_refusal "denied by $A:2"
tg_acl "allow br0" "deny br0 group tgcon"
tg_spawn_nogroups "$CON_UID" -- "$TG_H"; tg_expect_refusal "denied by $A:2"
rm /etc/tgnss/capslog
grep -q "^_nss_tgtest_getpwuid_r $SERVER " "$TG_ROOT/scratch/caps" ||
    tg_problem "no getpwuid_r line of the helper in the capability log: $(head -n 3 "$TG_ROOT/scratch/caps")"
grep -q "^_nss_tgtest_getgrnam_r $SERVER " "$TG_ROOT/scratch/caps" ||
    tg_problem "no getgrnam_r line of the helper in the capability log: $(head -n 3 "$TG_ROOT/scratch/caps")"
grep -qv '^_nss_tgtest_[a-z_]* [^ ]\+ CapEff:[0-9a-f]\{16\} CapPrm:[0-9a-f]\{16\}$' "$TG_ROOT/scratch/caps" &&
    tg_problem "malformed lines in the capability log: $(head -n 3 "$TG_ROOT/scratch/caps")"
wrong=$(grep "^_nss_tgtest_[a-z_]* $SERVER " "$TG_ROOT/scratch/caps" |
    grep -v ' CapEff:0000000000000000 CapPrm:0000000000001000$')
[ -z "$wrong" ] || tg_problem "NSS code ran with other capabilities: $wrong"
tg_verdict "NSS modules run in the helper with CAP_NET_ADMIN permitted, not effective"

tg_expect_nothing_left
tg_verdict "nothing left behind"
tg_elapsed
tg_done
