# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash
# The project part of the test library (sourced by tests/lib/tg.sh): real
# QEMU run by the test user, and throwaway guests built from the host's
# Debian kernel (/boot) and a static busybox.

# --- QEMU as the test user ------------------------------------------------------
# Every QEMU is started daemonized with a pidfile, so the start returns once
# the netdevs (and so the helper) are done, and tg_cleanup can always find
# and kill it, whatever way the test ends. Call tg_qemu_init first.
TG_QEMU=${QEMU:-qemu-system-x86_64}
TG_QRUN=
TG_QEMU_NAMES=()

# tg_qemu_init: a directory for the QEMUs' pidfiles and logs ($TG_QRUN),
# the test user's.
tg_qemu_init() {
    TG_QRUN=$TG_ROOT/scratch/qemu
    mkdir -p "$TG_QRUN"
    chown "$TG_USER:$TG_USER" "$TG_QRUN"
}

# tg_qemu_helper: tg_helper's copy (as bridge-helper) for QEMU's helper=,
# and in TG_KIND which helper it is: the refusal test knows each helper's
# wording for a denied bridge.
tg_qemu_helper() {
    tg_helper bridge-helper
    if [ "${TG_HELPER_SRC##*/}" = qemu-bridge-helper ]; then
        TG_KIND=reference
    else
        TG_KIND=tapgate
    fi
    tg_note "helper under test: $TG_HELPER_SRC ($TG_KIND), as $TG_H"
}

# tg_qemu_pid NAME: QEMU deletes its pidfile when it exits normally, and
# writes it only once it has daemonized: fall back to looking for the QEMU
# that was given it (in bash: procps, for pgrep, is not on every minimal
# system).
tg_qemu_pid() {
    local pid= proc args i
    read -r pid 2>/dev/null < "$TG_QRUN/$1.pid"
    if [ -z "$pid" ]; then
        for proc in /proc/[0-9]*; do
            mapfile -d '' args 2>/dev/null < "$proc/cmdline" || continue
            [ "${args[0]:-}" ] && [ "${args[0]##*/}" = "${TG_QEMU##*/}" ] || continue
            for (( i = 1; i < ${#args[@]} - 1; i++ )); do
                if [ "${args[i]}" = -pidfile ] && [ "${args[i + 1]}" = "$TG_QRUN/$1.pid" ]; then
                    echo "${proc#/proc/}"
                    return
                fi
            done
        done
    fi
    echo "$pid"
}

# tg_alive PID / tg_dead PID: a zombie counts as gone: whoever reaps orphans
# here may take its time.
tg_alive() {
    local stat
    [ -n "$1" ] || return 1
    read -r stat 2>/dev/null < "/proc/$1/stat" || return 1
    stat=${stat##*) }   # the state follows the command name, which may hold spaces
    [ "${stat%% *}" != Z ]
}
tg_dead() { ! tg_alive "$1"; }

# tg_proc_status PID FIELD: the first value of FIELD in /proc/PID/status.
tg_proc_status() {
    local key value _
    while read -r key value _; do
        [ "$key" = "$2:" ] && { echo "$value"; return; }
    done < "/proc/$1/status"
}
tg_uid() { tg_proc_status "$1" Uid; }  # PID: its real uid

# tg_qemu_start NAME QEMU-ARGS...: QEMU as the test user, daemonized. Status
# is QEMU's (non-zero when a netdev, e.g. the helper, failed); its stderr is
# kept in $TG_QRUN/NAME.err. A hung start is cut off after 30 s.
# TG_QEMU_UNDER: a command line QEMU is run by, as the test user, e.g.
# (setpriv --no-new-privs --) or a sandbox's; empty: QEMU itself.
TG_QEMU_UNDER=()
tg_qemu_start() {
    local name=$1
    shift
    TG_QEMU_NAMES+=("$name")
    rm -f "$TG_QRUN/$name.pid"
    # Not through tg_as: timeout must see QEMU itself, not a shell function.
    timeout 30 setpriv --reuid="$TG_USER" --regid="$TG_USER" --init-groups -- "${TG_QEMU_UNDER[@]}" \
        "$TG_QEMU" -nodefaults -no-user-config -display none \
        -daemonize -pidfile "$TG_QRUN/$name.pid" "$@" 2>"$TG_QRUN/$name.err"
}

# --- QEMU without a guest ---------------------------------------------------------
# `-machine none` runs no CPU, so QEMU starts in a fraction of a second. The
# netdev under test (id n) is joined by a hub to a UDP socket netdev, and
# udpguest (tests/tools, $UDPGUEST) on the other end of the socket plays the
# guest: its frames go through the tap to the bridge, and back.
TG_QEMU_UDP=127.0.0.1:10002   # QEMU's end (localaddr=)
TG_GUEST_UDP=127.0.0.1:10001  # udpguest's end (udp=)

# tg_qemu_udp NAME NETDEV: such a QEMU (tg_qemu_start's status).
tg_qemu_udp() {
    local name=$1
    tg_qemu_start "$name" -machine none \
        -netdev "socket,id=u,udp=$TG_GUEST_UDP,localaddr=$TG_QEMU_UDP" \
        -netdev "$2" \
        -netdev hubport,id=p0,hubid=0,netdev=u \
        -netdev hubport,id=p1,hubid=0,netdev=n
}

# tg_qemu_one_tap NAME BRIDGE: the case "BRIDGE has exactly one tap, in the
# state tg_check_tap wants"; its name in TG_QTAP (empty if not one).
TG_QTAP=
tg_qemu_one_tap() {
    TG_QTAP=$(tg_taps_on "$2")
    if [ "$(tg_lines "$TG_QTAP")" -ne 1 ]; then
        tg_taps
        tg_fail "$1: want exactly one tap on $2, have: $TG_TAPS"
        TG_QTAP=
    else
        tg_check_tap "$TG_QTAP" "$2"
    fi
}

# tg_udp_ping BRIDGE GUEST-IP [HOST-IP]: udpguest ($UDPGUEST), as the guest
# of tg_qemu_udp's QEMU, ARPs for HOST-IP (by default BRIDGE's first
# address) and pings it: frames went both ways if the ARP reply names
# BRIDGE's MAC (read now: a bridge takes its lowest port's MAC unless that
# starts with fe). udpguest's answer in TG_PING.
TG_PING=
tg_udp_ping() {
    local host=${3:-} br_mac
    [ -n "$host" ] || host=$(ip -o -4 addr show dev "$1" | awk '{ sub("/.*", "", $4); print $4; exit }')
    br_mac=$(tg_read "/sys/class/net/$1/address")
    TG_PING=$(echo "ping g $host 5000" | "$UDPGUEST" "g:${TG_GUEST_UDP##*:}:${TG_QEMU_UDP##*:}:$2")
    [[ $TG_PING == "ping g $host ok arp=$br_mac "* ]]
}

# tg_qemu_ping NAME BRIDGE GUEST-IP HOST-IP: tg_udp_ping as a case.
tg_qemu_ping() {
    local t
    if tg_udp_ping "$2" "$3" "$4"; then
        tg_pass "$1: ARP and ping through the tap"
    else
        tg_fail "$1: no ARP/ping through the tap"
        echo "    udpguest: $TG_PING" >&2
        tg_taps
        for t in $TG_TAPS; do ip -s link show "$t" >&2; done
    fi
}

# tg_qemu_stop NAME: SIGTERM, then SIGKILL after 5 s. Status 1 if it would
# not die.
tg_qemu_stop() {
    local pid
    pid=$(tg_qemu_pid "$1")
    tg_alive "$pid" || return 0
    kill -TERM "$pid" 2>/dev/null
    tg_wait 5 tg_dead "$pid" && return 0
    kill -KILL "$pid" 2>/dev/null
    tg_wait 5 tg_dead "$pid"
}

# Daemonized QEMUs are in a session of their own: nothing else kills them if
# the test dies. So: SIGTERM to all of them first (in case this shell is
# killed outright before it is done), then wait for each. The guest QEMU of
# tg_guest_boot runs in the foreground, under timeout.
TG_GUEST_PID=
tg_qemu_cleanup() {
    local name pid
    for name in "${TG_QEMU_NAMES[@]}"; do
        pid=$(tg_qemu_pid "$name")
        tg_alive "$pid" && kill -TERM "$pid" 2>/dev/null
    done
    for name in "${TG_QEMU_NAMES[@]}"; do tg_qemu_stop "$name"; done
    if [ -n "$TG_GUEST_PID" ] && kill -0 "$TG_GUEST_PID" 2>/dev/null; then
        kill -TERM "$TG_GUEST_PID" 2>/dev/null
        sleep 1
        kill -KILL "$TG_GUEST_PID" 2>/dev/null
    fi
}

tg_qemu_err() {  # NAME: QEMU's stderr, indented, for the log
    sed 's/^/    qemu stderr: /' "$TG_QRUN/$1.err" >&2
}

# tg_check_tap TAP BRIDGE: the state both helpers must leave a tap in for
# QEMU (which always passes --use-vnet): a tap without packet info and with
# the vnet header, on the bridge, up, the bridge's MTU, MAC starting fe:.
tg_check_tap() {
    local tap=$1 br=$2 sys=/sys/class/net/$1 bad=0 flags tun_flags mac mtu br_mtu master
    read -r flags < "$sys/flags"
    read -r tun_flags < "$sys/tun_flags"
    read -r mac < "$sys/address"
    read -r mtu < "$sys/mtu"
    read -r br_mtu < "/sys/class/net/$br/mtu"
    master=$(readlink "$sys/master")
    # IFF_TAP 0x2, IFF_NO_PI 0x1000, IFF_VNET_HDR 0x4000
    if [ $(( tun_flags & 0x5003 )) -ne $(( 0x5002 )) ]; then
        tg_fail "$tap: tun_flags $tun_flags, want IFF_TAP|IFF_NO_PI|IFF_VNET_HDR"; bad=1
    fi
    if [ "${master##*/}" != "$br" ]; then
        tg_fail "$tap: not a port of $br"; bad=1
    fi
    if [ $(( flags & 1 )) -ne 1 ]; then
        tg_fail "$tap: not up (flags $flags)"; bad=1
    fi
    if [ "$mtu" != "$br_mtu" ]; then
        tg_fail "$tap: MTU $mtu, $br has $br_mtu"; bad=1
    fi
    case $mac in
        fe:*) ;;
        *) tg_fail "$tap: MAC $mac does not start with fe:"; bad=1 ;;
    esac
    [ $bad -eq 0 ] && tg_pass "$tap on $br: tap+vnet_hdr, up, MTU $mtu, MAC $mac"
    return $bad
}

# tg_check_denial NAME BRIDGE: QEMU's stderr carries the helper's own
# refusal (QEMU passes the helper's stderr straight through).
tg_check_denial() {
    local err=$TG_QRUN/$1.err
    if [ "$TG_KIND" = reference ]; then
        grep -q '^access denied by acl file$' "$err"
    else
        # One line of its own, naming the refused bridge.
        grep -q "^tapgate: .*\b$2\b" "$err"
    fi
}

# --- guests -----------------------------------------------------------------------
# In order:
#   tg_have_busybox            true if /bin/busybox is static (TG_BUSYBOX)
#   tg_find_kernel             newest /boot kernel with its modules (TG_KVER)
#   tg_guest_kernel CACHE-DIR  the kernel as an ELF vmlinux (PVH entry, no
#                              self-decompression under TCG), cached
#                              (TG_VMLINUX)
#   tg_guest_modules NAME...   into $TG_STAGE/modules with their
#                              dependencies, load order in
#                              $TG_STAGE/modules/order
#   tg_guest_pack FILE         $TG_STAGE as an uncompressed cpio (TG_INITRD)
# and for the guests whose /init runs the checks (tests/guest-kernel):
#   tg_guest_prereqs           skip unless root, QEMU, static busybox, a
#                              /boot kernel with bridge VLAN filtering,
#                              iproute2 and setpriv are there
#   tg_guest_begin "$@"        namespaces, clock, kernel
#   tg_guest_stage INIT        a staging tree with busybox, INIT as /init,
#                              init-lib.sh, the test users
#   tg_copy_exe SRC DEST [MODE]  programs (with their shared libraries)
#   tg_guest_tools             the helper, ip, bridge and setpriv
#   tg_guest_qemu              QEMU itself, for guests that run it
#   tg_guest_boot [MEM-MB]     boots it; the guest powers off when done
#   tg_guest_results           its "TG: ok/FAIL" lines from the serial console

# Under TCG every boot step costs; these skip work a throwaway guest does not
# need (CPU bug mitigations, crypto self-tests, timer and keyboard probing,
# spare UARTs). panic=-1 with -no-reboot ends QEMU on a panic.
TG_GUEST_CMDLINE="console=ttyS0 quiet panic=-1 rdinit=/init mitigations=off cryptomgr.notests"
TG_GUEST_CMDLINE+=" no_timer_check tsc=reliable i8042.noaux i8042.nokbd 8250.nr_uarts=1"

tg_have_busybox() {
    TG_BUSYBOX=/bin/busybox
    [ -x "$TG_BUSYBOX" ] && ldd "$TG_BUSYBOX" 2>&1 | grep -q 'not a dynamic executable'
}

tg_find_kernel() {
    local k v
    TG_KVER=
    for k in $(printf '%s\n' /boot/vmlinuz-* | sort -V -r); do
        v=${k#/boot/vmlinuz-}
        if [ -f "/lib/modules/$v/modules.dep" ]; then TG_KVER=$v; break; fi
    done
    [ -n "$TG_KVER" ]
}

# Unpacking takes seconds; the cache key includes the bzImage's size and
# mtime so a reinstalled kernel of the same version is picked up. Two tests
# may unpack at once: each into a file of its own, then mv.
tg_guest_kernel() {  # CACHE-DIR (empty: the scratch tmpfs)
    local vmlinuz=/boot/vmlinuz-$TG_KVER key cache=${1:-$TG_ROOT/scratch} f
    key=$TG_KVER-$(stat -c '%s-%Y' "$vmlinuz")
    TG_VMLINUX=$cache/vmlinux-$key
    if [ -f "$TG_VMLINUX" ]; then
        :
    elif mkdir -p "$cache" &&
            "${PYTHON:-python3}" "$TG_LIB/../tools/extract_vmlinux.py" "$vmlinuz" "$TG_VMLINUX.tmp.$$"; then
        mv "$TG_VMLINUX.tmp.$$" "$TG_VMLINUX"
        for f in "$cache"/vmlinux-*; do   # older kernels' (not others' .tmp files)
            case $f in "$TG_VMLINUX"|*.tmp.*) ;; *) rm -f "$f" ;; esac
        done
    else
        rm -f "$TG_VMLINUX.tmp.$$"
        tg_note "note: could not unpack $vmlinuz; booting it as it is (slower)"
        TG_VMLINUX=$vmlinuz
    fi
}

# Load order from modules.dep (each line lists what the module needs;
# loading those from last to first works). Built-in ones are left out.
tg_guest_modules() {  # NAME...
    local m
    TG_MODDIR=/lib/modules/$TG_KVER
    TG_MOD_ORDER=()
    mkdir -p "$TG_STAGE/modules"
    for m; do
        if ! tg_guest_want_module "$m"; then
            tg_fail "could not collect the modules $* of $TG_KVER"
            tg_done
        fi
    done
    printf '%s\n' "${TG_MOD_ORDER[@]}" > "$TG_STAGE/modules/order"
    tg_note "guest modules: ${TG_MOD_ORDER[*]:-(all built in)}"
}
tg_guest_add_module() {  # NAME PATH: copy (decompressed) into the initramfs, once
    local m
    for m in "${TG_MOD_ORDER[@]}"; do [ "$m" = "$1" ] && return 0; done
    case $2 in
        *.ko) cp "$2" "$TG_STAGE/modules/$1.ko" ;;
        *.ko.xz) "$TG_BUSYBOX" xzcat "$2" > "$TG_STAGE/modules/$1.ko" ;;
        *.ko.gz) "$TG_BUSYBOX" zcat "$2" > "$TG_STAGE/modules/$1.ko" ;;
        *.ko.zst) zstd -dcq "$2" > "$TG_STAGE/modules/$1.ko" ;;
        *) echo "unknown module format: $2" >&2; return 1 ;;
    esac || return 1
    TG_MOD_ORDER+=("$1")
}
tg_guest_want_module() {  # NAME
    local line path deps d i
    line=$(grep -E "/$1\.ko(\.[a-z]+)?:" "$TG_MODDIR/modules.dep")
    if [ -z "$line" ]; then
        grep -qE "/$1\.ko\$" "$TG_MODDIR/modules.builtin" && return 0
        echo "module $1 is neither in modules.dep nor built in" >&2
        return 1
    fi
    path=${line%%:*}
    read -r -a deps <<<"${line#*:}"
    for (( i = ${#deps[@]} - 1; i >= 0; i-- )); do
        d=$(basename "${deps[i]}")
        tg_guest_add_module "${d%%.ko*}" "$TG_MODDIR/${deps[i]}" || return 1
    done
    tg_guest_add_module "$1" "$TG_MODDIR/$path"
}

# Uncompressed: decompressing under TCG costs more than reading the bytes.
tg_guest_pack() {  # FILE
    TG_INITRD=$1
    ( cd "$TG_STAGE" && find . | "$TG_BUSYBOX" cpio -o -H newc -R 0:0 ) > "$TG_INITRD" 2>/dev/null
    tg_note "initramfs ready: $(( $(stat -c %s "$TG_INITRD") / 1024 )) KiB ($(tg_ms))"
}

# --- guests whose /init runs the checks ---------------------------------------------
# Environment: TAPGATE_BUILD_ROOT (helper/tapgate), HELPER (another helper
# binary to test), QEMU, PYTHON, TG_VM_TIMEOUT (the guest's budget, s).
# With CI set, a missing prerequisite is a failure instead of a skip.

tg_guest_prereqs() {
    [ "$(id -u)" -eq 0 ] || tg_missing "needs root (namespaces, a root-owned setuid helper in the initramfs)"
    command -v "$TG_QEMU" >/dev/null || tg_missing "no $TG_QEMU (apt-get install qemu-system-x86)"
    tg_have_busybox || tg_missing "no static /bin/busybox (apt-get install busybox-static)"
    tg_find_kernel || tg_missing "no kernel with modules in /boot (apt-get install linux-image-amd64)"
    grep -q '^CONFIG_BRIDGE_VLAN_FILTERING=y' "/boot/config-$TG_KVER" 2>/dev/null ||
        tg_missing "kernel $TG_KVER: no CONFIG_BRIDGE_VLAN_FILTERING=y in /boot/config-$TG_KVER"
    TG_HELPER_SRC=${HELPER:-${TAPGATE_BUILD_ROOT:-}/helper/tapgate}
    [ -x "$TG_HELPER_SRC" ] || tg_missing "not built: '$TG_HELPER_SRC' (set TAPGATE_BUILD_ROOT or HELPER)"
    if ! command -v ip >/dev/null || ! command -v bridge >/dev/null; then
        tg_missing "no ip/bridge (apt-get install iproute2)"
    fi
    command -v setpriv >/dev/null || tg_missing "no setpriv (apt-get install util-linux)"
}

# tg_guest_begin "$@": after tg_guest_prereqs, the namespaces (only for a
# private scratch tmpfs that vanishes however the test ends: the network
# under test lives in the guest), the clock, and the kernel.
tg_guest_begin() {
    tg_isolate "$@"
    tg_clock_start
    tg_note "guest kernel: $TG_KVER; helper under test: $TG_HELPER_SRC; QEMU: $TG_QEMU"
    tg_guest_kernel "${TAPGATE_BUILD_ROOT:+$TAPGATE_BUILD_ROOT/tests/guest-kernel/guest}"
    tg_note "kernel ready ($(tg_ms))"
}

# tg_guest_stage INIT: the skeleton of the initramfs, INIT as /init, and
# init-lib.sh beside INIT as /init-lib.sh.
tg_guest_stage() {
    TG_STAGE=$TG_ROOT/scratch/initramfs
    mkdir -p "$TG_STAGE"/{bin,dev,etc/qemu,modules,proc,sys,run,tmp,usr/bin,usr/sbin}
    # The helper vets its config files' directories: none may be writable by
    # anyone but root (cpio -R 0:0 makes everything root's).
    chmod 0755 "$TG_STAGE" "$TG_STAGE/etc" "$TG_STAGE/etc/qemu"
    cp "$TG_BUSYBOX" "$TG_STAGE/bin/busybox"
    install -m 0755 "$1" "$TG_STAGE/init"
    install -m 0644 "$(dirname "$1")/init-lib.sh" "$TG_STAGE/init-lib.sh"
    mknod -m 0600 "$TG_STAGE/dev/console" c 5 1

    # Users and groups as in tests/lib/ns.sh, plus tgcarol: a second member
    # of tglab, so that two users share the group's VLAN.
    cat > "$TG_STAGE/etc/passwd" <<EOF
root:x:0:0:root:/:/bin/sh
$TG_USER:x:$TG_UID:$TG_UID::/tmp:/bin/sh
$TG_ALICE:x:$TG_ALICE_UID:$TG_ALICE_UID::/tmp:/bin/sh
$TG_BOB:x:$TG_BOB_UID:$TG_BOB_UID::/tmp:/bin/sh
tgcarol:x:4245:4245::/tmp:/bin/sh
EOF
    cat > "$TG_STAGE/etc/group" <<EOF
root:x:0:
$TG_USER:x:$TG_UID:
$TG_ALICE:x:$TG_ALICE_UID:
$TG_BOB:x:$TG_BOB_UID:
tgcarol:x:4245:
$TG_LAB:x:$TG_LAB_GID:$TG_ALICE,$TG_BOB,tgcarol
EOF
    printf 'passwd: files\ngroup: files\n' > "$TG_STAGE/etc/nsswitch.conf"
    chmod 0644 "$TG_STAGE"/etc/{passwd,group,nsswitch.conf}
}

# tg_copy_exe SRC DEST [MODE]: SRC at DEST in the guest, with the shared
# libraries (and the loader) ldd finds, each at the path ldd shows (a path
# the guest's loader searches by default). Debug info is left out when
# strip is there: it is most of a debugoptimized build's size, and every
# byte of the initramfs is copied and unpacked under TCG.
tg_copy_exe() {
    local lib src=$1
    if command -v strip >/dev/null &&
            strip --strip-debug -o "$TG_ROOT/scratch/stripped" "$1" 2>/dev/null; then
        src=$TG_ROOT/scratch/stripped
    fi
    mkdir -p "$TG_STAGE$(dirname "$2")"
    install -m "${3:-0755}" "$src" "$TG_STAGE$2" || return 1
    for lib in $(ldd "$1" 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'); do
        [ -e "$TG_STAGE$lib" ] && continue
        mkdir -p "$TG_STAGE$(dirname "$lib")"
        if command -v strip >/dev/null &&
                strip --strip-debug -o "$TG_STAGE$lib" "$lib" 2>/dev/null; then
            continue
        fi
        cp -L "$lib" "$TG_STAGE$lib" || return 1
    done
}

# tg_guest_tools: what every guest's /init uses: the helper under test,
# root-owned 4755 as /bin/tapgate, and iproute2's ip and bridge and
# util-linux's setpriv (busybox's lack bridge VLANs and --reuid). Status 1
# if a copy failed.
tg_guest_tools() {
    tg_copy_exe "$TG_HELPER_SRC" /bin/tapgate 4755 &&
        tg_copy_exe "$(command -v ip)" /usr/sbin/ip &&
        tg_copy_exe "$(command -v bridge)" /usr/sbin/bridge &&
        tg_copy_exe "$(command -v setpriv)" /usr/bin/setpriv
}

# tg_guest_qemu: $TG_QEMU as /usr/bin/qemu-system-x86_64 in the guest, with
# its TCG accelerator, which QEMU loads as a module (Debian builds it so)
# from ../lib/<multiarch>/qemu next to the binary; a build without modules
# has none to copy. Status 1 if a copy failed.
tg_guest_qemu() {
    local bin mods
    bin=$(command -v "$TG_QEMU") || return 1
    mods=$(cd "$(dirname "$bin")/.." && pwd)/lib/x86_64-linux-gnu/qemu
    tg_copy_exe "$bin" /usr/bin/qemu-system-x86_64 || return 1
    [ -f "$mods/accel-tcg-x86_64.so" ] || return 0
    tg_copy_exe "$mods/accel-tcg-x86_64.so" /usr/lib/x86_64-linux-gnu/qemu/accel-tcg-x86_64.so 0644
}

# tg_guest_boot [MEMORY-MB]: the guest powers off when done; its serial
# console is in $TG_CONSOLE.
tg_guest_boot() {
    local rc budget=${TG_VM_TIMEOUT:-100}
    TG_CONSOLE=$TG_ROOT/scratch/console.log
    # timeout bounds the guest even if this shell is killed outright (it
    # then signals QEMU itself).
    timeout -k 5 "$budget" "$TG_QEMU" -nodefaults -no-user-config -display none \
        -machine pc,accel=tcg -m "${1:-512}" -smp 1 -no-reboot \
        -kernel "$TG_VMLINUX" -initrd "$TG_INITRD" -append "$TG_GUEST_CMDLINE" \
        -serial "file:$TG_CONSOLE" 2> "$TG_ROOT/scratch/qemu.err" &
    TG_GUEST_PID=$!
    wait "$TG_GUEST_PID"
    rc=$?
    TG_GUEST_PID=
    tg_note "guest finished, QEMU status $rc ($(tg_ms))"
    [ "$rc" -eq 124 ] && tg_fail "the guest did not finish within $budget s"
    [ -s "$TG_ROOT/scratch/qemu.err" ] && sed 's/^/    qemu stderr: /' "$TG_ROOT/scratch/qemu.err" >&2
}

# tg_guest_results: each of the guest's "TG: ok/FAIL" lines is a case here
# too (its other "TG:" lines are notes), and one case is the host's own:
# the guest reported "TG: done", no failure, and passing checks.
tg_guest_results() {
    local oks fails log=$TG_CONSOLE.txt line
    tr -d '\r' < "$TG_CONSOLE" > "$log"
    while IFS= read -r line; do
        case $line in
        "TG: ok "*) tg_pass "guest: ${line#TG: ok }" ;;
        "TG: FAIL "*) tg_fail "guest: ${line#TG: FAIL }" ;;
        "TG: "*) tg_note "    ${line#TG: }" ;;
        esac
    done < "$log"
    oks=$(grep -c '^TG: ok ' "$log")
    fails=$(grep -c '^TG: FAIL ' "$log")
    if ! grep -q '^TG: done ' "$log"; then
        tg_fail "the guest did not report 'TG: done' (crashed, hung, or never booted)"
    fi
    [ "$fails" -eq 0 ] || tg_fail "the guest reported $fails failure(s)"
    [ "$oks" -gt 0 ] || tg_fail "the guest reported no passing checks"
    if [ "$TG_FAILS" -ne 0 ]; then
        echo "guest console:" >&2
        sed 's/^/    | /' "$log" >&2
    else
        tg_pass "guest: $oks checks passed"
    fi
    tg_note "total $(tg_ms)"
}
