// SPDX-License-Identifier: GPL-2.0-or-later
// How include paths are resolved, and what happens to includes the caller
// cannot open.
#include <doctest/doctest.h>

#include <unistd.h>

#include <cerrno>

#include "util.hpp"

using namespace tapgate;
using namespace tapgate::test;
using Strings = std::vector<std::string>;

TEST_CASE("directory_of and resolve_include") {
    CHECK(acl::directory_of("/etc/qemu/bridge.conf") == "/etc/qemu");
    CHECK(acl::directory_of("/bridge.conf") == "/");
    CHECK(acl::directory_of("bridge.conf") == ".");
    CHECK(acl::resolve_include("/etc/qemu/bridge.conf", "alice.conf") == "/etc/qemu/alice.conf");
    CHECK(acl::resolve_include("/etc/qemu/bridge.conf", "users/a b.conf") ==
          "/etc/qemu/users/a b.conf");
    CHECK(acl::resolve_include("/etc/qemu/bridge.conf", "/srv/x.conf") == "/srv/x.conf");
    CHECK(acl::resolve_include("/bridge.conf", "x.conf") == "/x.conf");
}

TEST_CASE("relative includes resolve against the including file's directory") {
    auto p = load_memory({
        {main_conf, "include users/alice.conf\n"},
        {"/etc/qemu/users/alice.conf", "allow br1\ninclude bob.conf\ninclude ../shared.conf\n"},
        {"/etc/qemu/users/bob.conf", "allow br2\n"},
        {"/etc/qemu/users/../shared.conf", "allow br3\n"},
        // What a resolution against the wrong directory would find.
        {"/etc/qemu/bob.conf", "deny all\n"},
    });
    CHECK(error_list(p).empty());
    CHECK(p.skipped.empty());
    CHECK(rule_list(p) == Strings{"allow br1 @/etc/qemu/users/alice.conf:1",
                                  "allow br2 @/etc/qemu/users/bob.conf:1",
                                  "allow br3 @/etc/qemu/users/../shared.conf:1"});
}

TEST_CASE("absolute includes are used as they are") {
    auto p = load_memory({
        {main_conf, "include /srv/acl/extra.conf\n"},
        {"/srv/acl/extra.conf", "allow br5\ninclude more.conf\n"},
        {"/srv/acl/more.conf", "deny br6\n"},
    });
    CHECK(error_list(p).empty());
    CHECK(rule_list(p) == Strings{"allow br5 @/srv/acl/extra.conf:1",
                                  "deny br6 @/srv/acl/more.conf:1"});
}

TEST_CASE("an include that cannot be opened is skipped silently and recorded") {
    auto p = load_memory({
        {main_conf, "allow br0\n# per-user\ninclude users/alice.conf\nallow br1\n"},
    });
    CHECK(p.ok());
    CHECK(rule_list(p) == Strings{"allow br0 @/etc/qemu/bridge.conf:1",
                                  "allow br1 @/etc/qemu/bridge.conf:4"});
    REQUIRE(p.skipped.size() == 1);
    CHECK(p.skipped[0].where.str() == "/etc/qemu/bridge.conf:3");
    CHECK(p.skipped[0].path == "/etc/qemu/users/alice.conf");
    CHECK(p.skipped[0].error == ENOENT);
    CHECK(acl::decide(p, "br1").allowed);
}

TEST_CASE("skipped includes inside includes name the inner file") {
    auto p = load_memory({{main_conf, "include a.conf\n"}, {"/etc/qemu/a.conf", "\ninclude b.conf\n"}});
    CHECK(p.ok());
    REQUIRE(p.skipped.size() == 1);
    CHECK(p.skipped[0].where.str() == "/etc/qemu/a.conf:2");
    CHECK(p.skipped[0].path == "/etc/qemu/b.conf");
}

TEST_CASE("relative includes never resolve against the working directory (real files)" *
          doctest::skip(!running_as_root())) {
    TempDir conf;
    TempDir elsewhere;
    std::string main = conf.write("bridge.conf", "include sub.conf\ninclude missing.conf\n");
    conf.write("sub.conf", "allow br0\n");
    // A caller who controls the cwd would put this there.
    elsewhere.write("sub.conf", "allow evil\n");
    elsewhere.write("missing.conf", "allow evil2\n");

    std::string result = run_in_child([&] {
        if (::chdir(elsewhere.path().c_str()) != 0) return std::string("chdir failed");
        acl::FileSystemSource fs;
        return summary(acl::load(fs, main));
    });
    CHECK(result == "skipped[" + main + ":2 " + (conf / "missing.conf") + " errno=2] rule[allow br0 @" +
                        (conf / "sub.conf") + ":1] ");
}

TEST_CASE("a relative main file path is taken from the working directory" *
          doctest::skip(!running_as_root())) {
    TempDir conf;
    conf.write("bridge.conf", "include sub.conf\n");
    conf.write("sub.conf", "allow br0\n");
    std::string result = run_in_child([&] {
        if (::chdir(conf.path().c_str()) != 0) return std::string("chdir failed");
        acl::FileSystemSource fs;
        auto p = acl::load(fs, "bridge.conf");
        return std::string(acl::decide(p, "br0").allowed ? "allowed " : "denied ") + summary(p);
    });
    CHECK(result == "allowed rule[allow br0 @./sub.conf:1] ");
}
