// SPDX-License-Identifier: GPL-2.0-or-later
// The admin commands: --explain (why a request would be granted or
// refused, with the settings that would apply) and --list (the taps
// tapgate made). Both only read: files as the caller, kernel state through
// unprivileged netlink dumps.
#pragma once

#include <cstdio>
#include <optional>
#include <string>

namespace tapgate::admin {

// For --explain --user NAME: becomes that user (ids and the groups the
// user database gives it), so that files are read exactly as that user's
// helper would read them. Only root may; throws tapgate::Error otherwise.
// Must run before the privileges are dropped.
void become(const std::string& user);

// Prints to `out` the decision for `bridge` and the caller (the process's
// user, which the front-end made the caller), with
// the deciding rule and every setting with its origin. `lock_problem`
// (quota::lock_file_problem(), found while still root) matters when a
// quota applies. Returns 0 if a request would be granted, 1 if not.
// With `as_json`, the same facts as JSON (tapgate(8), JSON OUTPUT).
int explain(std::FILE* out, const std::string& bridge, const std::string& lock_problem, bool as_json = false);

// Prints the live taps tapgate made: all of them for root, the caller's
// own for anyone else; as JSON with `as_json`. Returns 0.
int list(bool as_json);

// Removes a tap tapgate made (`name`), or every one no process holds
// (nullopt); refuses an interface tapgate did not make. For root, with
// CAP_NET_ADMIN and CAP_SYS_PTRACE. Throws tapgate::Error.
int remove(const std::optional<std::string>& name);

}  // namespace tapgate::admin
