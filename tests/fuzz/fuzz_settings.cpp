// SPDX-License-Identifier: GPL-2.0-or-later
// libFuzzer target for the tapgate.conf parser (helper/settings.cpp, on top
// of inih), which runs in the setuid helper on a file root wrote, but whose
// parser must still never crash, and must fail closed.
//
// Besides crashes, it checks: every error names the file and a line within
// the input; a file with errors is never partly applied by the helper (the
// helper refuses on !ok(), so here: resolve() only sees ok() settings);
// resolved values stay in their ranges; a guest MAC range is unicast and
// has no bits set past its prefix; expanded tap names fit 15 characters
// with room for the kernel's counter.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "acl.hpp"
#include "settings.hpp"

using namespace tapgate;

namespace {

void check(bool ok) {
    if (!ok) __builtin_trap();
}

const acl::Caller callers[] = {
    {},
    {1000, "alice", {1000, 2000}},
    {1001, "a-very-long-user-name-indeed", {1001, 2001}},
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    acl::MemoryDirectory dir;
    dir.users = {{"alice", 1000}, {"bob", 1001}};
    dir.groups = {{"lab", 2000}, {"guests", 2001}};
    settings::Settings s = settings::parse(text, "/etc/tapgate.conf", dir);

    unsigned lines = 1;
    for (char c : text) lines += c == '\n';
    for (const auto& e : s.errors) {
        check(e.where.file == "/etc/tapgate.conf");
        check(e.where.line <= lines);
        check(!e.message.empty());
    }
    if (!s.ok()) return 0;
    check(settings::facility_code(s.facility).has_value());
    for (const char* bridge : {"br0", "br1", "virbr0"}) {
        for (const acl::Caller& c : callers) {
            settings::Effective e = settings::resolve(s, bridge, c);
            if (e.port.quota) check(*e.port.quota <= 1023);
            if (e.port.vlan) check(*e.port.vlan >= 1 && *e.port.vlan <= 4094);
            if (const auto& m = e.port.guest_mac; m && !m->any()) {
                check(m->prefix >= 8 && m->prefix <= 48);
                check((m->base[0] & 1) == 0);
                const auto mask = m->mask();
                for (std::size_t i = 0; i < mask.size(); ++i) check((m->base[i] & ~mask[i]) == 0);
            }
            for (const auto& [key, where] : e.origin) check(where.line >= 1 && where.line <= lines);
            std::string name = settings::expand_name(e.name_template(), c);
            // The kernel replaces %d with up to 4 digits within 15 characters.
            auto d = name.find("%d");
            check(d != std::string::npos && name.find("%d", d + 1) == std::string::npos);
            check(name.size() - 2 + 4 <= acl::max_ifname_length);
            check(!acl::invalid_interface_name(name.substr(0, d) + "0" + name.substr(d + 2)));
        }
    }
    return 0;
}
