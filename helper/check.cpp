#include "check.hpp"

#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "acl.hpp"
#include "identity.hpp"

namespace tapgate::check {

int run(const std::string& file) {
    acl::FileSystemSource source;
    identity::NssDirectory directory;
    acl::Policy policy = acl::load(source, file, &directory);
    for (const auto& d : policy.errors) std::fprintf(stderr, "%s\n", d.str().c_str());
    // An include the caller cannot open is normal for an unprivileged user
    // (the per-user include idiom) and telling them would reveal which files
    // exist. Root can open everything, so for root it is a missing file.
    if (::getuid() == 0) {
        for (const auto& s : policy.skipped)
            std::fprintf(stderr, "%s: warning: include %s skipped: %s\n", s.where.str().c_str(),
                         acl::printable(s.path).c_str(), std::strerror(s.error));
    }
    if (!policy.ok()) {
        std::printf("%s: %zu error%s; the helper refuses every bridge until fixed\n",
                    acl::printable(file).c_str(), policy.errors.size(),
                    policy.errors.size() == 1 ? "" : "s");
        return 1;
    }
    std::printf("%s: OK, %zu rule%s\n", acl::printable(file).c_str(), policy.rules.size(),
                policy.rules.size() == 1 ? "" : "s");
    return 0;
}

}  // namespace tapgate::check
