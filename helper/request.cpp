// SPDX-License-Identifier: GPL-2.0-or-later
#include "request.hpp"

#include <cstdint>
#include <ctime>
#include <list>
#include <vector>

#include "config.h"
#include "error.hpp"
#include "fault.hpp"
#include "macfilter.hpp"
#include "port.hpp"
#include "quota.hpp"

namespace tapgate::request {

settings::Settings read_settings(Files& files) {
    return settings::load(files.source, TAPGATE_SETTINGS_FILE, files.directory);
}

Plan plan(Files& files, const settings::Settings& conf, const std::string& bridge, uid_t uid) {
    Plan p;
    p.bridge = bridge;
    p.policy = acl::load(files.source, TAPGATE_ACL_FILE, &files.directory);
    // The user database is asked about the groups that can decide this
    // request only: those of the rules and the group sections for this
    // bridge.
    std::vector<std::uint32_t> deciding = acl::groups_deciding(p.policy, bridge);
    for (std::uint32_t gid : settings::groups_deciding(conf, bridge)) deciding.push_back(gid);
    p.caller = identity::lookup(uid, files.directory, deciding);
    p.decision = acl::decide(p.policy, bridge, p.caller);
    auto settings_error = [&](const acl::Diagnostic& first, std::size_t n) {
        p.refusal = "settings error: " + first.str() +
                    (n > 1 ? " (and " + std::to_string(n - 1) + " more; run tapgate --check " + conf.file + ")" : "");
    };
    if (!conf.ok()) {
        settings_error(conf.errors.front(), conf.errors.size());
        return p;
    }
    if (auto [closure, n] = conf.closed(bridge); closure) {
        settings_error(closure->error, n);
        return p;
    }
    p.settings = settings::resolve(conf, bridge, p.caller);
    if (!p.decision.allowed) p.refusal = p.decision.explain(bridge, TAPGATE_ACL_FILE);
    return p;
}

bridge::Bridge target(netlink::Socket& nl, const Plan& plan) {
    bridge::Bridge br = bridge::find(nl, plan.bridge);
    if (auto vlan = plan.settings.port.vlan) port::require_vlan_filtering(nl, br.ifindex, br.name, *vlan);
    return br;
}

std::optional<std::string> over_quota(const Plan& plan, unsigned held, const bridge::Bridge& br) {
    const auto& quota = plan.settings.port.quota;
    if (!quota) return std::nullopt;
    const acl::Caller& c = plan.caller;
    const std::string who = c.name.empty() ? "uid " + std::to_string(c.uid) : c.name;
    const std::string where = " (" + plan.settings.origin.at("quota").str() + ")";
    if (*quota == 0) return "quota: " + who + " may hold no taps on bridge " + br.name + where;
    if (held >= *quota)
        return "quota reached: " + who + " holds " + std::to_string(held) + " of " +
               std::to_string(*quota) + " taps allowed on bridge " + br.name + where;
    return std::nullopt;
}

std::optional<std::string> over_group_quota(const settings::Effective::GroupQuota& g, unsigned held,
                                            const bridge::Bridge& br) {
    const std::string group = "group " + (g.group.empty() ? std::to_string(g.gid) : g.group);
    const std::string where = " (" + g.where.str() + ")";
    if (g.limit == 0) return "group quota: " + group + " may hold no taps on bridge " + br.name + where;
    if (held >= g.limit)
        return "group quota reached: " + group + " holds " + std::to_string(held) + " of " +
               std::to_string(g.limit) + " taps allowed on bridge " + br.name + where;
    return std::nullopt;
}

tap::Tap serve(Files& files, const settings::Settings& conf, const std::string& bridge, bool use_vnet,
               int lock_fd, audit::Record& rec) {
    const Plan p = plan(files, conf, bridge, rec.uid);
    rec.user = p.caller.name;
    // A rule decided only if the settings let the decision count.
    if (conf.ok() && !conf.closed(bridge).first && p.decision.rule) rec.rule = p.decision.rule->where.str();
    if (p.refusal) throw Error(*p.refusal);
    const settings::Port& port = p.settings.port;
    rec.vlan = port.vlan.value_or(0);
    if (macfilter::applies(port.guest_mac)) rec.guest_mac = port.guest_mac->str();
    fault::point("after-acl");

    netlink::Socket nl;
    const bridge::Bridge br = target(nl, p);
    // Counting and attaching under one lock: two concurrent requests of
    // one user cannot both see room for one more tap.
    // The tap gets its interface index from the user's slots on the bridge
    // (quota::first_slot) with or without a quota, so that a quota set
    // later counts the taps made before (by a tapgate that had the lock
    // file; see quota::Slots).
    std::optional<quota::Lock> held;
    if (port.quota) {
        held.emplace(lock_fd, quota::user_byte(rec.uid));
        const unsigned n = quota::Slots(lock_fd, nl, rec.uid, br.ifindex).count(*port.quota);
        if (auto why = over_quota(p, n, br)) throw Error(*why);
    }
    // Then each group total, by ascending gid (resolve() sorts them): the
    // one lock order of every request.
    std::list<quota::Lock> group_locks;
    std::vector<gid_t> counted;
    for (const auto& g : p.settings.group_quotas) {
        group_locks.emplace_back(lock_fd, quota::group_byte(g.gid));
        if (auto why = over_group_quota(g, quota::count_group(nl, g.gid, br.ifindex), br)) throw Error(*why);
        counted.push_back(g.gid);
    }
    const std::string alias = quota::alias_for(rec.uid, rec.vlan, counted, std::time(nullptr));
    // IFALIASZ: the kernel keeps 255 bytes.
    if (alias.size() > 255)
        throw Error("too many group quotas apply to " + p.caller.name + " on bridge " + br.name + " (" +
                    std::to_string(counted.size()) + ") to record them on the tap");
    const bool more = port::any(port);
    // The user's record lock (quota::Slots), the last one taken, from
    // choosing the index until the tap has it.
    tap::Tap tap = [&] {
        quota::Slots slots(lock_fd, nl, rec.uid, br.ifindex);
        return tap::create(settings::expand_name(p.settings.name_template(), p.caller), use_vnet, rec.uid,
                           [&](std::size_t wanted) { return slots.free(wanted); },
                           [&](const std::string& name) { return nl.name_in_use(name); });
    }();
    rec.tap = tap.name;
    fault::point("after-tap");
    // Before the tap joins the bridge, so that no frame of the guest's
    // reaches it unfiltered; a kernel without tc flower refuses here.
    if (macfilter::applies(port.guest_mac)) macfilter::install(nl, tap.ifindex, tap.name, *port.guest_mac);
    bridge::attach(nl, br, tap.ifindex, tap.name, alias, !more);
    held.reset();
    group_locks.clear();
    if (more) {
        port::configure(nl, tap.ifindex, br.name, port);
        bridge::bring_up(nl, tap.ifindex, tap.name);
    }
    fault::point("after-attach");
    audit::granted(rec);
    return tap;
}

}  // namespace tapgate::request
