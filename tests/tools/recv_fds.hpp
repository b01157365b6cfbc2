// SPDX-License-Identifier: GPL-2.0-or-later
// The QEMU side of the helper protocol, for the test and bench programs:
// one recvmsg() on the socket, as QEMU's net_bridge_run_helper() does, with
// room for several fds so that a helper sending more than one is seen.
#pragma once

#include <sys/socket.h>
#include <sys/types.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace tgtest {

struct Received {
    ssize_t bytes = -1;     // recvmsg's result: payload bytes, 0 at end of file
    int error = 0;          // errno when bytes < 0
    bool ctrunc = false;    // more fds were sent than there was room for
    std::vector<int> fds;   // every fd that arrived, in order; the caller owns them
};

// flags: MSG_CMSG_CLOEXEC, MSG_DONTWAIT... Retries on EINTR.
inline Received receive_fds(int sock, int flags) {
    Received r;
    char payload[16];
    iovec iov{payload, sizeof payload};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 8)] = {};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    do {
        r.bytes = ::recvmsg(sock, &msg, flags);
    } while (r.bytes < 0 && errno == EINTR);
    if (r.bytes < 0) {
        r.error = errno;
        return r;
    }
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        const std::size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (std::size_t k = 0; k < count; ++k) {
            int fd;
            std::memcpy(&fd, CMSG_DATA(c) + k * sizeof(int), sizeof fd);
            r.fds.push_back(fd);
        }
    }
    r.ctrunc = (msg.msg_flags & MSG_CTRUNC) != 0;
    return r;
}

}  // namespace tgtest
