// SPDX-License-Identifier: GPL-2.0-or-later
#include "quota.hpp"

#include <fcntl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstring>

#include "config.h"
#include "error.hpp"

namespace tapgate::quota {

namespace {
constexpr std::string_view prefix = "tapgate uid=";

std::string_view field(std::string_view alias, std::string_view key) {
    auto at = alias.find(key);
    if (at == std::string_view::npos) return {};
    auto value = alias.substr(at + key.size());
    return value.substr(0, value.find(' '));
}
}  // namespace

std::string alias_for(uid_t uid, unsigned vlan, const std::vector<gid_t>& groups, std::time_t made) {
    std::string a = std::string(prefix) + std::to_string(uid);
    if (vlan) a += " vlan=" + std::to_string(vlan);
    for (std::size_t i = 0; i < groups.size(); ++i) a += (i ? "," : " groups=") + std::to_string(groups[i]);
    return a + " made=" + std::to_string(made);
}

std::vector<gid_t> groups_of(const std::string& alias) {
    std::vector<gid_t> out;
    std::string_view v = field(alias, " groups=");
    while (!v.empty()) {
        gid_t gid = 0;
        auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), gid);
        if (ec != std::errc()) break;
        out.push_back(gid);
        v.remove_prefix(static_cast<std::size_t>(p - v.data()));
        if (v.empty() || v.front() != ',') break;
        v.remove_prefix(1);
    }
    return out;
}

std::time_t made_of(const std::string& alias) {
    std::string_view v = field(alias, " made=");
    long long t = 0;
    std::from_chars(v.data(), v.data() + v.size(), t);
    return static_cast<std::time_t>(t);
}

long uid_of(const std::string& alias) {
    if (alias.rfind(prefix, 0) != 0) return -1;
    std::string_view v = field(alias, prefix);
    unsigned long uid = 0;
    auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), uid);
    if (v.empty() || ec != std::errc() || p != v.data() + v.size() || uid > 0xffffffffUL) return -1;
    return static_cast<long>(uid);
}

unsigned vlan_of(const std::string& alias) {
    std::string_view v = field(alias, " vlan=");
    unsigned vlan = 0;
    std::from_chars(v.data(), v.data() + v.size(), vlan);
    return vlan;
}

namespace {

// Only a file nobody else can open keeps users from holding the lock.
std::string unusable_lock_file(const struct stat& st) {
    if (!S_ISREG(st.st_mode)) return "not a regular file";
    if (st.st_uid != 0) return "owned by uid " + std::to_string(st.st_uid) + ", not root";
    if ((st.st_mode & 077) != 0) {
        char mode[8];
        std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
        return std::string("open to group or others (mode ") + mode + ")";
    }
    return {};
}

}  // namespace

UniqueFd open_lock_file() {
    UniqueFd fd(::open(TAPGATE_LOCK_FILE, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600));
    // Out of file descriptors or memory, which a caller can arrange
    // (RLIMIT_NOFILE): that must not make taps that no record covers.
    if (!fd && (errno == EMFILE || errno == ENFILE || errno == ENOMEM))
        throw system_error(std::string("cannot open ") + TAPGATE_LOCK_FILE);
    if (!fd) return fd;
    // A caller's RLIMIT_FSIZE would cut a record's write short (a write
    // that starts below it stops there, without a signal). Lifted where
    // root may (with CAP_SYS_RESOURCE), but the caller can set it again
    // once tapgate runs as the caller: what protects a record is its
    // check, which a write cut short leaves wrong.
    const rlimit unlimited{RLIM_INFINITY, RLIM_INFINITY};
    (void)::setrlimit(RLIMIT_FSIZE, &unlimited);
    struct stat st{};
    if (::fstat(fd.get(), &st) != 0 || !unusable_lock_file(st).empty()) return UniqueFd();
    // A setuid process creates files with the caller's gid; root's file
    // should not carry the first caller's group (harmless at 0600, but
    // misleading to an admin reading ls -l).
    if (st.st_gid != 0 && ::fchown(fd.get(), 0, 0) != 0) {
        // Ignored: the mode keeps everyone else out either way.
    }
    return fd;
}

std::string lock_file_problem() {
    if (::geteuid() != 0) return "tapgate is not running as root (quotas need it installed setuid root)";
    UniqueFd fd(::open(TAPGATE_LOCK_FILE, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
    if (!fd) return errno == ENOENT ? std::string() : std::string("cannot open it: ") + std::strerror(errno);
    struct stat st{};
    if (::fstat(fd.get(), &st) != 0) return std::string("cannot stat it: ") + std::strerror(errno);
    return unusable_lock_file(st);
}

namespace {
struct flock byte_at(off_t offset, short type) {
    struct flock l{};
    l.l_type = type;
    l.l_whence = SEEK_SET;
    l.l_start = offset;
    l.l_len = 1;
    return l;
}
}  // namespace

off_t user_byte(uid_t uid) { return static_cast<off_t>(uid); }
off_t group_byte(gid_t gid) { return (off_t{1} << 32) + static_cast<off_t>(gid); }

Lock::Lock(int lock_fd, off_t byte) : fd_(lock_fd), byte_(byte) {
    if (fd_ < 0)
        throw Error(std::string("a tap quota applies, but the lock file ") + TAPGATE_LOCK_FILE +
                    " cannot be used (quotas need tapgate installed setuid root)");
    struct flock l = byte_at(byte_, F_WRLCK);
    while (::fcntl(fd_, F_OFD_SETLKW, &l) != 0) {
        if (errno != EINTR) throw system_error(std::string("cannot lock ") + TAPGATE_LOCK_FILE);
    }
}

Lock::~Lock() {
    struct flock l = byte_at(byte_, F_UNLCK);
    ::fcntl(fd_, F_OFD_SETLK, &l);
}

namespace {
// A range spans slots * slot_stride indexes; ranges start from 2^24 up
// (above the kernel's own counter on any host that has not made millions
// of interfaces), and the last ends below 2^31 (an index is a positive
// int). Within a range, the offset picks the residue modulo the stride.
constexpr std::uint64_t range_base = std::uint64_t{1} << 24;
constexpr std::uint64_t span = std::uint64_t{slots} * slot_stride;
constexpr std::uint64_t ranges = ((std::uint64_t{1} << 31) - range_base) / span - 1;

// Each user has four records of 32 bytes in the lock file, from byte
// uid * 128, one per bridge (by its index modulo 4; bridges that share one
// take turns, each record naming its bridge), in the host's byte order
// (the file lives in /run and dies with the host). A check over the rest,
// written last, makes a record cut short read as none. Their lock is one
// byte above the groups' (2^33 + uid): only the user's own requests take
// it, so a user who stops a helper that holds it blocks no one else.
struct Record {
    std::uint64_t netns;
    std::int32_t bridge;
    std::uint32_t bound;
    std::uint64_t check;
    std::uint64_t unused;
};
static_assert(sizeof(Record) == 32);

// A 64-bit mix (MurmurHash3's finalizer): every input bit moves every
// output bit.
std::uint64_t mix(std::uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

std::uint64_t check_of(const Record& r) {
    return mix(mix(r.netns) ^ (std::uint64_t{static_cast<std::uint32_t>(r.bridge)} << 32 | r.bound));
}

constexpr int records_per_user = 4;
off_t record_at(uid_t uid, int bridge_ifindex) {
    return static_cast<off_t>((std::uint64_t{uid} * records_per_user +
                               static_cast<std::uint64_t>(bridge_ifindex) % records_per_user) *
                              sizeof(Record));
}
off_t record_byte(uid_t uid) { return (off_t{1} << 33) + static_cast<off_t>(uid); }
}  // namespace

int first_slot(uid_t uid, int bridge_ifindex) {
    const std::uint64_t x = mix((std::uint64_t{uid} << 32) | static_cast<std::uint32_t>(bridge_ifindex));
    const std::uint64_t range = (x >> 8) % ranges;
    const std::uint64_t offset = x % slot_stride;
    return static_cast<int>(range_base + range * span + offset);
}

int slot_index(int first, int k) { return first + k * slot_stride; }

int unrecorded_first() { return static_cast<int>(range_base + ranges * span); }

namespace {

// Whether the interface in a used slot is the user's: its alias names the
// user and it is a port of the bridge (another user's range can share the
// hash, and only root can change either).
bool mine(netlink::Socket& nl, int index, uid_t uid, int bridge_ifindex) {
    auto l = nl.link(index);
    return l && l->master == bridge_ifindex && uid_of(l->alias) == static_cast<long>(uid);
}

}  // namespace

Slots::Slots(int lock_fd, netlink::Socket& nl, uid_t uid, int bridge_ifindex)
    : fd_(lock_fd), nl_(nl), uid_(uid), bridge_(bridge_ifindex), first_(first_slot(uid, bridge_ifindex)) {
    if (fd_ < 0) return;
    lock_.emplace(fd_, record_byte(uid_));
    netns_ = nl_.netns_cookie();
    Record r{};
    if (::pread(fd_, &r, sizeof r, record_at(uid_, bridge_)) != static_cast<ssize_t>(sizeof r)) return;
    if (netns_ != 0 && r.netns == netns_ && r.bridge == bridge_ && r.bound <= static_cast<std::uint32_t>(slots) &&
        r.check == check_of(r))
        bound_ = static_cast<int>(r.bound);
}

Slots::~Slots() = default;

int Slots::probe_limit() const { return bound_ < 0 ? slots : bound_; }

bool Slots::record(int bound) {
    if (fd_ < 0 || netns_ == 0 || bound == bound_) return true;
    Record r{netns_, bridge_, static_cast<std::uint32_t>(bound), 0, 0};
    r.check = check_of(r);
    if (::pwrite(fd_, &r, sizeof r, record_at(uid_, bridge_)) != static_cast<ssize_t>(sizeof r)) return false;
    bound_ = bound;
    return true;
}

unsigned Slots::count(unsigned enough) {
    unsigned n = 0;
    int used = 0;  // one past the highest slot in use
    const int limit = probe_limit();
    int k = 0;
    for (; k < limit && n < enough; ++k) {
        const int index = slot_index(first_, k);
        if (!nl_.index_in_use(index)) continue;
        used = k + 1;
        if (mine(nl_, index, uid_, bridge_)) ++n;
    }
    // Every slot that may be in use was looked at, under the record's lock:
    // what was found is the record now, lower after taps went away. Any
    // interface counts as use, not only the user's taps: one made by a
    // request still on its way to the bridge must stay covered. Only a
    // hint: if it cannot be written (/run full), the record stays as it
    // was, or none.
    if (k == limit) (void)record(used);
    return n;
}

std::vector<int> Slots::free(std::size_t wanted) {
    std::vector<int> out;
    if (fd_ < 0) {
        // Outside every range, so no record can be wrong about them.
        const std::uint32_t first = static_cast<std::uint32_t>(unrecorded_first());
        const std::uint32_t size = (std::uint32_t{1} << 31) - first;
        for (int tries = 0; tries < 64 && out.size() < wanted; ++tries) {
            std::uint32_t r = 0;
            if (::getrandom(&r, sizeof r, GRND_NONBLOCK) != sizeof r) r = static_cast<std::uint32_t>(tries) * 7919U;
            const int index = static_cast<int>(first + r % size);
            if (!nl_.index_in_use(index)) out.push_back(index);
        }
        return out;
    }
    int used = bound_;
    for (int k = 0; k < slots && out.size() < wanted; ++k) {
        const int index = slot_index(first_, k);
        if (nl_.index_in_use(index)) continue;
        out.push_back(index);
        used = std::max(used, k + 1);
    }
    // Raised before the tap can exist; a record that was about another
    // namespace (or none) stays so, and the next count looks at every slot.
    if (bound_ >= 0 && !record(used)) throw system_error(std::string("cannot write to ") + TAPGATE_LOCK_FILE);
    return out;
}

unsigned count(netlink::Socket& nl, uid_t uid, int bridge_ifindex) {
    return Slots(-1, nl, uid, bridge_ifindex).count();
}

unsigned count_group(netlink::Socket& nl, gid_t gid, int bridge_ifindex) {
    unsigned n = 0;
    for (const auto& l : nl.links_with_alias(std::string(prefix), bridge_ifindex)) {
        if (l.master != bridge_ifindex || uid_of(l.alias) < 0) continue;
        const auto groups = groups_of(l.alias);
        if (std::find(groups.begin(), groups.end(), gid) != groups.end()) ++n;
    }
    return n;
}

}  // namespace tapgate::quota
