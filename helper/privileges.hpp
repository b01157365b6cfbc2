// Privilege handling with libcap-ng. tapgate may run setuid root, with the
// file capability cap_net_admin+ep, or as root; in every case it keeps
// nothing but CAP_NET_ADMIN, and when setuid it becomes the real user.
#pragma once

namespace tapgate::privileges {

// Keeps only CAP_NET_ADMIN (effective + permitted) if the process has it,
// switches to the real uid/gid when setuid (supplementary groups stay: they
// are the caller's, and per-user ACL includes rely on them), clears the
// bounding set where possible, and verifies the result. Throws on failure.
void drop_to_net_admin();

// For modes that only read files as the caller (--check): no capability at
// all, real ids. Root stays root.
void drop_all();

// Whether CAP_NET_ADMIN is effective now.
bool have_net_admin();

}  // namespace tapgate::privileges
