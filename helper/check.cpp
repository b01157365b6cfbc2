// SPDX-License-Identifier: GPL-2.0-or-later
#include "check.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string_view>
#include <vector>

#include "acl.hpp"
#include "config.h"
#include "identity.hpp"
#include "json.hpp"
#include "settings.hpp"
#include "text.hpp"

namespace tapgate::check {

namespace {

// What --check finds in one file, before it says it in text or JSON.
struct Result {
    std::string file;
    bool settings = false;  // a tapgate.conf, else a bridge.conf
    bool present = true;    // a missing tapgate.conf means the defaults
    struct Problem {
        std::string text;    // FILE:LINE: message
        std::string closes;  // "every bridge", "bridge br2"
        bool closure = false;  // an unknown name, which closes only `closes`
    };
    std::vector<Problem> errors;
    std::vector<std::string> warnings;  // FILE[:LINE]: warning: ...
    std::size_t count = 0;              // rules or sections
    std::string refused;                // what the helper refuses, empty when OK
};

// What the errors close together: "every bridge", "bridge br2", "bridges
// br1, br2".
std::string refused_by(const std::vector<acl::Diagnostic>& errors, const std::vector<acl::Closure>& closures) {
    if (!errors.empty()) return "every bridge";
    std::vector<std::string> bridges;
    for (const auto& c : closures) {
        if (c.all) return "every bridge";
        if (std::find(bridges.begin(), bridges.end(), c.bridge) == bridges.end()) bridges.push_back(c.bridge);
    }
    std::string list;
    for (const auto& b : bridges) list += (list.empty() ? "" : ", ") + text::printable(b);
    return list.empty() ? list : (bridges.size() == 1 ? "bridge " : "bridges ") + list;
}

void add_problems(Result& r, const std::vector<acl::Diagnostic>& errors, const std::vector<acl::Closure>& closures) {
    for (const auto& d : errors) r.errors.push_back({d.str(), "every bridge", false});
    for (const auto& c : closures) r.errors.push_back({c.error.str(), c.what(), true});
    r.refused = refused_by(errors, closures);
}

// Root reads every file; the helper reads them as each user. A mode that
// lets nobody but root read a file passes root's check and refuses every
// request: say so.
void warn_unreadable(Result& r, acl::Source& source, std::uint32_t wanted, const char* why) {
    if (::getuid() != 0) return;
    const acl::FileContent c = source.read(r.file);
    if (c.status != acl::FileContent::Status::ok || (c.mode & wanted) != 0) return;
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(c.mode));
    r.warnings.push_back(text::printable(r.file) + ": warning: mode " + mode + ": " + why);
}

Result check_acl(const std::string& file, acl::Source& source, acl::Directory& directory) {
    Result r;
    r.file = file;
    warn_unreadable(r, source, 044,
                    "only root can read it, so the helper refuses every request (give its group, or "
                    "everybody, read permission)");
    acl::Policy policy = acl::load(source, file, &directory);
    add_problems(r, policy.errors, policy.closures);
    // An include the caller cannot open is normal for an unprivileged user
    // (the per-user include idiom) and telling them would reveal which files
    // exist. Root can open everything, so for root it is a missing file.
    if (::getuid() == 0) {
        for (const auto& s : policy.skipped)
            r.warnings.push_back(s.where.str() + ": warning: include " + text::printable(s.path) +
                                 " skipped: " + std::strerror(s.error));
    }
    r.count = policy.rules.size();
    return r;
}

Result check_settings(const std::string& file, acl::Source& source, acl::Directory& directory) {
    Result r;
    r.file = file;
    r.settings = true;
    warn_unreadable(r, source, 004,
                    "users cannot all read it, so the helper refuses the requests of those who cannot "
                    "(it must be readable by every user: mode 0644)");
    settings::Settings s = settings::load(source, file, directory);
    add_problems(r, s.errors, s.closures);
    r.present = s.exists;
    r.count = s.scopes.size();
    return r;
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

// Problems on stderr, one a line; a summary a file on stdout.
void print_text(const Result& r) {
    for (const auto& w : r.warnings) std::fprintf(stderr, "%s\n", w.c_str());
    for (const auto& e : r.errors) {
        if (e.closure) std::fprintf(stderr, "%s (closes %s)\n", e.text.c_str(), e.closes.c_str());
        else std::fprintf(stderr, "%s\n", e.text.c_str());
    }
    const std::string file = text::printable(r.file);
    if (!r.errors.empty()) {
        const std::size_t n = r.errors.size();
        std::printf("%s: %zu error%s; the helper refuses %s until fixed\n", file.c_str(), n, n == 1 ? "" : "s",
                    r.refused.c_str());
    } else if (r.settings && !r.present) {
        std::printf("%s: not present, defaults apply\n", file.c_str());
    } else {
        const char* what = r.settings ? "section" : "rule";
        std::printf("%s: OK, %zu %s%s\n", file.c_str(), r.count, what, r.count == 1 ? "" : "s");
    }
}

void print_json(const std::vector<Result>& results) {
    json::Writer w(stdout);
    w.object().key("files").array();
    for (const auto& r : results) {
        w.object().key("file").value(r.file).key("kind").value(r.settings ? "tapgate.conf" : "bridge.conf");
        w.key("present").boolean(r.present).key("ok").boolean(r.errors.empty());
        w.key(r.settings ? "sections" : "rules").number(static_cast<std::int64_t>(r.count));
        w.key("errors").array();
        for (const auto& e : r.errors) w.object().key("message").value(e.text).key("closes").value(e.closes).end_object();
        w.end_array().key("warnings").array();
        for (const auto& s : r.warnings) w.value(s);
        w.end_array().key("refuses");
        r.refused.empty() ? w.null() : w.value(r.refused);
        w.end_object();
    }
    w.end_array().end_object();
}

}  // namespace

int run(const std::optional<std::string>& file, bool as_json) {
    acl::FileSystemSource source;
    identity::NssDirectory directory;
    std::vector<Result> results;
    if (file) {
        results.push_back(is_settings(*file, source) ? check_settings(*file, source, directory)
                                                     : check_acl(*file, source, directory));
    } else {
        results.push_back(check_acl(TAPGATE_ACL_FILE, source, directory));
        results.push_back(check_settings(TAPGATE_SETTINGS_FILE, source, directory));
    }
    if (as_json) print_json(results);
    else for (const auto& r : results) print_text(r);
    for (const auto& r : results)
        if (!r.errors.empty() || (!r.settings && !r.present)) return 1;
    return 0;
}

}  // namespace tapgate::check
