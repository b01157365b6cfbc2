// SPDX-License-Identifier: GPL-2.0-or-later
#include "util.hpp"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include "unique_fd.hpp"

namespace tapgate::test {

acl::Policy load_memory(const std::map<std::string, std::string>& files, const std::string& main) {
    acl::MemorySource source;
    source.files = files;
    return acl::load(source, main);
}

acl::Policy load_text(const std::string& text) {
    return load_memory({{main_conf, text}});
}

std::vector<std::string> rule_list(const acl::Policy& policy) {
    std::vector<std::string> out;
    for (const auto& rule : policy.rules) out.push_back(rule.text() + " @" + rule.where.str());
    return out;
}

std::vector<std::string> error_list(const acl::Policy& policy) {
    std::vector<std::string> out;
    for (const auto& e : policy.errors) out.push_back(e.str());
    return out;
}

std::string summary(const acl::Policy& policy) {
    std::string out;
    for (const auto& e : policy.errors) out += "error[" + e.str() + "] ";
    for (const auto& s : policy.skipped)
        out += "skipped[" + s.where.str() + " " + s.path + " errno=" + std::to_string(s.error) +
               "] ";
    for (const auto& r : rule_list(policy)) out += "rule[" + r + "] ";
    return out;
}

namespace {

void write_all(int fd, const std::string& s) {
    std::size_t done = 0;
    while (done < s.size()) {
        ssize_t n = ::write(fd, s.data() + done, s.size() - done);
        if (n < 0) {
            if (errno == EINTR) continue;
            return;
        }
        done += static_cast<std::size_t>(n);
    }
}

[[noreturn]] void child_main(int out, const std::function<std::string()>& fn,
                             std::optional<uid_t> uid) {
    std::string result;
    if (uid) {
        if (::setgroups(0, nullptr) != 0 || ::setresgid(*uid, *uid, *uid) != 0 ||
            ::setresuid(*uid, *uid, *uid) != 0 || ::geteuid() != *uid) {
            write_all(out, std::string("DROP FAILED: ") + std::strerror(errno));
            ::_exit(1);
        }
    }
    try {
        result = fn();
    } catch (const std::exception& e) {
        result = std::string("EXCEPTION: ") + e.what();
    }
    write_all(out, result);
    ::_exit(0);
}

}  // namespace

std::string run_in_child(const std::function<std::string()>& fn, std::optional<uid_t> uid,
                         unsigned timeout_s) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
    UniqueFd rd(fds[0]);
    UniqueFd wr(fds[1]);
    pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error("fork failed");
    if (pid == 0) {
        rd.reset();
        child_main(wr.get(), fn, uid);
    }
    wr.reset();

    std::string result;
    bool timed_out = false;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
    for (;;) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
            timed_out = true;
            break;
        }
        pollfd p{rd.get(), POLLIN, 0};
        int r = ::poll(&p, 1, static_cast<int>(left.count()));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            timed_out = r == 0;
            break;
        }
        char buf[4096];
        ssize_t n = ::read(rd.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        result.append(buf, static_cast<std::size_t>(n));
    }
    if (timed_out) ::kill(pid, SIGKILL);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (timed_out) return "TIMEOUT";
    if (!WIFEXITED(status)) return "CHILD DIED: " + result;
    return result;
}

TempDir::TempDir() {
    char templ[] = "/tmp/tapgate-acl-test.XXXXXX";
    if (!::mkdtemp(templ)) throw std::runtime_error("mkdtemp failed");
    path_ = templ;
    // mkdtemp makes it 0700; unprivileged children must be able to enter.
    if (::chmod(path_.c_str(), 0755) != 0) throw std::runtime_error("chmod failed");
}

TempDir::~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
}

std::string TempDir::write(const std::string& name, const std::string& text, mode_t mode,
                           uid_t uid, gid_t gid) const {
    std::string p = *this / name;
    UniqueFd fd(::open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (!fd) throw std::runtime_error("cannot create " + p + ": " + std::strerror(errno));
    write_all(fd.get(), text);
    if (::fchown(fd.get(), uid, gid) != 0 || ::fchmod(fd.get(), mode) != 0)
        throw std::runtime_error("cannot chown/chmod " + p + ": " + std::strerror(errno));
    return p;
}

std::string TempDir::mkdir(const std::string& name, mode_t mode, uid_t uid, gid_t gid) const {
    std::string p = *this / name;
    if (::mkdir(p.c_str(), 0700) != 0 || ::chown(p.c_str(), uid, gid) != 0 ||
        ::chmod(p.c_str(), mode) != 0)
        throw std::runtime_error("cannot make directory " + p + ": " + std::strerror(errno));
    return p;
}

bool running_as_root() {
    return ::geteuid() == 0;
}

}  // namespace tapgate::test
