// SPDX-License-Identifier: GPL-2.0-or-later
#include "wire.hpp"

#include "acl.hpp"
#include "error.hpp"
#include "text.hpp"

namespace tapgate::wire {

namespace {
constexpr std::string_view magic = "tapgate/1";
}

std::string encode(const Request& r) {
    std::string line(magic);
    line += r.explain ? " explain " : r.use_vnet ? " tap vnet " : " tap novnet ";
    return line + r.bridge + "\n";
}

Request decode(std::string_view line) {
    if (line.size() > max_request) throw Error("request longer than " + std::to_string(max_request) + " bytes");
    if (line.empty() || line.back() != '\n') throw Error("request not ended by a newline");
    line.remove_suffix(1);
    // Single spaces between exactly the words expected: the format leaves
    // nothing to interpret.
    std::vector<std::string_view> words;
    for (std::size_t start = 0;;) {
        std::size_t space = line.find(' ', start);
        words.push_back(line.substr(start, space - start));
        if (space == std::string_view::npos) break;
        start = space + 1;
    }
    Request r;
    const bool tap = words.size() == 4 && words[1] == "tap";
    const bool explain = words.size() == 3 && words[1] == "explain";
    if (words.front() != magic || !(tap || explain)) throw Error("malformed request \"" + text::printable(line) + "\"");
    if (tap && words[2] != "vnet" && words[2] != "novnet")
        throw Error("malformed request \"" + text::printable(line) + "\"");
    r.explain = explain;
    r.use_vnet = tap && words[2] == "vnet";
    r.bridge = std::string(words.back());
    if (auto why = acl::invalid_interface_name(r.bridge))
        throw Error("\"" + text::printable(r.bridge) + "\" cannot be a bridge name: " + *why);
    return r;
}

std::string encode(const Reply& r) {
    switch (r.kind) {
    case Reply::Kind::ok: return "ok\n";
    case Reply::Kind::refused: return "refused " + r.text + "\n";
    case Reply::Kind::declined: return "declined " + r.text + "\n";
    case Reply::Kind::explain: return "explain " + std::to_string(r.status) + "\n" + r.text;
    }
    return {};
}

Reply decode_reply(std::string_view text) {
    Reply r;
    const std::size_t nl = text.find('\n');
    if (nl == std::string_view::npos) throw Error("the service's reply is cut short");
    const std::string_view first = text.substr(0, nl);
    if (first == "ok" && nl + 1 == text.size()) {
        r.kind = Reply::Kind::ok;
    } else if (first.substr(0, 8) == "refused " && nl + 1 == text.size()) {
        r.kind = Reply::Kind::refused;
        r.text = std::string(first.substr(8));
    } else if (first.substr(0, 9) == "declined " && nl + 1 == text.size()) {
        r.kind = Reply::Kind::declined;
        r.text = std::string(first.substr(9));
    } else if (first == "explain 0" || first == "explain 1") {
        r.kind = Reply::Kind::explain;
        r.status = first.back() - '0';
        r.text = std::string(text.substr(nl + 1));
    } else {
        throw Error("the service's reply makes no sense: \"" + text::printable(first) + "\"");
    }
    return r;
}

}  // namespace tapgate::wire
