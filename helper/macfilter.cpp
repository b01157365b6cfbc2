// SPDX-License-Identifier: GPL-2.0-or-later
#include "macfilter.hpp"

#include <linux/if_ether.h>
#include <linux/pkt_sched.h>
#include <linux/tc_act/tc_gact.h>
#include <netlink/route/act/gact.h>
#include <netlink/route/action.h>
#include <netlink/route/classifier.h>
#include <netlink/route/cls/flower.h>
#include <netlink/route/qdisc.h>
#include <netlink/route/tc.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

#include "error.hpp"
#include "fault.hpp"

namespace tapgate::macfilter {

namespace {

struct QdiscDeleter { void operator()(rtnl_qdisc* q) const { rtnl_qdisc_put(q); } };
struct ClsDeleter { void operator()(rtnl_cls* c) const { rtnl_cls_put(c); } };
struct ActDeleter { void operator()(rtnl_act* a) const { rtnl_act_put(a); } };
using QdiscPtr = std::unique_ptr<rtnl_qdisc, QdiscDeleter>;
using ClsPtr = std::unique_ptr<rtnl_cls, ClsDeleter>;
using ActPtr = std::unique_ptr<rtnl_act, ActDeleter>;

// libnl's TC_CAST without the C cast: qdiscs, classifiers and actions all
// begin with its common traffic control object.
template <typename T>
rtnl_tc* tc(T* object) {
    return reinterpret_cast<rtnl_tc*>(object);
}

// What the filter takes from the kernel: the module, what the messages
// call it, and a function of its own that /proc/kallsyms lists once it is
// built in or loaded.
struct Part {
    const char* module;
    const char* what;
    const char* symbol;
};
constexpr Part ingress_qdisc{"sch_ingress", "the ingress qdisc", "ingress_init"};
constexpr Part flower_cls{"cls_flower", "tc flower", "fl_classify"};
constexpr Part gact_action{"act_gact", "the tc gact action", "tcf_gact_act"};
constexpr const Part* parts[] = {&ingress_qdisc, &flower_cls, &gact_action};

std::string lacking(const std::vector<const Part*>& missing) {
    std::string s = "guest_mac needs ";
    for (std::size_t i = 0; i < missing.size(); ++i) {
        if (i > 0) s += i + 1 == missing.size() ? " and " : ", ";
        s += std::string(missing[i]->what) + " (" + missing[i]->module + ")";
    }
    return s + ", which this kernel lacks";
}

// The ingress qdisc's handle, ffff:, which its filters name as parent.
constexpr std::uint32_t ingress = TC_H_MAKE(TC_H_INGRESS, 0U);
// The filters run lowest priority first, and the first that matches
// decides: the range passes before the catch-all drops.
constexpr std::uint16_t pass_prio = 1;
constexpr std::uint16_t drop_prio = 2;

// A flower filter on the tap's ingress for every protocol (a VLAN tag must
// not carry a frame past it), with one gact action, `verdict`. Without
// keys it matches every frame.
ClsPtr flower(int ifindex, std::uint16_t prio, int verdict) {
    ClsPtr cls(rtnl_cls_alloc());
    ActPtr act(rtnl_act_alloc());
    if (!cls || !act) throw Error("out of memory");
    rtnl_tc_set_ifindex(tc(cls.get()), ifindex);
    rtnl_tc_set_parent(tc(cls.get()), ingress);
    rtnl_cls_set_prio(cls.get(), prio);
    rtnl_cls_set_protocol(cls.get(), ETH_P_ALL);
    // The filter takes a reference of its own to the action.
    if (rtnl_tc_set_kind(tc(cls.get()), "flower") < 0 || rtnl_tc_set_kind(tc(act.get()), "gact") < 0 ||
        rtnl_gact_set_action(act.get(), verdict) < 0 || rtnl_flower_append_action(cls.get(), act.get()) < 0)
        throw Error("out of memory");
    return cls;
}

// Sends a request libnl built (`built`: what its build call returned).
// Returns 0 or the kernel's errno.
int send(netlink::Socket& nl, int built, nl_msg* raw) {
    netlink::MsgPtr msg(raw);
    if (built < 0 || !msg) throw Error("out of memory");
    return nl.request(msg.get());
}

// A failed request: a kernel without the part says ENOENT (no such qdisc
// kind, classifier or action, and none it could load) or, for some kinds,
// EOPNOTSUPP.
Error failure(netlink::Socket& nl, int e, const std::string& tap, const Part& part) {
    if (e != ENOENT && e != EOPNOTSUPP)
        return Error("cannot install the guest_mac filter on " + tap + ": " + nl.describe());
    const std::string said = nl.last_error().message;
    // One flower request brings the classifier and its actions: the kernel's
    // own words tell which of the two it could not find.
    const Part& missing = &part == &flower_cls && said.find("action") != std::string::npos ? gact_action : part;
    return Error(lacking({&missing}) + (said.empty() ? "" : " (" + said + ")"));
}

// Marks the parts whose symbol /proc/kallsyms lists (built in, or in a
// loaded module); false when it cannot be read.
bool kallsyms(bool (&found)[std::size(parts)]) {
    std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen("/proc/kallsyms", "re"), &std::fclose);
    if (!f) return false;
    char line[512];
    bool any = false;
    // A line longer than the buffer comes in pieces: only a line's first
    // piece is read.
    for (bool first = true; std::fgets(line, sizeof line, f.get()); first = std::strchr(line, '\n') != nullptr) {
        any = true;
        // ADDRESS TYPE NAME [MODULE]
        char name[256];
        if (!first || std::sscanf(line, "%*s %*s %255s", name) != 1) continue;
        for (std::size_t i = 0; i < std::size(parts); ++i)
            if (std::strcmp(name, parts[i]->symbol) == 0) found[i] = true;
    }
    return any;
}

// The modules /lib/modules lists for the running kernel, built in or
// loadable (the kernel loads tc's modules itself when a request names
// them); false when neither list can be read.
bool module_lists(bool (&found)[std::size(parts)]) {
    utsname u{};
    if (::uname(&u) != 0) return false;
    bool read = false;
    for (const char* list : {"modules.builtin", "modules.dep"}) {
        const std::string path = std::string("/lib/modules/") + u.release + "/" + list;
        std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "re"), &std::fclose);
        if (!f) continue;
        read = true;
        char line[4096];
        for (bool first = true; std::fgets(line, sizeof line, f.get());
             first = std::strchr(line, '\n') != nullptr) {
            if (!first) continue;
            // "kernel/net/sched/cls_flower.ko[.xz]: dependencies..."
            std::string_view file(line, std::strcspn(line, ":\n"));
            file = file.substr(file.rfind('/') + 1);
            file = file.substr(0, file.find(".ko"));
            for (std::size_t i = 0; i < std::size(parts); ++i)
                if (file == parts[i]->module) found[i] = true;
        }
    }
    return read;
}

}  // namespace

bool applies(const std::optional<settings::MacRange>& range) { return range && !range->any(); }

void install(netlink::Socket& nl, int tap_ifindex, const std::string& tap, const settings::MacRange& range) {
    QdiscPtr qdisc(rtnl_qdisc_alloc());
    if (!qdisc) throw Error("out of memory");
    rtnl_tc_set_ifindex(tc(qdisc.get()), tap_ifindex);
    rtnl_tc_set_parent(tc(qdisc.get()), TC_H_INGRESS);
    rtnl_tc_set_handle(tc(qdisc.get()), ingress);
    if (rtnl_tc_set_kind(tc(qdisc.get()), "ingress") < 0) throw Error("out of memory");
    nl_msg* raw = nullptr;
    int built = rtnl_qdisc_build_add_request(qdisc.get(), NLM_F_CREATE | NLM_F_EXCL, &raw);
    if (int e = send(nl, built, raw)) throw failure(nl, e, tap, ingress_qdisc);
    fault::point("after-qdisc");

    ClsPtr pass = flower(tap_ifindex, pass_prio, TC_ACT_OK);
    settings::MacRange::Mac mac = range.base, mask = range.mask();
    if (rtnl_flower_set_src_mac(pass.get(), mac.data(), mask.data()) < 0) throw Error("out of memory");
    raw = nullptr;
    built = rtnl_cls_build_add_request(pass.get(), NLM_F_CREATE | NLM_F_EXCL, &raw);
    if (int e = send(nl, built, raw)) throw failure(nl, e, tap, flower_cls);

    ClsPtr drop = flower(tap_ifindex, drop_prio, TC_ACT_SHOT);
    raw = nullptr;
    built = rtnl_cls_build_add_request(drop.get(), NLM_F_CREATE | NLM_F_EXCL, &raw);
    if (int e = send(nl, built, raw)) throw failure(nl, e, tap, flower_cls);
}

Support kernel_support() {
    bool in_kernel[std::size(parts)] = {}, listed[std::size(parts)] = {};
    const bool symbols = kallsyms(in_kernel);
    // Without module support, what kallsyms lacks is not there at all.
    const bool modules = ::access("/proc/modules", F_OK) != 0 || module_lists(listed);
    std::vector<const Part*> missing;
    for (std::size_t i = 0; i < std::size(parts); ++i) {
        if (in_kernel[i] || listed[i]) continue;
        if (!symbols || !modules) return {};
        missing.push_back(parts[i]);
    }
    return {true, missing.empty() ? "" : lacking(missing)};
}

}  // namespace tapgate::macfilter
