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
        d.policy_error_count = policy.errors.size();
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
    std::string what = "access to bridge " + printable(bridge);
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
               printable(rule->text()) + ")";
    }
    return what + " denied: no rule in " + std::string(main_file) + " allows it";
}

}  // namespace tapgate::acl
