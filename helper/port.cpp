// SPDX-License-Identifier: GPL-2.0-or-later
#include "port.hpp"

#include <linux/if_bridge.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <netlink/attr.h>
#include <netlink/msg.h>
#include <sys/socket.h>

#include <algorithm>
#include <iterator>

#include "acl.hpp"
#include "error.hpp"
#include "text.hpp"

namespace tapgate::port {

namespace {

// libnl 3.7 has calls for some port flags (hairpin, learning, unicast
// flood) but none for isolation, multicast and broadcast flooding or port
// VLANs; one hand-built AF_BRIDGE request carries all of them.
netlink::MsgPtr bridge_request(int type, int ifindex) {
    netlink::MsgPtr msg(nlmsg_alloc_simple(type, 0));
    ifinfomsg ifi{};
    ifi.ifi_family = AF_BRIDGE;
    ifi.ifi_index = ifindex;
    if (!msg || nlmsg_append(msg.get(), &ifi, sizeof ifi, NLMSG_ALIGNTO) < 0) throw Error("out of memory");
    return msg;
}

void put_vlan(nl_msg* msg, std::uint16_t flags, unsigned vid) {
    bridge_vlan_info info{};
    info.flags = flags;
    info.vid = static_cast<std::uint16_t>(vid);
    if (nla_put(msg, IFLA_BRIDGE_VLAN_INFO, sizeof info, &info) < 0) throw Error("out of memory");
}

// Adds a range of VLANs (first..last) to an IFLA_AF_SPEC nest.
void put_range(nl_msg* msg, unsigned first, unsigned last) {
    if (first > last) return;
    if (first == last) return put_vlan(msg, 0, first);
    put_vlan(msg, BRIDGE_VLAN_INFO_RANGE_BEGIN, first);
    put_vlan(msg, BRIDGE_VLAN_INFO_RANGE_END, last);
}

void send(netlink::Socket& nl, nl_msg* msg, const std::string& what) {
    if (int e = nl.request(msg); e != 0) throw Error(what + ": " + nl.describe());
}

}  // namespace

bool any(const settings::Port& p) {
    return p.vlan || std::any_of(std::begin(settings::port_flags), std::end(settings::port_flags),
                                 [&](const settings::PortFlag& f) { return (p.*f.member).has_value(); });
}

void require_vlan_filtering(netlink::Socket& nl, int bridge_ifindex, const std::string& bridge,
                            unsigned vlan) {
    if (!nl.bridge_vlan(bridge_ifindex).filtering)
        throw Error("tapgate.conf sets vlan " + std::to_string(vlan) + " for bridge " +
                    text::printable(bridge) + ", which has VLAN filtering off (ip link set " +
                    text::printable(bridge) + " type bridge vlan_filtering 1)");
}

void configure(netlink::Socket& nl, int tap_ifindex, const std::string& bridge, const settings::Port& p) {
    const std::string where = "bridge " + text::printable(bridge);
    auto msg = bridge_request(RTM_SETLINK, tap_ifindex);
    nlattr* info = nla_nest_start(msg.get(), IFLA_PROTINFO | NLA_F_NESTED);
    if (!info) throw Error("out of memory");
    const std::pair<int, const std::optional<bool>*> flags[] = {
        {IFLA_BRPORT_ISOLATED, &p.isolated},       {IFLA_BRPORT_MODE, &p.hairpin},
        {IFLA_BRPORT_LEARNING, &p.learning},       {IFLA_BRPORT_UNICAST_FLOOD, &p.unicast_flood},
        {IFLA_BRPORT_MCAST_FLOOD, &p.multicast_flood}, {IFLA_BRPORT_BCAST_FLOOD, &p.broadcast_flood},
        {IFLA_BRPORT_GUARD, &p.bpdu_guard},        {IFLA_BRPORT_PROTECT, &p.root_block},
        {IFLA_BRPORT_NEIGH_SUPPRESS, &p.neigh_suppress},
    };
    for (const auto& [attr, value] : flags)
        if (*value && nla_put_u8(msg.get(), attr, **value ? 1 : 0) < 0) throw Error("out of memory");
    nla_nest_end(msg.get(), info);
    if (p.vlan) {
        nlattr* spec = nla_nest_start(msg.get(), IFLA_AF_SPEC);
        if (!spec) throw Error("out of memory");
        put_vlan(msg.get(), BRIDGE_VLAN_INFO_PVID | BRIDGE_VLAN_INFO_UNTAGGED, *p.vlan);
        nla_nest_end(msg.get(), spec);
    }
    send(nl, msg.get(), "cannot set the port options of the tap on " + where);

    if (p.vlan) {
        // The port joined the bridge's default VLAN when it was attached;
        // take it (and anything else) away so the guest sees one VLAN only.
        auto del = bridge_request(RTM_DELLINK, tap_ifindex);
        nlattr* spec = nla_nest_start(del.get(), IFLA_AF_SPEC);
        if (!spec) throw Error("out of memory");
        put_range(del.get(), 1, *p.vlan - 1U);
        put_range(del.get(), *p.vlan + 1U, 4094);
        nla_nest_end(del.get(), spec);
        send(nl, del.get(), "cannot remove the default VLAN from the tap on " + where);
    }
}

}  // namespace tapgate::port
