// SPDX-License-Identifier: GPL-2.0-or-later
// Text helpers shared by the policy library and the program: the blanks of
// tapgate's config files, and the one way untrusted text is shown.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace tapgate::text {

// Blanks in tapgate's config files (bridge.conf, tapgate.conf): spaces and
// tabs, and CR, VT and FF so that CRLF files read correctly.
bool is_blank(char c);
std::string_view trim(std::string_view s);
std::vector<std::string_view> split_words(std::string_view s);

// Text from config files and command lines ends up in terminals, logs and
// dialogs: shows anything that is not printable ASCII (and '"', '\\') as
// \xNN, cut to 64 characters.
std::string printable(std::string_view s);

}  // namespace tapgate::text
