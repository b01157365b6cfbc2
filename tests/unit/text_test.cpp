// SPDX-License-Identifier: GPL-2.0-or-later
// The text helpers: config-file blanks, and how untrusted text is shown.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "text.hpp"

using namespace tapgate;

TEST_CASE("blanks: spaces, tabs, CR, VT and FF; nothing else") {
    for (char c : {' ', '\t', '\r', '\v', '\f'}) CHECK(text::is_blank(c));
    for (char c : {'\n', '\0', 'a', '#'}) CHECK_FALSE(text::is_blank(c));
    CHECK(text::trim(" \t allow br0\r") == "allow br0");
    CHECK(text::trim(" \t ").empty());
    CHECK(text::split_words("\tallow  br0\v user a,b \r") ==
          std::vector<std::string_view>{"allow", "br0", "user", "a,b"});
    CHECK(text::split_words("  ").empty());
}

TEST_CASE("printable escapes control and non-ASCII bytes and cuts long text") {
    CHECK(text::printable("br0") == "br0");
    CHECK(text::printable("a\nb\x1b[31m") == "a\\x0ab\\x1b[31m");
    CHECK(text::printable("\xff\"\\") == "\\xff\\x22\\x5c");
    CHECK(text::printable(std::string(64, 'a')) == std::string(64, 'a'));
    CHECK(text::printable(std::string(200, 'a')) == std::string(64, 'a') + "...");
}
