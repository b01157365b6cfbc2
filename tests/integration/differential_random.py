#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Random bridge.conf trees for differential-random.sh, and models of how
qemu-bridge-helper (QEMU 7.2) and tapgate decide on them.

  generate --seed S --cases N --out DIR
      writes DIR/NNNN/, a tree to copy to /etc/qemu with its owners and
      modes, and DIR/NNNN.json (user, bridge, files), and DIR/cases, one
      line "NNNN USER BRIDGE" a case. Run as root, where the test users
      exist.
  check --cases DIR --results FILE --man PAGE
      reads "NNNN REF_EXIT REF_FD TG_EXIT TG_FD" lines, prints "ok ..." or
      "FAIL ..." for each case (details of a failure on the lines after it,
      indented) and a summary line "summary: ...". Exit status 1 when the
      man page lacks an item of QUIRKS.

Each model must predict its helper's real decision, or the case fails: a
model that is wrong cannot explain anything. A case where the two helpers
decide differently is explained by the smallest set of reference quirks
which, switched off in the reference model, make it read the tree exactly as
the tapgate model does (same rules in the same order, or both refusing
everything). Each quirk is an item of DIFFERENCES FROM QEMU-BRIDGE-HELPER in
bridge.conf(5), found there by its phrase; a difference no quirk explains,
or one explained by a quirk the page does not list, fails the case.
"""

import argparse
import grp
import itertools
import json
import os
import pwd
import random
import re
import shutil
import sys

ACL_DIR = "/etc/qemu"
MAIN = ACL_DIR + "/bridge.conf"
USERS = ("tguser", "tgalice", "tgbob")
LAB = "tglab"  # tgalice and tgbob are members (tests/lib/ns.sh)
# Existing bridges (the test makes them) and one that is not there.
BRIDGES = ("br0", "br1", "tgbr456789abcde")
MISSING_BRIDGE = "brgone"
NAME15 = "tgbr456789abcde"
NAME16 = "tgbr456789abcdef"

# The reference's quirks that the generator can meet, with a phrase that
# must stand in the same item of the DIFFERENCES section (macros removed,
# blanks collapsed). The model switches each off by name.
QUIRKS = {
    "space before tab": "and at its first tab only when it has no space",
    "errors in includes": "for an error inside an included file but otherwise ignores it",
    "rest of line is the name": "takes everything after allow or deny as the name",
}

C_SPACE = " \t\n\v\f\r"  # isspace() in the C locale
TG_BLANK = " \t\r\v\f"  # acl/parser.cpp is_blank()


class Keyword:
    """The keyword "all" in a rule, which no bridge name can equal."""

    def __repr__(self):
        return "all"


ALL = Keyword()


def lines_of(text):
    """The lines as fgets() returns them: split at newlines only, each with
    its newline (the last may have none)."""
    return re.findall(r"[^\n]*\n|[^\n]+\Z", text)


# --- the trees ----------------------------------------------------------------

def pick(rng, weighted):
    items, weights = zip(*weighted)
    return rng.choices(items, weights)[0]


def rule_name(rng, action):
    # Few "deny all": it would refuse most cases, which then say little.
    every = 16 if action == "allow" else 3
    return pick(rng, [("br0", 30), ("br1", 30), (NAME15, 10), (MISSING_BRIDGE, 6),
                      ("all", every), ("ALL", 2), (NAME16, 2)])


def lead(rng):
    return pick(rng, [("", 80), (" ", 6), ("\t", 8), ("  \t", 3), ("\t ", 3)])


def trail(rng):
    return pick(rng, [("", 70), (" ", 12), ("\t", 8), ("  ", 5), (" \t ", 5)])


def sep(rng):
    # A tab followed by a space is a tab before the first space.
    return pick(rng, [(" ", 60), ("\t", 22), ("  ", 8), (" \t", 5), ("\t ", 5)])


def line_for(rng, included):
    """One line without its end, other than an include of a file of the tree.
    Errors are likelier in included files, where the helpers differ on them."""
    unknown = 3 if included else 0.5
    kind = pick(rng, [("rule", 62), ("tab then space", 4), ("comment", 8), ("blank", 7),
                      ("unknown", unknown), ("missing include", 5), ("trailing words", 2.5),
                      ("bare keyword", 0.5)])
    action = pick(rng, [("allow", 2), ("deny", 1)])
    if kind == "rule":
        return lead(rng) + action + sep(rng) + rule_name(rng, action) + trail(rng)
    if kind == "tab then space":
        return (lead(rng) + action + "\t" + rule_name(rng, action)
                + pick(rng, [(" ", 3), (" \t", 1)]))
    if kind == "comment":
        return lead(rng) + rng.choice(("#", "# ", "#\t")) + rng.choice(
            ("", "allow br0", "deny all", "guests only", "include /etc/qemu/x.conf"))
    if kind == "blank":
        return rng.choice(("", " ", "\t", " \t "))
    if kind == "unknown":
        return lead(rng) + rng.choice(("permit br0", "ALLOW br0", "Deny all", "frobnicate",
                                       "allow:br0", "includes /etc/qemu/x.conf"))
    if kind == "missing include":
        path = f"{ACL_DIR}/nosuch{rng.randrange(3)}.conf"
        return lead(rng) + "include" + sep(rng) + path + trail(rng)
    if kind == "trailing words":
        return action + " " + rng.choice(("br0", "br1")) + rng.choice((" # guests", " br1", " #"))
    return lead(rng) + action + trail(rng)


def generate_case(rng):
    """A tree: bridge.conf, some shared files (root:root 0644), files only
    one user can read (root:USER 0640), one for the lab group, one nobody
    can read; includes go only to files later in the list, so there is no
    cycle and nesting stays far below tapgate's limits."""
    files = [("bridge.conf", "root", "root", 0o644)]
    if rng.random() < 0.05:
        files[0] = ("bridge.conf", "root", LAB, 0o640)
    others = [(f"shared{i}.conf", "root", "root", 0o644) for i in range(rng.randrange(3))]
    others += [(f"user-{u}.conf", "root", u, 0o640) for u in USERS if rng.random() < 0.45]
    if rng.random() < 0.3:
        others.append(("lab.conf", "root", LAB, 0o640))
    if rng.random() < 0.15:
        others.append(("secret.conf", "root", "root", 0o600))
    rng.shuffle(others)
    files += others

    bodies = [[line_for(rng, i > 0) for _ in range(rng.randrange(1 if i else 2, 5))]
              for i in range(len(files))]
    for i in range(1, len(files)):
        if rng.random() < 0.9:
            into = bodies[rng.randrange(i)]
            path = f"{ACL_DIR}/{files[i][0]}"
            into.insert(rng.randrange(len(into) + 1),
                        lead(rng) + "include" + sep(rng) + path + trail(rng))

    out = {}
    for (name, owner, group, mode), body in zip(files, bodies):
        crlf = rng.random() < 0.15
        text = "".join(l + ("\r\n" if crlf or rng.random() < 0.03 else "\n") for l in body)
        if text and rng.random() < 0.1:
            text = text.rstrip("\n")  # no newline after the last line
        out[f"{ACL_DIR}/{name}"] = {"owner": owner, "group": group, "mode": mode, "text": text}
    user = rng.choice(USERS)
    bridge = pick(rng, [(b, 3) for b in BRIDGES] + [(MISSING_BRIDGE, 1)])
    return {"user": user, "bridge": bridge, "files": out}


def generate(args):
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "cases"), "w") as index:
        for n in range(args.cases):
            case = generate_case(random.Random(f"{args.seed}/{n}"))
            case["seed"], case["number"] = args.seed, n
            tag = f"{n:04d}"
            with open(os.path.join(args.out, tag + ".json"), "w") as f:
                json.dump(case, f)
            root = os.path.join(args.out, tag)
            os.mkdir(root, 0o755)
            os.chmod(root, 0o755)
            for path, spec in case["files"].items():
                dst = os.path.join(root, os.path.relpath(path, ACL_DIR))
                with open(dst, "w", newline="") as f:
                    f.write(spec["text"])
                shutil.chown(dst, spec["owner"], spec["group"])
                os.chmod(dst, spec["mode"])
            index.write(f"{tag} {case['user']} {case['bridge']}\n")


# --- the models ---------------------------------------------------------------

class Tree:
    def __init__(self, case):
        self.files = case["files"]
        user = pwd.getpwnam(case["user"])
        self.uid = user.pw_uid
        self.gids = {user.pw_gid} | {g.gr_gid for g in grp.getgrall()
                                     if case["user"] in g.gr_mem}

    def read(self, path):
        """The text of PATH as the caller can read it, or None."""
        spec = self.files.get(path)
        if spec is None:
            return None
        mode = spec["mode"]
        uid = pwd.getpwnam(spec["owner"]).pw_uid
        gid = grp.getgrnam(spec["group"]).gr_gid
        if uid == self.uid:
            ok = mode & 0o400
        elif gid in self.gids:
            ok = mode & 0o040
        else:
            ok = mode & 0o004
        return spec["text"] if ok else None


REFUSE = "refuses everything"


def reference_policy(tree, quirks):
    """What qemu-bridge-helper's parse_acl_file() makes of the tree: the rule
    list, or REFUSE. QUIRKS: the names from QUIRKS still switched on."""
    rules = []

    def parse(path):
        text = tree.read(path)
        if text is None:
            return "cannot open"
        # fgets() with a 4096-byte buffer; the generator's lines are short.
        for line in lines_of(text):
            assert len(line) < 4095, "line too long for the model"
            p = line.lstrip(C_SPACE)
            if not p or p[0] == "#":
                continue
            if "space before tab" in quirks:
                cut = p.find(" ")
                if cut < 0:
                    cut = p.find("\t")
            else:
                cut = next((i for i, c in enumerate(p) if c in " \t"), -1)
            if cut < 0:
                return "error"
            cmd, arg = p[:cut], p[cut + 1:].strip(C_SPACE)
            if cmd != "include" and len(arg) >= 16:
                return "error"
            if cmd in ("allow", "deny"):
                if "rest of line is the name" not in quirks and (
                        not arg or any(c in C_SPACE for c in arg)):
                    return "error"
                rules.append((cmd, ALL if arg == "all" else arg))
            elif cmd == "include":
                if parse(arg) == "error" and "errors in includes" not in quirks:
                    return "error"
            else:
                return "error"
        return "ok"

    return tuple(rules) if parse(MAIN) == "ok" else REFUSE


def valid_name(name):
    return (0 < len(name) <= 15 and name not in (".", "..")
            and not any(c in "/:\0" or c in C_SPACE for c in name))


def tapgate_policy(tree):
    """What acl/parser.cpp makes of the tree, for the lines the generator
    writes (no user or group qualifiers, absolute includes, no cycles)."""
    rules = []
    errors = []

    def parse(path):
        text = tree.read(path)
        if text is None:
            return False
        for line in text.split("\n"):
            body = line.strip(TG_BLANK)
            if not body or body[0] == "#":
                continue
            words = re.split("[" + TG_BLANK + "]+", body)
            cmd = words[0]
            if cmd in ("allow", "deny"):
                if len(words) != 2 or not (words[1] == "all" or valid_name(words[1])):
                    errors.append(line)
                    continue
                rules.append((cmd, ALL if words[1] == "all" else words[1]))
            elif cmd == "include":
                arg = body[len(cmd):].strip(TG_BLANK)
                if not arg.startswith("/"):
                    errors.append(line)
                    continue
                parse(arg)
            else:
                errors.append(line)
        return True

    if not parse(MAIN) or errors:
        return REFUSE
    return tuple(rules)


ALLOWED, REFUSED = "0 1", "1 0"  # exit status, fd received


def decision(policy, bridge):
    """What the helper does for BRIDGE, as tg-spawn reports it."""
    if policy == REFUSE:
        return REFUSED
    matches = [action for action, name in policy if name in (ALL, bridge)]
    if "allow" in matches and "deny" not in matches and bridge in BRIDGES:
        return ALLOWED
    return REFUSED


# --- the check ----------------------------------------------------------------

def man_items(page):
    """The items of the DIFFERENCES section, as plain text."""
    items, current, inside = [], None, False
    with open(page) as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith(".Sh "):
                inside = line.startswith(".Sh DIFFERENCES FROM QEMU-BRIDGE-HELPER")
                continue
            if not inside:
                continue
            if line.startswith(".It"):
                current = []
                items.append(current)
                line = line[3:]
            elif line.startswith((".El", ".Bl")):
                current = None
                continue
            if current is None:
                continue
            line = re.sub(r"^\.[A-Z][a-z]\s*", "", line).replace("\\&", "")
            current.append(line)
    return [" ".join(" ".join(i).split()) for i in items]


def show_case(case, out):
    out.append(f"    user {case['user']}, --br={case['bridge']}; "
               f"TG_RDIFF_SEED={case['seed']}, case {case['number']}")
    for path, spec in case["files"].items():
        out.append(f"    {path} {spec['owner']}:{spec['group']} {spec['mode']:04o}")
        for line in lines_of(spec["text"]) or [""]:
            out.append(f"      {line!r}")


def word(outcome):
    if outcome in (ALLOWED, REFUSED):
        return "allows" if outcome == ALLOWED else "refuses"
    return "gives exit=%s fd=%s" % tuple(outcome.split())


def explain(tree, tapgate_reads):
    """The smallest set of quirks whose absence makes the reference model
    read the tree as tapgate does, or None."""
    for size in range(1, len(QUIRKS) + 1):
        for off in itertools.combinations(QUIRKS, size):
            if reference_policy(tree, set(QUIRKS) - set(off)) == tapgate_reads:
                return off
    return None


def check(args):
    items = man_items(args.man)
    documented = {q for q, phrase in QUIRKS.items() if any(phrase in i for i in items)}
    missing = sorted(set(QUIRKS) - documented)
    for q in missing:
        print(f"FAIL bridge.conf(5) DIFFERENCES has no item with \"{QUIRKS[q]}\" ({q})")
    counts = {q: 0 for q in QUIRKS}
    total = same = different = 0
    with open(args.results) as f:
        results = [line.split() for line in f if line.strip()]
    for tag, ref_exit, ref_fd, tg_exit, tg_fd in results:
        with open(os.path.join(args.cases, tag + ".json")) as f:
            case = json.load(f)
        tree = Tree(case)
        bridge = case["bridge"]
        ref, tg = f"{ref_exit} {ref_fd}", f"{tg_exit} {tg_fd}"
        ref_reads, tg_reads = reference_policy(tree, set(QUIRKS)), tapgate_policy(tree)
        total += 1
        same += ref == tg
        different += ref != tg
        head = f"case {case['number']} ({case['user']}, --br={bridge})"
        what = f"the reference {word(ref)}, tapgate {word(tg)}"
        models = (("reference", ref_reads, ref), ("tapgate", tg_reads, tg))
        wrong = [f"the {name} model says it {word(decision(reads, bridge))}"
                 for name, reads, real in models if decision(reads, bridge) != real]
        why = explain(tree, tg_reads) if ref != tg and not wrong else None
        if wrong:
            print(f"FAIL {head}: {what}, but {' and '.join(wrong)}")
        elif ref == tg:
            print(f"ok {head}: same: both {word(tg)}")
            continue
        elif why is None:
            print(f"FAIL {head}: {what}, which no DIFFERENCES item explains")
        elif set(why) - documented:
            print(f"FAIL {head}: {what}: {' + '.join(why)}, which bridge.conf(5) does not list")
        else:
            for q in why:
                counts[q] += 1
            print(f"ok {head}: differs ({what}): {' + '.join(why)}")
            continue
        details = [f"    reference reads: {ref_reads}", f"    tapgate reads:   {tg_reads}"]
        show_case(case, details)
        print("\n".join(details))
    with open(os.path.join(args.cases, "cases")) as f:
        generated = sum(1 for _ in f)
    if total != generated:
        print(f"FAIL results for {total} of the {generated} cases")
    per_item = ", ".join(f"{q} {n}" for q, n in counts.items())
    print(f"summary: cases {total}, same {same}, different {different}; by DIFFERENCES "
          f"item (one difference can need two): {per_item}")
    return 1 if missing else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    g = sub.add_parser("generate")
    g.add_argument("--seed", type=int, required=True)
    g.add_argument("--cases", type=int, required=True)
    g.add_argument("--out", required=True)
    c = sub.add_parser("check")
    c.add_argument("--cases", required=True)
    c.add_argument("--results", required=True)
    c.add_argument("--man", required=True)
    args = parser.parse_args()
    return generate(args) if args.command == "generate" else check(args)


if __name__ == "__main__":
    sys.exit(main())
