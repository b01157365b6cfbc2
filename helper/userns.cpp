// SPDX-License-Identifier: GPL-2.0-or-later
#include "userns.hpp"

#include <fcntl.h>
#include <linux/nsfs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "unique_fd.hpp"

namespace tapgate::userns {

namespace {

bool same(int a, int b) {
    struct stat sa{}, sb{};
    return ::fstat(a, &sa) == 0 && ::fstat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

UniqueFd open_ns(int dir, const char* name) {
    return UniqueFd(::openat(dir, name, O_RDONLY | O_CLOEXEC));
}

// The real uid in a /proc/PID/status, as this process's namespace sees it.
std::optional<uid_t> real_uid(int proc_dir) {
    UniqueFd fd(::openat(proc_dir, "status", O_RDONLY | O_CLOEXEC));
    if (!fd) return std::nullopt;
    char buf[4096];
    ssize_t n = ::read(fd.get(), buf, sizeof buf - 1);
    if (n <= 0) return std::nullopt;
    buf[n] = '\0';
    const char* line = std::strstr(buf, "\nUid:");
    unsigned long uid = 0;
    if (!line || std::sscanf(line + 5, "%lu", &uid) != 1) return std::nullopt;
    return static_cast<uid_t>(uid);
}

}  // namespace

bool governs_network_namespace() {
    UniqueFd self(::open("/proc/self/ns", O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!self) return true;
    UniqueFd mine = open_ns(self.get(), "user");
    UniqueFd net = open_ns(self.get(), "net");
    if (!mine || !net) return true;
    // EPERM: the owner is outside this process's namespaces, so this one
    // is no ancestor of it.
    UniqueFd owner(::ioctl(net.get(), NS_GET_USERNS));
    if (!owner) return errno != EPERM;
    // Up from the network namespace's owner: meeting ours makes us its
    // owner or an ancestor. Past the top, the kernel says EPERM.
    while (!same(owner.get(), mine.get())) {
        UniqueFd parent(::ioctl(owner.get(), NS_GET_PARENT));
        if (!parent) return false;
        owner = std::move(parent);
    }
    return true;
}

std::optional<std::string> foreign(pid_t pid, uid_t uid) {
    const std::string asked = "the process that asked (pid " + std::to_string(pid) + ")";
    // Everything below is read through this one directory, which stays the
    // same process: if it exits, the reads fail rather than find another.
    UniqueFd proc(::open(("/proc/" + std::to_string(pid)).c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    const auto real = proc ? real_uid(proc.get()) : std::nullopt;
    // The pid was read when the connection was made; should it belong to
    // another process by now, that one must have the same uid, here.
    if (!real || *real != uid) return asked + " went away";
    UniqueFd mine(::open("/proc/self/ns/user", O_RDONLY | O_CLOEXEC));
    if (!mine) return std::string("the tapgate service cannot see its own user namespace: ") + std::strerror(errno);
    // Opening another process's namespace takes its uid and, if it is in
    // another user namespace, authority over that namespace: the kernel
    // grants it to the namespace's owner, not to a subordinate uid.
    UniqueFd ns(::openat(proc.get(), "ns/user", O_RDONLY | O_CLOEXEC));
    if (!ns && (errno == EACCES || errno == EPERM))
        return asked + " is in a user namespace that uid " + std::to_string(uid) +
               " does not own (a subordinate uid is not a user of its own), or is not dumpable";
    if (!ns) return "the tapgate service cannot see " + asked + ": " + std::strerror(errno);
    if (same(ns.get(), mine.get())) return std::nullopt;
    UniqueFd top = std::move(ns);
    for (;;) {
        UniqueFd parent(::ioctl(top.get(), NS_GET_PARENT));
        if (!parent) return asked + " is in a user namespace outside the service's";
        if (same(parent.get(), mine.get())) break;
        top = std::move(parent);
    }
    uid_t owner = 0;
    if (::ioctl(top.get(), NS_GET_OWNER_UID, &owner) != 0)
        return std::string("the tapgate service cannot tell who made the user namespace of the process that asked");
    if (owner != uid)
        return "uid " + std::to_string(uid) + " is a subordinate uid of a user namespace that uid " +
               std::to_string(owner) + " made: ask as uid " + std::to_string(owner);
    return std::nullopt;
}

}  // namespace tapgate::userns
