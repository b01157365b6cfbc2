#include "tap.hpp"

#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>

#include <cstring>

#include "error.hpp"

namespace tapgate::tap {

namespace {
constexpr const char* tun_path = "/dev/net/tun";
}

Tap create(const std::string& name_template, bool want_vnet_hdr, uid_t owner) {
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
    std::memcpy(ifr.ifr_name, name_template.c_str(), name_template.size() + 1);
    if (::ioctl(fd.get(), TUNSETIFF, &ifr) != 0) {
        int e = errno;
        if (e == EPERM)
            throw Error("cannot create a tap device: " + std::string(std::strerror(e)) +
                        " (tapgate needs CAP_NET_ADMIN: install it setuid root or with "
                        "cap_net_admin+ep)");
        throw system_error("cannot create a tap device", e);
    }
    Tap t;
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
