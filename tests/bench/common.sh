# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash disable=SC2034  # sets variables for the sourcing script
# Sourced (with no arguments) at the top of run.sh and profile.sh: sources
# tests/lib/tg.sh and sets here, root, all_args (the script's arguments, for
# tg_isolate to re-run it with) and build: the first argument if it is not
# an option (then shifted off), else build-bench/ in the source tree.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
. "$root/tests/lib/tg.sh"
all_args=("$@")
build=$root/build-bench
if [ $# -gt 0 ] && [ "${1#--}" = "$1" ]; then
    build=$(cd "$1" && pwd)
    shift
fi
