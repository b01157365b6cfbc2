# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash
# The project part of the test library (sourced by tests/lib/tg.sh): libvirt
# in session mode, as the test user ($TG_USER): a libvirtd of the user's
# own with a private HOME and XDG_RUNTIME_DIR under $TG_ROOT, virsh on
# qemu:///session, and domains whose <interface type='bridge'> makes
# libvirt run its bridge_helper. In order:
#   tg_libvirt_prereqs          (before tg_isolate) skip unless libvirt and
#                               QEMU are there
#   tg_libvirtd_start [LINE...] the daemon, with LINEs in its qemu.conf
#   tg_libvirtd_wait            until it answers (status 1 if it never did)
#   tg_libvirt_domain ...       a domain's XML; tg_virsh create FILE
#   tg_libvirt_save_caps        once a domain exists: keep libvirt's QEMU
#                               probe for the next run
# tg_cleanup stops the domains and the daemon (tg_libvirt_cleanup).

TG_LV_PID=
TG_LV_HOME=
TG_LV_RUN=
TG_LV_ENV=()
# Options for the setpriv that starts libvirtd (--no-new-privs).
TG_LV_SETPRIV=()
# Slow-to-make inputs that survive between runs, in the build tree; none
# without one.
TG_LIBVIRT_CACHE=

tg_libvirt_prereqs() {
    local tool
    for tool in libvirtd virsh qemu-system-x86_64; do
        command -v "$tool" >/dev/null ||
            tg_missing "$tool not installed (libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients qemu-system-x86)"
    done
    [ -e /usr/lib/x86_64-linux-gnu/libvirt/connection-driver/libvirt_driver_qemu.so ] ||
        tg_missing "libvirt's QEMU driver not installed (libvirt-daemon-driver-qemu)"
}

# tg_virsh ARGS...: virsh as the test user, on its session daemon.
tg_virsh() { tg_as "$TG_USER" "${TG_LV_ENV[@]}" virsh -q -c qemu:///session "$@"; }

# tg_libvirtd_start [QEMU.CONF-LINE...]: starts the test user's libvirtd
# (TG_LV_PID) and returns; tg_libvirtd_wait waits for it. Its qemu.conf has
# the LINEs and makes QEMU write its console output itself (no virtlogd).
tg_libvirtd_start() {
    local home=$TG_ROOT/home/$TG_USER caps=.cache/libvirt/qemu/cache/capabilities f
    TG_LV_HOME=$home
    TG_LV_RUN=$home/run
    # The user's environment, and nothing else from ours.
    TG_LV_ENV=(env -i "HOME=$home" "USER=$TG_USER" "LOGNAME=$TG_USER" "PATH=/usr/sbin:/usr/bin:/sbin:/bin"
               "XDG_RUNTIME_DIR=$TG_LV_RUN" "LIBVIRT_AUTOSTART=0" "LANG=C")
    if [ -n "${TAPGATE_BUILD_ROOT:-}" ] && mkdir -p "$TAPGATE_BUILD_ROOT/tests/libvirt/cache" 2>/dev/null; then
        TG_LIBVIRT_CACHE=$TAPGATE_BUILD_ROOT/tests/libvirt/cache
    fi
    install -d -o "$TG_USER" -g "$TG_USER" -m 0700 "$TG_LV_RUN" "$home/.config" "$home/.config/libvirt"
    { printf '%s\n' "$@"; echo 'stdio_handler = "file"'; } > "$home/.config/libvirt/qemu.conf"
    cat > "$home/.config/libvirt/libvirtd.conf" <<EOF
log_outputs = "1:file:$home/libvirtd.log"
log_filters = "1:qemu.qemu_interface 1:util.command 3:*"
EOF
    chown -R "$TG_USER:$TG_USER" "$home/.config"

    # libvirtd probes every QEMU binary at start (seconds under TCG). Its
    # cache of the results is kept in the build tree between runs; libvirtd
    # itself checks it against the binaries' ctimes, versions and the host,
    # and probes again when anything changed.
    if [ -n "$TG_LIBVIRT_CACHE" ] && [ -d "$TG_LIBVIRT_CACHE/capabilities" ]; then
        install -d -o "$TG_USER" -g "$TG_USER" -m 0700 "$home/.cache" "$home/.cache/libvirt" \
            "$home/.cache/libvirt/qemu" "$home/.cache/libvirt/qemu/cache" "$home/$caps"
        for f in "$TG_LIBVIRT_CACHE/capabilities"/*.xml; do
            [ -f "$f" ] && install -o "$TG_USER" -g "$TG_USER" -m 0600 "$f" "$home/$caps/"
        done
    fi

    # setpriv as tg_as runs it, but as a plain command so that the chain
    # execs (setpriv -> env -> libvirtd) and $! is the daemon itself: a
    # backgrounded shell function would leave $! pointing at a subshell.
    # --timeout: even if the test is killed without running its trap, the
    # daemon exits on its own once idle.
    setpriv "${TG_LV_SETPRIV[@]}" --reuid="$TG_USER" --regid="$TG_USER" --init-groups -- \
        "${TG_LV_ENV[@]}" libvirtd --timeout 30 > "$home/libvirtd.out" 2>&1 &
    TG_LV_PID=$!
}

# tg_libvirtd_wait: until the daemon answers; without a cached probe it
# spends seconds probing QEMU first, more on a loaded machine. Status 1
# (and its output and log on stderr) if it never does.
tg_libvirtd_wait() {
    local deadline=$((SECONDS + 60))
    while [ "$SECONDS" -lt "$deadline" ]; do
        [ -S "$TG_LV_RUN/libvirt/libvirt-sock" ] && tg_virsh version >/dev/null 2>&1 && return 0
        kill -0 "$TG_LV_PID" 2>/dev/null || break
        sleep 0.1
    done
    tg_virsh version >/dev/null 2>&1 && return 0
    cat "$TG_LV_HOME/libvirtd.out" >&2
    tg_libvirt_logs
    return 1
}

# tg_libvirt_save_caps: libvirtd's probe results into the cache; they are
# written by the time a domain exists.
tg_libvirt_save_caps() {
    local caps=$TG_LV_HOME/.cache/libvirt/qemu/cache/capabilities c=$TG_LIBVIRT_CACHE
    [ -n "$c" ] && ls "$caps"/*.xml >/dev/null 2>&1 || return 0
    rm -rf "$c/capabilities.$$"
    mkdir -p "$c/capabilities.$$"
    cp "$caps"/*.xml "$c/capabilities.$$/"
    rm -rf "$c/capabilities" && mv "$c/capabilities.$$" "$c/capabilities"
}

# tg_libvirt_domain NAME BRIDGE MAC [OS-ELEMENTS [DEVICES]]: a domain's XML
# on stdout: TCG, 128 MiB, one virtio NIC with MAC on BRIDGE (no option
# ROM), no balloon; OS-ELEMENTS go into <os> after its <type>, DEVICES
# into <devices>.
tg_libvirt_domain() {
    cat <<EOF
<domain type='qemu'>
  <name>$1</name>
  <memory unit='MiB'>128</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    ${4:-}
  </os>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <interface type='bridge'>
      <source bridge='$2'/>
      <mac address='$3'/>
      <model type='virtio'/>
      <rom enabled='no'/>
    </interface>
    ${5:-}
    <memballoon model='none'/>
  </devices>
</domain>
EOF
}

# tg_libvirt_logs [DOMAIN]: the ends of libvirtd's log and DOMAIN's QEMU
# log, on stderr.
tg_libvirt_logs() {
    echo "--- libvirtd log" >&2
    tail -n 30 "$TG_LV_HOME/libvirtd.log" >&2 2>/dev/null
    if [ -n "${1:-}" ]; then
        echo "--- QEMU log" >&2
        tail -n 20 "$TG_LV_HOME/.cache/libvirt/qemu/log/$1.log" >&2 2>/dev/null
    fi
}

tg_libvirt_cleanup() {
    local pidfile dom qpid _
    [ -n "$TG_LV_PID" ] || return 0
    if kill -0 "$TG_LV_PID" 2>/dev/null; then
        for dom in $(tg_virsh list --name 2>/dev/null); do
            tg_virsh destroy "$dom" >/dev/null 2>&1
        done
    fi
    # libvirt daemonizes QEMU out of our process tree: each is found by its
    # pid file, and killed only if that pid is still the domain's QEMU.
    for pidfile in "$TG_LV_RUN"/libvirt/qemu/run/*.pid; do
        [ -f "$pidfile" ] || continue
        dom=${pidfile##*/}
        qpid=
        read -r qpid < "$pidfile"
        if [ -n "$qpid" ] && tr '\0' ' ' < "/proc/$qpid/cmdline" 2>/dev/null | grep -q "guest=${dom%.pid}"; then
            kill -KILL "$qpid" 2>/dev/null
        fi
    done
    kill -TERM "$TG_LV_PID" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$TG_LV_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$TG_LV_PID" 2>/dev/null
    wait "$TG_LV_PID" 2>/dev/null
    TG_LV_PID=
}
