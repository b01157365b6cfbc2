// SPDX-License-Identifier: GPL-2.0-or-later
// tg-spawn: the tests' QEMU. Runs a bridge helper the way QEMU does
// (socketpair, fork, close everything but 0-2 and the socket, exec with
// --use-vnet --fd=N --br=BR, one recvmsg, waitpid) and prints one
// machine-readable line about what came back. Its options bend every part
// of that for the hostile-caller and fault tests: the fd, argv, the
// environment, inherited fds and limits, failing system calls, and signals
// at chosen moments.
//
// Report (stdout, one line, key=value separated by single spaces):
//   exit=N signal=S timeout=0|1 stopped=0|1 recv=ok|eof|none|error:ERRNO
//   bytes=B nfds=K fd=0|1 [ifname=NAME tap=0|1 no_pi=0|1 vnet_hdr=0|1
//   multi_queue=0|1 chardev=0|1]
// exit is -1 when the helper was killed (signal then names the signal);
// stopped=1 when it stopped by itself (fault injection); recv gets
// ",ctrunc" when more fds came than there was room for; the bracketed part
// (TUNGETIFF on the first fd received) only with fd=1.
// tg-spawn's own failures: "tg-spawn: ..." on stderr, exit 2.
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstddef>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "recv_fds.hpp"

extern char** environ;

namespace {

[[noreturn]] void die(const std::string& msg) {
    std::fprintf(stderr, "tg-spawn: %s\n", msg.c_str());
    std::exit(2);
}

[[noreturn]] void die_errno(const std::string& what) {
    die(what + ": " + std::strerror(errno));
}

const char usage_text[] =
    "Usage: tg-spawn [OPTIONS] -- HELPER [ARGS...]\n"
    "  --br NAME       pass --br=NAME (default br0)\n"
    "  --no-br         pass no --br option\n"
    "  --no-vnet       leave out --use-vnet\n"
    "  --no-fd         pass no --fd option\n"
    "  --fd-arg TEXT   pass --fd=TEXT instead of --fd=N\n"
    "  --fd-kind KIND  what the helper gets at fd N: unix (default, a connected\n"
    "                  AF_UNIX stream socket), dgram, seqpacket, unconnected,\n"
    "                  listen (a listening AF_UNIX socket), pipe, file, inet\n"
    "                  (connected TCP), closed\n"
    "  --fd-num N      place it at fd N in the helper (default: where it lands)\n"
    "  --sh            QEMU's form for helper strings with spaces:\n"
    "                  /bin/sh -c \"HELPER ARGS... --use-vnet --fd=N --br=BR\",\n"
    "                  leaving out --br= when the string already has it\n"
    "  --close-std     close fds 0 and 1 in the helper (not 2: its messages)\n"
    "  --close-stderr  close fd 2 in the helper as well\n"
    "  --close-peer    close our end of the socket before the helper runs\n"
    "                  (a caller that went away)\n"
    "  --keep SECONDS  after the report, hold the tap fd until stdin reaches\n"
    "                  end of file or SECONDS pass\n"
    "  --timeout SECS  kill the helper if it has not finished (default 20)\n"
    "  --fill          fill the helper's end of the socket with data never read\n"
    "                  here (a caller whose socket the helper cannot write to)\n"
    "  --empty-argv    exec with argv = { NULL } (argc 0)\n"
    "  --setenv K=V    add K=V to the helper's environment (set in the exec,\n"
    "                  never in tg-spawn's own)\n"
    "  --env-fill N    add N variables Gn= to the helper's environment\n"
    "  --open N        leave N more open, inheritable fds in the helper\n"
    "  --nofile N      set RLIMIT_NOFILE (soft and hard) to N in the helper\n"
    "  --fail CALL     the helper's CALL fails (close_range: ENOSYS;\n"
    "                  prctl-dumpable, prctl-nnp: EINVAL) through a seccomp\n"
    "                  filter set before exec (needs root: no no_new_privs)\n"
    "  --kill-after US SIGKILL the helper US microseconds after fork\n"
    "  --stop-after US SIGSTOP it US microseconds after fork, SIGCONT US later\n"
    "  --on-stop ACT   when the helper stops by itself: cont (default) or kill\n"
    "  --stop-gate F   ... but first create F.stopped and wait until F exists\n"
    "  --pid-file F    write the helper's pid to F (the pid a forwarding\n"
    "                  helper's service names in its audit line)\n"
    "In --fd-arg, HELPER and ARGS, {fd} stands for the number N. With\n"
    "--no-vnet --no-fd --no-br, HELPER ARGS are passed exactly as given.\n";

enum class Kind { unix_stream, dgram, seqpacket, unconnected, listening, pipe, file, inet, closed };

struct Config {
    std::string bridge = "br0";
    bool pass_br = true;
    bool pass_vnet = true;
    bool pass_fd = true;
    bool fd_arg_set = false;
    std::string fd_arg;
    Kind kind = Kind::unix_stream;
    int fd_num = -1;
    bool sh = false;
    bool close_std = false;
    bool close_peer = false;
    bool close_stderr = false;
    int keep = 0;
    int timeout = 20;
    bool fill = false;
    bool empty_argv = false;
    std::vector<std::string> setenv;
    int env_fill = 0;
    int open_n = 0;
    int nofile = -1;
    std::string fail_call;
    long kill_after = -1;  // microseconds after fork
    long stop_after = -1;
    bool kill_on_stop = false;
    std::string stop_gate;
    std::string pid_file;
    std::vector<std::string> helper;  // HELPER and its extra args
};

int parse_int(std::string_view s, const char* what) {
    int v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc() || p != s.data() + s.size() || v < 0)
        die(std::string(what) + ": not a non-negative number: " + std::string(s));
    return v;
}

Kind parse_kind(std::string_view s) {
    if (s == "unix") return Kind::unix_stream;
    if (s == "dgram") return Kind::dgram;
    if (s == "seqpacket") return Kind::seqpacket;
    if (s == "unconnected") return Kind::unconnected;
    if (s == "listen") return Kind::listening;
    if (s == "pipe") return Kind::pipe;
    if (s == "file") return Kind::file;
    if (s == "inet") return Kind::inet;
    if (s == "closed") return Kind::closed;
    die("unknown --fd-kind " + std::string(s));
}

Config parse_args(int argc, char** argv) {
    Config c;
    int i = 1;
    auto value = [&](const char* opt) -> std::string {
        if (i + 1 >= argc) die(std::string(opt) + " needs a value");
        return argv[++i];
    };
    for (; i < argc; ++i) {
        std::string_view a = argv[i];
        if (a == "--") {
            ++i;
            break;
        }
        if (a == "--br") c.bridge = value("--br");
        else if (a == "--no-br") c.pass_br = false;
        else if (a == "--no-vnet") c.pass_vnet = false;
        else if (a == "--no-fd") c.pass_fd = false;
        else if (a == "--fd-arg") {
            c.fd_arg = value("--fd-arg");
            c.fd_arg_set = true;
        } else if (a == "--fd-kind") c.kind = parse_kind(value("--fd-kind"));
        else if (a == "--fd-num") c.fd_num = parse_int(value("--fd-num"), "--fd-num");
        else if (a == "--sh") c.sh = true;
        else if (a == "--close-std") c.close_std = true;
        else if (a == "--close-peer") c.close_peer = true;
        else if (a == "--close-stderr") c.close_stderr = true;
        else if (a == "--keep") c.keep = parse_int(value("--keep"), "--keep");
        else if (a == "--timeout") c.timeout = parse_int(value("--timeout"), "--timeout");
        else if (a == "--fill") c.fill = true;
        else if (a == "--empty-argv") c.empty_argv = true;
        else if (a == "--setenv") c.setenv.push_back(value("--setenv"));
        else if (a == "--env-fill") c.env_fill = parse_int(value("--env-fill"), "--env-fill");
        else if (a == "--open") c.open_n = parse_int(value("--open"), "--open");
        else if (a == "--nofile") c.nofile = parse_int(value("--nofile"), "--nofile");
        else if (a == "--fail") c.fail_call = value("--fail");
        else if (a == "--kill-after") c.kill_after = parse_int(value("--kill-after"), "--kill-after");
        else if (a == "--stop-after") c.stop_after = parse_int(value("--stop-after"), "--stop-after");
        else if (a == "--on-stop") {
            const std::string v = value("--on-stop");
            if (v != "cont" && v != "kill") die("--on-stop: cont or kill, not " + v);
            c.kill_on_stop = v == "kill";
        } else if (a == "--stop-gate") c.stop_gate = value("--stop-gate");
        else if (a == "--pid-file") c.pid_file = value("--pid-file");
        else if (a == "--help") {
            std::fputs(usage_text, stdout);
            std::exit(0);
        } else {
            std::fputs(usage_text, stderr);
            die("unknown option " + std::string(a));
        }
    }
    for (; i < argc; ++i) c.helper.emplace_back(argv[i]);
    if (c.helper.empty()) {
        std::fputs(usage_text, stderr);
        die("no helper given");
    }
    if (c.timeout == 0) die("--timeout must be at least 1");
    if (c.fill && c.kind != Kind::unix_stream) die("--fill needs --fd-kind unix");
    if (c.sh && c.empty_argv) die("--sh and --empty-argv exclude each other");
    return c;
}

// A connected TCP pair over loopback: a socket QEMU would never pass, but
// one on which sendmsg with SCM_RIGHTS succeeds while dropping the fd.
void tcp_pair(int out[2]) {
    int lst = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (lst < 0) die_errno("socket(AF_INET)");
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (::bind(lst, reinterpret_cast<sockaddr*>(&addr), len) != 0) die_errno("bind(127.0.0.1)");
    if (::listen(lst, 1) != 0) die_errno("listen");
    if (::getsockname(lst, reinterpret_cast<sockaddr*>(&addr), &len) != 0) die_errno("getsockname");
    int cli = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (cli < 0) die_errno("socket(AF_INET)");
    if (::connect(cli, reinterpret_cast<sockaddr*>(&addr), len) != 0) die_errno("connect(127.0.0.1)");
    int srv = ::accept4(lst, nullptr, nullptr, SOCK_CLOEXEC);
    if (srv < 0) die_errno("accept");
    ::close(lst);
    out[0] = srv;
    out[1] = cli;
}

// Sets up what the helper will find at its fd. Returns the helper's end
// (-1 for "closed") and, through `peer`, the end tg-spawn reads from
// (-1 when there is nothing to read).
int make_endpoint(Kind kind, int& peer) {
    int sv[2] = {-1, -1};
    peer = -1;
    switch (kind) {
    case Kind::unix_stream:
    case Kind::dgram:
    case Kind::seqpacket: {
        int type = kind == Kind::unix_stream ? SOCK_STREAM
                   : kind == Kind::dgram     ? SOCK_DGRAM
                                             : SOCK_SEQPACKET;
        // Close-on-exec on the parent's end only: like QEMU, the child end
        // must survive exec.
        if (::socketpair(AF_UNIX, type, 0, sv) != 0) die_errno("socketpair");
        if (::fcntl(sv[0], F_SETFD, FD_CLOEXEC) != 0) die_errno("fcntl");
        peer = sv[0];
        return sv[1];
    }
    case Kind::unconnected: {
        int s = ::socket(AF_UNIX, SOCK_STREAM, 0);
        if (s < 0) die_errno("socket(AF_UNIX)");
        return s;
    }
    case Kind::listening: {
        // Autobind: an abstract name, nothing in the file system.
        int s = ::socket(AF_UNIX, SOCK_STREAM, 0);
        if (s < 0) die_errno("socket(AF_UNIX)");
        sockaddr_un a{};
        a.sun_family = AF_UNIX;
        if (::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof(sa_family_t)) != 0) die_errno("bind");
        if (::listen(s, 1) != 0) die_errno("listen");
        return s;
    }
    case Kind::pipe:
        if (::pipe2(sv, O_CLOEXEC) != 0) die_errno("pipe");
        // The helper gets the write end, where a sendmsg would go.
        if (::fcntl(sv[1], F_SETFD, 0) != 0) die_errno("fcntl");
        peer = -1;
        ::close(sv[0]);
        return sv[1];
    case Kind::file: {
        const char* dir = std::getenv("TMPDIR");
        int f = ::open(dir && *dir ? dir : "/tmp", O_TMPFILE | O_RDWR, 0600);
        if (f < 0) die_errno("open(O_TMPFILE)");
        return f;
    }
    case Kind::inet:
        tcp_pair(sv);
        if (::fcntl(sv[1], F_SETFD, 0) != 0) die_errno("fcntl");
        peer = sv[0];
        return sv[1];
    case Kind::closed:
        return -1;
    }
    return -1;
}

// What the helper's end sends counts against its send buffer until this
// end reads it: shrink the buffer, then fill it.
void fill_socket(int fd) {
    int small = 4096;
    ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    char junk[1024] = {};
    while (::send(fd, junk, sizeof junk, MSG_DONTWAIT) > 0) {
    }
    if (errno != EAGAIN && errno != EWOULDBLOCK) die_errno("filling the socket");
}

// A seccomp filter that makes one call fail as an old kernel or a broken
// environment would. Everything else is allowed.
bool fail_syscall(const std::string& what) {
    unsigned nr = 0, err = 0;
    long arg0 = -1;
    if (what == "close_range") nr = SYS_close_range, err = ENOSYS;
    else if (what == "prctl-dumpable") nr = SYS_prctl, arg0 = PR_SET_DUMPABLE, err = EINVAL;
    else if (what == "prctl-nnp") nr = SYS_prctl, arg0 = PR_SET_NO_NEW_PRIVS, err = EINVAL;
    else return false;
    std::vector<sock_filter> f = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, nr, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    if (arg0 >= 0) {
        f.push_back(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, args[0])));
        f.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, static_cast<unsigned>(arg0), 1, 0));
        f.push_back(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
    }
    f.push_back(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (err & SECCOMP_RET_DATA)));
    sock_fprog prog{static_cast<unsigned short>(f.size()), f.data()};
    return ::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) == 0;
}

[[noreturn]] void run_child(const Config& c, int endpoint, int fdnum, char** envp,
                            const sigset_t& mask) {
    // The helper gets the signal mask the caller had, not ours.
    ::sigprocmask(SIG_SETMASK, &mask, nullptr);
    // Place the endpoint where asked; everything else above 2 goes, as in
    // QEMU's child.
    int at = endpoint;
    if (endpoint >= 0 && c.fd_num >= 0 && c.fd_num != endpoint) {
        if (::dup2(endpoint, c.fd_num) < 0) _exit(127);
        ::close(endpoint);
        at = c.fd_num;
    }
    if (at >= 3) {
        if (at > 3) ::syscall(SYS_close_range, 3U, static_cast<unsigned>(at - 1), 0U);
        ::syscall(SYS_close_range, static_cast<unsigned>(at + 1), ~0U, 0U);
    } else {
        ::syscall(SYS_close_range, 3U, ~0U, 0U);
    }
    if (c.close_std) {
        if (at != 0) ::close(0);
        if (at != 1) ::close(1);
    }
    if (c.close_stderr && at != 2) ::close(2);
    for (int k = 0; k < c.open_n; ++k)
        if (::open("/dev/null", O_RDONLY) < 0) _exit(126);
    if (c.nofile >= 0) {
        rlimit rl{static_cast<rlim_t>(c.nofile), static_cast<rlim_t>(c.nofile)};
        if (::setrlimit(RLIMIT_NOFILE, &rl) != 0) _exit(126);
    }
    if (!c.fail_call.empty() && !fail_syscall(c.fail_call)) _exit(125);

    // Tests that write their own --fd option need the number it lands on.
    auto with_fd = [fdnum](std::string t) {
        const std::string number = std::to_string(fdnum);
        for (auto p = t.find("{fd}"); p != std::string::npos; p = t.find("{fd}", p + number.size()))
            t.replace(p, 4, number);
        return t;
    };
    const std::string fd_opt = "--fd=" + (c.fd_arg_set ? with_fd(c.fd_arg) : std::to_string(fdnum));
    const std::string br_opt = "--br=" + c.bridge;

    if (c.sh) {
        std::string cmd;
        for (const auto& a : c.helper) {
            if (!cmd.empty()) cmd += ' ';
            cmd += with_fd(a);
        }
        // QEMU formats "%s %s %s %s" even when a part is empty; the
        // resulting doubled spaces do not matter to sh.
        const bool has_br = cmd.find("--br=") != std::string::npos;
        cmd += ' ';
        cmd += c.pass_vnet ? "--use-vnet" : "";
        cmd += ' ';
        cmd += c.pass_fd ? fd_opt : "";
        cmd += ' ';
        cmd += c.pass_br && !has_br ? br_opt : "";
        const char* args[] = {"sh", "-c", cmd.c_str(), nullptr};
        ::execve("/bin/sh", const_cast<char* const*>(args), envp);
        std::fprintf(stderr, "tg-spawn: exec /bin/sh: %s\n", std::strerror(errno));
        _exit(127);
    }

    std::vector<std::string> words;
    for (const auto& a : c.helper) words.push_back(with_fd(a));
    if (c.pass_vnet) words.emplace_back("--use-vnet");
    if (c.pass_fd) words.push_back(fd_opt);
    if (c.pass_br) words.push_back(br_opt);
    std::vector<char*> args;
    if (!c.empty_argv)
        for (auto& w : words) args.push_back(w.data());
    args.push_back(nullptr);
    ::execve(words[0].c_str(), args.data(), envp);
    std::fprintf(stderr, "tg-spawn: exec %s: %s\n", words[0].c_str(), std::strerror(errno));
    _exit(127);
}

struct Received {
    std::string recv = "none";
    long bytes = -1;
    std::vector<int> fds;
};

// One recvmsg, as QEMU does (tests/tools/recv_fds.hpp).
Received receive_once(int sock, bool nonblocking) {
    Received r;
    const tgtest::Received got = tgtest::receive_fds(sock, MSG_CMSG_CLOEXEC | (nonblocking ? MSG_DONTWAIT : 0));
    if (got.bytes < 0) {
        r.recv = (got.error == EAGAIN || got.error == EWOULDBLOCK) ? "none" : "error:" + std::to_string(got.error);
        return r;
    }
    r.bytes = got.bytes;
    r.recv = got.bytes == 0 ? "eof" : "ok";
    r.fds = got.fds;
    if (got.ctrunc) r.recv += ",ctrunc";
    return r;
}

std::string describe_tap(int fd) {
    std::string out;
    struct stat st{};
    const bool chardev = ::fstat(fd, &st) == 0 && S_ISCHR(st.st_mode) &&
                         major(st.st_rdev) == 10 && minor(st.st_rdev) == 200;
    ifreq ifr{};
    if (::ioctl(fd, TUNGETIFF, &ifr) != 0) {
        out += " ifname=? getiff_errno=" + std::to_string(errno);
    } else {
        std::string name(ifr.ifr_name, strnlen(ifr.ifr_name, sizeof ifr.ifr_name));
        const unsigned flags = static_cast<unsigned short>(ifr.ifr_flags);
        out += " ifname=" + name;
        out += " tap=" + std::to_string((flags & IFF_TAP) ? 1 : 0);
        out += " no_pi=" + std::to_string((flags & IFF_NO_PI) ? 1 : 0);
        out += " vnet_hdr=" + std::to_string((flags & IFF_VNET_HDR) ? 1 : 0);
        out += " multi_queue=" + std::to_string((flags & IFF_MULTI_QUEUE) ? 1 : 0);
    }
    out += " chardev=" + std::to_string(chardev ? 1 : 0);
    return out;
}

// Holds the tap until stdin reaches end of file or `seconds` pass.
void hold(int seconds) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    char buf[256];
    for (;;) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                        deadline - std::chrono::steady_clock::now())
                        .count();
        if (left <= 0) return;
        pollfd p{0, POLLIN, 0};
        int r = ::poll(&p, 1, static_cast<int>(left));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return;
        ssize_t n = ::read(0, buf, sizeof buf);
        if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) return;
    }
}

using Clock = std::chrono::steady_clock;

long micros_since(Clock::time_point t0) {
    return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
    const Config c = parse_args(argc, argv);
    std::signal(SIGPIPE, SIG_IGN);

    int peer = -1;
    int endpoint = make_endpoint(c.kind, peer);
    int fdnum;
    if (c.kind == Kind::closed) {
        // A number nothing is open at in the child.
        fdnum = c.fd_num >= 0 ? c.fd_num : 3;
        if (fdnum < 3) die("--fd-kind closed needs --fd-num of 3 or more");
    } else {
        fdnum = c.fd_num >= 0 ? c.fd_num : endpoint;
    }
    if (c.fill) fill_socket(endpoint);

    // Built before fork: the child only execs.
    std::vector<std::string> fill;
    for (int k = 0; k < c.env_fill; ++k) fill.push_back("G" + std::to_string(k) + "=");
    std::vector<std::string> setenv = c.setenv;
    std::vector<char*> envp;
    for (char** e = environ; *e; ++e) envp.push_back(*e);
    for (auto& f : fill) envp.push_back(f.data());
    for (auto& f : setenv) envp.push_back(f.data());
    envp.push_back(nullptr);

    // SIGCHLD through a signalfd: it is the one event that reports a
    // helper that stopped, as well as one that exited.
    sigset_t chld, old;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    if (::sigprocmask(SIG_BLOCK, &chld, &old) != 0) die_errno("sigprocmask");
    const int sigfd = ::signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sigfd < 0) die_errno("signalfd");

    std::fflush(nullptr);
    const auto t0 = Clock::now();
    pid_t pid = ::fork();
    if (pid < 0) die_errno("fork");
    if (pid == 0) run_child(c, endpoint, fdnum, envp.data(), old);
    if (!c.pid_file.empty()) {
        std::FILE* f = std::fopen(c.pid_file.c_str(), "we");
        if (!f) die_errno("open " + c.pid_file);
        std::fprintf(f, "%d\n", static_cast<int>(pid));
        std::fclose(f);
    }
    if (endpoint >= 0) ::close(endpoint);
    if (c.close_peer && peer >= 0) {
        ::close(peer);
        peer = -1;
    }

    // Until the helper exits: one recvmsg as soon as something is there to
    // read (QEMU's blocking recvmsg), the timed signals, a stop. A caller
    // that never reads (--fill) does not look at its socket at all.
    Received got;
    bool received = peer < 0 || c.fill;
    bool timed_out = false, stopped = false, stop_sent = false, cont_sent = false;
    long kill_after = c.kill_after;
    const long limit = c.timeout * 1000000L;
    int status = 0;
    for (;;) {
        const long us = micros_since(t0);
        if (kill_after >= 0 && us >= kill_after) {
            ::kill(pid, SIGKILL);
            kill_after = -1;
        }
        if (c.stop_after >= 0 && !stop_sent && us >= c.stop_after) {
            ::kill(pid, SIGSTOP);
            stop_sent = true;
        }
        if (stop_sent && !cont_sent && us >= 2 * c.stop_after) {
            ::kill(pid, SIGCONT);
            cont_sent = true;
        }
        if (!timed_out && us >= limit) {
            ::kill(pid, SIGKILL);
            timed_out = true;
        }

        pid_t w;
        while ((w = ::waitpid(pid, &status, WNOHANG | WUNTRACED)) < 0 && errno == EINTR) {
        }
        if (w < 0) die_errno("waitpid");
        if (w == pid && WIFSTOPPED(status)) {
            if (!stop_sent) {
                // Stopped by itself (fault injection's "stop").
                stopped = true;
                if (!c.stop_gate.empty()) {
                    int f = ::open((c.stop_gate + ".stopped").c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
                    if (f >= 0) ::close(f);
                    struct stat st;
                    while (::stat(c.stop_gate.c_str(), &st) != 0 && micros_since(t0) < limit) ::usleep(1000);
                }
                ::kill(pid, c.kill_on_stop ? SIGKILL : SIGCONT);
            }
            continue;
        }
        if (w == pid) break;

        // Sleep until the next thing to do.
        long next = timed_out ? -1 : limit;
        if (kill_after >= 0) next = std::min(next, kill_after);
        if (c.stop_after >= 0 && !stop_sent) next = std::min(next, c.stop_after);
        if (stop_sent && !cont_sent) next = std::min(next, 2 * c.stop_after);
        timespec ts{}, *tsp = nullptr;
        if (next >= 0) {
            const long left = std::max(0L, next - micros_since(t0));
            ts.tv_sec = left / 1000000;
            ts.tv_nsec = (left % 1000000) * 1000;
            tsp = &ts;
        }
        pollfd p[2] = {{sigfd, POLLIN, 0}, {peer, POLLIN, 0}};
        int r = ::ppoll(p, received ? 1 : 2, tsp, nullptr);
        if (r < 0) {
            if (errno == EINTR) continue;
            die_errno("poll");
        }
        if (p[0].revents & POLLIN) {
            signalfd_siginfo si;
            while (::read(sigfd, &si, sizeof si) > 0) {
            }
        }
        if (!received && (p[1].revents & (POLLIN | POLLHUP | POLLERR))) {
            got = receive_once(peer, false);
            received = true;
        }
    }
    // A datagram socket never signals end of file: after the exit one
    // non-blocking recvmsg takes whatever was sent.
    if (!received) got = receive_once(peer, true);
    if (peer >= 0) ::close(peer);

    std::string line;
    line += "exit=" + std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    line += " signal=" + std::to_string(WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    line += " timeout=" + std::to_string(timed_out ? 1 : 0);
    line += " stopped=" + std::to_string(stopped ? 1 : 0);
    line += " recv=" + got.recv;
    line += " bytes=" + std::to_string(got.bytes);
    line += " nfds=" + std::to_string(got.fds.size());
    line += " fd=" + std::to_string(got.fds.empty() ? 0 : 1);
    if (!got.fds.empty()) line += describe_tap(got.fds.front());
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);

    if (!got.fds.empty() && c.keep > 0) {
        // A test killed outright must not leave a tap (and its namespace)
        // held for the rest of --keep.
        ::prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (::getppid() == 1) return 0;
        hold(c.keep);
    }
    for (int fd : got.fds) ::close(fd);
    return 0;
}
