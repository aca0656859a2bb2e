/* Makes raw i386 syscalls through int 0x80 (glibc's wrappers would go
 * through socketcall or hide errno), for the seccomp tests: a syscall the
 * profile blocks must be blocked on the i386 ABI too. Built with
 * gcc -m32 -static. */
#include <stdio.h>

static long sys2(long nr, long a, long b)
{
    long r;
    __asm__ volatile("int $0x80" : "=a"(r) : "a"(nr), "b"(a), "c"(b) : "memory");
    return r;
}

int main(void)
{
    /* i386 numbers: mkdir is 39, getppid 64. */
    printf("mkdir=%ld\n", sys2(39, (long)"/tmp/i386dir", 0755));
    printf("getppid=%s\n", sys2(64, 0, 0) >= 0 ? "ok" : "err");
    return 0;
}
