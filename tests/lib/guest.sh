# shellcheck shell=bash disable=SC2034,SC2154  # sets the sourcing script's variables, uses its $stage
# A throwaway QEMU guest built from the host's Debian kernel (/boot) and a
# static busybox: shared by tests/qemu/full.sh and tests/guest-kernel/lib.sh, which
# differ in what the guest runs and how it is booted. The functions use
# tests/lib/ns.sh's TG_ROOT, tg_fail and tg_done. In order:
#   guest_have_busybox          true if /bin/busybox is static (sets busybox)
#   guest_find_kernel           newest /boot kernel with its modules (kver)
#   guest_start_clock; guest_ms elapsed time for progress lines
#   guest_kernel CACHE-DIR      the kernel as an ELF vmlinux (PVH entry, no
#                               self-decompression under TCG), cached
#   guest_modules NAME...       into $stage/modules with their dependencies,
#                               load order in $stage/modules/order
#   guest_pack FILE             $stage as an uncompressed cpio (initrd)
guest_lib=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

guest_have_busybox() {
    busybox=/bin/busybox
    [ -x "$busybox" ] && ldd "$busybox" 2>&1 | grep -q 'not a dynamic executable'
}

guest_find_kernel() {
    local k v
    kver=
    for k in $(printf '%s\n' /boot/vmlinuz-* | sort -V -r); do
        v=${k#/boot/vmlinuz-}
        if [ -f "/lib/modules/$v/modules.dep" ]; then kver=$v; break; fi
    done
    [ -n "$kver" ]
}

guest_start_clock() { guest_t0=${EPOCHREALTIME/./}; }
guest_ms() { echo "$(( (${EPOCHREALTIME/./} - guest_t0) / 1000 )) ms"; }

# Unpacking takes seconds; the cache key includes the bzImage's size and
# mtime so a reinstalled kernel of the same version is picked up. Two tests
# may unpack at once: each into a file of its own, then mv.
guest_kernel() {  # CACHE-DIR (empty: the scratch tmpfs)
    local vmlinuz=/boot/vmlinuz-$kver key cache=${1:-$TG_ROOT/scratch} f
    key=$kver-$(stat -c '%s-%Y' "$vmlinuz")
    vmlinux=$cache/vmlinux-$key
    if [ -f "$vmlinux" ]; then
        :
    elif mkdir -p "$cache" &&
            "${PYTHON:-python3}" "$guest_lib/../tools/extract_vmlinux.py" "$vmlinuz" "$vmlinux.tmp.$$"; then
        mv "$vmlinux.tmp.$$" "$vmlinux"
        for f in "$cache"/vmlinux-*; do   # older kernels' (not others' .tmp files)
            case $f in "$vmlinux"|*.tmp.*) ;; *) rm -f "$f" ;; esac
        done
    else
        rm -f "$vmlinux.tmp.$$"
        echo "note: could not unpack $vmlinuz; booting it as it is (slower)"
        vmlinux=$vmlinuz
    fi
}

# Load order from modules.dep (each line lists what the module needs;
# loading those from last to first works). Built-in ones are left out.
guest_modules() {  # NAME...
    local m
    guest_moddir=/lib/modules/$kver
    guest_order=()
    mkdir -p "$stage/modules"
    for m; do
        if ! guest_want_module "$m"; then
            tg_fail "could not collect the modules $* of $kver"
            tg_done
        fi
    done
    printf '%s\n' "${guest_order[@]}" > "$stage/modules/order"
    echo "guest modules: ${guest_order[*]:-(all built in)}"
}
guest_add_module() {  # NAME PATH: copy (decompressed) into the initramfs, once
    local m
    for m in "${guest_order[@]}"; do [ "$m" = "$1" ] && return 0; done
    case $2 in
        *.ko) cp "$2" "$stage/modules/$1.ko" ;;
        *.ko.xz) "$busybox" xzcat "$2" > "$stage/modules/$1.ko" ;;
        *.ko.gz) "$busybox" zcat "$2" > "$stage/modules/$1.ko" ;;
        *.ko.zst) zstd -dcq "$2" > "$stage/modules/$1.ko" ;;
        *) echo "unknown module format: $2" >&2; return 1 ;;
    esac || return 1
    guest_order+=("$1")
}
guest_want_module() {  # NAME
    local line path deps d i
    line=$(grep -E "/$1\.ko(\.[a-z]+)?:" "$guest_moddir/modules.dep")
    if [ -z "$line" ]; then
        grep -qE "/$1\.ko\$" "$guest_moddir/modules.builtin" && return 0
        echo "module $1 is neither in modules.dep nor built in" >&2
        return 1
    fi
    path=${line%%:*}
    read -r -a deps <<<"${line#*:}"
    for (( i = ${#deps[@]} - 1; i >= 0; i-- )); do
        d=$(basename "${deps[i]}")
        guest_add_module "${d%%.ko*}" "$guest_moddir/${deps[i]}" || return 1
    done
    guest_add_module "$1" "$guest_moddir/$path"
}

# Uncompressed: decompressing under TCG costs more than reading the bytes.
guest_pack() {  # FILE
    initrd=$1
    ( cd "$stage" && find . | "$busybox" cpio -o -H newc -R 0:0 ) > "$initrd" 2>/dev/null
    echo "initramfs ready: $(( $(stat -c %s "$initrd") / 1024 )) KiB ($(guest_ms))"
}
