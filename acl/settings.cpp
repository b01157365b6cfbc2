// SPDX-License-Identifier: GPL-2.0-or-later
#include "settings.hpp"
#include "text.hpp"

#include <ini.h>
#include <syslog.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <exception>

namespace tapgate::settings {

namespace {

// Digits kept free for the kernel's %d: 9999 taps of one name prefix.
constexpr std::size_t counter_room = 4;

std::optional<bool> parse_bool(std::string_view v) {
    for (const char* t : {"yes", "true", "on", "1"})
        if (v == t) return true;
    for (const char* f : {"no", "false", "off", "0"})
        if (v == f) return false;
    return std::nullopt;
}

std::optional<unsigned> parse_number(std::string_view v, unsigned lo, unsigned hi) {
    unsigned n = 0;
    auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (v.empty() || ec != std::errc() || ptr != v.data() + v.size() || n < lo || n > hi)
        return std::nullopt;
    return n;
}

// Why a tap name template cannot work, or nullopt.
std::optional<std::string> bad_template(std::string_view t) {
    std::size_t fixed = 0;
    int d = 0, u = 0, i = 0;
    for (std::size_t k = 0; k < t.size(); ++k) {
        char c = t[k];
        if (c == '%') {
            char next = k + 1 < t.size() ? t[k + 1] : '\0';
            ++k;
            if (next == 'd') ++d;
            else if (next == 'u') ++u;
            else if (next == 'i') ++i, fixed += 10;
            else return "unknown escape \"%" + std::string(next ? 1 : 0, next) + "\" (use %u, %i and %d)";
            continue;
        }
        if (c == '/' || c == ':' || text::is_blank(c) || c == '\n' || c == '\0')
            return "contains a character an interface name cannot hold";
        ++fixed;
    }
    if (d != 1) return "needs exactly one %d (the kernel's counter keeps names unique)";
    if (u > 1 || i > 1) return "%u and %i may appear once each";
    if (fixed + counter_room + (u ? 1 : 0) > acl::max_ifname_length)
        return "too long: the name must fit in " + std::to_string(acl::max_ifname_length) +
               " characters with a uid of 10 digits, a counter of " + std::to_string(counter_room) +
               (u ? " and at least one character of the user name" : "");
    return std::nullopt;
}

// Six bytes written as two hex digits each, separated by colons.
std::optional<MacRange::Mac> parse_mac(std::string_view v) {
    MacRange::Mac mac{};
    if (v.size() != 17) return std::nullopt;
    for (std::size_t i = 0; i < mac.size(); ++i) {
        const char* at = v.data() + 3 * i;
        if (i > 0 && at[-1] != ':') return std::nullopt;
        unsigned byte = 0;
        auto [ptr, ec] = std::from_chars(at, at + 2, byte, 16);
        if (ec != std::errc() || ptr != at + 2) return std::nullopt;
        mac[i] = static_cast<std::uint8_t>(byte);
    }
    return mac;
}

std::uint64_t as_number(const MacRange::Mac& mac) {
    std::uint64_t n = 0;
    for (std::uint8_t b : mac) n = n << 8 | b;
    return n;
}

MacRange::Mac from_number(std::uint64_t n) {
    MacRange::Mac mac{};
    for (std::size_t i = mac.size(); i-- > 0; n >>= 8) mac[i] = static_cast<std::uint8_t>(n);
    return mac;
}

constexpr std::uint64_t all_48 = (std::uint64_t{1} << 48) - 1;

std::uint64_t prefix_mask(unsigned prefix) {
    return prefix == 0 ? 0 : all_48 & ~((std::uint64_t{1} << (48 - prefix)) - 1);
}

// A guest_mac value into `out`; why it is not one, or nullopt.
std::optional<std::string> parse_mac_range(std::string_view v, MacRange& out) {
    const std::string want =
        "expected a MAC address range such as 52:54:00:12:34:00/40 or 52:54:00:12:34:00/ff:ff:ff:ff:ff:00, "
        "one address, or any";
    if (v == "any") {
        out = {};
        return std::nullopt;
    }
    const auto slash = v.find('/');
    const auto base = parse_mac(v.substr(0, slash));
    if (!base) return want;
    unsigned prefix = 48;
    if (slash != std::string_view::npos) {
        const std::string_view after = v.substr(slash + 1);
        if (auto mask = parse_mac(after)) {
            // Ones, then zeros: a flower key could take any mask, but a range
            // with holes in it is almost always a typing error.
            const std::uint64_t hosts = ~as_number(*mask) & all_48;
            if ((hosts & (hosts + 1)) != 0)
                return "the mask " + std::string(after) + " is not a prefix (ones, then zeros)";
            prefix = 48;
            for (std::uint64_t h = hosts; h; h >>= 1) --prefix;
        } else if (auto n = parse_number(after, 0, 48)) {
            prefix = *n;
        } else {
            return want;
        }
    }
    // The multicast bit is the last of the first byte: a shorter prefix
    // leaves it open, and no guest sends from a multicast address.
    if (prefix < 8) return "a prefix shorter than 8 bits takes in multicast addresses (use 8 to 48, or any)";
    if ((*base)[0] & 1)
        return mac_text(*base) + " is a multicast address; a guest's own address is unicast (an even first byte)";
    const std::uint64_t n = as_number(*base);
    if (n & ~prefix_mask(prefix))
        return "bits set past the prefix /" + std::to_string(prefix) + " (did you mean " +
               mac_text(from_number(n & prefix_mask(prefix))) + "/" + std::to_string(prefix) + "?)";
    if (n == 0 && prefix == 48) return "00:00:00:00:00:00 is no station's address";
    out.base = *base;
    out.prefix = prefix;
    return std::nullopt;
}

struct Parser {
    const std::string& file;
    acl::Directory& directory;
    Settings& out;
    std::string_view rest;  // text not yet handed to inih
    unsigned line = 0;      // number of the line inih is working on
    bool in_global = false;
    // False after a bad header: its keys are skipped. True outside
    // [global] means the section is the last of out.scopes.
    bool section_ok = false;
    std::map<std::string, unsigned> seen_in_section;
    std::string section_text;  // inside the brackets of the last header
    // What header() or key() threw (a user database that cannot be asked):
    // nothing may unwind through inih's C frames, so it waits here, inih is
    // stopped, and parse() throws it once inih has returned.
    std::exception_ptr failure;

    template <typename Fn>
    void guarded(Fn fn) {
        try {
            fn();
        } catch (...) {
            failure = std::current_exception();
        }
    }

    void error(std::string message, unsigned at = 0) {
        out.errors.push_back({{file, at ? at : line}, std::move(message)});
    }

    // Section headers are checked here, as inih hands us the line: inih
    // would not tell us about a section without keys.
    void header(std::string_view text) {
        auto close = text.find(']');
        if (close == std::string_view::npos) return;  // inih reports it
        section_text = std::string(text.substr(1, close - 1));
        seen_in_section.clear();
        in_global = false;
        section_ok = false;
        // inih ignores whatever follows ']', so "[bridge br0] user root"
        // would silently be [bridge br0] for everybody.
        if (std::string_view after = text::trim(text.substr(close + 1));
            !after.empty() && after.front() != ';' && after.front() != '#') {
            error("text after the section header [" + text::printable(section_text) + "]: \"" +
                  text::printable(after) + "\" (only a comment may follow)");
            return;
        }
        auto w = text::split_words(text.substr(1, close - 1));
        if (w.size() == 1 && w[0] == "global") {
            in_global = true;
            section_ok = true;
            return;
        }
        Scope s;
        s.where = {file, line};
        if (w.size() == 1 && w[0] == "defaults") {
            s.kind = ScopeKind::defaults;
        } else if ((w.size() == 2 || w.size() == 4) && w[0] == "bridge") {
            if (auto why = acl::invalid_interface_name(w[1])) {
                error("[bridge " + text::printable(w[1]) + "]: not a bridge name: " + *why);
                return;
            }
            s.kind = ScopeKind::bridge;
            s.bridge = std::string(w[1]);
            if (w.size() == 4) {
                bool user = w[2] == "user";
                if (!user && w[2] != "group") {
                    error("section [" + text::printable(text.substr(1, close - 1)) +
                          "]: expected \"user NAME\" or \"group NAME\" after the bridge");
                    return;
                }
                std::string name(w[3]);
                auto id = user ? directory.user_id(name) : directory.group_id(name);
                if (!id) {
                    // Only the section's bridge is closed.
                    out.closures.push_back({{{file, line}, std::string("unknown ") + (user ? "user" : "group") +
                                                               " \"" + text::printable(name) + "\""},
                                            false,
                                            s.bridge});
                    return;
                }
                s.kind = user ? ScopeKind::user : ScopeKind::group;
                s.who = {name, *id};
            }
        } else {
            error("unknown section [" + text::printable(text.substr(1, close - 1)) +
                  "] (expected [global], [defaults], [bridge NAME], [bridge NAME user USER] or "
                  "[bridge NAME group GROUP])");
            return;
        }
        for (const Scope& other : out.scopes) {
            if (other.kind == s.kind && other.bridge == s.bridge && other.who.name == s.who.name) {
                error("section repeats " + other.where.str());
                return;
            }
        }
        out.scopes.push_back(std::move(s));
        section_ok = true;
    }

    void key(const char* section, std::string_view name, std::string_view value) {
        // The sections are recognised here, from the raw lines, and by inih:
        // should the two ever disagree, fail rather than apply keys to the
        // wrong section.
        if (*section && section != section_text) {
            error("section [" + text::printable(section) + "] was not read as written");
            return;
        }
        if (!section_ok) {
            if (!*section) error("\"" + text::printable(name) + "\" outside any section");
            return;  // the bad header was reported already
        }
        std::string k(name);
        if (auto [it, fresh] = seen_in_section.emplace(k, line); !fresh) {
            error("\"" + text::printable(k) + "\" set twice in this section (also line " +
                  std::to_string(it->second) + "; an indented line continues the one before)");
            return;
        }
        auto bad = [&](const std::string& want) {
            error(text::printable(k) + " = \"" + text::printable(value) + "\": " + want);
        };
        if (in_global) {
            if (k == "syslog") {
                out.syslog_required = value == "required";
                if (out.syslog_required) out.syslog = true;
                else if (auto b = parse_bool(value)) out.syslog = *b;
                else bad("expected yes, no or required");
            } else if (k == "syslog_facility") {
                if (facility_code(value)) out.facility = std::string(value);
                else bad("expected auth, authpriv, daemon, user or local0 to local7");
            } else {
                error("unknown key \"" + text::printable(k) + "\" in [global] (expected syslog, "
                      "syslog_facility)");
            }
            return;
        }
        Scope& scope = out.scopes.back();
        Port& p = scope.port;
        const PortFlag* flag = nullptr;
        for (const PortFlag& f : port_flags)
            if (k == f.key) flag = &f;
        if (flag) {
            auto b = parse_bool(value);
            if (!b) return bad("expected yes or no");
            p.*(flag->member) = *b;
        } else if (k == "quota") {
            if (auto n = parse_number(value, 0, 1023)) p.quota = *n;
            else return bad("expected a number of taps from 0 to 1023");
        } else if (k == "vlan") {
            if (auto n = parse_number(value, 1, 4094)) p.vlan = static_cast<std::uint16_t>(*n);
            else return bad("expected a VLAN id from 1 to 4094");
        } else if (k == "name") {
            if (auto why = bad_template(value)) return bad(*why);
            p.name = std::string(value);
        } else if (k == "group_quota") {
            if (scope.kind != ScopeKind::group)
                return error("group_quota is for [bridge BRIDGE group GROUP] sections (a total for the group's "
                             "members)");
            if (auto n = parse_number(value, 0, 1023)) scope.group_quota = *n;
            else return bad("expected a number of taps from 0 to 1023");
        } else if (k == "guest_mac") {
            MacRange range;
            if (auto why = parse_mac_range(value, range)) return bad(*why);
            p.guest_mac = range;
        } else {
            std::string keys = "quota, group_quota, vlan, name, guest_mac";
            for (std::size_t i = 0; i < std::size(port_flags); ++i)
                keys += (i + 1 == std::size(port_flags) ? " or " : ", ") + std::string(port_flags[i].key);
            return error("unknown key \"" + text::printable(k) + "\" (expected " + keys + ")");
        }
        scope.origin[k] = {file, line};
    }

    // fgets() for inih over the text, one line at a time, counting lines.
    static char* reader(char* buf, int size, void* self) {
        auto* p = static_cast<Parser*>(self);
        if (p->failure || p->rest.empty()) return nullptr;
        auto nl = p->rest.find('\n');
        std::size_t len = nl == std::string_view::npos ? p->rest.size() : nl + 1;
        std::string_view text = p->rest.substr(0, len);
        p->rest.remove_prefix(len);
        ++p->line;
        // Lines were checked against max_line before parsing began.
        std::size_t n = std::min(len, static_cast<std::size_t>(size - 1));
        std::memcpy(buf, text.data(), n);
        buf[n] = '\0';
        std::string_view body = text::trim(text.substr(0, text.find('\n')));
        if (!body.empty() && body.front() == '[') p->guarded([&] { p->header(body); });
        return p->failure ? nullptr : buf;
    }

    static int handler(void* self, const char* section, const char* name, const char* value) {
        auto* p = static_cast<Parser*>(self);
        p->guarded([&] { p->key(section, name, value ? value : ""); });
        return 1;  // errors are collected here; keep inih going (or the reader stops it)
    }
};

}  // namespace

MacRange::Mac MacRange::mask() const { return from_number(prefix_mask(prefix)); }

MacRange::Mac MacRange::last() const { return from_number(as_number(base) | (~prefix_mask(prefix) & all_48)); }

std::string MacRange::str() const {
    return any() ? "any" : mac_text(base) + "/" + std::to_string(prefix);
}

std::string mac_text(const MacRange::Mac& mac) {
    static constexpr char hex[] = "0123456789abcdef";
    std::string s;
    for (std::uint8_t b : mac) {
        if (!s.empty()) s += ':';
        s += hex[b >> 4];
        s += hex[b & 15];
    }
    return s;
}

std::pair<const acl::Closure*, std::size_t> Settings::closed(std::string_view bridge) const {
    const acl::Closure* first = nullptr;
    std::size_t n = 0;
    for (const acl::Closure& c : closures) {
        if (!c.closes(bridge)) continue;
        if (!first) first = &c;
        ++n;
    }
    return {first, n};
}

std::optional<int> facility_code(std::string_view name) {
    static const std::pair<const char*, int> codes[] = {
        {"auth", LOG_AUTH},     {"authpriv", LOG_AUTHPRIV}, {"daemon", LOG_DAEMON},
        {"user", LOG_USER},     {"local0", LOG_LOCAL0},     {"local1", LOG_LOCAL1},
        {"local2", LOG_LOCAL2}, {"local3", LOG_LOCAL3},     {"local4", LOG_LOCAL4},
        {"local5", LOG_LOCAL5}, {"local6", LOG_LOCAL6},     {"local7", LOG_LOCAL7},
    };
    for (const auto& [n, c] : codes)
        if (name == n) return c;
    return std::nullopt;
}

Settings load(acl::Source& source, const std::string& file, acl::Directory& directory) {
    acl::FileContent c = source.read(file);
    switch (c.status) {
    case acl::FileContent::Status::ok:
        return parse(c.text, file, directory);
    case acl::FileContent::Status::not_accessible:
        if (c.error == ENOENT) {
            Settings defaults;
            defaults.file = file;
            return defaults;
        }
        break;
    case acl::FileContent::Status::refused:
        break;
    }
    Settings bad;
    bad.file = file;
    bad.exists = true;
    bad.errors.push_back({{file, 0}, c.status == acl::FileContent::Status::refused
                                         ? c.reason
                                         : std::string("cannot open: ") + std::strerror(c.error) +
                                               " (it must be readable by every user)"});
    return bad;
}

Settings parse(std::string_view text, const std::string& file, acl::Directory& directory) {
    Settings out;
    out.file = file;
    out.exists = true;
    // inih stops at a NUL and splits long lines: refuse both up front.
    unsigned n = 0;
    for (std::string_view rest = text; !rest.empty();) {
        ++n;
        auto nl = rest.find('\n');
        std::string_view line = rest.substr(0, nl);
        rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
        if (line.find('\0') != std::string_view::npos)
            out.errors.push_back({{file, n}, "NUL byte in line"});
        else if (line.size() > max_line)
            out.errors.push_back({{file, n}, "line longer than " + std::to_string(max_line) +
                                                 " characters"});
    }
    if (!out.ok()) return out;

    // inih skips a UTF-8 byte order mark; so must the header check, or the
    // first section's keys would be dropped without a word.
    if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
    Parser p{file, directory, out, text, 0, false, false, {}, {}, {}};
    int rc = ini_parse_stream(&Parser::reader, &p, &Parser::handler, &p);
    if (p.failure) std::rethrow_exception(p.failure);
    if (rc > 0) {
        // inih names only the first line it could not parse.
        out.errors.push_back({{file, static_cast<unsigned>(rc)},
                              "syntax error (expected [section], key = value, or a comment)"});
    } else if (rc < 0) {
        out.errors.push_back({{file, 0}, "cannot parse (out of memory)"});
    }
    std::sort(out.errors.begin(), out.errors.end(),
              [](const acl::Diagnostic& a, const acl::Diagnostic& b) { return a.where.line < b.where.line; });
    return out;
}

namespace {

template <typename T>
void take(std::optional<T>& into, const std::optional<T>& from, const char* key,
          std::map<std::string, acl::Location>& origin, const Scope& s) {
    if (into || !from) return;
    into = from;
    origin[key] = s.origin.at(key);
}

void merge(Effective& e, const Scope& s) {
    take(e.port.quota, s.port.quota, "quota", e.origin, s);
    take(e.port.vlan, s.port.vlan, "vlan", e.origin, s);
    for (const PortFlag& f : port_flags) take(e.port.*f.member, s.port.*f.member, f.key, e.origin, s);
    take(e.port.name, s.port.name, "name", e.origin, s);
    take(e.port.guest_mac, s.port.guest_mac, "guest_mac", e.origin, s);
}

bool member(const acl::Caller& c, std::uint32_t gid) {
    return std::find(c.gids.begin(), c.gids.end(), gid) != c.gids.end();
}

}  // namespace

Effective resolve(const Settings& settings, std::string_view bridge, const acl::Caller& caller) {
    Effective e;
    // Most specific first: merge() only fills keys still unset.
    for (ScopeKind kind : {ScopeKind::user, ScopeKind::group, ScopeKind::bridge, ScopeKind::defaults}) {
        for (const Scope& s : settings.scopes) {
            if (s.kind != kind) continue;
            if (kind != ScopeKind::defaults && s.bridge != bridge) continue;
            if (kind == ScopeKind::user && (caller.uid == acl::Caller::no_id || s.who.id != caller.uid))
                continue;
            if (kind == ScopeKind::group && !member(caller, s.who.id)) continue;
            merge(e, s);
            if (kind == ScopeKind::group && s.group_quota)
                e.group_quotas.push_back({s.who.id, s.who.name, *s.group_quota, s.origin.at("group_quota")});
        }
    }
    std::sort(e.group_quotas.begin(), e.group_quotas.end(),
              [](const Effective::GroupQuota& a, const Effective::GroupQuota& b) { return a.gid < b.gid; });
    return e;
}

std::vector<std::uint32_t> groups_deciding(const Settings& settings, std::string_view bridge) {
    std::vector<std::uint32_t> gids;
    for (const Scope& s : settings.scopes)
        if (s.kind == ScopeKind::group && s.bridge == bridge) gids.push_back(s.who.id);
    return gids;
}

std::string expand_name(const std::string& tmpl, const acl::Caller& caller) {
    std::string uid = caller.uid == acl::Caller::no_id ? "x" : std::to_string(caller.uid);
    // Room for %u: whatever the rest leaves, keeping the counter's digits.
    std::size_t others = 0;
    for (std::size_t k = 0; k < tmpl.size(); ++k) {
        if (tmpl[k] != '%') { ++others; continue; }
        char c = tmpl[++k];
        others += c == 'i' ? uid.size() : c == 'd' ? counter_room : 0;
    }
    std::size_t room = acl::max_ifname_length > others ? acl::max_ifname_length - others : 0;
    std::string user = caller.name.empty() ? uid : caller.name;
    for (char& ch : user)
        if (ch == '/' || ch == ':' || ch == '%' || text::is_blank(ch) || ch == '\n' ||
            static_cast<unsigned char>(ch) < 0x20 || static_cast<unsigned char>(ch) >= 0x7f)
            ch = '_';
    user.resize(std::min(user.size(), room));
    std::string out;
    for (std::size_t k = 0; k < tmpl.size(); ++k) {
        if (tmpl[k] != '%') { out += tmpl[k]; continue; }
        char c = tmpl[++k];
        if (c == 'u') out += user;
        else if (c == 'i') out += uid;
        else out += "%d";
    }
    return out;
}

}  // namespace tapgate::settings
