// SPDX-License-Identifier: GPL-2.0-or-later
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "acl.hpp"
#include "unique_fd.hpp"

namespace tapgate::acl {

namespace {

// A bridge.conf is a few lines; anything this large is not one, and reading
// it would only let a caller make a setuid process allocate memory.
constexpr std::size_t max_file_size = 16 * 1024 * 1024;

std::string file_type(mode_t mode) {
    switch (mode & S_IFMT) {
    case S_IFDIR: return "a directory";
    case S_IFIFO: return "a FIFO";
    case S_IFCHR: return "a character device";
    case S_IFBLK: return "a block device";
    case S_IFSOCK: return "a socket";
    case S_IFLNK: return "a symbolic link";
    default: return "not a regular file";
    }
}

// Files on these file systems can look root-owned and read-only while their
// content comes from the caller (/proc/self/cmdline, /proc/self/environ of a
// setuid process) or from the kernel.
const char* pseudo_filesystem(const struct statfs& fs) {
    switch (static_cast<unsigned long>(fs.f_type)) {
    case PROC_SUPER_MAGIC: return "proc";
    case SYSFS_MAGIC: return "sysfs";
    case DEBUGFS_MAGIC: return "debugfs";
    case TRACEFS_MAGIC: return "tracefs";
    case SECURITYFS_MAGIC: return "securityfs";
    case CGROUP_SUPER_MAGIC: return "cgroup";
    case CGROUP2_SUPER_MAGIC: return "cgroup2";
    case BPF_FS_MAGIC: return "bpf";
    case EFIVARFS_MAGIC: return "efivarfs";
    case PSTOREFS_MAGIC: return "pstore";
    case DEVPTS_SUPER_MAGIC: return "devpts";
    case 0x62656570: return "configfs";  // CONFIGFS_MAGIC
    // A user's FUSE mount over a directory or file they own can claim any
    // owner and mode for what its server makes up.
    case 0x65735546: return "fuse";  // FUSE_SUPER_MAGIC
    default: return nullptr;
    }
}

std::string writable_by(mode_t mode) {
    if (mode & S_IWOTH) return "writable by others";
    if (mode & S_IWGRP) return "writable by group";
    return {};
}

// Why a file whose owner and mode are these may not be trusted, or empty.
std::string untrusted_file(const struct stat& st) {
    if (!S_ISREG(st.st_mode)) return "is " + file_type(st.st_mode) + ", not a regular file";
    if (st.st_uid != 0) return "is owned by uid " + std::to_string(st.st_uid) + ", not root";
    if (auto w = writable_by(st.st_mode); !w.empty()) return "is " + w;
    return {};
}

// A directory that someone other than root could write to lets them swap
// the file. A root-owned sticky directory (like /tmp) does not: nobody else
// can rename or remove root's entries in it.
std::string untrusted_directory(const std::string& dir, const struct stat& st) {
    if (st.st_uid != 0)
        return "directory " + dir + " is owned by uid " + std::to_string(st.st_uid) + ", not root";
    if (!(st.st_mode & S_ISVTX)) {
        if (auto w = writable_by(st.st_mode); !w.empty()) return "directory " + dir + " is " + w;
    }
    return {};
}

FileContent refused(std::string reason) {
    FileContent c;
    c.status = FileContent::Status::refused;
    c.reason = std::move(reason);
    return c;
}

}  // namespace

namespace {

FileContent not_accessible(int error) {
    FileContent c;
    c.status = FileContent::Status::not_accessible;
    c.error = error;
    return c;
}

// The kernel's limit on symbolic links followed in one lookup.
constexpr int max_symlinks = 40;

// Walks a path one component at a time from "/", the way the kernel
// would, holding each directory open (O_PATH) while the next component is
// looked up in it. Every directory entered and every symbolic link
// followed is vetted on the way, so the walk checks exactly what was
// traversed, and nothing can be swapped between the check and the use.
// What cannot be reached is "not accessible" only because the walk got
// that far: every directory that could have made it so is root's.
class Walk {
public:
    // A path that ends in '/' names a directory (the kernel's rule): a file
    // there is not found (ENOTDIR), as qemu-bridge-helper's fopen() finds.
    explicit Walk(std::string_view path) : trailing_slash_(path.size() > 1 && path.back() == '/') { push(path); }

    FileContent open_file() {
        if (auto why = to_root(); !why.empty()) return refused(why);
        while (!rest_.empty()) {
            std::string name = std::move(rest_.back());
            rest_.pop_back();
            if (name == ".") continue;
            const bool last = rest_.empty();
            if (name == "..") {
                UniqueFd up(::openat(dir_.get(), "..", O_PATH | O_DIRECTORY | O_CLOEXEC));
                if (!up) return missing(errno);
                if (auto why = enter(std::move(up), directory_of(walked_), nullptr); !why.empty())
                    return refused(why);
                continue;
            }
            if (last) {
                std::optional<FileContent> done = open_last(name);
                if (done) return std::move(*done);
                continue;  // a symbolic link: its target is now in rest_
            }
            // O_DIRECTORY: an automount point is a directory whose lookup
            // with it mounts what is behind; without it the walk would see
            // the empty trigger and take a file behind it for missing. A
            // symbolic link gives ENOTDIR, and is opened as itself below.
            UniqueFd entry(::openat(dir_.get(), name.c_str(), O_PATH | O_NOFOLLOW | O_DIRECTORY | O_CLOEXEC));
            if (!entry && errno == ENOTDIR)
                entry.reset(::openat(dir_.get(), name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
            if (!entry) return missing(errno);
            struct stat st{};
            if (::fstat(entry.get(), &st) != 0) return refused(std::string("cannot stat: ") + std::strerror(errno));
            const std::string path = join(name);
            if (S_ISLNK(st.st_mode)) {
                if (auto why = follow(entry.get(), st, path); !why.empty()) return refused(why);
                continue;
            }
            if (!S_ISDIR(st.st_mode)) return refused(path + " is not a directory");
            if (auto why = enter(std::move(entry), path, &st); !why.empty()) return refused(why);
        }
        // The path ended in "/", "." or "..": a directory.
        return refused("is a directory, not a regular file");
    }

private:
    // Components still to walk, the next one last.
    void push(std::string_view path) {
        std::vector<std::string> parts;
        std::size_t i = 0;
        while (i <= path.size()) {
            std::size_t slash = path.find('/', i);
            if (slash == std::string_view::npos) slash = path.size();
            if (slash > i) parts.emplace_back(path.substr(i, slash - i));
            i = slash + 1;
        }
        rest_.insert(rest_.end(), parts.rbegin(), parts.rend());
    }

    std::string join(const std::string& name) const {
        return walked_ == "/" ? "/" + name : walked_ + "/" + name;
    }

    // Makes `fd` (at `path`) the directory the walk is in, and says why it
    // cannot be trusted, or nothing.
    std::string enter(UniqueFd fd, std::string path, const struct stat* known) {
        dir_ = std::move(fd);
        walked_ = std::move(path);
        struct stat st{};
        if (known) st = *known;
        else if (::fstat(dir_.get(), &st) != 0) return "cannot check " + walked_ + ": " + std::strerror(errno);
        if (auto why = pseudo(dir_.get(), st); !why.empty()) return why;
        return untrusted_directory(walked_, st);
    }

    std::string to_root() {
        UniqueFd root(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
        if (!root) return std::string("cannot open /: ") + std::strerror(errno);
        return enter(std::move(root), "/", nullptr);
    }

    // /proc and its like hold files that look root-owned and read-only
    // while their content comes from the caller: nothing on them is
    // trusted. Looked at where the walk crosses onto another file system.
    std::string pseudo(int fd, const struct stat& st) {
        if (have_dev_ && st.st_dev == dev_) return {};
        struct statfs fs{};
        if (::fstatfs(fd, &fs) != 0) return std::string("cannot stat file system: ") + std::strerror(errno);
        if (const char* name = pseudo_filesystem(fs)) return std::string("is on a ") + name + " file system";
        dev_ = st.st_dev;
        have_dev_ = true;
        return {};
    }

    // A symbolic link: its owner could point it anywhere, so only root's
    // are followed; the target's components are walked next, from "/" or
    // from the link's directory.
    std::string follow(int link_fd, const struct stat& st, const std::string& path) {
        if (st.st_uid != 0)
            return "symbolic link " + path + " is owned by uid " + std::to_string(st.st_uid) + ", not root";
        if (++links_ > max_symlinks) return "too many levels of symbolic links at " + path;
        char target[PATH_MAX];
        ssize_t n = ::readlinkat(link_fd, "", target, sizeof target);
        if (n < 0) return "cannot read symbolic link " + path + ": " + std::strerror(errno);
        if (n == 0 || static_cast<std::size_t>(n) >= sizeof target)
            return "symbolic link " + path + " has no usable target";
        std::string_view t(target, static_cast<std::size_t>(n));
        push(t);
        return t.front() == '/' ? to_root() : std::string();
    }

    // The walk stopped at a component the caller cannot look up: the
    // directory it stopped in is trusted, so this is a real absence or
    // lack of permission, not something a user arranged.
    FileContent missing(int e) {
        switch (e) {
        case ENOENT:
        case EACCES:
        case EPERM:
        case ENAMETOOLONG:
        case ENOTDIR:
            return not_accessible(e);
        default:
            // EMFILE, EIO...: the file may exist and hold denies, so this
            // must not be mistaken for an absent file.
            return refused(std::string("cannot open: ") + std::strerror(e));
        }
    }

    // The last component: the file itself, read through the fd it was
    // vetted by (non-blocking, so a FIFO cannot hang the helper). Empty
    // when it was a symbolic link, whose target is then walked.
    std::optional<FileContent> open_last(const std::string& name) {
        const std::string path = join(name);
        if (trailing_slash_) {
            struct stat st{};
            if (::fstatat(dir_.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISLNK(st.st_mode) &&
                !S_ISDIR(st.st_mode))
                return missing(ENOTDIR);
        }
        UniqueFd fd(::openat(dir_.get(), name.c_str(),
                             O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY));
        if (!fd) {
            const int e = errno;
            struct stat st{};
            if (::fstatat(dir_.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return missing(e);
            if (S_ISLNK(st.st_mode)) {
                UniqueFd link(::openat(dir_.get(), name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
                if (!link || ::fstat(link.get(), &st) != 0)
                    return refused("cannot open symbolic link " + path + ": " + std::strerror(errno));
                if (!S_ISLNK(st.st_mode)) return refused("was replaced while being read");
                if (auto why = follow(link.get(), st, path); !why.empty()) return refused(why);
                return std::nullopt;
            }
            // It exists, and the caller may not open it. That is the
            // per-user include idiom only for a file that would have been
            // trusted had the caller been able to read it.
            if (auto why = untrusted_file(st); !why.empty()) return refused(why);
            return missing(e);
        }
        struct stat st{};
        if (::fstat(fd.get(), &st) != 0) return refused(std::string("cannot stat: ") + std::strerror(errno));
        if (auto why = untrusted_file(st); !why.empty()) return refused(why);
        if (auto why = pseudo(fd.get(), st); !why.empty()) return refused(why);
        return read_all(fd.get(), st);
    }

    static FileContent read_all(int fd, const struct stat& st) {
        FileContent c;
        c.id = {static_cast<std::uint64_t>(st.st_dev), static_cast<std::uint64_t>(st.st_ino)};
        c.mode = st.st_mode & 07777;
        char buf[8192];
        for (;;) {
            ssize_t n = ::read(fd, buf, sizeof buf);
            if (n == 0) break;
            if (n < 0) {
                if (errno == EINTR) continue;
                return refused(std::string("read error: ") + std::strerror(errno));
            }
            if (c.text.size() + static_cast<std::size_t>(n) > max_file_size)
                return refused("is larger than " + std::to_string(max_file_size >> 20) + " MiB");
            c.text.append(buf, static_cast<std::size_t>(n));
        }
        return c;
    }

    const bool trailing_slash_;
    std::vector<std::string> rest_;
    UniqueFd dir_;
    std::string walked_;  // the path of dir_, as walked
    dev_t dev_ = 0;       // the file system pseudo() last looked at
    bool have_dev_ = false;
    int links_ = 0;
};

}  // namespace

FileContent FileSystemSource::read(const std::string& given_path) {
    if (given_path.empty() || given_path.front() != '/') {
        char cwd[PATH_MAX];
        if (!::getcwd(cwd, sizeof cwd))
            return refused(std::string("cannot resolve a relative path: ") + std::strerror(errno));
        return Walk(std::string(cwd) + "/" + given_path).open_file();
    }
    return Walk(given_path).open_file();
}

FileContent MemorySource::read(const std::string& path) {
    FileContent c;
    auto it = files.find(path);
    if (it == files.end()) {
        c.status = FileContent::Status::not_accessible;
        c.error = ENOENT;
        return c;
    }
    c.text = it->second;
    c.id = {static_cast<std::uint64_t>(std::distance(files.begin(), it)) + 1, 0};
    return c;
}

}  // namespace tapgate::acl
