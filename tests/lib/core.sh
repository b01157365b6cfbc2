# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash
# The generic part of the test library (sourced by tests/lib/tg.sh): cases,
# their verdicts, skips, and the end of a test, as TAP on stdout (meson's
# protocol : 'tap'). Nothing here knows tapgate.
#
# A case is one "ok N - ..." or "not ok N - ..." line: tg_pass / tg_fail /
# tg_check, or any number of tg_problem calls closed by tg_verdict. Anything
# else on stdout must be a TAP comment: tg_note. tg_done, called last,
# prints the plan and gives the exit status. Cases must be reported by the
# test's own shell, never a subshell, or their numbers repeat.

TG_CASES=0
TG_FAILS=0

# tg_note [TEXT...]: lines for the log ("# ..."), not cases: each TEXT, or
# with none, stdin.
tg_note() {
    local a l
    if [ $# -eq 0 ]; then
        while IFS= read -r l; do echo "# $l"; done
        return 0
    fi
    for a; do
        while IFS= read -r l; do echo "# $l"; done <<< "$a"
    done
}

# A description is one line: a newline in it (a bridge name under test,
# say) is shown as \n.
tg_pass() {
    TG_CASES=$((TG_CASES + 1))
    local d=$*
    echo "ok $TG_CASES - ${d//$'\n'/\\n}"
}
tg_fail() {
    TG_CASES=$((TG_CASES + 1))
    TG_FAILS=$((TG_FAILS + 1))
    local d=$*
    echo "not ok $TG_CASES - ${d//$'\n'/\\n}"
}
# tg_check DESC CMD...: pass if CMD succeeds.
tg_check() {
    local desc=$1
    shift
    if "$@"; then tg_pass "$desc"; else tg_fail "$desc"; fi
}

# tg_skip REASON: the whole test is skipped. meson reads a non-zero exit
# of a TAP test as an error, 77 included: the skip is the plan "1..0".
tg_skip() {
    if [ "$TG_CASES" -eq 0 ]; then
        echo "1..0 # SKIP $*"
        exit 0
    fi
    echo "ok $((TG_CASES + 1)) # SKIP $*"
    TG_CASES=$((TG_CASES + 1))
    tg_done
}

# tg_skip_case DESC REASON: one case that cannot run here ("ok N - DESC #
# SKIP REASON"); the test goes on.
tg_skip_case() {
    TG_CASES=$((TG_CASES + 1))
    local d=$1 r=$2
    echo "ok $TG_CASES - ${d//$'\n'/\\n} # SKIP ${r//$'\n'/ }"
}

# Call last: the plan, and exit status 1 if a case failed (meson then
# reports the test as an error, with the failed cases named in its log).
tg_done() {
    echo "1..$TG_CASES"
    if [ "$TG_FAILS" -ne 0 ]; then
        tg_note "$TG_FAILS of $TG_CASES cases failed"
        exit 1
    fi
    exit 0
}

# --- problems and verdicts ----------------------------------------------------
# tg_problem MSG...: one thing wrong with the case being checked.
# tg_verdict DESC: ends the case: it passes if there was no problem, else it
# fails with each problem, the last run's exit status, report and stderr
# (TG_RC, TG_REPORT, TG_ERR, if the test set them), then runs
# $TG_ON_FAILURE (a command that restores what a failed case may have left:
# the next case must start clean). With TG_STATE0 set (tg_state_baseline),
# the namespace must also be as it was then. Slow cases are noted: a test
# must stay short.
TG_PROBLEMS=()
TG_ON_FAILURE=
TG_STATE0=
TG_LAST_T=${EPOCHREALTIME/./}
tg_problem() { TG_PROBLEMS+=("$*"); }
tg_verdict() {
    if [ -n "$TG_STATE0" ]; then
        tg_state
        [ "$TG_STATE" = "$TG_STATE0" ] || tg_problem "left behind: $TG_STATE (before: $TG_STATE0)"
    fi
    local now=${EPOCHREALTIME/./} took
    took=$(((now - TG_LAST_T) / 1000))
    TG_LAST_T=$now
    ((took > 3000)) && tg_note "    ($1: ${took} ms)"
    if [ ${#TG_PROBLEMS[@]} -eq 0 ]; then
        tg_pass "$1"
    else
        tg_fail "$1"
        tg_note "${TG_PROBLEMS[@]/#/    }" "    ${TG_RC:+rc=$TG_RC }report: ${TG_REPORT:-}"
        [ -n "${TG_ERR:-}" ] && printf '%s\n' "$TG_ERR" | head -c 600 | head -n 5 | sed 's/^/    stderr: /' | tg_note
        [ -n "$TG_ON_FAILURE" ] && $TG_ON_FAILURE
    fi
    TG_PROBLEMS=()
}

# tg_lines TEXT: the number of lines in TEXT (no fork).
tg_lines() {
    [ -z "$1" ] && { echo 0; return; }
    local t=${1%%$'\n'}
    local nl=${t//[^$'\n']/}
    echo $((${#nl} + 1))
}

# tg_wait SECONDS CMD...: poll CMD until it succeeds; status 1 on timeout.
# Polling loops avoid forks where bash can do the work: on a loaded machine
# each fork+exec can cost tens of milliseconds.
tg_wait() {
    local end=$(( ${EPOCHREALTIME/./} + $1 * 1000000 ))
    shift
    until "$@"; do
        [ "${EPOCHREALTIME/./}" -lt "$end" ] || return 1
        sleep 0.05
    done
}

# tg_clock_start; tg_ms: elapsed time for progress lines ("1234 ms").
tg_clock_start() { TG_CLOCK0=${EPOCHREALTIME/./}; }
tg_ms() { echo "$(( (${EPOCHREALTIME/./} - TG_CLOCK0) / 1000 )) ms"; }
