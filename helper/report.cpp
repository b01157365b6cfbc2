// SPDX-License-Identifier: GPL-2.0-or-later
#include "report.hpp"

#include <sys/ioctl.h>
#include <sys/stat.h>

#include <cstdio>
#include <ctime>

namespace tapgate::report {

void failure(const std::string& message, const char* program) {
    std::fprintf(stderr, "%s: %s\n", program, message.c_str());
    std::fflush(stderr);
    struct stat st{};
    if (::fstat(2, &st) != 0 || !S_ISFIFO(st.st_mode)) return;
    const timespec pause{0, 2'000'000};
    for (int i = 0; i < 100; ++i) {
        int unread = 0;
        if (::ioctl(2, FIONREAD, &unread) != 0) return;
        if (unread == 0) {
            const timespec stored{0, 10'000'000};
            ::nanosleep(&stored, nullptr);
            return;
        }
        ::nanosleep(&pause, nullptr);
    }
}

}  // namespace tapgate::report
