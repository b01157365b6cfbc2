// Privilege handling with libcap-ng. tapgate may run setuid root, with the
// file capability cap_net_admin+ep, or as root; in every case it keeps
// nothing but CAP_NET_ADMIN, and when setuid it becomes the real user.
#pragma once

namespace tapgate::privileges {

// Keeps only CAP_NET_ADMIN, permitted but not effective, if the process has it,
// switches to the real uid/gid when setuid (supplementary groups stay: they
// are the caller's, and per-user ACL includes rely on them), clears the
// bounding set where possible, and verifies the result. Throws on failure.
void drop_to_net_admin();

// For modes that only read files as the caller (--check): no capability at
// all, real ids. Root stays root.
void drop_all();

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
