// SPDX-License-Identifier: GPL-2.0-or-later
// User namespaces: whose capabilities count where, and who really asks.
// A process's capabilities count in the namespaces its user namespace owns;
// a uid the kernel reports for a process in a user namespace may be one of
// the subordinate uids (/etc/subuid) a user was given, not the user.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

namespace tapgate::userns {

// Whether this process's capabilities count in its network namespace: its
// user namespace owns that network namespace, or is an ancestor of the one
// that does. Not so for root inside a user namespace that a caller made
// (unshare -r, rootless containers) while the network is the host's.
// True when /proc cannot tell.
bool governs_network_namespace();

// For the process `pid` that connected to the service and whose uid the
// kernel gave as `uid`: why it may not be served as `uid`, or nullopt. It
// may when it is in the service's user namespace, or in a user namespace
// that `uid` made (directly, or with others nested in it). A subordinate
// uid (/etc/subuid) of someone's user namespace is not that someone, and
// not a user of its own either. Must run as `uid`: the kernel lets only
// it, with authority over the namespace, look into the process (which
// must be dumpable).
std::optional<std::string> foreign(pid_t pid, uid_t uid);

}  // namespace tapgate::userns
