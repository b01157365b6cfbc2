// SPDX-License-Identifier: GPL-2.0-or-later
// The service front-end: for callers that cannot run a setuid program
// (no_new_privs: Flatpak, NoNewPrivileges=, containers). tapgated listens
// on a unix socket that systemd passes it; each connection is served by a
// child process that becomes the connecting user, as the kernel names it
// (SO_PEERCRED, SO_PEERGROUPS), and runs the same request pipeline as the
// setuid helper. The tap goes back over the connection to tapgate, which
// hands it to QEMU.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>


namespace tapgate::service {

struct Limits {
    unsigned children = 64;  // connections served at once
    unsigned per_user = 8;   // of them, by one uid: one user cannot starve the others
    // A client must have sent its request by then (a silent one holds a
    // child this long at most)...
    std::chrono::milliseconds request{2000};
    // ...and every child is killed by then, whatever it waits for (a user
    // database that does not answer, a caller that does not read).
    std::chrono::milliseconds child{30000};
};

struct State {
    // What SO_PEERCRED gives for ids that do not map into the service's
    // user namespace; nullopt in the initial one, where every id maps.
    std::optional<uid_t> overflow_uid;
    std::optional<gid_t> overflow_gid;
    Limits limits;
};

// Serves connections on `listen_fd` until SIGTERM or SIGINT. Returns the
// exit status. Throws tapgate::Error when it cannot start.
int run(int listen_fd, const State& state);

}  // namespace tapgate::service
