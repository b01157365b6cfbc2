#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The distribution packages, built from a fresh copy of the tree the way
# README.md tells users and packagers to, then installed and used:
#   - Debian: dpkg-buildpackage (the changelog's version, and one above it
#     for the upgrade), lintian --pedantic, what tapgate and
#     tapgate-qemu-default hold;
#   - the packages installed with apt-get, maintainer scripts and all, in
#     this test's namespaces (see "Why overlays" below): an admin's
#     statoverride through install, upgrade and purge, and what the
#     maintainer scripts ask of systemd then (a stub); the test user's
#     QEMU with a plain -netdev bridge, and libvirt in session mode with a
#     qemu.conf that names no bridge_helper, getting tapgate's taps once
#     tapgate-qemu-default diverts QEMU's helper, and QEMU's own helper
#     back once it is removed; a purge that leaves nothing behind;
#   - RPM: rpmbuild with Fedora's meson macros (meson.macros beside this
#     file), the package's files and modes.
# Last, from outside the namespaces, the host's dpkg database, diversions,
# statoverrides and QEMU's helper must be as they were before the test.
# Needs root, the packaging tools, QEMU and libvirt (tests/deps.sh).
. "$(dirname "$0")/../lib/tg.sh"

# QEMU's own helper: the path QEMU runs for -netdev bridge without helper=,
# and libvirt's default bridge_helper.
REF=/usr/lib/qemu/qemu-bridge-helper
HELPER_PATH=/usr/libexec/tapgate

# --- the host, seen from outside ------------------------------------------------
declare -A HOST_PART=(
    [dpkg]="the dpkg database"
    [diversions]="dpkg-divert --list"
    [statoverrides]="dpkg-statoverride --list"
    [helper]="$REF (mode, owner, sha256)"
    [traces]="tapgate's traces (/usr/libexec, dpkg's info, /run, systemd's state) and /run/systemd/system, as they were"
)
declare -A HOST_BEFORE=()
host_part() {
    case $1 in
    dpkg)
        sha256sum /var/lib/dpkg/status
        dpkg-query -W -f '${binary:Package} ${Version} ${db:Status-Abbrev}\n' ;;
    diversions) dpkg-divert --list | sort ;;
    statoverrides) dpkg-statoverride --list | sort ;;
    helper) stat -c '%A %U:%G' "$REF"; sha256sum "$REF" ;;
    traces)
        ls -d /usr/libexec/tapgate* /var/lib/dpkg/info/tapgate* /run/tapgate.lock /run/systemd/system \
            /var/lib/systemd/deb-systemd-helper-*/tapgate* /etc/systemd/system/*/tapgate* 2>/dev/null ;;
    esac
}
host_unchanged() {
    local p now
    for p in dpkg diversions statoverrides helper traces; do
        now=$(host_part "$p")
        if [ "$now" = "${HOST_BEFORE[$p]}" ]; then
            tg_pass "the host is as before: ${HOST_PART[$p]}"
        else
            tg_fail "the host has changed: ${HOST_PART[$p]}"
            diff <(echo "${HOST_BEFORE[$p]}") <(echo "$now") | head -n 20 | tg_note
        fi
    done
}

if [ -z "${TG_ISOLATED:-}" ]; then
    tg_require_root
    for tool in dpkg-buildpackage lintian rpmbuild apt-get "${QEMU:-qemu-system-x86_64}"; do
        command -v "$tool" >/dev/null ||
            tg_missing "$tool not installed (tests/deps.sh installs what this test needs)"
    done
    tg_libvirt_prereqs
    [ -x "$REF" ] || tg_missing "no $REF (qemu-system-common)"
    for p in "${!HOST_PART[@]}"; do HOST_BEFORE[$p]=$(host_part "$p"); done
    TG_OUTSIDE=host_unchanged
fi
tg_isolate "$@"
tg_need "$UDPGUEST"
tg_clock_start

# Why overlays: the packages are installed for real, maintainer scripts and
# all, but over overlays of /usr and /var private to this mount namespace
# (/etc and /run are private already, tg_isolate): dpkg's database,
# diversions and statoverrides, deb-systemd-helper's state and every file
# unpacked land in $TG_ROOT and vanish with the namespace. Not on the host:
# other tests run at the same time and use the real $REF, which
# tapgate-qemu-default diverts, and a test that dies halfway would leave
# the host changed with nothing to undo it.
tg_overlay /usr
tg_overlay /var
# The builds need more room than tg_isolate gives.
mount -o remount,size=3g "$TG_ROOT"
# Temporary files (apt's, lintian's, rpmbuild's) stay here too.
mkdir -m 1777 "$TG_ROOT/tmp"
export TMPDIR=$TG_ROOT/tmp
P=$TG_ROOT/pkg
mkdir -p "$P/home"

# Until the first install this namespace sees the host's dpkg database.
installed=$(dpkg-query -W -f '${db:Status-Status} ${binary:Package}\n' 'tapgate*' 2>/dev/null |
    grep -v '^not-installed ')
if [ -n "$installed" ]; then
    tg_fail "the host has no tapgate package installed (it has: $installed)"
    tg_done
fi
tg_pass "the host has no tapgate package installed"

# --- Debian: build ---------------------------------------------------------------
DEB_VERSION=$(dpkg-parsechangelog -l "$TAPGATE_SOURCE_ROOT/packaging/debian/changelog" -S Version)
UPSTREAM=${DEB_VERSION%-*}
NEXT_VERSION=$UPSTREAM-$((${DEB_VERSION##*-} + 1))
ARCH=$(dpkg --print-architecture)
TREE=$P/src/tapgate-$UPSTREAM
# deb PACKAGE VERSION: where that .deb is.
deb() { echo "$P/$2/${1}_$2_$([ "$1" = tapgate ] && echo "$ARCH" || echo all).deb"; }

# A fresh copy: what git tracks, as in CI's clean clone, and none of what
# lies around in a developer's tree (build directories above all).
mkdir -p "$TREE"
if git -C "$TAPGATE_SOURCE_ROOT" rev-parse --git-dir >/dev/null 2>&1; then
    git -C "$TAPGATE_SOURCE_ROOT" ls-files -z | tar -C "$TAPGATE_SOURCE_ROOT" --null -T - -cf -
else
    tar -C "$TAPGATE_SOURCE_ROOT" --exclude-vcs --exclude-vcs-ignores -cf - .
fi | tar -C "$TREE" -xf -
# The RPM's source tarball, before the Debian build adds to the tree.
mkdir -p "$P/rpm/SOURCES"
tar -C "$P/src" -czf "$P/rpm/SOURCES/tapgate-$UPSTREAM.tar.gz" "tapgate-$UPSTREAM"

# deb_build VERSION [OPTION...]: dpkg-buildpackage -b in the copy, the
# packages into $P/VERSION; the log in $P/build-VERSION.log.
deb_build() {
    local v=$1 p
    shift
    if ! (cd "$TREE" && dpkg-buildpackage -us -uc -b "$@") > "$P/build-$v.log" 2>&1; then
        tg_fail "dpkg-buildpackage -b${*:+ $*} builds $v"
        tail -n 25 "$P/build-$v.log" | tg_note
        return 1
    fi
    mkdir -p "$P/$v"
    mv "$P/src"/*.deb "$P/$v/"
    rm -f "$P/src"/*.changes "$P/src"/*.buildinfo
    for p in tapgate tapgate-qemu-default; do
        [ "$(dpkg-deb -f "$(deb $p "$v")" Version 2>&1)" = "$v" ] || tg_problem "no $(deb $p "$v")"
    done
    tg_verdict "dpkg-buildpackage -b${*:+ $*} builds tapgate and tapgate-qemu-default $v"
}

# deb_list DEB: "MODE OWNER PATH[ -> TARGET]" a line, each PATH as dpkg -L
# shows it.
deb_list() {
    dpkg-deb -c "$1" | awk '{
        p = substr($6, 2); sub("/$", "", p); if (p == "") p = "/."
        print $1, $2, p (($7 == "->") ? " -> " $8 : "") }'
}

debian_contents() {
    local t q f target others
    t=$(deb_list "$(deb tapgate "$DEB_VERSION")")
    q=$(deb_list "$(deb tapgate-qemu-default "$DEB_VERSION")")
    tg_note "tapgate $DEB_VERSION:" "$t" "tapgate-qemu-default $DEB_VERSION:" "$q"
    for f in "-rwsr-xr-x root/root $HELPER_PATH" "-rwxr-xr-x root/root /usr/libexec/tapgated"; do
        grep -qxF -- "$f" <<< "$t" || tg_problem "no '$f'"
    done
    tg_verdict "tapgate.deb: $HELPER_PATH -rwsr-xr-x root/root, /usr/libexec/tapgated -rwxr-xr-x root/root"
    for f in /lib/systemd/system/tapgate.{service,socket} /usr/share/man/man5/{bridge.conf,tapgate.conf}.5.gz \
            /usr/share/man/man8/{tapgate,tapgated}.8.gz /usr/share/doc/tapgate/examples/{bridge.conf,tapgate.conf}; do
        grep -qxF -- "-rw-r--r-- root/root $f" <<< "$t" || tg_problem "no '$f' -rw-r--r-- root/root"
    done
    tg_verdict "tapgate.deb: the two units, the four man pages, the two examples, each 0644 root/root"
    tg_check "tapgate.deb: nothing under /etc" eval '! grep -q " /etc/" <<< "$t"'
    target=$(sed -n "s|^lrwxrwxrwx root/root $REF -> ||p" <<< "$q")
    [ "$(realpath -m "${REF%/*}/$target")" = "$HELPER_PATH" ] ||
        tg_problem "$REF is not a link to $HELPER_PATH (target: '$target')"
    others=$(grep -v -e '^d' -e "^lrwxrwxrwx root/root $REF -> " \
        -e ' /usr/share/doc/tapgate-qemu-default/[^/]*$' \
        -e ' /usr/share/lintian/overrides/tapgate-qemu-default$' <<< "$q")
    [ -z "$others" ] || tg_problem "more than the link and the docs: $others"
    tg_verdict "tapgate-qemu-default.deb: only the link $REF -> $HELPER_PATH and its docs"
}

lintian_debs() {
    local out rc
    # As a user: lintian does not want root. Its status is non-zero for an
    # error or a warning only (--fail-on): informational and pedantic tags
    # are shown, and do not fail.
    out=$(tg_as "$TG_USER" env HOME="$TG_ROOT/home/$TG_USER" TMPDIR="$TMPDIR" \
        lintian --pedantic --display-info --fail-on error,warning \
        "$(deb tapgate "$DEB_VERSION")" "$(deb tapgate-qemu-default "$DEB_VERSION")" 2>&1)
    rc=$?
    tg_note "lintian --pedantic --display-info:" "${out:-(no tags)}"
    tg_check "lintian --pedantic on both .debs: no error or warning (status $rc)" [ "$rc" = 0 ]
}

# --- Debian: install and use -------------------------------------------------------
# apt_get ARGS...: apt-get -y as an admin runs it; its output in
# $P/apt.log, shown on failure. apt-get install reads the package lists
# as they are, never refreshing them; nothing needs downloading (the
# dependencies are installed), and this namespace has no network to try.
# (--no-download would say so, but apt 2.6 then refuses .debs named by
# path: "Pathname to install is not absolute".)
apt_get() {
    DEBIAN_FRONTEND=noninteractive apt-get -y -o Dpkg::Use-Pty=0 "$@" > "$P/apt.log" 2>&1 && return 0
    tg_problem "apt-get $* failed"
    tail -n 15 "$P/apt.log" | tg_note
    return 1
}
mode_of() { stat -c '%a %U %G' "$1" 2>&1; }
status_of() { dpkg-query -W -f '${db:Status-Status} ${Version}' "$1" 2>/dev/null; }
sha_of() { local s; s=$(sha256sum "$1" 2>&1); echo "${s%% *}"; }
diversion_of_ref() { dpkg-divert --list "$REF"; }
# diverted: QEMU's helper moved aside by tapgate-qemu-default, a link to
# tapgate in its place.
diverted() {
    [ "$(diversion_of_ref)" = "diversion of $REF to $REF.distrib by tapgate-qemu-default" ] ||
        tg_problem "diversion: '$(diversion_of_ref)'"
    [ "$(readlink -f "$REF")" = "$HELPER_PATH" ] || tg_problem "$REF leads to '$(readlink -f "$REF")'"
}

# systemd_stub on|off: the maintainer scripts talk to systemd only where
# /run/systemd/system says it is init, which it is not here (/run is
# private and empty). With the stub on, what the scripts ask of systemd,
# through systemctl or deb-systemd-invoke, is recorded in $P/systemd.log
# instead (and policy-rc.d, which could veto it, is not asked).
systemd_stub() {
    local f
    if [ "$1" = on ]; then
        printf '#!/bin/sh\necho "${0##*/} $*" >> "%s"\n' "$P/systemd.log" > "$P/systemd-stub"
        chmod 0755 "$P/systemd-stub"
        : > "$P/systemd.log"
        mkdir -p /run/systemd/system
        for f in /usr/bin/systemctl /usr/bin/deb-systemd-invoke; do mount --bind "$P/systemd-stub" "$f"; done
    else
        umount /usr/bin/systemctl /usr/bin/deb-systemd-invoke
        rmdir /run/systemd/system /run/systemd
    fi
}
# systemd_last UNIT: the last action the scripts asked for UNIT.
systemd_last() {
    awk -v u="$1" '{ a = ""
        for (i = 2; i <= NF; i++) if ($i !~ /^-/) { a = $i; break }
        for (i = 2; i <= NF; i++) if ($i == u) last = a } END { print last }' "$P/systemd.log"
}

# qemu_plain NAME: the test user's QEMU with a plain -netdev bridge (no
# helper=), hubbed to udpguest; TG_TAP: the taps on br0. QEMU's status.
qemu_plain() {
    local rc
    tg_qemu_udp "$1" "bridge,id=n,br=br0"
    rc=$?
    TG_TAP=$(tg_taps_on br0)
    return $rc
}
qemu_end() {  # NAME
    tg_qemu_stop "$1" || tg_problem "QEMU would not exit"
    tg_wait 5 tg_no_taps || tg_problem "a tap is left after QEMU exited"
}

# qemu_gets_tapgate NAME GUEST-IP: the tap is one only tapgate makes (its
# alias names the user) and frames cross it both ways.
qemu_gets_tapgate() {
    local alias
    if ! qemu_plain "$1"; then
        tg_problem "QEMU did not start: $(head -c 300 "$TG_QRUN/$1.err")"
    elif [ "$(tg_lines "$TG_TAP")" != 1 ]; then
        tg_problem "want one tap on br0, have '$TG_TAP'"
    else
        alias=$(tg_read "/sys/class/net/$TG_TAP/ifalias")
        [[ "$alias " == "tapgate uid=$TG_UID "* ]] ||
            tg_problem "$TG_TAP's alias is '$alias', not 'tapgate uid=$TG_UID ...'"
        tg_udp_ping br0 "$2" || tg_problem "no ARP and ping through $TG_TAP: $TG_PING"
    fi
    qemu_end "$1"
}

# qemu_gets_reference NAME: QEMU's own helper answers. Debian ships it
# 0755: without setuid it cannot make a tap for the user, and QEMU fails
# with its words, none of tapgate's. With an admin's setuid on it, the
# tap it makes has no alias.
qemu_gets_reference() {
    local err=$TG_QRUN/$1.err
    if [ -u "$REF" ]; then
        if ! qemu_plain "$1"; then
            tg_problem "QEMU did not start with the setuid $REF: $(head -c 300 "$err")"
        elif [ -n "$(tg_read "/sys/class/net/$TG_TAP/ifalias")" ]; then
            tg_problem "$TG_TAP has an alias: $(tg_read "/sys/class/net/$TG_TAP/ifalias")"
        fi
    else
        qemu_plain "$1" && tg_problem "QEMU started, though $REF is not setuid"
        grep -q 'bridge helper failed' "$err" || tg_problem "QEMU does not report the helper's failure"
        grep -q '^tapgate' "$err" && tg_problem "tapgate answered: $(grep '^tapgate' "$err")"
        [ -z "$TG_TAP" ] || tg_problem "a tap was made: $TG_TAP"
        tg_note "QEMU said:" "$(cat "$err")"
    fi
    qemu_end "$1"
}

# The test user's libvirtd with a qemu.conf that names no bridge_helper
# runs a paused domain (QEMU makes its netdevs before the guest runs).
libvirt_gets_tapgate() {
    local dom=tgpkg xml=$TG_ROOT/home/$TG_USER/tgpkg.xml out iflist tap alias f
    tg_libvirtd_start
    if ! tg_libvirtd_wait; then
        tg_problem "libvirtd (session) did not come up"
        return
    fi
    tg_libvirt_domain "$dom" br0 52:54:00:7a:90:02 > "$xml"
    chown "$TG_USER:$TG_USER" "$xml"
    if ! out=$(tg_virsh create --paused "$xml" 2>&1); then
        tg_problem "virsh create failed: $out"
        tg_libvirt_logs "$dom"
    else
        tg_libvirt_save_caps
        iflist=$(tg_virsh domiflist "$dom" 2>&1)
        tap=$(awk '$5 == "52:54:00:7a:90:02" { print $1 }' <<< "$iflist")
        alias=$(tg_read "/sys/class/net/$tap/ifalias" 2>/dev/null)
        [ -n "$tap" ] && [ "$(tg_taps_on br0)" = "$tap" ] ||
            tg_problem "domiflist names no tap on br0: $iflist"
        [[ "$alias " == "tapgate uid=$TG_UID "* ]] ||
            tg_problem "the tap '$tap' has the alias '$alias', not 'tapgate uid=$TG_UID ...'"
        f=$(grep -m 1 -o "$REF [^\"]*" "$TG_LV_HOME/libvirtd.log")
        [ -n "$f" ] && tg_note "libvirtd ran: $f" || tg_problem "libvirtd's log does not show it running $REF"
        tg_virsh destroy "$dom" >/dev/null 2>&1
        tg_wait 5 tg_no_taps || tg_problem "a tap is left after virsh destroy"
    fi
    tg_libvirt_cleanup
}

debian_install() {
    local v1=$DEB_VERSION v2=$NEXT_VERSION ref_sha ref_mode ref_err f files lock dsh left existed=()
    ref_sha=$(sha_of "$REF")
    ref_mode=$(mode_of "$REF")
    # What of the package's paths was there before it: the directories it
    # shares with the system, which a purge leaves.
    while read -r f; do
        [ -e "$f" ] || [ -L "$f" ] && existed+=("$f")
    done < <(deb_list "$(deb tapgate "$v1")" | awk '{ print $3 }')

    tg_note "--- an admin's statoverride, set before the install; systemd as init (a stub)"
    systemd_stub on
    dpkg-statoverride --add root root 0755 "$HELPER_PATH"
    apt_get install "$(deb tapgate "$v1")"
    [ "$(mode_of "$HELPER_PATH")" = "755 root root" ] || tg_problem "$HELPER_PATH: $(mode_of "$HELPER_PATH")"
    tg_verdict "install $v1 with the admin's statoverride (root root 0755): $HELPER_PATH is 0755"
    f=$(grep -E ' (start|restart|try-restart|reload-or-restart|enable) .*tapgate' "$P/systemd.log")
    tg_check "under systemd the install enables and starts nothing${f:+: $f}" [ -z "$f" ]
    : > "$P/systemd.log"
    apt_get install "$(deb tapgate "$v2")"
    [ "$(status_of tapgate)" = "installed $v2" ] || tg_problem "tapgate: $(status_of tapgate)"
    [ "$(mode_of "$HELPER_PATH")" = "755 root root" ] || tg_problem "$HELPER_PATH: $(mode_of "$HELPER_PATH")"
    tg_verdict "upgrade to $v2 with the statoverride: $HELPER_PATH is still 0755"
    tg_note "what the upgrade asked of systemd:" "$(cat "$P/systemd.log")"
    # An admin who enabled the service must find it running after an
    # upgrade, on the new binary; the socket carries no code, and left
    # alone it turns no VM away while the service restarts.
    case $(systemd_last tapgate.service) in
    start | restart | try-restart) ;;
    stop) tg_problem "the upgrade stops tapgate.service and never starts it again" ;;
    *) tg_problem "the upgrade does not restart tapgate.service: a running one would keep the old binary" ;;
    esac
    f=$(systemd_last tapgate.socket)
    [ -z "$f" ] || tg_problem "the upgrade asks '$f' of tapgate.socket"
    tg_verdict "under systemd the upgrade restarts tapgate.service (if it runs) and leaves tapgate.socket alone"
    : > "$P/systemd.log"
    apt_get purge tapgate
    [ -z "$(dpkg-statoverride --list "$HELPER_PATH")" ] ||
        tg_problem "left: $(dpkg-statoverride --list "$HELPER_PATH")"
    tg_verdict "purging tapgate forgets the admin's statoverride"
    tg_note "what the removal asked of systemd:" "$(cat "$P/systemd.log")"
    # A removed package leaves no root service running the deleted binary.
    for f in tapgate.socket tapgate.service; do
        [ "$(systemd_last "$f")" = stop ] || tg_problem "the removal does not stop $f"
    done
    tg_verdict "under systemd the removal stops tapgate.socket and tapgate.service"
    systemd_stub off

    tg_note "--- tapgate alone"
    apt_get install "$(deb tapgate "$v1")"
    [ "$(mode_of "$HELPER_PATH")" = "4755 root root" ] || tg_problem "$HELPER_PATH: $(mode_of "$HELPER_PATH")"
    tg_verdict "install $v1 without a statoverride: $HELPER_PATH is 4755 root root"
    # The units are the admin's to enable (tapgate(8), SERVICE MODE).
    f=$(ls /etc/systemd/system/*/tapgate* 2>/dev/null)
    tg_check "the units are installed, not enabled${f:+: $f}" [ -z "$f" -a -f /lib/systemd/system/tapgate.socket ]

    tg_bridge br0
    ip addr add 10.0.0.1/24 dev br0
    tg_acl "allow br0"
    tg_qemu_init
    qemu_gets_reference before
    ref_err=$(cat "$TG_QRUN/before.err")
    tg_verdict "tapgate alone changes nothing for QEMU: -netdev bridge runs QEMU's own $REF ($ref_mode)"

    tg_note "--- tapgate-qemu-default"
    apt_get install "$(deb tapgate-qemu-default "$v1")"
    diverted
    [ "$(sha_of "$REF.distrib")" = "$ref_sha" ] || tg_problem "$REF.distrib is not QEMU's helper"
    tg_verdict "tapgate-qemu-default diverts $REF to $REF.distrib (unchanged) and links $HELPER_PATH there"

    # A quota makes the helper open its lock file, which the purge removes.
    tg_conf "[bridge br0]" "quota = 4"
    qemu_gets_tapgate tapgate 10.0.0.2
    tg_verdict "the test user's QEMU, plain -netdev bridge: the tap is tapgate's (alias 'tapgate uid=$TG_UID'), frames cross both ways"
    tg_check "the request with a quota made /run/tapgate.lock, root's, 0600" \
        [ "$(mode_of /run/tapgate.lock)" = "600 root root" ]

    libvirt_gets_tapgate
    tg_verdict "libvirt session mode, qemu.conf without bridge_helper: the domain's tap is tapgate's"

    tg_note "--- upgrade"
    # The request above left a record for the test user in the lock file;
    # the upgrade empties it (the build replaced may have made taps without
    # records), the locks' file staying root's 0600.
    [ "$(stat -c %s /run/tapgate.lock)" -gt 0 ] || tg_problem "no record in /run/tapgate.lock before the upgrade"
    apt_get install "$(deb tapgate "$v2")" "$(deb tapgate-qemu-default "$v2")"
    for f in tapgate tapgate-qemu-default; do
        [ "$(status_of $f)" = "installed $v2" ] || tg_problem "$f: $(status_of $f)"
    done
    [ "$(stat -c %s /run/tapgate.lock)" = 0 ] && [ "$(mode_of /run/tapgate.lock)" = "600 root root" ] ||
        tg_problem "after the upgrade /run/tapgate.lock: $(stat -c '%s bytes' /run/tapgate.lock), $(mode_of /run/tapgate.lock)"
    diverted
    [ "$(mode_of "$HELPER_PATH")" = "4755 root root" ] || tg_problem "$HELPER_PATH: $(mode_of "$HELPER_PATH")"
    tg_verdict "upgrade both to $v2: the divert and the link stay, $HELPER_PATH is 4755, the lock file emptied"
    qemu_gets_tapgate upgraded 10.0.0.3
    tg_verdict "after the upgrade QEMU's plain -netdev bridge still gets tapgate's tap"

    tg_note "--- removing tapgate-qemu-default"
    apt_get remove tapgate-qemu-default
    [ -z "$(diversion_of_ref)" ] || tg_problem "diversion left: $(diversion_of_ref)"
    [ "$(sha_of "$REF")" = "$ref_sha" ] || tg_problem "$REF is not QEMU's helper: $(sha_of "$REF")"
    [ "$(mode_of "$REF")" = "$ref_mode" ] || tg_problem "$REF: $(mode_of "$REF"), was $ref_mode"
    [ ! -e "$REF.distrib" ] || tg_problem "$REF.distrib is left"
    tg_verdict "removing tapgate-qemu-default puts QEMU's $REF back (same sha256 and mode), no diversion left"
    qemu_gets_reference after
    [ -u "$REF" ] || [ "$(cat "$TG_QRUN/after.err")" = "$ref_err" ] ||
        tg_problem "QEMU's stderr differs from before the divert"
    tg_verdict "QEMU runs its own helper again, as before tapgate-qemu-default"

    tg_note "--- purge"
    files=$(dpkg -L tapgate)
    lock=$(ls /run/tapgate.lock 2>/dev/null)
    dsh=$(ls -d /var/lib/systemd/deb-systemd-helper-enabled/tapgate* 2>/dev/null)
    apt_get purge tapgate
    [ "$(status_of tapgate)" = "not-installed " ] || [ -z "$(status_of tapgate)" ] ||
        tg_problem "dpkg still has tapgate: $(status_of tapgate)"
    tg_verdict "purge tapgate: dpkg knows no tapgate any more"
    left=
    while read -r f; do
        [[ " ${existed[*]} " == *" $f "* ]] && continue
        [ -e "$f" ] || [ -L "$f" ] && left+=" $f"
    done <<< "$files"
    tg_check "purge: no file of the package is left ($(tg_lines "$files") paths)${left:+; left:$left}" [ -z "$left" ]
    [ -n "$lock" ] || tg_problem "there was no /run/tapgate.lock to purge"
    [ ! -e /run/tapgate.lock ] || tg_problem "/run/tapgate.lock is left"
    tg_verdict "purge: /run/tapgate.lock is gone"
    f=$(ls -d /var/lib/systemd/deb-systemd-helper-*/tapgate* /etc/systemd/system/*/tapgate* 2>/dev/null)
    [ -n "$dsh" ] || tg_problem "there was no state of deb-systemd-helper's to purge"
    [ -z "$f" ] || tg_problem "left: $f"
    tg_verdict "purge: systemd's enablement state of the package (${dsh##*/}) is gone"
    f=$(dpkg-divert --list '*tapgate*'; dpkg-divert --list "$REF"; dpkg-statoverride --list '*tapgate*')
    tg_check "purge: no diversion, no statoverride${f:+; left: $f}" [ -z "$f" ]
}

# --- RPM -----------------------------------------------------------------------------------
# rpm_build_start: rpmbuild in the background, while the Debian part runs:
# past its first build that mostly waits (on dpkg, QEMU, libvirt).
# rpm_check takes the result, from a file: bash forgets a child's status
# once another child gets its pid, and pids come round fast on a busy
# machine. HOME: rpm's database and macros are the user's on Debian
# (~/.rpmdb, ~/.rpmmacros); none of root's.
RPM_PID=
rpm_build_start() {
    (
        HOME=$P/home rpmbuild -bb --nodeps --load="$TREE/tests/package/meson.macros" \
            --load="$TREE/tests/package/systemd.macros" \
            --define "_topdir $P/rpm" --define "_tmppath $TMPDIR" \
            "$TREE/packaging/rpm/tapgate.spec" > "$P/rpmbuild.log" 2>&1 &
        trap 'kill $!' TERM
        wait $!
        echo $? > "$P/rpmbuild.status"
    ) &
    RPM_PID=$!
}
rpm_check() {
    local rpm list f
    wait "$RPM_PID"
    RPM_PID=
    if [ "$(cat "$P/rpmbuild.status" 2>&1)" != 0 ]; then
        tg_fail "rpmbuild -bb builds the RPM"
        tail -n 25 "$P/rpmbuild.log" | tg_note
        return
    fi
    rpm=$(ls "$P/rpm"/RPMS/*/tapgate-"$UPSTREAM"-*.rpm)
    tg_pass "rpmbuild -bb builds ${rpm##*/}"
    list=$(HOME=$P/home rpm -qplv "$rpm")
    tg_note "rpm -qplv:" "$list" "rpm -qp --scripts:" "$(HOME=$P/home rpm -qp --scripts "$rpm")"
    # "MODE OWNER GROUP PATH" a line.
    list=$(awk '{ print $1, $3, $4, $NF }' <<< "$list")
    for f in "-rwsr-xr-x root root $HELPER_PATH" "-rwxr-xr-x root root /usr/libexec/tapgated"; do
        grep -qxF -- "$f" <<< "$list" || tg_problem "no '$f'"
    done
    tg_verdict "RPM: $HELPER_PATH -rwsr-xr-x root root, /usr/libexec/tapgated -rwxr-xr-x root root"
    for f in /usr/lib/systemd/system/tapgate.{service,socket} /usr/share/man/man5/{bridge.conf,tapgate.conf}.5 \
            /usr/share/man/man8/{tapgate,tapgated}.8; do
        grep -qE -- "^-rw-r--r-- root root $f(\.[a-z0-9]+)?\$" <<< "$list" || tg_problem "no '$f' -rw-r--r-- root root"
    done
    tg_verdict "RPM: the two units and the four man pages"
    tg_check "RPM: nothing under /etc" eval '! grep -q " /etc/" <<< "$list"'
    # A running tapgated must not keep an upgraded-away binary: the upgrade
    # restarts the service (the socket stays: it carries no code).
    f=$(HOME=$P/home rpm -qp --scripts "$rpm" | sed -n '/^postuninstall scriptlet/,/scriptlet/p')
    [[ $f == *"if [ \$1 -ge 1 ]; then systemctl try-restart tapgate.service "* ]] ||
        tg_problem "postuninstall does not restart tapgate.service on upgrade: $f"
    [[ $f != *"try-restart"*"tapgate.socket"* ]] || tg_problem "postuninstall restarts the socket: $f"
    tg_verdict "RPM: an upgrade restarts tapgate.service if it runs (postuninstall, \$1 >= 1), not the socket"
    f=$(HOME=$P/home rpm -qp --scripts "$rpm" | sed -n '/^preuninstall scriptlet/,/scriptlet/p')
    [[ $f == *"if [ \$1 -eq 0 ]; then systemctl --no-reload disable --now tapgate.socket tapgate.service "* ]] ||
        tg_problem "preuninstall does not stop both units on erase: $f"
    tg_verdict "RPM: an erase disables and stops tapgate.socket and tapgate.service (preuninstall, \$1 = 0)"
    # After the old package's postuninstall has restarted tapgated: the
    # lock file's records emptied (the build replaced kept none for its taps).
    f=$(HOME=$P/home rpm -qp --scripts "$rpm" | sed -n '/^posttrans scriptlet/,$p')
    [[ $f == *"truncate -s 0 /run/tapgate.lock"* ]] || tg_problem "posttrans does not empty the lock file: $f"
    tg_verdict "RPM: an upgrade empties /run/tapgate.lock after the restart (posttrans)"
}
# A test that ends early takes its build along (still running while it
# has written no status: its pid is still its own).
trap '[ -n "$RPM_PID" ] && [ ! -e "$P/rpmbuild.status" ] && kill "$RPM_PID" 2>/dev/null; tg_cleanup' EXIT

cp -r "$TREE/packaging/debian" "$TREE/debian"
deb_build "$DEB_VERSION"
built=$?
rpm_build_start
if [ $built = 0 ]; then
    debian_contents
    lintian_debs
    # The upgrade's packages: a changelog entry above the first, and only
    # the packaging step again (-nc: dh keeps what it built, by its stamp;
    # debian/files would still list the first build's files).
    {
        printf 'tapgate (%s) unstable; urgency=medium\n\n  * The package test'"'"'s upgrade.\n\n' "$NEXT_VERSION"
        printf ' -- %s  %s\n\n' "$(dpkg-parsechangelog -l "$TREE/debian/changelog" -S Maintainer)" "$(date -R)"
        cat "$TREE/debian/changelog"
    } > "$TREE/debian/changelog.new"
    mv "$TREE/debian/changelog.new" "$TREE/debian/changelog"
    rm -f "$TREE/debian/files"
    deb_build "$NEXT_VERSION" -nc && debian_install
fi
tg_note "Debian: $(tg_ms)"
rpm_check
tg_note "total in the namespaces: $(tg_ms)"
tg_done
