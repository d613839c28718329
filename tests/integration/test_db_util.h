/*
 * test_db_util.h - shared set-up for the database integration tests.
 *
 * ORDERD_TEST_DB_URL names an admin connection (libpq URI or conninfo) to
 * a running PostgreSQL on which the test may CREATE DATABASE.  Each test
 * program makes its own database, named after the program and its pid,
 * applies sql/ with migrate_run and drops the database at the end.
 * Missing ORDERD_TEST_DB_URL is a failure, never a skip: a test that
 * silently does nothing would hide a broken CI set-up.
 */
#ifndef ORDERD_TEST_DB_UTIL_H
#define ORDERD_TEST_DB_UTIL_H

#include <libpq-fe.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct test_db {
    char admin_url[1024];
    char name[64];
    char conninfo[2048]; /* the admin URL's settings with dbname = name */
    char sql_dir[1024];
} test_db;

/* Reads the environment; on a problem prints why and returns -1. */
static int test_db_env(test_db *db, const char *prefix)
{
    const char *url = getenv("ORDERD_TEST_DB_URL");
    if (url == NULL || url[0] == '\0') {
        fprintf(stderr, "FAIL: ORDERD_TEST_DB_URL is not set.  It must be a libpq URL of a "
                        "running PostgreSQL with the right to CREATE DATABASE, e.g. "
                        "postgresql://postgres@127.0.0.1:5432/postgres\n");
        return -1;
    }
    snprintf(db->admin_url, sizeof db->admin_url, "%s", url);
    snprintf(db->name, sizeof db->name, "%s_%ld", prefix, (long)getpid());
    const char *dir = getenv("ORDERD_SQL_DIR");
    snprintf(db->sql_dir, sizeof db->sql_dir, "%s", dir != NULL && dir[0] ? dir : ORDERD_SQL_DIR);
    return 0;
}

/* Appends key='value' (quoted as conninfo wants) to out. */
static void conninfo_append(char *out, size_t outlen, const char *key, const char *value)
{
    size_t len = strlen(out);
    len += (size_t)snprintf(out + len, outlen - len, "%s%s='", len ? " " : "", key);
    for (const char *p = value; *p != '\0' && len + 3 < outlen; p++) {
        if (*p == '\'' || *p == '\\')
            out[len++] = '\\';
        out[len++] = *p;
    }
    snprintf(out + len, outlen - len, "'");
}

static void test_db_notice_ignore(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

static PGconn *test_db_connect(const char *conninfo)
{
    const char *keys[] = {"dbname", NULL};
    const char *values[] = {conninfo, NULL};
    PGconn *conn = PQconnectdbParams(keys, values, 1);
    if (PQstatus(conn) != CONNECTION_OK) {
        fprintf(stderr, "cannot connect: %s", PQerrorMessage(conn));
        PQfinish(conn);
        return NULL;
    }
    /* "does not exist, skipping" and friends are expected noise. */
    PQsetNoticeProcessor(conn, test_db_notice_ignore, NULL);
    return conn;
}

/* Runs sql (printf-style); returns the first value as a static copy, or
 * NULL after printing the error.  "" for commands without rows. */
static const char *test_db_query(PGconn *conn, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static const char *test_db_query(PGconn *conn, const char *fmt, ...)
{
    static char value[4096];
    char sql[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    PGresult *res = PQexec(conn, sql);
    ExecStatusType st = PQresultStatus(res);
    const char *out = NULL;
    if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
        snprintf(value, sizeof value, "%s",
                 st == PGRES_TUPLES_OK && PQntuples(res) > 0 ? PQgetvalue(res, 0, 0) : "");
        out = value;
    } else {
        fprintf(stderr, "query failed: %s\n  %s", sql, PQerrorMessage(conn));
    }
    PQclear(res);
    return out;
}

/* Creates the fresh database and fills db->conninfo; -1 on failure. */
static int test_db_create(test_db *db)
{
    PQconninfoOption *opts = PQconninfoParse(db->admin_url, NULL);
    if (opts == NULL) {
        fprintf(stderr, "FAIL: ORDERD_TEST_DB_URL is not a valid libpq URL or conninfo\n");
        return -1;
    }
    db->conninfo[0] = '\0';
    for (PQconninfoOption *o = opts; o->keyword != NULL; o++)
        if (o->val != NULL && o->val[0] != '\0' && strcmp(o->keyword, "dbname") != 0)
            conninfo_append(db->conninfo, sizeof db->conninfo, o->keyword, o->val);
    PQconninfoFree(opts);
    conninfo_append(db->conninfo, sizeof db->conninfo, "dbname", db->name);

    PGconn *admin = test_db_connect(db->admin_url);
    if (admin == NULL)
        return -1;
    int rc = 0;
    if (test_db_query(admin, "DROP DATABASE IF EXISTS %s WITH (FORCE)", db->name) == NULL ||
        test_db_query(admin, "CREATE DATABASE %s", db->name) == NULL)
        rc = -1;
    PQfinish(admin);
    return rc;
}

static void test_db_drop(const test_db *db)
{
    PGconn *admin = test_db_connect(db->admin_url);
    if (admin == NULL)
        return;
    test_db_query(admin, "DROP DATABASE IF EXISTS %s WITH (FORCE)", db->name);
    PQfinish(admin);
}

#endif
