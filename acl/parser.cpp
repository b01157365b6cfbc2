// SPDX-License-Identifier: GPL-2.0-or-later
#include "acl.hpp"

#include <algorithm>
#include <cstring>

#include "text.hpp"

namespace tapgate::acl {

namespace {

class FileParser {
public:
    FileParser(Source& source, const std::string& file, int depth,
               std::vector<std::pair<std::uint64_t, std::uint64_t>>& stack, Policy& out,
               Directory* directory)
        : source_(source), file_(file), depth_(depth), stack_(stack), out_(out),
          directory_(directory) {}

    void parse(std::string_view text) {
        unsigned line_no = 0;
        while (!text.empty()) {
            ++line_no;
            auto nl = text.find('\n');
            std::string_view line = text.substr(0, nl);
            text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
            parse_line(line, line_no);
        }
    }

private:
    void error(unsigned line, std::string message) {
        out_.errors.push_back({{file_, line}, std::move(message)});
    }

    void parse_line(std::string_view line, unsigned line_no) {
        if (line.find('\0') != std::string_view::npos) {
            error(line_no, "NUL byte in line");
            return;
        }
        std::string_view body = text::trim(line);
        if (body.empty() || body.front() == '#') return;

        auto words = text::split_words(body);
        std::string_view command = words.front();
        if (command == "allow" || command == "deny") {
            parse_rule(command == "allow" ? Action::allow : Action::deny, words, line_no);
        } else if (command == "include") {
            parse_include(text::trim(body.substr(command.size())), line_no);
        } else {
            error(line_no, "unknown command \"" + text::printable(command) +
                               "\" (expected allow, deny or include)");
        }
    }

    void parse_rule(Action action, const std::vector<std::string_view>& words, unsigned line_no) {
        std::string_view command = words.front();
        if (words.size() < 2) {
            error(line_no, std::string(command) + ": missing bridge name or \"all\"");
            return;
        }
        Rule rule;
        rule.action = action;
        rule.where = {file_, line_no};
        if (words[1] == "all") {
            rule.all = true;
        } else if (auto why = invalid_interface_name(words[1])) {
            error(line_no, std::string(command) + ": \"" + text::printable(words[1]) +
                               "\" cannot be a bridge name: " + *why);
            return;
        } else {
            rule.bridge = std::string(words[1]);
        }
        // Qualifiers: pairs of "user"/"group" and a comma-separated list.
        for (std::size_t i = 2; i < words.size(); i += 2) {
            std::string_view kind = words[i];
            if (kind != "user" && kind != "group") {
                error(line_no, std::string(command) + ": unexpected \"" + text::printable(kind) +
                                   "\" after \"" + text::printable(words[i - 1]) +
                                   "\" (one bridge name or \"all\" per line, then optionally "
                                   "\"user NAME,...\" or \"group NAME,...\")");
                return;
            }
            if (i + 1 >= words.size()) {
                error(line_no, std::string(command) + ": " + std::string(kind) +
                                   ": missing name");
                return;
            }
            if (!parse_principals(kind == "user", words[i + 1], rule, line_no)) return;
        }
        out_.rules.push_back(std::move(rule));
    }

    bool parse_principals(bool user, std::string_view list, Rule& rule, unsigned line_no) {
        const char* kind = user ? "user" : "group";
        auto& into = user ? rule.users : rule.groups;
        const std::string_view whole = list;
        for (;;) {
            auto comma = list.find(',');
            std::string name(list.substr(0, comma));
            if (name.empty()) {
                error(line_no, std::string(kind) + ": empty name in \"" + text::printable(whole) + "\"");
                return false;
            }
            if (!directory_) {
                error(line_no, std::string(kind) + " " + text::printable(name) +
                                   ": user and group rules need a user database");
                return false;
            }
            auto id = user ? directory_->user_id(name) : directory_->group_id(name);
            if (!id) {
                // Only what this rule could decide is closed.
                out_.closures.push_back({{{file_, line_no}, std::string("unknown ") + kind + " \"" +
                                                              text::printable(name) + "\""},
                                         rule.all,
                                         rule.bridge});
                return false;
            }
            into.push_back({name, *id});
            if (comma == std::string_view::npos) return true;
            list.remove_prefix(comma + 1);
        }
    }

    void parse_include(std::string_view path, unsigned line_no) {
        if (path.empty()) {
            error(line_no, "include: missing file name");
            return;
        }
        std::string resolved = resolve_include(file_, std::string(path));
        if (++out_.includes > max_includes) {
            // Once is enough: the policy has failed, and every include line
            // still to come would repeat it.
            if (out_.includes == max_includes + 1)
                error(line_no, "include " + text::printable(resolved) + ": more than " +
                                   std::to_string(max_includes) +
                                   " includes in all (the same files included many times?)");
            return;
        }
        if (depth_ + 1 > max_include_depth) {
            error(line_no, "include " + text::printable(resolved) + ": nested more than " +
                               std::to_string(max_include_depth) + " levels deep");
            return;
        }
        FileContent content = source_.read(resolved);
        switch (content.status) {
        case FileContent::Status::not_accessible:
            out_.skipped.push_back({{file_, line_no}, resolved, content.error});
            return;
        case FileContent::Status::refused:
            error(line_no, "include " + text::printable(resolved) + ": " + content.reason);
            return;
        case FileContent::Status::ok:
            break;
        }
        if (std::find(stack_.begin(), stack_.end(), content.id) != stack_.end()) {
            error(line_no, "include " + text::printable(resolved) +
                               ": include cycle (the file is already being read)");
            return;
        }
        stack_.push_back(content.id);
        parse_text(source_, content.text, resolved, depth_ + 1, stack_, out_, directory_);
        stack_.pop_back();
    }

    Source& source_;
    const std::string& file_;
    int depth_;
    std::vector<std::pair<std::uint64_t, std::uint64_t>>& stack_;
    Policy& out_;
    Directory* directory_;
};

}  // namespace

std::string Location::str() const {
    return line ? file + ":" + std::to_string(line) : file;
}

std::string Diagnostic::str() const {
    return where.str() + ": " + message;
}

std::optional<std::string> invalid_interface_name(std::string_view name) {
    if (name.empty()) return "empty";
    if (name.size() > max_ifname_length)
        return std::to_string(name.size()) + " characters, at most " +
               std::to_string(max_ifname_length);
    if (name == "." || name == "..") return "\".\" and \"..\" are not allowed";
    for (char c : name) {
        if (c == '/' || c == ':') return std::string("contains '") + c + "'";
        if (c == '\0') return "contains a NUL byte";
        // The kernel's dev_valid_name() rejects isspace() characters.
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f')
            return "contains whitespace";
    }
    return std::nullopt;
}

std::string directory_of(const std::string& path) {
    auto slash = path.rfind('/');
    if (slash == std::string::npos) return ".";
    if (slash == 0) return "/";
    return path.substr(0, slash);
}

std::string resolve_include(const std::string& including_file, const std::string& path) {
    if (!path.empty() && path.front() == '/') return path;
    std::string dir = directory_of(including_file);
    return dir == "/" ? "/" + path : dir + "/" + path;
}

void parse_text(Source& source, std::string_view text, const std::string& file, int depth,
                std::vector<std::pair<std::uint64_t, std::uint64_t>>& stack, Policy& out,
                Directory* directory) {
    FileParser(source, file, depth, stack, out, directory).parse(text);
}

Policy load(Source& source, const std::string& main_file, Directory* directory) {
    Policy policy;
    policy.main_file = main_file;
    FileContent content = source.read(main_file);
    switch (content.status) {
    case FileContent::Status::not_accessible:
        policy.errors.push_back(
            {{main_file, 0}, std::string("cannot open: ") + std::strerror(content.error)});
        return policy;
    case FileContent::Status::refused:
        policy.errors.push_back({{main_file, 0}, content.reason});
        return policy;
    case FileContent::Status::ok:
        break;
    }
    std::vector<std::pair<std::uint64_t, std::uint64_t>> stack{content.id};
    parse_text(source, content.text, main_file, 0, stack, policy, directory);
    return policy;
}

}  // namespace tapgate::acl
