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
// has (`name_taken` tells), with an index that `free_indexes(wanted)`
// offers (up to `wanted` of them, lowest first; empty: none left) and is
// still free when the tap is made as its interface index (see
// quota::first_slot): the lowest at first, a random one of several after
// a concurrent request took it. `owner` becomes its tun owner, the only
// user who may attach to it by name once it is persistent. Throws
// tapgate::Error.
Tap create(const std::string& name_template, bool want_vnet_hdr, uid_t owner,
           const std::function<std::vector<int>(std::size_t wanted)>& free_indexes,
           const std::function<bool(const std::string&)>& name_taken);

}  // namespace tapgate::tap
