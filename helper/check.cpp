#include "check.hpp"

#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "acl.hpp"
#include "config.h"
#include "identity.hpp"
#include "settings.hpp"
#include "text.hpp"

namespace tapgate::check {

namespace {

int summary(const std::string& file, std::size_t errors, const std::string& ok_text) {
    if (errors) {
        std::printf("%s: %zu error%s; the helper refuses every bridge until fixed\n",
                    text::printable(file).c_str(), errors, errors == 1 ? "" : "s");
        return 1;
    }
    std::printf("%s: OK, %s\n", text::printable(file).c_str(), ok_text.c_str());
    return 0;
}

int check_acl(const std::string& file, acl::Source& source, acl::Directory& directory) {
    acl::Policy policy = acl::load(source, file, &directory);
    for (const auto& d : policy.errors) std::fprintf(stderr, "%s\n", d.str().c_str());
    // An include the caller cannot open is normal for an unprivileged user
    // (the per-user include idiom) and telling them would reveal which files
    // exist. Root can open everything, so for root it is a missing file.
    if (::getuid() == 0) {
        for (const auto& s : policy.skipped)
            std::fprintf(stderr, "%s: warning: include %s skipped: %s\n", s.where.str().c_str(),
                         text::printable(s.path).c_str(), std::strerror(s.error));
    }
    auto n = policy.rules.size();
    return summary(file, policy.errors.size(), std::to_string(n) + (n == 1 ? " rule" : " rules"));
}

int check_settings(const std::string& file, acl::Source& source, acl::Directory& directory) {
    settings::Settings s = settings::load(source, file, directory);
    for (const auto& d : s.errors) std::fprintf(stderr, "%s\n", d.str().c_str());
    if (!s.exists && s.ok()) {
        std::printf("%s: not present, defaults apply\n", text::printable(file).c_str());
        return 0;
    }
    auto n = s.scopes.size();
    return summary(file, s.errors.size(), std::to_string(n) + (n == 1 ? " section" : " sections"));
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
