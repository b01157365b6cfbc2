// SPDX-License-Identifier: GPL-2.0-or-later
// tapgate ACL engine: reads bridge.conf (qemu-bridge-helper's syntax) and
// decides whether a bridge may be used. Pure library: no privileges, no
// network; it only reads the files it is asked to, as the calling process.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tapgate::acl {

// Include nesting deeper than this is an error (the reference recurses until
// it runs out of fds or stack).
inline constexpr int max_include_depth = 8;

// Include lines followed in one load, all files together. The depth limit
// alone does not bound the work: a file that includes the next one twice,
// eight levels down, is read 2^8 times, and a few more lines per file make
// that billions.
inline constexpr std::size_t max_includes = 1024;

// Linux IFNAMSIZ - 1.
inline constexpr std::size_t max_ifname_length = 15;

struct Location {
    std::string file;
    unsigned line = 0;  // 0: the file as a whole

    std::string str() const;  // "FILE:LINE" or "FILE"
};

struct Diagnostic {
    Location where;
    std::string message;

    std::string str() const;  // "FILE:LINE: message"
};

enum class Action { allow, deny };

// Who is asking. Group membership comes from the user database (NSS) for the
// caller's user name, never from the process's current groups: a user can
// shed a supplementary group inside a user namespace, so those are no basis
// for a deny.
struct Caller {
    static constexpr std::uint32_t no_id = UINT32_MAX;
    std::uint32_t uid = no_id;
    std::string name;                 // empty: unknown to the user database
    std::vector<std::uint32_t> gids;  // primary and supplementary, from NSS
};

// Resolves the names in user and group qualifiers. acl/ makes no lookups of
// its own (NSS may reach the network): the helper supplies NSS, tests a map.
// nullopt means the name does not exist; a directory that cannot tell
// throws, and load() (and tapgate's settings parser) let that through.
class Directory {
public:
    virtual ~Directory() = default;
    virtual std::optional<std::uint32_t> user_id(const std::string& name) = 0;
    virtual std::optional<std::uint32_t> group_id(const std::string& name) = 0;
};

class MemoryDirectory final : public Directory {
public:
    std::map<std::string, std::uint32_t> users, groups;
    std::optional<std::uint32_t> user_id(const std::string& name) override;
    std::optional<std::uint32_t> group_id(const std::string& name) override;
};

struct Principal {
    std::string name;
    std::uint32_t id = 0;
};

struct Rule {
    Action action = Action::deny;
    bool all = false;    // "allow all" / "deny all"
    std::string bridge;  // empty when all
    Location where;
    // tapgate's extension: "allow br0 user alice,bob group lab". A rule with
    // qualifiers applies to the listed users and to members of the listed
    // groups (either); a rule without applies to everyone.
    std::vector<Principal> users;
    std::vector<Principal> groups;

    bool qualified() const { return !users.empty() || !groups.empty(); }
    bool applies_to(const Caller& caller) const;
    bool matches(std::string_view requested_bridge, const Caller& caller) const;
    // The rule as written, normalised: "deny all", "allow br0 user alice group lab".
    std::string text() const;
};

// An include that could not be opened by the caller. Skipped silently in a
// normal run, as qemu-bridge-helper does: telling the caller would reveal
// which files exist. Reported by --check when run by root.
struct SkippedInclude {
    Location where;    // the include line
    std::string path;  // resolved path
    int error = 0;     // errno from open()
};

// An error that closes some bridges only: a user or group name that the
// user database does not know. The rule (or settings section) it stands in
// cannot be judged, and neither can any request it could decide: those for
// its bridge, or for every bridge when it is about all of them. A user
// database that cannot answer is another matter: it throws, and refuses
// everything.
struct Closure {
    Diagnostic error;
    bool all = false;
    std::string bridge;  // when not all

    bool closes(std::string_view b) const { return all || bridge == b; }
    // "bridge br2" or "every bridge", for messages.
    std::string what() const;
};

struct Policy {
    std::string main_file;
    std::vector<Rule> rules;  // in file order, includes expanded in place
    std::vector<Diagnostic> errors;
    std::vector<Closure> closures;
    std::vector<SkippedInclude> skipped;
    std::size_t includes = 0;  // include lines followed, against max_includes

    // Any error fails closed: an erroneous policy allows nothing. A closure
    // only closes what its rule could decide (decide() sees to that).
    bool ok() const { return errors.empty(); }
    // Whether any rule names users or groups.
    bool qualified() const {
        for (const Rule& r : rules)
            if (r.qualified()) return true;
        return false;
    }
};

struct Decision {
    bool allowed = false;
    // The deciding rule: the first matching deny if any, else the first
    // matching allow. Empty when no rule matched (default deny) or when
    // the policy had errors.
    std::optional<Rule> rule;
    // Set when the policy could not be used at all.
    std::optional<Diagnostic> policy_error;
    std::size_t policy_error_count = 0;

    // One line for the user, e.g.
    // "access to bridge br1 denied by /etc/qemu/bridge.conf:4 (deny all)".
    std::string explain(std::string_view bridge, std::string_view main_file) const;
};

Decision decide(const Policy& policy, std::string_view bridge, const Caller& caller);
// For an anonymous caller: rules with user or group qualifiers never apply.
Decision decide(const Policy& policy, std::string_view bridge);

// The groups whose membership can change a decision about `bridge`: those
// named by rules for that bridge or for all. (The helper asks the user
// database about these only.)
std::vector<std::uint32_t> groups_deciding(const Policy& policy, std::string_view bridge);

// What a kernel interface name may be (dev_valid_name): 1..15 bytes, not
// "." or "..", no '/', ':' or whitespace. Returns the reason it is not valid.
std::optional<std::string> invalid_interface_name(std::string_view name);

// --- reading files -------------------------------------------------------

struct FileContent {
    enum class Status {
        ok,
        not_accessible,  // missing or not readable for the caller (ENOENT, EACCES, ...)
        refused,         // opened, but failed vetting or could not be read
    };
    Status status = Status::ok;
    std::string text;
    // Identity for cycle detection: (device, inode) for real files.
    std::pair<std::uint64_t, std::uint64_t> id{0, 0};
    int error = 0;       // errno for not_accessible
    std::string reason;  // for refused: "owned by uid 1000, not root"
    std::uint32_t mode = 0644;  // permission bits of the file read
};

// Where files come from. The real one opens and vets files; tests and the
// fuzzer supply files from memory.
class Source {
public:
    virtual ~Source() = default;
    virtual FileContent read(const std::string& path) = 0;
};

// Opens as the calling process, walking the path one component at a time
// from "/" with each directory held open, and vets what it walks:
//  - every directory entered (including through "..") owned by root and
//    not writable by group or others unless sticky, and every symbolic
//    link followed owned by root, so nobody else can swap the file;
//  - nothing on a pseudo file system (/proc, /sys, ...), whose files look
//    root-owned while their content may come from the caller;
//  - the file itself a regular file, owned by root, not writable by group
//    or others, opened O_NONBLOCK (a FIFO cannot hang the helper), vetted
//    through the open fd and read from it.
// A file is not_accessible only when the walk reached it (or the component
// that is missing or not searchable) through vetted directories alone; a
// file that exists but cannot be opened must also pass the file checks.
class FileSystemSource final : public Source {
public:
    FileContent read(const std::string& path) override;
};

// Files held in memory, keyed by absolute path. Identity is the path.
class MemorySource final : public Source {
public:
    std::map<std::string, std::string> files;
    FileContent read(const std::string& path) override;
};

// Reads and parses the main file and everything it includes. Names in user
// and group qualifiers are resolved through `directory`; without one, such
// rules are errors.
Policy load(Source& source, const std::string& main_file, Directory* directory = nullptr);

// Parses text already read (used by load, and by the fuzzer directly).
// Includes are resolved through `source`; `depth` is the nesting level of
// this file (0 for the main file); `stack` holds the identities of the files
// being read, to catch cycles.
void parse_text(Source& source, std::string_view text, const std::string& file,
                int depth, std::vector<std::pair<std::uint64_t, std::uint64_t>>& stack,
                Policy& out, Directory* directory = nullptr);

// Directory part of a path, for resolving relative includes: "/a/b" -> "/a".
std::string directory_of(const std::string& path);
// Joins a relative include path onto a directory; absolute paths unchanged.
std::string resolve_include(const std::string& including_file, const std::string& path);

}  // namespace tapgate::acl
