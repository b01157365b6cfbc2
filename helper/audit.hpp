// SPDX-License-Identifier: GPL-2.0-or-later
// The audit log: one syslog line for every grant and every refusal, to the
// system's /dev/log (nothing the caller can redirect), with the facility
// from tapgate.conf (authpriv by default). Sent by tapgate itself, not
// syslog(3), which cannot say whether the line arrived: with syslog =
// required a grant that cannot be logged is refused.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

namespace tapgate::audit {

// What is known about a request so far; main() logs it once at the end.
struct Record {
    uid_t uid = 0;
    std::string user;  // empty until looked up
    pid_t pid = 0;     // the caller's (the socket's peer), 0 if unknown
    // The front-end: "setuid" (or file capability, or root), "service";
    // "unprivileged" for what a tapgate that could not make taps refused
    // itself.
    const char* via = "setuid";
    std::string bridge;
    std::string tap;
    unsigned vlan = 0;
    std::string rule;  // file:line of the deciding ACL rule
    std::string guest_mac;  // the guest MAC range, if one applies
    bool enabled = true;
    bool required = false;  // syslog = required
    int facility = -1;      // -1: the default (authpriv)
};

// Throws tapgate::Error when the line must be logged and could not be.
void granted(const Record& r);
void refused(const Record& r, const std::string& reason);

// Why a line sent now would not arrive, or nullopt: for --explain.
std::optional<std::string> unreachable();

// The line itself, without syslog's prefix: for tests and --explain.
std::string format(const Record& r, bool granted, const std::string& reason);

}  // namespace tapgate::audit
