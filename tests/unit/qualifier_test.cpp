// SPDX-License-Identifier: GPL-2.0-or-later
// tapgate's extension of bridge.conf: rules for named users and groups.
#include <doctest/doctest.h>

#include "util.hpp"

using namespace tapgate;
using namespace tapgate::test;

namespace {

acl::MemoryDirectory directory() {
    acl::MemoryDirectory d;
    d.users = {{"alice", 1000}, {"bob", 1001}, {"carol", 1002}, {"root", 0}};
    d.groups = {{"alice", 1000}, {"bob", 1001}, {"lab", 2000}, {"guests", 2001}, {"wheel", 0}};
    return d;
}

acl::Policy load_with_users(const std::string& text,
                            const std::map<std::string, std::string>& more = {}) {
    acl::MemorySource source;
    source.files = more;
    source.files[main_conf] = text;
    auto dir = directory();
    return acl::load(source, main_conf, &dir);
}

const acl::Caller alice{1000, "alice", {1000, 2000}};        // in lab
const acl::Caller bob{1001, "bob", {1001, 2000, 2001}};      // in lab and guests
const acl::Caller carol{1002, "carol", {1002}};              // in no group
const acl::Caller nobody{};

// "allow br0 @FILE:LINE" of the deciding rule, or "" for default deny.
std::string decided(const acl::Policy& p, const char* bridge, const acl::Caller& who) {
    auto d = acl::decide(p, bridge, who);
    if (!d.rule) return "";
    return d.rule->text() + " @" + d.rule->where.str();
}

}  // namespace

TEST_SUITE("qualifiers") {

TEST_CASE("user and group lists parse and print back normalised") {
    auto p = load_with_users("allow br0 user alice\n"
                             "allow br1\tgroup  lab,guests \n"
                             "deny all user bob,carol group guests\n"
                             "allow br2 group lab user alice\n");
    REQUIRE(p.ok());
    CHECK(p.qualified());
    CHECK(rule_list(p) == std::vector<std::string>{
                              "allow br0 user alice @/etc/qemu/bridge.conf:1",
                              "allow br1 group lab,guests @/etc/qemu/bridge.conf:2",
                              "deny all user bob,carol group guests @/etc/qemu/bridge.conf:3",
                              "allow br2 user alice group lab @/etc/qemu/bridge.conf:4",
                          });
    CHECK(p.rules[1].groups[1].id == 2001);
    CHECK(p.rules[2].users[0].id == 1001);
}

TEST_CASE("a file without qualifiers is not marked qualified") {
    auto p = load_with_users("allow br0\ndeny all\n");
    REQUIRE(p.ok());
    CHECK_FALSE(p.qualified());
}

TEST_CASE("a user rule applies to that user only") {
    auto p = load_with_users("allow br0 user alice\n");
    CHECK(decided(p, "br0", alice) == "allow br0 user alice @/etc/qemu/bridge.conf:1");
    CHECK(decided(p, "br0", bob) == "");
    CHECK(decided(p, "br0", nobody) == "");
    CHECK(decided(p, "br1", alice) == "");
}

TEST_CASE("a group rule applies to the members the caller record lists") {
    auto p = load_with_users("allow br0 group lab\n");
    CHECK(acl::decide(p, "br0", alice).allowed);
    CHECK(acl::decide(p, "br0", bob).allowed);
    CHECK_FALSE(acl::decide(p, "br0", carol).allowed);
}

TEST_CASE("users and groups on one rule: either matches") {
    auto p = load_with_users("allow br0 user carol group guests\n");
    CHECK_FALSE(acl::decide(p, "br0", alice).allowed);
    CHECK(acl::decide(p, "br0", bob).allowed);    // through guests
    CHECK(acl::decide(p, "br0", carol).allowed);  // by name
}

TEST_CASE("a deny for a group beats an allow for everyone, in either order") {
    for (const char* text : {"allow all\ndeny br0 group guests\n", "deny br0 group guests\nallow all\n"}) {
        CAPTURE(text);
        auto p = load_with_users(text);
        CHECK(acl::decide(p, "br0", alice).allowed);
        CHECK_FALSE(acl::decide(p, "br0", bob).allowed);
        CHECK(decided(p, "br0", bob).rfind("deny br0 group guests @", 0) == 0);
        CHECK(acl::decide(p, "br1", bob).allowed);
    }
}

TEST_CASE("a deny for a user beats that user's group allow") {
    auto p = load_with_users("allow br0 group lab\ndeny all user alice\n");
    CHECK_FALSE(acl::decide(p, "br0", alice).allowed);
    CHECK(acl::decide(p, "br0", bob).allowed);
}

TEST_CASE("an unqualified deny still beats a qualified allow") {
    auto p = load_with_users("allow br0 user alice\ndeny br0\n");
    CHECK_FALSE(acl::decide(p, "br0", alice).allowed);
}

TEST_CASE("qualified rules never apply to an anonymous caller") {
    auto p = load_with_users("allow all group lab\ndeny br1 user alice\n");
    CHECK_FALSE(acl::decide(p, "br0").allowed);
    CHECK_FALSE(acl::decide(p, "br0", nobody).allowed);
}

TEST_CASE("uid 0 and gid 0 are ordinary ids") {
    auto p = load_with_users("allow br0 user root\nallow br1 group wheel\n");
    const acl::Caller root{0, "root", {0}};
    CHECK(acl::decide(p, "br0", root).allowed);
    CHECK(acl::decide(p, "br1", root).allowed);
    CHECK_FALSE(acl::decide(p, "br0", nobody).allowed);  // no_id is not 0
}

TEST_CASE("qualified rules in includes") {
    auto p = load_with_users("include lab.conf\n", {{"/etc/qemu/lab.conf", "allow br3 group lab\n"}});
    REQUIRE(p.ok());
    CHECK(p.qualified());
    CHECK(decided(p, "br3", alice) == "allow br3 group lab @/etc/qemu/lab.conf:1");
}

TEST_CASE("errors in qualifiers name file and line, and fail closed") {
    struct E {
        const char* text;
        const char* error;
    };
    const E cases[] = {
        {"allow br0 user\n", "/etc/qemu/bridge.conf:1: allow: user: missing name"},
        {"deny br0 group lab user\n", "/etc/qemu/bridge.conf:1: deny: user: missing name"},
        {"allow br0 user alice,\n", "/etc/qemu/bridge.conf:1: user: empty name in \"alice,\""},
        {"allow br0 user ,alice\n", "/etc/qemu/bridge.conf:1: user: empty name in \",alice\""},
        {"allow br0 users alice\n",
         "/etc/qemu/bridge.conf:1: allow: unexpected \"users\" after \"br0\" (one bridge name or "
         "\"all\" per line, then optionally \"user NAME,...\" or \"group NAME,...\")"},
        {"allow br0 user alice bob\n",
         "/etc/qemu/bridge.conf:1: allow: unexpected \"bob\" after \"alice\" (one bridge name or "
         "\"all\" per line, then optionally \"user NAME,...\" or \"group NAME,...\")"},
        {"allow br0 user alice # comment\n",
         "/etc/qemu/bridge.conf:1: allow: unexpected \"#\" after \"alice\" (one bridge name or "
         "\"all\" per line, then optionally \"user NAME,...\" or \"group NAME,...\")"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.text);
        auto p = load_with_users(std::string("allow all\n") + c.text);
        std::string want = c.error;
        want.replace(want.find(":1:"), 3, ":2:");
        CHECK(error_list(p) == std::vector<std::string>{want});
        CHECK_FALSE(acl::decide(p, "br0", alice).allowed);
    }
}

TEST_CASE("an unknown name closes what its rule could decide, and only that") {
    // A rule that names a user or group nobody knows cannot be judged: the
    // requests it could decide are refused, the others are not.
    auto p = load_with_users("allow all\nallow br0 user alice,mallory\ndeny br2 group staff\n");
    CHECK(error_list(p).empty());
    REQUIRE(p.closures.size() == 2);
    CHECK(p.closures[0].error.str() == "/etc/qemu/bridge.conf:2: unknown user \"mallory\"");
    CHECK(p.closures[0].what() == "bridge br0");
    CHECK(p.closures[1].error.str() == "/etc/qemu/bridge.conf:3: unknown group \"staff\"");
    auto br0 = acl::decide(p, "br0", alice);
    CHECK_FALSE(br0.allowed);
    CHECK(br0.explain("br0", main_conf) ==
          "access to bridge br0 denied: ACL error: /etc/qemu/bridge.conf:2: unknown user \"mallory\"");
    CHECK_FALSE(acl::decide(p, "br2", alice).allowed);
    CHECK(acl::decide(p, "br1", alice).allowed);
    CHECK(acl::decide(p, "br1", bob).allowed);
    // About every bridge: everything is closed, allow or deny alike.
    for (const char* rule : {"deny all group staff\n", "allow all user mallory\n"}) {
        CAPTURE(rule);
        auto q = load_with_users(std::string("allow all\n") + rule);
        REQUIRE(q.closures.size() == 1);
        CHECK(q.closures[0].what() == "every bridge");
        CHECK_FALSE(acl::decide(q, "br1", alice).allowed);
    }
    // A syntax error still closes everything.
    auto r = load_with_users("allow all\nallow br0 user\n");
    CHECK_FALSE(acl::decide(r, "br1", alice).allowed);
}

TEST_CASE("a user database that cannot be asked stops the load, not one name") {
    // Read as an unknown name, a directory user's deny would be an error
    // among others; read as no such user, it would not apply at all.
    acl::MemorySource source;
    source.files[main_conf] = "allow br0\ndeny br0 group lab\ndeny br0 user bob\n";
    DownDirectory down;
    CHECK_THROWS_AS(acl::load(source, main_conf, &down), DownDirectory::Down);
    CHECK(down.asked == 1);
}

TEST_CASE("without a user database, qualified rules are errors") {
    auto p = load_text("allow br0 user alice\n");
    CHECK(error_list(p) == std::vector<std::string>{
                               "/etc/qemu/bridge.conf:1: user alice: user and group rules need a "
                               "user database"});
}

}  // TEST_SUITE

TEST_CASE("the groups that can decide a bridge: its rules' and 'all' rules', once each") {
    auto p = load_with_users(
        "allow br0 group lab\n"
        "deny br1 group guests\n"
        "allow all group wheel\n"
        "deny br0 user bob group lab,guests\n"
        "allow br2\n");
    CHECK(acl::groups_deciding(p, "br0") == std::vector<std::uint32_t>{2000, 0, 2001});
    CHECK(acl::groups_deciding(p, "br1") == std::vector<std::uint32_t>{2001, 0});
    CHECK(acl::groups_deciding(p, "br2") == std::vector<std::uint32_t>{0});
    CHECK(acl::groups_deciding(load_with_users("allow br0 user alice\n"), "br0").empty());
    // A caller record holding only the primary group and these gives every
    // decision the full record gives.
    const acl::Caller bob_br1{1001, "bob", {1001, 2001}};
    CHECK(decided(p, "br1", bob_br1) == decided(p, "br1", bob));
}
