// SPDX-License-Identifier: GPL-2.0-or-later
// What the bench's floors share (libc only: relay-floor.cpp must not
// load libstdc++): the service floor's socket address, and one
// byte with one fd, as the helper contract passes a tap, both ways.
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

// One byte and room for one fd: the message a tap travels in.
struct OneFdMessage {
    char byte = 0;
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    iovec iov{&byte, 1};
    msghdr m{};
    OneFdMessage() {
        m.msg_iov = &iov;
        m.msg_iovlen = 1;
        m.msg_control = control;
        m.msg_controllen = sizeof control;
    }
    OneFdMessage(const OneFdMessage&) = delete;
    OneFdMessage& operator=(const OneFdMessage&) = delete;
};

inline bool send_fd(int sock, int fd) {
    OneFdMessage msg;
    cmsghdr* c = CMSG_FIRSTHDR(&msg.m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &fd, sizeof fd);
    return ::sendmsg(sock, &msg.m, MSG_NOSIGNAL) == 1;
}

// The fd of such a message (close-on-exec), or -1.
inline int recv_fd(int sock) {
    OneFdMessage msg;
    if (::recvmsg(sock, &msg.m, MSG_CMSG_CLOEXEC) != 1) return -1;
    const cmsghdr* c = CMSG_FIRSTHDR(&msg.m);
    if (!c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) return -1;
    int fd;
    std::memcpy(&fd, CMSG_DATA(c), sizeof fd);
    return fd;
}

}  // namespace tgbench
