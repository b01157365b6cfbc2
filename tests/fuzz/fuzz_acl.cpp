// SPDX-License-Identifier: GPL-2.0-or-later
// libFuzzer target for the ACL parser and decision code.
//
// The input is split on lines that are exactly "----" into up to four files:
// the main bridge.conf, then a.conf, b.conf and users/c.conf beside it, so
// that includes, cycles and skipped includes are all reachable. Each file is
// also reachable through nested directories (d/, d/d/, ...), so that a file
// including "d/<itself>" nests one level deeper each time and the depth
// limit is reachable with only four files.
//
// Besides crashes and sanitizer reports, the target checks the properties
// the helper relies on and traps when one does not hold.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "acl.hpp"

using namespace tapgate::acl;

namespace {

constexpr std::string_view separator = "\n----\n";
constexpr const char* names[] = {"bridge.conf", "a.conf", "b.conf", "users/c.conf"};
constexpr int alias_levels = max_include_depth + 3;

void check(bool ok) {
    if (!ok) __builtin_trap();
}

bool all_printable(std::string_view s) {
    for (char c : s) {
        auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u >= 0x7f) return false;
    }
    return true;
}

// Callers the decisions are checked for: nobody known, and two users in
// different groups of the directory below.
const Caller callers[] = {
    {},
    {1000, "alice", {1000, 2000}},
    {1001, "bob", {1001, 2001}},
};

void check_decision(const Policy& policy, std::string_view bridge, const Caller& caller) {
    Decision d = decide(policy, bridge, caller);
    std::size_t closing = 0;
    for (const Closure& c : policy.closures) closing += c.closes(bridge) ? 1 : 0;
    if (!policy.ok()) {
        // Fail closed, whatever the rules say.
        check(!d.allowed && !d.rule && d.policy_error);
        check(d.policy_error_count == policy.errors.size());
    } else if (closing) {
        // An unknown name closes the bridges its rule could decide.
        check(!d.allowed && !d.rule && d.policy_error);
        check(d.policy_error_count == closing);
    } else {
        check(!d.policy_error);
        bool any_deny = false, any_allow = false;
        for (const Rule& r : policy.rules) {
            if (!r.matches(bridge, caller)) continue;
            (r.action == Action::deny ? any_deny : any_allow) = true;
        }
        check(d.allowed == (any_allow && !any_deny));
        check(d.rule.has_value() == (any_allow || any_deny));
        if (d.rule) {
            check(d.rule->matches(bridge, caller));
            check((d.rule->action == Action::allow) == d.allowed);
            check(d.rule->where.line > 0);
        }
    }
    std::string text = d.explain(bridge, policy.main_file);
    check(!text.empty());
    // Goes to stderr, logs and dialogs: no raw control or non-ASCII bytes
    // (all file names here are plain, so everything else must be escaped).
    check(all_printable(text));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view input(reinterpret_cast<const char*>(data), size);

    std::vector<std::string_view> parts;
    while (parts.size() + 1 < std::size(names)) {
        auto at = input.find(separator);
        if (at == std::string_view::npos) break;
        parts.push_back(input.substr(0, at));
        input.remove_prefix(at + separator.size());
    }
    parts.push_back(input);

    MemorySource source;
    for (std::size_t i = 0; i < parts.size(); ++i) {
        std::string dir = "/etc/qemu/";
        for (int level = 0; level <= alias_levels; ++level) {
            source.files[dir + names[i]] = std::string(parts[i]);
            dir += "d/";
        }
    }

    MemoryDirectory directory;
    directory.users = {{"alice", 1000}, {"bob", 1001}, {"root", 0}};
    directory.groups = {{"alice", 1000}, {"bob", 1001}, {"lab", 2000}, {"guests", 2001}};
    Policy policy = load(source, "/etc/qemu/bridge.conf", &directory);

    for (const Diagnostic& e : policy.errors) {
        check(!e.message.empty());
        check(!e.where.file.empty());
    }
    bool qualified = false;
    for (const Rule& r : policy.rules) {
        check(r.where.line > 0);
        qualified = qualified || r.qualified();
        // Every name was resolved, and to what the directory says.
        for (const auto& u : r.users) check(directory.users.at(u.name) == u.id);
        for (const auto& g : r.groups) check(directory.groups.at(g.name) == g.id);
        check(r.all ? r.bridge.empty() : !invalid_interface_name(r.bridge));
    }

    check(policy.qualified() == qualified);

    static const char* const fixed[] = {"br0", "all", "ALL", "virbr0", "", "abcdefghijklmnop"};
    for (const Caller& c : callers)
        for (const char* b : fixed) check_decision(policy, b, c);
    // Names the policy mentions, so that allow paths are reached too.
    std::size_t n = 0;
    for (const Rule& r : policy.rules) {
        if (r.all) continue;
        for (const Caller& c : callers) check_decision(policy, r.bridge, c);
        if (++n == 4) break;
    }
    return 0;
}
