// SPDX-License-Identifier: GPL-2.0-or-later
// Every failure in the helper travels as a tapgate::Error up to main(),
// which prints it as the one line the caller (QEMU, libvirt, a user) sees.
#pragma once

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

namespace tapgate {

class Error : public std::runtime_error {
public:
    explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// "what: strerror(errno)", taking errno at the call.
inline Error system_error(const std::string& what, int err = errno) {
    return Error(what + ": " + std::strerror(err));
}

}  // namespace tapgate
