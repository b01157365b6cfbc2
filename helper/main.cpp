// tapgate: QEMU's bridge helper. Runs setuid root (or with cap_net_admin+ep)
// on behalf of an unprivileged QEMU or libvirt: checks the ACL, creates a
// tap, puts it on the bridge and passes its fd back over --fd.
//
// Every step below either succeeds or throws tapgate::Error, which main()
// prints as the single line the caller shows to its user. The tap is not
// persistent: on any failure (or a kill) the kernel removes it, and with it
// the bridge port, when this process exits.
#include <netlink/netlink.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "acl.hpp"
#include "args.hpp"
#include "bridge.hpp"
#include "check.hpp"
#include "config.h"
#include "error.hpp"
#include "fault.hpp"
#include "fdpass.hpp"
#include "identity.hpp"
#include "netlink.hpp"
#include "privileges.hpp"
#include "process.hpp"
#include "tap.hpp"

namespace tapgate {
namespace {

int run_helper(const args::Options& opt) {
    const int sock = *opt.fd;
    process::close_fds_except(sock);
    fdpass::check_socket(sock);

    // Read as the real user: per-user include files rely on it.
    acl::FileSystemSource source;
    identity::NssDirectory directory;
    const acl::Policy policy = acl::load(source, TAPGATE_ACL_FILE, &directory);
    // The user database is asked only when a rule names users or groups.
    const acl::Caller caller =
        policy.qualified ? identity::lookup(::getuid()) : acl::Caller{::getuid(), {}, {}};
    const acl::Decision decision = acl::decide(policy, *opt.bridge, caller);
    if (!decision.allowed) throw Error(decision.explain(*opt.bridge, TAPGATE_ACL_FILE));

    fault::point("after-acl");

    netlink::Socket nl;
    const bridge::Bridge br = bridge::find(nl, *opt.bridge);
    tap::Tap tap = tap::create("tap%d", opt.use_vnet);
    fault::point("after-tap");
    bridge::attach(nl, br, tap.name);
    fault::point("after-attach");
    fdpass::send(sock, tap.fd.get());
    fault::point("after-send");
    return 0;
}

int run(const std::vector<std::string>& argv) {
    // Before anything can fail: the caller controls privileges we must shed,
    // fds we must not write into, and an environment libraries would read.
    fault::init();
    privileges::drop_to_net_admin();
    fault::point("after-drop");
    process::clear_environment();
    nl_debug = 0;  // libnl read $NLDBG before main()

    const args::Options opt = args::parse(argv);
    switch (opt.mode) {
    case args::Mode::help:
        std::fputs(args::usage(), stdout);
        return 0;
    case args::Mode::version:
        std::printf("tapgate %s\n", TAPGATE_VERSION);
        return 0;
    case args::Mode::check:
        privileges::drop_all();
        return check::run(opt.check_file.value_or(TAPGATE_ACL_FILE));
    case args::Mode::helper:
        break;
    }
    return run_helper(opt);
}

}  // namespace
}  // namespace tapgate

int main(int argc, char** argv) {
    tapgate::process::ensure_standard_fds();
    try {
        std::vector<std::string> args;
        for (int i = 0; i < argc && argv[i]; ++i) args.emplace_back(argv[i]);
        return tapgate::run(args);
    } catch (const tapgate::Error& e) {
        std::fprintf(stderr, "tapgate: %s\n", e.what());
    } catch (const std::bad_alloc&) {
        std::fprintf(stderr, "tapgate: out of memory\n");
    } catch (const std::exception& e) {
        std::fprintf(stderr, "tapgate: internal error: %s\n", e.what());
    }
    tapgate::process::wait_for_stderr_reader();
    return 1;
}
