// SPDX-License-Identifier: GPL-2.0-or-later
// Which processes hold a tap: every open /dev/net/tun file descriptor says
// in /proc/PID/fdinfo which device it is attached to. Reading another
// user's /proc/PID/fd takes CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH, which
// root's --list and --remove keep; a user sees their own processes only.
#pragma once

#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

namespace tapgate::holders {

struct Holder {
    pid_t pid = 0;
    std::string vm;       // QEMU's -name (guest=NAME,... or NAME), else empty
    std::string command;  // the program's name (comm)
};

// Tap name -> the processes in this network namespace holding a file
// descriptor attached to it. A process elsewhere can hold one too (a file
// descriptor passed on): the tap's carrier says whether anything does.
std::map<std::string, std::vector<Holder>> scan();

}  // namespace tapgate::holders
