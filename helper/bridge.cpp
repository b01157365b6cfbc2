// SPDX-License-Identifier: GPL-2.0-or-later
#include "bridge.hpp"

#include <linux/if.h>
#include <netlink/addr.h>
#include <netlink/route/link.h>
#include <sys/random.h>

#include <array>
#include <cerrno>
#include <cstring>

#include "acl.hpp"
#include "error.hpp"
#include "text.hpp"

namespace tapgate::bridge {

namespace {

// Linux bridges take the numerically lowest port MAC as their own unless an
// address was set by hand. QEMU's helper makes tap MACs start with 0xFE so
// that a guest's tap never becomes that lowest address; the rest is random.
std::array<unsigned char, 6> tap_mac() {
    std::array<unsigned char, 6> mac{};
    if (::getrandom(mac.data() + 1, mac.size() - 1, 0) != static_cast<ssize_t>(mac.size() - 1))
        throw system_error("cannot get random bytes for the tap MAC address");
    mac[0] = 0xFE;
    return mac;
}

}  // namespace

Bridge find(netlink::Socket& nl, const std::string& name) {
    netlink::LinkPtr link = nl.find_link(name);
    if (!link) throw Error("bridge " + text::printable(name) + " does not exist");
    // The kernel also resolves alternative names (ip link property add ...
    // altname). The ACL judged the name asked for, so only the interface's
    // own name may be used: "deny br0" must not be escaped through an alias.
    const char* own = rtnl_link_get_name(link.get());
    if (!own || name != own)
        throw Error(text::printable(name) + " is an alternative name of " +
                    text::printable(own ? own : "?") + "; ask for the bridge by its own name");
    const char* type = rtnl_link_get_type(link.get());
    if (!type || std::strcmp(type, "bridge") != 0)
        throw Error(text::printable(name) + " is not a bridge (it is " +
                    (type ? std::string("a ") + text::printable(type) + " device"
                          : std::string("a device without a link type")) +
                    ")");
    return {name, rtnl_link_get_ifindex(link.get()), rtnl_link_get_mtu(link.get())};
}

void attach(netlink::Socket& nl, const Bridge& bridge, int tap_index, const std::string& tap_name,
            const std::string& alias, bool up) {
    auto mac = tap_mac();
    netlink::AddrPtr addr(nl_addr_build(AF_LLC, mac.data(), mac.size()));
    netlink::LinkPtr changes(rtnl_link_alloc());
    if (!addr || !changes) throw Error("out of memory");
    rtnl_link_set_mtu(changes.get(), bridge.mtu);
    rtnl_link_set_addr(changes.get(), addr.get());
    rtnl_link_set_master(changes.get(), bridge.ifindex);
    rtnl_link_set_ifalias(changes.get(), alias.c_str());
    if (up) rtnl_link_set_flags(changes.get(), IFF_UP);
    int e = nl.change_link(tap_index, changes.get());
    if (e == 0) return;
    std::string what = "cannot attach " + tap_name + " to bridge " + text::printable(bridge.name);
    // The bridge may have gone (or been replaced) since it was looked up;
    // the kernel then says ENODEV or, for a master index that is gone,
    // EINVAL.
    if ((e == ENODEV || e == EINVAL) && nl.ifindex(bridge.name) != bridge.ifindex)
        throw Error(what + ": the bridge no longer exists");
    switch (e) {
    case EXFULL:
        throw Error(what + ": the bridge has no free port (a bridge has at most 1023)");
    default:
        throw Error(what + ": " + nl.describe());
    }
}

void bring_up(netlink::Socket& nl, int tap_ifindex, const std::string& tap_name) {
    netlink::LinkPtr changes(rtnl_link_alloc());
    if (!changes) throw Error("out of memory");
    rtnl_link_set_flags(changes.get(), IFF_UP);
    if (nl.change_link(tap_ifindex, changes.get()) != 0)
        throw Error("cannot bring " + tap_name + " up: " + nl.describe());
}

}  // namespace tapgate::bridge
