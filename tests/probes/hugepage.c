/* Maps and touches N huge pages of 2 MiB, for the hugetlb tests:
 *
 *   hugepage N          prints "ok", or the errno name of a refused mmap,
 *                       or "sigbus" when a page fault was refused
 *   hugepage N hold     the same, then keeps the pages until killed
 *
 * A hugetlb cgroup limit refuses the reservation at mmap (ENOMEM) where
 * the kernel has reservation limits (rsvd), else the fault (SIGBUS). */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static sigjmp_buf fault;

static void on_sigbus(int sig)
{
    (void)sig;
    siglongjmp(fault, 1);
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    size_t n = strtoul(argv[1], NULL, 10), len = n << 21;
    char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
    if (p == MAP_FAILED) {
        printf("%s\n", strerrorname_np(errno));
        return 1;
    }
    signal(SIGBUS, on_sigbus);
    if (sigsetjmp(fault, 1)) {
        printf("sigbus\n");
        return 1;
    }
    for (size_t i = 0; i < n; i++)
        p[i << 21] = 1;
    printf("ok\n");
    fflush(stdout);
    if (argc > 2 && !strcmp(argv[2], "hold"))
        for (;;)
            pause();
    return 0;
}
