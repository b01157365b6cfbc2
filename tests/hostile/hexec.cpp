// tg-hexec: a hostile caller for the helper, for what tg-spawn does not bend:
// argc 0, inherited fds, a tiny RLIMIT_NOFILE, a huge environment, and
// signals (SIGSTOP/SIGCONT/SIGKILL) sent at chosen moments. It plays QEMU's
// side too: a socketpair, fork, exec, recvmsg, waitpid.
//
// Usage: tg-hexec [OPTIONS] -- PROG ARGS...   ("{fd}" in ARGS: the socket)
//   --empty-argv     exec with argv = { NULL } (argc 0); ARGS are ignored
//   --open N         leave N extra open, inheritable fds in the child
//   --nofile N       set RLIMIT_NOFILE (soft and hard) to N in the child
//   --env-fill N     add N variables Gn= to the child's environment
//   --kill-after US  send SIGKILL to the child US microseconds after fork
//   --stop-after US  send SIGSTOP US microseconds after fork, SIGCONT US later
//   --on-stop ACT    when the child stops by itself: cont or kill
//   --stop-gate F    ... but first create F.stopped and wait until F exists
//   --timeout S      kill the child after S seconds (default 20)
//   --setenv K=V     add K=V to the child's environment (set here, not by
//                    env(1): LD_LIBRARY_PATH must reach only the helper)
//   --listen         give the child a listening AF_UNIX socket instead
//   --fail CALL      the child fails CALL (close_range, prctl-dumpable or
//                    prctl-nnp) with ENOSYS or EINVAL, through a seccomp
//                    filter set before exec (needs root: no no_new_privs)
//   --fill           fill the child's end of the socket with data this side
//                    never reads, and never read it: a caller whose socket
//                    the helper cannot write to
// Prints one line: exit=N signal=S timeout=0|1 stopped=0|1 nfds=K fd=0|1
// [ifname=NAME]. Own failures: "tg-hexec: ..." on stderr, exit 2.
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "../tools/recv_fds.hpp"

extern char** environ;

namespace {

[[noreturn]] void die(const std::string& m) {
    std::fprintf(stderr, "tg-hexec: %s: %s\n", m.c_str(), std::strerror(errno));
    std::exit(2);
}

using Clock = std::chrono::steady_clock;

long micros_since(Clock::time_point t0) {
    return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0).count();
}

// A seccomp filter that makes one call fail as an old kernel or a broken
// environment would: close_range with ENOSYS, prctl(PR_SET_DUMPABLE) or
// prctl(PR_SET_NO_NEW_PRIVS) with EINVAL. Everything else is allowed.
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

}  // namespace

int main(int argc, char** argv) {
    bool empty_argv = false;
    long open_n = 0, nofile = -1, env_fill = 0, kill_after = -1, stop_after = -1, timeout = 20;
    std::string on_stop = "cont", gate;
    std::vector<std::string> setenv;
    bool listen_sock = false, fill_sock = false;
    std::string fail_call;
    int i = 1;
    for (; i < argc; ++i) {
        std::string a = argv[i];
        auto val = [&]() -> std::string {
            if (i + 1 >= argc) { errno = EINVAL; die(a + " needs a value"); }
            return argv[++i];
        };
        if (a == "--") { ++i; break; }
        if (a == "--empty-argv") empty_argv = true;
        else if (a == "--open") open_n = std::stol(val());
        else if (a == "--nofile") nofile = std::stol(val());
        else if (a == "--env-fill") env_fill = std::stol(val());
        else if (a == "--kill-after") kill_after = std::stol(val());
        else if (a == "--stop-after") stop_after = std::stol(val());
        else if (a == "--on-stop") on_stop = val();
        else if (a == "--stop-gate") gate = val();
        else if (a == "--timeout") timeout = std::stol(val());
        else if (a == "--setenv") setenv.push_back(val());
        else if (a == "--listen") listen_sock = true;
        else if (a == "--fill") fill_sock = true;
        else if (a == "--fail") fail_call = val();
        else { errno = EINVAL; die("unknown option " + a); }
    }
    if (i >= argc) { errno = EINVAL; die("no program"); }
    std::signal(SIGPIPE, SIG_IGN);

    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) die("socketpair");
    ::fcntl(sv[0], F_SETFD, FD_CLOEXEC);
    if (listen_sock) {
        // Same number, now a listening socket (autobind: an abstract name).
        int l = ::socket(AF_UNIX, SOCK_STREAM, 0);
        sockaddr_un a{};
        a.sun_family = AF_UNIX;
        if (l < 0 || ::bind(l, reinterpret_cast<sockaddr*>(&a), sizeof(sa_family_t)) != 0 ||
            ::listen(l, 1) != 0 || ::dup2(l, sv[1]) < 0)
            die("listening socket");
        ::close(l);
    }
    if (fill_sock) {
        // What the child's end sends counts against its send buffer until
        // this end reads it: shrink the buffer, then fill it.
        int small = 4096;
        ::setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
        char junk[1024] = {};
        while (::send(sv[1], junk, sizeof junk, MSG_DONTWAIT) > 0) {
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK) die("filling the socket");
    }
    const std::string fdnum = std::to_string(sv[1]);
    std::vector<std::string> words;
    for (int k = i; k < argc; ++k) {
        std::string w = argv[k];
        for (auto p = w.find("{fd}"); p != std::string::npos; p = w.find("{fd}"))
            w.replace(p, 4, fdnum);
        words.push_back(w);
    }
    // Built before fork: the child only execs.
    std::vector<std::string> fill;
    for (long k = 0; k < env_fill; ++k) fill.push_back("G" + std::to_string(k) + "=");  // short: 100000 fit in ARG_MAX
    std::vector<char*> envp;
    for (char** e = environ; *e; ++e) envp.push_back(*e);
    for (auto& f : fill) envp.push_back(f.data());
    for (auto& f : setenv) envp.push_back(f.data());
    envp.push_back(nullptr);
    std::vector<char*> args;
    if (!empty_argv)
        for (auto& w : words) args.push_back(w.data());
    args.push_back(nullptr);

    std::fflush(nullptr);
    const auto t0 = Clock::now();
    pid_t pid = ::fork();
    if (pid < 0) die("fork");
    if (pid == 0) {
        for (long k = 0; k < open_n; ++k)
            if (::open("/dev/null", O_RDONLY) < 0) _exit(126);
        if (nofile >= 0) {
            rlimit rl{static_cast<rlim_t>(nofile), static_cast<rlim_t>(nofile)};
            if (::setrlimit(RLIMIT_NOFILE, &rl) != 0) _exit(126);
        }
        if (!fail_call.empty() && !fail_syscall(fail_call)) _exit(125);
        ::execve(words[0].c_str(), args.data(), envp.data());
        std::fprintf(stderr, "tg-hexec: exec %s: %s\n", words[0].c_str(), std::strerror(errno));
        _exit(127);
    }
    ::close(sv[1]);

    std::vector<int> fds;
    bool received = false, stopped = false, timed_out = false, stop_sent = false, cont_sent = false;
    int status = 0;
    for (;;) {
        const long us = micros_since(t0);
        if (kill_after >= 0 && us >= kill_after) { ::kill(pid, SIGKILL); kill_after = -1; }
        if (stop_after >= 0 && !stop_sent && us >= stop_after) { ::kill(pid, SIGSTOP); stop_sent = true; }
        if (stop_sent && !cont_sent && us >= 2 * stop_after) { ::kill(pid, SIGCONT); cont_sent = true; }
        if (us > timeout * 1000000L) { ::kill(pid, SIGKILL); timed_out = true; }
        if (!received && !fill_sock) {
            // One recvmsg as soon as something is there, as QEMU does.
            pollfd p{sv[0], POLLIN, 0};
            if (::poll(&p, 1, 0) > 0) {
                fds = tgtest::receive_fds(sv[0], MSG_DONTWAIT | MSG_CMSG_CLOEXEC).fds;
                received = true;
            }
        }
        pid_t w = ::waitpid(pid, &status, WNOHANG | WUNTRACED);
        if (w == pid && WIFSTOPPED(status)) {
            if (!stop_sent) {
                // Stopped by itself (fault injection's "stop").
                stopped = true;
                if (!gate.empty()) {
                    int f = ::open((gate + ".stopped").c_str(), O_CREAT | O_WRONLY, 0644);
                    if (f >= 0) ::close(f);
                    struct stat st;
                    while (::stat(gate.c_str(), &st) != 0) {
                        if (micros_since(t0) > timeout * 1000000L) break;
                        ::usleep(1000);
                    }
                }
                ::kill(pid, on_stop == "kill" ? SIGKILL : SIGCONT);
            }
            continue;
        }
        if (w == pid) break;
        ::usleep(200);
    }
    std::string line = "exit=" + std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1) +
                       " signal=" + std::to_string(WIFSIGNALED(status) ? WTERMSIG(status) : 0) +
                       " timeout=" + std::to_string(timed_out) + " stopped=" + std::to_string(stopped) +
                       " nfds=" + std::to_string(fds.size()) + " fd=" + std::to_string(!fds.empty());
    if (!fds.empty()) {
        ifreq ifr{};
        if (::ioctl(fds[0], TUNGETIFF, &ifr) == 0) line += std::string(" ifname=") + ifr.ifr_name;
        else line += " ifname=?";
    }
    std::printf("%s\n", line.c_str());
    return 0;
}
