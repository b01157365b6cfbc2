// SPDX-License-Identifier: GPL-2.0-or-later
// tapgated: the tapgate service, for callers that cannot run a setuid
// program. systemd starts it when a client first connects to
// tapgate.socket and passes it the listening socket; it serves every
// connection in a child process that becomes the connecting user and runs
// the same request pipeline as the setuid helper (see service.hpp).
#include <systemd/sd-daemon.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "error.hpp"
#include "fault.hpp"
#include "privileges.hpp"
#include "process.hpp"
#include "report.hpp"
#include "service.hpp"

extern char** environ;

namespace tapgate {
namespace {

// The id SO_PEERCRED gives for a peer whose ids do not map into this user
// namespace.
unsigned overflow_id(const char* path) {
    unsigned id = 65534;
    if (std::FILE* f = std::fopen(path, "re")) {
        if (std::fscanf(f, "%u", &id) != 1) id = 65534;
        std::fclose(f);
    }
    return id;
}

// Whether this is the initial user namespace, where every id maps (its
// uid_map is the whole range).
bool initial_user_namespace() {
    unsigned long inside = 1, outside = 1, count = 0;
    std::FILE* f = std::fopen("/proc/self/uid_map", "re");
    if (!f) return false;
    const bool whole = std::fscanf(f, "%lu %lu %lu", &inside, &outside, &count) == 3 && inside == 0 &&
                       outside == 0 && count == 4294967295UL;
    std::fclose(f);
    return whole;
}

int run() {
    if (::geteuid() != 0) throw Error("tapgated must run as root: it becomes each caller in turn");
    const int n = ::sd_listen_fds(1);
    if (n < 0) throw system_error("cannot take the sockets systemd passed", -n);
    if (n != 1)
        throw Error("systemd passed " + std::to_string(n) +
                    " sockets, not one: start tapgated through tapgate.socket");
    const int listen_fd = SD_LISTEN_FDS_START;
    if (::sd_is_socket_unix(listen_fd, SOCK_STREAM, 1, nullptr, 0) <= 0)
        throw Error("the socket systemd passed is not a listening unix stream socket");

    service::State st;
    if (!initial_user_namespace()) {
        st.overflow_uid = overflow_id("/proc/sys/kernel/overflowuid");
        st.overflow_gid = overflow_id("/proc/sys/kernel/overflowgid");
    }
    privileges::keep_for_service();
    ::sd_notify(0, "READY=1");
    // Nothing after this reads the environment; the children run NSS
    // modules and libnl, which should not find anything there.
    process::clear_environment();
    return service::run(listen_fd, st);
}

}  // namespace
}  // namespace tapgate

int main() {
    tapgate::process::ensure_standard_fds();
    tapgate::fault::capture(environ);
    tapgate::fault::init();
    try {
        return tapgate::run();
    } catch (const tapgate::Error& e) {
        tapgate::report::failure(e.what(), "tapgated");
    } catch (const std::exception& e) {
        tapgate::report::failure(std::string("internal error: ") + e.what(), "tapgated");
    }
    return 1;
}
