#include "acl.hpp"

namespace tapgate::acl {

bool Rule::matches(std::string_view requested_bridge) const {
    return all || bridge == requested_bridge;
}

std::string Rule::text() const {
    return std::string(action == Action::allow ? "allow " : "deny ") + (all ? "all" : bridge);
}

// Same meaning as qemu-bridge-helper: default deny, and any matching deny
// beats any matching allow wherever the two stand in the files.
Decision decide(const Policy& policy, std::string_view bridge) {
    Decision d;
    if (!policy.ok()) {
        d.policy_error = policy.errors.front();
        return d;
    }
    const Rule* first_allow = nullptr;
    for (const Rule& rule : policy.rules) {
        if (!rule.matches(bridge)) continue;
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

std::string Decision::explain(std::string_view bridge, std::string_view main_file) const {
    std::string b = "bridge " + std::string(bridge);
    if (policy_error) return b + " denied: ACL error: " + policy_error->str();
    if (rule) {
        return b + (allowed ? " allowed by " : " denied by ") + rule->where.str() + " (" +
               rule->text() + ")";
    }
    return b + " denied: no rule in " + std::string(main_file) + " allows it";
}

}  // namespace tapgate::acl
