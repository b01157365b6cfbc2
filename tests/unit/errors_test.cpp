// SPDX-License-Identifier: GPL-2.0-or-later
// Every error names its file and line, all of them are reported, and any of
// them makes the whole policy allow nothing.
#include <doctest/doctest.h>

#include <cstring>

#include "util.hpp"

using namespace tapgate;
using namespace tapgate::test;

namespace {

// The single error of a policy, as "FILE:LINE: message".
std::string only_error(const acl::Policy& p) {
    REQUIRE(p.errors.size() == 1);
    return p.errors[0].str();
}

bool starts_with(const std::string& s, const std::string& prefix) {
    return s.rfind(prefix, 0) == 0;
}

// An allow rule for br0 precedes every error below: the error must still
// make the policy deny br0.
void check_fails_closed(const acl::Policy& p) {
    CHECK_FALSE(p.ok());
    auto d = acl::decide(p, "br0");
    CHECK_FALSE(d.allowed);
    CHECK_FALSE(d.rule);
    REQUIRE(d.policy_error);
    CHECK(d.policy_error->str() == p.errors.front().str());
    CHECK_FALSE(acl::decide(p, "anything").allowed);
}

}  // namespace

TEST_CASE("unknown command") {
    auto p = load_text("allow br0\n\npermit br0\n");
    CHECK(only_error(p) ==
          "/etc/qemu/bridge.conf:3: unknown command \"permit\" (expected allow, deny or include)");
    check_fails_closed(p);
}

TEST_CASE("unknown command text is escaped") {
    auto p = load_text("allow br0\n\x1b[31mred\n");
    CHECK(starts_with(only_error(p), "/etc/qemu/bridge.conf:2: unknown command \"\\x1b[31mred\""));
}

TEST_CASE("missing argument") {
    SUBCASE("allow") {
        auto p = load_text("allow br0\nallow\n");
        CHECK(only_error(p) == "/etc/qemu/bridge.conf:2: allow: missing bridge name or \"all\"");
        check_fails_closed(p);
    }
    SUBCASE("deny, with trailing blanks") {
        auto p = load_text("allow br0\n  deny \t \r\n");
        CHECK(only_error(p) == "/etc/qemu/bridge.conf:2: deny: missing bridge name or \"all\"");
        check_fails_closed(p);
    }
}

TEST_CASE("extra argument") {
    SUBCASE("two names") {
        auto p = load_text("allow br0\nallow br1 br2\n");
        CHECK(starts_with(only_error(p),
                          "/etc/qemu/bridge.conf:2: allow: unexpected \"br2\" after \"br1\""));
        check_fails_closed(p);
    }
    SUBCASE("a trailing comment is not a comment") {
        // qemu-bridge-helper would take "br1 # no" as the name; refusing is
        // the only reading that cannot surprise anyone.
        auto p = load_text("allow br0\ndeny br1 # no\n");
        CHECK(starts_with(only_error(p),
                          "/etc/qemu/bridge.conf:2: deny: unexpected \"#\" after \"br1\""));
        check_fails_closed(p);
    }
}

TEST_CASE("names that cannot be interface names") {
    struct Bad {
        std::string name;
        std::string why;
    };
    const Bad bad[] = {
        {"abcdefghijklmnop", "16 characters, at most 15"},
        {std::string(40, 'b'), "40 characters, at most 15"},
        {"br/0", "contains '/'"},
        {"/", "contains '/'"},
        {"br:0", "contains ':'"},
        {".", "\".\" and \"..\" are not allowed"},
        {"..", "\".\" and \"..\" are not allowed"},
    };
    for (const auto& b : bad) {
        CAPTURE(b.name);
        auto p = load_text("allow br0\n# x\nallow " + b.name + "\n");
        CHECK(only_error(p) == "/etc/qemu/bridge.conf:3: allow: \"" + b.name +
                                   "\" cannot be a bridge name: " + b.why);
        check_fails_closed(p);
        auto q = load_text("allow br0\ndeny " + b.name + "\n");
        CHECK(starts_with(only_error(q), "/etc/qemu/bridge.conf:2: deny: \""));
    }
    // Exactly 15 is fine, and so are names that merely contain dots.
    CHECK(load_text("allow abcdefghijklmno\nallow ...\nallow .a\n").ok());
}

TEST_CASE("invalid_interface_name covers what the parser cannot produce") {
    // Empty names and names with blanks cannot come out of the word split,
    // but the function is also used for names from the command line.
    CHECK(acl::invalid_interface_name("") == "empty");
    CHECK(acl::invalid_interface_name("a b") == "contains whitespace");
    CHECK(acl::invalid_interface_name("a\tb") == "contains whitespace");
    CHECK(acl::invalid_interface_name("a\nb") == "contains whitespace");
    CHECK(acl::invalid_interface_name("a\vb") == "contains whitespace");
    CHECK(acl::invalid_interface_name(std::string("a\0b", 3)) == "contains a NUL byte");
    CHECK(acl::invalid_interface_name("abcdefghijklmnop") == "16 characters, at most 15");
    CHECK_FALSE(acl::invalid_interface_name("abcdefghijklmno"));
    CHECK_FALSE(acl::invalid_interface_name("br0"));
    CHECK_FALSE(acl::invalid_interface_name("..."));
}

TEST_CASE("NUL byte") {
    SUBCASE("in a rule") {
        // The reference's string functions would stop at the NUL and read
        // "allow br0"; the rest of the line would silently vanish.
        auto p = load_text(std::string("deny br1\nallow br0\0 br1\n", 22));
        CHECK(only_error(p) == "/etc/qemu/bridge.conf:2: NUL byte in line");
        check_fails_closed(p);
    }
    SUBCASE("in an include path") {
        auto p = load_memory({{main_conf, std::string("allow br0\ninclude /etc/qemu/a\0b.conf\n", 37)},
                              {"/etc/qemu/a", "deny br0\n"}});
        CHECK(only_error(p) == "/etc/qemu/bridge.conf:2: NUL byte in line");
        check_fails_closed(p);
    }
}

TEST_CASE("include without a path") {
    auto p = load_text("allow br0\ninclude\ninclude \t \r\n");
    REQUIRE(p.errors.size() == 2);
    CHECK(p.errors[0].str() == "/etc/qemu/bridge.conf:2: include: missing file name");
    CHECK(p.errors[1].str() == "/etc/qemu/bridge.conf:3: include: missing file name");
    check_fails_closed(p);
}

TEST_CASE("include cycles") {
    SUBCASE("a file that includes itself, by absolute path") {
        auto p = load_text("allow br0\ninclude /etc/qemu/bridge.conf\n");
        CHECK(only_error(p) == "/etc/qemu/bridge.conf:2: include /etc/qemu/bridge.conf: include "
                               "cycle (the file is already being read)");
        check_fails_closed(p);
    }
    SUBCASE("a file that includes itself, by relative path") {
        auto p = load_text("allow br0\n\n\ninclude bridge.conf\n");
        CHECK(starts_with(only_error(p),
                          "/etc/qemu/bridge.conf:4: include /etc/qemu/bridge.conf: include cycle"));
        check_fails_closed(p);
    }
    SUBCASE("A includes B includes A") {
        auto p = load_memory({{main_conf, "allow br0\ninclude a.conf\n"},
                              {"/etc/qemu/a.conf", "include b.conf\n"},
                              {"/etc/qemu/b.conf", "# back\ninclude /etc/qemu/a.conf\n"}});
        CHECK(starts_with(only_error(p),
                          "/etc/qemu/b.conf:2: include /etc/qemu/a.conf: include cycle"));
        check_fails_closed(p);
    }
    SUBCASE("an include back to the main file") {
        auto p = load_memory({{main_conf, "allow br0\ninclude a.conf\n"},
                              {"/etc/qemu/a.conf", "include bridge.conf\n"}});
        CHECK(starts_with(only_error(p),
                          "/etc/qemu/a.conf:1: include /etc/qemu/bridge.conf: include cycle"));
        check_fails_closed(p);
    }
}

TEST_CASE("include depth") {
    // main -> f1 -> f2 -> ... : main is depth 0, fN is depth N.
    auto chain = [](int last) {
        std::map<std::string, std::string> files;
        files[main_conf] = "allow br0\ninclude f1.conf\n";
        for (int i = 1; i <= last; ++i)
            files["/etc/qemu/f" + std::to_string(i) + ".conf"] =
                "# level " + std::to_string(i) + "\ninclude f" + std::to_string(i + 1) + ".conf\n";
        return files;
    };
    SUBCASE("max_include_depth levels are fine") {
        auto files = chain(acl::max_include_depth);
        files["/etc/qemu/f" + std::to_string(acl::max_include_depth) + ".conf"] = "allow br9\n";
        auto p = load_memory(files);
        CHECK(error_list(p).empty());
        CHECK(rule_list(p).back() == "allow br9 @/etc/qemu/f8.conf:1");
        CHECK(acl::decide(p, "br9").allowed);
    }
    SUBCASE("one more level is an error in the file that includes it") {
        auto p = load_memory(chain(acl::max_include_depth + 1));
        CHECK(only_error(p) == "/etc/qemu/f8.conf:2: include /etc/qemu/f9.conf: nested more "
                               "than 8 levels deep");
        check_fails_closed(p);
    }
    SUBCASE("deeper chains report once, not at every level") {
        auto p = load_memory(chain(30));
        CHECK(starts_with(only_error(p), "/etc/qemu/f8.conf:2: "));
    }
    static_assert(acl::max_include_depth == 8);
}

TEST_CASE("errors in included files name the included file and its line") {
    auto p = load_memory({{main_conf, "allow br0\ninclude users/alice.conf\nallow br1\n"},
                          {"/etc/qemu/users/alice.conf", "# alice\n\nallow br2\nallo br3\n"}});
    CHECK(only_error(p) ==
          "/etc/qemu/users/alice.conf:4: unknown command \"allo\" (expected allow, deny or include)");
    check_fails_closed(p);
    CHECK_FALSE(acl::decide(p, "br2").allowed);
}

TEST_CASE("all errors are collected, in file order, across includes") {
    auto p = load_memory({{main_conf, "allow br0\nfoo\ninclude a.conf\nallow x y\n"},
                          {"/etc/qemu/a.conf", "deny\nallow ..\n"}});
    CHECK(error_list(p) ==
          std::vector<std::string>{
              "/etc/qemu/bridge.conf:2: unknown command \"foo\" (expected allow, deny or include)",
              "/etc/qemu/a.conf:1: deny: missing bridge name or \"all\"",
              "/etc/qemu/a.conf:2: allow: \"..\" cannot be a bridge name: \".\" and \"..\" are "
              "not allowed",
              "/etc/qemu/bridge.conf:4: allow: unexpected \"y\" after \"x\" (one bridge name or "
              "\"all\" per line, then optionally \"user NAME,...\" or \"group NAME,...\")",
          });
    check_fails_closed(p);
    CHECK(acl::decide(p, "br0").policy_error_count == 4);
}

TEST_CASE("main file missing: error naming the file and the reason") {
    acl::MemorySource none;
    auto p = acl::load(none, main_conf);
    CHECK(only_error(p) == "/etc/qemu/bridge.conf: cannot open: " + std::string(std::strerror(ENOENT)));
    CHECK(p.skipped.empty());
    check_fails_closed(p);

    acl::FileSystemSource fs;
    auto q = acl::load(fs, "/nonexistent-tapgate-dir/bridge.conf");
    CHECK(only_error(q) == "/nonexistent-tapgate-dir/bridge.conf: cannot open: No such file or directory");
    check_fails_closed(q);
}

TEST_CASE("the total number of includes is bounded") {
    SUBCASE("max_includes include lines are fine") {
        std::string main;
        for (std::size_t i = 0; i < acl::max_includes; ++i) main += "include a.conf\n";
        auto p = load_memory({{main_conf, main}, {"/etc/qemu/a.conf", "allow br0\n"}});
        CHECK(error_list(p).empty());
        CHECK(p.rules.size() == acl::max_includes);
    }
    SUBCASE("one more is an error, reported once, where the limit was crossed") {
        std::string main = "allow br0\n";
        for (std::size_t i = 0; i < acl::max_includes + 5; ++i) main += "include a.conf\n";
        auto p = load_memory({{main_conf, main}, {"/etc/qemu/a.conf", "allow br1\n"}});
        CHECK(only_error(p) == "/etc/qemu/bridge.conf:" + std::to_string(acl::max_includes + 2) +
                                   ": include /etc/qemu/a.conf: more than 1024 includes in all "
                                   "(the same files included many times?)");
        check_fails_closed(p);
    }
    SUBCASE("skipped includes count too") {
        std::string main;
        for (std::size_t i = 0; i <= acl::max_includes; ++i) main += "include gone.conf\n";
        auto p = load_memory({{main_conf, main}});
        CHECK(p.skipped.size() == acl::max_includes);
        CHECK(starts_with(only_error(p), "/etc/qemu/bridge.conf:1025: include /etc/qemu/gone.conf: more than"));
    }
    SUBCASE("repeated includes at every level do not multiply without end") {
        // Each level includes the next one ten times, within the depth
        // limit: 10^8 reads unbounded.
        std::map<std::string, std::string> files;
        files[main_conf] = "include f1.conf\n";
        for (int i = 1; i < acl::max_include_depth; ++i) {
            std::string& text = files["/etc/qemu/f" + std::to_string(i) + ".conf"];
            for (int n = 0; n < 10; ++n) text += "include f" + std::to_string(i + 1) + ".conf\n";
        }
        files["/etc/qemu/f8.conf"] = "allow br0\n";
        auto p = load_memory(files);
        // Include lines in files already open are still counted (ten per
        // level at most), but none is followed.
        CHECK(p.includes > acl::max_includes);
        CHECK(p.includes < acl::max_includes + 10 * acl::max_include_depth);
        CHECK(p.rules.size() < acl::max_includes);
        CHECK(starts_with(only_error(p), "/etc/qemu/f"));
        CHECK(p.errors[0].message.find("more than 1024 includes in all") != std::string::npos);
    }
}
