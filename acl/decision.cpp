// SPDX-License-Identifier: GPL-2.0-or-later
#include "acl.hpp"

#include <algorithm>

#include "text.hpp"

namespace tapgate::acl {

bool Rule::applies_to(const Caller& caller) const {
    if (!qualified()) return true;
    for (const auto& u : users)
        if (caller.uid != Caller::no_id && u.id == caller.uid) return true;
    for (const auto& g : groups)
        for (auto gid : caller.gids)
            if (g.id == gid) return true;
    return false;
}

bool Rule::matches(std::string_view requested_bridge, const Caller& caller) const {
    return (all || bridge == requested_bridge) && applies_to(caller);
}

std::string Rule::text() const {
    std::string s = std::string(action == Action::allow ? "allow " : "deny ") + (all ? "all" : bridge);
    auto list = [&s](const char* kind, const std::vector<Principal>& ps) {
        if (ps.empty()) return;
        s += std::string(" ") + kind + " ";
        for (std::size_t i = 0; i < ps.size(); ++i) s += (i ? "," : "") + ps[i].name;
    };
    list("user", users);
    list("group", groups);
    return s;
}

std::optional<std::uint32_t> MemoryDirectory::user_id(const std::string& name) {
    auto it = users.find(name);
    if (it == users.end()) return std::nullopt;
    return it->second;
}

std::optional<std::uint32_t> MemoryDirectory::group_id(const std::string& name) {
    auto it = groups.find(name);
    if (it == groups.end()) return std::nullopt;
    return it->second;
}

// Same meaning as qemu-bridge-helper: default deny, and any matching deny
// beats any matching allow wherever the two stand in the files.
Decision decide(const Policy& policy, std::string_view bridge) {
    return decide(policy, bridge, Caller{});
}

std::vector<std::uint32_t> groups_deciding(const Policy& policy, std::string_view bridge) {
    std::vector<std::uint32_t> gids;
    for (const Rule& rule : policy.rules) {
        if (!rule.all && rule.bridge != bridge) continue;
        for (const auto& g : rule.groups)
            if (std::find(gids.begin(), gids.end(), g.id) == gids.end()) gids.push_back(g.id);
    }
    return gids;
}

Decision decide(const Policy& policy, std::string_view bridge, const Caller& caller) {
    Decision d;
    if (!policy.ok()) {
        d.policy_error = policy.errors.front();
        d.policy_error_count = policy.errors.size();
        return d;
    }
    for (const Closure& c : policy.closures) {
        if (!c.closes(bridge)) continue;
        if (!d.policy_error) d.policy_error = c.error;
        ++d.policy_error_count;
    }
    if (d.policy_error) return d;
    const Rule* first_allow = nullptr;
    for (const Rule& rule : policy.rules) {
        if (!rule.matches(bridge, caller)) continue;
        if (rule.action == Action::deny) {
            d.rule = rule;
            return d;
        }
        if (!first_allow) first_allow = &rule;
    }
    if (first_allow) {
        d.allowed = true;
        d.rule = *first_allow;
    }
    return d;
}

std::string Closure::what() const {
    return all ? "every bridge" : "bridge " + text::printable(bridge);
}

std::string Decision::explain(std::string_view bridge, std::string_view main_file) const {
    std::string what = "access to bridge " + text::printable(bridge);
    if (policy_error) {
        std::string more;
        if (policy_error_count > 1)
            more = " (and " + std::to_string(policy_error_count - 1) +
                   " more; run tapgate --check)";
        return what + " denied: ACL error: " + policy_error->str() + more;
    }
    if (rule) {
        // A bridge name in the file may hold any byte but NUL, blanks, '/'
        // and ':', so the rule is escaped like the requested name.
        return what + (allowed ? " allowed by " : " denied by ") + rule->where.str() + " (" +
               text::printable(rule->text()) + ")";
    }
    return what + " denied: no rule in " + std::string(main_file) + " allows it";
}

}  // namespace tapgate::acl
