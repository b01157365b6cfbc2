#include "process.hpp"

#include <fcntl.h>
#include <sys/auxv.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <algorithm>
#include <vector>

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

namespace {

// Runs before every shared library's constructor and before our own static
// initialisers: libnl reads NLDBG and NLCB in its constructors, so clearing
// the environment in main() would be too late. `environ` is not set yet
// here; envp is the same array.
void scrub_environment(int, char**, char** envp) {
    if (!envp) return;
    fault::capture(envp);
    envp[0] = nullptr;
}

[[gnu::section(".preinit_array"), gnu::used]] void (*const early_scrub)(int, char**, char**) =
    scrub_environment;

}  // namespace

void close_fds_except(std::initializer_list<int> keep) {
    // One call per range instead of a close() per possible fd: the caller
    // may have set RLIMIT_NOFILE to millions. (Linux 5.9, glibc 2.34.)
    std::vector<unsigned> sorted;
    for (int fd : keep)
        if (fd > 2) sorted.push_back(static_cast<unsigned>(fd));
    std::sort(sorted.begin(), sorted.end());
    unsigned from = 3;
    for (unsigned fd : sorted) {
        if (fd > from) ::close_range(from, fd - 1, 0);
        from = fd + 1;
    }
    ::close_range(from, ~0U, 0);
}

void wait_for_stderr_reader() {
    std::fflush(stderr);
    struct stat st{};
    if (::fstat(2, &st) != 0 || !S_ISFIFO(st.st_mode)) return;
    for (int i = 0; i < 100; ++i) {
        int unread = 0;
        if (::ioctl(2, FIONREAD, &unread) != 0 || unread == 0) return;
        timespec pause{0, 2'000'000};
        ::nanosleep(&pause, nullptr);
    }
}

}  // namespace tapgate::process
