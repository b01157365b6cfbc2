// SPDX-License-Identifier: GPL-2.0-or-later
// FileSystemSource on real files: what it trusts and what it refuses.
// Needs root (files must be chowned); CI runs the unit tests as root.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "settings.hpp"
#include "util.hpp"

using namespace tapgate;
using namespace tapgate::test;

namespace {

std::string read_status(const std::string& path) {
    acl::FileSystemSource fs;
    auto c = fs.read(path);
    switch (c.status) {
    case acl::FileContent::Status::ok: return "ok:" + c.text;
    case acl::FileContent::Status::not_accessible: return "not_accessible:" + std::to_string(c.error);
    case acl::FileContent::Status::refused: return "refused:" + c.reason;
    }
    return "?";
}

// Reads in a child with a deadline: a vetting step that blocks (open() of a
// FIFO without O_NONBLOCK) must fail the test, not hang it.
std::string read_guarded(const std::string& path) {
    return run_in_child([&] { return read_status(path); }, std::nullopt, 5);
}

}  // namespace

TEST_SUITE("vetting" * doctest::skip(!running_as_root())) {

TEST_CASE("root:root 0644 and 0444 files are trusted") {
    TempDir d;
    CHECK(read_status(d.write("a.conf", "allow br0\n", 0644)) == "ok:allow br0\n");
    CHECK(read_status(d.write("b.conf", "allow br1\n", 0444)) == "ok:allow br1\n");
    CHECK(read_status(d.write("c.conf", "allow br2\n", 0600)) == "ok:allow br2\n");
}

TEST_CASE("the per-user include idiom root:GROUP 0640 is trusted") {
    TempDir d;
    CHECK(read_status(d.write("alice.conf", "allow br1\n", 0640, 0, nobody_gid)) ==
          "ok:allow br1\n");
}

TEST_CASE("a file owned by another uid is refused") {
    TempDir d;
    CHECK(read_status(d.write("a.conf", "allow all\n", 0644, nobody_uid, 0)) ==
          "refused:is owned by uid 4242, not root");
    CHECK(read_status(d.write("b.conf", "allow all\n", 0400, nobody_uid, nobody_gid)) ==
          "refused:is owned by uid 4242, not root");
}

TEST_CASE("group- or world-writable files are refused") {
    TempDir d;
    CHECK(read_status(d.write("g.conf", "allow all\n", 0664)) == "refused:is writable by group");
    CHECK(read_status(d.write("g2.conf", "allow all\n", 0620, 0, nobody_gid)) ==
          "refused:is writable by group");
    CHECK(read_status(d.write("o.conf", "allow all\n", 0646)) == "refused:is writable by others");
    CHECK(read_status(d.write("o2.conf", "allow all\n", 0666)) == "refused:is writable by others");
}

TEST_CASE("things that are not regular files are refused") {
    TempDir d;
    SUBCASE("a directory") {
        CHECK(read_status(d.mkdir("dir.conf")) == "refused:is a directory, not a regular file");
    }
    SUBCASE("a FIFO, without hanging") {
        std::string fifo = d / "fifo.conf";
        REQUIRE(::mkfifo(fifo.c_str(), 0644) == 0);
        CHECK(read_guarded(fifo) == "refused:is a FIFO, not a regular file");
    }
    SUBCASE("/dev/zero") {
        CHECK(read_guarded("/dev/zero") == "refused:is a character device, not a regular file");
    }
    SUBCASE("/dev/null") {
        CHECK(read_guarded("/dev/null") == "refused:is a character device, not a regular file");
    }
}

TEST_CASE("files on /proc are refused although they look root-owned and read-only") {
    struct stat st{};
    REQUIRE(::stat("/proc/self/status", &st) == 0);
    REQUIRE(S_ISREG(st.st_mode));
    REQUIRE(st.st_uid == 0);
    CHECK(read_guarded("/proc/self/cmdline") == "refused:is on a proc file system");
    CHECK(read_guarded("/proc/self/status") == "refused:is on a proc file system");
    CHECK(read_guarded("/proc/self/environ") == "refused:is on a proc file system");
}

TEST_CASE("directories on the path") {
    TempDir d;
    SUBCASE("a directory owned by another uid") {
        d.mkdir("user", 0755, nobody_uid, nobody_gid);
        std::string f = d.write("user/a.conf", "allow all\n");
        CHECK(read_status(f) == "refused:directory " + (d / "user") + " is owned by uid 4242, not root");
    }
    SUBCASE("a non-sticky world-writable directory") {
        d.mkdir("ww", 0777);
        std::string f = d.write("ww/a.conf", "allow all\n");
        CHECK(read_status(f) == "refused:directory " + (d / "ww") + " is writable by others");
    }
    SUBCASE("a non-sticky group-writable directory") {
        d.mkdir("gw", 0775, 0, nobody_gid);
        std::string f = d.write("gw/a.conf", "allow all\n");
        CHECK(read_status(f) == "refused:directory " + (d / "gw") + " is writable by group");
    }
    SUBCASE("a sticky root-owned world-writable directory is fine") {
        d.mkdir("sticky", 01777);
        std::string f = d.write("sticky/a.conf", "allow br0\n");
        CHECK(read_status(f) == "ok:allow br0\n");
    }
    SUBCASE("a sticky directory owned by another uid is not") {
        d.mkdir("usticky", 01777, nobody_uid, 0);
        std::string f = d.write("usticky/a.conf", "allow all\n");
        CHECK(read_status(f) ==
              "refused:directory " + (d / "usticky") + " is owned by uid 4242, not root");
    }
    SUBCASE("a bad directory further up") {
        d.mkdir("user", 0755, nobody_uid, nobody_gid);
        d.mkdir("user/sub");
        std::string f = d.write("user/sub/a.conf", "allow all\n");
        CHECK(read_status(f) == "refused:directory " + (d / "user") + " is owned by uid 4242, not root");
    }
}

TEST_CASE("a path written with '.', '..' or '//' is vetted like its resolved form") {
    TempDir d;
    d.write("a.conf", "allow br0\n");
    d.mkdir("sub");
    CHECK(read_status(d / "./a.conf") == "ok:allow br0\n");
    CHECK(read_status(d.path() + "//a.conf") == "ok:allow br0\n");
    CHECK(read_status(d / "sub/../a.conf") == "ok:allow br0\n");
    // Walking through a directory someone else owns is refused even when
    // ".." leads out of it again: its owner could make it a link.
    d.mkdir("user", 0755, nobody_uid, nobody_gid);
    CHECK(read_status(d / "user/../a.conf") ==
          "refused:directory " + (d / "user") + " is owned by uid 4242, not root");
}

TEST_CASE("symbolic links") {
    TempDir d;
    std::string target = d.write("real.conf", "allow br0\n");
    SUBCASE("a root-owned link to a good file is followed") {
        std::string link = d / "link.conf";
        REQUIRE(::symlink("real.conf", link.c_str()) == 0);
        CHECK(read_status(link) == "ok:allow br0\n");
    }
    SUBCASE("a link owned by another uid is refused") {
        std::string link = d / "link.conf";
        REQUIRE(::symlink("real.conf", link.c_str()) == 0);
        REQUIRE(::lchown(link.c_str(), nobody_uid, nobody_gid) == 0);
        CHECK(read_status(link) ==
              "refused:symbolic link " + link + " is owned by uid 4242, not root");
    }
    SUBCASE("a link to a directory owned by another uid is refused") {
        d.mkdir("dir");
        d.write("dir/a.conf", "allow br0\n");
        std::string link = d / "dirlink";
        REQUIRE(::symlink("dir", link.c_str()) == 0);
        REQUIRE(::lchown(link.c_str(), nobody_uid, nobody_gid) == 0);
        CHECK(read_status(link + "/a.conf") ==
              "refused:symbolic link " + link + " is owned by uid 4242, not root");
    }
    SUBCASE("a root-owned link into a directory owned by another uid is refused") {
        d.mkdir("user", 0755, nobody_uid, nobody_gid);
        d.write("user/a.conf", "allow all\n");
        std::string link = d / "link.conf";
        REQUIRE(::symlink("user/a.conf", link.c_str()) == 0);
        CHECK(read_status(link) == "refused:directory " + (d / "user") + " is owned by uid 4242, not root");
    }
}

TEST_CASE("a file counts as missing or unreadable only behind a trusted path") {
    // What the caller cannot open is skipped (the per-user include idiom),
    // but only when nobody but root could have made it so: otherwise the
    // owner of a directory on the way could make a deny vanish.
    TempDir d;
    d.mkdir("user", 0755, nobody_uid, nobody_gid);
    const std::string user_dir = "refused:directory " + (d / "user") + " is owned by uid 4242, not root";
    SUBCASE("missing, in a directory another uid owns") {
        CHECK(read_status(d / "user/gone.conf") == user_dir);
        CHECK(read_status(d / "user/sub/gone.conf") == user_dir);
    }
    SUBCASE("missing, behind a root-owned link into such a directory") {
        std::string link = d / "link";
        REQUIRE(::symlink("user", link.c_str()) == 0);
        CHECK(read_status(link + "/gone.conf") == user_dir);
        std::string flink = d / "flink.conf";
        REQUIRE(::symlink("user/gone.conf", flink.c_str()) == 0);
        CHECK(read_status(flink) == user_dir);
    }
    SUBCASE("missing, behind a root-owned link to a link another uid owns") {
        std::string ulink = d / "ulink.conf";
        REQUIRE(::symlink("gone.conf", ulink.c_str()) == 0);
        REQUIRE(::lchown(ulink.c_str(), nobody_uid, nobody_gid) == 0);
        std::string link = d / "link.conf";
        REQUIRE(::symlink("ulink.conf", link.c_str()) == 0);
        CHECK(read_status(link) == "refused:symbolic link " + ulink + " is owned by uid 4242, not root");
    }
    SUBCASE("unsearchable by the caller, in a directory another uid owns") {
        d.mkdir("other", 0700, nobody_uid + 1, nobody_gid + 1);
        d.write("other/deny.conf", "deny all\n");
        CHECK(run_in_child([&] { return read_status(d / "other/deny.conf"); }, nobody_uid) ==
              "refused:directory " + (d / "other") + " is owned by uid 4243, not root");
    }
    SUBCASE("unreadable, but not a file that could be trusted") {
        d.write("theirs.conf", "deny all\n", 0600, nobody_uid + 1, nobody_gid + 1);
        CHECK(run_in_child([&] { return read_status(d / "theirs.conf"); }, nobody_uid) ==
              "refused:is owned by uid 4243, not root");
    }
    SUBCASE("missing or unreadable behind a trusted path: skipped") {
        d.mkdir("private", 0750, 0, nobody_gid + 1);
        d.write("private/a.conf", "deny all\n");
        d.write("root-only.conf", "deny all\n", 0600);
        std::string link = d / "link";
        REQUIRE(::symlink("private", link.c_str()) == 0);
        auto as_user = [&](const std::string& p) {
            return run_in_child([&] { return read_status(p); }, nobody_uid);
        };
        const std::string enoent = "not_accessible:" + std::to_string(ENOENT);
        const std::string eacces = "not_accessible:" + std::to_string(EACCES);
        CHECK(read_status(d / "gone.conf") == enoent);
        CHECK(read_status(d / "gone/a.conf") == enoent);
        CHECK(as_user(d / "private/a.conf") == eacces);
        CHECK(as_user(link + "/a.conf") == eacces);
        CHECK(as_user(d / "root-only.conf") == eacces);
    }
}

TEST_CASE("a path ending in '/' names a directory: a file there is not found") {
    // As the kernel (and qemu-bridge-helper's fopen()) see it: ENOTDIR.
    TempDir d;
    d.write("a.conf", "allow br0\n");
    std::string link = d / "link.conf";
    REQUIRE(::symlink("a.conf", link.c_str()) == 0);
    CHECK(read_status(d / "a.conf/") == "not_accessible:" + std::to_string(ENOTDIR));
    CHECK(read_status(link + "/") == "not_accessible:" + std::to_string(ENOTDIR));
    CHECK(read_status(d.path() + "/") == "refused:is a directory, not a regular file");
}

TEST_CASE("a deny include cannot be made to vanish through a directory a user owns") {
    TempDir d;
    d.mkdir("user", 0755, nobody_uid, nobody_gid);
    std::string link = d / "denies";
    REQUIRE(::symlink("user", link.c_str()) == 0);
    std::string main = d.write("bridge.conf", "allow br0\ninclude denies/deny.conf\n");
    // The user owns the directory the root-owned link leads to, and has
    // removed deny.conf from it.
    acl::FileSystemSource fs;
    auto p = acl::load(fs, main);
    REQUIRE(p.errors.size() == 1);
    CHECK(p.errors[0].str() == main + ":2: include " + (d / "denies/deny.conf") + ": directory " +
                                   (d / "user") + " is owned by uid 4242, not root");
    CHECK(p.skipped.empty());
    CHECK_FALSE(acl::decide(p, "br0").allowed);
}

TEST_CASE("tapgate.conf missing behind an untrusted path is an error, not the defaults") {
    // Otherwise the owner of a directory on the way could remove every
    // quota, VLAN and port setting by removing the file.
    TempDir d;
    d.mkdir("user", 0755, nobody_uid, nobody_gid);
    std::string link = d / "etc";
    REQUIRE(::symlink("user", link.c_str()) == 0);
    acl::FileSystemSource fs;
    acl::MemoryDirectory dir;
    auto s = settings::load(fs, link + "/tapgate.conf", dir);
    REQUIRE(s.errors.size() == 1);
    CHECK(s.errors[0].str() == link + "/tapgate.conf: directory " + (d / "user") +
                                   " is owned by uid 4242, not root");
    auto missing = settings::load(fs, d / "tapgate.conf", dir);
    CHECK(missing.ok());
    CHECK_FALSE(missing.exists);
}

TEST_CASE("paths through /proc are refused, even where the file cannot be opened") {
    CHECK(read_guarded("/proc/self/cwd/gone.conf") == "refused:is on a proc file system");
    CHECK(run_in_child([] { return read_status("/proc/1/environ"); }, nobody_uid) ==
          "refused:is on a proc file system");
}

TEST_CASE("a refused include is an error that fails the policy closed") {
    TempDir d;
    std::string main = d.write("bridge.conf", "allow br0\ninclude bad.conf\n");
    d.write("bad.conf", "allow br1\n", 0666);
    acl::FileSystemSource fs;
    auto p = acl::load(fs, main);
    REQUIRE(p.errors.size() == 1);
    CHECK(p.errors[0].str() == main + ":2: include " + (d / "bad.conf") + ": is writable by others");
    CHECK(p.skipped.empty());
    CHECK_FALSE(acl::decide(p, "br0").allowed);
    CHECK_FALSE(acl::decide(p, "br1").allowed);
}

TEST_CASE("a refused main file is an error that says why") {
    TempDir d;
    std::string main = d.write("bridge.conf", "allow br0\n", 0644, nobody_uid, 0);
    acl::FileSystemSource fs;
    auto p = acl::load(fs, main);
    REQUIRE(p.errors.size() == 1);
    CHECK(p.errors[0].str() == main + ": is owned by uid 4242, not root");
    CHECK_FALSE(acl::decide(p, "br0").allowed);

    auto q = acl::load(fs, d.mkdir("dir"));
    REQUIRE(q.errors.size() == 1);
    CHECK(q.errors[0].str() == d / "dir" + ": is a directory, not a regular file");
}

TEST_CASE("a cycle through a link is caught by file identity") {
    TempDir d;
    std::string main = d.write("bridge.conf", "allow br0\ninclude other.conf\n");
    std::string other = d / "other.conf";
    REQUIRE(::symlink("bridge.conf", other.c_str()) == 0);
    acl::FileSystemSource fs;
    auto p = acl::load(fs, main);
    REQUIRE(p.errors.size() == 1);
    CHECK(p.errors[0].str() == main + ":2: include " + other +
                                   ": include cycle (the file is already being read)");
}

TEST_CASE("a hard link cycle is caught too") {
    TempDir d;
    std::string a = d.write("a.conf", "include b.conf\n");
    std::string b = d / "b.conf";
    std::string main = d.write("bridge.conf", "include a.conf\n");
    REQUIRE(::link(main.c_str(), b.c_str()) == 0);
    acl::FileSystemSource fs;
    auto p = acl::load(fs, main);
    REQUIRE(p.errors.size() == 1);
    CHECK(p.errors[0].str() == a + ":1: include " + b +
                                   ": include cycle (the file is already being read)");
}

TEST_CASE("per-user include the caller cannot read: skipped silently") {
    TempDir d;
    std::string main = d.write("bridge.conf", "allow br0\ninclude alice.conf\ninclude gone.conf\n");
    std::string alice = d.write("alice.conf", "allow br1\ndeny br0\n", 0600);
    auto run = [&] {
        acl::FileSystemSource fs;
        auto p = acl::load(fs, main);
        return std::string(acl::decide(p, "br0").allowed ? "br0 " : "") +
               (acl::decide(p, "br1").allowed ? "br1 " : "") + summary(p);
    };
    // As root, the include is read: its deny applies and br1 is allowed.
    CHECK(run_in_child(run) == "br1 skipped[" + main + ":3 " + (d / "gone.conf") +
                                   " errno=2] rule[allow br0 @" + main + ":1] rule[allow br1 @" +
                                   alice + ":1] rule[deny br0 @" + alice + ":2] ");
    // As uid 4242 it cannot be opened: no error, recorded as skipped
    // (EACCES), and the rest of the policy applies.
    CHECK(run_in_child(run, nobody_uid) ==
          "br0 skipped[" + main + ":2 " + alice + " errno=" + std::to_string(EACCES) + "] skipped[" +
              main + ":3 " + (d / "gone.conf") + " errno=2] rule[allow br0 @" + main + ":1] ");
    // The idiom: root:GROUP 0640 makes it readable to that group only.
    REQUIRE(::chown(alice.c_str(), 0, nobody_gid) == 0);
    REQUIRE(::chmod(alice.c_str(), 0640) == 0);
    CHECK(run_in_child(run, nobody_uid) == "br1 skipped[" + main + ":3 " + (d / "gone.conf") +
                                               " errno=2] rule[allow br0 @" + main +
                                               ":1] rule[allow br1 @" + alice +
                                               ":1] rule[deny br0 @" + alice + ":2] ");
}

TEST_CASE("a main file the caller cannot read is an error that says why") {
    TempDir d;
    std::string main = d.write("bridge.conf", "allow all\n", 0600);
    auto run = [&] {
        acl::FileSystemSource fs;
        auto p = acl::load(fs, main);
        return std::string(acl::decide(p, "br0").allowed ? "allowed " : "denied ") + summary(p);
    };
    CHECK(run_in_child(run) == "allowed rule[allow all @" + main + ":1] ");
    CHECK(run_in_child(run, nobody_uid) ==
          "denied error[" + main + ": cannot open: Permission denied] ");
}

}  // TEST_SUITE
