// SPDX-License-Identifier: GPL-2.0-or-later
#include "service.hpp"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <poll.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "admin.hpp"
#include "audit.hpp"
#include "error.hpp"
#include "fault.hpp"
#include "fdpass.hpp"
#include "privileges.hpp"
#include "report.hpp"
#include "request.hpp"
#include "quota.hpp"
#include "settings.hpp"
#include "userns.hpp"
#include "wire.hpp"

namespace tapgate::service {

namespace {

using Clock = std::chrono::steady_clock;

// How long a reply may wait for the client to read it.
constexpr std::chrono::seconds reply_timeout{5};

void reply(int conn, const wire::Reply& r, int fd = -1) {
    fdpass::send_message(conn, wire::encode(r), fd, Clock::now() + reply_timeout);
}

// What --explain prints, into a string.
int explain(const std::string& bridge, const std::string& lock_problem, std::string& text) {
    char* buf = nullptr;
    std::size_t len = 0;
    std::unique_ptr<std::FILE, int (*)(std::FILE*)> out(::open_memstream(&buf, &len), &std::fclose);
    if (!out) throw Error("out of memory");
    std::fprintf(out.get(), "answered by the tapgate service\n");
    int status = admin::explain(out.get(), bridge, lock_problem);
    out.reset();
    std::unique_ptr<char, void (*)(void*)> owned(buf, &std::free);
    text.assign(buf, len);
    return status;
}

// One connection, in a child of the service: becomes the user the kernel
// says connected, reads the request as that user would, and serves it
// through the same pipeline as the setuid helper. Returns the exit status.
int serve(int conn, const State& st, pid_t service) {
    const fdpass::Peer peer = fdpass::peer(conn);
    // A lock file description of its own, opened while still root: quota
    // locks belong to the open file description, so children sharing the
    // service's would never wait for each other.
    const UniqueFd lock = quota::open_lock_file();
    // For --explain: what is wrong with the lock file now (only root can
    // look at it).
    const std::string lock_problem = lock ? std::string() : quota::lock_file_problem();
    audit::Record rec;
    rec.uid = peer.uid;
    rec.pid = peer.pid;
    rec.via = "service";
    privileges::become({peer.uid, peer.gid, peer.groups}, true);
    // Set after the uid change, which clears it: the child dies with the
    // service, and with it any tap it made and has not sent yet.
    if (::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0 || ::getppid() != service) return 1;
    fault::point("after-drop");

    bool explaining = false;
    try {
        // Asked here, as the caller: reading a process's namespaces takes
        // its uid (or CAP_SYS_PTRACE, which the service does not have).
        if (auto why = userns::foreign(peer.pid, peer.uid)) throw Error(*why);
        request::Files files;
        const settings::Settings conf = request::read_settings(files);
        rec.enabled = conf.syslog;
        rec.required = conf.syslog_required;
        rec.facility = settings::facility_code(conf.facility).value_or(-1);
        fdpass::Message m = fdpass::receive(conn, wire::max_request, '\n', Clock::now() + st.limits.request);
        if (m.fd || m.extra_fds) throw Error("malformed request: it came with file descriptors");
        const wire::Request req = wire::decode(m.text);
        rec.bridge = req.bridge;
        if (req.explain) {
            explaining = true;
            wire::Reply r{wire::Reply::Kind::explain, {}, 1};
            r.status = explain(req.bridge, lock_problem, r.text);
            reply(conn, r);
            return r.status;
        }
        const tap::Tap tap = request::serve(files, conf, req.bridge, req.use_vnet, lock.get(), rec);
        reply(conn, {wire::Reply::Kind::ok, {}, 0}, tap.fd.get());
        fault::point("after-send");
        return 0;
    } catch (const std::exception& e) {
        const std::string why = dynamic_cast<const Error*>(&e) ? e.what()
                              : dynamic_cast<const std::bad_alloc*>(&e) ? "out of memory"
                                                                          : std::string("internal error: ") + e.what();
        if (!explaining) audit::refused(rec, why);
        reply(conn, {wire::Reply::Kind::refused, why, 1});
        return 1;
    }
}

// `answered`: the write end of a pipe the service reads; closing it tells
// the service that this request no longer counts against its caller.
[[noreturn]] void child(int conn, UniqueFd answered, const State& st, pid_t service) {
    int status = 1;
    try {
        status = serve(conn, st, service);
    } catch (const std::exception& e) {
        // Before the request could be read: the privilege change failed,
        // the kernel would not say who connected, or the reply could not
        // be sent.
        try {
            reply(conn, {wire::Reply::Kind::declined, e.what(), 1});
        } catch (const std::exception&) {
        }
        report::failure(e.what(), "tapgated");
    }
    std::fflush(nullptr);
    // The caller reads until end of file and may ask again at once, before
    // this process has exited and the service has reaped it: the service
    // must know first that this request is over (see run()).
    answered.reset();
    ::shutdown(conn, SHUT_RDWR);
    fault::point("answered");
    ::_exit(status);
}

// Tells a client it will not be served, without waiting for it to read.
// Declined, not refused: the client logs it, under the caller's tapgate.conf,
// which this process does not read.
void turn_away(int conn, const std::string& why) {
    const std::string line = wire::encode(wire::Reply{wire::Reply::Kind::declined, why, 1});
    (void)!::send(conn, line.data(), line.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
}

struct Child {
    pid_t pid;
    uid_t uid;
    Clock::time_point deadline;
    UniqueFd answered;  // end of file once the child has answered
    bool killed = false;
};

bool has_answered(const Child& c) {
    // The write end closed: end of file, which poll() reports as POLLHUP.
    pollfd p{c.answered.get(), POLLIN, 0};
    return ::poll(&p, 1, 0) > 0 && (p.revents & (POLLIN | POLLHUP)) != 0;
}

}  // namespace

int run(int listen_fd, const State& st) {
    // The listening socket is shared with systemd, which never accepts on
    // it: non-blocking, so a client gone between poll() and accept()
    // cannot stall the service.
    const int fl = ::fcntl(listen_fd, F_GETFL);
    if (fl < 0 || ::fcntl(listen_fd, F_SETFL, fl | O_NONBLOCK) != 0)
        throw system_error("cannot make the listening socket non-blocking");
    sigset_t signals, old;
    sigemptyset(&signals);
    for (int s : {SIGCHLD, SIGTERM, SIGINT}) sigaddset(&signals, s);
    if (::sigprocmask(SIG_BLOCK, &signals, &old) != 0) throw system_error("cannot block signals");
    UniqueFd sig(::signalfd(-1, &signals, SFD_CLOEXEC | SFD_NONBLOCK));
    if (!sig) throw system_error("cannot make a signalfd");
    const pid_t self = ::getpid();

    std::vector<Child> children;
    auto end = [&](Child& c, const char* why) {
        if (c.killed) return;
        std::fprintf(stderr, "tapgated: a request of uid %u %s: ended\n", static_cast<unsigned>(c.uid), why);
        ::kill(c.pid, SIGKILL);
        c.killed = true;
    };
    auto reap = [&] {
        for (;;) {
            int status = 0;
            pid_t pid = ::waitpid(-1, &status, WNOHANG | WUNTRACED);
            if (pid <= 0) return;
            auto it = std::find_if(children.begin(), children.end(), [pid](const Child& c) { return c.pid == pid; });
            if (it == children.end()) continue;
            // A child runs as its caller, who may stop it to hold its
            // place: a stopped request is over.
            if (WIFSTOPPED(status)) end(*it, "was stopped");
            else children.erase(it);
        }
    };
    const auto limit = std::chrono::duration_cast<std::chrono::seconds>(st.limits.child).count();
    const std::string overdue = "took longer than " + std::to_string(limit) + " s";
    for (;;) {
        auto now = Clock::now();
        for (Child& c : children)
            if (c.deadline <= now) end(c, overdue.c_str());
        // Until the next child is due, if any.
        int timeout = -1;
        for (const Child& c : children) {
            if (c.killed) continue;
            auto ms = std::max<long long>(1, std::chrono::ceil<std::chrono::milliseconds>(c.deadline - now).count());
            timeout = timeout < 0 ? static_cast<int>(ms) : std::min(timeout, static_cast<int>(ms));
        }
        // At the limit, connections wait in the socket's backlog.
        const bool room = children.size() < st.limits.children;
        pollfd p[2] = {{sig.get(), POLLIN, 0}, {room ? listen_fd : -1, POLLIN, 0}};
        if (::poll(p, 2, timeout) < 0 && errno != EINTR) throw system_error("poll");

        signalfd_siginfo info{};
        bool stop = false;
        while (::read(sig.get(), &info, sizeof info) == sizeof info) {
            if (info.ssi_signo == SIGTERM || info.ssi_signo == SIGINT) stop = true;
        }
        reap();
        if (stop) {
            // Children die with the service (their parent-death signal);
            // say so at once rather than leave it to the kernel.
            for (const Child& c : children) ::kill(c.pid, SIGKILL);
            while (!children.empty()) {
                int status = 0;
                pid_t pid = ::waitpid(-1, &status, 0);
                if (pid < 0) break;
                std::erase_if(children, [pid](const Child& c) { return c.pid == pid; });
            }
            return 0;
        }
        if (!(p[1].revents & POLLIN)) continue;

        UniqueFd conn(::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC));
        if (!conn) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == ECONNABORTED) continue;
            // EMFILE and the like: give the system a moment instead of
            // spinning on a socket that stays readable.
            std::fprintf(stderr, "tapgated: cannot accept a connection: %s\n", std::strerror(errno));
            ::usleep(100'000);
            continue;
        }
        ucred cred{};
        socklen_t len = sizeof cred;
        if (::getsockopt(conn.get(), SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) continue;
        if ((st.overflow_uid && cred.uid == *st.overflow_uid) || (st.overflow_gid && cred.gid == *st.overflow_gid)) {
            turn_away(conn.get(), "the tapgate service cannot tell who you are: your user id does not map "
                                  "into its user namespace");
            continue;
        }
        // A child that has answered is exiting: its caller may already be
        // back with the next request.
        const auto mine = std::count_if(children.begin(), children.end(), [&](const Child& c) {
            return c.uid == cred.uid && !c.killed && !has_answered(c);
        });
        if (static_cast<unsigned>(mine) >= st.limits.per_user) {
            turn_away(conn.get(), "the tapgate service is serving " + std::to_string(mine) +
                                      " requests of yours already; try again when they are done");
            continue;
        }
        int answered[2];
        if (::pipe2(answered, O_CLOEXEC) != 0) {
            turn_away(conn.get(), std::string("the tapgate service cannot serve you now: ") + std::strerror(errno));
            continue;
        }
        UniqueFd answered_read(answered[0]), answered_write(answered[1]);
        const pid_t pid = ::fork();
        if (pid < 0) {
            turn_away(conn.get(), std::string("the tapgate service cannot serve you now: ") + std::strerror(errno));
            continue;
        }
        if (pid == 0) {
            ::sigprocmask(SIG_SETMASK, &old, nullptr);
            sig.reset();
            ::close(listen_fd);
            answered_read.reset();
            // The other children's read ends came along: this child has no
            // use for them.
            for (Child& c : children) c.answered.reset();
            child(conn.get(), std::move(answered_write), st, self);
        }
        children.push_back({pid, cred.uid, Clock::now() + st.limits.child, std::move(answered_read)});
    }
}

}  // namespace tapgate::service
