// The socket QEMU or libvirt gave us (--fd=N) and sending the tap over it.
#pragma once

namespace tapgate::fdpass {

// Throws tapgate::Error unless `fd` is an open, connected AF_UNIX stream
// socket (what QEMU's socketpair() gives): anything else would be a caller
// mistake, or an attempt to make a privileged process write elsewhere.
void check_socket(int fd);

// The pid of the process at the other end (for the audit log), 0 if the
// kernel does not say.
int peer_pid(int socket);

// Sends `fd` with SCM_RIGHTS and one byte of payload, as QEMU expects.
// Gives up (tapgate::Error) when the socket stays full for 5 s: a caller
// that never reads must not keep the helper and its tap alive.
void send(int socket, int fd);

}  // namespace tapgate::fdpass
