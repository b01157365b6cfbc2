// SPDX-License-Identifier: GPL-2.0-or-later
// The service path's floor, client side: what the least a helper that asks
// a service could do, in a program that loads libc only. It takes QEMU's
// command line, sends the bridge's name to the bench's floor server (an
// abstract socket in the bench's network namespace), receives the tap and
// passes it on over --fd=N. No policy, no privilege handling, no checks
// beyond what it needs to work: together with the server, which does only
// the kernel's tap work, it is the round trip no real service can undercut.
// Uses libc alone (built with --as-needed, it does not load libstdc++), and
// is built a second time statically.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "send_fd.hpp"

int main(int argc, char** argv) {
    int out = -1;
    const char* bridge = nullptr;
    for (int i = 1; i < argc; ++i) {
        if (std::strncmp(argv[i], "--fd=", 5) == 0) out = std::atoi(argv[i] + 5);
        else if (std::strncmp(argv[i], "--br=", 5) == 0) bridge = argv[i] + 5;
    }
    if (out < 0 || !bridge || std::strlen(bridge) >= 64) return 2;
    const int s = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr;
    const socklen_t len = tgbench::relay_floor_address(addr);
    if (s < 0 || ::connect(s, reinterpret_cast<sockaddr*>(&addr), len) != 0) return 3;
    if (::send(s, bridge, std::strlen(bridge) + 1, MSG_NOSIGNAL) < 0) return 4;

    const int tap = tgbench::recv_fd(s);
    if (tap < 0) return 5;
    return tgbench::send_fd(out, tap) ? 0 : 7;
}
