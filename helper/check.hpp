// SPDX-License-Identifier: GPL-2.0-or-later
// tapgate --check: reads the ACL and settings files as the caller and
// reports every problem.
#pragma once

#include <optional>
#include <string>

namespace tapgate::check {

// Without a file: the compiled-in ACL and settings files. A file named
// tapgate.conf is read as settings, one named bridge.conf as an ACL, any
// other as what its first line says. Prints problems to stderr and a
// summary to stdout, or everything as JSON on stdout with `as_json`.
// Returns the exit status: 0 when the files are usable, 1 otherwise.
int run(const std::optional<std::string>& file, bool as_json = false);

}  // namespace tapgate::check
