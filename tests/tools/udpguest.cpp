// SPDX-License-Identifier: GPL-2.0-or-later
// udpguest: the tests' guest. Plays the guests of one or several QEMUs
// that have no guest at all (`-machine none`): each QEMU hubs its bridge
// netdev (the tap from the helper) to a `-netdev socket,udp=` netdev, which
// carries every Ethernet frame as one UDP datagram, so a UDP socket here is
// a wire into the tap.
//
//   udpguest NAME:LISTEN-PORT:QEMU-PORT:IPV4[:MAC] ...
//
// Each NAME gets MAC (by default 52:54:00:74:67:NN, NN its position, from
// 01) and answers ARP requests for its IPV4 and ICMP echo requests to it,
// whatever command is running. LISTEN-PORT is the port QEMU sends to (its udp=),
// QEMU-PORT the one QEMU receives on (its localaddr=), both on 127.0.0.1.
// Commands, one a line on stdin, run one after the other; each prints one
// line on stdout:
//   ping FROM TO MS     ARP for TO's address, then one ICMP echo, both
//                       resent every 250 ms, for at most MS milliseconds
//                       -> "ping FROM TO ok arp=MAC ms=N" or "ping FROM TO
//                       fail WHY". TO is a guest's NAME (the ARP reply must
//                       name its MAC) or an IPv4 address outside udpguest,
//                       such as the host's on the bridge (the caller checks
//                       the MAC)
//   bcast FROM MARKER [SOURCE-MAC [VID]]
//                       a broadcast frame (EtherType 0x88b5) carrying
//                       MARKER, from FROM's MAC or from SOURCE-MAC (a
//                       guest that forges its source address), tagged
//                       with 802.1Q VLAN VID if given -> "bcast FROM
//                       MARKER sent"; receivers count markers tagged or not
//   serve MS            only answer for MS milliseconds -> "serve MS"
//   heard NAME FROM     -> "heard NAME FROM frames=N marker-frames=M": the
//                       frames NAME received from FROM's MAC, and of those
//                       the broadcast marker frames
//   marker NAME MARKER  -> "marker NAME MARKER N": marker frames received
//   stats NAME          -> "stats NAME rx=N": all frames NAME received
// Exit status 0 at the end of input; 2 on a bad argument or command.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
using Frame = std::vector<unsigned char>;

[[noreturn]] void die(const std::string& msg) {
    std::fprintf(stderr, "udpguest: %s\n", msg.c_str());
    std::exit(2);
}

constexpr unsigned eth_ip = 0x0800, eth_arp = 0x0806, eth_marker = 0x88b5, eth_vlan = 0x8100;
constexpr char tag[] = "TGVLAN:";

struct Guest {
    std::string name;
    int fd = -1;
    sockaddr_in qemu{};
    unsigned char mac[6] = {};
    unsigned char ip[4] = {};
    unsigned rx = 0;
    std::map<std::string, unsigned> from;         // source MAC text -> frames
    std::map<std::string, unsigned> marker_from;  // source MAC text -> marker frames
    std::map<std::string, unsigned> markers;      // marker -> frames
    // Replies to our own requests, as they come.
    std::vector<Frame> arp_replies, echo_replies;
};

std::vector<Guest> guests;

std::string mac_text(const unsigned char* m) {
    char b[18];
    std::snprintf(b, sizeof b, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
    return b;
}

Guest& find(const std::string& name) {
    for (auto& g : guests)
        if (g.name == name) return g;
    die("no guest named " + name);
}

unsigned be16(const unsigned char* p) { return (p[0] << 8) | p[1]; }
void put16(Frame& f, unsigned v) {
    f.push_back(static_cast<unsigned char>(v >> 8));
    f.push_back(static_cast<unsigned char>(v));
}
void put(Frame& f, const unsigned char* p, std::size_t n) { f.insert(f.end(), p, p + n); }

unsigned checksum(const unsigned char* p, std::size_t n) {
    unsigned long sum = 0;
    for (std::size_t i = 0; i + 1 < n; i += 2) sum += be16(p + i);
    if (n % 2) sum += p[n - 1] << 8;
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return ~sum & 0xffff;
}

void send(Guest& g, Frame f) {
    if (f.size() < 60) f.resize(60, 0);
    if (::sendto(g.fd, f.data(), f.size(), 0, reinterpret_cast<sockaddr*>(&g.qemu), sizeof g.qemu) < 0 &&
        errno != ECONNREFUSED)
        die("sendto for " + g.name + ": " + std::strerror(errno));
}

Frame eth(const unsigned char* dst, const unsigned char* src, unsigned type) {
    Frame f;
    put(f, dst, 6);
    put(f, src, 6);
    put16(f, type);
    return f;
}

const unsigned char bcast_mac[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
const unsigned char zero_mac[6] = {};

Frame arp(const Guest& g, unsigned op, const unsigned char* dst_mac, const unsigned char* tha,
          const unsigned char* tpa) {
    Frame f = eth(dst_mac, g.mac, eth_arp);
    put16(f, 1);
    put16(f, eth_ip);
    f.push_back(6);
    f.push_back(4);
    put16(f, op);
    put(f, g.mac, 6);
    put(f, g.ip, 4);
    put(f, tha, 6);
    put(f, tpa, 4);
    return f;
}

// An IPv4 ICMP frame: TYPE (8 request, 0 reply) with ID, SEQ and PAYLOAD.
Frame icmp(const Guest& g, const unsigned char* dst_mac, const unsigned char* dst_ip, unsigned type,
           const unsigned char* rest, std::size_t rest_len) {
    Frame f = eth(dst_mac, g.mac, eth_ip);
    const std::size_t ip_at = f.size();
    const std::size_t total = 20 + 4 + rest_len;
    const unsigned char hdr[20] = {0x45, 0, static_cast<unsigned char>(total >> 8),
                                   static_cast<unsigned char>(total), 0, 0, 0x40, 0, 64, 1, 0, 0,
                                   g.ip[0], g.ip[1], g.ip[2], g.ip[3],
                                   dst_ip[0], dst_ip[1], dst_ip[2], dst_ip[3]};
    put(f, hdr, 20);
    unsigned c = checksum(f.data() + ip_at, 20);
    f[ip_at + 10] = static_cast<unsigned char>(c >> 8);
    f[ip_at + 11] = static_cast<unsigned char>(c);
    const std::size_t icmp_at = f.size();
    f.push_back(static_cast<unsigned char>(type));
    f.push_back(0);
    put16(f, 0);
    put(f, rest, rest_len);
    c = checksum(f.data() + icmp_at, 4 + rest_len);
    f[icmp_at + 2] = static_cast<unsigned char>(c >> 8);
    f[icmp_at + 3] = static_cast<unsigned char>(c);
    return f;
}

// One received frame: counted, answered if it asks G something.
void receive(Guest& g, const Frame& f) {
    if (f.size() < 14) return;
    g.rx++;
    const std::string src = mac_text(f.data() + 6);
    g.from[src]++;
    unsigned type = be16(f.data() + 12);
    const unsigned char* p = f.data() + 14;
    std::size_t len = f.size() - 14;
    if (type == eth_vlan && len >= 4) {
        type = be16(p + 2);
        p += 4;
        len -= 4;
    }
    if (type == eth_marker && len >= sizeof tag - 1 && std::memcmp(p, tag, sizeof tag - 1) == 0) {
        std::string m;
        for (std::size_t i = sizeof tag - 1; i < len && p[i]; ++i) m += static_cast<char>(p[i]);
        g.markers[m]++;
        g.marker_from[src]++;
    } else if (type == eth_arp && len >= 28 && be16(p) == 1 && be16(p + 2) == eth_ip && p[4] == 6 &&
               p[5] == 4) {
        const unsigned op = be16(p + 6);
        if (op == 1 && std::memcmp(p + 24, g.ip, 4) == 0)
            send(g, arp(g, 2, p + 8, p + 8, p + 14));
        else if (op == 2 && std::memcmp(p + 24, g.ip, 4) == 0)
            g.arp_replies.push_back(f);
    } else if (type == eth_ip && len >= 20 && (p[0] >> 4) == 4 && p[9] == 1 &&
               std::memcmp(p + 16, g.ip, 4) == 0 && std::memcmp(f.data(), g.mac, 6) == 0) {
        const std::size_t ihl = (p[0] & 0x0f) * 4u;
        const std::size_t total = be16(p + 2);
        if (total > len || total < ihl + 8 || checksum(p, ihl) != 0 || checksum(p + ihl, total - ihl) != 0)
            return;
        const unsigned char* ic = p + ihl;
        if (ic[0] == 8)
            send(g, icmp(g, f.data() + 6, p + 12, 0, ic + 4, total - ihl - 4));
        else if (ic[0] == 0)
            g.echo_replies.push_back(f);
    }
}

// Serves every guest until DEADLINE or until DONE() holds.
template <typename Done>
bool serve(Clock::time_point deadline, Done done) {
    std::vector<pollfd> fds;
    for (auto& g : guests) fds.push_back({g.fd, POLLIN, 0});
    for (;;) {
        if (done()) return true;
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
        if (left <= 0) return false;
        if (::poll(fds.data(), fds.size(), static_cast<int>(left)) < 0 && errno != EINTR) die("poll");
        for (std::size_t i = 0; i < fds.size(); ++i) {
            if (!fds[i].revents) continue;
            for (;;) {
                unsigned char buf[65536];
                ssize_t n = ::recv(guests[i].fd, buf, sizeof buf, MSG_DONTWAIT);
                if (n < 0) {
                    if (errno == EAGAIN || errno == EINTR) break;
                    if (errno == ECONNREFUSED) continue;
                    die("recv for " + guests[i].name + ": " + std::strerror(errno));
                }
                receive(guests[i], Frame(buf, buf + n));
            }
        }
    }
}

// TO_IP's owner must answer from WANT_MAC, if given.
std::string ping(Guest& a, const unsigned char* to_ip, const unsigned char* want_mac, int ms) {
    const auto start = Clock::now();
    const auto deadline = start + std::chrono::milliseconds(ms);
    a.arp_replies.clear();
    a.echo_replies.clear();
    const unsigned char* peer_mac = nullptr;
    Frame reply;
    while (!peer_mac) {
        send(a, arp(a, 1, bcast_mac, zero_mac, to_ip));
        auto step = std::min(deadline, Clock::now() + std::chrono::milliseconds(250));
        serve(step, [&] {
            for (auto& r : a.arp_replies)
                if (std::memcmp(r.data() + 14 + 14, to_ip, 4) == 0) {
                    reply = r;
                    peer_mac = reply.data() + 14 + 8;
                    return true;
                }
            return false;
        });
        if (!peer_mac && Clock::now() >= deadline) return "fail no ARP reply";
    }
    if (want_mac && std::memcmp(peer_mac, want_mac, 6) != 0) return "fail ARP reply names " + mac_text(peer_mac);
    const std::string arp_mac = mac_text(peer_mac);
    unsigned char rest[4 + 24] = {0x74, 0x67, 0, 1};
    std::memcpy(rest + 4, "tapgate-vlan-qemu-ping!", 24);
    bool got = false;
    while (!got) {
        send(a, icmp(a, peer_mac, to_ip, 8, rest, sizeof rest));
        auto step = std::min(deadline, Clock::now() + std::chrono::milliseconds(250));
        got = serve(step, [&] {
            for (auto& r : a.echo_replies) {
                const unsigned char* ic = r.data() + 14 + 20;
                if (r.size() >= 14 + 20 + 8 + sizeof rest - 4 && std::memcmp(r.data() + 14 + 12, to_ip, 4) == 0 &&
                    std::memcmp(ic + 4, rest, sizeof rest) == 0)
                    return true;
            }
            return false;
        });
        if (!got && Clock::now() >= deadline) return "fail ARP ok (" + arp_mac + ") but no echo reply";
    }
    auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
    return "ok arp=" + arp_mac + " ms=" + std::to_string(took);
}

// "52:54:00:12:34:56" into MAC.
bool parse_mac(const std::string& s, unsigned char* mac) {
    unsigned b[6];
    char end;
    if (std::sscanf(s.c_str(), "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5], &end) != 6)
        return false;
    for (int i = 0; i < 6; ++i) mac[i] = static_cast<unsigned char>(b[i]);
    return true;
}

int number(const std::string& s) {
    char* end = nullptr;
    long v = std::strtol(s.c_str(), &end, 10);
    if (s.empty() || *end || v < 0 || v > 65535 * 100) die("bad number: " + s);
    return static_cast<int>(v);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) die("usage: udpguest NAME:LISTEN-PORT:QEMU-PORT:IPV4[:MAC] ...");
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        std::vector<std::string> w;
        std::istringstream in(a);
        for (std::string s; std::getline(in, s, ':');) w.push_back(s);
        // The MAC, if any, is the last six of the colon-separated fields.
        if ((w.size() != 4 && w.size() != 10) || w[0].empty()) die("bad guest: " + a);
        Guest g;
        g.name = w[0];
        const unsigned char mac[6] = {0x52, 0x54, 0x00, 0x74, 0x67, static_cast<unsigned char>(i)};
        std::memcpy(g.mac, mac, 6);
        if (w.size() == 10 && !parse_mac(a.substr(a.size() - 17), g.mac)) die("bad MAC: " + a);
        if (::inet_pton(AF_INET, w[3].c_str(), g.ip) != 1) die("bad address: " + w[3]);
        g.fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (g.fd < 0) die("socket");
        sockaddr_in me{};
        me.sin_family = AF_INET;
        me.sin_port = htons(static_cast<uint16_t>(number(w[1])));
        me.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (::bind(g.fd, reinterpret_cast<sockaddr*>(&me), sizeof me) < 0)
            die("bind port " + w[1] + ": " + std::strerror(errno));
        g.qemu.sin_family = AF_INET;
        g.qemu.sin_port = htons(static_cast<uint16_t>(number(w[2])));
        g.qemu.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        guests.push_back(g);
    }
    for (std::string line; std::getline(std::cin, line);) {
        std::istringstream in(line);
        std::vector<std::string> w;
        for (std::string s; in >> s;) w.push_back(s);
        if (w.empty()) continue;
        std::string out;
        if (w[0] == "ping" && w.size() == 4) {
            unsigned char addr[4];
            std::string r;
            if (::inet_pton(AF_INET, w[2].c_str(), addr) == 1) {
                r = ping(find(w[1]), addr, nullptr, number(w[3]));
            } else {
                const Guest& to = find(w[2]);
                r = ping(find(w[1]), to.ip, to.mac, number(w[3]));
            }
            out = "ping " + w[1] + " " + w[2] + " " + r;
        } else if (w[0] == "bcast" && w.size() >= 3 && w.size() <= 5) {
            Guest& g = find(w[1]);
            unsigned char src[6];
            std::memcpy(src, g.mac, 6);
            if (w.size() >= 4 && !parse_mac(w[3], src)) die("bad MAC: " + line);
            Frame f = eth(bcast_mac, src, eth_marker);
            if (w.size() == 5) {
                // The tag goes where the EtherType was, which follows it.
                f.resize(12);
                put16(f, eth_vlan);
                put16(f, static_cast<unsigned>(number(w[4])) & 0x0fff);
                put16(f, eth_marker);
            }
            put(f, reinterpret_cast<const unsigned char*>(tag), sizeof tag - 1);
            put(f, reinterpret_cast<const unsigned char*>(w[2].data()), w[2].size());
            f.push_back(0);
            send(g, f);
            out = "bcast " + w[1] + " " + w[2] + " sent";
        } else if (w[0] == "serve" && w.size() == 2) {
            serve(Clock::now() + std::chrono::milliseconds(number(w[1])), [] { return false; });
            out = "serve " + w[1];
        } else if (w[0] == "heard" && w.size() == 3) {
            Guest& g = find(w[1]);
            const std::string m = mac_text(find(w[2]).mac);
            out = "heard " + w[1] + " " + w[2] + " frames=" + std::to_string(g.from[m]) +
                  " marker-frames=" + std::to_string(g.marker_from[m]);
        } else if (w[0] == "marker" && w.size() == 3) {
            out = "marker " + w[1] + " " + w[2] + " " + std::to_string(find(w[1]).markers[w[2]]);
        } else if (w[0] == "stats" && w.size() == 2) {
            out = "stats " + w[1] + " rx=" + std::to_string(find(w[1]).rx);
        } else {
            die("bad command: " + line);
        }
        std::printf("%s\n", out.c_str());
        std::fflush(stdout);
    }
    return 0;
}
