// SPDX-License-Identifier: GPL-2.0-or-later
#include "holders.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <string_view>

#include "unique_fd.hpp"

namespace tapgate::holders {

namespace {

struct DirCloser {
    void operator()(DIR* d) const { ::closedir(d); }
};
using Dir = std::unique_ptr<DIR, DirCloser>;

// The whole of a small /proc file, or empty.
std::string slurp(int dir, const char* name) {
    UniqueFd fd(::openat(dir, name, O_RDONLY | O_CLOEXEC));
    std::string out;
    if (!fd) return out;
    char buf[4096];
    for (ssize_t n; (n = ::read(fd.get(), buf, sizeof buf)) > 0;) out.append(buf, static_cast<std::size_t>(n));
    return out;
}

// QEMU's -name: "-name guest=vm1,debug-threads=on" (libvirt) or "-name vm1".
std::string vm_name(const std::string& cmdline) {
    std::vector<std::string_view> argv;
    for (std::size_t i = 0; i < cmdline.size();) {
        std::size_t end = cmdline.find('\0', i);
        if (end == std::string::npos) end = cmdline.size();
        argv.emplace_back(cmdline.data() + i, end - i);
        i = end + 1;
    }
    for (std::size_t i = 0; i + 1 < argv.size(); ++i) {
        if (argv[i] != "-name" && argv[i] != "--name") continue;
        std::string_view v = argv[i + 1];
        if (v.substr(0, 6) == "guest=") v.remove_prefix(6);
        return std::string(v.substr(0, v.find(',')));
    }
    return {};
}

}  // namespace

std::map<std::string, std::vector<Holder>> scan() {
    std::map<std::string, std::vector<Holder>> found;
    // fdinfo names a tap without its network namespace, and every
    // container has its own tap0: count the processes in ours only.
    struct stat here{};
    if (::stat("/proc/self/ns/net", &here) != 0) return found;
    Dir proc(::opendir("/proc"));
    if (!proc) return found;
    while (dirent* p = ::readdir(proc.get())) {
        char* end = nullptr;
        const long pid = std::strtol(p->d_name, &end, 10);
        if (*end || pid <= 0) continue;
        UniqueFd dir(::openat(::dirfd(proc.get()), p->d_name, O_PATH | O_DIRECTORY | O_CLOEXEC));
        if (!dir) continue;
        struct stat ns{};
        if (::fstatat(dir.get(), "ns/net", &ns, 0) != 0 || ns.st_dev != here.st_dev || ns.st_ino != here.st_ino)
            continue;
        UniqueFd fds_fd(::openat(dir.get(), "fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (!fds_fd) continue;  // another user's process, or gone
        Dir fds(::fdopendir(fds_fd.get()));
        if (!fds) continue;
        fds_fd.release();
        std::vector<std::string> taps;
        while (dirent* f = ::readdir(fds.get())) {
            if (f->d_name[0] == '.') continue;
            char target[64];
            ssize_t n = ::readlinkat(::dirfd(fds.get()), f->d_name, target, sizeof target - 1);
            if (n <= 0) continue;
            target[n] = '\0';
            if (std::strcmp(target, "/dev/net/tun") != 0) continue;
            const std::string info = slurp(dir.get(), ("fdinfo/" + std::string(f->d_name)).c_str());
            auto at = info.find("iff:\t");
            if (at == std::string::npos) continue;
            taps.push_back(info.substr(at + 5, info.find('\n', at) - at - 5));
        }
        if (taps.empty()) continue;
        Holder h;
        h.pid = static_cast<pid_t>(pid);
        h.vm = vm_name(slurp(dir.get(), "cmdline"));
        h.command = slurp(dir.get(), "comm");
        if (!h.command.empty() && h.command.back() == '\n') h.command.pop_back();
        for (const auto& t : taps) {
            auto& list = found[t];
            if (list.empty() || list.back().pid != h.pid) list.push_back(h);
        }
    }
    return found;
}

}  // namespace tapgate::holders
