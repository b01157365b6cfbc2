#include "audit.hpp"

#include <syslog.h>

#include "acl.hpp"
#include "text.hpp"

namespace tapgate::audit {

namespace {

void put(std::string& line, const char* key, const std::string& value) {
    line += ' ';
    line += key;
    line += '=';
    // Values come from the caller (bridge) or from config files: escaped,
    // so one request is one parseable line.
    line += text::printable(value);
}

void emit(const Record& r, int priority, const std::string& line) {
    if (!r.enabled) return;
    int facility = r.facility >= 0 ? r.facility : LOG_AUTHPRIV;
    ::openlog("tapgate", LOG_PID, facility);
    ::syslog(facility | priority, "%s", line.c_str());
    ::closelog();
}

}  // namespace

std::string format(const Record& r, bool granted, const std::string& reason) {
    std::string line = granted ? "granted:" : "refused:";
    put(line, "user", r.user.empty() ? "?" : r.user);
    put(line, "uid", std::to_string(r.uid));
    put(line, "pid", r.pid ? std::to_string(r.pid) : "?");
    put(line, "via", r.via);
    put(line, "bridge", r.bridge.empty() ? "?" : r.bridge);
    if (!r.tap.empty()) put(line, "tap", r.tap);
    if (r.vlan) put(line, "vlan", std::to_string(r.vlan));
    if (!r.rule.empty()) put(line, "rule", r.rule);
    if (!granted) {
        line += " reason=\"";
        // Whole (printable() cuts at 64 characters), with quotes, backslashes
        // and control bytes as \xNN so the line stays one parseable record.
        static constexpr char hex[] = "0123456789abcdef";
        for (char c : reason) {
            auto u = static_cast<unsigned char>(c);
            if (c == '"' || c == '\\' || u < 0x20 || u == 0x7f) {
                line += "\\x";
                line += hex[u >> 4];
                line += hex[u & 15];
            } else {
                line += c;
            }
        }
        line += '"';
    }
    return line;
}

void granted(const Record& r) { emit(r, LOG_INFO, format(r, true, {})); }

void refused(const Record& r, const std::string& reason) {
    emit(r, LOG_NOTICE, format(r, false, reason));
}

}  // namespace tapgate::audit
