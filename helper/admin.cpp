#include "admin.hpp"

#include <grp.h>
#include <net/if.h>
#include <pwd.h>
#include <unistd.h>

#include <cstdio>
#include <memory>

#include "acl.hpp"
#include "bridge.hpp"
#include "port.hpp"
#include "privileges.hpp"
#include "config.h"
#include "error.hpp"
#include "identity.hpp"
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

template <typename T>
void show(std::FILE* out, const char* key, const std::optional<T>& v, const settings::Effective& e, const char* unset) {
    std::string value;
    if (!v) value = unset;
    else if constexpr (std::is_same_v<T, bool>) value = *v ? "yes" : "no";
    else if constexpr (std::is_same_v<T, std::string>) value = text::printable(*v);
    else value = std::to_string(*v);
    std::fprintf(out, "  %-16s %-12s (%s)\n", key, value.c_str(), origin(e, key).c_str());
}

}  // namespace

int explain(std::FILE* out, const std::string& bridge, const std::string& lock_problem) {
    request::Files files;
    const settings::Settings conf = request::read_settings(files);
    const request::Plan plan = request::plan(files, conf, bridge, ::getuid());

    // Every group the user database gives, for the reader; the decision
    // asked about those that can decide it, as a request does.
    const acl::Caller all = identity::lookup_all_groups(::getuid());
    std::string groups;
    for (auto gid : all.gids) {
        group* g = ::getgrgid(gid);
        groups += " " + (g ? std::string(g->gr_name) : std::to_string(gid));
    }
    std::fprintf(out, "user %s (uid %u), groups:%s\n",
                all.name.empty() ? "?" : text::printable(all.name).c_str(), all.uid,
                groups.empty() ? " none" : groups.c_str());
    std::fprintf(out, "%s\n", plan.decision.explain(bridge, TAPGATE_ACL_FILE).c_str());
    for (std::size_t i = 1; i < plan.policy.errors.size(); ++i)
        std::fprintf(out, "  also: %s\n", plan.policy.errors[i].str().c_str());
    if (!conf.ok()) {
        for (const auto& e : conf.errors) std::fprintf(out, "settings error: %s\n", e.str().c_str());
        std::fprintf(out, "every request is refused until %s is fixed\n", conf.file.c_str());
        return 1;
    }
    if (auto [closure, n] = conf.closed(bridge); closure) {
        for (const acl::Closure& c : conf.closures)
            if (c.closes(bridge)) std::fprintf(out, "settings error: %s\n", c.error.str().c_str());
        std::fprintf(out, "every request for %s is refused until %s is fixed\n", closure->what().c_str(),
                     conf.file.c_str());
        return 1;
    }
    const settings::Effective& e = plan.settings;
    std::fprintf(out, "settings for bridge %s (%s%s):\n", text::printable(bridge).c_str(), conf.file.c_str(),
                conf.exists ? "" : ", not present");
    show(out, "quota", e.port.quota, e, "none");
    show(out, "vlan", e.port.vlan, e, "bridge's");
    show(out, "name", std::optional<std::string>(e.name_template()), e, "");
    for (const settings::PortFlag& f : settings::port_flags) show(out, f.key, e.port.*f.member, e, "bridge's");
    if (plan.refusal) return 1;

    auto refused = [out](const std::string& why) {
        std::fprintf(out, "a request would be refused: %s\n", why.c_str());
        return 1;
    };
    netlink::Socket nl;
    bridge::Bridge br;
    try {
        br = request::target(nl, plan);
    } catch (const Error& err) {
        return refused(err.what());
    }
    const unsigned held = quota::count(nl, plan.caller.uid, br.ifindex);
    std::fprintf(out, "taps held on %s: %u\n", text::printable(bridge).c_str(), held);
    if (e.port.quota && !lock_problem.empty())
        return refused(std::string("a tap quota applies, but the lock file ") + TAPGATE_LOCK_FILE +
                       " cannot be used: " + lock_problem);
    if (auto why = request::over_quota(plan, held, br)) return refused(*why);
    std::fprintf(out, "a request would be granted\n");
    return 0;
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

int list() {
    netlink::Socket nl;
    const uid_t me = ::getuid();
    std::printf("%-15s %-15s %-16s %-5s %-10s %s\n", "TAP", "BRIDGE", "OWNER", "VLAN", "PERSISTENT",
                "TUN-OWNER");
    for (const auto& l : nl.links_with_alias("tapgate uid=")) {
        long uid = quota::uid_of(l.alias);
        if (uid < 0 || (me != 0 && uid != static_cast<long>(me))) continue;
        char master[IF_NAMESIZE] = "-";
        if (l.master) ::if_indextoname(static_cast<unsigned>(l.master), master);
        unsigned vlan = quota::vlan_of(l.alias);
        std::printf("%-15s %-15s %-16s %-5s %-10s %s\n", l.name.c_str(), master, user_name(uid).c_str(),
                    vlan ? std::to_string(vlan).c_str() : "-", persistence(l.name).c_str(),
                    tun_owner(l.name).c_str());
    }
    return 0;
}

}  // namespace tapgate::admin
