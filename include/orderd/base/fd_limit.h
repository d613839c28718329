/*
 * fd_limit.h - the process's file descriptor limit (RLIMIT_NOFILE), which
 * bounds how many client connections epoll can hold.
 */
#ifndef ORDERD_FD_LIMIT_H
#define ORDERD_FD_LIMIT_H

/*
 * Raises the soft RLIMIT_NOFILE to the hard limit (an unprivileged
 * process may) and returns the soft limit now in force, or -1 when it
 * cannot be read.
 */
long fd_limit_raise(void);

/*
 * The connections a limit of nofile descriptors leaves room for once
 * reserved descriptors (database and Redis connections, the listener,
 * epoll and log descriptors) are set aside; at least 1.
 */
int fd_limit_connections(long nofile, int reserved);

#endif
