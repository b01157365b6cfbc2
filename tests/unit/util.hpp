// SPDX-License-Identifier: GPL-2.0-or-later
// Helpers shared by the ACL unit tests.
#pragma once

#include <sys/types.h>

#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "acl.hpp"

namespace tapgate::test {

inline constexpr const char* main_conf = "/etc/qemu/bridge.conf";

// Loads `files` (absolute path -> content) from memory, starting at `main`.
acl::Policy load_memory(const std::map<std::string, std::string>& files,
                        const std::string& main = main_conf);

// Shorthand for a policy that is only the main file.
acl::Policy load_text(const std::string& text);

// "allow br0 @FILE:LINE" for each rule, in order: compact to compare.
std::vector<std::string> rule_list(const acl::Policy& policy);

// Diagnostic::str() of every error, in order.
std::vector<std::string> error_list(const acl::Policy& policy);

// One-line summary of a policy, used to carry results out of child
// processes: errors, skipped includes and rules.
std::string summary(const acl::Policy& policy);

// Runs `fn` in a forked child and returns what it returned. With `uid`, the
// child first drops to that uid/gid (real, effective and saved) and no
// supplementary groups, as the real helper reads files. The child is killed
// after `timeout_s` seconds, and the result is then "TIMEOUT": a blocked
// open() must fail the test, not hang the suite.
std::string run_in_child(const std::function<std::string()>& fn,
                         std::optional<uid_t> uid = std::nullopt, unsigned timeout_s = 10);

// A root-owned 0755 directory under /tmp, removed (recursively) at the end.
class TempDir {
public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    const std::string& path() const { return path_; }
    std::string operator/(const std::string& name) const { return path_ + "/" + name; }

    // Writes a file and sets its owner and mode (both applied explicitly,
    // so the umask cannot change them).
    std::string write(const std::string& name, const std::string& text, mode_t mode = 0644,
                      uid_t uid = 0, gid_t gid = 0) const;
    std::string mkdir(const std::string& name, mode_t mode = 0755, uid_t uid = 0,
                      gid_t gid = 0) const;

private:
    std::string path_;
};

// A user database that cannot be asked (a service of nsswitch.conf down):
// every lookup throws, as the helper's NssDirectory does then.
struct DownDirectory final : acl::Directory {
    struct Down : std::runtime_error {
        Down() : std::runtime_error("user database down") {}
    };
    unsigned asked = 0;
    std::optional<std::uint32_t> user_id(const std::string&) override { ++asked; throw Down(); }
    std::optional<std::uint32_t> group_id(const std::string&) override { ++asked; throw Down(); }
};

// An unprivileged uid/gid with no entry in /etc/passwd.
inline constexpr uid_t nobody_uid = 4242;
inline constexpr gid_t nobody_gid = 4242;

bool running_as_root();

}  // namespace tapgate::test
