#include "fault.hpp"

#if TAPGATE_FAULT_INJECTION
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace tapgate::fault {

namespace {
std::string wanted_step, wanted_action;
}

void init() {
    const char* spec = std::getenv("TAPGATE_FAULT");
    if (!spec) return;
    std::string s = spec;
    auto colon = s.find(':');
    wanted_step = s.substr(0, colon);
    wanted_action = colon == std::string::npos ? "kill" : s.substr(colon + 1);
}

void point(const char* step) {
    if (wanted_step != step) return;
    std::fprintf(stderr, "tapgate: fault injection: %s at %s\n", wanted_action.c_str(), step);
    if (wanted_action == "stop") ::raise(SIGSTOP);
    else if (wanted_action == "exit") std::_Exit(1);
    else ::raise(SIGKILL);
}

}  // namespace tapgate::fault
#endif
