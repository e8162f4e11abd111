/*
 * smtpd_store - counting, hashing and Maildir storage of accepted messages (smtpd_store.h).
 *
 * Maildir names follow the modern convention (time.MusecPpidQseq.host): unique within the host as long
 * as pid and the per-process sequence are, which one process guarantees. Writes go through a 64 KB
 * buffer allocated on a connection's first stored message, so a message's body, whatever the chunks
 * the engine hands over, costs one write per 64 KB. The directory descriptors of tmp/ and new/ are
 * opened once: renameat and fsync work on them with no path lookups per message.
 */
#include "testsmtpd/smtpd_store.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#define SMTPD_STORE_BUF (64 * 1024)

struct smtpd_store {
    char *dir;       /* NULL: hash only */
    int tmpfd, newfd;
    EVP_MD *sha256;
    char host[64];   /* for Maildir names: no '/' or ':' */
    uint64_t seq, count;
    uint64_t cleaned; /* stale tmp/ files removed at start */
};

struct smtpd_store_msg {
    smtpd_store *st;
    EVP_MD_CTX *md;
    bool active;
    int err;         /* first error of this message (negative errno) */
    int fd;          /* tmp/ file, -1 when none */
    char name[128];
    uint64_t size;
    char *buf;
    size_t buflen;
};

static int smtpd_store_mkdir(const char *path)
{
    if (mkdir(path, 0700) == 0 || errno == EEXIST)
        return 0;
    return -errno;
}

/*
 * A tmp/ file left by a delivery that never finished (a testsmtpd killed mid-message): one named by
 * this host whose process is gone, or any older than Maildir's 36 hours (a reader's rule for tmp/).
 * A live process's files, here or on another host sharing the Maildir, stay.
 */
static bool smtpd_store_stale(const smtpd_store *st, const char *name, time_t mtime, time_t now)
{
    if (now - mtime > 36 * 3600)
        return true;
    const char *p = strstr(name, ".M"), *dot = p ? strchr(p + 1, '.') : NULL;
    p = p ? strchr(p, 'P') : NULL;
    if (!p || !dot || p > dot || strcmp(dot + 1, st->host) != 0)
        return false;
    char *end;
    long pid = strtol(p + 1, &end, 10);
    return end != p + 1 && *end == 'Q' && pid > 0 && pid != (long)getpid() && kill((pid_t)pid, 0) != 0 &&
           errno == ESRCH;
}

static void smtpd_store_clean_tmp(smtpd_store *st)
{
    int fd = dup(st->tmpfd);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        if (fd >= 0)
            close(fd);
        return;
    }
    time_t now = time(NULL);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        struct stat sb;
        if (e->d_name[0] == '.' || fstatat(st->tmpfd, e->d_name, &sb, AT_SYMLINK_NOFOLLOW) != 0 ||
            !S_ISREG(sb.st_mode))
            continue;
        if (smtpd_store_stale(st, e->d_name, sb.st_mtime, now) && unlinkat(st->tmpfd, e->d_name, 0) == 0)
            st->cleaned++;
    }
    closedir(d);
}

uint64_t smtpd_store_cleaned(const smtpd_store *st) { return st->cleaned; }

smtpd_store *smtpd_store_create(const char *maildir, char *err, size_t errlen)
{
    smtpd_store *st = calloc(1, sizeof(*st));
    if (!st || !(st->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL))) {
        snprintf(err, errlen, "out of memory (or no SHA-256 in OpenSSL)");
        free(st);
        return NULL;
    }
    st->tmpfd = st->newfd = -1;
    if (gethostname(st->host, sizeof(st->host)) != 0 || !st->host[0])
        snprintf(st->host, sizeof(st->host), "localhost");
    st->host[sizeof(st->host) - 1] = 0;
    for (char *p = st->host; *p; p++)
        if (*p == '/' || *p == ':')
            *p = '_';
    if (maildir) {
        char path[4096];
        static const char *const sub[] = {"", "/tmp", "/new", "/cur"};
        for (size_t i = 0; i < 4; i++) {
            snprintf(path, sizeof(path), "%s%s", maildir, sub[i]);
            int rc = smtpd_store_mkdir(path);
            if (rc < 0) {
                snprintf(err, errlen, "%s: cannot create: %s", path, strerror(-rc));
                smtpd_store_free(st);
                return NULL;
            }
        }
        snprintf(path, sizeof(path), "%s/tmp", maildir);
        st->tmpfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        snprintf(path, sizeof(path), "%s/new", maildir);
        st->newfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (st->tmpfd < 0 || st->newfd < 0 || !(st->dir = strdup(maildir))) {
            snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
            smtpd_store_free(st);
            return NULL;
        }
        smtpd_store_clean_tmp(st);
    }
    return st;
}

void smtpd_store_free(smtpd_store *st)
{
    if (!st)
        return;
    if (st->tmpfd >= 0)
        close(st->tmpfd);
    if (st->newfd >= 0)
        close(st->newfd);
    EVP_MD_free(st->sha256);
    free(st->dir);
    free(st);
}

int smtpd_store_chown(smtpd_store *st, uid_t uid, gid_t gid)
{
    if (!st->dir)
        return 0;
    static const char *const sub[] = {"", "/tmp", "/new", "/cur"};
    char path[4096];
    for (size_t i = 0; i < 4; i++) {
        snprintf(path, sizeof(path), "%s%s", st->dir, sub[i]);
        if (chown(path, uid, gid) != 0)
            return -errno;
    }
    return 0;
}

uint64_t smtpd_store_count(const smtpd_store *st) { return st->count; }

smtpd_store_msg *smtpd_store_msg_create(smtpd_store *st)
{
    smtpd_store_msg *m = calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    m->st = st;
    m->fd = -1;
    return m;
}

void smtpd_store_abort(smtpd_store_msg *m)
{
    if (!m || !m->active)
        return;
    if (m->fd >= 0) {
        close(m->fd);
        unlinkat(m->st->tmpfd, m->name, 0);
        m->fd = -1;
    }
    m->active = false;
}

void smtpd_store_msg_free(smtpd_store_msg *m)
{
    if (!m)
        return;
    smtpd_store_abort(m);
    EVP_MD_CTX_free(m->md);
    free(m->buf);
    free(m);
}

static void smtpd_store_begin(smtpd_store_msg *m)
{
    smtpd_store *st = m->st;
    m->active = true;
    m->err = 0;
    m->size = 0;
    m->buflen = 0;
    if ((!m->md && !(m->md = EVP_MD_CTX_new())) || !EVP_DigestInit_ex(m->md, st->sha256, NULL)) {
        m->err = -ENOMEM;
        return;
    }
    if (!st->dir)
        return;
    if (!m->buf && !(m->buf = malloc(SMTPD_STORE_BUF))) {
        m->err = -ENOMEM;
        return;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(m->name, sizeof(m->name), "%lld.M%ldP%ldQ%" PRIu64 ".%s", (long long)ts.tv_sec, ts.tv_nsec / 1000,
             (long)getpid(), ++st->seq, st->host);
    m->fd = openat(st->tmpfd, m->name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (m->fd < 0)
        m->err = -errno;
}

static int smtpd_store_flush(smtpd_store_msg *m)
{
    size_t off = 0;
    while (off < m->buflen) {
        ssize_t w = write(m->fd, m->buf + off, m->buflen - off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            m->buflen = 0;
            return -errno;
        }
        off += (size_t)w;
    }
    m->buflen = 0;
    return 0;
}

void smtpd_store_write(smtpd_store_msg *m, const char *data, size_t len)
{
    if (!m->active)
        smtpd_store_begin(m);
    m->size += len;
    if (m->err)
        return;
    EVP_DigestUpdate(m->md, data, len);
    if (m->fd < 0)
        return;
    while (len > 0) {
        size_t n = SMTPD_STORE_BUF - m->buflen;
        if (n > len)
            n = len;
        memcpy(m->buf + m->buflen, data, n);
        m->buflen += n;
        data += n;
        len -= n;
        if (m->buflen == SMTPD_STORE_BUF && (m->err = smtpd_store_flush(m)) < 0)
            return;
    }
}

int smtpd_store_end(smtpd_store_msg *m, char sha256[65], uint64_t *size, char *name, size_t namelen)
{
    static const char hex[] = "0123456789abcdef";
    if (!m->active)
        smtpd_store_begin(m);
    smtpd_store *st = m->st;
    int rc = m->err;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    sha256[0] = 0;
    if (rc == 0 && !EVP_DigestFinal_ex(m->md, md, &mdlen))
        rc = -EIO;
    for (unsigned int i = 0; i < mdlen && i < 32; i++) {
        sha256[2 * i] = hex[md[i] >> 4];
        sha256[2 * i + 1] = hex[md[i] & 15];
        sha256[2 * i + 2] = 0;
    }
    *size = m->size;
    if (rc == 0 && m->fd >= 0) {
        if ((rc = smtpd_store_flush(m)) == 0 && fsync(m->fd) != 0)
            rc = -errno;
        if (close(m->fd) != 0 && rc == 0)
            rc = -errno;
        m->fd = -1;
        if (rc == 0 && renameat(st->tmpfd, m->name, st->newfd, m->name) != 0)
            rc = -errno;
        if (rc == 0 && fsync(st->newfd) != 0) {
            rc = -errno;
            unlinkat(st->newfd, m->name, 0);
        }
        if (rc < 0)
            unlinkat(st->tmpfd, m->name, 0);
        else if (name)
            snprintf(name, namelen, "%s", m->name);
    }
    smtpd_store_abort(m); /* after an error: closes and removes what is left in tmp/ */
    if (rc == 0)
        st->count++;
    return rc;
}
