#!/bin/bash
# A user database that cannot answer is not one that says "no such user or
# group". The NSS service tgtest (tests/policy/nss_tgtest.c, after "files")
# plays a directory (SSSD, LDAP) that the test takes down. While it is
# down, every request that needs it is refused with one line naming the
# database and what was looked up, requests that need only local entries
# go on, and --check and --explain print the same line and exit 1.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/lib.sh"
pol_start "$@"
pol_nss_tgtest
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
    expect_refusal "$1"
    [ "$ERR" = "tapgate: $1" ] || problem "stderr is not the one line \"tapgate: $1\""
}
# expect_failed_with LINE: the last pol_run exited 1 with that one line on
# stderr and nothing on stdout.
expect_failed_with() {
    expect_rc 1
    [ "$EOUT" = "tapgate: $1" ] || problem "stderr is not the one line \"tapgate: $1\": $EOUT"
    [ -z "$OUT" ] || problem "stdout: $OUT"
}

# The directory user has no supplementary groups in its process: it is
# started by uid (with the service down, setpriv could not find its name),
# and tapgate asks NSS anyway.
[ "$(getent passwd "$CON_UID" | cut -d: -f1)" = "$CON" ] || problem "getent does not see $CON"
[ "$(id -G "$TG_USER")" = "$TG_UID 4263" ] || problem "getgrouplist does not ask the service: $(id -G "$TG_USER")"
verdict "the service answers through glibc in this namespace"

# --- a local group naming a directory user --------------------------------------
# The group resolves from /etc/group while the directory is down; the
# caller's passwd entry does not. Read as an unknown uid, the caller would
# be in no group, the deny would not apply and "allow br0" would grant.
tg_acl "allow br0" "deny br0 group tgconlocal"
pol_spawn_nogroups "$CON_UID" -- "$H"; expect_refusal "denied by $A:2 (deny br0 group tgconlocal)"
verdict "up: the directory user is refused by the local group's deny (the setuid copy loads the service)"
down
pol_spawn_nogroups "$CON_UID" -- "$H"; expect_refused_with "$NO_UID"
verdict "down: the directory user is refused, naming the passwd database (not granted as an unknown uid)"
pol_spawn tguser -- "$H"; expect_grant
verdict "down: a local user is granted by a policy of local names"
up

# --- a directory group named by a rule ------------------------------------------
tg_acl "allow br0" "deny br0 group tgcontractors"
pol_spawn_nogroups "$CON_UID" -- "$H"; expect_refusal "denied by $A:2 (deny br0 group tgcontractors)"
pol_spawn tguser -- "$H"; expect_grant
verdict "up: deny br0 group tgcontractors refuses its member, not others"
down
pol_spawn_nogroups "$CON_UID" -- "$H"; expect_refused_with "$(no_group tgcontractors)"
verdict "down: the member is refused, naming the group database and the group"
pol_spawn tguser -- "$H"; expect_refused_with "$(no_group tgcontractors)"
verdict "down: so is everyone: the policy cannot be read (not an \"unknown group\" either)"
up

# A name in neither database: while the directory is down, nobody can tell
# that it does not exist.
tg_acl "allow br0" "allow br1 group tgnosuch"
pol_spawn tguser -- "$H"; expect_refusal "$A:2: unknown group \"tgnosuch\""
verdict "up: a group in neither database is an unknown group"
down
pol_spawn tguser -- "$H"; expect_refused_with "$(no_group tgnosuch)"
verdict "down: the same name is a lookup that failed, not an unknown group"
up

# --- tapgate.conf sections -----------------------------------------------------
tg_acl "allow br0"
pol_conf "[bridge br0 group tgcontractors]" "quota = 1"
pol_spawn tguser -- "$H"; expect_grant
verdict "up: a group section naming a directory group"
down
pol_spawn tguser -- "$H"; expect_refused_with "$(no_group tgcontractors)"
verdict "down: a group section naming a directory group refuses, naming the group database"
pol_conf "[bridge br1 user $CON]" "quota = 1"
pol_spawn tguser -- "$H"; expect_refused_with "cannot look up user \"$CON\" in the passwd database: No such file or directory"
verdict "down: a user section naming a directory user refuses, naming the passwd database"
up
pol_conf

# --- local callers, local names --------------------------------------------------
tg_acl "allow br0 group tglab" "deny br0 user tgbob" "deny br0 group tgconlocal"
pol_conf "[bridge br0 group tglab]" "name = lab%d"
down
pol_spawn tgalice -- "$H"; expect_grant
[[ ${R[ifname]:-} == lab* ]] || problem "the tglab section was not applied: ${R[ifname]:-}"
verdict "down: a member of a local group listing it is granted, its group section applied"
pol_spawn tgbob -- "$H"; expect_refusal "denied by $A:2 (deny br0 user tgbob)"
verdict "down: a local user deny holds"
pol_spawn tguser -- "$H"; expect_refusal "denied: no rule in $A allows it"
verdict "down: a local non-member is refused by default"
pol_spawn_nogroups "$CON_UID" -- "$H"; expect_refused_with "$NO_UID"
verdict "down: a directory user is refused even so (its own entry cannot be read)"
up
pol_conf

# --- what getgrouplist() alone knows ---------------------------------------------
# glibc's getgrouplist() skips a service that is down without a word. A
# deny whose group's member list does not name the caller relies on it,
# and bridge.conf(5) says so: this pins that limit down.
tg_acl "allow br0" "deny br0 group tgshared"
pol_spawn tguser -- "$H"; expect_refusal "denied by $A:2 (deny br0 group tgshared)"
verdict "up: a membership only the directory knows (through getgrouplist) is denied"
down
pol_spawn tguser -- "$H"; expect_grant
verdict "down: the same membership is lost without an error (documented limit)"
up

# --- --check and --explain ---------------------------------------------------------
tg_acl "allow br0" "deny br0 group tgcontractors"
down
pol_run root --check
expect_failed_with "$(no_group tgcontractors)"
verdict "down: --check prints the line, exit 1"
pol_run tguser --explain --br=br0
expect_failed_with "$(no_group tgcontractors)"
verdict "down: --explain prints the line, exit 1"
tg_acl "allow br0" "deny br0 group tgconlocal"
pol_run "$CON_UID" --explain --br=br0
expect_failed_with "$NO_UID"
verdict "down: --explain as a directory user names the passwd database"
pol_run root --explain --br=br0 --user="$CON"
expect_failed_with "cannot look up user \"$CON\" in the passwd database: No such file or directory"
verdict "down: --explain --user of a directory user names the passwd database"
pol_conf "[bridge br0 group tgcontractors]" "quota = 1"
pol_run root --check /etc/tapgate.conf
expect_failed_with "$(no_group tgcontractors)"
verdict "down: --check of tapgate.conf prints the line, exit 1"
pol_conf
up
pol_run root --explain --br=br0 --user="$CON"
expect_rc 1
[[ $OUT == *"denied by $A:2 (deny br0 group tgconlocal)"* ]] || problem "stdout: $OUT"
verdict "up: --explain --user of the directory user shows its deny"

# --- the capability probe -----------------------------------------------------------
# NSS modules run inside the helper: CAP_NET_ADMIN must be permitted there,
# never effective (it is raised only around the tun and netlink calls).
: > "$TG_ROOT/scratch/caps"
chmod 0666 "$TG_ROOT/scratch/caps"
echo "$TG_ROOT/scratch/caps" > /etc/tgnss/capslog
pol_spawn_nogroups "$CON_UID" -- "$H"; expect_refusal "denied by $A:2"
tg_acl "allow br0" "deny br0 group tgcon"
pol_spawn_nogroups "$CON_UID" -- "$H"; expect_refusal "denied by $A:2"
rm /etc/tgnss/capslog
grep -q '^_nss_tgtest_getpwuid_r tapgate ' "$TG_ROOT/scratch/caps" ||
    problem "no getpwuid_r line of the helper in the capability log: $(head -n 3 "$TG_ROOT/scratch/caps")"
grep -q '^_nss_tgtest_getgrnam_r tapgate ' "$TG_ROOT/scratch/caps" ||
    problem "no getgrnam_r line of the helper in the capability log: $(head -n 3 "$TG_ROOT/scratch/caps")"
grep -qv '^_nss_tgtest_[a-z_]* [^ ]\+ CapEff:[0-9a-f]\{16\} CapPrm:[0-9a-f]\{16\}$' "$TG_ROOT/scratch/caps" &&
    problem "malformed lines in the capability log: $(head -n 3 "$TG_ROOT/scratch/caps")"
wrong=$(grep '^_nss_tgtest_[a-z_]* tapgate ' "$TG_ROOT/scratch/caps" |
    grep -v ' CapEff:0000000000000000 CapPrm:0000000000001000$')
[ -z "$wrong" ] || problem "NSS code ran with other capabilities: $wrong"
verdict "NSS modules run in the helper with CAP_NET_ADMIN permitted, not effective"

expect_nothing_left
verdict "nothing left behind"
pol_elapsed
tg_done
