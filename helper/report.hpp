// SPDX-License-Identifier: GPL-2.0-or-later
// How a failure reaches the caller: QEMU copies the helper's stderr to its
// own, libvirt shows it to the user (virt-manager in a dialog), so every
// failure is one line, "tapgate: MESSAGE".
#pragma once

#include <string>

namespace tapgate::report {

// Writes the line ("PROGRAM: MESSAGE"). When stderr is a pipe, it then waits (200 ms at most)
// until the reader has taken it: libvirt reads the helper's stderr on
// another thread and looks at what it has as soon as the helper's exit
// closes the socket, so an exit right after the write can leave the user
// an empty "stderr=". Taken is not yet stored: that thread still appends
// the bytes to its buffer, which the other reads without a lock, so the
// wait ends a moment after the pipe is empty (else the user may see the
// line with stray bytes after it).
void failure(const std::string& message, const char* program = "tapgate");

}  // namespace tapgate::report
