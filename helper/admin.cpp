// SPDX-License-Identifier: GPL-2.0-or-later
#include "admin.hpp"

#include <grp.h>
#include <net/if.h>
#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <memory>

#include "acl.hpp"
#include "audit.hpp"
#include "bridge.hpp"
#include "port.hpp"
#include "privileges.hpp"
#include "config.h"
#include "error.hpp"
#include "holders.hpp"
#include "identity.hpp"
#include "json.hpp"
#include "macfilter.hpp"
#include "netlink.hpp"
#include "quota.hpp"
#include "request.hpp"
#include "settings.hpp"
#include "text.hpp"

namespace tapgate::admin {

void become(const std::string& user) {
    if (::getuid() != 0) throw Error("--user needs root (it shows another user's view)");
    const auto account = identity::account(user);
    if (!account) throw Error("--user: unknown user \"" + text::printable(user) + "\"");
    // The groups the user's login would have, which is what decides which
    // per-user include files it can read.
    const acl::Caller login = identity::lookup_all_groups(account->uid);
    privileges::become({account->uid, account->gid, std::vector<gid_t>(login.gids.begin(), login.gids.end())},
                       false);
}

namespace {

std::string origin(const settings::Effective& e, const char* key) {
    auto it = e.origin.find(key);
    return it == e.origin.end() ? "default" : it->second.str();
}

// A setting's value for --explain: "yes", "3", "tap%d", or what an unset
// one means.
template <typename T>
std::string shown(const std::optional<T>& v, const char* unset) {
    if (!v) return unset;
    if constexpr (std::is_same_v<T, bool>) return *v ? "yes" : "no";
    else if constexpr (std::is_same_v<T, std::string>) return text::printable(*v);
    else return std::to_string(*v);
}

}  // namespace

namespace {

// What --explain finds, step by step, before it says it in text or JSON.
struct Explanation {
    acl::Caller user;  // with every group the user database gives
    std::vector<std::string> groups;
    std::string bridge;
    acl::Decision decision;
    std::string decision_text;
    std::vector<acl::Diagnostic> also;  // ACL errors beyond the first
    std::string settings_file;
    bool settings_present = false;
    std::vector<std::string> settings_errors;  // what makes every request (for the bridge) refused
    std::string settings_closes;               // "every bridge" or "bridge br2"
    struct Row {
        std::string key, value, origin;
    };
    std::vector<Row> settings;  // empty when settings errors stop it
    std::string guest_macs;     // "FIRST to LAST" when a guest MAC range applies
    std::string kernel_note;    // what --explain cannot tell about the kernel
    std::optional<unsigned> held;
    struct GroupTotal {
        settings::Effective::GroupQuota quota;
        std::optional<unsigned> held;  // when the bridge could be looked at
    };
    std::vector<GroupTotal> groups_held;
    std::optional<std::string> refusal;  // what a request would be refused with, after the settings
    bool granted = false;
};

Explanation gather(const std::string& bridge, const std::string& lock_problem) {
    Explanation x;
    x.bridge = bridge;
    request::Files files;
    const settings::Settings conf = request::read_settings(files);
    const request::Plan plan = request::plan(files, conf, bridge, ::getuid());
    // Every group the user database gives, for the reader; the decision
    // asked about those that can decide it, as a request does.
    x.user = identity::lookup_all_groups(::getuid());
    for (auto gid : x.user.gids) {
        group* g = ::getgrgid(gid);
        x.groups.push_back(g ? std::string(g->gr_name) : std::to_string(gid));
    }
    x.decision = plan.decision;
    x.decision_text = plan.decision.explain(bridge, TAPGATE_ACL_FILE);
    x.also.assign(plan.policy.errors.size() > 1 ? plan.policy.errors.begin() + 1 : plan.policy.errors.end(),
                  plan.policy.errors.end());
    x.settings_file = conf.file;
    x.settings_present = conf.exists;
    if (!conf.ok()) {
        for (const auto& e : conf.errors) x.settings_errors.push_back(e.str());
        x.settings_closes = "every bridge";
        return x;
    }
    if (auto [closure, n] = conf.closed(bridge); closure) {
        for (const acl::Closure& c : conf.closures)
            if (c.closes(bridge)) x.settings_errors.push_back(c.error.str());
        x.settings_closes = closure->what();
        return x;
    }
    const settings::Effective& e = plan.settings;
    x.settings.push_back({"quota", shown(e.port.quota, "none"), origin(e, "quota")});
    x.settings.push_back({"vlan", shown(e.port.vlan, "bridge's"), origin(e, "vlan")});
    x.settings.push_back({"name", shown(std::optional<std::string>(e.name_template()), ""), origin(e, "name")});
    const auto& range = e.port.guest_mac;
    x.settings.push_back({"guest_mac", range ? range->str() : "any", origin(e, "guest_mac")});
    for (const settings::PortFlag& f : settings::port_flags)
        x.settings.push_back({f.key, shown(e.port.*f.member, "bridge's"), origin(e, f.key)});
    for (const auto& g : e.group_quotas) x.groups_held.push_back({g, std::nullopt});
    if (macfilter::applies(range))
        x.guest_macs = settings::mac_text(range->base) + " to " + settings::mac_text(range->last());
    if (plan.refusal) return x;

    netlink::Socket nl;
    bridge::Bridge br;
    try {
        br = request::target(nl, plan);
    } catch (const Error& err) {
        x.refusal = err.what();
        return x;
    }
    x.held = quota::count(nl, plan.caller.uid, br.ifindex);
    for (auto& g : x.groups_held) g.held = quota::count_group(nl, g.quota.gid, br.ifindex);
    if ((e.port.quota || !e.group_quotas.empty()) && !lock_problem.empty())
        x.refusal = std::string("a tap quota applies, but the lock file ") + TAPGATE_LOCK_FILE +
                    " cannot be used: " + lock_problem;
    else
        x.refusal = request::over_quota(plan, *x.held, br);
    for (const auto& g : x.groups_held)
        if (!x.refusal) x.refusal = request::over_group_quota(g.quota, *g.held, br);
    // In a request's order: the filter goes on the tap before the grant is
    // logged.
    if (!x.refusal && macfilter::applies(range)) {
        const macfilter::Support kernel = macfilter::kernel_support();
        if (!kernel.known)
            x.kernel_note = "whether this kernel has tc flower and gact cannot be told here (no /proc/kallsyms, "
                            "or no list in /lib/modules): a request is refused if it lacks them";
        else if (!kernel.lacking.empty())
            x.refusal = kernel.lacking;
    }
    if (!x.refusal && conf.syslog_required) {
        if (auto why = audit::unreachable())
            x.refusal = "the audit log is required (syslog = required) and the grant could not be logged: " + *why;
    }
    x.granted = !x.refusal;
    return x;
}

std::string group_name(const settings::Effective::GroupQuota& g) {
    return g.group.empty() ? std::to_string(g.gid) : g.group;
}

void print_text(std::FILE* out, const Explanation& x) {
    std::string groups;
    for (const auto& g : x.groups) groups += " " + g;
    std::fprintf(out, "user %s (uid %u), groups:%s\n",
                 x.user.name.empty() ? "?" : text::printable(x.user.name).c_str(), x.user.uid,
                 groups.empty() ? " none" : groups.c_str());
    std::fprintf(out, "%s\n", x.decision_text.c_str());
    for (const auto& e : x.also) std::fprintf(out, "  also: %s\n", e.str().c_str());
    if (!x.settings_errors.empty()) {
        for (const auto& e : x.settings_errors) std::fprintf(out, "settings error: %s\n", e.c_str());
        if (x.settings_closes == "every bridge")
            std::fprintf(out, "every request is refused until %s is fixed\n", x.settings_file.c_str());
        else
            std::fprintf(out, "every request for %s is refused until %s is fixed\n", x.settings_closes.c_str(),
                         x.settings_file.c_str());
        return;
    }
    std::fprintf(out, "settings for bridge %s (%s%s):\n", text::printable(x.bridge).c_str(),
                 x.settings_file.c_str(), x.settings_present ? "" : ", not present");
    for (const auto& r : x.settings)
        std::fprintf(out, "  %-16s %-12s (%s)\n", r.key.c_str(), r.value.c_str(), r.origin.c_str());
    for (const auto& g : x.groups_held)
        std::fprintf(out, "  %-16s %-12u (%s) for group %s\n", "group_quota", g.quota.limit,
                     g.quota.where.str().c_str(), text::printable(group_name(g.quota)).c_str());
    if (!x.guest_macs.empty())
        std::fprintf(out, "guests send from %s; frames from other addresses are dropped\n", x.guest_macs.c_str());
    if (!x.decision.allowed) return;
    if (!x.kernel_note.empty()) std::fprintf(out, "guest_mac: %s\n", x.kernel_note.c_str());
    if (x.held) std::fprintf(out, "taps held on %s: %u\n", text::printable(x.bridge).c_str(), *x.held);
    for (const auto& g : x.groups_held)
        if (g.held)
            std::fprintf(out, "taps group %s holds on %s: %u of %u\n", text::printable(group_name(g.quota)).c_str(),
                         text::printable(x.bridge).c_str(), *g.held, g.quota.limit);
    if (x.refusal) std::fprintf(out, "a request would be refused: %s\n", x.refusal->c_str());
    else std::fprintf(out, "a request would be granted\n");
}

void print_json(std::FILE* out, const Explanation& x) {
    json::Writer w(out);
    w.object().key("user");
    x.user.name.empty() ? w.null() : w.value(x.user.name);
    w.key("uid").number(x.user.uid).key("groups").array();
    for (const auto& g : x.groups) w.value(g);
    w.end_array().key("bridge").value(x.bridge);
    w.key("acl").object().key("allowed").boolean(x.decision.allowed).key("rule");
    if (x.decision.rule) {
        w.object().key("file").value(x.decision.rule->where.file).key("line").number(x.decision.rule->where.line);
        w.key("text").value(x.decision.rule->text()).end_object();
    } else {
        w.null();
    }
    w.key("message").value(x.decision_text).key("errors").array();
    if (x.decision.policy_error) w.value(x.decision.policy_error->str());
    for (const auto& e : x.also) w.value(e.str());
    w.end_array().end_object();
    w.key("settings").object().key("file").value(x.settings_file).key("present").boolean(x.settings_present);
    w.key("errors").array();
    for (const auto& e : x.settings_errors) w.value(e);
    w.end_array().key("closes");
    x.settings_closes.empty() ? w.null() : w.value(x.settings_closes);
    w.key("values").object();
    for (const auto& r : x.settings)
        w.key(r.key).object().key("value").value(r.value).key("origin").value(r.origin).end_object();
    w.end_object();
    w.key("group_quotas").array();
    for (const auto& g : x.groups_held) {
        w.object().key("group").value(group_name(g.quota)).key("gid").number(g.quota.gid);
        w.key("limit").number(g.quota.limit).key("origin").value(g.quota.where.str()).key("held");
        g.held ? w.number(*g.held) : w.null();
        w.end_object();
    }
    w.end_array().end_object();
    w.key("taps_held");
    x.held ? w.number(*x.held) : w.null();
    w.key("granted").boolean(x.granted).key("refused");
    if (x.granted) w.null();
    else if (x.refusal) w.value(*x.refusal);
    else if (!x.settings_errors.empty()) w.value("settings error: " + x.settings_errors.front());
    else w.value(x.decision_text);
    w.end_object();
}

}  // namespace

int explain(std::FILE* out, const std::string& bridge, const std::string& lock_problem, bool as_json) {
    const Explanation x = gather(bridge, lock_problem);
    if (as_json) print_json(out, x);
    else print_text(out, x);
    return x.granted ? 0 : 1;
}

namespace {

// A number from one of the tap's sysfs attributes, or nullopt. Read with
// stdio, not <fstream>: iostreams would bring libstdc++'s locale set-up
// into the start of every run of the helper.
std::optional<long> sysfs_number(const std::string& tap, const char* attribute) {
    const std::string path = "/sys/class/net/" + tap + "/" + attribute;
    std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "re"), &std::fclose);
    long value = 0;
    // %li: tun_flags is written as 0x..., owner in decimal (-1 for none).
    if (!f || std::fscanf(f.get(), "%li", &value) != 1) return std::nullopt;
    return value;
}

std::string persistence(const std::string& tap) {
    // tun_flags: IFF_PERSIST is 0x0800.
    auto flags = sysfs_number(tap, "tun_flags");
    if (!flags) return "?";
    return (*flags & 0x0800) ? "yes" : "no";
}

std::string user_name(long uid) {
    passwd* pw = ::getpwuid(static_cast<uid_t>(uid));
    return pw ? pw->pw_name : std::to_string(uid);
}

// The tun owner: the one user who may attach to the tap by name once it is
// persistent. The helper sets it to the caller; the holder of the fd can
// hand it to another user.
std::string tun_owner(const std::string& tap) {
    auto uid = sysfs_number(tap, "owner");
    if (!uid) return "?";
    return *uid < 0 ? "-" : user_name(*uid);
}

}  // namespace

namespace {

// What --list says about one tap.
struct TapInfo {
    int ifindex = 0;
    std::string name;
    std::string bridge;  // empty: on no bridge
    long uid = -1;       // the user it was made for
    unsigned vlan = 0;
    std::string persistent;  // yes, no, ?
    std::string tun_owner;   // a user name or uid, "-" for none, "?"
    std::time_t made = 0;
    std::vector<holders::Holder> held_by;
    bool in_use = false;  // some process holds it, seen or not
};

// The taps tapgate made that the caller may see (root: all), by name.
std::vector<TapInfo> taps(netlink::Socket& nl) {
    const uid_t me = ::getuid();
    const auto holding = holders::scan();
    std::vector<TapInfo> out;
    for (const auto& l : nl.links_with_alias("tapgate uid=")) {
        TapInfo t;
        t.uid = quota::uid_of(l.alias);
        if (t.uid < 0 || (me != 0 && t.uid != static_cast<long>(me))) continue;
        t.ifindex = l.ifindex;
        t.name = l.name;
        char master[IF_NAMESIZE] = "";
        if (l.master && ::if_indextoname(static_cast<unsigned>(l.master), master)) t.bridge = master;
        t.vlan = quota::vlan_of(l.alias);
        t.persistent = persistence(l.name);
        t.tun_owner = tun_owner(l.name);
        t.made = quota::made_of(l.alias);
        if (auto it = holding.find(l.name); it != holding.end()) t.held_by = it->second;
        t.in_use = l.carrier || !t.held_by.empty();
        out.push_back(std::move(t));
    }
    std::sort(out.begin(), out.end(), [](const TapInfo& a, const TapInfo& b) { return a.name < b.name; });
    return out;
}

std::string when(std::time_t t) {
    if (!t) return "-";
    char buf[32];
    std::tm tm{};
    ::localtime_r(&t, &tm);
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M", &tm);
    return buf;
}

std::string holders_text(const TapInfo& t) {
    const auto& hs = t.held_by;
    // Held, by a process we cannot see: another user's, or one in another
    // network namespace.
    if (hs.empty()) return t.in_use ? "?" : "-";
    std::string s;
    for (const auto& h : hs)
        s += (s.empty() ? "" : ",") + std::to_string(h.pid) + "(" +
             text::printable(h.vm.empty() ? h.command : h.vm) + ")";
    return s;
}

}  // namespace

int list(bool as_json) {
    netlink::Socket nl;
    const std::vector<TapInfo> all = taps(nl);
    if (as_json) {
        json::Writer w(stdout);
        w.object().key("taps").array();
        for (const auto& t : all) {
            w.object().key("tap").value(t.name).key("bridge");
            t.bridge.empty() ? w.null() : w.value(t.bridge);
            w.key("uid").number(t.uid).key("owner").value(user_name(t.uid)).key("vlan");
            t.vlan ? w.number(t.vlan) : w.null();
            w.key("persistent").boolean(t.persistent == "yes").key("tun_owner").value(t.tun_owner);
            w.key("made");
            t.made ? w.number(static_cast<std::int64_t>(t.made)) : w.null();
            w.key("in_use").boolean(t.in_use).key("held_by").array();
            for (const auto& h : t.held_by) {
                w.object().key("pid").number(h.pid).key("command").value(h.command).key("vm");
                h.vm.empty() ? w.null() : w.value(h.vm);
                w.end_object();
            }
            w.end_array().end_object();
        }
        w.end_array().end_object();
        return 0;
    }
    std::printf("%-15s %-15s %-16s %-5s %-10s %-16s %-16s %s\n", "TAP", "BRIDGE", "OWNER", "VLAN",
                "PERSISTENT", "TUN-OWNER", "MADE", "HELD-BY");
    for (const auto& t : all)
        std::printf("%-15s %-15s %-16s %-5s %-10s %-16s %-16s %s\n", t.name.c_str(),
                    t.bridge.empty() ? "-" : t.bridge.c_str(), user_name(t.uid).c_str(),
                    t.vlan ? std::to_string(t.vlan).c_str() : "-", t.persistent.c_str(), t.tun_owner.c_str(),
                    when(t.made).c_str(), holders_text(t).c_str());
    return 0;
}

int remove(const std::optional<std::string>& name) {
    netlink::Socket nl;
    const std::vector<TapInfo> all = taps(nl);
    // By index, and only while it still carries the alias it was listed
    // with: a name can pass to another interface between the two steps.
    auto drop = [&](const TapInfo& t) {
        const auto now = nl.link(t.ifindex);
        if (!now || quota::uid_of(now->alias) != t.uid)
            throw Error("cannot remove " + text::printable(t.name) + ": it went away or changed");
        if (nl.delete_link(t.ifindex) != 0)
            throw Error("cannot remove " + text::printable(t.name) + ": " + nl.describe());
        std::printf("removed %s (made for %s%s%s)\n", text::printable(t.name).c_str(), user_name(t.uid).c_str(),
                    t.bridge.empty() ? "" : ", on ", text::printable(t.bridge).c_str());
    };
    if (name) {
        auto it = std::find_if(all.begin(), all.end(), [&](const TapInfo& t) { return t.name == *name; });
        if (it == all.end())
            throw Error(nl.ifindex(*name) ? text::printable(*name) + " was not made by tapgate: not removed"
                                          : "no interface " + text::printable(*name));
        drop(*it);
        return 0;
    }
    unsigned n = 0;
    for (const auto& t : all) {
        if (t.in_use) continue;
        drop(t);
        ++n;
    }
    std::printf("%u tap%s removed\n", n, n == 1 ? "" : "s");
    return 0;
}

}  // namespace tapgate::admin
