// SPDX-License-Identifier: GPL-2.0-or-later
#include "process.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/auxv.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "error.hpp"
#include "fault.hpp"
#include "unique_fd.hpp"

namespace tapgate::process {

void ensure_standard_fds() {
    // Setuid or file capabilities (AT_SECURE): glibc has already reopened
    // closed standard fds before main(), on /dev/full and /dev/null.
    if (::getauxval(AT_SECURE)) return;
    for (int fd = 0; fd <= 2; ++fd) {
        if (::fcntl(fd, F_GETFD) != -1 || errno != EBADF) continue;
        // open() returns the lowest free fd, which is this one.
        int got = ::open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);
        if (got != fd) std::abort();  // no way to report anything safely
    }
}

void clear_environment() {
    ::clearenv();
}

void scrub_environment(char** envp) {
    if (!envp) return;
    fault::capture(envp);
    envp[0] = nullptr;
}

namespace {

// Without close_range (a kernel before 5.9, or a filter that forbids it):
// the fds that are open, from /proc/self/fd, one close() each.
void close_listed_fds(const std::vector<unsigned>& keep) {
    UniqueFd dir_fd(::open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    DIR* dir = dir_fd ? ::fdopendir(dir_fd.get()) : nullptr;
    if (!dir) throw system_error("cannot close inherited file descriptors (no /proc/self/fd)");
    dir_fd.release();
    std::vector<unsigned> open;
    while (dirent* e = ::readdir(dir)) {
        unsigned fd = 0;
        auto [end, ec] = std::from_chars(e->d_name, e->d_name + std::strlen(e->d_name), fd);
        if (ec == std::errc() && *end == '\0' && fd > 2 && static_cast<int>(fd) != ::dirfd(dir))
            open.push_back(fd);
    }
    ::closedir(dir);
    for (unsigned fd : open)
        if (std::find(keep.begin(), keep.end(), fd) == keep.end() && ::close(static_cast<int>(fd)) != 0 &&
            errno != EINTR)
            throw system_error("cannot close inherited file descriptor " + std::to_string(fd));
}

}  // namespace

void close_fds_except(std::initializer_list<int> keep) {
    // One call per range instead of a close() per possible fd: the caller
    // may have set RLIMIT_NOFILE to millions. (Linux 5.9, glibc 2.34.)
    std::vector<unsigned> sorted;
    for (int fd : keep)
        if (fd > 2) sorted.push_back(static_cast<unsigned>(fd));
    std::sort(sorted.begin(), sorted.end());
    unsigned from = 3;
    bool ok = true;
    for (unsigned fd : sorted) {
        if (fd > from) ok = ok && ::close_range(from, fd - 1, 0) == 0;
        from = fd + 1;
    }
    ok = ok && ::close_range(from, ~0U, 0) == 0;
    if (!ok) close_listed_fds(sorted);
}


}  // namespace tapgate::process
