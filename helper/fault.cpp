// SPDX-License-Identifier: GPL-2.0-or-later
#include "fault.hpp"

#if TAPGATE_FAULT_INJECTION
#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace tapgate::fault {

namespace {
std::string wanted_step, wanted_action;
// Filled before static initialisers run: a plain buffer, no constructor.
char saved[128];
}

void capture(char** envp) {
    static constexpr char key[] = "TAPGATE_FAULT=";
    for (; *envp; ++envp)
        if (std::strncmp(*envp, key, sizeof key - 1) == 0)
            std::snprintf(saved, sizeof saved, "%s", *envp + sizeof key - 1);
}

void init() {
    const char* spec = saved[0] ? saved : nullptr;
    if (!spec) return;
    std::string s = spec;
    auto colon = s.find(':');
    wanted_step = s.substr(0, colon);
    wanted_action = colon == std::string::npos ? "kill" : s.substr(colon + 1);
}

namespace {
// "CapEff=... CapPrm=..." from /proc/self/status.
std::string capabilities() {
    std::string out;
    std::FILE* f = std::fopen("/proc/self/status", "re");
    if (!f) return "unreadable";
    char line[256];
    while (std::fgets(line, sizeof line, f)) {
        unsigned long long v = 0;
        if (std::sscanf(line, "CapEff: %llx", &v) == 1) out += " CapEff=" + std::to_string(v);
        if (std::sscanf(line, "CapPrm: %llx", &v) == 1) out += " CapPrm=" + std::to_string(v);
    }
    std::fclose(f);
    return out;
}
// " 0 1 2 ...": the open fds, from /proc/self/fd (the listing's own fd left
// out).
std::string open_fds() {
    DIR* d = ::opendir("/proc/self/fd");
    if (!d) return " unreadable";
    std::string out;
    while (dirent* e = ::readdir(d))
        if (e->d_name[0] != '.' && std::atoi(e->d_name) != ::dirfd(d)) out += std::string(" ") + e->d_name;
    ::closedir(d);
    return out;
}

}  // namespace

void point(const char* step) {
    // caps and fds: report the capability sets or the open fds here and go on.
    if ((wanted_action == "caps" || wanted_action == "fds") && (wanted_step == step || wanted_step == "all")) {
        std::fprintf(stderr, "tapgate: fault injection: %s at %s:%s\n", wanted_action.c_str(), step,
                     (wanted_action == "caps" ? capabilities() : open_fds()).c_str());
        return;
    }
    if (wanted_step != step) return;
    std::fprintf(stderr, "tapgate: fault injection: %s at %s\n", wanted_action.c_str(), step);
    if (wanted_action == "stop") ::raise(SIGSTOP);
    else if (wanted_action == "exit") std::_Exit(1);
    else if (wanted_action == "hang")
        for (;;) ::pause();
    else ::raise(SIGKILL);
}

}  // namespace tapgate::fault
#endif
