#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# tapgate --check, --help, --version: output, exit status, and that --check
# reads files as the caller, never with the setuid binary's privilege.
. "$(dirname "${BASH_SOURCE[0]}")/../lib/tg.sh"
tg_require_root
tg_isolate "$@"

tg_helper
tg=$TG_H
d=/etc/qemu

# expect STATUS CMD...: runs CMD, keeps its stdout/stderr in $out/$err.
expect() {
    local want=$1
    shift
    out=$("$@" 2>"$TG_ROOT/err")
    local rc=$?
    err=$(cat "$TG_ROOT/err")
    [ "$rc" -eq "$want" ] || { tg_note "exit $rc, wanted $want: $*" "stdout: $out" "stderr: $err"; return 1; }
}
has() { grep -qF -- "$2" <<<"$1" || { tg_note "missing '$2' in: $1"; return 1; }; }
lines() { [ "$(printf '%s' "$1" | grep -c '')" -eq "$2" ] || { tg_note "wanted $2 lines: $1"; return 1; }; }

tg_check "--version prints the version" \
    eval 'expect 0 $tg --version && has "$out" "tapgate 0."'
tg_check "--help prints the usage on stdout" \
    eval 'expect 0 $tg --help && has "$out" "Usage: tapgate" && [ -z "$err" ]'

tg_acl "allow br0" "# comment" "deny br1" "include /etc/qemu/alice.conf"
printf 'allow br2\n' > $d/alice.conf
chown root:$TG_ALICE $d/alice.conf
chmod 0640 $d/alice.conf

tg_check "clean default file: exit 0, summary on stdout, nothing on stderr" \
    eval 'expect 0 $tg --check && has "$out" "/etc/qemu/bridge.conf: OK, 3 rules" && [ -z "$err" ]'
tg_check "alice reads her include: 3 rules" \
    eval 'expect 0 tg_as $TG_ALICE $tg --check && has "$out" "OK, 3 rules"'
tg_check "bob cannot read alice.conf: skipped without a word, 2 rules" \
    eval 'expect 0 tg_as $TG_BOB $tg --check && has "$out" "OK, 2 rules" && [ -z "$err" ]'

printf 'allow br0\ninclude missing.conf\n' > $d/m.conf
tg_check "root is told about an include that does not exist (warning, exit 0)" \
    eval 'expect 0 $tg --check $d/m.conf && has "$err" "$d/m.conf:2: warning: include $d/missing.conf skipped: No such file or directory"'
tg_check "an unprivileged user is not" \
    eval 'expect 0 tg_as $TG_BOB $tg --check $d/m.conf && [ -z "$err" ]'

printf 'allow br0\nallw br1\ndeny\nallow a/b\nallow br0 br1\n' > $d/bad.conf
tg_check "every problem is reported with file:line, exit 1" \
    eval 'expect 1 $tg --check $d/bad.conf && lines "$err" 4 &&
          has "$err" "$d/bad.conf:2: unknown command" && has "$err" "$d/bad.conf:3: deny: missing" &&
          has "$err" "$d/bad.conf:4: allow: \"a/b\" cannot be a bridge name" &&
          has "$err" "$d/bad.conf:5: allow: unexpected \"br1\"" && has "$out" "4 errors"'
printf 'include bad.conf\n' > $d/outer.conf
tg_check "errors inside an include name the include's file and line" \
    eval 'expect 1 $tg --check $d/outer.conf && has "$err" "$d/bad.conf:2: unknown command"'

# --check drops every privilege: the setuid copy must not read what the
# caller cannot. shadow-like file: root 0600.
printf 'allow secret\n' > $d/private.conf
chmod 0600 $d/private.conf
tg_check "a user cannot read a root-only file through the setuid binary" \
    eval 'expect 1 tg_as $TG_USER $tg --check $d/private.conf && has "$err" "cannot open: Permission denied"'
tg_check "root can" \
    eval 'expect 0 $tg --check $d/private.conf'

printf 'allow br0\n' > $TG_ROOT/scratch/mine.conf
chown $TG_USER $TG_ROOT/scratch/mine.conf
tg_check "a file owned by the user is refused, with the reason" \
    eval 'expect 1 tg_as $TG_USER $tg --check $TG_ROOT/scratch/mine.conf && has "$err" "is owned by uid $TG_UID, not root"'
tg_check "--check with --br is a usage error" \
    eval 'expect 1 $tg --check --br=br0 && has "$err" "tapgate: --check does not take --br or --fd"'
# A staged file of either kind, named explicitly: its content says which.
printf '; new settings\n\n[bridge br0]\nquota = 2\n[defaults]\nlearning = no\n' > /etc/tapgate.conf.new
tg_check "a staged tapgate.conf.new is read as a tapgate.conf" \
    eval 'expect 0 $tg --check /etc/tapgate.conf.new && has "$out" "/etc/tapgate.conf.new: OK, 2 sections" && [ -z "$err" ]'
printf '# staged\nallow br0\n' > $d/bridge.conf.new
tg_check "a staged bridge.conf.new is read as a bridge.conf" \
    eval 'expect 0 $tg --check $d/bridge.conf.new && has "$out" "OK, 1 rule"'
# Root reads every file, the helper reads them as each user: a mode that
# only root can read passes root's check and refuses every request.
chmod 0600 /etc/qemu/bridge.conf
printf '[bridge br0]\nquota = 2\n' > /etc/tapgate.conf
chmod 0640 /etc/tapgate.conf
tg_check "root's --check warns about files users cannot read" \
    eval 'expect 0 $tg --check &&
          has "$err" "/etc/qemu/bridge.conf: warning: mode 0600: only root can read it" &&
          has "$err" "/etc/tapgate.conf: warning: mode 0640: users cannot all read it"'
chmod 0644 /etc/qemu/bridge.conf /etc/tapgate.conf
tg_check "... and not when they can" \
    eval 'expect 0 $tg --check && [ -z "$err" ]'
rm -f /etc/tapgate.conf /etc/tapgate.conf.new $d/bridge.conf.new

# --json: the same facts for scripts, on stdout, with the same exit status.
printf 'allow br0\nallw br1\nallow br2 user nosuchuser_tg\n' > $d/j.conf
expect 1 $tg --check $d/j.conf --json || tg_problem "--check --json: wrong exit status"
printf '%s\n' "$out" > "$TG_ROOT/check.json"
"${PYTHON:-python3}" - "$TG_ROOT/check.json" "$d/j.conf" > "$TG_ROOT/json.err" 2>&1 <<'PY' ||
import json, sys
doc = json.load(open(sys.argv[1]))
f, = doc["files"]
assert f["file"] == sys.argv[2] and f["kind"] == "bridge.conf", f
assert f["ok"] is False and f["present"] is True and f["rules"] == 1, f
msgs = [e["message"] for e in f["errors"]]
assert msgs[0].startswith(sys.argv[2] + ":2: unknown command \"allw\""), msgs
assert f["errors"][0]["closes"] == "every bridge", f
assert f["errors"][1]["closes"] == "bridge br2", f
assert f["refuses"] == "every bridge", f
PY
    tg_problem "--check --json: $(cat "$TG_ROOT/json.err")"
[ -z "$err" ] || tg_problem "--check --json wrote to stderr: $err"
tg_verdict "--check --json: errors, what they close and the counts, in the documented shape"
printf 'allow br0\nallow br2 user nosuchuser_tg\n' > $d/j.conf
expect 1 $tg --check $d/j.conf --json || tg_problem "--check --json: wrong exit status"
printf '%s\n' "$out" > "$TG_ROOT/check.json"
"${PYTHON:-python3}" - "$TG_ROOT/check.json" > "$TG_ROOT/json.err" 2>&1 <<'PY' ||
import json, sys
f, = json.load(open(sys.argv[1]))["files"]
assert f["refuses"] == "bridge br2" and f["errors"][0]["closes"] == "bridge br2", f
PY
    tg_problem "--check --json, unknown user: $(cat "$TG_ROOT/json.err")"
tg_verdict "--check --json: an unknown user closes only its rule's bridge"
expect 0 $tg --check --json || tg_problem "--check --json: wrong exit status"
printf '%s\n' "$out" > "$TG_ROOT/check.json"
"${PYTHON:-python3}" - "$TG_ROOT/check.json" > "$TG_ROOT/json.err" 2>&1 <<'PY' ||
import json, sys
a, s = json.load(open(sys.argv[1]))["files"]
assert a["kind"] == "bridge.conf" and a["ok"] and a["refuses"] is None, a
assert s["kind"] == "tapgate.conf" and s["ok"] and s["present"] is False, s
PY
    tg_problem "--check --json, defaults: $(cat "$TG_ROOT/json.err")"
tg_verdict "--check --json without a file: both files, tapgate.conf absent"

tg_check "a missing main file is an error" \
    eval 'expect 1 $tg --check /etc/qemu/nope.conf && has "$err" "/etc/qemu/nope.conf: cannot open: No such file or directory"'

tg_done
