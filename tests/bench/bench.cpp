// SPDX-License-Identifier: GPL-2.0-or-later
// tapgate-bench: times bridge helpers spawned the way QEMU 7.2 spawns them,
// next to the floors that bound what any helper could reach, and prints one
// table. Run it as root inside a throwaway network + mount namespace
// (tests/bench/run.sh sets one up); it refuses to run as anyone else.
//
// Privileges: the bench starts as root, then becomes the unprivileged user
// (real, effective and saved ids, the user's groups) keeping CAP_NET_ADMIN in
// its effective and permitted sets only. Nothing carries over exec (no
// inheritable or ambient capabilities, bounding set untouched), so the
// helpers see exactly what they would see under QEMU run by that user: a
// setuid-root exec by an unprivileged caller. The capability serves the
// bench's own work: the in-process floor, the 1000 held ports, and removing
// taps in bulk between rounds.
//
// Spawner: QEMU 7.2's net_bridge_run_helper(): socketpair(AF_UNIX,
// SOCK_STREAM), fork, the child closes every fd but 0-2 and its socket end
// and execs `HELPER --use-vnet --fd=N --br=BR`; the parent closes the other
// end, does one recvmsg, closes its end and waitpids. One deliberate
// difference: QEMU 7.2's child closes fds one by one up to
// sysconf(_SC_OPEN_MAX), which costs milliseconds when RLIMIT_NOFILE is large
// and adds the same amount to every helper, drowning their difference; this
// child closes the same fds with two close_range(2) calls.
//
// The service path: a subject may run under no_new_privs (the spawner's
// child sets it before execve, as it is set in a QEMU under Flatpak,
// bubblewrap or NoNewPrivileges=). The kernel then ignores the 4755 copy's
// setuid bit, and tapgate asks the tapgate service, which run.sh starts in
// the same namespace, for the tap. The timed region is the same; the
// service's own work (the child it forks per request) is in it, but not in
// the cpu and faults columns, which are the helper process's only.
//
// Why not tg-spawn (tests/tools): the spawn here is a timed loop inside one
// process, thousands of times with the tap checked and closed in between;
// a tg-spawn per request would time tg-spawn's own exec and the shell.
//
// Timed region of a spawn: from socketpair to waitpid's return. Checking the
// tap and closing it are outside it; the close is timed on its own, because
// removing a netdev waits for an RCU grace period, which is the kernel's
// cost and not the helper's.
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <dirent.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "../tools/recv_fds.hpp"
#include "send_fd.hpp"

extern char** environ;

namespace {

// Any failure of the bench itself, or a helper that did not deliver exactly
// what QEMU expects: the run is void, so it stops with this message.
struct Failure : std::runtime_error {
    using std::runtime_error::runtime_error;
};

std::string errno_text(const std::string& what, int e = errno) {
    return what + ": " + std::strerror(e);
}

double now_ms() {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

class Fd {
public:
    Fd() = default;
    explicit Fd(int fd) : fd_(fd) {}
    Fd(Fd&& o) noexcept : fd_(o.release()) {}
    Fd& operator=(Fd&& o) noexcept {
        if (this != &o) reset(o.release());
        return *this;
    }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    ~Fd() { reset(); }
    int get() const { return fd_; }
    explicit operator bool() const { return fd_ >= 0; }
    int release() {
        int f = fd_;
        fd_ = -1;
        return f;
    }
    void reset(int fd = -1) {
        if (fd_ >= 0) ::close(fd_);
        fd_ = fd;
    }

private:
    int fd_ = -1;
};

// ---------------------------------------------------------------------------
// rtnetlink, by hand: the floor must not pay for a library, and the bench
// only needs "change this link" and "delete this group" with an ack.

constexpr std::size_t nl_align(std::size_t n) { return (n + 3) & ~std::size_t{3}; }

class LinkRequest {
public:
    LinkRequest(std::uint16_t type, int ifindex, unsigned char family = AF_UNSPEC) {
        std::memset(buf_, 0, sizeof buf_);
        nlmsghdr h{};
        h.nlmsg_type = type;
        h.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
        ifinfomsg ifi{};
        ifi.ifi_family = family;
        ifi.ifi_index = ifindex;
        std::memcpy(buf_, &h, sizeof h);
        std::memcpy(buf_ + nl_align(sizeof h), &ifi, sizeof ifi);
        len_ = nl_align(sizeof h) + nl_align(sizeof ifi);
    }
    void set_up() {
        ifinfomsg ifi{};
        std::memcpy(&ifi, buf_ + nl_align(sizeof(nlmsghdr)), sizeof ifi);
        ifi.ifi_flags = IFF_UP;
        ifi.ifi_change = IFF_UP;
        std::memcpy(buf_ + nl_align(sizeof(nlmsghdr)), &ifi, sizeof ifi);
    }
    void attr(std::uint16_t type, const void* data, std::size_t size) {
        nlattr a{};
        a.nla_type = type;
        a.nla_len = static_cast<std::uint16_t>(sizeof a + size);
        if (len_ + nl_align(a.nla_len) > sizeof buf_) throw Failure("netlink request too large");
        std::memcpy(buf_ + len_, &a, sizeof a);
        if (size) std::memcpy(buf_ + len_ + sizeof a, data, size);
        len_ += nl_align(a.nla_len);
    }
    void attr_u32(std::uint16_t type, std::uint32_t v) { attr(type, &v, sizeof v); }
    void attr_u8(std::uint16_t type, std::uint8_t v) { attr(type, &v, sizeof v); }
    // A nested attribute: open() before its members, close() after.
    std::size_t open(std::uint16_t type) {
        const std::size_t at = len_;
        attr(type | NLA_F_NESTED, nullptr, 0);
        return at;
    }
    void close(std::size_t at) {
        nlattr a{};
        std::memcpy(&a, buf_ + at, sizeof a);
        a.nla_len = static_cast<std::uint16_t>(len_ - at);
        std::memcpy(buf_ + at, &a, sizeof a);
    }
    void attr_str(std::uint16_t type, const std::string& s) { attr(type, s.c_str(), s.size() + 1); }

    // Sends the request and waits for its ack; 0 or a positive errno.
    int run(int sock, std::uint32_t seq) {
        nlmsghdr h{};
        std::memcpy(&h, buf_, sizeof h);
        h.nlmsg_len = static_cast<std::uint32_t>(len_);
        h.nlmsg_seq = seq;
        std::memcpy(buf_, &h, sizeof h);
        if (::send(sock, buf_, len_, 0) != static_cast<ssize_t>(len_)) return errno ? errno : EIO;
        alignas(nlmsghdr) unsigned char reply[8192];
        for (;;) {
            ssize_t n = ::recv(sock, reply, sizeof reply, 0);
            if (n < 0) {
                if (errno == EINTR) continue;
                return errno;
            }
            std::size_t off = 0;
            while (off + sizeof(nlmsghdr) <= static_cast<std::size_t>(n)) {
                nlmsghdr r{};
                std::memcpy(&r, reply + off, sizeof r);
                if (r.nlmsg_len < sizeof r) return EIO;
                if (r.nlmsg_seq == seq && r.nlmsg_type == NLMSG_ERROR) {
                    nlmsgerr e{};
                    std::memcpy(&e, reply + off + nl_align(sizeof r), sizeof e);
                    return -e.error;
                }
                off += nl_align(r.nlmsg_len);
            }
        }
    }

private:
    alignas(nlmsghdr) unsigned char buf_[512];
    std::size_t len_ = 0;
};

Fd rtnl_socket() {
    Fd s(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
    if (!s) throw Failure(errno_text("netlink socket"));
    return s;
}

std::uint32_t next_seq() {
    static std::uint32_t seq = 1;
    return seq++;
}

// ---------------------------------------------------------------------------
// Interfaces, through ioctls on any socket and /sys (the namespace's own).

struct Bridge {
    std::string name;
    int ifindex = 0;
    int mtu = 0;
};

ifreq named(const std::string& name) {
    ifreq ifr{};
    if (name.size() >= sizeof ifr.ifr_name) throw Failure("interface name too long: " + name);
    std::memcpy(ifr.ifr_name, name.c_str(), name.size() + 1);
    return ifr;
}

int info_socket() {
    static Fd s(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!s) throw Failure(errno_text("socket"));
    return s.get();
}

std::optional<std::string> read_link_base(const std::string& path) {
    char buf[512];
    ssize_t n = ::readlink(path.c_str(), buf, sizeof buf - 1);
    if (n < 0) return std::nullopt;
    std::string s(buf, static_cast<std::size_t>(n));
    return s.substr(s.rfind('/') + 1);
}

Bridge find_bridge(const std::string& name) {
    Bridge b;
    b.name = name;
    ifreq ifr = named(name);
    if (::ioctl(info_socket(), SIOCGIFINDEX, &ifr) != 0) throw Failure(errno_text("bridge " + name));
    b.ifindex = ifr.ifr_ifindex;
    if (::ioctl(info_socket(), SIOCGIFMTU, &ifr) != 0) throw Failure(errno_text("bridge " + name));
    b.mtu = ifr.ifr_mtu;
    if (::access(("/sys/class/net/" + name + "/bridge").c_str(), F_OK) != 0)
        throw Failure(name + " is not a bridge");
    return b;
}

std::vector<std::string> bridge_ports(const std::string& bridge) {
    std::vector<std::string> ports;
    DIR* d = ::opendir(("/sys/class/net/" + bridge + "/brif").c_str());
    if (!d) throw Failure(errno_text("ports of " + bridge));
    while (dirent* e = ::readdir(d))
        if (e->d_name[0] != '.') ports.emplace_back(e->d_name);
    ::closedir(d);
    return ports;
}

// The checks QEMU and libvirt rely on, plus what the helper contract
// promises: a non-persistent tap with vnet headers (the spawner passes
// --use-vnet and this kernel supports them), up, on the bridge, with the
// bridge's MTU and a MAC starting with 0xFE. Empty when all hold.
std::string verify_tap(int fd, const Bridge& br) {
    ifreq ifr{};
    if (::ioctl(fd, TUNGETIFF, &ifr) != 0) return errno_text("TUNGETIFF on the received fd");
    const int kinds = IFF_TUN | IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | IFF_MULTI_QUEUE;
    const int want = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
    if ((ifr.ifr_flags & kinds) != want) return "tun flags " + std::to_string(ifr.ifr_flags);
    if (ifr.ifr_flags & IFF_PERSIST) return "tap is persistent";
    const std::string name(ifr.ifr_name, strnlen(ifr.ifr_name, sizeof ifr.ifr_name));
    // tapgate's default template, and the lab bridge's (see run.sh).
    if (name.rfind("tap", 0) != 0 && name.rfind("lab", 0) != 0) return "tap named " + name;
    ifreq q = named(name);
    if (::ioctl(info_socket(), SIOCGIFMTU, &q) != 0) return errno_text(name + " MTU");
    if (q.ifr_mtu != br.mtu)
        return name + " has MTU " + std::to_string(q.ifr_mtu) + ", bridge " + std::to_string(br.mtu);
    q = named(name);
    if (::ioctl(info_socket(), SIOCGIFHWADDR, &q) != 0) return errno_text(name + " MAC");
    if (static_cast<unsigned char>(q.ifr_hwaddr.sa_data[0]) != 0xFE) return name + " MAC does not start with fe";
    q = named(name);
    if (::ioctl(info_socket(), SIOCGIFFLAGS, &q) != 0) return errno_text(name + " flags");
    if (!(q.ifr_flags & IFF_UP)) return name + " is not up";
    auto master = read_link_base("/sys/class/net/" + name + "/master");
    if (!master) return name + " has no master";
    if (*master != br.name) return name + " is on " + *master + ", not " + br.name;
    return {};
}

// ---------------------------------------------------------------------------
// The kernel work of one helper run, in this process: the floor no helper
// can go below. Timed: open the tun device, TUNSETIFF "tap%d", open a netlink
// socket, look up the bridge (index, MTU), one RTM_SETLINK carrying MTU, MAC,
// master and up, and its ack.

struct KernelRun {
    Fd tap;
    double total_ms = 0, setiff_ms = 0, setlink_ms = 0, flags_ms = 0;
};

// `own_name`: a name of its own (as tapgate gives one) instead of the
// kernel's "tap%d", which reads the name of every interface.
Fd make_tap(std::string& name_out, bool own_name) {
    static unsigned made = 0;
    Fd fd(::open("/dev/net/tun", O_RDWR | O_CLOEXEC));
    if (!fd) throw Failure(errno_text("/dev/net/tun"));
    ifreq ifr = named(own_name ? "tapk" + std::to_string(++made) : "tap%d");
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
    if (own_name) ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_TUN_EXCL);
    if (::ioctl(fd.get(), TUNSETIFF, &ifr) != 0) throw Failure(errno_text("TUNSETIFF"));
    name_out.assign(ifr.ifr_name, strnlen(ifr.ifr_name, sizeof ifr.ifr_name));
    return fd;
}

void attach(int sock, const std::string& tap, int master, int mtu) {
    unsigned char mac[6];
    if (::getrandom(mac + 1, 5, 0) != 5) throw Failure(errno_text("getrandom"));
    mac[0] = 0xFE;
    LinkRequest r(RTM_SETLINK, 0);
    r.set_up();
    r.attr_str(IFLA_IFNAME, tap);
    r.attr_u32(IFLA_MTU, static_cast<std::uint32_t>(mtu));
    r.attr(IFLA_ADDRESS, mac, sizeof mac);
    r.attr_u32(IFLA_MASTER, static_cast<std::uint32_t>(master));
    if (int e = r.run(sock, next_seq())) throw Failure(errno_text("attaching " + tap, e));
}

// The lab bridges' port settings (run.sh's tapgate.conf: isolated = yes,
// learning = no), as tapgate sends them: one AF_BRIDGE request.
void set_lab_port_flags(int sock, const std::string& tap) {
    ifreq ifr = named(tap);
    if (::ioctl(sock, SIOCGIFINDEX, &ifr) != 0) throw Failure(errno_text(tap));
    LinkRequest r(RTM_SETLINK, ifr.ifr_ifindex, AF_BRIDGE);
    const std::size_t info = r.open(IFLA_PROTINFO);
    r.attr_u8(IFLA_BRPORT_ISOLATED, 1);
    r.attr_u8(IFLA_BRPORT_LEARNING, 0);
    r.close(info);
    if (int e = r.run(sock, next_seq())) throw Failure(errno_text("port flags of " + tap, e));
}

KernelRun kernel_work(const std::string& bridge, bool lab_flags = false, bool own_name = false) {
    KernelRun k;
    const double t0 = now_ms();
    std::string name;
    k.tap = make_tap(name, own_name);
    const double t1 = now_ms();
    Fd nl = rtnl_socket();
    ifreq ifr = named(bridge);
    if (::ioctl(nl.get(), SIOCGIFINDEX, &ifr) != 0) throw Failure(errno_text(bridge));
    const int index = ifr.ifr_ifindex;
    if (::ioctl(nl.get(), SIOCGIFMTU, &ifr) != 0) throw Failure(errno_text(bridge));
    const double t2 = now_ms();
    attach(nl.get(), name, index, ifr.ifr_mtu);
    const double t3 = now_ms();
    // Here after the port is up, where tapgate sends them before: the row
    // shows what the request costs the kernel at this port count.
    if (lab_flags) set_lab_port_flags(nl.get(), name);
    const double t4 = now_ms();
    nl.reset();
    k.total_ms = now_ms() - t0;
    k.flags_ms = t4 - t3;
    k.setiff_ms = t1 - t0;
    k.setlink_ms = t3 - t2;
    return k;
}

// Removes every port of a bridge in one unregister batch (one RCU wait for
// all, where closing each tap's last fd waits once per tap): put them in a
// device group, then delete the group. Needs CAP_NET_ADMIN.
void remove_ports(const std::string& bridge) {
    constexpr std::uint32_t group = 0x7a9a7e;
    Fd nl = rtnl_socket();
    std::size_t n = 0;
    for (const auto& port : bridge_ports(bridge)) {
        LinkRequest r(RTM_SETLINK, 0);
        r.attr_str(IFLA_IFNAME, port);
        r.attr_u32(IFLA_GROUP, group);
        if (int e = r.run(nl.get(), next_seq()); e && e != ENODEV)
            throw Failure(errno_text("grouping " + port, e));
        ++n;
    }
    if (n == 0) return;
    LinkRequest del(RTM_DELLINK, 0);
    del.attr_u32(IFLA_GROUP, group);
    if (int e = del.run(nl.get(), next_seq()); e && e != ENODEV)
        throw Failure(errno_text("removing the ports of " + bridge, e));
}

// The floor server: the service side of the service path's floor (see
// relay-floor.cpp). A child of the bench with its CAP_NET_ADMIN, serving one
// connection at a time in-process (no fork, no policy, no privilege change):
// read the bridge's name, do the kernel work, pass the tap back. What a
// real service adds to this (learning and becoming the caller, reading its
// policy, the audit line, isolating requests) can only add to the time.
void serve_relay_floor(int listener) {
    for (;;) {
        Fd conn(::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC));
        if (!conn && errno != EINTR && errno != ECONNABORTED) throw Failure(errno_text("accept"));
        if (!conn) continue;
        char bridge[64] = {};
        if (::recv(conn.get(), bridge, sizeof bridge - 1, 0) <= 0) continue;
        KernelRun k = kernel_work(bridge);
        (void)tgbench::send_fd(conn.get(), k.tap.get());
    }
}

// Starts the floor server; it ends with the bench.
pid_t start_relay_floor() {
    Fd s(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un addr;
    const socklen_t len = tgbench::relay_floor_address(addr);
    if (!s || ::bind(s.get(), reinterpret_cast<sockaddr*>(&addr), len) != 0 || ::listen(s.get(), 64) != 0)
        throw Failure(errno_text("the floor server's socket"));
    const pid_t pid = ::fork();
    if (pid < 0) throw Failure(errno_text("fork"));
    if (pid == 0) {
        ::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
        try {
            serve_relay_floor(s.get());
        } catch (const Failure& e) {
            std::fprintf(stderr, "tapgate-bench: floor server: %s\n", e.what());
        }
        ::_exit(4);
    }
    return pid;
}

// ---------------------------------------------------------------------------
// The spawner: QEMU 7.2's net_bridge_run_helper() (see the top comment).

struct Spawn {
    double ms = 0;
    Fd tap;
    int status = 0;
    ssize_t bytes = 0;
    int fds = 0;
    long faults = 0;  // the child's minor page faults, fork to exit
    double cpu_ms = 0;  // the child's user + system time
};

// Formats "--fd=N" without allocating: this runs in the forked child.
void format_fd_arg(char (&buf)[32], int fd) {
    char digits[16];
    int n = 0;
    do {
        digits[n++] = static_cast<char>('0' + fd % 10);
        fd /= 10;
    } while (fd > 0 && n < 15);
    std::memcpy(buf, "--fd=", 5);
    int pos = 5;
    while (n > 0) buf[pos++] = digits[--n];
    buf[pos] = '\0';
}

Spawn spawn(const std::string& helper, const std::string& br_arg, bool nnp = false) {
    Spawn s;
    const double t0 = now_ms();
    int sv[2];
    if (::socketpair(PF_UNIX, SOCK_STREAM, 0, sv) != 0) throw Failure(errno_text("socketpair"));
    const pid_t pid = ::fork();
    if (pid < 0) throw Failure(errno_text("fork"));
    if (pid == 0) {
        // Everything but 0-2 and our socket end; only async-signal-safe calls.
        const auto keep = static_cast<unsigned>(sv[1]);
        if (keep > 3) ::syscall(SYS_close_range, 3U, keep - 1, 0U);
        ::syscall(SYS_close_range, keep + 1, ~0U, 0U);
        if (nnp && ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) ::_exit(126);
        char fd_arg[32];
        format_fd_arg(fd_arg, sv[1]);
        char* argv[] = {const_cast<char*>(helper.c_str()), const_cast<char*>("--use-vnet"), fd_arg,
                        const_cast<char*>(br_arg.c_str()), nullptr};
        ::execve(helper.c_str(), argv, environ);
        ::_exit(127);
    }
    ::close(sv[1]);
    // Flags 0: no MSG_CMSG_CLOEXEC; the fds are closed here after the checks.
    tgtest::Received got = tgtest::receive_fds(sv[0], 0);
    ::close(sv[0]);
    int status = 0;
    rusage ru{};
    while (::wait4(pid, &status, 0, &ru) != pid) {
    }
    s.ms = now_ms() - t0;
    s.status = status;
    s.faults = ru.ru_minflt;
    s.cpu_ms = static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
               static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
    s.bytes = got.bytes < 0 ? -got.error : got.bytes;
    // QEMU takes the first fd; any extra one would be a leak into QEMU.
    for (int fd : got.fds) {
        if (s.fds++ == 0) s.tap.reset(fd);
        else ::close(fd);
    }
    return s;
}

std::string check_spawn(const Spawn& s, bool want_tap, const Bridge& br) {
    if (!WIFEXITED(s.status)) return "killed by signal " + std::to_string(WTERMSIG(s.status));
    if (WEXITSTATUS(s.status) != 0) return "exit status " + std::to_string(WEXITSTATUS(s.status));
    if (!want_tap) return s.fds == 0 ? std::string() : "unexpected fd";
    if (s.bytes != 1) return "recvmsg returned " + std::to_string(s.bytes);
    if (s.fds != 1) return std::to_string(s.fds) + " fds received";
    return verify_tap(s.tap.get(), br);
}

// ---------------------------------------------------------------------------
// Statistics and the table.

struct Summary {
    std::size_t n = 0;
    double median = 0, p90 = 0, p99 = 0;
};

Summary summarize(std::vector<double> v) {
    Summary s;
    s.n = v.size();
    if (v.empty()) return s;
    std::sort(v.begin(), v.end());
    // Nearest rank: the smallest sample with at least q of all at or below it.
    auto rank = [&](double q) {
        auto i = static_cast<std::size_t>(std::ceil(q * static_cast<double>(v.size())));
        return v[std::clamp<std::size_t>(i, 1, v.size()) - 1];
    };
    s.median = v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
    s.p90 = rank(0.90);
    s.p99 = rank(0.99);
    return s;
}

enum class Kind { helper, exec_noop, in_process };

struct Subject {
    std::string label;
    Kind kind;
    std::string path;
    std::vector<double> spawn_ms, close_ms, setiff_ms, setlink_ms, faults, cpu_ms;
    // A bridge of its own, for tapgate with tapgate.conf's lab features on
    // (quota lock and count, port flags, audit line): its settings apply to
    // that bridge only, so the plain rows stay plain.
    const struct Bridge* own_bridge = nullptr;
    // Run under no_new_privs: tapgate through the service.
    bool nnp = false;
    // The in-process floor: with the lab bridges' port flags; the tap
    // named as tapgate names it.
    bool lab_flags = false;
    bool own_name = false;
    std::vector<double> flags_ms{};
};

// The same subject, without samples, for another scenario: on that
// scenario's bridge (its own bridge is not carried over).
Subject anew(const Subject& s) {
    Subject c{s.label, s.kind, s.path, {}, {}, {}, {}, {}, {}};
    c.nnp = s.nnp;
    c.lab_flags = s.lab_flags;
    c.own_name = s.own_name;
    return c;
}

std::string fmt2(double v) {
    char b[64];
    std::snprintf(b, sizeof b, "%.2f", v);
    return b;
}

void print_header(const char* title) {
    std::printf("\n%s\n", title);
    std::printf("  %-44s %5s %8s %8s %8s %9s %7s %7s %6s\n", "", "n", "median", "p90", "p99", "close", "ratio",
                "cpu", "faults");
    std::printf("  %-44s %5s %8s %8s %8s %9s %7s %7s %6s\n", "", "", "ms", "ms", "ms", "med ms", "vs ref", "med ms",
                "median");
}

// cpu and faults: the spawned process's user + system time and its minor
// page faults (wait4's rusage, fork to exit). On a virtual machine a page
// fault costs about as much as ten system calls, so they explain much of
// the difference between two programs' start-up.
void print_row(const std::string& label, const std::vector<double>& samples, const std::vector<double>& closes,
               std::optional<double> ref_median, const Subject* sub = nullptr) {
    Summary s = summarize(samples);
    Summary c = summarize(closes);
    std::string ratio = ref_median && *ref_median > 0 ? fmt2(s.median / *ref_median) : "";
    std::string close = c.n ? fmt2(c.median) : "";
    std::string cpu, faults;
    if (sub && !sub->cpu_ms.empty()) {
        cpu = fmt2(summarize(sub->cpu_ms).median);
        faults = std::to_string(static_cast<long>(summarize(sub->faults).median));
    }
    std::printf("  %-44s %5zu %8.3f %8.3f %8.3f %9s %7s %7s %6s\n", label.c_str(), s.n, s.median, s.p90, s.p99,
                close.c_str(), ratio.c_str(), cpu.c_str(), faults.c_str());
}

// ---------------------------------------------------------------------------
// Scenarios.

struct Options {
    std::string tapgate, reference, user;
    std::string via_service;  // --via-service=PATH: tapgate under no_new_privs
    std::string profile;  // --profile=A,B,...: see profile()
    int count = 100;
    std::string bridge = "tgbench0", full_bridge = "tgbench1k", lab_bridge;
    std::string noop_static, noop_dynamic, noop_libs;
    // The service path's floor: libc-only clients (relay-floor.cpp).
    std::string relay_floor, relay_floor_static;
    // The floor under tapgate's own work (rules-floor.cpp), linked as it is.
    std::string rules_floor;
    int rounds = 20, batch = 10, warmup = 3;
    int spawners = 8, per_spawner = 25, parallel_rounds = 4;
    int ports = 1000;
    // Scale: a bridge with ports that tapgate made for other users, who
    // hold them (run.sh starts them with --hold), lab features on there;
    // and unrelated interfaces on the host.
    std::string held_bridge, held_users;  // --held-users=A,B: who holds them
    int held = 1000;
    int host_interfaces = 6000;
};

// Progress on stderr: a counter on a terminal, one line per step in a log.
void progress(const char* what, int round, int rounds) {
    static const bool tty = ::isatty(2);
    if (tty) std::fprintf(stderr, "\r%s: %d/%d ", what, round, rounds);
    if (round == rounds) std::fprintf(stderr, tty ? "\n" : "%s: done\n", what);
}

// One run of one subject: spawn, check outside the timed region, then time
// the close. Warm-up runs are checked but not recorded.
void run_once(Subject& sub, const Bridge& br, const std::string& br_arg, bool record) {
    if (sub.kind == Kind::in_process) {
        KernelRun k = kernel_work(br.name, sub.lab_flags, sub.own_name);
        if (auto why = verify_tap(k.tap.get(), br); !why.empty())
            throw Failure(sub.label + ": " + why);
        const double t = now_ms();
        k.tap.reset();
        if (!record) return;
        sub.close_ms.push_back(now_ms() - t);
        sub.spawn_ms.push_back(k.total_ms);
        sub.setiff_ms.push_back(k.setiff_ms);
        sub.setlink_ms.push_back(k.setlink_ms);
        if (sub.lab_flags) sub.flags_ms.push_back(k.flags_ms);
        return;
    }
    Spawn s = spawn(sub.path, br_arg, sub.nnp);
    if (auto why = check_spawn(s, sub.kind == Kind::helper, br); !why.empty())
        throw Failure(sub.label + ": " + why);
    const double t = now_ms();
    s.tap.reset();
    if (!record) return;
    sub.spawn_ms.push_back(s.ms);
    sub.faults.push_back(static_cast<double>(s.faults));
    sub.cpu_ms.push_back(s.cpu_ms);
    if (sub.kind == Kind::helper) sub.close_ms.push_back(now_ms() - t);
}

// Alternating batches: every round runs a batch of each subject, starting
// with a different subject each round, so drift in the machine's state
// (other load, caches, RCU backlog) falls on all of them alike.
void run_series(const char* what, std::vector<Subject*> subs, const Bridge& br, const Options& o) {
    auto bridge_of = [&br](const Subject& s) -> const Bridge& { return s.own_bridge ? *s.own_bridge : br; };
    for (Subject* s : subs)
        for (int i = 0; i < o.warmup; ++i) run_once(*s, bridge_of(*s), "--br=" + bridge_of(*s).name, false);
    for (int r = 0; r < o.rounds; ++r) {
        progress(what, r + 1, o.rounds);
        for (std::size_t k = 0; k < subs.size(); ++k) {
            Subject& s = *subs[(k + static_cast<std::size_t>(r)) % subs.size()];
            const std::string br_arg = "--br=" + bridge_of(s).name;
            for (int i = 0; i < o.batch; ++i) run_once(s, bridge_of(s), br_arg, true);
        }
    }
}

// Throughput: P spawner processes released together, each running K spawns
// back to back and keeping its taps (a VM keeps its tap; closing them here
// would time the kernel's RCU waits instead). The window runs from the
// release to the last spawner's last waitpid. Then the taps are checked,
// removed in one batch, and the spawners exit.
struct ChildReport {
    double end_ms;
    int n;
    double lat[256];
    char error[256];
};

void write_all(int fd, const void* p, std::size_t n) {
    const char* c = static_cast<const char*>(p);
    while (n) {
        ssize_t w = ::write(fd, c, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) ::_exit(3);
        c += w;
        n -= static_cast<std::size_t>(w);
    }
}

bool read_all(int fd, void* p, std::size_t n) {
    char* c = static_cast<char*>(p);
    while (n) {
        ssize_t r = ::read(fd, c, n);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return false;
        c += r;
        n -= static_cast<std::size_t>(r);
    }
    return true;
}

void wait_eof(int fd) {
    char c;
    for (;;) {
        ssize_t r = ::read(fd, &c, 1);
        if (r == 0 || (r < 0 && errno != EINTR)) return;
    }
}

struct Throughput {
    std::vector<double> lat;
    double spawns = 0, seconds = 0;
};

void parallel_round(const std::string& helper, bool nnp, const Bridge& br, const Options& o, Throughput& out) {
    const std::string br_arg = "--br=" + br.name;
    int go[2], check[2], done[2];
    if (::pipe2(go, O_CLOEXEC) || ::pipe2(check, O_CLOEXEC) || ::pipe2(done, O_CLOEXEC))
        throw Failure(errno_text("pipe"));
    std::vector<pid_t> pids;
    std::vector<Fd> reports;
    for (int p = 0; p < o.spawners; ++p) {
        int rep[2];
        if (::pipe2(rep, O_CLOEXEC)) throw Failure(errno_text("pipe"));
        pid_t pid = ::fork();
        if (pid < 0) throw Failure(errno_text("fork"));
        if (pid == 0) {
            // The write ends of the broadcast pipes stay with the parent alone,
            // so that its closing them reaches every spawner as end of file.
            ::close(go[1]);
            ::close(check[1]);
            ::close(done[1]);
            ::close(rep[0]);
            for (auto& r : reports) r.reset();
            static ChildReport cr;
            cr = {};
            std::vector<Spawn> spawned;
            spawned.reserve(static_cast<std::size_t>(o.per_spawner));
            wait_eof(go[0]);
            try {
                for (int i = 0; i < o.per_spawner; ++i) spawned.push_back(spawn(helper, br_arg, nnp));
            } catch (const Failure& e) {
                std::fprintf(stderr, "tapgate-bench: spawner: %s\n", e.what());
                ::_exit(4);
            }
            cr.end_ms = now_ms();
            cr.n = o.per_spawner;
            for (int i = 0; i < cr.n; ++i) cr.lat[i] = spawned[static_cast<std::size_t>(i)].ms;
            write_all(rep[1], &cr, sizeof cr);
            wait_eof(check[0]);
            std::string why;
            for (auto& s : spawned)
                if (why.empty()) why = check_spawn(s, true, br);
            std::snprintf(cr.error, sizeof cr.error, "%s", why.c_str());
            write_all(rep[1], &cr, sizeof cr);
            wait_eof(done[0]);
            ::_exit(0);
        }
        ::close(rep[1]);
        pids.push_back(pid);
        reports.emplace_back(rep[0]);
    }
    ::close(go[0]);
    ::close(check[0]);
    ::close(done[0]);
    // Let the spawners finish starting, so that the window times spawns only.
    ::usleep(20000);
    const double t0 = now_ms();
    ::close(go[1]);
    double end = t0;
    ChildReport cr{};
    for (auto& r : reports) {
        if (!read_all(r.get(), &cr, sizeof cr)) throw Failure("a spawner died");
        end = std::max(end, cr.end_ms);
        out.lat.insert(out.lat.end(), cr.lat, cr.lat + cr.n);
    }
    const double spawns = static_cast<double>(o.spawners * o.per_spawner);
    out.spawns += spawns;
    out.seconds += (end - t0) / 1e3;
    ::close(check[1]);
    std::string error;
    for (auto& r : reports) {
        if (!read_all(r.get(), &cr, sizeof cr)) throw Failure("a spawner died");
        if (cr.error[0] && error.empty()) error = cr.error;
    }
    remove_ports(br.name);
    ::close(done[1]);
    for (pid_t pid : pids) ::waitpid(pid, nullptr, 0);
    if (!error.empty()) throw Failure(helper + " (parallel): " + error);
}

// ---------------------------------------------------------------------------
// Privileges and setup.

void become_user(const std::string& user) {
    if (::geteuid() != 0) throw Failure("run as root (inside a throwaway namespace: tests/bench/run.sh)");
    passwd* pw = ::getpwnam(user.c_str());
    if (!pw) throw Failure("no user " + user);
    const uid_t uid = pw->pw_uid;
    const gid_t gid = pw->pw_gid;
    if (::prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0 || ::initgroups(user.c_str(), gid) != 0 ||
        ::setresgid(gid, gid, gid) != 0 || ::setresuid(uid, uid, uid) != 0)
        throw Failure(errno_text("switching to " + user));
    __user_cap_header_struct hdr{};
    hdr.version = _LINUX_CAPABILITY_VERSION_3;
    __user_cap_data_struct data[2]{};
    data[0].effective = data[0].permitted = 1U << CAP_NET_ADMIN;
    if (::syscall(SYS_capset, &hdr, data) != 0) throw Failure(errno_text("capset"));
    ::prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
    ::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
    if (::getuid() != uid || ::geteuid() != uid) throw Failure("still root");
}

std::vector<Fd> hold_ports(const Bridge& br, int count) {
    std::vector<Fd> held;
    Fd nl = rtnl_socket();
    for (int i = 0; i < count; ++i) {
        if ((i + 1) % 100 == 0 || i + 1 == count) progress("holding ports", i + 1, count);
        std::string name;
        held.push_back(make_tap(name, false));
        attach(nl.get(), name, br.ifindex, br.mtu);
    }
    return held;
}

// A child that holds what a scenario needs (ports, interfaces) for as
// long as the scenario runs: `prepare` runs at once (forked while the bench
// is still root, it can become another user), `make` once the bench
// writes to `go`. `make` calls its argument with what it made still in
// scope: that answers on `ready` and waits until `stop` is closed.
struct Holder {
    pid_t pid = -1;
    Fd go, ready, stop;
};

using Hold = std::function<void()>;

Holder fork_holder(const std::function<void()>& prepare, const std::function<void(const Hold&)>& make,
                   std::vector<Holder>& others) {
    int go[2], ready[2], stop[2];
    if (::pipe2(go, O_CLOEXEC) || ::pipe2(ready, O_CLOEXEC) || ::pipe2(stop, O_CLOEXEC))
        throw Failure(errno_text("pipe"));
    pid_t pid = ::fork();
    if (pid < 0) throw Failure(errno_text("fork"));
    if (pid == 0) {
        ::close(go[1]);
        ::close(ready[0]);
        ::close(stop[1]);
        // The ends the bench keeps for the other holders: held here, they
        // would keep those from ever seeing end of file.
        for (Holder& h : others) {
            h.go.reset();
            h.ready.reset();
            h.stop.reset();
        }
        try {
            prepare();
            char c;
            if (::read(go[0], &c, 1) != 1) ::_exit(0);
            make([&] {
                write_all(ready[1], "r", 1);
                wait_eof(stop[0]);
            });
        } catch (const Failure& e) {
            std::fprintf(stderr, "tapgate-bench: %s\n", e.what());
            ::_exit(4);
        }
        ::_exit(0);
    }
    ::close(go[0]);
    ::close(ready[1]);
    ::close(stop[0]);
    return Holder{pid, Fd(go[1]), Fd(ready[0]), Fd(stop[1])};
}

// Tells the holders to make what they hold, and waits until they have.
void start_holders(std::vector<Holder>& holders, const char* what) {
    for (Holder& h : holders) write_all(h.go.get(), "g", 1);
    for (Holder& h : holders) {
        char c;
        if (::read(h.ready.get(), &c, 1) != 1) throw Failure(std::string("a holder of ") + what + " died");
    }
}

void end_holders(std::vector<Holder>& holders) {
    for (Holder& h : holders) h.stop.reset();
    for (Holder& h : holders) ::waitpid(h.pid, nullptr, 0);
    holders.clear();
}

// Other users' VMs on the held bridge: a holder per user makes its share
// of the ports through --tapgate and keeps them open. They exist only
// while their scenario runs: 1000 up ports in the namespace slow the
// kernel's work in every other scenario.
Holder other_user(const Options& o, const std::string& user, int count, std::vector<Holder>& others) {
    return fork_holder([&] { become_user(user); },
                       [&](const Hold& hold) {
                           const Bridge br = find_bridge(o.held_bridge);
                           std::vector<Spawn> held;
                           for (int i = 0; i < count; ++i) {
                               held.push_back(spawn(o.tapgate, "--br=" + br.name));
                               if (auto why = check_spawn(held.back(), true, br); !why.empty())
                                   throw Failure("holding ports for " + user + ": " + why);
                           }
                           hold();
                       },
                       others);
}

// N interfaces on the host that have nothing to do with any bridge, as
// containers' veths or other VMs' taps would be: taps kept by a holder
// (so the spawner's fd table, which every fork copies, stays small), in a
// device group of their own, so that one request removes them all. Needs
// CAP_NET_ADMIN.
constexpr std::uint32_t host_group = 0x7a9a7f;

std::vector<Holder> make_host_interfaces(int n) {
    std::vector<Holder> h;
    h.push_back(fork_holder([] {},
                            [n](const Hold& hold) {
                                std::vector<Fd> taps;
                                Fd nl = rtnl_socket();
                                for (int i = 0; i < n; ++i) {
                                    if ((i + 1) % 1000 == 0 || i + 1 == n) progress("host interfaces", i + 1, n);
                                    Fd fd(::open("/dev/net/tun", O_RDWR | O_CLOEXEC));
                                    if (!fd) throw Failure(errno_text("/dev/net/tun"));
                                    const std::string name = "tghost" + std::to_string(i);
                                    ifreq ifr = named(name);
                                    ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
                                    if (::ioctl(fd.get(), TUNSETIFF, &ifr) != 0)
                                        throw Failure(errno_text("TUNSETIFF " + name));
                                    LinkRequest r(RTM_SETLINK, 0);
                                    r.attr_str(IFLA_IFNAME, name);
                                    r.attr_u32(IFLA_GROUP, host_group);
                                    if (int e = r.run(nl.get(), next_seq()))
                                        throw Failure(errno_text("grouping " + name, e));
                                    taps.push_back(std::move(fd));
                                }
                                hold();
                            },
                            h));
    start_holders(h, "the host interfaces");
    return h;
}

void remove_host_interfaces(std::vector<Holder>& h) {
    Fd nl = rtnl_socket();
    LinkRequest del(RTM_DELLINK, 0);
    del.attr_u32(IFLA_GROUP, host_group);
    if (int e = del.run(nl.get(), next_seq()); e && e != ENODEV)
        throw Failure(errno_text("removing the host interfaces", e));
    end_holders(h);
}

Options parse(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        std::string_view a = argv[i];
        auto eq = a.find('=');
        if (a.substr(0, 2) != "--" || eq == std::string_view::npos)
            throw Failure("bad argument " + std::string(a) + " (options are --name=value)");
        std::string key(a.substr(2, eq - 2)), val(a.substr(eq + 1));
        auto num = [&](int& slot) {
            char* end = nullptr;
            long v = std::strtol(val.c_str(), &end, 10);
            if (val.empty() || *end || v < 1 || v > 100000) throw Failure("bad number for --" + key);
            slot = static_cast<int>(v);
        };
        if (key == "tapgate") o.tapgate = val;
        else if (key == "reference") o.reference = val;
        else if (key == "via-service") o.via_service = val;
        else if (key == "user") o.user = val;
        else if (key == "bridge") o.bridge = val;
        else if (key == "full-bridge") o.full_bridge = val;
        else if (key == "lab-bridge") o.lab_bridge = val;
        else if (key == "noop-static") o.noop_static = val;
        else if (key == "noop-dynamic") o.noop_dynamic = val;
        else if (key == "noop-libs") o.noop_libs = val;
        else if (key == "relay-floor") o.relay_floor = val;
        else if (key == "relay-floor-static") o.relay_floor_static = val;
        else if (key == "rules-floor") o.rules_floor = val;
        else if (key == "rounds") num(o.rounds);
        else if (key == "batch") num(o.batch);
        else if (key == "warmup") num(o.warmup);
        else if (key == "spawners") num(o.spawners);
        else if (key == "per-spawner") num(o.per_spawner);
        else if (key == "parallel-rounds") num(o.parallel_rounds);
        else if (key == "ports") num(o.ports);
        else if (key == "held-bridge") o.held_bridge = val;
        else if (key == "held-users") o.held_users = val;
        else if (key == "held") num(o.held);
        else if (key == "host-interfaces") {
            if (val == "0") o.host_interfaces = 0;
            else num(o.host_interfaces);
        }
        else if (key == "profile") o.profile = val;
        else if (key == "count") num(o.count);
        else throw Failure("unknown option --" + key);
    }
    if (!o.profile.empty()) return o;
    if (o.tapgate.empty() || o.reference.empty() || o.user.empty())
        throw Failure("usage: tapgate-bench --tapgate=PATH --reference=PATH --user=NAME [...] (see run.sh)");
    if (o.per_spawner > 256) throw Failure("--per-spawner is at most 256");
    if (o.spawners * o.per_spawner > 1000 || o.ports > 1020)
        throw Failure("a bridge takes at most 1023 ports");
    return o;
}

// --profile=A,B,...: for profilers (strace -f -u USER, perf) and for trying
// variants of a helper side by side. Spawns each program --count times in
// alternating batches of --batch, as whoever runs this (no root needed), and
// prints one line each. A program named noop:PATH must exit 0 without
// sending anything; the others must deliver a correct tap, nnp:PATH under
// no_new_privs (through the tapgate service, which must be running).
int profile(const Options& o) {
    const Bridge br = find_bridge(o.bridge);
    std::vector<Subject> subs;
    for (std::size_t pos = 0; pos <= o.profile.size();) {
        std::size_t comma = std::min(o.profile.find(',', pos), o.profile.size());
        std::string path = o.profile.substr(pos, comma - pos);
        const bool noop = path.rfind("noop:", 0) == 0;
        if (noop) path.erase(0, 5);
        const bool nnp = path.rfind("nnp:", 0) == 0;
        if (nnp) path.erase(0, 4);
        subs.push_back({path, noop ? Kind::exec_noop : Kind::helper, path, {}, {}, {}, {}, {}, {}});
        subs.back().nnp = nnp;
        if (nnp) subs.back().label = "nnp:" + path;
        pos = comma + 1;
    }
    const std::string br_arg = "--br=" + br.name;
    for (int done = 0; done < o.count; done += o.batch)
        for (Subject& s : subs)
            for (int i = done; i < std::min(o.count, done + o.batch); ++i) run_once(s, br, br_arg, true);
    for (const Subject& s : subs) {
        Summary sum = summarize(s.spawn_ms);
        std::printf("%-60s %5zu spawns, median %7.3f ms, p90 %7.3f ms, cpu %6.3f ms, %4.0f page faults\n",
                    s.label.c_str(), sum.n, sum.median, sum.p90, summarize(s.cpu_ms).median,
                    summarize(s.faults).median);
    }
    return 0;
}

int run(int argc, char** argv) {
    const Options o = parse(argc, argv);
    if (!o.profile.empty()) return profile(o);
    // 1000 held taps plus the helpers' fds; the holder of the host
    // interfaces (a child) keeps one fd per interface.
    rlimit rl{16384, 16384};
    if (::setrlimit(RLIMIT_NOFILE, &rl) != 0) throw Failure(errno_text("RLIMIT_NOFILE"));
    std::vector<Holder> holders;
    if (!o.held_bridge.empty()) {
        std::vector<std::string> users;
        for (std::size_t pos = 0; pos < o.held_users.size();) {
            const std::size_t comma = std::min(o.held_users.find(',', pos), o.held_users.size());
            users.push_back(o.held_users.substr(pos, comma - pos));
            pos = comma + 1;
        }
        if (users.empty()) throw Failure("--held-bridge needs --held-users=A,B,...");
        for (std::size_t i = 0; i < users.size(); ++i) {
            const int share = o.held / static_cast<int>(users.size()) +
                              (static_cast<int>(i) < o.held % static_cast<int>(users.size()) ? 1 : 0);
            holders.push_back(other_user(o, users[i], share, holders));
        }
    }
    become_user(o.user);

    const Bridge br0 = find_bridge(o.bridge);
    const Bridge brk = find_bridge(o.full_bridge);
    if (!bridge_ports(br0.name).empty() || !bridge_ports(brk.name).empty())
        throw Failure("the bridges must start without ports");

    Subject tg{"tapgate", Kind::helper, o.tapgate, {}, {}, {}, {}, {}, {}};
    Subject ref{"qemu-bridge-helper (reference)", Kind::helper, o.reference, {}, {}, {}, {}, {}, {}};
    Subject kern{"floor: kernel work in-process", Kind::in_process, {}, {}, {}, {}, {}, {}, {}};
    Subject st{"floor: exec static no-op", Kind::exec_noop, o.noop_static, {}, {}, {}, {}, {}, {}};
    Subject dyn{"floor: exec dynamic no-op (libc only)", Kind::exec_noop, o.noop_dynamic, {}, {}, {}, {}, {}, {}};
    Subject libs{"no-op with tapgate's libs as .so, 4755", Kind::exec_noop, o.noop_libs, {}, {}, {}, {}, {}, {}};
    // A helper by the checks (a correct tap), a floor by what it does.
    Subject relay{"floor: via a service, libc-only client", Kind::helper, o.relay_floor, {}, {}, {}, {}, {}, {}};
    Subject relay_st{"floor: via a service, static client", Kind::helper, o.relay_floor_static,
                     {}, {}, {}, {}, {}, {}};
    // A helper by the checks, the least that keeps tapgate's behaviour.
    Subject rules{"floor: tapgate's required steps only", Kind::helper, o.rules_floor, {}, {}, {}, {}, {}, {}};
    pid_t floor_server = -1;
    if (!relay.path.empty() || !relay_st.path.empty()) floor_server = start_relay_floor();

    // The service row: the same 4755 copy, run under no_new_privs.
    Subject svc{"tapgate via the service (no_new_privs)", Kind::helper, o.via_service, {}, {}, {}, {}, {}, {}};
    svc.nnp = true;
    std::optional<Bridge> brlab;
    Subject lab{"tapgate, lab features on (quota, flags, audit)", Kind::helper, o.tapgate, {}, {}, {}, {}, {}, {}};
    // The kernel's part of a lab request: the same, and the port flags.
    Subject kernlab{"floor: kernel work in-process, lab port flags", Kind::in_process, {}, {}, {}, {}, {}, {}, {}};
    kernlab.lab_flags = true;
    // The kernel's part with the tap named as tapgate names it: what a
    // request costs the kernel however tapgate itself scales (the host
    // interfaces' rows).
    Subject kernname{"floor: kernel work in-process, tap named", Kind::in_process, {}, {}, {}, {}, {}, {}, {}};
    kernname.own_name = true;
    Subject ruleslab{"floor: tapgate's required steps only, lab", Kind::helper, o.rules_floor,
                     {}, {}, {}, {}, {}, {}};
    std::vector<Subject*> zero{&tg, &ref, &kern};
    if (o.host_interfaces > 0) zero.push_back(&kernname);
    if (!o.lab_bridge.empty()) {
        brlab = find_bridge(o.lab_bridge);
        lab.own_bridge = &*brlab;
        kernlab.own_bridge = &*brlab;
        ruleslab.own_bridge = &*brlab;
        zero.push_back(&lab);
        zero.push_back(&kernlab);
        if (!ruleslab.path.empty()) zero.push_back(&ruleslab);
    }
    for (Subject* s : {&svc, &rules, &st, &dyn, &libs, &relay, &relay_st})
        if (!s->path.empty()) zero.push_back(s);
    run_series("0 ports", zero, br0, o);
    if (floor_server > 0) {
        ::kill(floor_server, SIGKILL);
        ::waitpid(floor_server, nullptr, 0);
    }

    struct Parallel {
        const char* label;
        const Subject& sub;
        Throughput tp;
    };
    std::vector<Parallel> par{{"tapgate", tg, {}}, {"qemu-bridge-helper (reference)", ref, {}}};
    if (!svc.path.empty()) par.push_back({svc.label.c_str(), svc, {}});
    if (!rules.path.empty()) par.push_back({rules.label.c_str(), rules, {}});
    for (int r = 0; r < o.parallel_rounds; ++r) {
        progress("parallel", r + 1, o.parallel_rounds);
        // Each round starts with another helper.
        for (std::size_t k = 0; k < par.size(); ++k) {
            Parallel& p = par[(k + static_cast<std::size_t>(r)) % par.size()];
            parallel_round(p.sub.path, p.sub.nnp, br0, o, p.tp);
        }
    }

    std::vector<Fd> held = hold_ports(brk, o.ports);
    const std::size_t on_bridge = bridge_ports(brk.name).size();
    if (on_bridge != static_cast<std::size_t>(o.ports))
        throw Failure("expected " + std::to_string(o.ports) + " ports, found " + std::to_string(on_bridge));
    Subject tgk = anew(tg);
    Subject refk = anew(ref);
    Subject kernk = anew(kern);
    run_series("1000 ports", {&tgk, &refk, &kernk}, brk, o);
    remove_ports(brk.name);
    held.clear();

    // Ports that tapgate made for other users, who hold them, on
    // a bridge with the lab features on: what a quota'd request costs on a
    // full lab bridge.
    std::optional<Bridge> brheld;
    std::size_t held_by_others = 0;
    Subject labh{"tapgate, lab features on", Kind::helper, o.tapgate, {}, {}, {}, {}, {}, {}};
    Subject refh = anew(ref);
    Subject kernh = anew(kern);
    Subject kernhf = anew(kernlab);
    Subject rulesh = anew(ruleslab);
    if (!holders.empty()) {
        brheld = find_bridge(o.held_bridge);
        if (!bridge_ports(brheld->name).empty()) throw Failure("the bridges must start without ports");
        start_holders(holders, "other users' ports");
        progress("other users' ports", 1, 1);
        held_by_others = bridge_ports(brheld->name).size();
        if (held_by_others != static_cast<std::size_t>(o.held))
            throw Failure("expected " + std::to_string(o.held) + " ports held by others, found " +
                          std::to_string(held_by_others));
        std::vector<Subject*> subs{&labh, &refh, &kernh, &kernhf};
        if (!rulesh.path.empty()) subs.push_back(&rulesh);
        run_series("held by others", subs, *brheld, o);
        // In one batch: the holders' closes would wait for RCU once per tap.
        remove_ports(brheld->name);
        end_holders(holders);
    }

    // Unrelated interfaces on the host: the same requests as at 0 ports.
    Subject tgx = anew(tg);
    Subject refx = anew(ref);
    Subject labx = anew(lab);
    Subject kernx = anew(kern);
    Subject kernnamex = anew(kernname);
    labx.own_bridge = lab.own_bridge;
    if (o.host_interfaces > 0) {
        std::vector<Holder> h = make_host_interfaces(o.host_interfaces);
        std::vector<Subject*> subs{&tgx, &refx, &kernx, &kernnamex};
        if (labx.own_bridge) subs.push_back(&labx);
        run_series("host interfaces", subs, br0, o);
        remove_host_interfaces(h);
    }

    utsname u{};
    ::uname(&u);
    std::printf("tapgate bench: kernel %s, %ld cpus; %d rounds x %d spawns per subject, alternating;\n"
                "spawner as QEMU 7.2 but closing fds with close_range; helpers run by %s as 4755 copies\n",
                u.release, ::sysconf(_SC_NPROCESSORS_ONLN), o.rounds, o.batch, o.user.c_str());
    std::printf("(close: the tap's close, timed apart; it waits for RCU and is not the helper's cost)\n");

    // helpers: more rows like tapgate's, after the reference. For the
    // service row, cpu and faults are the helper process's only: the
    // service's child that does the work is not counted there.
    auto section = [](const char* title, Subject& t, Subject& rf, std::vector<Subject*> helpers, Subject& k,
                      std::vector<Subject*> extra) {
        print_header(title);
        const double rm = summarize(rf.spawn_ms).median;
        print_row(t.label, t.spawn_ms, t.close_ms, rm, &t);
        print_row(rf.label, rf.spawn_ms, rf.close_ms, std::nullopt, &rf);
        for (Subject* s : helpers) print_row(s->label, s->spawn_ms, s->close_ms, rm, s);
        print_row(k.label, k.spawn_ms, k.close_ms, rm);
        print_row("  of which open + TUNSETIFF tap%d", k.setiff_ms, {}, std::nullopt);
        print_row("  of which RTM_SETLINK mtu+mac+master+up", k.setlink_ms, {}, std::nullopt);
        for (Subject* s : extra) print_row(s->label, s->spawn_ms, {}, rm, s);
    };
    std::vector<Subject*> floors;
    if (o.host_interfaces > 0) floors.push_back(&kernname);
    for (Subject* s : {&st, &dyn, &libs, &relay, &relay_st})
        if (!s->path.empty()) floors.push_back(s);
    std::vector<Subject*> helpers;
    if (!svc.path.empty()) helpers.push_back(&svc);
    if (!rules.path.empty()) helpers.push_back(&rules);
    section("0 ports on the bridge", tg, ref, helpers, kern, floors);
    if (lab.own_bridge) {
        print_row(lab.label, lab.spawn_ms, lab.close_ms, summarize(ref.spawn_ms).median, &lab);
        if (!ruleslab.path.empty())
            print_row(ruleslab.label, ruleslab.spawn_ms, ruleslab.close_ms, summarize(ref.spawn_ms).median, &ruleslab);
        print_row(kernlab.label, kernlab.spawn_ms, kernlab.close_ms, summarize(ref.spawn_ms).median);
        print_row("  of which the port flags (AF_BRIDGE RTM_SETLINK)", kernlab.flags_ms, {}, std::nullopt);
        const double plain = summarize(tg.spawn_ms).median;
        std::printf("  %-44s %+.1f%% (median, against tapgate without them)\n", "lab features cost",
                    plain > 0 ? 100.0 * (summarize(lab.spawn_ms).median / plain - 1.0) : 0.0);
    }
    char title[96];
    std::snprintf(title, sizeof title, "%d ports already held on the bridge", o.ports);
    section(title, tgk, refk, {}, kernk, {});

    if (brheld) {
        std::snprintf(title, sizeof title, "%zu ports on the bridge, made by tapgate for other users who hold them",
                      held_by_others);
        std::vector<Subject*> helpers_held;
        if (!rulesh.path.empty()) helpers_held.push_back(&rulesh);
        section(title, labh, refh, helpers_held, kernh, {});
        print_row(kernhf.label, kernhf.spawn_ms, kernhf.close_ms, summarize(refh.spawn_ms).median);
        print_row("  of which the port flags (AF_BRIDGE RTM_SETLINK)", kernhf.flags_ms, {}, std::nullopt);
    }
    if (o.host_interfaces > 0) {
        std::snprintf(title, sizeof title, "%d unrelated interfaces on the host, 0 ports on the bridge",
                      o.host_interfaces);
        print_header(title);
        const double rm = summarize(refx.spawn_ms).median;
        print_row(tgx.label, tgx.spawn_ms, tgx.close_ms, rm, &tgx);
        print_row(refx.label, refx.spawn_ms, refx.close_ms, std::nullopt, &refx);
        if (labx.own_bridge) print_row(labx.label, labx.spawn_ms, labx.close_ms, rm, &labx);
        print_row(kernx.label, kernx.spawn_ms, kernx.close_ms, rm);
        print_row("  of which open + TUNSETIFF tap%d", kernx.setiff_ms, {}, std::nullopt);
        print_row("  of which RTM_SETLINK mtu+mac+master+up", kernx.setlink_ms, {}, std::nullopt);
        print_row(kernnamex.label, kernnamex.spawn_ms, kernnamex.close_ms, rm);
        print_row("  of which open + TUNSETIFF, named", kernnamex.setiff_ms, {}, std::nullopt);
        auto against_zero = [&](const char* what, const Subject& at_n, const Subject& at_0,
                                std::vector<double> Subject::*samples = &Subject::spawn_ms) {
            const double base = summarize(at_0.*samples).median;
            std::printf("  %-44s %.2fx (median at %d host interfaces / at 0)\n", what,
                        base > 0 ? summarize(at_n.*samples).median / base : 0.0, o.host_interfaces);
        };
        against_zero("tapgate", tgx, tg);
        against_zero("qemu-bridge-helper (reference)", refx, ref);
        if (labx.own_bridge) against_zero("tapgate, lab features on (quota)", labx, lab);
        against_zero("floor: kernel work in-process", kernx, kern);
        against_zero("  of which open + TUNSETIFF tap%d", kernx, kern, &Subject::setiff_ms);
        against_zero("floor: kernel work in-process, tap named", kernnamex, kernname);
        // What the kernel's own growth alone would make of tapgate's
        // ratio: tapgate at 0 plus the named floor's increase, over
        // tapgate at 0.
        const double tg0 = summarize(tg.spawn_ms).median;
        const double grew = summarize(kernnamex.spawn_ms).median - summarize(kernname.spawn_ms).median;
        std::printf("  %-44s %.2fx (%+.3f ms, the named floor's increase, on tapgate's median at 0)\n",
                    "  tapgate if only the kernel's work grew", tg0 > 0 ? (tg0 + grew) / tg0 : 0.0, grew);
    }

    std::printf("\n%d parallel spawners, %d spawns each, %d rounds per helper (taps kept until the round ends)\n",
                o.spawners, o.per_spawner, o.parallel_rounds);
    std::printf("  %-44s %8s %8s %8s %8s %7s\n", "", "spawns/s", "lat med", "p90", "p99", "ratio");
    auto tp_row = [](const char* label, const Throughput& t, std::optional<double> ref_rate) {
        const double rate = t.spawns / t.seconds;
        Summary s = summarize(t.lat);
        std::string ratio = ref_rate ? fmt2(rate / *ref_rate) : "";
        std::printf("  %-44s %8.0f %8.3f %8.3f %8.3f %7s\n", label, rate, s.median, s.p90, s.p99, ratio.c_str());
    };
    const Throughput& tp_ref = par[1].tp;
    for (const Parallel& p : par)
        tp_row(p.label, p.tp, &p.sub == &ref ? std::nullopt : std::optional<double>(tp_ref.spawns / tp_ref.seconds));
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        return run(argc, argv);
    } catch (const Failure& e) {
        std::fprintf(stderr, "\ntapgate-bench: %s\n", e.what());
    } catch (const std::exception& e) {
        std::fprintf(stderr, "\ntapgate-bench: internal error: %s\n", e.what());
    }
    return 1;
}
