#include "identity.hpp"

#include <grp.h>
#include <pwd.h>

#include <cerrno>
#include <vector>

#include "error.hpp"

namespace tapgate::identity {

namespace {

// getpw*_r / getgr*_r want a caller-sized buffer and say ERANGE when it is
// too small (large LDAP groups).
template <typename Entry, typename Fn>
bool nss_get(Fn fn, Entry& entry, std::vector<char>& buf, const std::string& what) {
    buf.resize(4096);
    for (;;) {
        Entry* result = nullptr;
        int rc = fn(&entry, buf.data(), buf.size(), &result);
        if (rc == ERANGE && buf.size() < (1U << 24)) {
            buf.resize(buf.size() * 2);
            continue;
        }
        // "Not found" comes back as 0 or as one of these, depending on the
        // NSS module.
        if (rc == 0 || rc == ENOENT || rc == ESRCH || rc == EBADF || rc == EPERM)
            return result != nullptr;
        throw system_error("cannot look up " + what + " in the user database", rc);
    }
}

}  // namespace

std::optional<std::uint32_t> NssDirectory::user_id(const std::string& name) {
    passwd pw{};
    std::vector<char> buf;
    auto fn = [&](passwd* p, char* b, std::size_t n, passwd** r) {
        return ::getpwnam_r(name.c_str(), p, b, n, r);
    };
    if (!nss_get(fn, pw, buf, "user " + acl::printable(name))) return std::nullopt;
    return pw.pw_uid;
}

std::optional<std::uint32_t> NssDirectory::group_id(const std::string& name) {
    group gr{};
    std::vector<char> buf;
    auto fn = [&](group* g, char* b, std::size_t n, group** r) {
        return ::getgrnam_r(name.c_str(), g, b, n, r);
    };
    if (!nss_get(fn, gr, buf, "group " + acl::printable(name))) return std::nullopt;
    return gr.gr_gid;
}

acl::Caller lookup(uid_t uid, bool groups_too) {
    acl::Caller caller;
    caller.uid = uid;
    passwd pw{};
    std::vector<char> buf;
    auto fn = [&](passwd* p, char* b, std::size_t n, passwd** r) {
        return ::getpwuid_r(uid, p, b, n, r);
    };
    if (!nss_get(fn, pw, buf, "uid " + std::to_string(uid))) return caller;
    caller.name = pw.pw_name;
    if (!groups_too) return caller;
    std::vector<gid_t> groups(64);
    for (;;) {
        int n = static_cast<int>(groups.size());
        if (::getgrouplist(pw.pw_name, pw.pw_gid, groups.data(), &n) >= 0) {
            groups.resize(static_cast<std::size_t>(n));
            break;
        }
        if (n <= static_cast<int>(groups.size())) throw Error("cannot list the groups of " + caller.name);
        groups.resize(static_cast<std::size_t>(n));
    }
    caller.gids.assign(groups.begin(), groups.end());
    return caller;
}

}  // namespace tapgate::identity
