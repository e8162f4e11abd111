/* tempfail - command line (being built; see issue for `tempfail run`). */
#include <stdio.h>
int main(void)
{
    fprintf(stderr, "tempfail: not built yet\n");
    return 2;
}
