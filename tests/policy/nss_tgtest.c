// SPDX-License-Identifier: GPL-2.0-or-later
/* A user database service for the policy tests: "tgtest" in nsswitch.conf
 * (libnss_tgtest.so.2). It plays a directory (LDAP, SSSD) that the tests
 * can take down, which the real ones cannot do inside a namespace:
 *
 *   /etc/tgnss/passwd, /etc/tgnss/group  entries, in the usual formats;
 *   /etc/tgnss/initgroups                lines "user:gid,gid...": groups
 *                                        getgrouplist() learns only from
 *                                        this service (as SSSD with
 *                                        ignore_group_members does);
 *   /etc/tgnss/down                      if it exists, every call answers
 *                                        NSS_STATUS_UNAVAIL with ENOENT,
 *                                        what nss_sss does while sssd is
 *                                        down;
 *   /etc/tgnss/capslog                   if it names a file, every call
 *                                        appends "FUNCTION COMM CapEff:X
 *                                        CapPrm:Y" to it, from /proc/self:
 *                                        the privileges NSS code runs with
 *                                        (COMM tells the helper's calls
 *                                        from those of setpriv and getent).
 *
 * glibc passes errno as errnop: the probe must leave errno alone.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <nss.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TGNSS "/etc/tgnss/"

static void log_caps(const char *function) {
    int saved = errno;
    char path[4096], line[256], comm[32] = "?", eff[32] = "?", prm[32] = "?", out[512];
    FILE *f = fopen(TGNSS "capslog", "re");
    if (f) {
        if (fgets(path, sizeof path, f)) {
            path[strcspn(path, "\n")] = '\0';
            FILE *status = fopen("/proc/self/comm", "re");
            if (status) {
                if (fscanf(status, "%31s", comm) != 1) strcpy(comm, "?");
                fclose(status);
            }
            status = fopen("/proc/self/status", "re");
            while (status && fgets(line, sizeof line, status)) {
                if (strncmp(line, "CapEff:", 7) == 0) sscanf(line + 7, "%31s", eff);
                if (strncmp(line, "CapPrm:", 7) == 0) sscanf(line + 7, "%31s", prm);
            }
            if (status) fclose(status);
            int n = snprintf(out, sizeof out, "%s %s CapEff:%s CapPrm:%s\n", function, comm, eff, prm);
            int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
            if (fd >= 0) {
                /* One write: lines of concurrent helpers do not mix. */
                if (write(fd, out, (size_t)n) != n) {}
                close(fd);
            }
        }
        fclose(f);
    }
    errno = saved;
}

static int down(int *errnop) {
    if (access(TGNSS "down", F_OK) != 0) return 0;
    *errnop = ENOENT;
    return 1;
}

/* The entry of `name` (or, with name NULL, of `id`) in TGNSS passwd or
 * group, parsed into the caller's buffer. */
static enum nss_status find(int group, const char *name, unsigned id, void *entry, char *buf,
                            size_t len, int *errnop) {
    if (down(errnop)) return NSS_STATUS_UNAVAIL;
    FILE *f = fopen(group ? TGNSS "group" : TGNSS "passwd", "re");
    enum nss_status st = NSS_STATUS_NOTFOUND;
    int rc = ENOENT;
    while (f) {
        const char *n = NULL;
        unsigned i = 0;
        if (group) {
            struct group *g;
            rc = fgetgrent_r(f, entry, buf, len, &g);
            if (rc == 0) n = g->gr_name, i = g->gr_gid;
        } else {
            struct passwd *p;
            rc = fgetpwent_r(f, entry, buf, len, &p);
            if (rc == 0) n = p->pw_name, i = p->pw_uid;
        }
        if (rc != 0) break;
        if (name ? strcmp(n, name) == 0 : i == id) {
            st = NSS_STATUS_SUCCESS;
            break;
        }
    }
    if (f) fclose(f);
    if (rc == ERANGE) st = NSS_STATUS_TRYAGAIN;
    if (st != NSS_STATUS_SUCCESS) *errnop = rc == ERANGE ? ERANGE : ENOENT;
    return st;
}

enum nss_status _nss_tgtest_getpwnam_r(const char *name, struct passwd *pw, char *buf, size_t len,
                                       int *errnop) {
    log_caps(__func__);
    return find(0, name, 0, pw, buf, len, errnop);
}

enum nss_status _nss_tgtest_getpwuid_r(uid_t uid, struct passwd *pw, char *buf, size_t len,
                                       int *errnop) {
    log_caps(__func__);
    return find(0, NULL, uid, pw, buf, len, errnop);
}

enum nss_status _nss_tgtest_getgrnam_r(const char *name, struct group *gr, char *buf, size_t len,
                                       int *errnop) {
    log_caps(__func__);
    return find(1, name, 0, gr, buf, len, errnop);
}

enum nss_status _nss_tgtest_getgrgid_r(gid_t gid, struct group *gr, char *buf, size_t len,
                                       int *errnop) {
    log_caps(__func__);
    return find(1, NULL, gid, gr, buf, len, errnop);
}

struct gid_list {
    gid_t skip;
    long *start, *size, limit;
    gid_t **groups;
};

static int add(struct gid_list *l, gid_t gid) {
    if (gid == l->skip) return 0;
    for (long i = 0; i < *l->start; ++i)
        if ((*l->groups)[i] == gid) return 0;
    if (*l->start == *l->size) {
        if (l->limit > 0 && *l->size >= l->limit) return 0;
        long n = *l->size * 2;
        if (l->limit > 0 && n > l->limit) n = l->limit;
        gid_t *more = realloc(*l->groups, (size_t)n * sizeof *more);
        if (!more) return -1;
        *l->groups = more;
        *l->size = n;
    }
    (*l->groups)[(*l->start)++] = gid;
    return 0;
}

/* What getgrouplist() asks: the groups whose member lists name `user`, and
 * those TGNSS initgroups gives it. */
enum nss_status _nss_tgtest_initgroups_dyn(const char *user, gid_t skip, long *start, long *size,
                                           gid_t **groups, long limit, int *errnop) {
    log_caps(__func__);
    if (down(errnop)) return NSS_STATUS_UNAVAIL;
    struct gid_list l = {skip, start, size, limit, groups};
    int failed = 0;
    FILE *f = fopen(TGNSS "group", "re");
    size_t len = 1024;
    char *buf = malloc(len);
    while (f && buf && !failed) {
        struct group entry, *g;
        int rc = fgetgrent_r(f, &entry, buf, len, &g);
        if (rc == ERANGE) {
            char *bigger = realloc(buf, len * 2);
            if (!bigger) break;
            buf = bigger;
            len *= 2;
            continue;
        }
        if (rc != 0) break;
        for (char **m = g->gr_mem; m && *m; ++m)
            if (strcmp(*m, user) == 0 && add(&l, g->gr_gid) != 0) failed = 1;
    }
    if (f) fclose(f);
    f = fopen(TGNSS "initgroups", "re");
    char line[1024];
    while (f && !failed && fgets(line, sizeof line, f)) {
        char *colon = strchr(line, ':');
        if (!colon) continue;
        *colon = '\0';
        if (strcmp(line, user) != 0) continue;
        char *save = NULL;
        for (char *t = strtok_r(colon + 1, ",\n", &save); t && !failed; t = strtok_r(NULL, ",\n", &save))
            if (add(&l, (gid_t)strtoul(t, NULL, 10)) != 0) failed = 1;
    }
    if (f) fclose(f);
    if (!buf || failed) {
        free(buf);
        *errnop = ENOMEM;
        return NSS_STATUS_TRYAGAIN;
    }
    free(buf);
    return NSS_STATUS_SUCCESS;
}
