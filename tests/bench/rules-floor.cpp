// SPDX-License-Identifier: GPL-2.0-or-later
// The floor under any helper that keeps tapgate's behaviour and follows the
// project's rules: each step tapgate must take, taken once, with the
// library the rules name, and nothing more. No error messages worth the
// name, no ACL engine (a substring search of bridge.conf), no fault points,
// no second look at anything. Built like tapgate (static or shared
// libraries, 4755), run by the bench as a helper, it passes the same checks.
//
// The steps: the environment cleared before any library's constructor
// runs; as root, the quota lock file opened and vetted; libcap-ng drops to
// the real ids with CAP_NET_ADMIN permitted only and the bounding set
// cleared, not dumpable, no_new_privs, and the drop is verified (ids, no
// way back to root, dumpable and no_new_privs read back, capabilities read
// back); the --fd socket is checked, its peer's pid read for the audit
// line, and other fds closed; bridge.conf and tapgate.conf are opened as
// the user and vetted through the fd, tapgate.conf parsed by inih; NSS
// gives the user's name for the audit line (and, with a group section for
// the bridge, the group's members); libnl looks the bridge up; with a
// quota, the user's byte lock; the lowest free name of the bridge's
// pattern; the tap's interface index chosen and probed before it exists
// (tapgate addresses the tap by index, never by a name that could change
// hands); CAP_NET_ADMIN raised around the tap's creation (owner set) and
// its attachment: one RTM_SETLINK (MTU, MAC, master, alias, up) or, with
// port flags, as tapgate does it: the port attached down, one AF_BRIDGE
// RTM_SETLINK, then up, so that no frame passes before the flags hold; the
// audit line through syslog(3); the tap passed over --fd.
//
// Cheaper than tapgate where that only lowers the floor: one raise of
// CAP_NET_ADMIN for the whole block, the quota counted as the caller's
// consecutive names, a substring search for the ACL, errors not told
// apart.
#include <cap-ng.h>
#include <fcntl.h>
#include <grp.h>
#include <ini.h>
#include <net/if.h>
#include <netlink/msg.h>
#include <netlink/route/link.h>
#include <pwd.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

#include <linux/capability.h>
#include <linux/if_bridge.h>
#include <linux/if_link.h>
#include <linux/if_tun.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>

#include "config.h"
#include "send_fd.hpp"

namespace {

// Before the libraries' constructors (libnl reads its environment there);
// `environ` is not set yet, but envp is the same array.
void early_clearenv(int, char**, char** envp) {
    if (envp) envp[0] = nullptr;
}
[[gnu::section(".preinit_array"), gnu::used]] void (*const clear_at_start)(int, char**, char**) = early_clearenv;

[[noreturn]] void fail(const char* what) {
    std::fprintf(stderr, "rules-floor: %s\n", what);
    std::exit(1);
}

// What tapgate.conf says about the bridge asked for.
struct Lab {
    const std::string* bridge = nullptr;
    int quota = 0;
    bool isolated = false;
    int learning = -1;  // -1: not set
    std::string name;   // a pattern with %u and %d
    std::string group;  // a [bridge BR group G] section
};

int on_setting(void* user, const char* section, const char* key, const char* value) {
    auto* lab = static_cast<Lab*>(user);
    const std::string sec = section, plain = "bridge " + *lab->bridge, grouped = plain + " group ";
    if (sec == plain) {
        if (!std::strcmp(key, "quota")) lab->quota = std::atoi(value);
        if (!std::strcmp(key, "isolated")) lab->isolated = !std::strcmp(value, "yes");
        if (!std::strcmp(key, "name")) lab->name = value;
    } else if (sec.rfind(grouped, 0) == 0) {
        lab->group = sec.substr(grouped.size());
        if (!std::strcmp(key, "learning")) lab->learning = !std::strcmp(value, "yes");
    }
    return 1;
}

// Opened as the user, vetted through the fd (root's, not writable by
// others, a regular file).
int open_vetted(const char* path) {
    const int fd = ::open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
    struct stat st{};
    if (fd < 0) return -1;
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != 0 || (st.st_mode & S_IWOTH) != 0)
        fail("a config file is not root's");
    return fd;
}

std::string expand(const std::string& pattern, uid_t uid, int n) {
    std::string out;
    for (std::size_t i = 0; i < pattern.size(); ++i) {
        if (pattern[i] == '%' && i + 1 < pattern.size() && pattern[i + 1] == 'u') {
            out += std::to_string(uid);
            ++i;
        } else if (pattern[i] == '%' && i + 1 < pattern.size() && pattern[i + 1] == 'd') {
            out += std::to_string(n);
            ++i;
        } else {
            out += pattern[i];
        }
    }
    return out;
}

void net_admin(bool on) {
    capng_update(on ? CAPNG_ADD : CAPNG_DROP, CAPNG_EFFECTIVE, CAP_NET_ADMIN);
    if (capng_apply(CAPNG_SELECT_CAPS) != 0) fail("cannot raise or lower CAP_NET_ADMIN");
}

}  // namespace

int main(int argc, char** argv) {
    // Users cannot open the lock file: it is opened before the drop.
    const int lock = ::open(TAPGATE_LOCK_FILE, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600);
    struct stat lst{};
    if (lock < 0 || ::fstat(lock, &lst) != 0 || !S_ISREG(lst.st_mode) || lst.st_uid != 0 || (lst.st_mode & 077) != 0)
        fail("lock file");

    const uid_t uid = ::getuid();
    const gid_t gid = ::getgid();
    capng_clear(CAPNG_SELECT_BOTH);
    capng_update(CAPNG_ADD, CAPNG_PERMITTED, CAP_NET_ADMIN);
    if (capng_change_id(static_cast<int>(uid), static_cast<int>(gid), CAPNG_CLEAR_BOUNDING) != 0) fail("drop");
    if (::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0 || ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) fail("prctl");
    uid_t ru, eu, su;
    gid_t rg, eg, sg;
    if (::getresuid(&ru, &eu, &su) != 0 || ::getresgid(&rg, &eg, &sg) != 0 || ru != uid || eu != uid ||
        su != uid || rg != gid || eg != gid || sg != gid)
        fail("ids did not change");
    if (::prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0 || ::prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
        fail("still dumpable, or no no_new_privs");
    if (uid != 0 && (::setuid(0) == 0 || ::seteuid(0) == 0)) fail("root regained");
    capng_clear(CAPNG_SELECT_BOTH);
    if (capng_get_caps_process() != 0) fail("cannot read capabilities");
    for (unsigned c = 0; c <= CAP_LAST_CAP; ++c)
        if ((c != CAP_NET_ADMIN && capng_have_capability(CAPNG_PERMITTED, c)) ||
            capng_have_capability(CAPNG_EFFECTIVE, c) || capng_have_capability(CAPNG_BOUNDING_SET, c))
            fail("a capability is still held");

    std::string bridge;
    int sock = -1;
    bool vnet = false;
    for (int i = 1; i < argc; ++i) {
        if (!std::strcmp(argv[i], "--use-vnet")) vnet = true;
        else if (!std::strncmp(argv[i], "--fd=", 5)) sock = std::atoi(argv[i] + 5);
        else if (!std::strncmp(argv[i], "--br=", 5)) bridge = argv[i] + 5;
        else fail("usage");
    }
    if (sock < 3 || bridge.empty() || bridge.size() >= IFNAMSIZ) fail("usage");
    int type = 0;
    socklen_t tlen = sizeof type;
    sockaddr_un sa{};
    socklen_t slen = sizeof sa;
    if (::getsockopt(sock, SOL_SOCKET, SO_TYPE, &type, &tlen) != 0 || type != SOCK_STREAM ||
        ::getsockname(sock, reinterpret_cast<sockaddr*>(&sa), &slen) != 0 || sa.sun_family != AF_UNIX)
        fail("--fd is not a unix stream socket");
    ucred peer{};
    socklen_t plen = sizeof peer;
    if (::getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &peer, &plen) != 0) fail("no peer");
    const int low = std::min(sock, lock), high = std::max(sock, lock);
    ::close_range(3, static_cast<unsigned>(low) - 1, 0);
    if (high > low + 1) ::close_range(static_cast<unsigned>(low) + 1, static_cast<unsigned>(high) - 1, 0);
    ::close_range(static_cast<unsigned>(high) + 1, ~0U, 0);

    const int acl = open_vetted(TAPGATE_ACL_FILE);
    if (acl < 0) fail("no bridge.conf");
    char text[8192];
    const ssize_t n = ::read(acl, text, sizeof text - 1);
    ::close(acl);
    if (n < 0) fail("cannot read bridge.conf");
    text[n] = '\0';
    if (!std::strstr(text, ("allow " + bridge + "\n").c_str()) && !std::strstr(text, "allow all\n"))
        fail("denied");
    Lab lab;
    lab.bridge = &bridge;
    if (const int conf = open_vetted(TAPGATE_SETTINGS_FILE); conf >= 0) {
        FILE* f = ::fdopen(conf, "re");
        if (!f || ini_parse_file(f, on_setting, &lab) != 0) fail("tapgate.conf");
        std::fclose(f);
    }

    passwd pw{}, *pwr = nullptr;
    char pwbuf[4096];
    if (::getpwuid_r(uid, &pw, pwbuf, sizeof pwbuf, &pwr) != 0 || !pwr) fail("no user name");
    const std::string user = pw.pw_name;
    bool in_group = false;
    if (!lab.group.empty()) {
        group gr{}, *grr = nullptr;
        char grbuf[4096];
        if (::getgrnam_r(lab.group.c_str(), &gr, grbuf, sizeof grbuf, &grr) == 0 && grr) {
            in_group = gr.gr_gid == pw.pw_gid;
            for (char** m = gr.gr_mem; !in_group && *m; ++m) in_group = user == *m;
        }
    }

    nl_sock* nl = nl_socket_alloc();
    if (!nl || nl_connect(nl, NETLINK_ROUTE) != 0) fail("netlink");
    rtnl_link* br = nullptr;
    if (rtnl_link_get_kernel(nl, 0, bridge.c_str(), &br) != 0 || !br) fail("no such bridge");
    const char* kind = rtnl_link_get_type(br);
    if (!kind || std::strcmp(kind, "bridge") != 0) fail("not a bridge");
    const int br_index = rtnl_link_get_ifindex(br);
    const unsigned mtu = rtnl_link_get_mtu(br);
    rtnl_link_put(br);

    // The quota: counted and the tap made under the user's byte lock, so
    // that concurrent requests count each other's taps.
    struct flock fl{};
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    fl.l_start = static_cast<off_t>(uid);
    fl.l_len = 1;
    if (lab.quota > 0 && ::fcntl(lock, F_SETLKW, &fl) != 0) fail("lock");
    std::string name = "tap%d";
    if (!lab.name.empty()) {
        const int limit = lab.quota > 0 ? lab.quota : 1024;
        int mine = 0;
        while (mine < limit && ::if_nametoindex(expand(lab.name, uid, mine).c_str()) != 0) ++mine;
        if (mine == limit) fail("quota reached");
        name = expand(lab.name, uid, mine);
    }
    // The caller's range of indexes: every 256th from its first.
    int tap_index = (1 << 24) + static_cast<int>((uid % 8000) * 262144 + static_cast<unsigned>(br_index) % 256);

    net_admin(true);
    const int tun = ::open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    ifreq ifr{};
    std::snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", name.c_str());
    ifr.ifr_flags = static_cast<short>(IFF_TAP | IFF_NO_PI | (vnet ? IFF_VNET_HDR : 0) |
                                       (lab.name.empty() ? 0 : IFF_TUN_EXCL));
    if (tun < 0) fail("cannot open /dev/net/tun");
    // The first free index, probed; a concurrent request that took it
    // makes TUNSETIFF say EBUSY, and the next one is tried.
    for (int tries = 0;; ++tries, tap_index += 256) {
        for (ifreq probe{};; tap_index += 256) {
            probe.ifr_ifindex = tap_index;
            if (::ioctl(nl_socket_get_fd(nl), SIOCGIFNAME, &probe) != 0) break;
        }
        unsigned index = static_cast<unsigned>(tap_index);
        if (::ioctl(tun, TUNSETIFINDEX, &index) != 0) fail("cannot choose the tap's index");
        if (::ioctl(tun, TUNSETIFF, &ifr) == 0) break;
        if (errno != EBUSY || tries == 64) fail("cannot make the tap");
    }
    if (::ioctl(tun, TUNSETOWNER, static_cast<unsigned long>(uid)) != 0) fail("cannot set the tap's owner");
    unsigned char mac[6];
    if (::getrandom(mac + 1, 5, 0) != 5) fail("no random MAC");
    mac[0] = 0xfe;
    nl_addr* addr = nl_addr_build(AF_LLC, mac, sizeof mac);
    rtnl_link* orig = rtnl_link_alloc();
    rtnl_link* change = rtnl_link_alloc();
    if (!addr || !orig || !change) fail("out of memory");
    rtnl_link_set_ifindex(orig, tap_index);
    rtnl_link_set_mtu(change, mtu);
    rtnl_link_set_addr(change, addr);
    rtnl_link_set_master(change, br_index);
    const std::string alias = "tapgate uid=" + std::to_string(uid) + " made=" + std::to_string(std::time(nullptr));
    rtnl_link_set_ifalias(change, alias.c_str());
    const bool flags = lab.isolated || (in_group && lab.learning >= 0);
    if (!flags) rtnl_link_set_flags(change, IFF_UP);
    if (rtnl_link_change(nl, orig, change, 0) != 0) fail("cannot attach the tap");
    if (flags) {
        nl_msg* msg = nlmsg_alloc_simple(RTM_SETLINK, NLM_F_REQUEST | NLM_F_ACK);
        ifinfomsg ifi{};
        ifi.ifi_family = AF_BRIDGE;
        ifi.ifi_index = tap_index;
        if (!msg || nlmsg_append(msg, &ifi, sizeof ifi, NLMSG_ALIGNTO) != 0) fail("out of memory");
        nlattr* info = nla_nest_start(msg, IFLA_PROTINFO | NLA_F_NESTED);
        if (lab.isolated) nla_put_u8(msg, IFLA_BRPORT_ISOLATED, 1);
        if (in_group && lab.learning >= 0) nla_put_u8(msg, IFLA_BRPORT_LEARNING, static_cast<uint8_t>(lab.learning));
        nla_nest_end(msg, info);
        if (nl_send_sync(nl, msg) != 0) fail("cannot set the port flags");
        rtnl_link* up = rtnl_link_alloc();
        if (!up) fail("out of memory");
        rtnl_link_set_flags(up, IFF_UP);
        if (rtnl_link_change(nl, orig, up, 0) != 0) fail("cannot bring the tap up");
    }
    net_admin(false);
    if (lab.quota > 0) {
        fl.l_type = F_UNLCK;
        ::fcntl(lock, F_SETLK, &fl);
    }

    ::openlog("tapgate", LOG_PID, LOG_AUTHPRIV);
    ::syslog(LOG_INFO, "granted: user=%s uid=%u pid=%d via=setuid bridge=%s tap=%s", user.c_str(), uid,
             static_cast<int>(peer.pid), bridge.c_str(), ifr.ifr_name);
    if (!tgbench::send_fd(sock, tun)) fail("cannot pass the tap on");
    return 0;
}
