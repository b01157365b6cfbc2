// SPDX-License-Identifier: GPL-2.0-or-later
#include "audit.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include "acl.hpp"
#include "error.hpp"
#include "text.hpp"
#include "unique_fd.hpp"

namespace tapgate::audit {

namespace {

constexpr char log_path[] = "/dev/log";

// A socket connected to /dev/log: a datagram socket, or a stream socket
// where the system logger listens on one. Fails with the reason.
UniqueFd connect_log(int& type, std::string& why) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, log_path, sizeof log_path);
    for (int t : {SOCK_DGRAM, SOCK_STREAM}) {
        UniqueFd fd(::socket(AF_UNIX, t | SOCK_CLOEXEC, 0));
        if (!fd) {
            why = std::string("socket: ") + std::strerror(errno);
            return {};
        }
        // A logger that stopped reading must not hold the request up.
        const timeval limit{2, 0};
        ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
        if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0) {
            type = t;
            return fd;
        }
        why = std::string(log_path) + ": " + std::strerror(errno);
        if (errno != EPROTOTYPE) return {};
    }
    return {};
}

// The line as syslog(3) would send it: "<PRI>Mmm dd hh:mm:ss tapgate[PID]:
// LINE". Returns why it was not delivered, or nullopt.
std::optional<std::string> send_line(int priority, const std::string& line) {
    int type = 0;
    std::string why;
    UniqueFd fd = connect_log(type, why);
    if (!fd) return why;
    char stamp[32];
    const std::time_t now = std::time(nullptr);
    std::tm tm{};
    ::localtime_r(&now, &tm);
    // The environment is cleared and no locale is set: %b is English.
    std::strftime(stamp, sizeof stamp, "%b %e %T", &tm);
    std::string msg = "<" + std::to_string(priority) + ">" + stamp + " tapgate[" + std::to_string(::getpid()) +
                      "]: " + line;
    // A stream logger reads NUL-terminated records.
    if (type == SOCK_STREAM) msg += '\0';
    for (std::size_t sent = 0; sent < msg.size();) {
        const ssize_t n = ::send(fd.get(), msg.data() + sent, msg.size() - sent, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return std::string(log_path) + ": " + std::strerror(errno == EAGAIN ? ETIMEDOUT : errno);
        sent += static_cast<std::size_t>(n);
    }
    return std::nullopt;
}

void put(std::string& line, const char* key, const std::string& value) {
    line += ' ';
    line += key;
    line += '=';
    // Values come from the caller (bridge) or from config files: escaped,
    // so one request is one parseable line.
    line += text::printable(value);
}

std::optional<std::string> emit(const Record& r, int priority, const std::string& line) {
    if (!r.enabled) return std::nullopt;
    const int facility = r.facility >= 0 ? r.facility : LOG_AUTHPRIV;
    return send_line(facility | priority, line);
}

}  // namespace

std::string format(const Record& r, bool granted, const std::string& reason) {
    std::string line = granted ? "granted:" : "refused:";
    put(line, "user", r.user.empty() ? "?" : r.user);
    put(line, "uid", std::to_string(r.uid));
    put(line, "pid", r.pid ? std::to_string(r.pid) : "?");
    put(line, "via", r.via);
    put(line, "bridge", r.bridge.empty() ? "?" : r.bridge);
    if (!r.tap.empty()) put(line, "tap", r.tap);
    if (r.vlan) put(line, "vlan", std::to_string(r.vlan));
    if (!r.rule.empty()) put(line, "rule", r.rule);
    if (!r.guest_mac.empty()) put(line, "guest_mac", r.guest_mac);
    if (!granted) {
        line += " reason=\"";
        // Whole (printable() cuts at 64 characters), with quotes, backslashes
        // and control bytes as \xNN so the line stays one parseable record.
        static constexpr char hex[] = "0123456789abcdef";
        for (char c : reason) {
            auto u = static_cast<unsigned char>(c);
            if (c == '"' || c == '\\' || u < 0x20 || u == 0x7f) {
                line += "\\x";
                line += hex[u >> 4];
                line += hex[u & 15];
            } else {
                line += c;
            }
        }
        line += '"';
    }
    return line;
}

void granted(const Record& r) {
    auto lost = emit(r, LOG_INFO, format(r, true, {}));
    if (lost && r.required)
        throw Error("the audit log is required (syslog = required) and the grant could not be logged: " + *lost);
}

void refused(const Record& r, const std::string& reason) { emit(r, LOG_NOTICE, format(r, false, reason)); }

std::optional<std::string> unreachable() {
    int type = 0;
    std::string why;
    if (connect_log(type, why)) return std::nullopt;
    return why;
}

}  // namespace tapgate::audit
