// SPDX-License-Identifier: GPL-2.0-or-later
// The process state a setuid program inherits from its caller and must not
// trust: standard fds, other fds, the environment.
#pragma once

#include <initializer_list>

namespace tapgate::process {

// Opens /dev/null on any of fds 0-2 that is closed, so that no file we open
// later lands on 0-2 and gets written to by error output. Must run before
// anything else opens a file. Aborts if it cannot be done.
void ensure_standard_fds();

// Nothing in tapgate reads the environment; clearing it keeps libraries
// (libnl reads NLCB, NLDBG, ...) from reading the caller's either.
void clear_environment();

// Empties the environment `envp` before anything can read it, keeping
// only what fault injection needs. The setuid helper calls it from
// .preinit_array, before every shared library's constructor.
void scrub_environment(char** envp);

// Closes every fd above 2 except those in `keep` (negative entries are
// ignored): with close_range(), or one by one from /proc/self/fd where
// that fails. Throws tapgate::Error if neither works.
void close_fds_except(std::initializer_list<int> keep);

}  // namespace tapgate::process
