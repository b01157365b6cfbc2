# shellcheck shell=bash
# The generic part of the test library (sourced by tests/lib/tg.sh): cases,
# their verdicts, skips, and the end of a test. Nothing here knows tapgate.
#
# A case is one line of output: tg_pass / tg_fail / tg_check, or any number
# of tg_problem calls closed by tg_verdict. tg_done, called last, gives the
# test's exit status.

TG_CASES=0
TG_FAILS=0

# tg_note TEXT...: a line for the log, not a case.
tg_note() { echo "$*"; }

tg_pass() {
    TG_CASES=$((TG_CASES + 1))
    echo "ok: $*"
}
tg_fail() {
    TG_CASES=$((TG_CASES + 1))
    TG_FAILS=$((TG_FAILS + 1))
    echo "FAIL: $*" >&2
}
# tg_check DESC CMD...: pass if CMD succeeds.
tg_check() {
    local desc=$1
    shift
    if "$@"; then tg_pass "$desc"; else tg_fail "$desc"; fi
}

# tg_skip REASON: the whole test is skipped (meson: exit 77).
tg_skip() {
    echo "SKIP: $*"
    exit 77
}

# Call last: exit status for meson.
tg_done() {
    if [ "$TG_FAILS" -ne 0 ]; then
        echo "$TG_FAILS check(s) failed" >&2
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
        printf '    %s\n' "${TG_PROBLEMS[@]}" >&2
        echo "    ${TG_RC:+rc=$TG_RC }report: ${TG_REPORT:-}" >&2
        [ -n "${TG_ERR:-}" ] && printf '%s\n' "$TG_ERR" | head -c 600 | head -n 5 | sed 's/^/    stderr: /' >&2
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
