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

// Checks every directory on an absolute path as written (not following the
// last component), and every symbolic link met on the way: each must be
// root's, or a non-root user could redirect the path. `plain` says whether
// the path is already its own resolved form (no symbolic link, no "." or
// ".." or empty component) and, if so, `last` is the file's lstat.
std::string check_path_as_written(const std::string& path, bool& plain, struct stat& last_st) {
    plain = true;
    for (std::size_t pos = 1;;) {
        std::size_t next = path.find('/', pos);
        bool last = next == std::string::npos;
        std::string prefix = last ? path : path.substr(0, next);
        std::string_view component = std::string_view(path).substr(pos, (last ? path.size() : next) - pos);
        if (component.empty() || component == "." || component == "..") plain = false;
        struct stat st{};
        if (::lstat(prefix.c_str(), &st) != 0)
            return "cannot check " + prefix + ": " + std::strerror(errno);
        if (S_ISLNK(st.st_mode)) {
            plain = false;
            if (st.st_uid != 0)
                return "symbolic link " + prefix + " is owned by uid " +
                       std::to_string(st.st_uid) + ", not root";
        } else if (!last) {
            if (!S_ISDIR(st.st_mode)) return prefix + " is not a directory";
            if (auto why = untrusted_directory(prefix, st); !why.empty()) return why;
        }
        if (last) {
            last_st = st;
            return {};
        }
        pos = next + 1;
    }
}

bool same_file(const struct stat& a, const struct stat& b) { return a.st_dev == b.st_dev && a.st_ino == b.st_ino; }

// Checks every directory on the resolved path of the open file.
std::string check_resolved_path(const std::string& path, const struct stat& file) {
    char buf[PATH_MAX];
    if (!::realpath(path.c_str(), buf)) return std::string("cannot resolve path: ") + std::strerror(errno);
    std::string real = buf;
    struct stat st{};
    if (::stat(real.c_str(), &st) != 0 || !same_file(st, file)) return "was replaced while being read";
    std::string dir = real;
    while (dir != "/") {
        dir = directory_of(dir);
        if (::stat(dir.c_str(), &st) != 0)
            return "cannot check " + dir + ": " + std::strerror(errno);
        if (auto why = untrusted_directory(dir, st); !why.empty()) return why;
    }
    return {};
}

// A plain path (see check_path_as_written) is its own resolved path, and
// its directories below "/" have just been checked: only "/" and the file's
// identity remain. It spares realpath()'s readlink() per component and a
// second stat() of each directory, on every request.
std::string check_plain_path(const struct stat& last, const struct stat& file) {
    if (!same_file(last, file)) return "was replaced while being read";
    struct stat st{};
    if (::stat("/", &st) != 0) return std::string("cannot check /: ") + std::strerror(errno);
    return untrusted_directory("/", st);
}

FileContent refused(std::string reason) {
    FileContent c;
    c.status = FileContent::Status::refused;
    c.reason = std::move(reason);
    return c;
}

std::string absolute(const std::string& path) {
    if (!path.empty() && path.front() == '/') return path;
    char cwd[PATH_MAX];
    if (!::getcwd(cwd, sizeof cwd)) return path;
    return resolve_include(std::string(cwd) + "/", path);
}

}  // namespace

FileContent FileSystemSource::read(const std::string& given_path) {
    const std::string path = absolute(given_path);
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY));
    if (!fd) {
        int e = errno;
        switch (e) {
        case ENOENT:
        case EACCES:
        case EPERM:
        case ENOTDIR:
        case ELOOP:
        case ENAMETOOLONG: {
            // A file in /proc the caller cannot open (/proc/self/environ of
            // a non-dumpable process) must be refused like one it can, not
            // skipped as if it were someone's private include.
            struct statfs fs{};
            if (::statfs(path.c_str(), &fs) == 0) {
                if (const char* pseudo = pseudo_filesystem(fs))
                    return refused(std::string("is on a ") + pseudo + " file system");
            }
            FileContent c;
            c.status = FileContent::Status::not_accessible;
            c.error = e;
            return c;
        }
        default:
            // EMFILE, EIO, ENXIO...: the file may exist and hold denies, so
            // this must not be mistaken for an absent file.
            return refused(std::string("cannot open: ") + std::strerror(e));
        }
    }
    struct stat st{};
    if (::fstat(fd.get(), &st) != 0) return refused(std::string("cannot stat: ") + std::strerror(errno));
    if (auto why = untrusted_file(st); !why.empty()) return refused(why);
    struct statfs fs{};
    if (::fstatfs(fd.get(), &fs) != 0)
        return refused(std::string("cannot stat file system: ") + std::strerror(errno));
    if (const char* pseudo = pseudo_filesystem(fs))
        return refused(std::string("is on a ") + pseudo + " file system");
    bool plain = false;
    struct stat last{};
    if (auto why = check_path_as_written(path, plain, last); !why.empty()) return refused(why);
    if (auto why = plain ? check_plain_path(last, st) : check_resolved_path(path, st); !why.empty())
        return refused(why);

    FileContent c;
    c.id = {static_cast<std::uint64_t>(st.st_dev), static_cast<std::uint64_t>(st.st_ino)};
    char buf[8192];
    for (;;) {
        ssize_t n = ::read(fd.get(), buf, sizeof buf);
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
