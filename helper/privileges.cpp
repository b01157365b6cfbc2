#include "privileges.hpp"

#include <cap-ng.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <linux/capability.h>

#include <cstdlib>

#include "error.hpp"

namespace tapgate::privileges {

namespace {

struct Ids {
    uid_t ruid, euid, suid;
    gid_t rgid, egid, sgid;
};

Ids current_ids() {
    Ids ids{};
    if (::getresuid(&ids.ruid, &ids.euid, &ids.suid) != 0 ||
        ::getresgid(&ids.rgid, &ids.egid, &ids.sgid) != 0)
        throw system_error("cannot read process ids");
    return ids;
}

void verify(const Ids& want, bool keep_net_admin, bool bounding_cleared) {
    Ids now = current_ids();
    if (now.ruid != want.ruid || now.euid != want.ruid || now.suid != want.ruid ||
        now.rgid != want.rgid || now.egid != want.rgid || now.sgid != want.rgid)
        throw Error("privilege drop failed: process ids did not change");
    if (::prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0) throw Error("privilege drop failed: still dumpable");
    if (::prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1) throw Error("privilege drop failed: no_new_privs not set");
    // A process that could get root back would make the drop meaningless.
    if (want.ruid != 0 && (::setuid(0) == 0 || ::seteuid(0) == 0))
        throw Error("privilege drop failed: root can still be regained");
    capng_clear(CAPNG_SELECT_BOTH);
    if (capng_get_caps_process() != 0) throw Error("privilege drop failed: cannot read capabilities");
    for (int cap = 0; cap <= CAP_LAST_CAP; ++cap) {
        bool allowed = keep_net_admin && cap == CAP_NET_ADMIN;
        auto c = static_cast<unsigned>(cap);
        if (!allowed && (capng_have_capability(CAPNG_EFFECTIVE, c) ||
                         capng_have_capability(CAPNG_PERMITTED, c) ||
                         capng_have_capability(CAPNG_INHERITABLE, c)))
            throw Error("privilege drop failed: capability " + std::to_string(cap) + " still held");
        if (bounding_cleared && capng_have_capability(CAPNG_BOUNDING_SET, c))
            throw Error("privilege drop failed: bounding set not cleared");
    }
    if (keep_net_admin && !capng_have_capability(CAPNG_PERMITTED, CAP_NET_ADMIN))
        throw Error("privilege drop failed: CAP_NET_ADMIN lost");
    if (capng_have_capability(CAPNG_EFFECTIVE, CAP_NET_ADMIN))
        throw Error("privilege drop failed: CAP_NET_ADMIN still effective");
}

// Sets CAP_NET_ADMIN in or out of the effective set, leaving the rest.
// Without it permitted there is nothing to raise: the call that needs it
// then fails with EPERM and says what is missing.
void set_effective(bool on) {
    capng_clear(CAPNG_SELECT_BOTH);
    if (capng_get_caps_process() != 0) throw Error("cannot read capabilities");
    if (!capng_have_capability(CAPNG_PERMITTED, CAP_NET_ADMIN)) return;
    capng_update(on ? CAPNG_ADD : CAPNG_DROP, CAPNG_EFFECTIVE, CAP_NET_ADMIN);
    if (capng_apply(CAPNG_SELECT_CAPS) != 0)
        throw Error(on ? "cannot raise CAP_NET_ADMIN" : "cannot lower CAP_NET_ADMIN");
}

void drop(bool keep_net_admin) {
    Ids ids = current_ids();
    if (capng_get_caps_process() != 0) throw Error("cannot read capabilities");
    keep_net_admin = keep_net_admin && capng_have_capability(CAPNG_PERMITTED, CAP_NET_ADMIN);
    const bool setuid_root = ids.euid == 0 && ids.ruid != 0;
    // Only a process with CAP_SETPCAP (setuid root, or root) can shrink the
    // bounding set; with a file capability it stays as inherited.
    const bool can_clear_bounding = capng_have_capability(CAPNG_EFFECTIVE, CAP_SETPCAP);

    capng_clear(CAPNG_SELECT_BOTH);
    // Permitted only: it is raised around the calls that need it (see
    // NetAdmin), and is not effective while files are parsed or NSS
    // modules run in this process.
    if (keep_net_admin) capng_update(CAPNG_ADD, CAPNG_PERMITTED, CAP_NET_ADMIN);
    if (setuid_root) {
        if (capng_change_id(static_cast<int>(ids.ruid), static_cast<int>(ids.rgid),
                            CAPNG_CLEAR_BOUNDING) != 0)
            throw Error("cannot switch to the real user id " + std::to_string(ids.ruid));
    } else if (capng_apply(can_clear_bounding ? CAPNG_SELECT_BOTH : CAPNG_SELECT_CAPS) != 0) {
        throw Error("cannot drop capabilities");
    }
    // A process holding CAP_NET_ADMIN for a user must not be ptrace-able or
    // core-dumpable by that user.
    if (::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
        throw system_error("privilege drop failed: cannot make the process non-dumpable");
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        throw system_error("privilege drop failed: cannot set no_new_privs");
    verify(ids, keep_net_admin, can_clear_bounding);
}

}  // namespace

void drop_to_net_admin() { drop(true); }

void drop_all() { drop(false); }

NetAdmin::NetAdmin() { set_effective(true); }

NetAdmin::~NetAdmin() {
    // A capability left effective would outlive its purpose; nothing
    // sensible can carry on after failing to lower it.
    try {
        set_effective(false);
    } catch (const Error&) {
        std::abort();
    }
}

}  // namespace tapgate::privileges
