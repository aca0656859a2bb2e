/* Prints the effective uid: a setuid-root copy of it shows whether exec
 * granted privileges (noNewPrivileges test). */
#include <stdio.h>
#include <unistd.h>

int main(void)
{
    printf("%d\n", (int)geteuid());
    return 0;
}
