// SPDX-License-Identifier: GPL-2.0-or-later
// A library a hostile user points LD_PRELOAD / LD_LIBRARY_PATH at: if the
// dynamic loader ever maps it into the setuid helper, its constructor
// announces that on stderr, which the test would see as changed output.
#include <cstdio>
#include <unistd.h>

__attribute__((constructor)) static void announce(void) {
    static const char msg[] = "TG-PRELOAD-LOADED\n";
    (void)!write(2, msg, sizeof msg - 1);
}
