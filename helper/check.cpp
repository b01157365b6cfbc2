#include "check.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "acl.hpp"
#include "config.h"
#include "identity.hpp"
#include "settings.hpp"
#include "text.hpp"

namespace tapgate::check {

namespace {

// Prints the closures, each with what it closes; returns the bridges
// they close ("br2, br3" or "every bridge"), empty if none.
std::string report_closures(const std::vector<acl::Closure>& closures) {
    std::vector<std::string> bridges;
    bool all = false;
    for (const auto& c : closures) {
        std::fprintf(stderr, "%s (closes %s)\n", c.error.str().c_str(), c.what().c_str());
        all = all || c.all;
        if (!c.all && std::find(bridges.begin(), bridges.end(), c.bridge) == bridges.end())
            bridges.push_back(c.bridge);
    }
    if (all) return "every bridge";
    std::string list;
    for (const auto& b : bridges) list += (list.empty() ? "" : ", ") + text::printable(b);
    return list.empty() ? list : (bridges.size() == 1 ? "bridge " : "bridges ") + list;
}

int summary(const std::string& file, std::size_t errors, std::size_t closures, const std::string& closed,
            const std::string& ok_text) {
    if (errors || closures) {
        const std::size_t n = errors + closures;
        std::printf("%s: %zu error%s; the helper refuses %s until fixed\n", text::printable(file).c_str(), n,
                    n == 1 ? "" : "s", errors ? "every bridge" : closed.c_str());
        return 1;
    }
    std::printf("%s: OK, %s\n", text::printable(file).c_str(), ok_text.c_str());
    return 0;
}

int check_acl(const std::string& file, acl::Source& source, acl::Directory& directory) {
    acl::Policy policy = acl::load(source, file, &directory);
    for (const auto& d : policy.errors) std::fprintf(stderr, "%s\n", d.str().c_str());
    const std::string closed = report_closures(policy.closures);
    // An include the caller cannot open is normal for an unprivileged user
    // (the per-user include idiom) and telling them would reveal which files
    // exist. Root can open everything, so for root it is a missing file.
    if (::getuid() == 0) {
        for (const auto& s : policy.skipped)
            std::fprintf(stderr, "%s: warning: include %s skipped: %s\n", s.where.str().c_str(),
                         text::printable(s.path).c_str(), std::strerror(s.error));
    }
    auto n = policy.rules.size();
    return summary(file, policy.errors.size(), policy.closures.size(), closed,
                   std::to_string(n) + (n == 1 ? " rule" : " rules"));
}

int check_settings(const std::string& file, acl::Source& source, acl::Directory& directory) {
    settings::Settings s = settings::load(source, file, directory);
    for (const auto& d : s.errors) std::fprintf(stderr, "%s\n", d.str().c_str());
    const std::string closed = report_closures(s.closures);
    if (!s.exists && s.ok()) {
        std::printf("%s: not present, defaults apply\n", text::printable(file).c_str());
        return 0;
    }
    auto n = s.scopes.size();
    return summary(file, s.errors.size(), s.closures.size(), closed,
                   std::to_string(n) + (n == 1 ? " section" : " sections"));
}

bool is_settings(const std::string& file) {
    auto slash = file.rfind('/');
    return file.substr(slash == std::string::npos ? 0 : slash + 1) == "tapgate.conf";
}

}  // namespace

int run(const std::optional<std::string>& file) {
    acl::FileSystemSource source;
    identity::NssDirectory directory;
    if (file)
        return is_settings(*file) ? check_settings(*file, source, directory)
                                  : check_acl(*file, source, directory);
    int a = check_acl(TAPGATE_ACL_FILE, source, directory);
    int s = check_settings(TAPGATE_SETTINGS_FILE, source, directory);
    return a | s;
}

}  // namespace tapgate::check
