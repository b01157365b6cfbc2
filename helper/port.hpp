// SPDX-License-Identifier: GPL-2.0-or-later
// Bridge port settings from tapgate.conf (VLAN, isolation and the other
// port flags), applied to the new port before it is brought up, so that
// no frame crosses it with the bridge's defaults.
#pragma once

#include "netlink.hpp"
#include "settings.hpp"

namespace tapgate::port {

// Whether `p` asks for anything beyond a plain port.
bool any(const settings::Port& p);

// Throws tapgate::Error unless the bridge filters VLANs (a VLAN setting on
// a bridge that ignores VLANs would isolate nothing).
void require_vlan_filtering(netlink::Socket& nl, int bridge_ifindex, const std::string& bridge,
                            unsigned vlan);

// Applies the flags and the VLAN to the port `tap_ifindex` of `bridge`
// (for messages). A VLAN becomes the port's only VLAN, PVID and
// egress-untagged. Throws tapgate::Error.
void configure(netlink::Socket& nl, int tap_ifindex, const std::string& bridge, const settings::Port& p);

}  // namespace tapgate::port
