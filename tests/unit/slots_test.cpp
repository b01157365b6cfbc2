// SPDX-License-Identifier: GPL-2.0-or-later
// The interface indexes a user's taps get on a bridge (quota::first_slot,
// quota::slot_index): valid indexes for every uid and bridge, and every
// slot of a range in the same chain of the kernel's 256-chain index table.
#include <doctest/doctest.h>

#include <climits>
#include <cstdint>
#include <set>

#include "quota.hpp"

using namespace tapgate;

TEST_CASE("every slot is a valid interface index above the kernel's own counter") {
    for (uid_t uid : {0U, 1U, 1000U, 65534U, 4294967294U, 4294967295U})
        for (int bridge : {1, 2, 1000, (1 << 24) + 5, INT_MAX}) {
            const int first = quota::first_slot(uid, bridge);
            CHECK(first >= (1 << 24));
            const std::int64_t last = quota::slot_index(first, quota::slots - 1);
            CHECK(last > first);
            CHECK(last < quota::unrecorded_first());
        }
}

// A tap made without the lock file takes one of these: none may be a slot.
TEST_CASE("the indexes outside every range are valid and above the last range") {
    CHECK(quota::unrecorded_first() > (1 << 24));
    CHECK(INT_MAX - quota::unrecorded_first() >= 65536);
}

TEST_CASE("a range's slots fall in one chain of the kernel's index table") {
    for (uid_t uid = 1000; uid < 1100; ++uid) {
        const int first = quota::first_slot(uid, 7);
        for (int k = 0; k < quota::slots; ++k) CHECK_EQ(quota::slot_index(first, k) % 256, first % 256);
    }
}

// Sharing is allowed (a tap counts only with its user's alias), but should
// be rare: about 2 million ranges, so 10,000 users share about 24 of them.
TEST_CASE("users on one bridge rarely share a range") {
    std::set<int> firsts;
    for (uid_t uid = 1000; uid < 11000; ++uid) firsts.insert(quota::first_slot(uid, 3));
    CHECK(firsts.size() >= 9900);
}
