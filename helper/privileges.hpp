// SPDX-License-Identifier: GPL-2.0-or-later
// Privilege handling with libcap-ng, and every change of uid, gid and
// groups the program makes. tapgate may run setuid root, with the file
// capability cap_net_admin+ep, or as root (the service); in every case it
// keeps nothing but CAP_NET_ADMIN, and runs as the user it serves.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

namespace tapgate::privileges {

// Whom the process becomes.
struct Identity {
    uid_t uid = 0;
    gid_t gid = 0;
    std::optional<std::vector<gid_t>> groups;  // supplementary; nullopt: as they are
};

// Becomes `who` for good (real, effective and saved ids), keeping only
// CAP_NET_ADMIN, permitted but not effective, if `keep_net_admin` and the
// process has it, and the capabilities in `effective` (see root_admin);
// clears the bounding set where possible, makes the process non-dumpable,
// sets no_new_privs, and verifies the result. Throws tapgate::Error on
// failure.
void become(const Identity& who, bool keep_net_admin, const std::vector<unsigned>& effective = {});

// Root's own admin modes: root keeps its ids and, of its capabilities,
// only `caps`, effective (CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH to see
// which processes hold a tap, CAP_NET_ADMIN to remove one). Throws unless the real user is root:
// a setuid start gives no one else these.
void root_admin(const std::vector<unsigned>& caps);

// The real user as it called us (setuid), with CAP_NET_ADMIN if the
// process has it (supplementary groups stay: they are the caller's, and
// per-user ACL includes rely on them).
void drop_to_net_admin();

// For modes that only read files as the caller (--check): no capability at
// all, real ids. Root stays root.
void drop_all();

// Why the process, after the drop, cannot create taps, or nullopt if it
// can: CAP_NET_ADMIN must be permitted, which it is not under no_new_privs
// (`caller_nnp`: the kernel ignored the setuid bit) or when installed with
// neither setuid nor the file capability, and must count in the network
// namespace, which it does not for root in a user namespace of the
// caller's making.
std::optional<std::string> why_no_taps(bool caller_nnp);

// Whether no_new_privs is set on this process (for the setuid helper: read
// before the drop, which sets it, it says whether the caller set it).
bool no_new_privs();

// For the service, which runs as root: keeps only what it needs, effective
// (CAP_NET_ADMIN for the taps; CAP_SETUID and CAP_SETGID to become each
// caller; CAP_KILL to stop a child that has become its caller). Throws
// tapgate::Error naming them if they cannot be had.
void keep_for_service();

// CAP_NET_ADMIN effective for the life of the object: only around the
// calls that need it (creating the tap, changing links). Throws
// tapgate::Error if it cannot be raised.
class NetAdmin {
public:
    NetAdmin();
    ~NetAdmin();
    NetAdmin(const NetAdmin&) = delete;
    NetAdmin& operator=(const NetAdmin&) = delete;
};

}  // namespace tapgate::privileges
