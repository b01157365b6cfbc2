#include "process.hpp"

#include <fcntl.h>
#include <linux/close_range.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include "unique_fd.hpp"

namespace tapgate::process {

void ensure_standard_fds() {
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

void close_fds_except(int keep) {
    // close_range(2) exists since Linux 5.9; glibc 2.36 has no wrapper
    // before 2.34 on all targets, so call it directly.
    if (keep > 3) ::syscall(SYS_close_range, 3U, static_cast<unsigned>(keep - 1), 0U);
    ::syscall(SYS_close_range, static_cast<unsigned>(keep + 1), ~0U, 0U);
}

}  // namespace tapgate::process
