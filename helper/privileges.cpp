// SPDX-License-Identifier: GPL-2.0-or-later
#include "privileges.hpp"

#include <cap-ng.h>
#include <grp.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <linux/capability.h>

#include <algorithm>
#include <cstdlib>
#include <vector>

#include "error.hpp"
#include "userns.hpp"

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

void verify(const Identity& want, bool keep_net_admin, const std::vector<unsigned>& effective,
            bool bounding_cleared) {
    auto kept = [&](unsigned c) { return std::find(effective.begin(), effective.end(), c) != effective.end(); };
    Ids now = current_ids();
    if (now.ruid != want.uid || now.euid != want.uid || now.suid != want.uid ||
        now.rgid != want.gid || now.egid != want.gid || now.sgid != want.gid)
        throw Error("privilege drop failed: process ids did not change");
    if (want.groups) {
        std::vector<gid_t> have(static_cast<std::size_t>(std::max(::getgroups(0, nullptr), 0)));
        if (::getgroups(static_cast<int>(have.size()), have.data()) != static_cast<int>(have.size()))
            throw system_error("privilege drop failed: cannot read the groups");
        std::vector<gid_t> wanted = *want.groups;
        std::sort(have.begin(), have.end());
        std::sort(wanted.begin(), wanted.end());
        wanted.erase(std::unique(wanted.begin(), wanted.end()), wanted.end());
        have.erase(std::unique(have.begin(), have.end()), have.end());
        if (have != wanted) throw Error("privilege drop failed: supplementary groups did not change");
    }
    if (::prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0) throw Error("privilege drop failed: still dumpable");
    if (::prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1) throw Error("privilege drop failed: no_new_privs not set");
    // A process that could get root back would make the drop meaningless.
    if (want.uid != 0 && (::setuid(0) == 0 || ::seteuid(0) == 0))
        throw Error("privilege drop failed: root can still be regained");
    capng_clear(CAPNG_SELECT_BOTH);
    if (capng_get_caps_process() != 0) throw Error("privilege drop failed: cannot read capabilities");
    for (int cap = 0; cap <= CAP_LAST_CAP; ++cap) {
        auto c = static_cast<unsigned>(cap);
        bool allowed = (keep_net_admin && cap == CAP_NET_ADMIN) || kept(c);
        if (!allowed && (capng_have_capability(CAPNG_EFFECTIVE, c) ||
                         capng_have_capability(CAPNG_PERMITTED, c) ||
                         capng_have_capability(CAPNG_INHERITABLE, c)))
            throw Error("privilege drop failed: capability " + std::to_string(cap) + " still held");
        if (bounding_cleared && capng_have_capability(CAPNG_BOUNDING_SET, c))
            throw Error("privilege drop failed: bounding set not cleared");
    }
    if (keep_net_admin && !capng_have_capability(CAPNG_PERMITTED, CAP_NET_ADMIN))
        throw Error("privilege drop failed: CAP_NET_ADMIN lost");
    if (!kept(CAP_NET_ADMIN) && capng_have_capability(CAPNG_EFFECTIVE, CAP_NET_ADMIN))
        throw Error("privilege drop failed: CAP_NET_ADMIN still effective");
    for (unsigned c : effective)
        if (!capng_have_capability(CAPNG_EFFECTIVE, c))
            throw Error("privilege drop failed: capability " + std::to_string(c) + " lost");
}

// Sets CAP_NET_ADMIN in or out of the effective set, leaving the rest.
// Without it permitted there is nothing to raise: the call that needs it
// then fails with EPERM and says what is missing.
// libcap-ng's state already mirrors the process here: every function in
// this file that changes the capabilities applies that state or reads it
// back afterwards, and nothing else in tapgate changes them. Reading them
// again would cost a capget and two renderings of /proc/PID/status per
// raise and per lower (libcap-ng reads the bounding and ambient sets too),
// four or more times a request.
void set_effective(bool on) {
    if (!capng_have_capability(CAPNG_PERMITTED, CAP_NET_ADMIN)) return;
    capng_update(on ? CAPNG_ADD : CAPNG_DROP, CAPNG_EFFECTIVE, CAP_NET_ADMIN);
    if (capng_apply(CAPNG_SELECT_CAPS) != 0)
        throw Error(on ? "cannot raise CAP_NET_ADMIN" : "cannot lower CAP_NET_ADMIN");
}

}  // namespace

void become(const Identity& who, bool keep_net_admin, const std::vector<unsigned>& effective) {
    if (capng_get_caps_process() != 0) throw Error("cannot read capabilities");
    keep_net_admin = keep_net_admin && capng_have_capability(CAPNG_PERMITTED, CAP_NET_ADMIN);
    const Ids ids = current_ids();
    const bool change_ids = ids.ruid != who.uid || ids.euid != who.uid || ids.suid != who.uid ||
                            ids.rgid != who.gid || ids.egid != who.gid || ids.sgid != who.gid;
    // Only a process with CAP_SETPCAP (setuid root, or root) can shrink the
    // bounding set; with a file capability it stays as inherited.
    const bool can_clear_bounding = capng_have_capability(CAPNG_EFFECTIVE, CAP_SETPCAP);

    if (who.groups && ::setgroups(who.groups->size(), who.groups->data()) != 0)
        throw system_error("cannot set the supplementary groups of uid " + std::to_string(who.uid));
    capng_clear(CAPNG_SELECT_BOTH);
    // Permitted only: it is raised around the calls that need it (see
    // NetAdmin), and is not effective while files are parsed or NSS
    // modules run in this process.
    if (keep_net_admin) capng_update(CAPNG_ADD, CAPNG_PERMITTED, CAP_NET_ADMIN);
    for (unsigned c : effective)
        capng_update(CAPNG_ADD, static_cast<capng_type_t>(CAPNG_EFFECTIVE | CAPNG_PERMITTED), c);
    if (change_ids) {
        if (capng_change_id(static_cast<int>(who.uid), static_cast<int>(who.gid),
                            can_clear_bounding ? CAPNG_CLEAR_BOUNDING : CAPNG_NO_FLAG) != 0)
            throw Error("cannot switch to user id " + std::to_string(who.uid));
    } else if (capng_apply(can_clear_bounding ? CAPNG_SELECT_BOTH : CAPNG_SELECT_CAPS) != 0) {
        throw Error("cannot drop capabilities");
    }
    // A process holding CAP_NET_ADMIN for a user must not be ptrace-able or
    // core-dumpable by that user.
    if (::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
        throw system_error("privilege drop failed: cannot make the process non-dumpable");
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        throw system_error("privilege drop failed: cannot set no_new_privs");
    verify(who, keep_net_admin, effective, can_clear_bounding);
}

void drop_to_net_admin() {
    // Setuid: the real ids, and the caller's supplementary groups as they
    // are (per-user include files rely on them).
    become({::getuid(), ::getgid(), std::nullopt}, true);
}

void drop_all() { become({::getuid(), ::getgid(), std::nullopt}, false); }

std::optional<std::string> why_no_taps(bool caller_nnp) {
    // After become(), whose verify() has just read them: libcap-ng's state
    // is the process's (see set_effective).
    if (!capng_have_capability(CAPNG_PERMITTED, CAP_NET_ADMIN))
        return caller_nnp ? "no_new_privs is set, so the kernel ignores tapgate's setuid bit"
                          : "tapgate has no CAP_NET_ADMIN (install it setuid root or with cap_net_admin+ep)";
    if (!userns::governs_network_namespace())
        return "tapgate runs in a user namespace whose capabilities do not reach this network namespace";
    return std::nullopt;
}

void root_admin(const std::vector<unsigned>& caps) {
    if (::getuid() != 0) throw Error("only root may do that");
    become({0, ::getgid(), std::nullopt}, false, caps);
}

bool no_new_privs() { return ::prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1; }

void keep_for_service() {
    capng_clear(CAPNG_SELECT_BOTH);
    for (unsigned cap : {CAP_NET_ADMIN, CAP_SETUID, CAP_SETGID, CAP_KILL})
        capng_update(CAPNG_ADD, static_cast<capng_type_t>(CAPNG_EFFECTIVE | CAPNG_PERMITTED), cap);
    if (capng_apply(CAPNG_SELECT_CAPS) != 0)
        throw Error("the service needs CAP_NET_ADMIN, CAP_SETUID, CAP_SETGID and CAP_KILL");
}

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
