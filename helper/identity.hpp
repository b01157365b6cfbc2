// Who the caller is, from the user database (NSS: files, LDAP, SSSD...).
#pragma once

#include <sys/types.h>

#include "acl.hpp"

namespace tapgate::identity {

// Resolves the user and group names of bridge.conf rules.
class NssDirectory final : public acl::Directory {
public:
    std::optional<std::uint32_t> user_id(const std::string& name) override;
    std::optional<std::uint32_t> group_id(const std::string& name) override;
};

// The caller's name and group memberships as the user database records
// them for `uid` (primary group and getgrouplist()). A uid without a
// passwd entry gives a Caller with no name and no groups: user and group
// rules then do not apply to it. Throws tapgate::Error if the database
// cannot be asked.
// With `groups` false only the name is looked up (for the audit log), not
// the memberships.
acl::Caller lookup(uid_t uid, bool groups = true);

}  // namespace tapgate::identity
