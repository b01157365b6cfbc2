// SPDX-License-Identifier: GPL-2.0-or-later
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

#include <linux/capability.h>

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

// What the command line asks, and what had to be done about it while root
// still could act.
struct Start {
    std::optional<args::Options> parsed;
    std::optional<Error> early;  // a failure that waits until the privileges are gone
    UniqueFd lock;               // the quota lock file, for requests
    std::string lock_problem;    // for --explain
};

Start prepare(const std::vector<std::string>& argv) {
    // Parsing is pure (it touches nothing), and what follows needs the mode
    // while root still can act: --explain --user must know whom to become.
    Start st;
    try {
        st.parsed = args::parse(argv);
        const args::Mode mode = st.parsed->mode;
        // Root only can look at the lock file, and --explain --user is
        // about to stop being root.
        if (mode == args::Mode::explain) st.lock_problem = quota::lock_file_problem();
        if (mode == args::Mode::explain && st.parsed->user) admin::become(*st.parsed->user);
        // Still root here when setuid: the quota lock file must be opened
        // before the privileges go (users cannot open it, by design). Only
        // requests need it: --help run by root creates nothing.
        if (mode == args::Mode::helper && ::geteuid() == 0) st.lock = quota::open_lock_file();
    } catch (const Error& e) {
        st.early = e;
    }
    return st;
}

// --check, --explain, --list, --remove, --help, --version.
int run_admin(const Start& st, const std::optional<std::string>& no_taps) {
    if (st.early) throw *st.early;
    const args::Options& opt = *st.parsed;
    fault::point("admin");
    switch (opt.mode) {
    case args::Mode::help:
        std::fputs(args::usage(), stdout);
        return 0;
    case args::Mode::version:
        std::printf("tapgate %s\n", TAPGATE_VERSION);
        return 0;
    case args::Mode::check:
        return check::run(opt.check_file, opt.json);
    case args::Mode::explain:
        // Where this process cannot make taps, the service decides: ask it.
        if (no_taps && !opt.user && !opt.json) {
            if (auto status = client::explain(stdout, *opt.bridge)) return *status;
        }
        return admin::explain(stdout, *opt.bridge, st.lock_problem, opt.json);
    case args::Mode::list:
        return admin::list(opt.json);
    case args::Mode::remove:
        if (::getuid() != 0) throw Error("--remove and --remove-unused need root");
        return admin::remove(opt.remove);
    case args::Mode::helper:
        break;
    }
    return 1;
}

// A request: this process serves it, or passes it on to the service when
// it cannot make taps (`no_taps` says why).
int run_request(Start& st, const std::optional<std::string>& no_taps, audit::Record& rec) {
    const args::Options* opt = st.parsed ? &*st.parsed : nullptr;
    // tapgate.conf says whether and where refusals are logged, so it is
    // read before anything else can refuse (inherited fds closed first:
    // NSS modules run in here).
    process::close_fds_except({opt ? opt->fd.value_or(-1) : -1, st.lock.get()});
    if (no_taps && !st.early) {
        // What the service did not log (a bad --fd, a request it declined
        // or never answered, a tap that could not be passed on) is refused
        // below, under tapgate.conf's log settings, as the setuid path
        // refuses it.
        try {
            fdpass::check_socket(*opt->fd);
            rec.pid = fdpass::peer_pid(*opt->fd);
            if (client::request_tap(*opt->fd, *opt->bridge, opt->use_vnet)) return 0;
        } catch (const client::Refused&) {
            rec.enabled = false;
            throw;
        } catch (const Error& e) {
            st.early = e;
        }
    }
    // Files are read as the real user: per-user include files rely on it,
    // and no file is read with privileges the caller lacks.
    request::Files files;
    const settings::Settings conf = request::read_settings(files);
    rec.enabled = conf.syslog;
    rec.required = conf.syslog_required;
    rec.facility = settings::facility_code(conf.facility).value_or(-1);
    if (st.early) throw *st.early;
    if (no_taps)
        throw Error("cannot create a tap device: " + *no_taps +
                    "; the tapgate service can serve such callers: systemctl start tapgate.socket");
    run_helper(*opt, st.lock, files, conf, rec);
    return 0;
}

int run(const std::vector<std::string>& argv, audit::Record& rec, bool& helper_mode) {
    fault::init();
    Start st = prepare(argv);
    const std::optional<args::Mode> mode = st.parsed ? std::optional(st.parsed->mode) : std::nullopt;
    // Every request is recorded, a malformed one too (QEMU and libvirt
    // never send one); the other modes are not requests. A failure to drop
    // privileges is recorded with the default log settings: tapgate.conf
    // is not read with privileges.
    helper_mode = !mode || mode == args::Mode::helper;
    rec.uid = ::getuid();
    if (st.parsed && st.parsed->bridge) rec.bridge = *st.parsed->bridge;
    // Whether the caller runs us under no_new_privs, before the drop sets it.
    const bool caller_nnp = privileges::no_new_privs();
    // Before anything else can fail: the caller controls privileges we must
    // shed, fds we must not write into, and an environment libraries read.
    // Root's own --list and --remove keep what they need to see which
    // processes hold taps (/proc/PID/fd of other users: CAP_SYS_PTRACE and
    // CAP_DAC_READ_SEARCH), and to remove them.
    if (::getuid() == 0 && mode == args::Mode::list)
        privileges::root_admin({CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH});
    else if (::getuid() == 0 && mode == args::Mode::remove)
        privileges::root_admin({CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH, CAP_NET_ADMIN});
    else
        privileges::drop_to_net_admin();
    fault::point("after-drop");
    process::clear_environment();
    nl_debug = 0;
    // No CAP_NET_ADMIN that reaches this network (the setuid bit ignored
    // under no_new_privs, no setuid or file capability, or root in a user
    // namespace of the caller's making): the service, if it runs, serves
    // the request. Asked with no privilege at all, so that what the kernel
    // tells it about the caller is the caller.
    std::optional<std::string> no_taps;
    if (helper_mode || mode == args::Mode::explain) no_taps = privileges::why_no_taps(caller_nnp);
    // What this process refuses itself then (a bad command line or --fd, no
    // service to ask) came by neither front-end: the audit line says so.
    if (no_taps) rec.via = "unprivileged";
    if (!helper_mode) {
        const bool root_admin = ::getuid() == 0 && (mode == args::Mode::list || mode == args::Mode::remove);
        if (!root_admin) privileges::drop_all();
        return run_admin(st, no_taps);
    }
    if (no_taps) privileges::drop_all();
    return run_request(st, no_taps, rec);
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
