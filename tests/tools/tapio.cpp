// SPDX-License-Identifier: GPL-2.0-or-later
// tapio: gets a tap through the bridge helper protocol (QEMU's side of it:
// socketpair, fork, exec HELPER [--use-vnet] --fd=N --br=BR, one recvmsg,
// waitpid) and then plays a guest's NIC on it, driven by commands on stdin,
// so that a shell script can check which taps hear which frames.
// Why not tg-spawn: tg-spawn only reports on the tap and holds it; tapio is
// the guest NIC on it, sending and counting frames for as long as the test
// talks to it.
//
//   tapio [--vnet] [--timeout SECS] HELPER BRIDGE
//
// On success it prints "ready IFNAME vnet=0|1 mac=SOURCE-MAC" and reads command lines
// "ID VERB ARGS..."; every reply is one line starting with the same ID, so
// the script can wait for exactly the answer to its own question:
//   ID send MARKER [VID]   broadcast one frame carrying MARKER (802.1Q-tagged
//                          with VID if given) -> "ID sent MARKER"
//   ID count MARKER        -> "ID count MARKER untagged=U tagged=T"
//   ID wait MARKER N MS    the same, once U+T >= N or after MS milliseconds
// End of input (or "ID quit") closes the tap and exits 0.
// Frames are counted as they arrive, whatever command is running; only our
// own frames (EtherType 0x88b5, payload "TGVLAN:" MARKER) are counted, so
// IPv6 chatter and the like cannot skew a result.
// Failures of the helper: "tapio: helper ..." on stderr, exit 1; tapio's own
// failures: "tapio: ..." on stderr, exit 2.
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "recv_fds.hpp"

namespace {

[[noreturn]] void die(const std::string& msg, int code = 2) {
    std::fprintf(stderr, "tapio: %s\n", msg.c_str());
    std::exit(code);
}

[[noreturn]] void die_errno(const std::string& what) {
    die(what + ": " + std::strerror(errno));
}

// IEEE 802 "local experimental" EtherType: no stack in the guest kernel
// claims it, so the bridge just forwards it.
constexpr unsigned ether_marker = 0x88b5;
constexpr unsigned ether_vlan = 0x8100;
constexpr char tag[] = "TGVLAN:";
// The legacy virtio-net header the tap expects with IFF_VNET_HDR (the
// kernel's default TUNSETVNETHDRSZ); all zero means "no offloads".
constexpr std::size_t vnet_len = 10;

using Clock = std::chrono::steady_clock;

struct Counts {
    unsigned untagged = 0;
    unsigned tagged = 0;
};

struct Tap {
    int fd = -1;
    bool vnet = false;
    unsigned char mac[6] = {};
    std::map<std::string, Counts> seen;
};

// Runs the helper like QEMU and returns the fd it sent. The helper's stderr
// is ours, so its refusal reaches the script as it would reach QEMU's user.
int obtain(const std::string& helper, const std::string& bridge, bool vnet, int timeout) {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) die_errno("socketpair");
    const pid_t pid = ::fork();
    if (pid < 0) die_errno("fork");
    if (pid == 0) {
        // The child's end lands at fd 3 without close-on-exec; everything
        // else of ours is close-on-exec (QEMU passes the helper nothing but
        // 0-2 and the socket either).
        int s = sv[1];
        if (s != 3) {
            if (::dup2(s, 3) < 0) _exit(127);
        } else {
            ::fcntl(3, F_SETFD, 0);
        }
        std::vector<std::string> args{helper};
        if (vnet) args.emplace_back("--use-vnet");
        args.emplace_back("--fd=3");
        args.emplace_back("--br=" + bridge);
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        ::execv(helper.c_str(), argv.data());
        std::fprintf(stderr, "tapio: exec %s: %s\n", helper.c_str(), std::strerror(errno));
        _exit(127);
    }
    ::close(sv[1]);

    // One recvmsg, as QEMU does; a helper that hangs is cut off.
    pollfd p{sv[0], POLLIN, 0};
    int fd = -1;
    int pr = ::poll(&p, 1, timeout * 1000);
    if (pr > 0) {
        tgtest::Received got = tgtest::receive_fds(sv[0], MSG_CMSG_CLOEXEC);
        // QEMU uses the first fd; a second one would only leak.
        for (std::size_t i = 0; i < got.fds.size(); ++i) {
            if (i == 0 && got.bytes > 0) fd = got.fds[i];
            else ::close(got.fds[i]);
        }
    } else {
        ::kill(pid, SIGKILL);
    }
    ::close(sv[0]);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) die_errno("waitpid");
    if (pr == 0) die("helper timed out after " + std::to_string(timeout) + " s", 1);
    // QEMU's rule: an fd with a failure status is still a failure.
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        if (fd >= 0) ::close(fd);
        die(WIFEXITED(status) ? "helper failed with exit status " + std::to_string(WEXITSTATUS(status))
                              : "helper killed by signal " + std::to_string(WTERMSIG(status)),
            1);
    }
    if (fd < 0) die("helper exited 0 but sent no fd", 1);
    return fd;
}

// Reads every frame waiting on the tap and counts our markers.
void drain(Tap& t) {
    unsigned char buf[65536 + vnet_len];
    for (;;) {
        ssize_t n = ::read(t.fd, buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) return;
            die_errno("read tap");
        }
        std::size_t off = t.vnet ? vnet_len : 0;
        if (static_cast<std::size_t>(n) < off + 14) continue;
        const unsigned char* f = buf + off;
        std::size_t len = static_cast<std::size_t>(n) - off;
        unsigned type = (f[12] << 8) | f[13];
        std::size_t pos = 14;
        bool tagged = false;
        if (type == ether_vlan && len >= 18) {
            tagged = true;
            type = (f[16] << 8) | f[17];
            pos = 18;
        }
        if (type != ether_marker || len < pos + sizeof tag - 1 ||
            std::memcmp(f + pos, tag, sizeof tag - 1) != 0)
            continue;
        pos += sizeof tag - 1;
        // The marker runs to the first NUL (the padding) or the frame's end.
        std::string marker;
        while (pos < len && f[pos] != 0) marker += static_cast<char>(f[pos++]);
        Counts& c = t.seen[marker];
        (tagged ? c.tagged : c.untagged)++;
    }
}

void send_frame(Tap& t, const std::string& marker, int vid) {
    std::vector<unsigned char> frame(t.vnet ? vnet_len : 0, 0);
    for (int i = 0; i < 6; ++i) frame.push_back(0xff);
    frame.insert(frame.end(), t.mac, t.mac + 6);
    if (vid >= 0) {
        frame.push_back(ether_vlan >> 8);
        frame.push_back(ether_vlan & 0xff);
        frame.push_back(static_cast<unsigned char>((vid >> 8) & 0x0f));
        frame.push_back(static_cast<unsigned char>(vid & 0xff));
    }
    frame.push_back(ether_marker >> 8);
    frame.push_back(ether_marker & 0xff);
    frame.insert(frame.end(), tag, tag + sizeof tag - 1);
    frame.insert(frame.end(), marker.begin(), marker.end());
    // Pad to the 60-byte minimum (without FCS) with NULs, which also end
    // the marker for the receiver.
    std::size_t min = (t.vnet ? vnet_len : 0) + 60;
    if (frame.size() < min) frame.resize(min, 0);
    else frame.push_back(0);
    ssize_t n = ::write(t.fd, frame.data(), frame.size());
    if (n != static_cast<ssize_t>(frame.size())) die_errno("write tap");
}

std::string count_line(const std::string& id, Tap& t, const std::string& marker) {
    const Counts& c = t.seen[marker];
    return id + " count " + marker + " untagged=" + std::to_string(c.untagged) +
           " tagged=" + std::to_string(c.tagged);
}

// Keeps reading the tap until MARKER was seen N times or MS pass.
void wait_for(Tap& t, const std::string& marker, unsigned n, int ms) {
    const auto end = Clock::now() + std::chrono::milliseconds(ms);
    for (;;) {
        drain(t);
        const Counts& c = t.seen[marker];
        if (c.untagged + c.tagged >= n) return;
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - Clock::now()).count();
        if (left <= 0) return;
        pollfd p{t.fd, POLLIN, 0};
        ::poll(&p, 1, static_cast<int>(left));
    }
}

int number(const std::string& s, const char* what) {
    char* end = nullptr;
    errno = 0;
    long v = std::strtol(s.c_str(), &end, 10);
    if (s.empty() || *end || errno || v < 0 || v > 1000000) die(std::string("bad ") + what + ": " + s);
    return static_cast<int>(v);
}

// Handles one command line; false on "quit".
bool command(Tap& t, const std::string& line) {
    std::istringstream in(line);
    std::vector<std::string> w;
    for (std::string s; in >> s;) w.push_back(s);
    if (w.empty()) return true;
    if (w.size() < 2) die("bad command: " + line);
    const std::string& id = w[0];
    const std::string& verb = w[1];
    std::string reply;
    if (verb == "quit") {
        return false;
    } else if (verb == "send" && (w.size() == 3 || w.size() == 4)) {
        send_frame(t, w[2], w.size() == 4 ? number(w[3], "VLAN id") : -1);
        reply = id + " sent " + w[2];
    } else if (verb == "count" && w.size() == 3) {
        drain(t);
        reply = count_line(id, t, w[2]);
    } else if (verb == "wait" && w.size() == 5) {
        wait_for(t, w[2], static_cast<unsigned>(number(w[3], "count")), number(w[4], "milliseconds"));
        reply = count_line(id, t, w[2]);
    } else {
        die("bad command: " + line);
    }
    std::printf("%s\n", reply.c_str());
    std::fflush(stdout);
    return true;
}

}  // namespace

int main(int argc, char** argv) {
    bool vnet = false;
    int timeout = 20;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; ++i) {
        std::string a = argv[i];
        if (a == "--vnet") vnet = true;
        else if (a == "--timeout" && i + 1 < argc) timeout = number(argv[++i], "timeout");
        else die("unknown option " + a + " (usage: tapio [--vnet] [--timeout SECS] HELPER BRIDGE)");
    }
    if (argc - i != 2) die("usage: tapio [--vnet] [--timeout SECS] HELPER BRIDGE");
    // A script that goes away must not kill us mid-reply.
    std::signal(SIGPIPE, SIG_IGN);

    Tap t;
    t.vnet = vnet;
    t.fd = obtain(argv[i], argv[i + 1], vnet, timeout);

    ifreq ifr{};
    if (::ioctl(t.fd, TUNGETIFF, &ifr) < 0) die_errno("TUNGETIFF");
    const bool has_vnet = (ifr.ifr_flags & IFF_VNET_HDR) != 0;
    if (has_vnet != vnet)
        die(std::string("tap has IFF_VNET_HDR ") + (has_vnet ? "on" : "off") + ", asked for " +
            (vnet ? "on" : "off"));
    if (::fcntl(t.fd, F_SETFL, ::fcntl(t.fd, F_GETFL) | O_NONBLOCK) < 0) die_errno("O_NONBLOCK");
    // A locally administered unicast source address of our own per process,
    // so the bridge learns each sender at its own port.
    const pid_t me = ::getpid();
    const unsigned char mac[6] = {0x02, 0x74, 0x67, static_cast<unsigned char>(me >> 16),
                                  static_cast<unsigned char>(me >> 8), static_cast<unsigned char>(me)};
    std::memcpy(t.mac, mac, sizeof mac);

    std::printf("ready %s vnet=%d mac=%02x:%02x:%02x:%02x:%02x:%02x\n", ifr.ifr_name, vnet ? 1 : 0,
                mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
    std::fflush(stdout);

    // Commands and frames interleave: frames are counted whenever they come.
    std::string pending;
    for (;;) {
        pollfd p[2] = {{0, POLLIN, 0}, {t.fd, POLLIN, 0}};
        if (::poll(p, 2, -1) < 0) {
            if (errno == EINTR) continue;
            die_errno("poll");
        }
        if (p[1].revents) drain(t);
        if (p[0].revents) {
            char buf[4096];
            ssize_t n = ::read(0, buf, sizeof buf);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) break;
            pending.append(buf, static_cast<std::size_t>(n));
            std::size_t nl;
            while ((nl = pending.find('\n')) != std::string::npos) {
                std::string line = pending.substr(0, nl);
                pending.erase(0, nl + 1);
                if (!command(t, line)) return 0;
            }
        }
    }
    return 0;
}
