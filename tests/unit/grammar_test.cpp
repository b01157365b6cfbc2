// SPDX-License-Identifier: GPL-2.0-or-later
// The bridge.conf grammar: what each kind of line turns into.
#include <doctest/doctest.h>

#include "util.hpp"

using namespace tapgate;
using namespace tapgate::test;
using Strings = std::vector<std::string>;

TEST_CASE("allow and deny take a bridge name or all") {
    auto p = load_text("allow br0\ndeny br1\nallow all\ndeny all\n");
    CHECK(error_list(p).empty());
    REQUIRE(p.rules.size() == 4);
    CHECK(p.rules[0].action == acl::Action::allow);
    CHECK_FALSE(p.rules[0].all);
    CHECK(p.rules[0].bridge == "br0");
    CHECK(p.rules[1].action == acl::Action::deny);
    CHECK(p.rules[1].bridge == "br1");
    CHECK(p.rules[2].action == acl::Action::allow);
    CHECK(p.rules[2].all);
    CHECK(p.rules[2].bridge.empty());
    CHECK(p.rules[3].action == acl::Action::deny);
    CHECK(p.rules[3].all);
    CHECK(rule_list(p) == Strings{
                              "allow br0 @/etc/qemu/bridge.conf:1",
                              "deny br1 @/etc/qemu/bridge.conf:2",
                              "allow all @/etc/qemu/bridge.conf:3",
                              "deny all @/etc/qemu/bridge.conf:4",
                          });
}

TEST_CASE("comments and blank lines produce nothing but still count as lines") {
    auto p = load_text("# allow br9\n\n   \n\t\n  # deny all\n#\nallow br0\n");
    CHECK(error_list(p).empty());
    CHECK(rule_list(p) == Strings{"allow br0 @/etc/qemu/bridge.conf:7"});
}

TEST_CASE("spaces and tabs anywhere around and between words") {
    auto p = load_text(" \t allow \t\t br0 \t \n\tdeny\tall\t\n   include \t /etc/qemu/x.conf \t \n");
    CHECK(error_list(p).empty());
    CHECK(rule_list(p) == Strings{"allow br0 @/etc/qemu/bridge.conf:1",
                                  "deny all @/etc/qemu/bridge.conf:2"});
    REQUIRE(p.skipped.size() == 1);
    CHECK(p.skipped[0].path == "/etc/qemu/x.conf");
}

TEST_CASE("CRLF line ends are not part of names or paths") {
    auto p = load_memory({
        {main_conf, "allow br0\r\n# comment\r\n\r\ndeny all\r\ninclude /etc/qemu/u.conf\r\n"},
        {"/etc/qemu/u.conf", "allow br1\r\n"},
    });
    CHECK(error_list(p).empty());
    CHECK(p.skipped.empty());
    CHECK(rule_list(p) == Strings{"allow br0 @/etc/qemu/bridge.conf:1",
                                  "deny all @/etc/qemu/bridge.conf:4",
                                  "allow br1 @/etc/qemu/u.conf:1"});
    CHECK(p.rules[0].bridge == "br0");
}

TEST_CASE("a last line without a newline is read") {
    auto p = load_text("allow br0\ndeny br1");
    CHECK(error_list(p).empty());
    CHECK(rule_list(p) == Strings{"allow br0 @/etc/qemu/bridge.conf:1",
                                  "deny br1 @/etc/qemu/bridge.conf:2"});

    auto inc = load_memory({{main_conf, "include /etc/qemu/u.conf"},
                            {"/etc/qemu/u.conf", "allow br1"}});
    CHECK(error_list(inc).empty());
    CHECK(rule_list(inc) == Strings{"allow br1 @/etc/qemu/u.conf:1"});
}

TEST_CASE("an empty file is a valid policy without rules") {
    auto p = load_text("");
    CHECK(p.ok());
    CHECK(p.rules.empty());
}

TEST_CASE("any bytes other than NUL are fine inside comments") {
    std::string junk;
    for (int c = 1; c < 256; ++c) junk += static_cast<char>(c == '\n' ? ' ' : c);
    auto p = load_text("# \xff\xfe\x80\xc3\x28 latin1: caf\xe9\n#" + junk + "\nallow br0\n");
    CHECK(error_list(p).empty());
    CHECK(rule_list(p) == Strings{"allow br0 @/etc/qemu/bridge.conf:3"});
}

TEST_CASE("long lines are never split") {
    // qemu-bridge-helper reads with fgets() into 4096 bytes, so whatever
    // follows byte 4095 of a long line becomes a line of its own.
    for (std::size_t pad : {4093u, 4094u, 4095u, 4096u, 8189u, 8190u, 10000u}) {
        CAPTURE(pad);
        std::string comment = "#" + std::string(pad - 1, 'x');
        auto p = load_text(comment + "allow evil\n" + "allow br0\n");
        CHECK(error_list(p).empty());
        CHECK(rule_list(p) == Strings{"allow br0 @/etc/qemu/bridge.conf:2"});
    }

    // The same split would turn the tail of a long rule into its own line.
    auto p = load_text("allow" + std::string(5000, ' ') + "br0\n" + "deny" +
                       std::string(4091, '\t') + "all" + std::string(6000, ' ') + "\n");
    CHECK(error_list(p).empty());
    CHECK(rule_list(p) == Strings{"allow br0 @/etc/qemu/bridge.conf:1",
                                  "deny all @/etc/qemu/bridge.conf:2"});

    std::string comment(10000, '#');
    auto q = load_text(comment + "\nallow br0\n");
    CHECK(rule_list(q) == Strings{"allow br0 @/etc/qemu/bridge.conf:2"});
}

TEST_CASE("include takes the rest of the line, trimmed, as the path") {
    auto p = load_memory({
        {main_conf, "include   /etc/qemu/my users/alice bob.conf \t \n"},
        {"/etc/qemu/my users/alice bob.conf", "allow br7\n"},
    });
    CHECK(error_list(p).empty());
    CHECK(p.skipped.empty());
    CHECK(rule_list(p) == Strings{"allow br7 @/etc/qemu/my users/alice bob.conf:1"});
}

TEST_CASE("keywords are lowercase only") {
    SUBCASE("ALL and All are bridge names, not the keyword") {
        auto p = load_text("allow ALL\ndeny All\n");
        CHECK(error_list(p).empty());
        REQUIRE(p.rules.size() == 2);
        CHECK_FALSE(p.rules[0].all);
        CHECK(p.rules[0].bridge == "ALL");
        CHECK_FALSE(p.rules[1].all);
        CHECK(p.rules[1].bridge == "All");
        CHECK_FALSE(acl::decide(p, "br0").allowed);
        CHECK(acl::decide(p, "ALL").allowed);
        CHECK_FALSE(acl::decide(p, "All").allowed);
    }
    SUBCASE("Allow, DENY and Include are unknown commands") {
        auto p = load_text("Allow br0\nDENY br0\nInclude /etc/qemu/x.conf\n");
        CHECK(p.rules.empty());
        CHECK(p.skipped.empty());
        REQUIRE(p.errors.size() == 3);
        CHECK(p.errors[0].str().rfind("/etc/qemu/bridge.conf:1: unknown command \"Allow\"", 0) == 0);
        CHECK(p.errors[1].str().rfind("/etc/qemu/bridge.conf:2: unknown command \"DENY\"", 0) == 0);
        CHECK(p.errors[2].str().rfind("/etc/qemu/bridge.conf:3: unknown command \"Include\"", 0) == 0);
    }
}

TEST_CASE("a command glued to its argument is not that command") {
    auto p = load_text("allowbr0\ninclude/etc/qemu/x.conf\n");
    CHECK(p.rules.empty());
    CHECK(p.skipped.empty());
    CHECK(p.errors.size() == 2);
}

TEST_CASE("names up to 15 bytes are accepted") {
    auto p = load_text("allow abcdefghijklmno\nallow a\nallow br-0_x.y\nallow caf\xc3\xa9\n");
    CHECK(error_list(p).empty());
    REQUIRE(p.rules.size() == 4);
    CHECK(p.rules[0].bridge == "abcdefghijklmno");
    CHECK(p.rules[3].bridge == "caf\xc3\xa9");
}

TEST_CASE("Rule::text and Location::str") {
    acl::Rule r;
    r.action = acl::Action::allow;
    r.bridge = "br0";
    CHECK(r.text() == "allow br0");
    r.action = acl::Action::deny;
    r.all = true;
    r.bridge.clear();
    CHECK(r.text() == "deny all");
    CHECK(acl::Location{"/a/b.conf", 3}.str() == "/a/b.conf:3");
    CHECK(acl::Location{"/a/b.conf", 0}.str() == "/a/b.conf");
    CHECK(acl::Diagnostic{{"/a/b.conf", 3}, "bad"}.str() == "/a/b.conf:3: bad");
}
