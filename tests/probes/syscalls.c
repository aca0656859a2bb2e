/* Makes raw syscalls and prints what each returned (0 or more, or -errno),
 * for the seccomp tests. Built twice, with gcc -static for x86_64 and with
 * gcc -m32 -static for i386, where the calls go through int 0x80: glibc's
 * i386 wrappers would route socket() through socketcall, whose arguments
 * no filter sees, and its personality() does not set errno. */
#include <stdio.h>

static long raw(long nr, long a, long b, long c)
{
    long r;
#if defined(__x86_64__)
    __asm__ volatile("syscall"
                     : "=a"(r)
                     : "a"(nr), "D"(a), "S"(b), "d"(c)
                     : "rcx", "r11", "memory");
#else
    __asm__ volatile("int $0x80" : "=a"(r) : "a"(nr), "b"(a), "c"(b), "d"(c) : "memory");
#endif
    return r;
}

#if defined(__x86_64__)
enum { NR_mkdir = 83, NR_getppid = 110, NR_personality = 135, NR_sethostname = 170,
       NR_kexec_load = 246, NR_setns = 308, NR_bpf = 321, NR_socket = 41,
       NR_io_uring_setup = 425, NR_beyond = 1000 };
#else
enum { NR_mkdir = 39, NR_getppid = 64, NR_personality = 136, NR_sethostname = 74,
       NR_kexec_load = 283, NR_setns = 346, NR_bpf = 357, NR_socket = 359,
       NR_io_uring_setup = 425, NR_beyond = 1000 };
#endif

#define AF_NETLINK 16
#define SOCK_RAW 3
#define NETLINK_AUDIT 9
#define NETLINK_ROUTE 0

int main(void)
{
    printf("mkdir=%ld\n", raw(NR_mkdir, (long)"/tmp/probedir", 0755, 0));
    printf("getppid=%s\n", raw(NR_getppid, 0, 0, 0) >= 0 ? "ok" : "err");
    printf("sethostname=%ld\n", raw(NR_sethostname, (long)"probe", 5, 0));
    printf("setns=%ld\n", raw(NR_setns, -1, 0, 0));
    printf("bpf=%ld\n", raw(NR_bpf, 0, 0, 0));
    printf("kexec_load=%ld\n", raw(NR_kexec_load, 0, 0, 0));
    printf("personality_query=%s\n", raw(NR_personality, 0xffffffffL, 0, 0) >= 0 ? "ok" : "err");
    printf("personality_linux=%s\n", raw(NR_personality, 0, 0, 0) >= 0 ? "ok" : "err");
    printf("personality_other=%ld\n", raw(NR_personality, 0x0400000, 0, 0));
    long s = raw(NR_socket, AF_NETLINK, SOCK_RAW, NETLINK_AUDIT);
    printf("socket_audit=%ld\n", s >= 0 ? 0 : s);
    s = raw(NR_socket, AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
    printf("socket_route=%ld\n", s >= 0 ? 0 : s);
    printf("io_uring_setup=%ld\n", raw(NR_io_uring_setup, 1, 0, 0));
    printf("beyond=%ld\n", raw(NR_beyond, 0, 0, 0));
    return 0;
}
