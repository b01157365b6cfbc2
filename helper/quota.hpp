// SPDX-License-Identifier: GPL-2.0-or-later
// Quotas: how many taps a user holds on a bridge, counted from kernel state
// (the interface alias tapgate gives each tap, which only a CAP_NET_ADMIN
// holder can change), under a per-user lock held from counting to
// attaching. No count is stored, so nothing drifts and nothing leaks on a
// crash; the lock file keeps only a hint of where to look (Slots).
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <ctime>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "netlink.hpp"
#include "unique_fd.hpp"

namespace tapgate::quota {

// The alias that marks a tap as made by tapgate for `uid`. The tun owner
// cannot serve: whoever holds the fd can change it (TUNSETOWNER) without
// privilege.
// It also says when the tap was made (made=SECONDS since the epoch), for
// --list.
// The groups whose total quota counted the tap follow (groups=GID,...).
std::string alias_for(uid_t uid, unsigned vlan, const std::vector<gid_t>& groups, std::time_t made);
// The uid in such an alias, or -1.
long uid_of(const std::string& alias);
// The VLAN in such an alias, or 0.
unsigned vlan_of(const std::string& alias);
// When the tap was made, from such an alias, or 0.
std::time_t made_of(const std::string& alias);
// The groups in such an alias.
std::vector<gid_t> groups_of(const std::string& alias);

// Opens the lock file (created root:root 0600 if missing). Must run while
// the process is still root: users cannot open it, so they cannot hold the
// lock from outside. Returns an invalid fd when it cannot be opened (a
// helper installed with a file capability instead of setuid root); a
// request that needs a quota then fails. Throws tapgate::Error when the
// process is out of file descriptors or memory. Lifts RLIMIT_FSIZE.
UniqueFd open_lock_file();

// For --explain, while still root and without creating anything: why a
// request that needs a quota could not use the lock file, or empty if it
// could (a missing file is created by the first request).
std::string lock_file_problem();

// An OFD lock on one byte of the lock file, held from counting until the
// tap is on the bridge. Each user and each group total has its own byte,
// so a user who stops their own helper while it holds a lock blocks only
// requests that count the same taps. Released by the kernel when the
// process dies. A request takes its user's lock first, then its groups'
// by ascending gid: one order for all, so two requests never wait for
// each other in a circle.
class Lock {
public:
    Lock(int lock_fd, off_t byte);  // throws tapgate::Error
    ~Lock();
    Lock(const Lock&) = delete;
    Lock& operator=(const Lock&) = delete;

private:
    int fd_;
    off_t byte_;
};
// The byte of a user (its uid) and of a group total (2^32 + gid, above
// every uid's).
off_t user_byte(uid_t uid);
off_t group_byte(gid_t gid);

// Where a user's taps on a bridge live: the helper gives each tap its
// interface index (tap::create), from 1024 slots of a range picked by a
// hash of the uid and the bridge's index. Counting a user's taps then looks
// at those slots alone, at the same cost however many interfaces the host
// or the bridge has (a bridge holds at most 1023 ports). Another user's
// range may share the hash: a tap counts only if it carries the user's
// alias and is a port of the bridge.
inline constexpr int slots = 1024;
// The slots are every 256th index: the kernel finds an interface by its
// index in a table of 256 chains (index modulo 256), so probing a user's
// slots walks one chain over and over, which stays in the cache, instead
// of every chain once, whose length grows with the host's interfaces
// (1024 probes: 0.47 ms with none, 1.2 to 2 ms with 6000; 0.48 ms with
// this stride).
inline constexpr int slot_stride = 256;
int first_slot(uid_t uid, int bridge_ifindex);
// Slot k (0 <= k < slots) of the range that starts at `first`.
int slot_index(int first, int k);

// Indexes from here to the largest belong to no range: a tap made without
// the lock file takes one of them (see Slots).
int unrecorded_first();

// A user's slots on a bridge, with their record in the lock file: how many
// of them, from the first, may be in use in this network namespace. Every
// tap made with the lock file raises the record before it exists, and a
// count that looked at every slot that may be in use sets it to what it
// found, so counting probes the slots a user has used lately instead of
// all 1024 (0.45 ms). A record names its network namespace by its cookie
// (indexes are per namespace) and its bridge; a record about another one,
// or none (a new lock file), means that every slot is looked at, so a
// record can be too high but never too low.
// Only a tapgate holding the lock file can keep records true, so one
// without it (installed with a file capability; the file unusable) gives
// its taps indexes outside every range: a user's quota never counts them
// (a group total, which reads the bridge's ports, does).
// The record's lock is one only the user's own requests take. It is held
// from reading the record until the count is done or the tap exists, and
// never while waiting for another lock: a count takes and releases it
// before the group locks, and the tap is made after them.
class Slots {
public:
    // With lock_fd < 0: no record, no lock. Throws tapgate::Error.
    Slots(int lock_fd, netlink::Socket& nl, uid_t uid, int bridge_ifindex);
    ~Slots();
    Slots(const Slots&) = delete;
    Slots& operator=(const Slots&) = delete;

    // Taps on the bridge that tapgate made for the user, persistent ones
    // included. With `enough`, stops once that many are found: a quota is
    // reached, and the rest does not matter.
    unsigned count(unsigned enough = std::numeric_limits<unsigned>::max());

    // Up to `wanted` free slots, lowest first, recorded as in use before
    // they are returned; without the lock file, free indexes outside every
    // range, at random.
    std::vector<int> free(std::size_t wanted);

private:
    int probe_limit() const;
    // Whether the record now says `bound`.
    bool record(int bound);

    std::optional<Lock> lock_;
    int fd_;
    netlink::Socket& nl_;
    uid_t uid_;
    int bridge_;
    int first_;
    std::uint64_t netns_ = 0;
    int bound_ = -1;  // from the record; -1: unknown, every slot may be in use
};

// The same count without the lock file (for --explain): every slot.
unsigned count(netlink::Socket& nl, uid_t uid, int bridge_ifindex);

// Taps on the bridge that a group total of `gid` counted when they were
// made, persistent ones included. A group's taps have no slots of their
// own (each lives in its user's): this reads the bridge's tun ports, which
// the kernel filters, at a cost that grows with the bridge's ports.
unsigned count_group(netlink::Socket& nl, gid_t gid, int bridge_ifindex);

}  // namespace tapgate::quota
