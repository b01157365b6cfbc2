// SPDX-License-Identifier: GPL-2.0-or-later
// Decisions: which bridges a policy allows, and which rule said so.
#include <doctest/doctest.h>

#include "util.hpp"

using namespace tapgate;
using namespace tapgate::test;

namespace {

struct Case {
    const char* name;
    std::map<std::string, std::string> files;
    // bridge -> deciding rule "allow br0 @FILE:LINE", or "" for no rule
    // (default deny). Whether it is allowed follows from the rule.
    std::map<std::string, std::string> expect;
};

const std::string inc = "/etc/qemu/inc.conf";

const std::vector<Case> cases = {
    {"empty file denies everything", {{main_conf, ""}}, {{"br0", ""}, {"virbr0", ""}}},
    {"only comments deny everything", {{main_conf, "# allow br0\n"}}, {{"br0", ""}}},
    {"allow one bridge",
     {{main_conf, "allow br0\n"}},
     {{"br0", "allow br0 @/etc/qemu/bridge.conf:1"}, {"br1", ""}, {"br", ""}, {"br00", ""}}},
    {"names match exactly, case-sensitively",
     {{main_conf, "allow Br0\n"}},
     {{"br0", ""}, {"Br0", "allow Br0 @/etc/qemu/bridge.conf:1"}}},
    {"allow all",
     {{main_conf, "allow all\n"}},
     {{"br0", "allow all @/etc/qemu/bridge.conf:1"}, {"all", "allow all @/etc/qemu/bridge.conf:1"}}},
    {"deny all", {{main_conf, "deny all\n"}}, {{"br0", "deny all @/etc/qemu/bridge.conf:1"}}},
    {"deny after allow wins",
     {{main_conf, "allow br0\ndeny br0\n"}},
     {{"br0", "deny br0 @/etc/qemu/bridge.conf:2"}}},
    {"deny before allow wins",
     {{main_conf, "deny br0\nallow br0\n"}},
     {{"br0", "deny br0 @/etc/qemu/bridge.conf:1"}}},
    {"deny all beats allow of a name, in either order",
     {{main_conf, "allow br0\ndeny all\nallow br1\n"}},
     {{"br0", "deny all @/etc/qemu/bridge.conf:2"}, {"br1", "deny all @/etc/qemu/bridge.conf:2"}}},
    {"deny of a name beats allow all",
     {{main_conf, "allow all\ndeny br1\n"}},
     {{"br0", "allow all @/etc/qemu/bridge.conf:1"}, {"br1", "deny br1 @/etc/qemu/bridge.conf:2"}}},
    {"the first matching deny decides",
     {{main_conf, "deny br0\nallow br0\ndeny all\n"}},
     {{"br0", "deny br0 @/etc/qemu/bridge.conf:1"}, {"br1", "deny all @/etc/qemu/bridge.conf:3"}}},
    {"the first matching allow decides",
     {{main_conf, "allow all\nallow br0\n"}},
     {{"br0", "allow all @/etc/qemu/bridge.conf:1"}}},
    {"ALL is a name",
     {{main_conf, "allow ALL\n"}},
     {{"br0", ""}, {"ALL", "allow ALL @/etc/qemu/bridge.conf:1"}}},
    {"include expands in place",
     {{main_conf, "allow br0\ninclude /etc/qemu/inc.conf\nallow br2\n"},
      {inc, "# users\nallow br1\n"}},
     {{"br0", "allow br0 @/etc/qemu/bridge.conf:1"},
      {"br1", "allow br1 @/etc/qemu/inc.conf:2"},
      {"br2", "allow br2 @/etc/qemu/bridge.conf:3"},
      {"br3", ""}}},
    {"a deny in an include beats an allow in the main file",
     {{main_conf, "allow all\ninclude inc.conf\n"}, {inc, "deny br1\n"}},
     {{"br0", "allow all @/etc/qemu/bridge.conf:1"}, {"br1", "deny br1 @/etc/qemu/inc.conf:1"}}},
    {"a deny in the main file beats an allow in an include",
     {{main_conf, "include inc.conf\ndeny br1\n"}, {inc, "allow all\n"}},
     {{"br0", "allow all @/etc/qemu/inc.conf:1"}, {"br1", "deny br1 @/etc/qemu/bridge.conf:2"}}},
    {"rule order across files follows expansion order",
     {{main_conf, "allow br0\ninclude inc.conf\nallow br0\n"}, {inc, "allow br0\n"}},
     {{"br0", "allow br0 @/etc/qemu/bridge.conf:1"}}},
    {"a missing include is skipped and the rest still applies",
     {{main_conf, "include /etc/qemu/gone.conf\nallow br0\n"}},
     {{"br0", "allow br0 @/etc/qemu/bridge.conf:2"}}},
    {"the same file included twice contributes twice (not a cycle)",
     {{main_conf, "include inc.conf\ninclude inc.conf\n"}, {inc, "allow br0\n"}},
     {{"br0", "allow br0 @/etc/qemu/inc.conf:1"}}},
};

}  // namespace

TEST_CASE("decision table: files x requested bridges") {
    for (const auto& c : cases) {
        auto p = load_memory(c.files);
        CAPTURE(c.name);
        REQUIRE(error_list(p).empty());
        // Not a structured binding: clang 14 cannot capture one in the
        // lambda CAPTURE makes.
        for (const auto& expected : c.expect) {
            const std::string& bridge = expected.first;
            const std::string& want = expected.second;
            CAPTURE(bridge);
            auto d = acl::decide(p, bridge);
            CHECK_FALSE(d.policy_error);
            if (want.empty()) {
                CHECK_FALSE(d.allowed);
                CHECK_FALSE(d.rule);
            } else {
                REQUIRE(d.rule);
                CHECK(d.rule->text() + " @" + d.rule->where.str() == want);
                CHECK(d.allowed == (d.rule->action == acl::Action::allow));
            }
        }
    }
}

TEST_CASE("the same file included twice yields its rules twice") {
    auto p = load_memory({{main_conf, "include inc.conf\ninclude inc.conf\n"}, {inc, "allow br0\n"}});
    CHECK(error_list(p).empty());
    CHECK(p.rules.size() == 2);
}

TEST_CASE("explain() says what was decided and why") {
    auto p = load_text("allow br0\ndeny br1\n");
    CHECK(acl::decide(p, "br0").explain("br0", main_conf) ==
          "access to bridge br0 allowed by /etc/qemu/bridge.conf:1 (allow br0)");
    CHECK(acl::decide(p, "br1").explain("br1", main_conf) ==
          "access to bridge br1 denied by /etc/qemu/bridge.conf:2 (deny br1)");
    CHECK(acl::decide(p, "br2").explain("br2", main_conf) ==
          "access to bridge br2 denied: no rule in /etc/qemu/bridge.conf allows it");

    auto all = load_text("\n\ndeny all\n");
    CHECK(acl::decide(all, "br0").explain("br0", main_conf) ==
          "access to bridge br0 denied by /etc/qemu/bridge.conf:3 (deny all)");
}

TEST_CASE("explain() escapes the requested name") {
    auto p = load_text("allow br0\n");
    std::string evil = "br0\n\x1b[2Jx";
    CHECK(acl::decide(p, evil).explain(evil, main_conf) ==
          "access to bridge br0\\x0a\\x1b[2Jx denied: no rule in /etc/qemu/bridge.conf allows it");
}

TEST_CASE("explain() on a broken policy names the first error and counts the rest") {
    auto one = load_text("allow br0\nbogus\n");
    CHECK(acl::decide(one, "br0").explain("br0", main_conf) ==
          "access to bridge br0 denied: ACL error: /etc/qemu/bridge.conf:2: unknown command "
          "\"bogus\" (expected allow, deny or include)");

    auto three = load_text("allow br0\nbogus\nallow\nallow a b\n");
    auto d = acl::decide(three, "br0");
    CHECK(d.policy_error_count == 3);
    CHECK(d.explain("br0", main_conf) ==
          "access to bridge br0 denied: ACL error: /etc/qemu/bridge.conf:2: unknown command "
          "\"bogus\" (expected allow, deny or include) (and 2 more; run tapgate --check)");
}

TEST_CASE("explain() escapes the deciding rule too") {
    // A name from the file may hold any byte but NUL, blanks, '/' and ':'.
    auto p = load_text("allow \x1b[2J\n deny caf\xe9\n");
    REQUIRE(error_list(p).empty());
    CHECK(acl::decide(p, "\x1b[2J").explain("\x1b[2J", main_conf) ==
          "access to bridge \\x1b[2J allowed by /etc/qemu/bridge.conf:1 (allow \\x1b[2J)");
    CHECK(acl::decide(p, "caf\xe9").explain("caf\xe9", main_conf) ==
          "access to bridge caf\\xe9 denied by /etc/qemu/bridge.conf:2 (deny caf\\xe9)");
}
