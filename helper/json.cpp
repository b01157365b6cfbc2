// SPDX-License-Identifier: GPL-2.0-or-later
#include "json.hpp"

namespace tapgate::json {

Writer::~Writer() {
    if (first_.empty()) std::fputc('\n', out_);
}

void Writer::comma() {
    if (after_key_) {
        after_key_ = false;
        return;
    }
    if (first_.empty()) return;
    if (!first_.back()) std::fputc(',', out_);
    first_.back() = false;
}

void Writer::string(std::string_view s) {
    std::fputc('"', out_);
    for (unsigned char c : s) {
        switch (c) {
        case '"': std::fputs("\\\"", out_); break;
        case '\\': std::fputs("\\\\", out_); break;
        case '\n': std::fputs("\\n", out_); break;
        case '\t': std::fputs("\\t", out_); break;
        default:
            // Control bytes, and bytes that are not ASCII (interface names
            // and files may hold anything, UTF-8 or not), as \u00XX: the
            // output stays ASCII and valid JSON.
            if (c < 0x20 || c >= 0x7f) std::fprintf(out_, "\\u%04x", c);
            else std::fputc(c, out_);
        }
    }
    std::fputc('"', out_);
}

Writer& Writer::object() {
    comma();
    std::fputc('{', out_);
    first_.push_back(true);
    return *this;
}

Writer& Writer::array() {
    comma();
    std::fputc('[', out_);
    first_.push_back(true);
    return *this;
}

Writer& Writer::end_object() {
    first_.pop_back();
    std::fputc('}', out_);
    return *this;
}

Writer& Writer::end_array() {
    first_.pop_back();
    std::fputc(']', out_);
    return *this;
}

Writer& Writer::key(std::string_view k) {
    comma();
    string(k);
    std::fputc(':', out_);
    after_key_ = true;
    return *this;
}

Writer& Writer::value(std::string_view s) {
    comma();
    string(s);
    return *this;
}

Writer& Writer::number(std::int64_t n) {
    comma();
    std::fprintf(out_, "%lld", static_cast<long long>(n));
    return *this;
}

Writer& Writer::boolean(bool b) {
    comma();
    std::fputs(b ? "true" : "false", out_);
    return *this;
}

Writer& Writer::null() {
    comma();
    std::fputs("null", out_);
    return *this;
}

}  // namespace tapgate::json
