#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Usage: mandoc-lint.sh MANDOC PAGE...
# Fails if mandoc finds anything at level "warning" or worse in any page:
# any output at all counts, not just the exit status.
mandoc=$1
shift
status=0
for page in "$@"; do
    out=$("$mandoc" -Tlint -W warning "$page" 2>&1)
    rc=$?
    if [ -n "$out" ] || [ "$rc" -ne 0 ]; then
        printf '%s\n' "$out"
        echo "mandoc-lint: $page: not clean (exit status $rc)" >&2
        status=1
    fi
done
exit $status
