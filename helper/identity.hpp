// SPDX-License-Identifier: GPL-2.0-or-later
// Who the caller is, from the user database (NSS: files, LDAP, SSSD...).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "acl.hpp"

namespace tapgate::identity {

// A user's passwd entry, as far as tapgate needs it.
struct Account {
    std::string name;  // as the database spells it
    std::uint32_t uid = 0;
    std::uint32_t gid = 0;  // primary group
};

// The entry of user `name`, or nullopt if the user database has none.
// Throws tapgate::Error if the database cannot be asked.
std::optional<Account> account(const std::string& name);

// Resolves the user and group names of bridge.conf rules and tapgate.conf
// sections, and keeps the member lists of the groups it resolved. Throws
// tapgate::Error if the database cannot be asked: a name that may exist
// must not read as one that does not.
class NssDirectory final : public acl::Directory {
public:
    std::optional<std::uint32_t> user_id(const std::string& name) override;
    std::optional<std::uint32_t> group_id(const std::string& name) override;
    const std::map<std::uint32_t, std::vector<std::string>>& members() const { return members_; }

private:
    std::map<std::uint32_t, std::vector<std::string>> members_;
};

// The caller's name and its memberships of the groups in `deciding` (all
// resolved through `groups` while the files were read), as the user
// database records them for `uid`: its primary group plus each of those it
// belongs to; when a member list alone cannot tell, every group
// getgrouplist() gives. With `deciding` empty no group is asked about
// (the name is for the audit log). A uid without a passwd entry gives a
// Caller with no name and no groups: user and group rules then do not
// apply to it. Throws tapgate::Error if the database cannot be asked.
acl::Caller lookup(uid_t uid, const NssDirectory& groups, const std::vector<std::uint32_t>& deciding);
// The name and every group getgrouplist() gives (for --explain); throws
// likewise.
acl::Caller lookup_all_groups(uid_t uid);

}  // namespace tapgate::identity
