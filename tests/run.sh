#!/bin/bash
# The test command: installs what is missing, builds tapgate in build-test/
# and runs every test suite (unit, fuzz, integration, differential, real
# QEMU, real libvirt, man page lint). Needs root: the tests create network
# namespaces and setuid copies (they never touch the host's interfaces or
# its /etc). Extra arguments go to `meson test` (e.g. --suite unit).
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
bash "$root/tests/deps.sh"
build=$root/build-test
if [ -f "$build/build.ninja" ]; then
    meson setup --reconfigure "$build" "$root" >/dev/null
else
    meson setup "$build" "$root" >/dev/null
fi
ninja -C "$build"
exec meson test -C "$build" --print-errorlogs --num-processes 2 "$@"
