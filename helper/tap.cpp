// SPDX-License-Identifier: GPL-2.0-or-later
#include "tap.hpp"

#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>
#include <sys/random.h>

#include <cstdint>
#include <cstring>
#include <functional>
#include <optional>

#include "error.hpp"
#include "fault.hpp"
#include "privileges.hpp"

namespace tapgate::tap {

namespace {
constexpr const char* tun_path = "/dev/net/tun";
// Each lost race means another request got a slot; this bounds the
// retries only against a kernel that keeps saying EBUSY.
constexpr int max_tries = 64;
// How many numbers for %d tapgate tries itself before it lets the kernel
// pick (see create()).
constexpr int walk_limit = 32;
// How many free slots a request that lost its index picks from at random.
constexpr std::size_t spread_over = 16;

// The name with the lowest number for %d that no interface has, if one of
// the first `walk_limit` numbers gives it.
std::optional<std::string> lowest_free_name(const std::string& name_template,
                                            const std::function<bool(const std::string&)>& name_taken) {
    const std::size_t at = name_template.find("%d");
    if (at == std::string::npos) return std::nullopt;
    for (int n = 0; n < walk_limit; ++n) {
        std::string name = name_template.substr(0, at) + std::to_string(n) + name_template.substr(at + 2);
        if (name.size() >= IFNAMSIZ) return std::nullopt;
        if (!name_taken(name)) return name;
    }
    return std::nullopt;
}
}  // namespace

Tap create(const std::string& name_template, bool want_vnet_hdr, uid_t owner,
           const std::function<std::vector<int>(std::size_t wanted)>& free_indexes,
           const std::function<bool(const std::string&)>& name_taken) {
    // The fd goes to QEMU, which may exec other programs: close-on-exec
    // applies to this process only and does not travel with SCM_RIGHTS.
    UniqueFd fd(::open(tun_path, O_RDWR | O_CLOEXEC));
    if (!fd) {
        int e = errno;
        if (e == EACCES || e == EPERM)
            throw Error(std::string("cannot open ") + tun_path + ": " + std::strerror(e) +
                        " (it must be readable and writable by the user, mode 0666)");
        throw system_error(std::string("cannot open ") + tun_path, e);
    }
    unsigned int features = 0;
    if (::ioctl(fd.get(), TUNGETFEATURES, &features) != 0) features = 0;

    ifreq ifr{};
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
    const bool vnet = want_vnet_hdr && (features & IFF_VNET_HDR);
    if (vnet) ifr.ifr_flags |= IFF_VNET_HDR;
    if (name_template.size() >= sizeof ifr.ifr_name)
        throw Error("tap name template \"" + name_template + "\" is too long");
    // The number for %d: tapgate looks for the lowest free one itself, a
    // name lookup each, because the kernel's own %d reads the name of
    // every interface in the namespace (0.3 ms more per tap at 6000 host
    // interfaces, 1 ms in the bench). Where that is no cheaper (the first
    // numbers all taken) or once a concurrent request took the name found,
    // the kernel picks, atomically. IFF_TUN_EXCL either way: the kernel
    // makes a new device and never attaches to one that has the name.
    const std::optional<std::string> ours = lowest_free_name(name_template, name_taken);
    bool kernel_names = !ours;
    ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_TUN_EXCL);
    // Everything after this addresses the tap by its interface index, and
    // the kernel has no call that tells the index of a tun fd's device:
    // looking it up by name would trust that nobody renamed the tap and
    // gave its name to another interface meanwhile (possible for a caller
    // with CAP_NET_ADMIN in a network namespace of its own). So the index
    // is chosen here, one of `indexes`, and set before the device exists.
    unsigned int index = 0;
    int e = EBUSY;
    // Uncontended, the tap takes the lowest free slot. A user's own
    // requests choose one at a time (under the lock of quota::Slots), but
    // another user whose slots share the hash, or root, can take the index
    // before TUNSETIFF, and a TUNSETIFF that loses the race (EBUSY) still
    // builds and tears down a device under the kernel's RTNL lock: a
    // request that lost its index looks again and takes a random free
    // slot, so that the losers spread out instead of losing again in
    // step. EBUSY also means that the name tapgate chose was taken
    // meanwhile (by any request, of any user): then the kernel picks.
    bool lost_index = false;
    for (int tries = 0; tries < max_tries && e == EBUSY; ++tries) {
        const std::string& name = kernel_names ? name_template : *ours;
        std::memset(ifr.ifr_name, 0, sizeof ifr.ifr_name);
        std::memcpy(ifr.ifr_name, name.c_str(), name.size());
        if (tries == 0) fault::point("name-chosen");
        // Uncontended, the lowest free slot is all it takes: the probes stop
        // there instead of going on to the 16 a loser spreads over.
        const std::vector<int> indexes = free_indexes(lost_index ? spread_over : 1);
        if (indexes.empty()) break;
        std::uint16_t r = 0;
        const bool spread = lost_index && ::getrandom(&r, sizeof r, GRND_NONBLOCK) == sizeof r;
        index = static_cast<unsigned int>(indexes[spread ? r % indexes.size() : 0]);
        if (::ioctl(fd.get(), TUNSETIFINDEX, &index) != 0)
            throw system_error("cannot choose the tap's interface index");
        {
            const privileges::NetAdmin raised;
            e = ::ioctl(fd.get(), TUNSETIFF, &ifr) == 0 ? 0 : errno;
        }
        if (e != EBUSY) break;
        if (!kernel_names && name_taken(*ours)) kernel_names = true;
        else lost_index = true;
    }
    if (e == EBUSY)
        throw Error("cannot create a tap device: none of its interface indexes is free (see Quotas in tapgate.conf(5))");
    if (e != 0) {
        if (e == EPERM)
            throw Error("cannot create a tap device: " + std::string(std::strerror(e)) +
                        " (tapgate needs CAP_NET_ADMIN: install it setuid root or with "
                        "cap_net_admin+ep)");
        throw system_error("cannot create a tap device", e);
    }
    Tap t;
    t.ifindex = static_cast<int>(index);
    t.name.assign(ifr.ifr_name, strnlen(ifr.ifr_name, sizeof ifr.ifr_name));
    // A tap without an owner, once its holder makes it persistent (which
    // needs no privilege), can be attached by any user, onto the bridge
    // and VLAN this caller was granted. The holder can change the owner
    // to another valid uid, but never clear it.
    if (::ioctl(fd.get(), TUNSETOWNER, static_cast<unsigned long>(owner)) != 0)
        throw system_error("cannot set the owner of " + t.name);
    t.fd = std::move(fd);
    t.vnet_hdr = vnet;
    return t;
}

}  // namespace tapgate::tap
