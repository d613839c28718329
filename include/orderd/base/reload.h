/*
 * reload.h - SIGHUP: read the settings again and apply what can change
 * while running, as pgbouncer and nginx do.
 *
 * main.c owns one reload_hooks and registers, for each module with live
 * settings (config.c marks them), a hook that hands the new values to it.
 * On SIGHUP, reload_apply() loads a complete new configuration with the
 * same command line as at start-up (so flags and environment keep
 * winning over the file), then:
 *   - the file is bad (syntax, a bad value, unreadable): nothing changes,
 *     the error is logged with the reason, the old settings stay;
 *   - a setting that is not live changed: a warning names it; the daemon
 *     keeps its old value until the next restart;
 *   - live settings changed: each is logged old -> new and copied into
 *     the running configuration;
 *   - then every hook runs with it, after every accepted reload, whether
 *     or not its settings changed: a hook that reads a file of its own
 *     (keys named by a setting) picks up the file's new content.
 *
 * Hooks run on the main thread, one after the other, and never at the
 * same time as another reload.  The threads that read a live value run
 * meanwhile, so a hook must publish values in a way they can read
 * safely: an atomic per scalar (the values are independent numbers, and
 * a request reading the old timeout or the new one is fine either way),
 * or a pointer swap for anything larger, such as a set of keys (the old
 * one freed only when no reader can still hold it).  A hook must not
 * block for long: the signal thread also drives readiness and shutdown.
 * Why atomics and not one swapped configuration pointer: the live values
 * are read on every request (a deadline, a TTL), one relaxed load each
 * costs nothing there, and nothing has to be reclaimed; a whole swapped
 * struct would need a grace period before the old one could be freed,
 * since a request may hold it for its whole life.
 *
 * Adding a live setting: mark its row LIVE in config.c, and make its
 * module read it from its own atomic set by a hook registered here.
 */
#ifndef ORDERD_RELOAD_H
#define ORDERD_RELOAD_H

#include "orderd/base/config.h"

#define RELOAD_HOOKS_MAX 16

/* cfg is the running configuration after the reload; borrowed for the call. */
typedef void (*reload_fn)(void *ctx, const orderd_config *cfg);

typedef struct reload_hooks {
    int count;
    struct {
        const char *name; /* for the log: "server", "store", ... */
        reload_fn fn;
        void *ctx;
    } hook[RELOAD_HOOKS_MAX];
} reload_hooks;

/* Registers fn(ctx, cfg) under name (a static string); 0, or -1 when
 * RELOAD_HOOKS_MAX are registered already. */
int reload_hooks_add(reload_hooks *hooks, const char *name, reload_fn fn, void *ctx);

/* Runs every hook, in the order they were added. */
void reload_hooks_run(const reload_hooks *hooks, const orderd_config *cfg);

/*
 * Reloads as described above; running is the configuration in force,
 * whose live settings are updated.  argc/argv are main()'s.  Returns the
 * number of live settings that changed (the hooks ran even when 0), or
 * -1 when the new configuration was refused (no hook ran).
 */
int reload_apply(const reload_hooks *hooks, orderd_config *running, int argc, char **argv);

#endif
