# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash
# The test library: every shell test sources this one file. Its functions
# all start with tg_ and its globals with TG_; tests/tools/README.md lists
# them.
#   core.sh    generic: cases, problems and verdicts, skips, the end
#   ns.sh      namespaces, users, setuid copies, bridges, config files
#   helper.sh  the helper under test, run through tg-spawn; what a run left
#   guest.sh   real QEMU as the test user; Debian-kernel guests
#   libvirt.sh libvirt in session mode as the test user
TG_LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$TG_LIB/core.sh"
. "$TG_LIB/ns.sh"
. "$TG_LIB/helper.sh"
. "$TG_LIB/guest.sh"
. "$TG_LIB/libvirt.sh"
