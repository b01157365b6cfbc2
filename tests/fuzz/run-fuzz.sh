#!/bin/sh
# Builds the ACL fuzzer with clang and runs it for a while over a copy of
# the seed corpus. Exits non-zero if the build fails or the fuzzer finds a
# crash, a leak, a sanitizer report, a timeout or a broken invariant.
#
#   tests/fuzz/run-fuzz.sh [SECONDS] [OUTDIR]
#
# SECONDS defaults to $TAPGATE_FUZZ_SECONDS, else 60. OUTDIR (default:
# $TAPGATE_FUZZ_OUT, else .fuzz-acl in the source tree)
# receives the binary, the working corpus and any crash artifacts; the seed
# corpus in the tree is never modified. CXX may name another clang++.
set -eu

seconds=${1:-${TAPGATE_FUZZ_SECONDS:-60}}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=${2:-${TAPGATE_FUZZ_OUT:-$root/.fuzz-acl}}
cxx=${CXX:-clang++}

case $seconds in
    ''|*[!0-9]*|0) echo "run-fuzz.sh: SECONDS must be a positive number, not '$seconds'" >&2; exit 2 ;;
esac
if ! command -v "$cxx" >/dev/null 2>&1; then
    echo "run-fuzz.sh: $cxx not found (libFuzzer needs clang)" >&2
    exit 2
fi

mkdir -p "$out/corpus"
out=$(cd "$out" && pwd)

# Built directly rather than through meson so that CI needs no second build
# directory configured with clang. Always rebuilt: it takes seconds, and a
# stale binary would fuzz old code.
echo "run-fuzz.sh: building $out/fuzz_acl with $cxx"
"$cxx" -std=c++20 -g -O1 -fno-omit-frame-pointer \
    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
    -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wno-sign-conversion -Wold-style-cast \
    -I"$root/acl" \
    "$here/fuzz_acl.cpp" "$root/acl/parser.cpp" "$root/acl/decision.cpp" "$root/acl/source.cpp" \
    -o "$out/fuzz_acl.new"
mv "$out/fuzz_acl.new" "$out/fuzz_acl"

# The working corpus starts from the seeds and keeps what earlier runs in
# the same OUTDIR found.
cp "$here/corpus/acl/"* "$out/corpus/"

echo "run-fuzz.sh: fuzzing for ${seconds}s"
export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
status=0
"$out/fuzz_acl" \
    -max_total_time="$seconds" \
    -timeout=10 \
    -rss_limit_mb=2048 \
    -max_len=12000 \
    -dict="$here/acl.dict" \
    -print_final_stats=1 \
    -artifact_prefix="$out/" \
    "$out/corpus" || status=$?
if [ "$status" -ne 0 ]; then
    echo "run-fuzz.sh: FAILED (status $status); reproducer in $out/ (crash-*, leak-*, timeout-*, oom-*)" >&2
    exit 1
fi
echo "run-fuzz.sh: no crashes in ${seconds}s"
