/* checker: reports what a process inside a container sees, one fact per
 * line as "key value", for tests that compare it with config.json. Built
 * statically (gcc -static) so it runs in any rootfs; both vzrun and runc
 * can be run against it (tests/conformance.rs).
 *
 *   checker [--sysctl KEY]... [--file PATH]... [--read PATH]... [--dev DIR]
 *
 * Always printed: pid, ppid, ids and groups, hostname and domainname,
 * capability sets, NoNewPrivs and Seccomp, umask, oom_score_adj, cwd,
 * namespaces (ns.<type> inode), every rlimit, every mount (mountpoint,
 * type, mount options, super options) and the cgroup lines.
 * --sysctl prints a /proc/sys value, --file a file's first line,
 * --read whether the file can be opened and read (ok or the errno name),
 * --dev every node below DIR with type, major:minor, mode and owner. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/utsname.h>
#include <unistd.h>

static void first_line(const char *key, const char *path)
{
    char buf[4096];
    FILE *f = fopen(path, "r");
    if (!f) {
        printf("%s !%s\n", key, strerrorname_np(errno) ? strerrorname_np(errno) : "error");
        return;
    }
    if (!fgets(buf, sizeof buf, f))
        buf[0] = 0;
    buf[strcspn(buf, "\n")] = 0;
    printf("%s %s\n", key, buf);
    fclose(f);
}

static void status_fields(void)
{
    const char *want[] = {"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs", "Seccomp", "Umask", NULL};
    char line[512];
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return;
    while (fgets(line, sizeof line, f)) {
        for (int i = 0; want[i]; i++) {
            size_t n = strlen(want[i]);
            if (!strncmp(line, want[i], n) && line[n] == ':') {
                char *v = line + n + 1;
                v += strspn(v, " \t");
                v[strcspn(v, "\n")] = 0;
                printf("status.%s %s\n", want[i], v);
            }
        }
    }
    fclose(f);
}

static void rlimits(void)
{
    static const struct { int r; const char *name; } lim[] = {
        {RLIMIT_CPU, "RLIMIT_CPU"}, {RLIMIT_FSIZE, "RLIMIT_FSIZE"}, {RLIMIT_DATA, "RLIMIT_DATA"},
        {RLIMIT_STACK, "RLIMIT_STACK"}, {RLIMIT_CORE, "RLIMIT_CORE"}, {RLIMIT_RSS, "RLIMIT_RSS"},
        {RLIMIT_NPROC, "RLIMIT_NPROC"}, {RLIMIT_NOFILE, "RLIMIT_NOFILE"},
        {RLIMIT_MEMLOCK, "RLIMIT_MEMLOCK"}, {RLIMIT_AS, "RLIMIT_AS"}, {RLIMIT_LOCKS, "RLIMIT_LOCKS"},
        {RLIMIT_SIGPENDING, "RLIMIT_SIGPENDING"}, {RLIMIT_MSGQUEUE, "RLIMIT_MSGQUEUE"},
        {RLIMIT_NICE, "RLIMIT_NICE"}, {RLIMIT_RTPRIO, "RLIMIT_RTPRIO"}, {RLIMIT_RTTIME, "RLIMIT_RTTIME"},
    };
    for (size_t i = 0; i < sizeof lim / sizeof lim[0]; i++) {
        struct rlimit rl;
        if (getrlimit(lim[i].r, &rl))
            continue;
        printf("rlimit.%s %llu:%llu\n", lim[i].name, (unsigned long long)rl.rlim_cur,
               (unsigned long long)rl.rlim_max);
    }
}

static void mounts(void)
{
    char line[4096];
    FILE *f = fopen("/proc/self/mountinfo", "r");
    if (!f)
        return;
    while (fgets(line, sizeof line, f)) {
        /* id parent maj:min root mountpoint options [optional...] - type source superopts */
        char *field[6] = {0};
        char *save, *tok = strtok_r(line, " \n", &save);
        int i = 0;
        while (tok && i < 6) {
            field[i++] = tok;
            tok = strtok_r(NULL, " \n", &save);
        }
        while (tok && strcmp(tok, "-"))
            tok = strtok_r(NULL, " \n", &save);
        char *type = strtok_r(NULL, " \n", &save);
        strtok_r(NULL, " \n", &save); /* source */
        char *super = strtok_r(NULL, " \n", &save);
        if (field[4] && type)
            printf("mount %s %s %s %s\n", field[4], type, field[5], super ? super : "");
    }
    fclose(f);
}

static void namespaces(void)
{
    const char *ns[] = {"cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts", NULL};
    for (int i = 0; ns[i]; i++) {
        char path[64], target[128];
        snprintf(path, sizeof path, "/proc/self/ns/%s", ns[i]);
        ssize_t n = readlink(path, target, sizeof target - 1);
        if (n < 0)
            continue;
        target[n] = 0;
        printf("ns.%s %s\n", ns[i], target);
    }
}

static void devices(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char path[PATH_MAX];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (lstat(path, &st))
            continue;
        if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode))
            printf("dev %s %c %u:%u %o %u:%u\n", path, S_ISCHR(st.st_mode) ? 'c' : 'b',
                   major(st.st_rdev), minor(st.st_rdev), st.st_mode & 07777, st.st_uid, st.st_gid);
        else if (S_ISLNK(st.st_mode)) {
            char target[PATH_MAX];
            ssize_t n = readlink(path, target, sizeof target - 1);
            target[n < 0 ? 0 : n] = 0;
            printf("link %s %s\n", path, target);
        }
    }
    closedir(d);
}

int main(int argc, char **argv)
{
    printf("pid %d\nppid %d\n", getpid(), getppid());
    printf("uid %u\ngid %u\neuid %u\negid %u\n", getuid(), getgid(), geteuid(), getegid());
    gid_t groups[256];
    int n = getgroups(256, groups);
    printf("groups");
    for (int i = 0; i < n; i++)
        printf(" %u", groups[i]);
    printf("\n");
    struct utsname u;
    if (!uname(&u))
        printf("hostname %s\ndomainname %s\n", u.nodename, u.domainname);
    status_fields();
    char cwd[PATH_MAX];
    if (getcwd(cwd, sizeof cwd))
        printf("cwd %s\n", cwd);
    first_line("oom_score_adj", "/proc/self/oom_score_adj");
    namespaces();
    rlimits();
    mounts();
    FILE *f = fopen("/proc/self/cgroup", "r");
    char line[1024];
    while (f && fgets(line, sizeof line, f))
        printf("cgroup %s", line);
    if (f)
        fclose(f);

    for (int i = 1; i + 1 < argc; i += 2) {
        char key[PATH_MAX + 16], path[PATH_MAX];
        if (!strcmp(argv[i], "--sysctl")) {
            snprintf(path, sizeof path, "/proc/sys/%s", argv[i + 1]);
            for (char *p = path + 10; *p; p++)
                if (*p == '.')
                    *p = '/';
            snprintf(key, sizeof key, "sysctl.%s", argv[i + 1]);
            first_line(key, path);
        } else if (!strcmp(argv[i], "--file")) {
            snprintf(key, sizeof key, "file.%s", argv[i + 1]);
            first_line(key, argv[i + 1]);
        } else if (!strcmp(argv[i], "--read")) {
            int fd = open(argv[i + 1], O_RDONLY);
            char c;
            const char *r = "ok";
            if (fd < 0 || read(fd, &c, 1) < 0)
                r = strerrorname_np(errno);
            if (fd >= 0)
                close(fd);
            printf("read.%s %s\n", argv[i + 1], r ? r : "error");
        } else if (!strcmp(argv[i], "--dev")) {
            devices(argv[i + 1]);
        }
    }
    return 0;
}
