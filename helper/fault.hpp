// Test-only fault injection (meson -Dfault_injection=true): stops or kills
// the helper at a named step, so that tests can prove a kill at any point
// leaves nothing behind. Compiled to nothing in normal builds, where the
// environment variable below is never read.
#pragma once

#include "config.h"

namespace tapgate::fault {

#if TAPGATE_FAULT_INJECTION
// Keeps TAPGATE_FAULT="STEP:ACTION" (ACTION: kill, stop or exit; or caps
// or fds, which report the capability sets or the open fds and go on,
// with STEP "all" for every step) from the environment before it is
// scrubbed.
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
