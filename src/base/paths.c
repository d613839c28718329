/*
 * paths.c - installed or source-tree paths (paths.h).
 */
#include "orderd/base/paths.h"

#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* CMake defines all four; the fallbacks keep a hand build working. */
#ifndef ORDERD_SQL_DIR
#define ORDERD_SQL_DIR "sql"
#endif
#ifndef ORDERD_INSTALL_BIN
#define ORDERD_INSTALL_BIN "/usr/local/bin/orderd"
#endif
#ifndef ORDERD_INSTALL_SQL_DIR
#define ORDERD_INSTALL_SQL_DIR "/usr/local/share/orderd/sql"
#endif
#ifndef ORDERD_INSTALL_CONFIG
#define ORDERD_INSTALL_CONFIG "/usr/local/etc/orderd/orderd.conf"
#endif

#define SOURCE_CONFIG "config/orderd.conf"

static pthread_once_t once = PTHREAD_ONCE_INIT;
static bool installed;

/* realpath on both sides: /bin is a link to /usr/bin on merged-/usr
 * systems, and the install prefix may itself be a link. */
static void decide(void)
{
    char self[PATH_MAX], target[PATH_MAX];
    installed = realpath("/proc/self/exe", self) && realpath(ORDERD_INSTALL_BIN, target) &&
                strcmp(self, target) == 0;
}

bool paths_installed(void)
{
    pthread_once(&once, decide);
    return installed;
}

const char *paths_sql_dir(void)
{
    return paths_installed() ? ORDERD_INSTALL_SQL_DIR : ORDERD_SQL_DIR;
}

const char *paths_config_file(void)
{
    return paths_installed() ? ORDERD_INSTALL_CONFIG : SOURCE_CONFIG;
}
