/*
 * migrate.h - applies sql/NNNN_name.sql files in order, once each.
 *
 * Applied versions are recorded in schema_migrations(version, name,
 * applied_at).  A session-level advisory lock, held on the one migration
 * connection for the whole run, makes concurrent runs (two replicas
 * starting together) safe: one applies, the other waits and then finds
 * nothing to do.  Each file runs in its own transaction together with its
 * schema_migrations row, so files must not contain BEGIN/COMMIT.
 * Only names of the form NNNN_<name>.sql (four digits) are considered.
 */
#ifndef ORDERD_MIGRATE_H
#define ORDERD_MIGRATE_H

/* Returns 0 on success (including "nothing to do"), -1 after logging why. */
int migrate_run(const char *db_url, const char *sql_dir);

#endif
