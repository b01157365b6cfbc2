// tg-spawn: runs a bridge helper the way QEMU does (socketpair, fork, close
// everything but 0-2 and the socket, exec with --use-vnet --fd=N --br=BR,
// one recvmsg, waitpid) and prints one machine-readable line about what
// came back. Options bend the protocol for hostile-caller tests.
//
// Report (stdout, one line, key=value separated by single spaces):
//   exit=N signal=S timeout=0|1 recv=ok|eof|none|error:ERRNO bytes=B
//   nfds=K fd=0|1 [ifname=NAME tap=0|1 no_pi=0|1 vnet_hdr=0|1
//   multi_queue=0|1 chardev=0|1]
// exit is -1 when the helper was killed (signal then names the signal);
// recv gets ",ctrunc" when more fds came than there was room for; the
// bracketed part (TUNGETIFF on the first fd received) only with fd=1.
// tg-spawn's own failures: "tg-spawn: ..." on stderr, exit 2.
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "recv_fds.hpp"

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
    "                  pipe, file, inet (connected TCP), closed\n"
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
    "In --fd-arg, HELPER and ARGS, {fd} stands for the number N.\n";

enum class Kind { unix_stream, dgram, seqpacket, unconnected, pipe, file, inet, closed };

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

[[noreturn]] void run_child(const Config& c, int endpoint, int fdnum) {
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
        ::execv("/bin/sh", const_cast<char* const*>(args));
        std::fprintf(stderr, "tg-spawn: exec /bin/sh: %s\n", std::strerror(errno));
        _exit(127);
    }

    std::vector<std::string> words;
    for (const auto& a : c.helper) words.push_back(with_fd(a));
    if (c.pass_vnet) words.emplace_back("--use-vnet");
    if (c.pass_fd) words.push_back(fd_opt);
    if (c.pass_br) words.push_back(br_opt);
    std::vector<char*> args;
    for (auto& w : words) args.push_back(w.data());
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    std::fprintf(stderr, "tg-spawn: exec %s: %s\n", args[0], std::strerror(errno));
    _exit(127);
}

int pidfd_open(pid_t pid) {
    return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0U));
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

    std::fflush(nullptr);
    pid_t pid = ::fork();
    if (pid < 0) die_errno("fork");
    if (pid == 0) run_child(c, endpoint, fdnum);
    if (endpoint >= 0) ::close(endpoint);
    if (c.close_peer && peer >= 0) {
        ::close(peer);
        peer = -1;
    }

    int pidfd = pidfd_open(pid);
    if (pidfd < 0) die_errno("pidfd_open");

    // Wait for the first of: something to read (QEMU's blocking recvmsg),
    // or the helper's exit. A datagram socket never signals end of file, so
    // after the exit one non-blocking recvmsg takes whatever was sent.
    Received got;
    bool timed_out = false;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(c.timeout);
    for (;;) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                        deadline - std::chrono::steady_clock::now())
                        .count();
        if (left <= 0) {
            timed_out = true;
            ::kill(pid, SIGKILL);
            break;
        }
        pollfd p[2] = {{pidfd, POLLIN, 0}, {peer, POLLIN, 0}};
        int r = ::poll(p, peer >= 0 ? 2 : 1, static_cast<int>(left));
        if (r < 0) {
            if (errno == EINTR) continue;
            die_errno("poll");
        }
        if (r == 0) continue;
        if (peer >= 0 && (p[1].revents & (POLLIN | POLLHUP | POLLERR))) {
            got = receive_once(peer, false);
            break;
        }
        if (p[0].revents & POLLIN) {
            if (peer >= 0) got = receive_once(peer, true);
            break;
        }
    }

    int status = 0;
    while (::waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) die_errno("waitpid");
    }
    if (peer >= 0) ::close(peer);

    std::string line;
    line += "exit=" + std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    line += " signal=" + std::to_string(WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    line += " timeout=" + std::to_string(timed_out ? 1 : 0);
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
