// Bridge port settings from tapgate.conf (VLAN, isolation and the other
// port flags), applied to the new port before it is brought up, so that
// no frame crosses it with the bridge's defaults.
#pragma once

#include "netlink.hpp"
#include "settings.hpp"

namespace tapgate::port {

// Whether `p` asks for anything beyond a plain port.
bool any(const settings::Port& p);

// Applies the flags and the VLAN to the port `tap_ifindex` of the bridge
// `bridge_ifindex` (named `bridge` in messages). A VLAN becomes the port's
// only VLAN, PVID and egress-untagged. Throws tapgate::Error.
void configure(netlink::Socket& nl, int tap_ifindex, int bridge_ifindex, const std::string& bridge,
               const settings::Port& p);

}  // namespace tapgate::port
