// SPDX-License-Identifier: GPL-2.0-or-later
#include "client.hpp"

#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "config.h"
#include "error.hpp"
#include "fdpass.hpp"
#include "unique_fd.hpp"
#include "wire.hpp"

namespace tapgate::client {

namespace {

// Longer than the service gives any request (it kills a child after 30 s).
constexpr std::chrono::seconds reply_timeout{40};

// How long to wait for the service to take the connection: at its limit,
// connections wait in the socket's backlog, and once that is full a
// blocking connect() would wait for ever.
constexpr std::chrono::seconds connect_timeout{10};

// A connection to the service, or an invalid fd if nothing listens there.
UniqueFd connect_service() {
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd) throw system_error("cannot make a socket for the service");
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    static_assert(sizeof TAPGATE_SERVICE_SOCKET <= sizeof addr.sun_path, "service socket path too long");
    std::memcpy(addr.sun_path, TAPGATE_SERVICE_SOCKET, sizeof TAPGATE_SERVICE_SOCKET);
    const auto deadline = std::chrono::steady_clock::now() + connect_timeout;
    // A unix socket whose backlog is full says EAGAIN at once, instead of
    // EINPROGRESS: try again until the deadline.
    while (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        if (errno == EINTR) continue;
        if (errno == ENOENT || errno == ECONNREFUSED) return UniqueFd();
        if (errno == EAGAIN && std::chrono::steady_clock::now() < deadline) {
            ::usleep(20'000);
            continue;
        }
        if (errno == EAGAIN) throw Error("the tapgate service is too busy to take the request");
        throw system_error(std::string("cannot reach the tapgate service at ") + TAPGATE_SERVICE_SOCKET);
    }
    return fd;
}

// Sends the request and reads the whole reply (the service closes the
// connection after it).
std::optional<fdpass::Message> ask(const wire::Request& req) {
    // The service checks, as this user, which user namespace this process
    // is in (a subordinate uid is not its user): that takes a dumpable
    // process. This one holds no privilege by now.
    if (::prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) != 0) throw system_error("cannot become dumpable for the service");
    UniqueFd conn = connect_service();
    if (!conn) return std::nullopt;
    const auto deadline = std::chrono::steady_clock::now() + reply_timeout;
    try {
        fdpass::Message m;
        try {
            fdpass::send_message(conn.get(), wire::encode(req), -1, deadline);
            m = fdpass::receive(conn.get(), wire::max_reply, -1, deadline);
        } catch (const Error&) {
            // The service may refuse before it reads the request (a user
            // over its limit is turned away at once) and close: then the
            // send fails, and the refusal is there to be read all the same.
            try {
                m = fdpass::receive(conn.get(), wire::max_reply, -1, std::chrono::steady_clock::now());
            } catch (const Error&) {
            }
            if (m.text.empty()) throw;
        }
        if (m.too_long) throw Error("its reply is too long");
        if (m.text.empty()) throw Error("it closed the connection");
        return m;
    } catch (const Error& e) {
        throw Error(std::string("the tapgate service did not answer: ") + e.what());
    }
}

}  // namespace

bool request_tap(int sock, const std::string& bridge, bool use_vnet) {
    auto m = ask({false, use_vnet, bridge});
    if (!m) return false;
    const wire::Reply reply = wire::decode_reply(m->text);
    if (reply.kind == wire::Reply::Kind::refused) throw Refused(reply.text);
    if (reply.kind == wire::Reply::Kind::declined) throw Error(reply.text);
    if (reply.kind != wire::Reply::Kind::ok || !m->fd)
        throw Error("the tapgate service answered without a tap");
    fdpass::send(sock, m->fd.get());
    return true;
}

std::optional<int> explain(std::FILE* out, const std::string& bridge) {
    auto m = ask({true, false, bridge});
    if (!m) return std::nullopt;
    const wire::Reply reply = wire::decode_reply(m->text);
    if (reply.kind == wire::Reply::Kind::refused || reply.kind == wire::Reply::Kind::declined)
        throw Error(reply.text);
    if (reply.kind != wire::Reply::Kind::explain) throw Error("the tapgate service answered out of turn");
    std::fputs(reply.text.c_str(), out);
    return reply.status;
}

}  // namespace tapgate::client
