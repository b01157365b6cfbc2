// tapgate: QEMU's bridge helper. Runs setuid root (or with cap_net_admin+ep)
// on behalf of an unprivileged QEMU or libvirt: checks the ACL, creates a
// tap, puts it on the bridge and passes its fd back over --fd.
//
// Every step below either succeeds or throws tapgate::Error, which main()
// prints as the single line the caller shows to its user (and the audit
// log records). The tap is not persistent: on any failure (or a kill) the
// kernel removes it, and with it the bridge port, when this process exits.
#include <netlink/netlink.h>
#include <unistd.h>

#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "admin.hpp"
#include "args.hpp"
#include "audit.hpp"
#include "check.hpp"
#include "client.hpp"
#include "config.h"
#include "error.hpp"
#include "fault.hpp"
#include "fdpass.hpp"
#include "privileges.hpp"
#include "process.hpp"
#include "quota.hpp"
#include "report.hpp"
#include "request.hpp"

namespace tapgate {
namespace {

// The caller's environment is gone before any library or static
// initialiser runs: libnl reads NLDBG and NLCB in its constructors, so
// clearing it in main() would be too late. `environ` is not set yet here;
// envp is the same array.
void early_scrub(int, char**, char** envp) { process::scrub_environment(envp); }
[[gnu::section(".preinit_array"), gnu::used]] void (*const scrub_at_start)(int, char**, char**) = early_scrub;

// The setuid front-end: the caller is the real user, and the tap goes to
// the socket QEMU or libvirt passed as --fd.
void run_helper(const args::Options& opt, const UniqueFd& lock, request::Files& files,
                const settings::Settings& conf, audit::Record& rec) {
    const int sock = *opt.fd;
    fdpass::check_socket(sock);
    rec.pid = fdpass::peer_pid(sock);
    const tap::Tap tap = request::serve(files, conf, *opt.bridge, opt.use_vnet, lock.get(), rec);
    fdpass::send(sock, tap.fd.get());
    fault::point("after-send");
}

int run(const std::vector<std::string>& argv, audit::Record& rec, bool& helper_mode) {
    fault::init();
    // Parsing is pure (it touches nothing), and what follows needs the mode
    // while root still can act: --explain --user must know whom to become.
    // A failure here waits until the privileges are gone.
    std::optional<args::Options> parsed;
    std::optional<Error> early;
    UniqueFd lock;
    std::string lock_problem;
    try {
        parsed = args::parse(argv);
        // Root only can look at the lock file, and --explain --user is
        // about to stop being root.
        if (parsed->mode == args::Mode::explain) lock_problem = quota::lock_file_problem();
        if (parsed->mode == args::Mode::explain && parsed->user) admin::become(*parsed->user);
        // Still root here when setuid: the quota lock file must be opened
        // before the privileges go (users cannot open it, by design). Only
        // requests need it: --help run by root creates nothing.
        if (parsed->mode == args::Mode::helper && ::geteuid() == 0) lock = quota::open_lock_file();
    } catch (const Error& e) {
        early = e;
    }
    // Every request is recorded, a malformed one too (QEMU and libvirt
    // never send one); the other modes are not requests. A failure to drop
    // privileges is recorded with the default log settings: tapgate.conf
    // is not read with privileges.
    helper_mode = !parsed || parsed->mode == args::Mode::helper;
    rec.uid = ::getuid();
    if (parsed && parsed->bridge) rec.bridge = *parsed->bridge;
    // Whether the caller runs us under no_new_privs, before the drop sets it.
    const bool caller_nnp = privileges::no_new_privs();
    // Before anything else can fail: the caller controls privileges we must
    // shed, fds we must not write into, and an environment libraries read.
    privileges::drop_to_net_admin();
    fault::point("after-drop");
    process::clear_environment();
    nl_debug = 0;
    // No CAP_NET_ADMIN (the setuid bit ignored under no_new_privs, or
    // installed with neither setuid nor the file capability): the service,
    // if it runs, serves the request. Asked with no privilege at all, so
    // that what the kernel tells it about the caller is the caller.
    const std::optional<std::string> no_taps = privileges::why_no_taps(caller_nnp);
    const bool forward = no_taps.has_value();
    if (forward) privileges::drop_all();

    if (!helper_mode) {
        if (early) throw *early;
        const args::Options& opt = *parsed;
        privileges::drop_all();
        if (forward && opt.mode == args::Mode::explain && !opt.user) {
            if (auto status = client::explain(stdout, *opt.bridge)) return *status;
        }
        switch (opt.mode) {
        case args::Mode::help:
            std::fputs(args::usage(), stdout);
            return 0;
        case args::Mode::version:
            std::printf("tapgate %s\n", TAPGATE_VERSION);
            return 0;
        case args::Mode::check:
            return check::run(opt.check_file);
        case args::Mode::explain:
            return admin::explain(stdout, *opt.bridge, lock_problem);
        case args::Mode::list:
            return admin::list();
        case args::Mode::helper:
            break;
        }
    }
    // tapgate.conf says whether and where refusals are logged, so it is
    // read before anything else can refuse (inherited fds closed first:
    // NSS modules run in here).
    process::close_fds_except({parsed ? parsed->fd.value_or(-1) : -1, lock.get()});
    if (forward && !early) {
        // A bad --fd is refused by this process, after tapgate.conf has
        // said how to log it, as the setuid path does.
        try {
            fdpass::check_socket(*parsed->fd);
        } catch (const Error& e) {
            early = e;
        }
    }
    if (forward && !early) {
        // The service logs the request; this process only passes it on.
        rec.enabled = false;
        if (client::request_tap(*parsed->fd, *parsed->bridge, parsed->use_vnet)) return 0;
        rec.enabled = true;
    }
    // Files are read as the real user: per-user include files rely on it,
    // and no file is read with privileges the caller lacks.
    request::Files files;
    const settings::Settings conf = request::read_settings(files);
    rec.enabled = conf.syslog;
    rec.facility = settings::facility_code(conf.facility).value_or(-1);
    if (early) throw *early;
    if (forward)
        throw Error("cannot create a tap device: " + *no_taps +
                    "; the tapgate service can serve such callers: systemctl start tapgate.socket");
    run_helper(*parsed, lock, files, conf, rec);
    return 0;
}

}  // namespace
}  // namespace tapgate

int main(int argc, char** argv) {
    tapgate::process::ensure_standard_fds();
    tapgate::audit::Record rec;
    bool helper_mode = false;
    std::string failure;
    try {
        std::vector<std::string> args;
        for (int i = 0; i < argc && argv[i]; ++i) args.emplace_back(argv[i]);
        return tapgate::run(args, rec, helper_mode);
    } catch (const tapgate::Error& e) {
        failure = e.what();
    } catch (const std::bad_alloc&) {
        failure = "out of memory";
    } catch (const std::exception& e) {
        failure = std::string("internal error: ") + e.what();
    }
    // Logged first: once the caller has read the line it may kill this
    // process (it runs as the caller's uid).
    if (helper_mode) tapgate::audit::refused(rec, failure);
    tapgate::report::failure(failure);
    return 1;
}
