// SPDX-License-Identifier: GPL-2.0-or-later
// One request, whichever front-end took it: decide, make the tap, attach,
// configure, audit. A front-end learns who the caller is (the setuid helper
// from its own ids, the service from the kernel's peer credentials),
// becomes that user, and hands over the bridge; it gets the tap back and
// sends its fd to wherever its caller waits. --explain goes through the
// same steps, stopping short of making anything.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

#include "acl.hpp"
#include "audit.hpp"
#include "bridge.hpp"
#include "identity.hpp"
#include "netlink.hpp"
#include "settings.hpp"
#include "tap.hpp"

namespace tapgate::request {

// How the files are read: with the process's ids and groups, which the
// front-end has made the caller's.
struct Files {
    acl::FileSystemSource source;
    identity::NssDirectory directory;
};

// tapgate.conf. Read first: its log settings govern the audit line of any
// refusal after it.
settings::Settings read_settings(Files& files);

// What the policy says about one caller on one bridge.
struct Plan {
    std::string bridge;
    acl::Caller caller;            // its groups: those that can decide this bridge
    acl::Policy policy;
    acl::Decision decision;
    settings::Effective settings;  // meaningful when the settings have no error
    // Why a request is refused before the bridge is looked at (an error in
    // either file, or the ACL), or nullopt.
    std::optional<std::string> refusal;
};

// Reads bridge.conf, looks the caller up in the user database (only about
// the groups that can decide this bridge) and decides. Throws
// tapgate::Error when the user database cannot answer.
Plan plan(Files& files, const settings::Settings& conf, const std::string& bridge, uid_t uid);

// The bridge as a request uses it: by its own name, with VLAN filtering on
// when a VLAN is set. Throws tapgate::Error otherwise.
bridge::Bridge target(netlink::Socket& nl, const Plan& plan);

// Why a caller holding `held` taps on `br` may not have one more, or
// nullopt.
std::optional<std::string> over_quota(const Plan& plan, unsigned held, const bridge::Bridge& br);
// The same for a group total, `held` being the taps it counts on `br`.
std::optional<std::string> over_group_quota(const settings::Effective::GroupQuota& g, unsigned held,
                                            const bridge::Bridge& br);

// The whole request once the front-end has become the caller: plan, refuse
// or go on, make the tap a configured port of the bridge under the quota
// lock (`lock_fd`, opened by root), and log the grant (just before the fd
// leaves: once the caller has it, it can kill the process). Fills `rec`
// as it goes. Throws tapgate::Error with the refusal.
tap::Tap serve(Files& files, const settings::Settings& conf, const std::string& bridge, bool use_vnet,
               int lock_fd, audit::Record& rec);

}  // namespace tapgate::request
