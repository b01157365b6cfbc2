// SPDX-License-Identifier: GPL-2.0-or-later
// The bridge side: find the bridge, and make the tap one of its ports with
// the bridge's MTU, a MAC that cannot become the bridge's, and state up.
#pragma once

#include <string>

#include "netlink.hpp"

namespace tapgate::bridge {

struct Bridge {
    std::string name;
    int ifindex = 0;
    unsigned mtu = 0;
};

// Throws tapgate::Error naming the interface when it is missing or is not
// a bridge.
Bridge find(netlink::Socket& nl, const std::string& name);

// One netlink request on the tap `tap_index` (`tap_name` for messages):
// MTU, MAC (first byte 0xFE), alias (tapgate's record of the owner),
// master, and up unless `up` is false (port settings still to come). The
// kernel applies address and MTU before enslaving, so the bridge never
// sees a port with another MTU. Throws tapgate::Error.
void attach(netlink::Socket& nl, const Bridge& bridge, int tap_index, const std::string& tap_name,
            const std::string& alias, bool up);

// Brings the port up once its settings are in place.
void bring_up(netlink::Socket& nl, int tap_ifindex, const std::string& tap_name);

}  // namespace tapgate::bridge
