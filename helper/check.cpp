#include "check.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdint>
#include <cstring>
#include <string_view>

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

// Root reads every file; the helper reads them as each user. A mode that
// lets nobody but root read a file passes root's check and refuses every
// request: say so.
void warn_unreadable(const std::string& file, acl::Source& source, std::uint32_t wanted, const char* why) {
    if (::getuid() != 0) return;
    const acl::FileContent c = source.read(file);
    if (c.status != acl::FileContent::Status::ok || (c.mode & wanted) != 0) return;
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(c.mode));
    std::fprintf(stderr, "%s: warning: mode %s: %s\n", text::printable(file).c_str(), mode, why);
}

int check_acl(const std::string& file, acl::Source& source, acl::Directory& directory) {
    warn_unreadable(file, source, 044,
                    "only root can read it, so the helper refuses every request (give its group, or "
                    "everybody, read permission)");
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
    warn_unreadable(file, source, 004,
                    "users cannot all read it, so the helper refuses the requests of those who cannot "
                    "(it must be readable by every user: mode 0644)");
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

// Whether a file named on the command line is a tapgate.conf: by its
// name when that is tapgate.conf or bridge.conf, else by what it holds (a
// staged /etc/tapgate.conf.new): the first line that is not blank or a
// comment starts a section in tapgate.conf, a rule in bridge.conf.
bool is_settings(const std::string& file, acl::Source& source) {
    auto slash = file.rfind('/');
    const std::string base = file.substr(slash == std::string::npos ? 0 : slash + 1);
    if (base == "tapgate.conf" || base == "bridge.conf") return base == "tapgate.conf";
    const acl::FileContent c = source.read(file);
    std::string_view rest = c.text;
    while (!rest.empty()) {
        auto nl = rest.find('\n');
        std::string_view line = text::trim(rest.substr(0, nl));
        rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
        if (line.empty() || line.front() == '#' || line.front() == ';') continue;
        return line.front() == '[';
    }
    return false;
}

}  // namespace

int run(const std::optional<std::string>& file) {
    acl::FileSystemSource source;
    identity::NssDirectory directory;
    if (file)
        return is_settings(*file, source) ? check_settings(*file, source, directory)
                                          : check_acl(*file, source, directory);
    int a = check_acl(TAPGATE_ACL_FILE, source, directory);
    int s = check_settings(TAPGATE_SETTINGS_FILE, source, directory);
    return a | s;
}

}  // namespace tapgate::check
