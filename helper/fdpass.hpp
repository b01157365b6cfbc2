// SPDX-License-Identifier: GPL-2.0-or-later
// Unix sockets that carry fds: the socket QEMU or libvirt gave the helper
// (--fd=N), and the service's connections. Every send and receive is
// bounded in time: a peer that stops reading or writing holds nothing for
// long.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "unique_fd.hpp"

namespace tapgate::fdpass {

using Deadline = std::chrono::steady_clock::time_point;

// Throws tapgate::Error unless `fd` is an open, connected AF_UNIX stream
// socket (what QEMU's socketpair() gives): anything else would be a caller
// mistake, or an attempt to make a privileged process write elsewhere.
void check_socket(int fd);

// Who is at the other end, as the kernel saw it when the connection was
// made (SO_PEERCRED, SO_PEERGROUPS), in this process's user namespace.
struct Peer {
    pid_t pid = 0;
    uid_t uid = 0;
    gid_t gid = 0;
    std::vector<gid_t> groups;  // supplementary
};
// Throws tapgate::Error if the kernel does not say.
Peer peer(int socket);

// The pid of the process at the other end (for the audit log), 0 if the
// kernel does not say.
int peer_pid(int socket);

// Sends `fd` with SCM_RIGHTS and one byte of payload, as QEMU expects.
// Gives up (tapgate::Error) when the socket stays full for 5 s: a caller
// that never reads must not keep the helper and its tap alive.
void send(int socket, int fd);

// Sends `payload`, with `fd` attached to its first byte unless fd < 0,
// before `deadline`. Throws tapgate::Error.
void send_message(int socket, std::string_view payload, int fd, Deadline deadline);

// What came from the peer until it closed its end, `stop` was seen, or
// `max` bytes.
struct Message {
    std::string text;
    UniqueFd fd;              // the first fd that came with it, if any
    std::size_t extra_fds = 0;  // others, already closed
    bool too_long = false;    // more than `max` bytes came
};
// Reads before `deadline` (tapgate::Error "... did not ... in time"),
// stopping after the byte `stop` (or at end of file when stop < 0). Fds
// beyond the first are closed at once; every fd is close-on-exec.
Message receive(int socket, std::size_t max, int stop, Deadline deadline);

}  // namespace tapgate::fdpass
