/*
 * fd_limit.c - RLIMIT_NOFILE: raised at start, turned into a connection
 * count (fd_limit.h).
 */
#include "orderd/base/fd_limit.h"

#include <limits.h>
#include <sys/resource.h>

long fd_limit_raise(void)
{
    struct rlimit lim;
    if (getrlimit(RLIMIT_NOFILE, &lim) != 0)
        return -1;
    if (lim.rlim_cur < lim.rlim_max) {
        struct rlimit raised = {lim.rlim_max, lim.rlim_max};
        if (setrlimit(RLIMIT_NOFILE, &raised) == 0)
            lim.rlim_cur = lim.rlim_max;
    }
    /* "unlimited" is not a count; a long holds any real one */
    return lim.rlim_cur == RLIM_INFINITY || lim.rlim_cur > (rlim_t)LONG_MAX ? LONG_MAX
                                                                            : (long)lim.rlim_cur;
}

int fd_limit_connections(long nofile, int reserved)
{
    long n = nofile - (reserved > 0 ? reserved : 0);
    if (n < 1)
        return 1;
    return n > 1000000 ? 1000000 : (int)n;
}
