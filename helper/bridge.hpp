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

// One netlink request, acting on ifindex: MTU, MAC (first byte 0xFE),
// master, up. The kernel applies address and MTU before enslaving, so the
// bridge never sees a port with another MTU. Throws tapgate::Error.
void attach(netlink::Socket& nl, const Bridge& bridge, const std::string& tap_name);

}  // namespace tapgate::bridge
