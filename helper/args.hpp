// SPDX-License-Identifier: GPL-2.0-or-later
// Command line: QEMU's and libvirt's helper protocol, plus tapgate's own
// modes. Pure parsing: nothing here touches the system.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace tapgate::args {

enum class Mode { helper, check, explain, list, remove, help, version };

struct Options {
    Mode mode = Mode::helper;
    bool use_vnet = false;
    std::optional<std::string> bridge;
    std::optional<int> fd;
    std::optional<std::string> check_file;  // --check FILE
    std::optional<std::string> user;        // --explain --user NAME
    bool json = false;                      // --json, with --check, --explain, --list
    std::optional<std::string> remove;      // --remove TAP
    bool remove_unused = false;             // --remove-unused
};

// Throws tapgate::Error naming the offending argument. Also validates what
// the helper mode needs (--br and --fd present, bridge name valid).
Options parse(const std::vector<std::string>& argv);

const char* usage();

}  // namespace tapgate::args
