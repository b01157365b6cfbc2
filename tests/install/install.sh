#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# What `meson install` puts where, and that the binary it installs is
# hardened — read from the ELF file, not trusted from the build flags.
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../lib/tg.sh"
[ "$(id -u)" -eq 0 ] || tg_skip "needs root (install_mode chowns to root)"

dest=$(mktemp -d /tmp/tapgate-install.XXXXXX)
trap 'rm -rf "$dest"' EXIT
meson install -C "$TAPGATE_BUILD_ROOT" --no-rebuild --quiet --destdir "$dest" >/dev/null ||
    { tg_fail "meson install"; tg_done; }
prefix=$(meson introspect "$TAPGATE_BUILD_ROOT" --buildoptions |
         python3 -c 'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"]=="prefix"))')
libexec=$(meson introspect "$TAPGATE_BUILD_ROOT" --buildoptions |
         python3 -c 'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"]=="libexecdir"))')
setuid=$(meson introspect "$TAPGATE_BUILD_ROOT" --buildoptions |
         python3 -c 'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"]=="install_setuid"))')
bin=$dest$prefix/$libexec/tapgate

tg_check "binary installed in libexecdir ($prefix/$libexec/tapgate)" test -f "$bin"
if [ "$setuid" = True ]; then
    tg_check "installed setuid root, mode 4755" test "$(stat -c '%a %U %G' "$bin")" = "4755 root root"
else
    tg_check "installed without setuid, mode 0755" test "$(stat -c '%a %U %G' "$bin")" = "755 root root"
fi
tg_check "man pages installed" test -f "$dest$prefix/share/man/man8/tapgate.8" -a -f "$dest$prefix/share/man/man5/bridge.conf.5"
etc=$(cd "$dest" && find . -path '*/etc/*' | head -5)
tg_check "nothing installed under any etc/ (admins' files are never overwritten)" test -z "$etc"

dyn=$(readelf -dW "$bin")
hdr=$(readelf -hW "$bin")
seg=$(readelf -lW "$bin")
syms=$(readelf --dyn-syms -W "$bin")
tg_check "PIE (ELF type DYN with the PIE flag)" \
    eval 'grep -q "Type: *DYN" <<<"$hdr" && grep -q "Flags: .*PIE" <<<"$dyn"'
tg_check "full RELRO: a GNU_RELRO segment and BIND_NOW" \
    eval 'grep -q GNU_RELRO <<<"$seg" && grep -qE "\(FLAGS\).*BIND_NOW|Flags: .*NOW" <<<"$dyn"'
tg_check "non-executable stack" eval 'grep -E "GNU_STACK" <<<"$seg" | grep -qv "RWE"'
tg_check "stack protector (__stack_chk_fail referenced)" grep -q __stack_chk_fail <<<"$syms"
tg_check "FORTIFY_SOURCE (fortified __*_chk functions referenced)" grep -qE "__[a-z]+_chk@" <<<"$syms"
tg_check "no RPATH/RUNPATH (a setuid binary must load libraries from system paths only)" \
    eval '! grep -qE "RPATH|RUNPATH" <<<"$dyn"'
tg_check "no executable-with-writable segment (no TEXTREL)" eval '! grep -q TEXTREL <<<"$dyn"'

tg_done
