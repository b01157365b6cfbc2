// SPDX-License-Identifier: GPL-2.0-or-later
// libFuzzer target for the command line parser (helper/args.cpp), which
// runs on caller-controlled argv in a process that still holds
// CAP_NET_ADMIN.
//
// The input is split on NUL bytes into argv (argv[0] included, so argc 0
// and 1 are reachable). Besides crashes, it checks what the helper relies
// on: a helper-mode result always names a valid bridge and an fd above 2,
// and every error message is one printable line.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "acl.hpp"
#include "args.hpp"
#include "error.hpp"

using namespace tapgate;

namespace {

void check(bool ok) {
    if (!ok) __builtin_trap();
}

bool one_printable_line(std::string_view s) {
    for (char c : s) {
        auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u >= 0x7f) return false;
    }
    return !s.empty();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view input(reinterpret_cast<const char*>(data), size);
    std::vector<std::string> argv;
    while (!input.empty()) {
        auto nul = input.find('\0');
        argv.emplace_back(input.substr(0, nul));
        input = nul == std::string_view::npos ? std::string_view{} : input.substr(nul + 1);
    }
    try {
        args::Options o = args::parse(argv);
        switch (o.mode) {
        case args::Mode::helper:
            check(o.bridge && !acl::invalid_interface_name(*o.bridge));
            check(o.fd && *o.fd > 2);
            check(!o.check_file);
            break;
        case args::Mode::check:
            check(!o.bridge && !o.fd);
            break;
        case args::Mode::help:
        case args::Mode::version:
            break;
        }
    } catch (const Error& e) {
        check(one_printable_line(e.what()));
    }
    return 0;
}
