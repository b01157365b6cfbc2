// SPDX-License-Identifier: GPL-2.0-or-later
// Netlink through libnl-route-3: one owned socket, errors with the kernel's
// errno and extended-ack message instead of libnl's generic codes.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

struct nl_sock;
struct rtnl_link;
struct nl_addr;
struct nl_msg;

namespace tapgate::netlink {

struct SockDeleter { void operator()(nl_sock* s) const; };
struct LinkDeleter { void operator()(rtnl_link* l) const; };
struct AddrDeleter { void operator()(nl_addr* a) const; };
using LinkPtr = std::unique_ptr<rtnl_link, LinkDeleter>;
using AddrPtr = std::unique_ptr<nl_addr, AddrDeleter>;
struct MsgDeleter { void operator()(nl_msg* m) const; };
using MsgPtr = std::unique_ptr<nl_msg, MsgDeleter>;

// What the kernel said about the last failed request.
struct KernelError {
    int error = 0;        // errno, 0 if none was reported
    std::string message;  // extended ack text, may be empty
    int nl_code = 0;      // libnl's error when the kernel reported none
};

class Socket {
public:
    // Connects a NETLINK_ROUTE socket. Throws tapgate::Error.
    Socket();

    nl_sock* get() const { return sock_.get(); }

    // Link by name, or nullptr if no such interface. Throws on other errors.
    LinkPtr find_link(const std::string& name);

    // ifindex of an interface, or 0 if there is none by that name.
    int ifindex(const std::string& name);

    // Whether an interface has this index: one ioctl, no netlink round
    // trip. Throws on errors other than "no such device".
    bool index_in_use(int ifindex);
    // Whether an interface has this name (or altname). Call it with
    // CAP_NET_ADMIN not effective (see netlink.cpp).
    bool name_in_use(const std::string& name);

    // The kernel's cookie for the network namespace the socket lives in:
    // unique among the namespaces made since boot, never reused (an inode
    // number can be). 0 if the kernel cannot tell (before Linux 5.14).
    std::uint64_t netns_cookie();

    // Deletes the link with `ifindex`. Returns 0 or the kernel's errno.
    int delete_link(int ifindex);

    // One RTM_NEWLINK applying `changes` to the link with `ifindex`.
    // Returns 0 or the kernel's errno (details in last_error()).
    int change_link(int ifindex, rtnl_link* changes);

    // Sends a request built by hand (for what libnl has no call) and waits
    // for the kernel's ack. Returns 0 or the kernel's errno.
    int request(nl_msg* msg);

    // Every tun device whose interface alias starts with `alias_prefix`, as
    // (ifindex, master ifindex, name, alias). One dump, filtered by kind.
    struct AliasedLink {
        int ifindex = 0;
        int master = 0;
        std::string name;
        std::string alias;
        // A tun device has carrier while a file descriptor is attached to
        // it, in whichever process or namespace.
        bool carrier = false;
    };
    // With `master`, only the ports of that bridge.
    std::vector<AliasedLink> links_with_alias(const std::string& alias_prefix, int master = 0);

    // The link with this index, or nullopt if there is none.
    std::optional<AliasedLink> link(int ifindex);

    // Bridge attributes libnl 3.7 does not parse: whether VLAN filtering is
    // on, and the PVID new ports get. Throws tapgate::Error.
    struct BridgeVlan {
        bool filtering = false;
        unsigned default_pvid = 1;
    };
    BridgeVlan bridge_vlan(int bridge_ifindex);

    const KernelError& last_error() const { return err_; }
    // The last request's failure: "strerror (extack)" from the kernel, or
    // libnl's text when the kernel said nothing.
    std::string describe() const;

private:
    // Records libnl's code for describe() when the kernel gave no errno;
    // returns the errno to hand back (EIO then).
    int failed(int nl_code);

    std::unique_ptr<nl_sock, SockDeleter> sock_;
    KernelError err_;
};

}  // namespace tapgate::netlink
