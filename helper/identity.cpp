// SPDX-License-Identifier: GPL-2.0-or-later
#include "identity.hpp"

#include <grp.h>
#include <pwd.h>

#include <algorithm>
#include <cerrno>
#include <vector>

#include "error.hpp"
#include "text.hpp"

namespace tapgate::identity {

namespace {

// getpw*_r / getgr*_r want a caller-sized buffer and say ERANGE when it is
// too small (large LDAP groups). "Not found" is 0 with no entry. Any other
// code is a service that could not answer: glibc passes on the errno of an
// unavailable one (SSSD gives ENOENT while sssd is down). Read as "not
// found", it would make a directory user nobody, to whom no group rule
// applies, deny rules included.
template <typename Entry, typename Fn>
bool nss_get(Fn fn, Entry& entry, std::vector<char>& buf, const std::string& what,
             const char* database) {
    // sysconf(_SC_GETPW_R_SIZE_MAX) is 1024 on glibc; ERANGE grows it.
    buf.resize(1024);
    for (;;) {
        Entry* result = nullptr;
        int rc = fn(&entry, buf.data(), buf.size(), &result);
        if (rc == ERANGE && buf.size() < (1U << 24)) {
            buf.resize(buf.size() * 2);
            continue;
        }
        if (rc == 0) return result != nullptr;
        throw system_error("cannot look up " + what + " in the " + database + " database", rc);
    }
}

std::vector<std::uint32_t> group_list(const passwd& pw) {
    std::vector<gid_t> list(64);
    for (;;) {
        int n = static_cast<int>(list.size());
        if (::getgrouplist(pw.pw_name, pw.pw_gid, list.data(), &n) >= 0) {
            list.resize(static_cast<std::size_t>(n));
            break;
        }
        if (n <= static_cast<int>(list.size()))
            throw Error("cannot list the groups of " + std::string(pw.pw_name));
        list.resize(static_cast<std::size_t>(n));
    }
    return {list.begin(), list.end()};
}

}  // namespace

std::optional<Account> account(const std::string& name) {
    passwd pw{};
    std::vector<char> buf;
    auto fn = [&](passwd* p, char* b, std::size_t n, passwd** r) {
        return ::getpwnam_r(name.c_str(), p, b, n, r);
    };
    if (!nss_get(fn, pw, buf, "user \"" + text::printable(name) + "\"", "passwd")) return std::nullopt;
    return Account{pw.pw_name, pw.pw_uid, pw.pw_gid};
}

std::optional<std::uint32_t> NssDirectory::user_id(const std::string& name) {
    auto a = account(name);
    if (!a) return std::nullopt;
    return a->uid;
}

std::optional<std::uint32_t> NssDirectory::group_id(const std::string& name) {
    group gr{};
    std::vector<char> buf;
    auto fn = [&](group* g, char* b, std::size_t n, group** r) {
        return ::getgrnam_r(name.c_str(), g, b, n, r);
    };
    if (!nss_get(fn, gr, buf, "group \"" + text::printable(name) + "\"", "group")) return std::nullopt;
    std::vector<std::string>& members = members_[gr.gr_gid];
    for (char** m = gr.gr_mem; m && *m; ++m) members.emplace_back(*m);
    return gr.gr_gid;
}

namespace {

// The caller's uid and, if the user database knows it, its name; `pw` holds
// the entry (its strings in `buf`).
bool user_entry(uid_t uid, passwd& pw, std::vector<char>& buf, acl::Caller& caller) {
    caller.uid = uid;
    auto fn = [&](passwd* p, char* b, std::size_t n, passwd** r) {
        return ::getpwuid_r(uid, p, b, n, r);
    };
    if (!nss_get(fn, pw, buf, "uid " + std::to_string(uid), "passwd")) return false;
    caller.name = pw.pw_name;
    return true;
}

}  // namespace

acl::Caller lookup(uid_t uid, const NssDirectory& groups, const std::vector<std::uint32_t>& deciding) {
    acl::Caller caller;
    passwd pw{};
    std::vector<char> buf;
    if (!user_entry(uid, pw, buf, caller)) return caller;
    // The groups that can decide this request were looked up while the
    // files were read, members and all. When each of them lists the caller
    // (or is its primary group) that answers every question the policy can
    // ask. Otherwise getgrouplist() must decide: some databases (SSSD with
    // ignore_group_members, nested LDAP groups) know memberships only that
    // way, and it asks every service in nsswitch.conf (with "systemd",
    // loading libnss_systemd), which costs more than the whole request.
    // Unlike the lookups above, it passes over a service that cannot answer
    // without a word (glibc), so what only it knows can be missing then;
    // bridge.conf(5) tells admins which denies hold regardless.
    caller.gids.push_back(pw.pw_gid);
    for (std::uint32_t gid : deciding) {
        if (gid == pw.pw_gid) continue;
        auto it = groups.members().find(gid);
        if (it == groups.members().end() ||
            std::find(it->second.begin(), it->second.end(), caller.name) == it->second.end()) {
            caller.gids = group_list(pw);
            break;
        }
        caller.gids.push_back(gid);
    }
    return caller;
}

acl::Caller lookup_all_groups(uid_t uid) {
    acl::Caller caller;
    passwd pw{};
    std::vector<char> buf;
    if (user_entry(uid, pw, buf, caller)) caller.gids = group_list(pw);
    return caller;
}

}  // namespace tapgate::identity
