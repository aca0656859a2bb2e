/* For hack/migrate-demo: holds SIZE_MB of touched memory (a distinct
 * byte per page, so nothing dedups or stays zero) and keeps a counter in
 * /run/count, so a restore shows it went on from where it was. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    long mb = argc > 1 ? atol(argv[1]) : 256;
    size_t size = (size_t)mb << 20;
    volatile unsigned char *mem = malloc(size);
    if (!mem)
        return 1;
    for (size_t i = 0; i < size; i += 4096)
        mem[i] = (unsigned char)(i >> 12);
    for (unsigned long n = 1;; n++) {
        FILE *f = fopen("/run/count", "w");
        if (f) {
            fprintf(f, "%lu\n", n);
            fclose(f);
        }
        mem[(n * 4096) % size]++;
        usleep(100000);
    }
}
