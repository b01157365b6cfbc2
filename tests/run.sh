#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The test command: installs what is missing, builds tapgate three times and runs
# the tests:
#   build-test/  the normal hardened build: every suite (unit, fuzz, cli,
#                install, integration, differential, policy, service,
#                qemu, libvirt, man);
#   build-asan/  ASan + UBSan: the suites that run tapgate's own code
#                directly (unit, cli, integration, policy but the quota
#                load, the same policy tests through the service, hostile
#                races);
#   build-fault/ fault injection (-Dfault_injection=true, never installed):
#                the walks that kill the helper, and the service, at every
#                step (faults).
# Needs root: the tests create network namespaces and setuid copies (they
# never touch the host's interfaces or its /etc). Extra arguments go to
# both `meson test` runs (e.g. --suite unit).
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
bash "$root/tests/deps.sh" || exit 1

# setup DIR [OPTION...]: configure once, reconfigure later.
setup() {
    local dir=$1
    shift
    if [ -f "$dir/build.ninja" ]; then
        meson setup --reconfigure "$dir" "$root" "$@" >/dev/null
    else
        meson setup "$dir" "$root" "$@" >/dev/null
    fi && ninja -C "$dir"
}

status=0
setup "$root/build-test" || exit 1
meson test -C "$root/build-test" --print-errorlogs --num-processes 2 "$@" || status=1

sanitizer_suites=(--suite unit --suite cli --suite integration --suite policy-light
                  --suite policy-light-service --suite races)
fault_suites=(--suite faults)
[ $# -gt 0 ] && sanitizer_suites=() fault_suites=()
setup "$root/build-asan" -Dbuildtype=debug -Db_sanitize=address,undefined -Db_lundef=false || exit 1
meson test -C "$root/build-asan" --print-errorlogs --num-processes 2 \
    "${sanitizer_suites[@]}" "$@" || status=1

setup "$root/build-fault" -Dfault_injection=true || exit 1
meson test -C "$root/build-fault" --print-errorlogs --num-processes 2 \
    "${fault_suites[@]}" "$@" || status=1
exit $status
