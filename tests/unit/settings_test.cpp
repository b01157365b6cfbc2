// SPDX-License-Identifier: GPL-2.0-or-later
// tapgate.conf: parsing, errors with file:line, and precedence.
#include <doctest/doctest.h>

#include <sys/resource.h>

#include "settings.hpp"
#include "util.hpp"

using namespace tapgate;
using namespace tapgate::test;

namespace {

const std::string conf = "/etc/tapgate.conf";

settings::Settings parse(const std::string& text) {
    acl::MemoryDirectory d;
    d.users = {{"alice", 1000}, {"bob", 1001}};
    d.groups = {{"lab", 2000}, {"guests", 2001}};
    return settings::parse(text, conf, d);
}

std::vector<std::string> errors(const settings::Settings& s) {
    std::vector<std::string> out;
    for (const auto& e : s.errors) out.push_back(e.str());
    return out;
}

const acl::Caller alice{1000, "alice", {1000, 2000}};
const acl::Caller bob{1001, "bob", {1001, 2000, 2001}};
const acl::Caller carol{1002, "carol", {1002}};

}  // namespace

TEST_SUITE("settings") {

TEST_CASE("an empty file gives the defaults") {
    auto s = parse("");
    REQUIRE(s.ok());
    CHECK(s.syslog);
    CHECK(s.facility == "authpriv");
    auto e = settings::resolve(s, "br0", alice);
    CHECK_FALSE(e.port.quota);
    CHECK_FALSE(e.port.vlan);
    CHECK(e.name_template() == "tap%d");
}

TEST_CASE("syslog = required: logged, and strictly") {
    auto s = parse("[global]\nsyslog = required\n");
    REQUIRE(s.ok());
    CHECK(s.syslog);
    CHECK(s.syslog_required);
    CHECK_FALSE(parse("[global]\nsyslog = yes\n").syslog_required);
    CHECK_FALSE(parse("").syslog_required);
}

TEST_CASE("every key parses") {
    auto s = parse("; comment\n# comment\n[global]\nsyslog = no\nsyslog_facility = local3\n\n"
                   "[bridge br0]\nquota = 3\nvlan = 10\nisolated = yes\nhairpin = on\n"
                   "learning = off\nunicast_flood = false\nmulticast_flood = 0\n"
                   "broadcast_flood = 1\nname = vm%u%d\n");
    REQUIRE(errors(s) == std::vector<std::string>{});
    CHECK_FALSE(s.syslog);
    CHECK(s.facility == "local3");
    auto e = settings::resolve(s, "br0", carol);
    CHECK(*e.port.quota == 3);
    CHECK(*e.port.vlan == 10);
    CHECK(*e.port.isolated);
    CHECK(*e.port.hairpin);
    CHECK_FALSE(*e.port.learning);
    CHECK_FALSE(*e.port.unicast_flood);
    CHECK_FALSE(*e.port.multicast_flood);
    CHECK(*e.port.broadcast_flood);
    CHECK(e.name_template() == "vm%u%d");
    CHECK(e.origin.at("vlan").str() == "/etc/tapgate.conf:9");
    CHECK(settings::resolve(s, "br1", carol).port.vlan == std::nullopt);
}

TEST_CASE("most specific wins, key by key: user > group > bridge > defaults") {
    auto s = parse("[defaults]\nquota = 1\nisolated = yes\nname = d%d\n"
                   "[bridge br0]\nquota = 2\nvlan = 10\n"
                   "[bridge br0 group guests]\nvlan = 30\n"
                   "[bridge br0 group lab]\nvlan = 20\nquota = 4\n"
                   "[bridge br0 user alice]\nvlan = 99\n");
    REQUIRE(s.ok());
    auto a = settings::resolve(s, "br0", alice);  // lab
    CHECK(*a.port.vlan == 99);
    CHECK(*a.port.quota == 4);
    CHECK(*a.port.isolated);
    CHECK(a.name_template() == "d%d");
    CHECK(a.origin.at("vlan").str() == "/etc/tapgate.conf:14");
    CHECK(a.origin.at("quota").str() == "/etc/tapgate.conf:12");
    CHECK(a.origin.at("isolated").str() == "/etc/tapgate.conf:3");
    // bob is in guests and lab: the first group section in the file wins.
    auto b = settings::resolve(s, "br0", bob);
    CHECK(*b.port.vlan == 30);
    CHECK(*b.port.quota == 4);  // guests does not set it; lab does
    auto c = settings::resolve(s, "br0", carol);
    CHECK(*c.port.vlan == 10);
    CHECK(*c.port.quota == 2);
    auto other = settings::resolve(s, "br1", alice);
    CHECK(*other.port.quota == 1);
    CHECK_FALSE(other.port.vlan);
}

TEST_CASE("group_quota: a total per group, every group of the caller's, in gid order") {
    auto s = parse("[bridge br0 group guests]\ngroup_quota = 2\n"
                   "[bridge br0 group lab]\ngroup_quota = 5\nquota = 1\n"
                   "[bridge br1 group lab]\ngroup_quota = 0\n");
    REQUIRE(errors(s) == std::vector<std::string>{});
    auto b = settings::resolve(s, "br0", bob);
    REQUIRE(b.group_quotas.size() == 2);
    CHECK(b.group_quotas[0].gid == 2000);
    CHECK(b.group_quotas[0].group == "lab");
    CHECK(b.group_quotas[0].limit == 5);
    CHECK(b.group_quotas[0].where.str() == "/etc/tapgate.conf:4");
    CHECK(b.group_quotas[1].gid == 2001);
    CHECK(b.group_quotas[1].limit == 2);
    // Not a port key: the per-user quota is the group section's own key.
    CHECK(*b.port.quota == 1);
    CHECK(settings::resolve(s, "br0", alice).group_quotas.size() == 1);
    CHECK(settings::resolve(s, "br0", carol).group_quotas.empty());
    auto a1 = settings::resolve(s, "br1", alice);
    REQUIRE(a1.group_quotas.size() == 1);
    CHECK(a1.group_quotas[0].limit == 0);
}

TEST_CASE("group_quota belongs in group sections, and is a number") {
    CHECK(errors(parse("[bridge br0]\ngroup_quota = 3\n[defaults]\ngroup_quota = 1\n"
                       "[bridge br0 user alice]\ngroup_quota = 1\n[bridge br0 group lab]\ngroup_quota = lots\n")) ==
          std::vector<std::string>{
              "/etc/tapgate.conf:2: group_quota is for [bridge BRIDGE group GROUP] sections (a total for the "
              "group's members)",
              "/etc/tapgate.conf:4: group_quota is for [bridge BRIDGE group GROUP] sections (a total for the "
              "group's members)",
              "/etc/tapgate.conf:6: group_quota is for [bridge BRIDGE group GROUP] sections (a total for the "
              "group's members)",
              "/etc/tapgate.conf:8: group_quota = \"lots\": expected a number of taps from 0 to 1023",
          });
}

TEST_CASE("groups are asked about only for bridges with group sections") {
    auto s = parse("[bridge br0]\nquota=1\n[bridge br1 group lab]\nvlan=2\n");
    REQUIRE(s.ok());
    CHECK(settings::groups_deciding(s, "br0").empty());
    CHECK(settings::groups_deciding(s, "br1") == std::vector<std::uint32_t>{2000});
}

TEST_CASE("the groups that can decide a bridge's settings: its group sections") {
    auto s = parse("[bridge br0 group lab]\nquota = 1\n[bridge br0 user alice]\nquota = 2\n"
                   "[bridge br1 group guests]\nvlan = 5\n[bridge br0]\nvlan = 3\n");
    REQUIRE(s.ok());
    CHECK(settings::groups_deciding(s, "br0") == std::vector<std::uint32_t>{2000});
    CHECK(settings::groups_deciding(s, "br1") == std::vector<std::uint32_t>{2001});
    CHECK(settings::groups_deciding(s, "br2").empty());
    // bob is in lab and guests; on br0 only lab can matter.
    const acl::Caller bob_br0{1001, "bob", {1001, 2000}};
    CHECK(*settings::resolve(s, "br0", bob_br0).port.quota == *settings::resolve(s, "br0", bob).port.quota);
}

TEST_CASE("errors carry file and line, and every one is reported") {
    auto s = parse("[global]\nsyslog = maybe\nfacility = x\n"
                   "[bridge br0]\nquota = -1\nvlan = 4095\nvlan = 5\nisolated = si\ncolour = red\n"
                   "[bridge br0 user mallory]\nquota = 1\n"
                   "[bridge br0 group nobodies]\n"
                   "[bridges br1]\n"
                   "[bridge a/b]\n"
                   "[bridge br2 owner x]\n"
                   "[bridge br0]\n"
                   "[bridge br3]\nname = tap\n[bridge br4]\nname = x%d%d\n");
    CHECK(errors(s) == std::vector<std::string>{
        "/etc/tapgate.conf:2: syslog = \"maybe\": expected yes, no or required",
        "/etc/tapgate.conf:3: unknown key \"facility\" in [global] (expected syslog, syslog_facility)",
        "/etc/tapgate.conf:5: quota = \"-1\": expected a number of taps from 0 to 1023",
        "/etc/tapgate.conf:6: vlan = \"4095\": expected a VLAN id from 1 to 4094",
        "/etc/tapgate.conf:7: \"vlan\" set twice in this section (also line 6; an indented line "
        "continues the one before)",
        "/etc/tapgate.conf:8: isolated = \"si\": expected yes or no",
        "/etc/tapgate.conf:9: unknown key \"colour\" (expected quota, group_quota, vlan, name, guest_mac, "
        "isolated, hairpin, learning, unicast_flood, multicast_flood, broadcast_flood, bpdu_guard, root_block or "
        "neigh_suppress)",
        "/etc/tapgate.conf:13: unknown section [bridges br1] (expected [global], [defaults], "
        "[bridge NAME], [bridge NAME user USER] or [bridge NAME group GROUP])",
        "/etc/tapgate.conf:14: [bridge a/b]: not a bridge name: contains '/'",
        "/etc/tapgate.conf:15: section [bridge br2 owner x]: expected \"user NAME\" or \"group "
        "NAME\" after the bridge",
        "/etc/tapgate.conf:16: section repeats /etc/tapgate.conf:4",
        "/etc/tapgate.conf:18: name = \"tap\": needs exactly one %d (the kernel's counter keeps "
        "names unique)",
        "/etc/tapgate.conf:20: name = \"x%d%d\": needs exactly one %d (the kernel's counter keeps "
        "names unique)",
    });
}

TEST_CASE("a section for an unknown user or group closes its bridge only") {
    auto s = parse("[bridge br0]\nquota = 2\n[bridge br0 user mallory]\nquota = 9\n"
                   "[bridge br1 group nobodies]\nvlan = 3\n");
    CHECK(s.ok());
    REQUIRE(s.closures.size() == 2);
    CHECK(s.closures[0].error.str() == "/etc/tapgate.conf:3: unknown user \"mallory\"");
    CHECK(s.closures[1].error.str() == "/etc/tapgate.conf:5: unknown group \"nobodies\"");
    CHECK(s.closed("br0").first == &s.closures[0]);
    CHECK(s.closed("br1").second == 1);
    CHECK(s.closed("br2").first == nullptr);
    // The closed section's keys are not applied anywhere.
    CHECK(*settings::resolve(s, "br0", alice).port.quota == 2);
}

TEST_CASE("keys outside a section, syntax errors, NUL bytes and long lines") {
    CHECK(errors(parse("quota = 1\n")) ==
          std::vector<std::string>{"/etc/tapgate.conf:1: \"quota\" outside any section"});
    CHECK(errors(parse("[bridge br0]\nquota 1\n")) ==
          std::vector<std::string>{"/etc/tapgate.conf:2: syntax error (expected [section], key = "
                                   "value, or a comment)"});
    CHECK(errors(parse(std::string("[bridge br0]\nquota = 1\0\n", 24))) ==
          std::vector<std::string>{"/etc/tapgate.conf:2: NUL byte in line"});
    CHECK(errors(parse("[bridge br0]\n; " + std::string(300, 'x') + "\n")) ==
          std::vector<std::string>{"/etc/tapgate.conf:2: line longer than 199 characters"});
    CHECK(errors(parse("[bridge br0]\nquota = 1\n  2\n")).size() == 1);  // continuation line
}

TEST_CASE("nothing but a comment may follow a section header") {
    // inih drops whatever follows ']': "[bridge br0] user root" would be
    // [bridge br0], and one user's exemption everybody's.
    CHECK(errors(parse("[bridge br0] user alice\nisolated = no\n")) ==
          std::vector<std::string>{"/etc/tapgate.conf:1: text after the section header [bridge br0]: "
                                   "\"user alice\" (only a comment may follow)"});
    CHECK(errors(parse("[global]x\nsyslog = no\n[bridge br1]\t]\n")) ==
          std::vector<std::string>{
              "/etc/tapgate.conf:1: text after the section header [global]: \"x\" (only a comment "
              "may follow)",
              "/etc/tapgate.conf:3: text after the section header [bridge br1]: \"]\" (only a "
              "comment may follow)"});
    auto s = parse("[bridge br0]  ; lab\nquota = 1\n[bridge br1] # more\nquota = 2\n[bridge br2]\t\r\n");
    REQUIRE(s.ok());
    CHECK(*settings::resolve(s, "br0", carol).port.quota == 1);
    CHECK(*settings::resolve(s, "br1", carol).port.quota == 2);
}

// A sanitizer reserves terabytes of address space for its shadow memory:
// an address space limit cannot be set under it.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool address_sanitizer = true;
#else
constexpr bool address_sanitizer = false;
#endif

TEST_CASE("memory follows what the file holds, not its line count" * doctest::skip(address_sanitizer)) {
    // 16 MiB of blank lines (the largest file the helper reads) must parse
    // within a small address space.
    auto run = [] {
        rlimit limit{512UL << 20, 512UL << 20};
        if (::setrlimit(RLIMIT_AS, &limit) != 0) return std::string("setrlimit failed");
        std::string text(16UL << 20, '\n');
        auto s = parse(text);
        return std::string(s.ok() && s.scopes.empty() ? "ok" : "parse failed");
    };
    CHECK(run_in_child(run, std::nullopt, 60) == "ok");
}

TEST_CASE("a UTF-8 byte order mark does not hide the first section") {
    auto s = parse("\xEF\xBB\xBF[bridge br0]\nquota = 0\n");
    REQUIRE(s.ok());
    CHECK(*settings::resolve(s, "br0", carol).port.quota == 0);
    CHECK(errors(parse("\xEF\xBB\xBF[frob]\n")).size() == 1);
}

TEST_CASE("a user database that cannot be asked stops the parse and comes out of it") {
    // The header is read inside inih's callbacks: the failure must come out
    // of parse() as thrown, not as an unknown-group error (or an abort).
    DownDirectory down;
    CHECK_THROWS_AS(settings::parse("[bridge br0]\nquota = 1\n[bridge br0 group lab]\nquota = 2\n"
                                    "[bridge br1 user bob]\nquota = 3\n",
                                    conf, down),
                    DownDirectory::Down);
    CHECK(down.asked == 1);
}

TEST_CASE("name templates: escapes, characters and length") {
    for (const char* ok : {"tap%d", "vm%u-%d", "u%i%d", "%u%d", "t%i%d", "abcdefghijk%d"}) {
        CAPTURE(ok);
        CHECK(parse(std::string("[defaults]\nname = ") + ok + "\n").ok());
    }
    for (const char* bad : {"tap", "a%x%d", "a/b%d", "%u%u%d", "abcdefghijkl%d", "abc%i%u%d", "u%i-%d",
                            "a%i%d%"}) {
        CAPTURE(bad);
        CHECK_FALSE(parse(std::string("[defaults]\nname = ") + bad + "\n").ok());
    }
}

TEST_CASE("guest_mac: a prefix length, a mask, one address, or any") {
    auto range = [](const std::string& value) {
        auto s = parse("[defaults]\nguest_mac = " + value + "\n");
        REQUIRE(errors(s) == std::vector<std::string>{});
        auto e = settings::resolve(s, "br0", carol);
        REQUIRE(e.port.guest_mac);
        return *e.port.guest_mac;
    };
    auto r = range("52:54:00:12:34:00/40");
    CHECK(r.str() == "52:54:00:12:34:00/40");
    CHECK(settings::mac_text(r.mask()) == "ff:ff:ff:ff:ff:00");
    CHECK(settings::mac_text(r.last()) == "52:54:00:12:34:ff");
    CHECK(range("52:54:00:12:34:00/ff:ff:ff:ff:ff:00").str() == "52:54:00:12:34:00/40");
    CHECK(range("52:54:00:12:00:00/ff:ff:ff:ff:f0:00").str() == "52:54:00:12:00:00/36");
    CHECK(range("52:54:00:12:34:56").str() == "52:54:00:12:34:56/48");
    CHECK(settings::mac_text(range("52:54:00:12:34:56").last()) == "52:54:00:12:34:56");
    CHECK(range("52:54:00:00:00:00/ff:ff:ff:00:00:00").str() == "52:54:00:00:00:00/24");
    CHECK(range("02:00:00:00:00:00/8").str() == "02:00:00:00:00:00/8");
    CHECK(settings::mac_text(range("02:00:00:00:00:00/8").last()) == "02:ff:ff:ff:ff:ff");
    // Upper-case digits are read, and shown in lower case.
    CHECK(range("52:54:00:AB:CD:00/40").str() == "52:54:00:ab:cd:00/40");
    CHECK(range("any").any());
    CHECK(range("any").str() == "any");
}

TEST_CASE("guest_mac: what an admin is told about a bad range") {
    auto error = [](const std::string& value) {
        auto e = errors(parse("[bridge br0]\nguest_mac = " + value + "\n"));
        REQUIRE(e.size() == 1);
        return e[0];
    };
    const std::string want = ": expected a MAC address range such as 52:54:00:12:34:00/40 or "
                             "52:54:00:12:34:00/ff:ff:ff:ff:ff:00, one address, or any";
    for (const char* bad : {"", "52:54:00:12:34", "52:54:00:12:34:56:78", "52-54-00-12-34-56",
                            "5:54:00:12:34:056", "52:54:00:12:34:0g", "52:54:00:12:34:+1", "52:54:00:12:34:00/",
                            "52:54:00:12:34:00/49", "52:54:00:12:34:00/-8", "52:54:00:12:34:00/40/8",
                            "52:54:00:12:34:00 /40", "ANY", "none"}) {
        CAPTURE(bad);
        CHECK(error(bad) == "/etc/tapgate.conf:2: guest_mac = \"" + std::string(bad) + "\"" + want);
    }
    CHECK(error("52:54:00:12:34:00/ff:ff:ff:ff:0f:00") ==
          "/etc/tapgate.conf:2: guest_mac = \"52:54:00:12:34:00/ff:ff:ff:ff:0f:00\": the mask "
          "ff:ff:ff:ff:0f:00 is not a prefix (ones, then zeros)");
    CHECK(error("52:54:00:12:34:56/40") ==
          "/etc/tapgate.conf:2: guest_mac = \"52:54:00:12:34:56/40\": bits set past the prefix /40 "
          "(did you mean 52:54:00:12:34:00/40?)");
    // A guest's own address is unicast: a range must fix the multicast bit
    // (the last bit of the first byte) at 0.
    CHECK(error("01:00:5e:00:00:00/24") ==
          "/etc/tapgate.conf:2: guest_mac = \"01:00:5e:00:00:00/24\": 01:00:5e:00:00:00 is a multicast "
          "address; a guest's own address is unicast (an even first byte)");
    CHECK(error("ff:ff:ff:ff:ff:ff").find("is a multicast address") != std::string::npos);
    for (const char* open : {"00:00:00:00:00:00/0", "02:00:00:00:00:00/7", "00:00:00:00:00:00/00:00:00:00:00:00",
                             "02:00:00:00:00:00/fe:00:00:00:00:00"}) {
        CAPTURE(open);
        CHECK(error(open) == "/etc/tapgate.conf:2: guest_mac = \"" + std::string(open) +
                                 "\": a prefix shorter than 8 bits takes in multicast addresses (use 8 to "
                                 "48, or any)");
    }
    CHECK(error("00:00:00:00:00:00") ==
          "/etc/tapgate.conf:2: guest_mac = \"00:00:00:00:00:00\": 00:00:00:00:00:00 is no station's address");
    CHECK(error("52:54:00:12:34:00/40\nguest_mac = any").find("set twice") != std::string::npos);
}

TEST_CASE("guest_mac: most specific wins, and any lifts a range") {
    auto s = parse("[defaults]\nguest_mac = 02:00:00:00:00:00/8\n"
                   "[bridge br0]\nguest_mac = 52:54:00:00:00:00/24\n"
                   "[bridge br0 group guests]\nguest_mac = 52:54:00:99:00:00/32\n"
                   "[bridge br0 group lab]\nguest_mac = 52:54:00:10:00:00/32\n"
                   "[bridge br0 user alice]\nguest_mac = any\n");
    REQUIRE(s.ok());
    auto a = settings::resolve(s, "br0", alice);
    CHECK(a.port.guest_mac->any());
    CHECK(a.origin.at("guest_mac").str() == "/etc/tapgate.conf:10");
    // bob is in guests and lab: the first group section in the file wins.
    CHECK(settings::resolve(s, "br0", bob).port.guest_mac->str() == "52:54:00:99:00:00/32");
    CHECK(settings::resolve(s, "br0", carol).port.guest_mac->str() == "52:54:00:00:00:00/24");
    CHECK(settings::resolve(s, "br1", alice).port.guest_mac->str() == "02:00:00:00:00:00/8");
    CHECK(settings::resolve(s, "br1", alice).origin.at("guest_mac").str() == "/etc/tapgate.conf:2");
    CHECK_FALSE(settings::resolve(parse(""), "br0", alice).port.guest_mac);
}

TEST_CASE("expand_name fits 15 characters and leaves %d to the kernel") {
    CHECK(settings::expand_name("tap%d", alice) == "tap%d");
    CHECK(settings::expand_name("vm%u-%d", alice) == "vmalice-%d");
    CHECK(settings::expand_name("u%i-%d", alice) == "u1000-%d");
    const acl::Caller longname{1234, "averyveryverylongusername", {}};
    auto n = settings::expand_name("vm%u%d", longname);
    CHECK(n == "vmaveryvery%d");  // 2 + 9 + room for 4 digits = 15
    const acl::Caller odd{7, "a b:c/d", {}};
    CHECK(settings::expand_name("%u%d", odd) == "a_b_c_d%d");
    const acl::Caller unknown{4242, "", {}};
    CHECK(settings::expand_name("%u%d", unknown) == "4242%d");
}

}  // TEST_SUITE
