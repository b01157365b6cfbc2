// SPDX-License-Identifier: GPL-2.0-or-later
#include "netlink.hpp"

#include <linux/netlink.h>
#include <netlink/attr.h>
#include <netlink/cache.h>
#include <linux/if_link.h>
#include <netlink/errno.h>
#include <netlink/handlers.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/route/link.h>
#include <netlink/socket.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <cstring>

#include "error.hpp"
#include "privileges.hpp"

namespace tapgate::netlink {

void SockDeleter::operator()(nl_sock* s) const { nl_socket_free(s); }
void LinkDeleter::operator()(rtnl_link* l) const { rtnl_link_put(l); }
void AddrDeleter::operator()(nl_addr* a) const { nl_addr_put(a); }
void MsgDeleter::operator()(nl_msg* m) const { nlmsg_free(m); }

namespace {

struct CbDeleter { void operator()(nl_cb* cb) const { nl_cb_put(cb); } };

// libnl folds errnos into its own codes (EXFULL and EBUSY both become
// "Unspecific failure"); keep the kernel's errno and its extended ack text.
int on_error(sockaddr_nl*, nlmsgerr* e, void* arg) {
    auto* out = static_cast<KernelError*>(arg);
    out->error = -e->error;
    out->message.clear();
    auto* hdr = reinterpret_cast<nlmsghdr*>(reinterpret_cast<char*>(e) - NLMSG_HDRLEN);
    if (hdr->nlmsg_flags & NLM_F_ACK_TLVS) {
        // TLVs follow the error header and, unless capped, the echoed request.
        std::size_t skip = sizeof(*e);
        if (!(hdr->nlmsg_flags & NLM_F_CAPPED)) skip += e->msg.nlmsg_len - NLMSG_HDRLEN;
        std::size_t total = hdr->nlmsg_len - NLMSG_HDRLEN;
        if (skip < total) {
            nlattr* tb[NLMSGERR_ATTR_MAX + 1] = {};
            auto* first = reinterpret_cast<nlattr*>(reinterpret_cast<char*>(e) + NLMSG_ALIGN(skip));
            if (nla_parse(tb, NLMSGERR_ATTR_MAX, first, static_cast<int>(total - NLMSG_ALIGN(skip)),
                          nullptr) == 0 &&
                tb[NLMSGERR_ATTR_MSG])
                out->message = nla_get_string(tb[NLMSGERR_ATTR_MSG]);
        }
    }
    return NL_STOP;
}

}  // namespace

Socket::Socket() {
    // An explicit callback set: the default one follows the caller's NLCB
    // environment variable, read by libnl before main() runs.
    std::unique_ptr<nl_cb, CbDeleter> cb(nl_cb_alloc(NL_CB_DEFAULT));
    if (!cb) throw Error("out of memory");
    nl_cb_err(cb.get(), NL_CB_CUSTOM, on_error, &err_);
    sock_.reset(nl_socket_alloc_cb(cb.get()));
    if (!sock_) throw Error("out of memory");
    if (int rc = nl_connect(sock_.get(), NETLINK_ROUTE); rc < 0)
        throw Error(std::string("cannot open a netlink socket: ") + nl_geterror(rc));
    // Without this libnl peeks at every message to size its buffer: two
    // recvmsg() per reply. Replies here (one link, one ack) fit in 32 KiB.
    nl_socket_set_msg_buf_size(sock_.get(), 32768);
    nl_socket_disable_msg_peek(sock_.get());
    int one = 1;
    // Older kernels lack extended acks; messages are then errno only.
    (void)::setsockopt(nl_socket_get_fd(sock_.get()), SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one);
}

LinkPtr Socket::find_link(const std::string& name) {
    err_ = {};
    rtnl_link* link = nullptr;
    int rc = rtnl_link_get_kernel(sock_.get(), 0, name.c_str(), &link);
    if (rc == 0) return LinkPtr(link);
    if (err_.error == ENODEV || rc == -NLE_OBJ_NOTFOUND || rc == -NLE_NODEV) return nullptr;
    failed(rc);
    throw Error("cannot look up " + name + ": " + describe());
}

int Socket::ifindex(const std::string& name) {
    // A device ioctl on the netlink socket: one syscall where an
    // RTM_GETLINK round trip takes four.
    ifreq ifr{};
    if (name.size() >= sizeof ifr.ifr_name) return 0;
    std::memcpy(ifr.ifr_name, name.c_str(), name.size() + 1);
    if (::ioctl(nl_socket_get_fd(sock_.get()), SIOCGIFINDEX, &ifr) != 0) return 0;
    return ifr.ifr_ifindex;
}

bool Socket::index_in_use(int ifindex) {
    ifreq ifr{};
    ifr.ifr_ifindex = ifindex;
    if (::ioctl(nl_socket_get_fd(sock_.get()), SIOCGIFNAME, &ifr) == 0) return true;
    if (errno == ENODEV) return false;
    throw system_error("cannot look up interface index " + std::to_string(ifindex));
}

std::uint64_t Socket::netns_cookie() {
    std::uint64_t cookie = 0;
    socklen_t len = sizeof cookie;
    if (::getsockopt(nl_socket_get_fd(sock_.get()), SOL_SOCKET, SO_NETNS_COOKIE, &cookie, &len) != 0 ||
        len != sizeof cookie)
        return 0;
    return cookie;
}

bool Socket::name_in_use(const std::string& name) {
    // Never with CAP_NET_ADMIN effective: for a name that no interface has,
    // the kernel would then try to load a module "netdev-NAME".
    ifreq ifr{};
    if (name.size() >= sizeof ifr.ifr_name) return false;
    std::memcpy(ifr.ifr_name, name.c_str(), name.size());
    if (::ioctl(nl_socket_get_fd(sock_.get()), SIOCGIFINDEX, &ifr) == 0) return true;
    if (errno == ENODEV) return false;
    throw system_error("cannot look up interface " + name);
}

std::optional<Socket::AliasedLink> Socket::link(int ifindex) {
    err_ = {};
    rtnl_link* raw = nullptr;
    int rc = rtnl_link_get_kernel(sock_.get(), ifindex, nullptr, &raw);
    if (rc != 0) {
        if (err_.error == ENODEV || rc == -NLE_OBJ_NOTFOUND || rc == -NLE_NODEV) return std::nullopt;
        failed(rc);
        throw Error("cannot look up interface index " + std::to_string(ifindex) + ": " + describe());
    }
    LinkPtr l(raw);
    const char* alias = rtnl_link_get_ifalias(raw);
    const char* name = rtnl_link_get_name(raw);
    return AliasedLink{ifindex, rtnl_link_get_master(raw), name ? name : "", alias ? alias : "",
                       rtnl_link_get_carrier(raw) != 0};
}

int Socket::delete_link(int ifindex) {
    err_ = {};
    LinkPtr link(rtnl_link_alloc());
    if (!link) throw Error("out of memory");
    rtnl_link_set_ifindex(link.get(), ifindex);
    const privileges::NetAdmin raised;
    int rc = rtnl_link_delete(sock_.get(), link.get());
    return rc == 0 ? 0 : failed(rc);
}

int Socket::change_link(int ifindex, rtnl_link* changes) {
    err_ = {};
    LinkPtr orig(rtnl_link_alloc());
    if (!orig) throw Error("out of memory");
    rtnl_link_set_ifindex(orig.get(), ifindex);
    const privileges::NetAdmin raised;
    int rc = rtnl_link_change(sock_.get(), orig.get(), changes, 0);
    return rc == 0 ? 0 : failed(rc);
}

int Socket::request(nl_msg* msg) {
    err_ = {};
    // nl_send_sync frees the message: keep ours for the caller's deleter.
    nlmsg_get(msg);
    const privileges::NetAdmin raised;
    int rc = nl_send_sync(sock_.get(), msg);
    return rc == 0 ? 0 : failed(rc);
}

namespace {

struct AliasQuery {
    std::string prefix;
    std::vector<Socket::AliasedLink> found;
};

int on_tun_link(nl_msg* msg, void* arg) {
    auto* q = static_cast<AliasQuery*>(arg);
    nlattr* tb[IFLA_MAX + 1] = {};
    if (nlmsg_parse(nlmsg_hdr(msg), sizeof(ifinfomsg), tb, IFLA_MAX, nullptr) < 0) return NL_SKIP;
    if (!tb[IFLA_IFALIAS] || !tb[IFLA_IFNAME]) return NL_OK;
    const std::string alias = nla_get_string(tb[IFLA_IFALIAS]);
    if (alias.compare(0, q->prefix.size(), q->prefix) != 0) return NL_OK;
    const auto* ifi = static_cast<const ifinfomsg*>(nlmsg_data(nlmsg_hdr(msg)));
    const int master = tb[IFLA_MASTER] ? static_cast<int>(nla_get_u32(tb[IFLA_MASTER])) : 0;
    const bool carrier = tb[IFLA_CARRIER] && nla_get_u8(tb[IFLA_CARRIER]) != 0;
    q->found.push_back({ifi->ifi_index, master, nla_get_string(tb[IFLA_IFNAME]), alias, carrier});
    return NL_OK;
}

}  // namespace

std::vector<Socket::AliasedLink> Socket::links_with_alias(const std::string& alias_prefix, int master) {
    err_ = {};
    // Only tun devices (and only the bridge's ports, when asked), filtered
    // by the kernel: the dump costs what those cost, not every interface
    // the host has.
    ifinfomsg ifi{};
    ifi.ifi_family = AF_UNSPEC;
    MsgPtr msg(nlmsg_alloc_simple(RTM_GETLINK, NLM_F_DUMP));
    if (!msg || nlmsg_append(msg.get(), &ifi, sizeof ifi, NLMSG_ALIGNTO) < 0) throw Error("out of memory");
    nlattr* info = nla_nest_start(msg.get(), IFLA_LINKINFO);
    if (!info || nla_put_string(msg.get(), IFLA_INFO_KIND, "tun") < 0) throw Error("out of memory");
    nla_nest_end(msg.get(), info);
    if (master && nla_put_u32(msg.get(), IFLA_MASTER, static_cast<std::uint32_t>(master)) < 0)
        throw Error("out of memory");
    AliasQuery q{alias_prefix, {}};
    std::unique_ptr<nl_cb, CbDeleter> base(nl_socket_get_cb(sock_.get()));
    std::unique_ptr<nl_cb, CbDeleter> cb(base ? nl_cb_clone(base.get()) : nullptr);
    if (!cb) throw Error("out of memory");
    nl_cb_set(cb.get(), NL_CB_VALID, NL_CB_CUSTOM, on_tun_link, &q);
    int rc = nl_send_auto(sock_.get(), msg.get());
    if (rc >= 0) rc = nl_recvmsgs(sock_.get(), cb.get());
    if (rc < 0) {
        failed(rc);
        throw Error("cannot list network interfaces: " + describe());
    }
    return std::move(q.found);
}

namespace {
struct BridgeVlanQuery {
    Socket::BridgeVlan result;
    bool seen = false;
};

int on_bridge_link(nl_msg* msg, void* arg) {
    auto* q = static_cast<BridgeVlanQuery*>(arg);
    nlattr* tb[IFLA_MAX + 1] = {};
    if (nlmsg_parse(nlmsg_hdr(msg), sizeof(ifinfomsg), tb, IFLA_MAX, nullptr) < 0) return NL_SKIP;
    q->seen = true;
    if (!tb[IFLA_LINKINFO]) return NL_OK;
    nlattr* info[IFLA_INFO_MAX + 1] = {};
    if (nla_parse_nested(info, IFLA_INFO_MAX, tb[IFLA_LINKINFO], nullptr) < 0 || !info[IFLA_INFO_DATA])
        return NL_OK;
    nlattr* br[IFLA_BR_MAX + 1] = {};
    if (nla_parse_nested(br, IFLA_BR_MAX, info[IFLA_INFO_DATA], nullptr) < 0) return NL_OK;
    if (br[IFLA_BR_VLAN_FILTERING]) q->result.filtering = nla_get_u8(br[IFLA_BR_VLAN_FILTERING]) != 0;
    if (br[IFLA_BR_VLAN_DEFAULT_PVID]) q->result.default_pvid = nla_get_u16(br[IFLA_BR_VLAN_DEFAULT_PVID]);
    return NL_OK;
}
}  // namespace

Socket::BridgeVlan Socket::bridge_vlan(int bridge_ifindex) {
    err_ = {};
    ifinfomsg ifi{};
    ifi.ifi_family = AF_UNSPEC;
    ifi.ifi_index = bridge_ifindex;
    MsgPtr msg(nlmsg_alloc_simple(RTM_GETLINK, 0));
    if (!msg || nlmsg_append(msg.get(), &ifi, sizeof ifi, NLMSG_ALIGNTO) < 0) throw Error("out of memory");
    BridgeVlanQuery q;
    // The clone keeps our error handler; only the reply handler differs.
    std::unique_ptr<nl_cb, CbDeleter> base(nl_socket_get_cb(sock_.get()));
    std::unique_ptr<nl_cb, CbDeleter> cb(base ? nl_cb_clone(base.get()) : nullptr);
    if (!cb) throw Error("out of memory");
    nl_cb_set(cb.get(), NL_CB_VALID, NL_CB_CUSTOM, on_bridge_link, &q);
    int rc = nl_send_auto(sock_.get(), msg.get());
    if (rc >= 0) rc = nl_recvmsgs(sock_.get(), cb.get());
    // The reply comes before the ack libnl asked for: take that too, or
    // the next request would read it as its own answer.
    if (rc >= 0 && q.seen) rc = nl_wait_for_ack(sock_.get());
    if (rc < 0) failed(rc);
    if (rc < 0 || !q.seen)
        throw Error("cannot read the bridge's VLAN settings: " +
                    (rc < 0 ? describe() : std::string("the kernel did not answer for the bridge")));
    return q.result;
}

int Socket::failed(int nl_code) {
    if (err_.error) return err_.error;
    err_.nl_code = nl_code;
    return EIO;
}

std::string Socket::describe() const {
    if (!err_.error) return nl_geterror(err_.nl_code ? err_.nl_code : -NLE_FAILURE);
    std::string s = std::strerror(err_.error);
    if (!err_.message.empty()) s += " (" + err_.message + ")";
    return s;
}

}  // namespace tapgate::netlink
