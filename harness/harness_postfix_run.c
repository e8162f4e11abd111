/*
 * harness_postfix_run - create, start and stop a replay's private Postfix instance
 * (harness_postfix_run.h).
 */
#include "harness/harness_postfix_run.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <time.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness/harness_cpu.h"
#include "harness/harness_postfix_conf.h"
#include "harness/harness_proc.h"

#define HARNESS_POSTFIX_START_MS 30000
#define HARNESS_POSTFIX_STOP_MS 10000

int harness_postfix_run_available(char *version, size_t vlen, char *err, size_t errlen)
{
    char postfix[512], postconf[512];
    if (!harness_proc_find("postfix", postfix, sizeof(postfix)) ||
        !harness_proc_find("postconf", postconf, sizeof(postconf))) {
        snprintf(err, errlen, "Postfix is not installed (no postfix or postconf in PATH or /usr/sbin): "
                              "apt-get install postfix");
        return -ENOENT;
    }
    if (!getpwnam("postfix")) {
        snprintf(err, errlen, "there is no postfix user: is the postfix package installed? (apt-get install postfix)");
        return -ENOENT;
    }
    if (geteuid() != 0) {
        snprintf(err, errlen, "starting a Postfix instance needs root (Postfix's master starts as root and "
                              "drops to the postfix user): run as root, or use --mta external");
        return -EPERM;
    }
    if (version && vlen) {
        snprintf(version, vlen, "unknown");
        FILE *f = popen("postconf -d -h mail_version 2>/dev/null", "r");
        if (f) {
            if (fgets(version, (int)vlen, f))
                version[strcspn(version, "\r\n")] = 0;
            pclose(f);
        }
    }
    return 0;
}

/* A free TCP port on addr (bound and released: the kernel does not hand it out again at once). */
static int harness_postfix_free_port(const char *addr, char *err, size_t errlen)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    if (fd < 0 || inet_pton(AF_INET, addr, &sa.sin_addr) != 1 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        snprintf(err, errlen, "%s: cannot bind a port for Postfix's smtpd: %s", addr, strerror(e));
        return -e;
    }
    socklen_t len = sizeof(sa);
    getsockname(fd, (struct sockaddr *)&sa, &len);
    close(fd);
    return ntohs(sa.sin_port);
}

static int harness_postfix_mkdir(const char *path, mode_t mode, char *err, size_t errlen)
{
    if (mkdir(path, mode) != 0 || chmod(path, mode) != 0) {
        int e = errno;
        snprintf(err, errlen, "%s: %s", path, strerror(e));
        return -e;
    }
    return 0;
}

int harness_postfix_run_setup(harness_postfix_run *p, const scenario *s, uint32_t host, const char *dir,
                              const char *bind_addr, const char *const *const *receiver_addrs, char *err,
                              size_t errlen)
{
    memset(p, 0, sizeof(*p));
    snprintf(p->dir, sizeof(p->dir), "%s", dir);
    snprintf(p->name, sizeof(p->name), "mta%u", host + 1);
    snprintf(p->etc, sizeof(p->etc), "%s/etc", dir);
    snprintf(p->queue, sizeof(p->queue), "%s/queue", dir);
    snprintf(p->data, sizeof(p->data), "%s/data", dir);
    snprintf(p->maillog, sizeof(p->maillog), "%s/maillog", dir);
    snprintf(p->out, sizeof(p->out), "%s/postfix.out", dir);
    snprintf(p->bind, sizeof(p->bind), "%s", bind_addr);
    if (!harness_proc_find("postfix", p->postfix, sizeof(p->postfix))) {
        snprintf(err, errlen, "Postfix is not installed (apt-get install postfix)");
        return -ENOENT;
    }
    int rc;
    if ((rc = harness_postfix_mkdir(p->dir, 0755, err, errlen)) || (rc = harness_postfix_mkdir(p->etc, 0755, err, errlen)) ||
        (rc = harness_postfix_mkdir(p->queue, 0755, err, errlen)) ||
        (rc = harness_postfix_mkdir(p->data, 0700, err, errlen)))
        return rc;
    struct passwd *pw = getpwnam("postfix");
    if (!pw || chown(p->data, pw->pw_uid, pw->pw_gid) != 0) {
        int e = pw ? errno : ENOENT;
        snprintf(err, errlen, "%s: cannot give it to the postfix user: %s", p->data, strerror(e));
        return -e;
    }
    char in_addr[32];
    snprintf(in_addr, sizeof(in_addr), "127.66.%u.%u", (host + 1) / 256, (host + 1) % 256);
    int port = harness_postfix_free_port(in_addr, err, errlen);
    if (port < 0)
        return port;
    snprintf(p->smtpd, sizeof(p->smtpd), "%s:%d", in_addr, port);
    char myhostname[64];
    snprintf(myhostname, sizeof(myhostname), "%s.tempfail.test", p->name);
    harness_postfix_instance in = {.config_directory = p->etc,
                                   .queue_directory = p->queue,
                                   .data_directory = p->data,
                                   .maillog_file = p->maillog,
                                   .myhostname = myhostname,
                                   /* Postfix wants an interface holding each inet_interfaces address
                                    * (127.66.0.x is on none, though lo routes it); master.cf's
                                    * explicit smtpd address is where the instance listens. */
                                   .inet_interfaces = "127.0.0.1",
                                   .smtpd_listen = p->smtpd,
                                   .smtp_bind_address = p->bind,
                                   .receiver_addrs = receiver_addrs,
                                   .nexthop_cache_destinations = true,
                                   .feedback_debug = true};
    harness_postfix_files files = {0};
    if ((rc = harness_postfix_conf_generate(s, &in, &files, err, errlen)) < 0)
        return rc;
    rc = harness_postfix_conf_write(&files, p->etc, err, errlen);
    harness_postfix_files_clear(&files);
    return rc;
}

/* The master's pid from its pid file, or 0. */
static pid_t harness_postfix_master_pid(const harness_postfix_run *p)
{
    char path[1200];
    snprintf(path, sizeof(path), "%s/pid/master.pid", p->queue);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    long pid = 0;
    if (fscanf(f, "%ld", &pid) != 1)
        pid = 0;
    fclose(f);
    return pid > 1 && kill((pid_t)pid, 0) == 0 ? (pid_t)pid : 0;
}

/*
 * What Postfix said about a failure: the last complaint in its output or its maillog. Before its
 * postlogd runs, postfix(1) logs to syslog only, and to stderr only when that is a terminal: when
 * neither file has a word, `postfix check` runs once more under script(1), on a terminal.
 */
static void harness_postfix_complaint(const harness_postfix_run *p, char *buf, size_t len)
{
    buf[0] = 0;
    char tty[1200], cmd[2400];
    snprintf(tty, sizeof(tty), "%s/postfix.tty", p->dir);
    const char *files[] = {p->out, p->maillog, tty};
    for (size_t k = 0; k < 3 && !buf[0]; k++) {
        if (k == 2) {
            char script[512], err[256];
            if (!harness_proc_find("script", script, sizeof(script)))
                break;
            snprintf(cmd, sizeof(cmd), "%s -c %s check", p->postfix, p->etc);
            char *argv[] = {script, "-qec", cmd, "/dev/null", NULL};
            harness_proc_run(argv, tty, 30000, err, sizeof(err));
        }
        FILE *f = fopen(files[k], "r");
        if (!f)
            continue;
        char line[1024];
        while (fgets(line, sizeof(line), f)) {
            line[strcspn(line, "\r\n")] = 0;
            char *nl = strchr(line, '\r');
            if (nl)
                *nl = 0;
            if (strstr(line, "fatal") || strstr(line, "error") || strstr(line, "warning") || !buf[0])
                snprintf(buf, len, "%s", line);
        }
        fclose(f);
    }
}

static bool harness_postfix_accepts(const char *addr)
{
    char host[64];
    snprintf(host, sizeof(host), "%s", addr);
    char *colon = strrchr(host, ':');
    if (!colon)
        return false;
    *colon = 0;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(colon + 1))};
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
        return false;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    bool ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    close(fd);
    return ok;
}

int harness_postfix_run_start(harness_postfix_run *p, char *err, size_t errlen)
{
    char *check[] = {p->postfix, "-c", p->etc, "check", NULL};
    char perr[512], complaint[1024];
    int rc = harness_proc_run(check, p->out, HARNESS_POSTFIX_START_MS, perr, sizeof(perr));
    if (rc != 0) {
        harness_postfix_complaint(p, complaint, sizeof(complaint));
        snprintf(err, errlen, "%s: postfix -c %s check failed: %s", p->name, p->etc,
                 complaint[0] ? complaint : rc < 0 ? perr : "no message");
        return -ECHILD;
    }
    char *start[] = {p->postfix, "-c", p->etc, "start", NULL};
    rc = harness_proc_run(start, p->out, HARNESS_POSTFIX_START_MS, perr, sizeof(perr));
    p->master = harness_postfix_master_pid(p);
    if (rc != 0) {
        harness_postfix_complaint(p, complaint, sizeof(complaint));
        harness_postfix_run_stop(p);
        snprintf(err, errlen, "%s: postfix -c %s start failed: %s", p->name, p->etc,
                 complaint[0] ? complaint : rc < 0 ? perr : "no message");
        return -ECHILD;
    }
    long long until = harness_proc_now_ns() + HARNESS_POSTFIX_START_MS * 1000000LL;
    for (;;) {
        if (!p->master)
            p->master = harness_postfix_master_pid(p);
        if (p->master && harness_postfix_accepts(p->smtpd))
            return 0;
        if (harness_proc_now_ns() > until) {
            harness_postfix_complaint(p, complaint, sizeof(complaint));
            harness_postfix_run_stop(p);
            snprintf(err, errlen, "%s: Postfix's smtpd did not accept connections on %s within %d s%s%s", p->name,
                     p->smtpd, HARNESS_POSTFIX_START_MS / 1000, complaint[0] ? ": " : "", complaint);
            return -ETIMEDOUT;
        }
        harness_proc_sleep_ms(20);
    }
}

bool harness_postfix_run_alive(const harness_postfix_run *p) { return p->master > 0 && kill(p->master, 0) == 0; }

void harness_postfix_run_stop(harness_postfix_run *p)
{
    if (!p->master)
        p->master = harness_postfix_master_pid(p);
    if (!p->master)
        return;
    char *stop[] = {p->postfix, "-c", p->etc, "stop", NULL};
    char perr[512];
    harness_proc_run(stop, p->out, HARNESS_POSTFIX_STOP_MS, perr, sizeof(perr));
    long long until = harness_proc_now_ns() + HARNESS_POSTFIX_STOP_MS * 1000000LL;
    while (kill(p->master, 0) == 0 && harness_proc_now_ns() < until)
        harness_proc_sleep_ms(20);
    if (kill(p->master, 0) == 0) {
        kill(-p->master, SIGKILL);
        kill(p->master, SIGKILL);
    }
    p->master = 0;
}

/* The start of the master's child named qmgr, in clock ticks after boot; 0 when there is none. */
static uint64_t harness_postfix_qmgr_ticks(pid_t master)
{
    DIR *d = opendir("/proc");
    if (!d)
        return 0;
    uint64_t ticks = 0;
    struct dirent *e;
    while (!ticks && (e = readdir(d))) {
        if (e->d_name[0] < '1' || e->d_name[0] > '9')
            continue;
        char path[300], line[1024];
        snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        ssize_t n = read(fd, line, sizeof(line) - 1);
        close(fd);
        harness_cpu_stat st;
        if (n > 0 && harness_cpu_parse_stat(line, (size_t)n, &st) == 0 && st.ppid == master &&
            strcmp(st.comm, "qmgr") == 0)
            ticks = st.starttime;
    }
    closedir(d);
    return ticks;
}

long long harness_postfix_run_qmgr_started(const harness_postfix_run *p)
{
    if (p->master <= 0)
        return -1;
    uint64_t ticks = 0;
    for (int i = 0; i < 40 && !(ticks = harness_postfix_qmgr_ticks(p->master)); i++)
        harness_proc_sleep_ms(50);
    long hz = sysconf(_SC_CLK_TCK);
    if (!ticks || hz <= 0)
        return -1;
    struct timespec boot, mono;
    clock_gettime(CLOCK_BOOTTIME, &boot);
    clock_gettime(CLOCK_MONOTONIC, &mono);
    long long since_boot = (long long)(ticks / (uint64_t)hz) * 1000000000LL +
                           (long long)(ticks % (uint64_t)hz) * 1000000000LL / hz;
    long long offset = ((long long)boot.tv_sec - mono.tv_sec) * 1000000000LL + (boot.tv_nsec - mono.tv_nsec);
    return since_boot - offset;
}
