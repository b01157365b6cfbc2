// SPDX-License-Identifier: GPL-2.0-or-later
// tapgate as the service's client: when this process cannot make a tap
// (no_new_privs set, so the setuid bit was ignored; or installed with
// neither setuid nor the file capability), it asks the service and passes
// on what it gets, so QEMU and libvirt see the same protocol either way.
// It holds no privilege at all when it connects: the service learns who
// the caller is from the kernel, and must see the caller.
#pragma once

#include <cstdio>
#include <optional>
#include <string>

#include "error.hpp"

namespace tapgate::client {

// A refusal the service made and logged: this process must not log it
// again.
class Refused : public Error {
public:
    using Error::Error;
};

// Asks the service for a tap on `bridge` and sends it to `sock` (the
// caller's --fd). Returns false if no service listens; throws Refused with
// the service's refusal, or tapgate::Error with what went wrong on the way
// (the service declined the request, did not answer, or the tap could not
// be passed on), which nobody has logged.
bool request_tap(int sock, const std::string& bridge, bool use_vnet);

// Asks the service for --explain about `bridge` and prints its answer to
// `out`. Returns the exit status, or nullopt if no service listens.
std::optional<int> explain(std::FILE* out, const std::string& bridge);

}  // namespace tapgate::client
