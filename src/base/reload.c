/*
 * reload.c - SIGHUP's configuration reload (reload.h).
 */
#include "orderd/base/reload.h"

#include <stdlib.h>
#include <string.h>

#include "orderd/base/log.h"

int reload_hooks_add(reload_hooks *hooks, const char *name, reload_fn fn, void *ctx)
{
    if (hooks->count == RELOAD_HOOKS_MAX)
        return -1;
    hooks->hook[hooks->count].name = name;
    hooks->hook[hooks->count].fn = fn;
    hooks->hook[hooks->count].ctx = ctx;
    hooks->count++;
    return 0;
}

void reload_hooks_run(const reload_hooks *hooks, const orderd_config *cfg)
{
    for (int i = 0; i < hooks->count; i++)
        hooks->hook[i].fn(hooks->hook[i].ctx, cfg);
}

/* What one reload found, for the summary line. */
typedef struct reload_tally {
    int live;
    int kept;
} reload_tally;

static void log_change(void *ctx, const char *key, bool live, const char *old_value,
                       const char *new_value)
{
    reload_tally *tally = ctx;
    char extra[2400];
    char old_json[1100], new_json[1100];
    log_json_escape(old_json, sizeof old_json, old_value);
    log_json_escape(new_json, sizeof new_json, new_value);
    snprintf(extra, sizeof extra, "\"setting\":\"%s\",\"old\":\"%s\",\"new\":\"%s\"", key, old_json,
             new_json);
    if (live) {
        tally->live++;
        log_write(LOG_INFO, NULL, extra, "reload: %s changed", key);
    } else {
        tally->kept++;
        log_write(LOG_WARN, NULL, extra,
                  "reload: %s cannot change while running; keeping the old value until a restart",
                  key);
    }
}

int reload_apply(const reload_hooks *hooks, orderd_config *running, int argc, char **argv)
{
    /* a whole configuration on the heap: it is a few kilobytes */
    orderd_config *next = malloc(sizeof *next);
    char err[512];
    if (!next) {
        LOG(LOG_ERROR, NULL, "reload: out of memory; keeping the old configuration");
        return -1;
    }
    if (config_load(next, argc, argv, err, sizeof err) != 0) {
        char extra[700], why[600];
        log_json_escape(why, sizeof why, err);
        snprintf(extra, sizeof extra, "\"error\":\"%s\"", why);
        log_write(LOG_ERROR, NULL, extra, "reload refused, keeping the old configuration: %s", err);
        free(next);
        return -1;
    }
    /* max_connections = 0 means "what the descriptor limit allows", sized
     * once at start (main.c): the file still saying 0 is no change */
    if (next->max_connections == 0)
        next->max_connections = running->max_connections;
    reload_tally tally = {0, 0};
    config_diff(running, next, log_change, &tally);
    config_copy_live(running, next);
    free(next);
    /* every time, changed or not: a hook may read a file of its own (a
     * key set) whose content changed while its setting did not */
    reload_hooks_run(hooks, running);
    LOG(LOG_INFO, NULL, "reload done: %d live setting(s) applied, %d kept until a restart",
        tally.live, tally.kept);
    return tally.live;
}
