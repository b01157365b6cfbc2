// SPDX-License-Identifier: GPL-2.0-or-later
// The tap device handed to QEMU: created through /dev/net/tun, not
// persistent, so the kernel removes it (and its bridge port) when the last
// fd closes, whatever happens to this process.
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>
#include <vector>

#include "unique_fd.hpp"

namespace tapgate::tap {

struct Tap {
    UniqueFd fd;
    int ifindex = 0;   // set at creation: the tap is addressed by it alone
    std::string name;  // as created, for messages and the audit log
    bool vnet_hdr = false;
};

// Opens /dev/net/tun and creates a tap from `name_template` ("tap%d"):
// IFF_TAP | IFF_NO_PI, plus IFF_VNET_HDR when `want_vnet_hdr` and the
// kernel offers it, named with the lowest number for %d that no interface
// has (`name_taken` tells), with the first index `free_indexes()` offers
// that is still free when the tap is made (it is asked again when others
// took them all meanwhile; empty: none left) as its interface index (see
// quota::first_slot), and `owner` as its tun owner, the only user who may
// attach to it by name once it is persistent. Throws tapgate::Error.
Tap create(const std::string& name_template, bool want_vnet_hdr, uid_t owner,
           const std::function<std::vector<int>()>& free_indexes,
           const std::function<bool(const std::string&)>& name_taken);

}  // namespace tapgate::tap
