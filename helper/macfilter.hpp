// SPDX-License-Identifier: GPL-2.0-or-later
// Guest MAC ranges (guest_mac in tapgate.conf): frames a guest sends
// through its tap enter the host at the tap's ingress, before the bridge
// sees them. An ingress qdisc there holds two tc flower filters: a source
// MAC inside the range passes, anything else is dropped. So a guest can
// neither take another guest's or the gateway's address nor make the
// bridge learn one on its port. The filter goes with the tap.
#pragma once

#include <optional>
#include <string>

#include "netlink.hpp"
#include "settings.hpp"

namespace tapgate::macfilter {

// Whether `range` asks for a filter: set, and not "any".
bool applies(const std::optional<settings::MacRange>& range);

// Installs the filter on the tap `tap_ifindex` (`tap` for messages), which
// has not joined the bridge yet. Throws tapgate::Error; on a kernel without
// what it takes, one that names what is missing.
void install(netlink::Socket& nl, int tap_ifindex, const std::string& tap, const settings::MacRange& range);

// What --explain, which makes nothing, can tell about this kernel from
// /proc/kallsyms (what is built in or loaded) and /lib/modules (what the
// kernel would load on the first request).
struct Support {
    bool known = false;   // false: neither could tell
    std::string lacking;  // when known: the refusal a request would get, empty if none
};
Support kernel_support();

}  // namespace tapgate::macfilter
