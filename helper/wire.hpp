// SPDX-License-Identifier: GPL-2.0-or-later
// What the helper and the service say to each other over the service's
// socket. The request is one short text line; the service reads it as the
// caller (it knows who that is from the kernel, never from the message), so
// the line carries only what the command line would: the bridge, whether
// to use virtio-net headers, or an --explain.
//
//   request  "tapgate/1 tap vnet BRIDGE\n", "tapgate/1 tap novnet BRIDGE\n"
//            or "tapgate/1 explain BRIDGE\n"
//   reply    "ok\n" with the tap's fd attached,
//            "refused MESSAGE\n" (the service logged the refusal),
//            "declined MESSAGE\n" (it did not take up the request, and
//            logged nothing: the helper that asked logs the refusal), or
//            "explain STATUS\n" followed by the text --explain prints
//
// Anything else, anything longer, or a request with fds attached, is
// refused.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace tapgate::wire {

inline constexpr std::size_t max_request = 64;
inline constexpr std::size_t max_reply = 64 * 1024;

struct Request {
    bool explain = false;
    bool use_vnet = true;
    std::string bridge;
};

std::string encode(const Request& r);
// Throws tapgate::Error saying what is wrong with the line.
Request decode(std::string_view line);

struct Reply {
    enum class Kind { ok, refused, declined, explain } kind = Kind::refused;
    std::string text;  // the refusal, or what --explain prints
    int status = 1;    // --explain's exit status
};

std::string encode(const Reply& r);
// Throws tapgate::Error saying what is wrong with the reply.
Reply decode_reply(std::string_view text);

}  // namespace tapgate::wire
