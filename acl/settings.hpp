// SPDX-License-Identifier: GPL-2.0-or-later
// tapgate.conf: per-bridge, per-group and per-user port settings (quota,
// VLAN, port flags, tap names, guest MAC ranges) and global logging
// settings. INI, parsed with inih. Pure: text in, settings and diagnostics
// out; names resolve through an acl::Directory.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "acl.hpp"

namespace tapgate::settings {

// Longest line inih (as Debian builds it) reads in one piece; longer lines
// are refused rather than split.
inline constexpr std::size_t max_line = 199;

// The source MAC addresses a guest may send from (guest_mac): those whose
// first `prefix` bits are `base`'s; the bits of `base` past the prefix are
// zero. A prefix of 0 is "any": no range, which lets a more specific
// section lift a range set in a less specific one.
struct MacRange {
    using Mac = std::array<std::uint8_t, 6>;
    Mac base{};
    unsigned prefix = 0;

    bool any() const { return prefix == 0; }
    Mac mask() const;
    Mac last() const;         // the highest address in the range
    std::string str() const;  // "52:54:00:12:34:00/40", or "any"
};

// "52:54:00:12:34:56".
std::string mac_text(const MacRange::Mac& mac);

// The per-port values; unset keys fall through to the less specific scope.
struct Port {
    std::optional<unsigned> quota;          // taps per user on the bridge
    std::optional<std::uint16_t> vlan;      // PVID, untagged
    std::optional<bool> isolated, hairpin, learning, unicast_flood, multicast_flood,
        broadcast_flood, bpdu_guard, root_block, neigh_suppress;
    std::optional<std::string> name;        // tap name template
    std::optional<MacRange> guest_mac;      // source MACs the guest may use
};

// The yes/no port keys: their names in tapgate.conf and where Port keeps
// them. One list for the parser, the precedence merge, --explain and
// port::any (port::configure maps each to its kernel attribute).
struct PortFlag {
    const char* key;
    std::optional<bool> Port::*member;
};
inline constexpr PortFlag port_flags[] = {
    {"isolated", &Port::isolated},           {"hairpin", &Port::hairpin},
    {"learning", &Port::learning},           {"unicast_flood", &Port::unicast_flood},
    {"multicast_flood", &Port::multicast_flood}, {"broadcast_flood", &Port::broadcast_flood},
    {"bpdu_guard", &Port::bpdu_guard},       {"root_block", &Port::root_block},
    {"neigh_suppress", &Port::neigh_suppress},
};

// Where a section applies, from least to most specific.
enum class ScopeKind { defaults, bridge, group, user };

struct Scope {
    ScopeKind kind = ScopeKind::defaults;
    std::string bridge;     // for bridge, group and user scopes
    acl::Principal who;     // for group and user scopes
    acl::Location where;    // the section header
    Port port;
    // group_quota, in [bridge B group G] sections only: taps the group's
    // members may hold on the bridge together. Not a port key: it does not
    // take part in the precedence of the others.
    std::optional<unsigned> group_quota;
    std::map<std::string, acl::Location> origin;  // key -> where it was set
};

struct Settings {
    std::string file;
    bool exists = false;        // a missing file means defaults
    bool syslog = true;
    // syslog = required: a request whose grant cannot be logged is refused.
    bool syslog_required = false;
    std::string facility = "authpriv";
    std::vector<Scope> scopes;  // in file order
    std::vector<acl::Diagnostic> errors;
    // Sections for a user or group the user database does not know: each
    // closes its bridge only.
    std::vector<acl::Closure> closures;

    // Any error refuses every request.
    bool ok() const { return errors.empty(); }
    // The first closure of `bridge`, and how many there are.
    std::pair<const acl::Closure*, std::size_t> closed(std::string_view bridge) const;
};

// The settings in force for one request, each with where it came from
// (empty location: built-in default).
struct Effective {
    Port port;
    // Every group total that applies: one for each group of the caller
    // whose section for the bridge sets group_quota, by gid.
    struct GroupQuota {
        std::uint32_t gid = 0;
        std::string group;
        unsigned limit = 0;
        acl::Location where;
    };
    std::vector<GroupQuota> group_quotas;
    std::map<std::string, acl::Location> origin;
    std::string name_template() const { return port.name.value_or("tap%d"); }
};

// Reads `file` through `source` (vetted like the ACL) and parses it. A
// missing file gives the defaults; one the caller cannot read is an error
// (tapgate.conf must be readable by every user of the helper).
Settings load(acl::Source& source, const std::string& file, acl::Directory& directory);

// Parses `text` (the content of `file`). What `directory` throws goes
// through, as from acl::load.
Settings parse(std::string_view text, const std::string& file, acl::Directory& directory);

// Most specific wins, key by key: a [bridge B user U] section over the
// [bridge B group G] sections the caller is in (the first of them in file
// order that sets the key), over [bridge B], over [defaults].
Effective resolve(const Settings& settings, std::string_view bridge, const acl::Caller& caller);

// The groups that can change `bridge`'s settings: those of its group
// sections (the helper asks the user database about these only).
std::vector<std::uint32_t> groups_deciding(const Settings& settings, std::string_view bridge);

// The tap name for a template: %u is the user name (characters an
// interface name cannot hold become '_', cut to fit), %i the uid, and %d
// is left for the kernel, which picks the lowest free number.
std::string expand_name(const std::string& tmpl, const acl::Caller& caller);

// Syslog facility code for a facility name, or nullopt.
std::optional<int> facility_code(std::string_view name);

}  // namespace tapgate::settings
