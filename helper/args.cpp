// SPDX-License-Identifier: GPL-2.0-or-later
#include "args.hpp"

#include <charconv>
#include <type_traits>

#include "acl.hpp"
#include "error.hpp"
#include "text.hpp"

namespace tapgate::args {

namespace {

// Values arrive as "--opt=VALUE" (QEMU, libvirt) or "--opt VALUE".
std::optional<std::string> take_value(const std::vector<std::string>& argv, std::size_t& i,
                                      const std::string& name) {
    const std::string& arg = argv[i];
    if (arg == name) {
        // "--br --use-vnet" is a missing value, not a bridge named "--use-vnet".
        if (i + 1 >= argv.size() || argv[i + 1].rfind("--", 0) == 0) throw Error(name + " needs a value");
        return argv[++i];
    }
    if (arg.rfind(name + "=", 0) == 0) return arg.substr(name.size() + 1);
    return std::nullopt;
}

// QEMU's "sh -c" form appends its own options after the user's, so the same
// option can come twice; that is fine as long as both say the same thing.
template <typename T>
void set_once(std::optional<T>& slot, const T& value, const std::string& name) {
    if (slot && *slot != value) {
        auto show = [](const auto& v) {
            if constexpr (std::is_same_v<T, std::string>) return text::printable(v);
            else return std::to_string(v);
        };
        throw Error("conflicting values for " + name + ": " + show(*slot) + " and " + show(value));
    }
    slot = value;
}

int parse_fd(const std::string& text) {
    // Plain decimal only: no sign, no spaces, no hex, no trailing junk.
    int fd = -1;
    const char* end = text.data() + text.size();
    auto [ptr, ec] = std::from_chars(text.data(), end, fd);
    if (text.empty() || text.front() < '0' || text.front() > '9' || ec != std::errc() || ptr != end)
        throw Error("--fd=" + text::printable(text) + ": not a file descriptor number");
    if (fd <= 2)
        throw Error("--fd=" + text + ": is standard input, output or error, not the socket from QEMU");
    return fd;
}

}  // namespace

namespace {
void check_bridge_name(const std::string& bridge) {
    if (auto why = acl::invalid_interface_name(bridge))
        throw Error("--br: \"" + text::printable(bridge) + "\" cannot be a bridge name: " + *why);
}
}  // namespace

const char* usage() {
    return "Usage: tapgate [--use-vnet] --br=BRIDGE --fd=FD\n"
           "       tapgate --check [FILE] [--json]\n"
           "       tapgate --explain --br=BRIDGE [--user=USER] [--json]\n"
           "       tapgate --list [--json]\n"
           "       tapgate --remove=TAP | --remove-unused\n"
           "       tapgate --help | --version\n"
           "\n"
           "Creates a tap device, attaches it to BRIDGE if the ACL allows it, and\n"
           "passes it over the unix socket FD (the QEMU/libvirt bridge helper\n"
           "protocol). --check parses an ACL or settings file and reports every\n"
           "problem; --explain shows the decision and settings for BRIDGE and why;\n"
           "--list shows the taps tapgate made (your own; root: all); --remove\n"
           "(root) removes one of them, --remove-unused those no process holds.\n";
}

Options parse(const std::vector<std::string>& argv) {
    Options o;
    bool check = false, explain = false, list = false;
    // argv[0] may be missing altogether (argc == 0).
    for (std::size_t i = argv.empty() ? 0 : 1; i < argv.size(); ++i) {
        const std::string& arg = argv[i];
        if (arg == "--use-vnet") {
            o.use_vnet = true;
        } else if (arg == "--help" || arg == "-h") {
            o.mode = Mode::help;
            return o;
        } else if (arg == "--version") {
            o.mode = Mode::version;
            return o;
        } else if (arg == "--check") {
            check = true;
            if (i + 1 < argv.size() && argv[i + 1].rfind("--", 0) != 0)
                set_once(o.check_file, argv[++i], "--check");
        } else if (arg == "--explain") {
            explain = true;
        } else if (arg == "--list") {
            list = true;
        } else if (arg == "--json") {
            o.json = true;
        } else if (arg == "--remove-unused") {
            o.remove_unused = true;
        } else if (auto tap = take_value(argv, i, "--remove")) {
            set_once(o.remove, *tap, "--remove");
        } else if (auto user = take_value(argv, i, "--user")) {
            set_once(o.user, *user, "--user");
        } else if (auto br = take_value(argv, i, "--br")) {
            set_once(o.bridge, *br, "--br");
        } else if (auto fd = take_value(argv, i, "--fd")) {
            set_once(o.fd, parse_fd(*fd), "--fd");
        } else {
            throw Error("unknown option \"" + text::printable(arg) + "\" (see tapgate --help)");
        }
    }
    const bool remove = o.remove || o.remove_unused;
    if (check + explain + list + remove > 1 || (o.remove && o.remove_unused))
        throw Error("--check, --explain, --list, --remove and --remove-unused go alone");
    if (o.user && !explain) throw Error("--user goes with --explain");
    if (o.json && !(check || explain || list)) throw Error("--json goes with --check, --explain or --list");
    if (remove) {
        if (o.bridge || o.fd || o.use_vnet) throw Error("--remove and --remove-unused take nothing else");
        if (o.remove) {
            if (auto why = acl::invalid_interface_name(*o.remove))
                throw Error("--remove: \"" + text::printable(*o.remove) + "\" cannot be an interface name: " + *why);
        }
        o.mode = Mode::remove;
        return o;
    }
    if (check) {
        if (o.bridge || o.fd) throw Error("--check does not take --br or --fd");
        o.mode = Mode::check;
        return o;
    }
    if (list) {
        if (o.bridge || o.fd) throw Error("--list does not take --br or --fd");
        o.mode = Mode::list;
        return o;
    }
    if (explain) {
        if (o.fd) throw Error("--explain does not take --fd");
        if (!o.bridge) throw Error("--explain needs --br=BRIDGE");
        check_bridge_name(*o.bridge);
        o.mode = Mode::explain;
        return o;
    }
    if (!o.bridge) throw Error("missing --br=BRIDGE (see tapgate --help)");
    if (!o.fd) throw Error("missing --fd=FD (see tapgate --help)");
    check_bridge_name(*o.bridge);
    return o;
}

}  // namespace tapgate::args
