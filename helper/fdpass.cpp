// SPDX-License-Identifier: GPL-2.0-or-later
#include "fdpass.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <chrono>
#include <cstring>
#include <string>

#include "error.hpp"

namespace tapgate::fdpass {

namespace {
constexpr std::chrono::seconds send_timeout{5};
}  // namespace

void check_socket(int fd) {
    const std::string what = "--fd=" + std::to_string(fd);
    struct stat st{};
    if (::fstat(fd, &st) != 0) {
        if (errno == EBADF) throw Error(what + ": no such open file descriptor");
        throw system_error(what);
    }
    if (!S_ISSOCK(st.st_mode)) throw Error(what + ": not a socket");
    int domain = 0, type = 0, listening = 0;
    socklen_t len = sizeof domain;
    if (::getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) != 0) throw system_error(what);
    if (domain != AF_UNIX) throw Error(what + ": not a unix domain socket");
    len = sizeof type;
    if (::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0) throw system_error(what);
    if (type != SOCK_STREAM) throw Error(what + ": not a stream socket");
    len = sizeof listening;
    if (::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0) throw system_error(what);
    if (listening) throw Error(what + ": a listening socket, not a connected one");
    sockaddr_un peer{};
    len = sizeof peer;
    if (::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &len) != 0) {
        if (errno == ENOTCONN) throw Error(what + ": socket is not connected");
        throw system_error(what);
    }
}

Peer peer(int socket) {
    Peer p;
    ucred cred{};
    socklen_t len = sizeof cred;
    if (::getsockopt(socket, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0)
        throw system_error("cannot tell who is connected");
    p.pid = cred.pid;
    p.uid = cred.uid;
    p.gid = cred.gid;
    p.groups.resize(16);
    for (;;) {
        len = static_cast<socklen_t>(p.groups.size() * sizeof(gid_t));
        if (::getsockopt(socket, SOL_SOCKET, SO_PEERGROUPS, p.groups.data(), &len) == 0) break;
        // ERANGE: len now says how much room the groups need.
        if (errno != ERANGE || len <= p.groups.size() * sizeof(gid_t))
            throw system_error("cannot tell the groups of who is connected");
        p.groups.resize(len / sizeof(gid_t));
    }
    p.groups.resize(len / sizeof(gid_t));
    return p;
}

int peer_pid(int socket) {
    ucred cred{};
    socklen_t len = sizeof cred;
    if (::getsockopt(socket, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return 0;
    return cred.pid;
}

namespace {

// Milliseconds left before `deadline`, at least 0.
int left_ms(Deadline deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    return left.count() > 0 ? static_cast<int>(left.count()) : 0;
}

}  // namespace

void send(int socket, int fd) {
    try {
        send_message(socket, std::string_view("\0", 1), fd, std::chrono::steady_clock::now() + send_timeout);
    } catch (const Error& e) {
        throw Error(std::string("cannot send the tap: ") + e.what());
    }
}

void send_message(int socket, std::string_view payload, int fd, Deadline deadline) {
    const auto seconds = std::chrono::ceil<std::chrono::seconds>(deadline - std::chrono::steady_clock::now());
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    while (!payload.empty()) {
        iovec iov{const_cast<char*>(payload.data()), payload.size()};
        msghdr msg{};
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        if (fd >= 0) {
            msg.msg_control = control;
            msg.msg_controllen = sizeof control;
            cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
            cmsg->cmsg_level = SOL_SOCKET;
            cmsg->cmsg_type = SCM_RIGHTS;
            cmsg->cmsg_len = CMSG_LEN(sizeof(int));
            std::memcpy(CMSG_DATA(cmsg), &fd, sizeof fd);
        }
        // Non-blocking sends under a deadline: a peer that never reads (its
        // end of the socket full) would keep this process, and what it
        // holds, alive for ever. Not SO_SNDTIMEO: the peer shares the
        // socket and could reset it. MSG_NOSIGNAL: a peer that went away
        // must give an error to report, not a SIGPIPE that kills us.
        ssize_t n = ::sendmsg(socket, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            payload.remove_prefix(static_cast<std::size_t>(n));
            fd = -1;  // it went with the first bytes
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EPIPE) throw Error("the caller closed the socket");
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            int ms = left_ms(deadline);
            if (ms == 0)
                throw Error("the caller has not read its socket for " + std::to_string(seconds.count()) + " s");
            pollfd p{socket, POLLOUT, 0};
            ::poll(&p, 1, ms);
            continue;
        }
        throw system_error("cannot write to the caller");
    }
}

Message receive(int socket, std::size_t max, int stop, Deadline deadline) {
    Message m;
    char buf[4096];
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 8)];
    for (;;) {
        iovec iov{buf, std::min(sizeof buf, max + 1 - m.text.size())};
        msghdr msg{};
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control;
        msg.msg_controllen = sizeof control;
        ssize_t n = ::recvmsg(socket, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            int ms = left_ms(deadline);
            if (ms == 0) throw Error("nothing came in time");
            pollfd p{socket, POLLIN, 0};
            ::poll(&p, 1, ms);
            continue;
        }
        // A peer that closed with our data unread resets the connection;
        // what it had sent before is still the message.
        if (n < 0 && errno == ECONNRESET && !m.text.empty()) return m;
        if (n < 0) throw system_error("cannot read from the socket");
        for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
            if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
            const std::size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            for (std::size_t k = 0; k < count; ++k) {
                int fd = -1;
                std::memcpy(&fd, CMSG_DATA(c) + k * sizeof(int), sizeof fd);
                if (!m.fd) {
                    m.fd.reset(fd);
                } else {
                    UniqueFd extra(fd);
                    ++m.extra_fds;
                }
            }
        }
        // More fds than room for them: the kernel closed the rest.
        if (msg.msg_flags & MSG_CTRUNC) ++m.extra_fds;
        if (n == 0) return m;
        m.text.append(buf, static_cast<std::size_t>(n));
        if (m.text.size() > max) {
            m.too_long = true;
            return m;
        }
        if (stop >= 0 && m.text.find(static_cast<char>(stop)) != std::string::npos) return m;
    }
}

}  // namespace tapgate::fdpass
