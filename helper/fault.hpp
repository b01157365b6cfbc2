// SPDX-License-Identifier: GPL-2.0-or-later
// Test-only fault injection (meson -Dfault_injection=true): stops, holds or
// kills the helper (or a child of the service) at a named step, so that
// tests can prove a kill at any point leaves nothing behind. Compiled to
// nothing in normal builds, where the environment variable below is never
// read.
#pragma once

#include "config.h"

namespace tapgate::fault {

#if TAPGATE_FAULT_INJECTION
// Keeps TAPGATE_FAULT="STEP:ACTION" (ACTION: kill, stop or exit; hang,
// which waits there until killed, without stopping: the service ends a
// stopped child at once; or caps or fds, which report the capability sets
// or the open fds and go on, with STEP "all" for every step) from the
// environment before it is scrubbed. The service passes it to its
// children.
void capture(char** envp);
void init();
// Acts when the step named in TAPGATE_FAULT is reached.
void point(const char* step);
#else
inline void capture(char**) {}
inline void init() {}
inline void point(const char*) {}
#endif

}  // namespace tapgate::fault
