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

int peer_pid(int socket) {
    ucred cred{};
    socklen_t len = sizeof cred;
    if (::getsockopt(socket, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return 0;
    return cred.pid;
}

void send(int socket, int fd) {
    char payload = 0;
    iovec iov{&payload, 1};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(cmsg), &fd, sizeof fd);
    // A caller that never reads (its end of the socket full) would keep
    // this process, and the tap, alive for ever: non-blocking sends under a
    // deadline. Not SO_SNDTIMEO: the caller shares the socket and could
    // reset it.
    const auto deadline = std::chrono::steady_clock::now() + send_timeout;
    for (;;) {
        // MSG_NOSIGNAL: a caller that went away must give an error to report,
        // not a SIGPIPE that kills us silently.
        ssize_t n = ::sendmsg(socket, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n == 1) return;
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EPIPE) throw Error("cannot send the tap: the caller closed the socket");
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0)
                throw Error("cannot send the tap: the caller has not read its socket for " +
                            std::to_string(send_timeout.count()) + " s");
            pollfd p{socket, POLLOUT, 0};
            ::poll(&p, 1, static_cast<int>(left.count()));
            continue;
        }
        throw system_error("cannot send the tap to the caller");
    }
}

}  // namespace tapgate::fdpass
