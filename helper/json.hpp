// SPDX-License-Identifier: GPL-2.0-or-later
// JSON for --list, --explain and --check: a writer for the few shapes
// tapgate prints (tapgate(8), JSON OUTPUT), strings escaped so that any
// byte an interface name, a file or a message may hold stays valid JSON.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

namespace tapgate::json {

class Writer {
public:
    explicit Writer(std::FILE* out) : out_(out) {}
    ~Writer();

    Writer& object();  // {
    Writer& array();   // [
    Writer& end_object();
    Writer& end_array();
    Writer& key(std::string_view k);
    Writer& value(std::string_view s);
    Writer& value(const char* s) { return value(std::string_view(s)); }
    Writer& value(const std::string& s) { return value(std::string_view(s)); }
    Writer& number(std::int64_t n);
    Writer& boolean(bool b);
    Writer& null();

private:
    void comma();
    void string(std::string_view s);
    std::FILE* out_;
    std::vector<bool> first_;  // per open container: nothing written yet
    bool after_key_ = false;
};

}  // namespace tapgate::json
