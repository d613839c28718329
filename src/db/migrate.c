/*
 * migrate.c - applies sql/NNNN_name.sql files in order, once each.
 *
 * One connection does everything: it takes a session-level advisory lock
 * first, so a second `orderd migrate` (another replica starting at the
 * same moment) blocks there until the first has finished, then reads
 * schema_migrations and finds nothing left to do.  The lock is taken
 * before schema_migrations is created because CREATE TABLE IF NOT EXISTS
 * itself races (two sessions can both pass the "not exists" check).
 */
#include "orderd/db/migrate.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orderd/base/buf.h"
#include "orderd/base/log.h"

/* Any fixed 64-bit value works as long as nothing else in the database
 * uses it; this one is "orderd" in ASCII followed by 0x0001. */
#define MIGRATE_LOCK_KEY "8030591472428646401" /* 0x6f72646572640001 */

#define MIGRATE_VERSION_DIGITS 4

typedef struct migration {
    int version;
    char name[256]; /* file name, e.g. "0001_orders.sql" */
} migration;

/* ---- files -------------------------------------------------------------- */

/* NNNN_<something>.sql, exactly four digits. */
static bool migration_name_parse(const char *name, int *version)
{
    size_t len = strlen(name);
    if (len < MIGRATE_VERSION_DIGITS + 1 + 4 + 1 || len >= sizeof(((migration *)0)->name))
        return false;
    int v = 0;
    for (int i = 0; i < MIGRATE_VERSION_DIGITS; i++) {
        if (!isdigit((unsigned char)name[i]))
            return false;
        v = v * 10 + (name[i] - '0');
    }
    if (name[MIGRATE_VERSION_DIGITS] != '_' || strcmp(name + len - 4, ".sql") != 0)
        return false;
    *version = v;
    return true;
}

static int migration_cmp(const void *a, const void *b)
{
    const migration *x = a, *y = b;
    return (x->version > y->version) - (x->version < y->version);
}

/* Lists the migration files of dir sorted by version; -1 on error. */
static int migration_list(const char *dir, migration **out, size_t *count)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        LOG(LOG_ERROR, NULL, "migrate: cannot open sql dir %s: %s", dir, strerror(errno));
        return -1;
    }
    migration *list = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        int version;
        if (!migration_name_parse(e->d_name, &version))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            migration *grown = realloc(list, cap * sizeof *list);
            if (grown == NULL) {
                LOG(LOG_ERROR, NULL, "migrate: out of memory");
                rc = -1;
                goto out;
            }
            list = grown;
        }
        list[n].version = version;
        snprintf(list[n].name, sizeof list[n].name, "%s", e->d_name);
        n++;
    }
    if (n > 0)
        qsort(list, n, sizeof *list, migration_cmp);
    for (size_t i = 1; i < n; i++) {
        if (list[i].version == list[i - 1].version) {
            LOG(LOG_ERROR, NULL, "migrate: %s and %s have the same version", list[i - 1].name,
                list[i].name);
            rc = -1;
            goto out;
        }
    }
out:
    closedir(d);
    if (rc != 0) {
        free(list);
        return -1;
    }
    *out = list;
    *count = n;
    return 0;
}

static char *file_read(const char *dir, const char *name)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        LOG(LOG_ERROR, NULL, "migrate: cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    buf text = BUF_INIT;
    char chunk[4096];
    size_t got;
    while (!text.failed && (got = fread(chunk, 1, sizeof chunk, f)) > 0)
        buf_append(&text, chunk, got);
    char *out = NULL;
    if (ferror(f))
        LOG(LOG_ERROR, NULL, "migrate: cannot read %s", path);
    else if (!(out = buf_steal(&text, NULL)))
        LOG(LOG_ERROR, NULL, "migrate: out of memory reading %s", path);
    buf_free(&text);
    fclose(f);
    return out;
}

/* ---- database ----------------------------------------------------------- */

/* libpq messages end with a newline, which would break a log line. */
static const char *pq_message(const char *msg)
{
    static __thread char line[512];
    snprintf(line, sizeof line, "%s", msg);
    size_t n = strlen(line);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == ' '))
        line[--n] = '\0';
    return line;
}

/* Runs sql; true when it succeeded.  what names the step for the log. */
static bool run(PGconn *conn, const char *sql, const char *what)
{
    PGresult *res = PQexec(conn, sql);
    ExecStatusType st = PQresultStatus(res);
    bool ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
    if (!ok)
        LOG(LOG_ERROR, NULL, "migrate: %s failed: %s", what, pq_message(PQerrorMessage(conn)));
    PQclear(res);
    return ok;
}

/* Versions already recorded, as a sorted array; -1 on error. */
static int applied_versions(PGconn *conn, int **out, int *count)
{
    PGresult *res = PQexec(conn, "SELECT version FROM schema_migrations ORDER BY version");
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        LOG(LOG_ERROR, NULL, "migrate: reading schema_migrations failed: %s",
            pq_message(PQerrorMessage(conn)));
        PQclear(res);
        return -1;
    }
    int n = PQntuples(res);
    int *versions = malloc(sizeof *versions * (size_t)(n > 0 ? n : 1));
    if (versions == NULL) {
        PQclear(res);
        return -1;
    }
    for (int i = 0; i < n; i++)
        versions[i] = atoi(PQgetvalue(res, i, 0));
    PQclear(res);
    *out = versions;
    *count = n;
    return 0;
}

static bool version_applied(const int *versions, int count, int version)
{
    for (int i = 0; i < count; i++)
        if (versions[i] == version)
            return true;
    return false;
}

/*
 * Applies one file inside its own transaction together with its
 * schema_migrations row, so a failure leaves neither behind.  Files must
 * therefore not contain their own BEGIN/COMMIT (nor statements such as
 * CREATE INDEX CONCURRENTLY that refuse to run in a transaction).
 */
static bool apply_one(PGconn *conn, const char *dir, const migration *m)
{
    char *sql = file_read(dir, m->name);
    if (sql == NULL)
        return false;
    bool ok = false;
    if (!run(conn, "BEGIN", "BEGIN"))
        goto out;
    if (!run(conn, sql, m->name))
        goto rollback;

    char version[16];
    snprintf(version, sizeof version, "%d", m->version);
    const char *params[2] = {version, m->name};
    PGresult *res = PQexecParams(conn,
                                 "INSERT INTO schema_migrations (version, name) "
                                 "VALUES ($1::int, $2::text)",
                                 2, NULL, params, NULL, NULL, 0);
    bool recorded = PQresultStatus(res) == PGRES_COMMAND_OK;
    if (!recorded)
        LOG(LOG_ERROR, NULL, "migrate: recording %s failed: %s", m->name,
            pq_message(PQerrorMessage(conn)));
    PQclear(res);
    if (!recorded)
        goto rollback;
    ok = run(conn, "COMMIT", "COMMIT");
    goto out;

rollback:
    run(conn, "ROLLBACK", "ROLLBACK");
out:
    free(sql);
    return ok;
}

int migrate_run(const char *db_url, const char *sql_dir)
{
    migration *files = NULL;
    size_t file_count = 0;
    int *applied = NULL;
    int applied_count = 0;
    int rc = -1;
    int done = 0;

    if (migration_list(sql_dir, &files, &file_count) != 0)
        return -1;

    const char *keys[] = {"application_name", "dbname", NULL};
    const char *values[] = {"orderd-migrate", db_url, NULL};
    PGconn *conn = PQconnectdbParams(keys, values, 1);
    if (PQstatus(conn) != CONNECTION_OK) {
        LOG(LOG_ERROR, NULL, "migrate: cannot connect: %s", pq_message(PQerrorMessage(conn)));
        goto out;
    }
    /* IF NOT EXISTS notices would otherwise go to stderr as raw text. */
    if (!run(conn, "SET client_min_messages = warning", "SET client_min_messages"))
        goto out;
    if (!run(conn, "SELECT pg_advisory_lock(" MIGRATE_LOCK_KEY ")", "taking the migration lock"))
        goto out;
    if (!run(conn,
             "CREATE TABLE IF NOT EXISTS schema_migrations ("
             " version int PRIMARY KEY,"
             " name text NOT NULL,"
             " applied_at timestamptz NOT NULL DEFAULT now())",
             "creating schema_migrations"))
        goto out;
    if (applied_versions(conn, &applied, &applied_count) != 0)
        goto out;

    for (size_t i = 0; i < file_count; i++) {
        if (version_applied(applied, applied_count, files[i].version))
            continue;
        if (!apply_one(conn, sql_dir, &files[i]))
            goto out;
        LOG(LOG_INFO, NULL, "migrate: applied %s", files[i].name);
        done++;
    }
    LOG(LOG_INFO, NULL, "migrate: %d applied, %d already present", done, applied_count);
    rc = 0;

out:
    /* Closing the session would release the lock too; unlocking first
     * lets a waiting replica go on without waiting for the disconnect. */
    if (PQstatus(conn) == CONNECTION_OK) {
        PGresult *res = PQexec(conn, "SELECT pg_advisory_unlock_all()");
        PQclear(res);
    }
    PQfinish(conn);
    free(applied);
    free(files);
    return rc;
}
