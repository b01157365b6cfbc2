// SPDX-License-Identifier: GPL-2.0-or-later
// What the service floor's client and server share (libc only:
// relay-floor.cpp must not load libstdc++): the socket's address, and one
// byte with one fd, as the helper contract passes a tap.
#pragma once
#include <sys/socket.h>
#include <sys/un.h>

#include <cstddef>
#include <cstring>

namespace tgbench {

// The floor server's abstract socket, in the bench's network namespace:
// fills `addr` and returns its length.
inline socklen_t relay_floor_address(sockaddr_un& addr) {
    static constexpr char name[] = "\0tapgate-bench-relay-floor";
    addr = {};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, name, sizeof name - 1);
    return static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + sizeof name - 1);
}

inline bool send_fd(int sock, int fd) {
    char byte = 0;
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    iovec iov{&byte, 1};
    msghdr m{};
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = control;
    m.msg_controllen = sizeof control;
    cmsghdr* c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &fd, sizeof fd);
    return ::sendmsg(sock, &m, MSG_NOSIGNAL) == 1;
}

}  // namespace tgbench
