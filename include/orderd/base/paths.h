/*
 * paths.h - where orderd's own files are: the installed layout
 * (/usr/local/share/orderd/sql, /usr/local/etc/orderd/orderd.conf for the
 * default CMAKE_INSTALL_PREFIX; /usr/share/..., /etc/orderd/... in the
 * Debian package) or the source tree (sql/ and config/orderd.conf).
 *
 * The installed binary is recognised by where it runs from: when
 * /proc/self/exe is the path `cmake --install` puts it at, the installed
 * paths apply; any other binary (the build tree's, a test's) keeps the
 * source tree's, so `sql_dir` keeps working there without a flag.
 */
#ifndef ORDERD_PATHS_H
#define ORDERD_PATHS_H

#include <stdbool.h>

/* True when this process is the installed binary (see above). */
bool paths_installed(void);

/* The default sql_dir: the installed share/orderd/sql, or the source tree's sql/. */
const char *paths_sql_dir(void);

/* The config file read when neither --config nor ORDERD_CONFIG names one:
 * the installed etc/orderd/orderd.conf, or config/orderd.conf relative to
 * the working directory. */
const char *paths_config_file(void);

#endif
