// tapgate --check: reads an ACL file as the caller and reports every problem.
#pragma once

#include <string>

namespace tapgate::check {

// Prints problems to stderr and a summary to stdout. Returns the exit
// status: 0 when the file (with its includes) is usable, 1 otherwise.
int run(const std::string& file);

}  // namespace tapgate::check
