/*
 * config.c - the settings table and its loader.
 *
 * Every setting is one row of `settings` below; parsing, validation,
 * environment and flag names, --help and --print-config all come from
 * that row, so adding a setting is adding a row (and a struct member).
 * Defaults are strings run through the same parser as user input, so a
 * default can never bypass validation.
 */
#include "orderd/base/config.h"

#include "orderd/base/paths.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#ifndef ORDERD_VERSION
#define ORDERD_VERSION "unknown"
#endif

#define MAX_THREADS 256

typedef enum setting_type {
    SETTING_STRING,
    SETTING_INT,
    SETTING_SIZE, /* bytes, with an optional K or M suffix */
    SETTING_BOOL,
    SETTING_LOG_LEVEL,
    SETTING_LISTEN, /* host:port into listen_host + listen_port */
} setting_type;

typedef struct setting {
    const char *key;
    setting_type type;
    const char *default_value; /* NULL: decided at run time, see default_of */
    long long min, max;        /* SETTING_INT, SETTING_SIZE */
    unsigned flags;            /* SETTING_SECRET | SETTING_LIVE */
    size_t offset;             /* into orderd_config */
    size_t size;               /* of the member: capacity for SETTING_STRING */
    const char *help;
} setting;

/*
 * SECRET: masked by --print-config and in reload messages, never echoed
 * in errors (1, so a row written with `true` there still means secret).
 * LIVE: a reload (SIGHUP) applies a new value to the running daemon; a
 * change to any other setting is named in a warning and waits for a
 * restart (reload.h).
 */
enum { SETTING_SECRET = 1u, SETTING_LIVE = 2u };
#define SECRET SETTING_SECRET
#define LIVE   SETTING_LIVE

#define AT(member) offsetof(orderd_config, member), sizeof(((orderd_config *)0)->member)
#define KIB        1024LL
#define MIB        (1024LL * 1024LL)

/* The order here is the order of --help, --print-config and the sample file. */
static const setting settings[] = {
    {"listen", SETTING_LISTEN, "127.0.0.1:8080", 0, 0, 0, AT(listen_host),
     "address to listen on: IPv4:port, localhost:port or [IPv6]:port"},
    {"threads", SETTING_INT, "0", 0, MAX_THREADS, 0, AT(threads),
     "HTTP polling threads; 0 = one per online CPU"},
    {"io_workers", SETTING_INT, "0", 0, 1024, 0, AT(io_workers),
     "worker threads for blocking database calls; 0 = db_pool_size"},
    {"max_connections", SETTING_INT, "0", 0, 1000000, 0, AT(max_connections),
     "most simultaneous client connections; 0 = as many as the file descriptor limit "
     "(RLIMIT_NOFILE, raised to its hard limit at start) leaves room for"},
    {"max_connections_per_address", SETTING_INT, "256", 0, 1000000, 0,
     AT(max_connections_per_address),
     "most simultaneous connections from one client address; 0 = no limit. Behind a proxy "
     "every connection comes from the proxy: raise it above the proxy's connections or use 0"},
    {"idle_timeout_s", SETTING_INT, "60", 1, 86400, 0, AT(idle_timeout_s),
     "seconds before an idle client connection is closed"},
    {"request_head_timeout_ms", SETTING_INT, "10000", 10, 3600000, 0, AT(request_head_timeout_ms),
     "deadline for a request's line and headers: from the connect for the first request, "
     "from its request line for later ones on a kept-alive connection"},
    {"request_body_timeout_ms", SETTING_INT, "30000", 10, 3600000, 0, AT(request_body_timeout_ms),
     "deadline for a request's body, from the end of its headers"},
    {"connection_memory_limit", SETTING_SIZE, "16384", 4 * KIB, 64 * MIB, 0,
     AT(connection_memory_limit),
     "memory per connection for headers and buffers; MHD zeroes it on every request"},
    {"body_limit", SETTING_SIZE, "65536", 1, 64 * MIB, 0, AT(body_limit),
     "largest accepted request body; larger gets 413"},
    {"request_timeout_ms", SETTING_INT, "5000", 1, 3600000, LIVE, AT(request_timeout_ms),
     "deadline for one request, database work included"},
    {"drain_timeout_ms", SETTING_INT, "10000", 0, 3600000, LIVE, AT(drain_timeout_ms),
     "on SIGTERM, how long in-flight requests may still finish"},
    {"db_url", SETTING_STRING, "", 0, 0, SECRET, AT(db_url),
     "PostgreSQL libpq URI or conninfo; empty = not configured"},
    {"db_pool_size", SETTING_INT, "8", 1, 1024, 0, AT(db_pool_size),
     "PostgreSQL connections in the pool"},
    {"db_acquire_timeout_ms", SETTING_INT, "1000", 1, 600000, LIVE, AT(db_acquire_timeout_ms),
     "wait for a free pool connection before answering 503"},
    {"db_statement_timeout_ms", SETTING_INT, "5000", 0, 3600000, 0, AT(db_statement_timeout_ms),
     "PostgreSQL statement_timeout; 0 = no limit"},
    {"db_connect_timeout_ms", SETTING_INT, "2000", 1, 600000, 0, AT(db_connect_timeout_ms),
     "timeout of one connection attempt to PostgreSQL"},
    {"db_prepared", SETTING_BOOL, "true", 0, 0, 0, AT(db_prepared),
     "named prepared statements; false for pgbouncer transaction pooling"},
    {"db_trace_application_name", SETTING_BOOL, "true", 0, 0, 0, AT(db_trace_application_name),
     "each statement runs with application_name <name>/<traceparent> of its request"},
    {"sql_dir", SETTING_STRING, NULL, 0, 0, 0, AT(sql_dir),
     "folder of SQL migrations applied by \"orderd migrate\""},
    {"redis_url", SETTING_STRING, "", 0, 0, SECRET, AT(redis_url),
     "redis://[:password@]host:port[/db] for the cache; empty = caching off"},
    {"redis_connect_timeout_ms", SETTING_INT, "50", 1, 60000, 0, AT(redis_connect_timeout_ms),
     "timeout of one connection attempt to Redis"},
    {"redis_command_timeout_ms", SETTING_INT, "50", 1, 60000, 0, AT(redis_command_timeout_ms),
     "timeout of one Redis command"},
    {"redis_failure_threshold", SETTING_INT, "3", 1, 1000, 0, AT(redis_failure_threshold),
     "consecutive Redis failures that open the circuit breaker"},
    {"redis_probe_interval_ms", SETTING_INT, "250", 10, 60000, 0, AT(redis_probe_interval_ms),
     "while the breaker is open, how often Redis is probed"},
    {"cache_ttl_s", SETTING_INT, "120", 1, 86400, LIVE, AT(cache_ttl_s),
     "lifetime of a cached order, before jitter"},
    {"cache_ttl_jitter_pct", SETTING_INT, "10", 0, 50, LIVE, AT(cache_ttl_jitter_pct),
     "random +/- percent on every TTL, so keys filled together expire apart"},
    {"cache_negative_ttl_s", SETTING_INT, "5", 1, 3600, LIVE, AT(cache_negative_ttl_s),
     "lifetime of a cached \"no such order\""},
    {"cache_list_ttl_s", SETTING_INT, "30", 1, 86400, LIVE, AT(cache_list_ttl_s),
     "lifetime of a cached list page"},
    {"hot_cache_entries", SETTING_INT, "100000", 0, 100000000, 0, AT(hot_cache_entries),
     "orders kept in process memory in front of Redis; 0 = off"},
    {"hot_cache_list_mib", SETTING_INT, "64", 0, 65536, 0, AT(hot_cache_list_mib),
     "MiB of list pages kept in process memory beside the hot cache; 0 = off"},
    {"hot_cache_max_age_ms", SETTING_INT, "30000", 1, 600000, LIVE, AT(hot_cache_max_age_ms),
     "longest an in-process entry is served, as a bound on top of invalidation"},
    {"invalidation_sync_interval_ms", SETTING_INT, "1000", 10, 60000, 0,
     AT(invalidation_sync_interval_ms),
     "how often the PostgreSQL change log is read to confirm no change was missed"},
    {"cache_xfetch_beta_pct", SETTING_INT, "100", 0, 1000, LIVE, AT(cache_xfetch_beta_pct),
     "early-refresh eagerness (XFetch beta x 100); 0 = refresh only at expiry"},
    {"cache_lookup_min_hit_pct", SETTING_INT, "20", 0, 100, 0, AT(cache_lookup_min_hit_pct),
     "while Redis hits and re-reads are both below this percent of the reads that miss memory, "
     "those skip Redis (1 in 32 still ask); 0 = always ask"},
    {"jwt_secret", SETTING_STRING, "", 0, 0, SECRET, AT(jwt_secret),
     "HS256 shared secret for bearer tokens; empty = no HS256 (auth is off with no key at all)"},
    {"jwt_public_key_file", SETTING_STRING, "", 0, 0, 0, AT(jwt_public_key_file),
     "PEM public key (RSA or EC P-256) or JWKS file for RS256/ES256 tokens; reread on SIGHUP"},
    {"jwt_leeway_s", SETTING_INT, "30", 0, 600, 0, AT(jwt_leeway_s),
     "seconds of clock skew allowed on exp and nbf"},
    {"jwt_issuer", SETTING_STRING, "", 0, 0, 0, AT(jwt_issuer),
     "required iss claim; empty = not checked"},
    {"jwt_audience", SETTING_STRING, "", 0, 0, 0, AT(jwt_audience),
     "required aud claim (a string, or one of an array); empty = not checked"},
    {"rate_limit_rps", SETTING_INT, "0", 0, 1000000, 0, AT(rate_limit_rps),
     "requests per second per client (token sub, else address), shared by replicas; 0 = off"},
    {"rate_limit_burst", SETTING_INT, "0", 0, 10000000, 0, AT(rate_limit_burst),
     "requests a client may send at once above the rate; 0 = rate_limit_rps"},
    {"rate_limit_auth_fail_per_min", SETTING_INT, "30", 0, 1000000, 0,
     AT(rate_limit_auth_fail_per_min),
     "requests failing authentication per client address per minute, then 429; 0 = off"},
    {"rate_limit_auth_fail_burst", SETTING_INT, "10", 1, 1000000, 0, AT(rate_limit_auth_fail_burst),
     "failed-authentication requests allowed at once per address"},
    {"trusted_proxies", SETTING_STRING, "", 0, 0, 0, AT(trusted_proxies),
     "comma-separated addresses or CIDRs whose X-Forwarded-For names the client; empty = none"},
    {"log_level", SETTING_LOG_LEVEL, "info", 0, 0, LIVE, AT(log_level),
     "least severe level logged: debug, info, warn or error"},
    {"access_log", SETTING_BOOL, "true", 0, 0, LIVE, AT(access_log), "one JSON line per request"},
};

#define SETTING_COUNT (sizeof settings / sizeof settings[0])

/* ---- names and messages ------------------------------------------------ */

/* Writes the message into the caller's err buffer; err may be NULL. */
static void format_error(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void format_error(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static const setting *find_key(const char *key)
{
    for (size_t i = 0; i < SETTING_COUNT; i++)
        if (strcmp(settings[i].key, key) == 0)
            return &settings[i];
    return NULL;
}

/* name is a flag without its "--", e.g. "db-pool-size"; '_' is not accepted. */
static const setting *find_flag(const char *name, size_t len)
{
    for (size_t i = 0; i < SETTING_COUNT; i++) {
        const char *k = settings[i].key;
        size_t j = 0;
        while (j < len && k[j] != '\0' && (k[j] == '_' ? name[j] == '-' : name[j] == k[j]))
            j++;
        if (j == len && k[j] == '\0')
            return &settings[i];
    }
    return NULL;
}

/* "ORDERD_DB_POOL_SIZE" for db_pool_size. */
static void env_name(const setting *s, char *out, size_t outlen)
{
    size_t n = (size_t)snprintf(out, outlen, "ORDERD_%s", s->key);
    for (size_t i = 0; i < n && i < outlen; i++)
        out[i] = (char)toupper((unsigned char)out[i]);
}

/* "--db-pool-size" for db_pool_size. */
static void flag_name(const setting *s, char *out, size_t outlen)
{
    size_t n = (size_t)snprintf(out, outlen, "--%s", s->key);
    for (size_t i = 0; i < n && i < outlen; i++)
        if (out[i] == '_')
            out[i] = '-';
}

/* ---- parsing one value ------------------------------------------------- */

/* Strict decimal: optional '-', digits, nothing else. */
static bool parse_ll(const char *s, long long *out)
{
    if (!(isdigit((unsigned char)s[0]) || (s[0] == '-' && isdigit((unsigned char)s[1]))))
        return false;
    char *end;
    errno = 0;
    *out = strtoll(s, &end, 10);
    return errno == 0 && *end == '\0';
}

/* Non-negative bytes with an optional K or M suffix (either case). */
static bool parse_size(const char *s, long long *out)
{
    char digits[32];
    size_t n = strlen(s);
    if (n == 0 || n >= sizeof digits)
        return false;
    memcpy(digits, s, n + 1);
    long long mult = 1;
    if (digits[n - 1] == 'K' || digits[n - 1] == 'k')
        mult = KIB;
    else if (digits[n - 1] == 'M' || digits[n - 1] == 'm')
        mult = MIB;
    if (mult != 1)
        digits[n - 1] = '\0';
    long long v;
    if (digits[0] == '-' || !parse_ll(digits, &v) || v > LLONG_MAX / mult)
        return false;
    *out = v * mult;
    return true;
}

/* true/false, 1/0, yes/no, on/off, in any case. */
static bool parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"true", "1", "yes", "on"};
    static const char *const no[] = {"false", "0", "no", "off"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = true;
            return true;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = false;
            return true;
        }
    }
    return false;
}

static bool parse_port(const char *s, uint16_t *out)
{
    long long v;
    if (s[0] == '-' || !parse_ll(s, &v) || v < 1 || v > 65535)
        return false;
    *out = (uint16_t)v;
    return true;
}

/*
 * host:port, localhost:port or [IPv6]:port into host (hostlen bytes) and
 * port.  localhost is stored as 127.0.0.1, so the daemon never depends on
 * what a resolver makes of the name; any other host must be an address.
 */
static bool parse_listen(const char *s, char *host, size_t hostlen, uint16_t *port)
{
    char buf[128];
    if (strlen(s) >= sizeof buf)
        return false;
    strcpy(buf, s);
    const char *h, *p;
    unsigned char addr[16];
    if (buf[0] == '[') {
        char *close = strchr(buf, ']');
        if (!close || close[1] != ':')
            return false;
        *close = '\0';
        h = buf + 1;
        p = close + 2;
        if (inet_pton(AF_INET6, h, addr) != 1)
            return false;
    } else {
        char *colon = strrchr(buf, ':');
        if (!colon)
            return false;
        *colon = '\0';
        h = buf;
        p = colon + 1;
        if (strcasecmp(h, "localhost") == 0)
            h = "127.0.0.1";
        else if (inet_pton(AF_INET, h, addr) != 1)
            return false;
    }
    if (!parse_port(p, port) || strlen(h) >= hostlen)
        return false;
    strcpy(host, h);
    return true;
}

/*
 * Checks value against s and stores it into s's member of cfg.  source
 * says where the value came from ("default", "ORDERD_X", "--x",
 * "file:line"), so the message can send the reader there; a secret value
 * is shown as **** in it.  -1 with err set when the value is bad.
 */
static int apply_setting(orderd_config *cfg, const setting *s, const char *value,
                         const char *source, char *err, size_t errlen)
{
    char *member = (char *)cfg + s->offset;
    const char *shown = (s->flags & SETTING_SECRET) ? "****" : value;
    long long v;
    switch (s->type) {
    case SETTING_STRING:
        if (strlen(value) >= s->size) {
            format_error(err, errlen, "%s: longer than %zu bytes (from %s)", s->key, s->size - 1,
                         source);
            return -1;
        }
        strcpy(member, value);
        return 0;
    case SETTING_INT:
        if (!parse_ll(value, &v) || v < s->min || v > s->max) {
            format_error(err, errlen,
                         "%s: must be an integer from %lld to %lld, got \"%s\" (from %s)", s->key,
                         s->min, s->max, shown, source);
            return -1;
        }
        *(int *)member = (int)v;
        return 0;
    case SETTING_SIZE:
        if (!parse_size(value, &v) || v < s->min || v > s->max) {
            format_error(err, errlen,
                         "%s: must be a size from %lld to %lld bytes (a K or M suffix is allowed), "
                         "got \"%s\" (from %s)",
                         s->key, s->min, s->max, shown, source);
            return -1;
        }
        *(size_t *)member = (size_t)v;
        return 0;
    case SETTING_BOOL:
        if (!parse_bool(value, (bool *)member)) {
            format_error(err, errlen,
                         "%s: must be true or false (or 1/0, yes/no, on/off), got \"%s\" (from %s)",
                         s->key, shown, source);
            return -1;
        }
        return 0;
    case SETTING_LOG_LEVEL:
        if (!log_level_parse(value, (log_level *)member)) {
            format_error(err, errlen,
                         "%s: must be one of debug, info, warn, error, got \"%s\" (from %s)",
                         s->key, shown, source);
            return -1;
        }
        return 0;
    case SETTING_LISTEN:
        if (!parse_listen(value, cfg->listen_host, sizeof cfg->listen_host, &cfg->listen_port)) {
            format_error(err, errlen,
                         "%s: must be host:port with an IPv4 address, localhost or [IPv6] and a "
                         "port from 1 to 65535, got \"%s\" (from %s)",
                         s->key, shown, source);
            return -1;
        }
        return 0;
    }
    return -1;
}

/* ---- sources ----------------------------------------------------------- */

/* Cuts the white space off both ends of s, in place. */
static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *end = s + strlen(s);
    while (end > s && isspace((unsigned char)end[-1]))
        *--end = '\0';
    return s;
}

/*
 * Cuts a value at its comment, in place: '#' starts one only at the
 * start or after white space, so a URL fragment such as "db#1" survives.
 */
static char *strip_comment(char *value)
{
    for (char *p = value; *p != '\0'; p++) {
        if (*p == '#' && (p == value || isspace((unsigned char)p[-1]))) {
            *p = '\0';
            break;
        }
    }
    return trim(value);
}

/*
 * One "key = value" line, changed in place.  A value in double quotes is
 * taken literally, '#' and surrounding spaces included; blank lines and
 * comment lines are skipped.  where ("file:line") goes into the message.
 */
static int apply_file_line(orderd_config *cfg, char *line, const char *where, char *err,
                           size_t errlen)
{
    line = trim(line);
    if (*line == '\0' || *line == '#')
        return 0;
    char *eq = strchr(line, '=');
    if (!eq) {
        format_error(err, errlen, "%s: expected \"key = value\"", where);
        return -1;
    }
    *eq = '\0';
    char *key = trim(line);
    const setting *s = find_key(key);
    if (!s) {
        format_error(err, errlen, "%s: unknown setting \"%s\"", where, key);
        return -1;
    }
    char *value = trim(eq + 1);
    if (*value == '"') {
        char *close = strchr(value + 1, '"');
        char *rest = close ? trim(close + 1) : NULL;
        if (!rest || (*rest != '\0' && *rest != '#')) {
            format_error(err, errlen, "%s: bad quoted value (from %s)", s->key, where);
            return -1;
        }
        *close = '\0';
        value++;
    } else {
        value = strip_comment(value);
    }
    return apply_setting(cfg, s, value, where, err, errlen);
}

/*
 * Applies every line of the file at path and records path as the file
 * that was read.  A missing file is no error unless the path was asked
 * for (explicit_path): the default path is read only when it exists.
 * source ("--config", "ORDERD_CONFIG", "default") goes into the message.
 */
static int load_file(orderd_config *cfg, const char *path, const char *source, bool explicit_path,
                     char *err, size_t errlen)
{
    int rc = -1;
    FILE *f = NULL;
    char *line = NULL;
    size_t cap = 0;
    if (strlen(path) >= sizeof cfg->config_path) {
        format_error(err, errlen, "config: path longer than %zu bytes (from %s)",
                     sizeof cfg->config_path - 1, source);
        goto out;
    }
    f = fopen(path, "r");
    if (!f) {
        if (!explicit_path && errno == ENOENT)
            rc = 0;
        else
            format_error(err, errlen, "config: cannot read \"%s\": %s (from %s)", path,
                         strerror(errno), source);
        goto out;
    }
    int lineno = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) != -1) {
        char where[400];
        snprintf(where, sizeof where, "%s:%d", path, ++lineno);
        /* the line is read as a C string: a NUL would cut off the rest of it unseen */
        if (memchr(line, '\0', (size_t)n)) {
            format_error(err, errlen, "%s: a NUL byte in the line", where);
            goto out;
        }
        if (apply_file_line(cfg, line, where, err, errlen) != 0)
            goto out;
    }
    if (ferror(f)) {
        format_error(err, errlen, "config: cannot read \"%s\": %s (from %s)", path, strerror(errno),
                     source);
        goto out;
    }
    strcpy(cfg->config_path, path);
    rc = 0;
out:
    free(line);
    if (f)
        fclose(f);
    return rc;
}

/* Every setting whose ORDERD_<KEY> variable is set. */
static int load_env(orderd_config *cfg, char *err, size_t errlen)
{
    for (size_t i = 0; i < SETTING_COUNT; i++) {
        char name[64];
        env_name(&settings[i], name, sizeof name);
        const char *value = getenv(name);
        if (value && apply_setting(cfg, &settings[i], value, name, err, errlen) != 0)
            return -1;
    }
    return 0;
}

/* What the command line asked for apart from settings. */
typedef struct command_line {
    const char *config_path; /* --config, NULL when absent */
    orderd_command command;
    bool print_config;
    bool probe;
} command_line;

/*
 * Walks argv.  With cfg == NULL it only checks the shape (unknown flags,
 * missing values, commands) and fills cl; with cfg it applies the
 * settings, which happens after the file and the environment so flags win.
 */
static int scan_args(int argc, char **argv, command_line *cl, orderd_config *cfg, char *err,
                     size_t errlen)
{
    bool have_command = false;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0 || strcmp(arg, "--version") == 0)
            continue; /* answered by config_load before anything is parsed */
        if (strcmp(arg, "--print-config") == 0) {
            cl->print_config = true;
            continue;
        }
        if (strcmp(arg, "--probe") == 0) {
            cl->probe = true;
            continue;
        }
        if (arg[0] != '-') {
            if (have_command) {
                format_error(err, errlen, "unexpected argument \"%s\" (see --help)", arg);
                return -1;
            }
            if (strcmp(arg, "serve") == 0) {
                cl->command = ORDERD_CMD_SERVE;
            } else if (strcmp(arg, "migrate") == 0) {
                cl->command = ORDERD_CMD_MIGRATE;
            } else {
                format_error(err, errlen, "unknown command \"%s\" (commands: serve, migrate)", arg);
                return -1;
            }
            have_command = true;
            continue;
        }
        if (strncmp(arg, "--", 2) != 0) {
            format_error(err, errlen, "unknown flag \"%s\" (see --help)", arg);
            return -1;
        }
        const char *name = arg + 2;
        const char *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        bool is_config = len == 6 && strncmp(name, "config", 6) == 0;
        const setting *s = is_config ? NULL : find_flag(name, len);
        if (!is_config && !s) {
            format_error(err, errlen, "unknown flag \"--%.*s\" (see --help)", (int)len, name);
            return -1;
        }
        const char *value;
        if (eq) {
            value = eq + 1;
        } else if (i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0) {
            value = argv[++i];
        } else {
            format_error(err, errlen, "%s: --%.*s needs a value", s ? s->key : "config", (int)len,
                         name);
            return -1;
        }
        if (!s) {
            cl->config_path = value;
        } else if (cfg) {
            char source[80];
            flag_name(s, source, sizeof source);
            if (apply_setting(cfg, s, value, source, err, errlen) != 0)
                return -1;
        }
    }
    return 0;
}

/* The row's default; sql_dir's depends on whether this is the installed
 * binary (paths.h), so it has none in the table. */
static const char *default_of(const setting *s)
{
    return s->default_value ? s->default_value : paths_sql_dir();
}

/* The table's defaults, through the same parser as user input. */
static void load_defaults(orderd_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    for (size_t i = 0; i < SETTING_COUNT; i++)
        apply_setting(cfg, &settings[i], default_of(&settings[i]), "default", NULL, 0);
}

/* The file named by --config, else by ORDERD_CONFIG, else the default one if it exists. */
static int load_config_file(orderd_config *cfg, const command_line *cl, char *err, size_t errlen)
{
    const char *env_config = getenv("ORDERD_CONFIG");
    if (cl->config_path)
        return load_file(cfg, cl->config_path, "--config", true, err, errlen);
    if (env_config)
        return load_file(cfg, env_config, "ORDERD_CONFIG", true, err, errlen);
    return load_file(cfg, paths_config_file(), "default", false, err, errlen);
}

int config_load(orderd_config *cfg, int argc, char **argv, char *err, size_t errlen)
{
    if (err && errlen > 0)
        err[0] = '\0';
    load_defaults(cfg);
    /* --help and --version answer even when the rest of the line is wrong. */
    bool help = false, version = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
            help = true;
        else if (strcmp(argv[i], "--version") == 0)
            version = true;
    }
    if (help || version) {
        cfg->command = help ? ORDERD_CMD_HELP : ORDERD_CMD_VERSION;
        return 0;
    }
    command_line cl = {.command = ORDERD_CMD_SERVE};
    if (scan_args(argc, argv, &cl, NULL, err, errlen) != 0 ||
        load_config_file(cfg, &cl, err, errlen) != 0 || load_env(cfg, err, errlen) != 0 ||
        scan_args(argc, argv, &cl, cfg, err, errlen) != 0)
        return -1;

    if (cfg->threads == 0) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        cfg->threads = cpus < 1 ? 1 : cpus > MAX_THREADS ? MAX_THREADS : (int)cpus;
    }
    if (cfg->io_workers == 0)
        cfg->io_workers = cfg->db_pool_size;
    cfg->command = cl.print_config ? ORDERD_CMD_PRINT_CONFIG
                   : cl.probe      ? ORDERD_CMD_PROBE
                                   : cl.command;
    return 0;
}

/* ---- output ------------------------------------------------------------ */

/*
 * Would apply_file_line read value back changed if it were written bare:
 * white space at either end (trimmed), a leading '"' (a quoted value) or
 * a '#' that starts a comment?
 */
static bool needs_quotes(const char *value)
{
    size_t n = strlen(value);
    if (n == 0)
        return false;
    if (isspace((unsigned char)value[0]) || isspace((unsigned char)value[n - 1]) || value[0] == '"')
        return true;
    for (const char *p = value; *p != '\0'; p++)
        if (*p == '#' && (p == value || isspace((unsigned char)p[-1])))
            return true;
    return false;
}

/* A string value in the file's syntax.  A value that needs quotes and
 * holds a '"' has no spelling in the file (only the environment or a
 * flag can set one); it is shown bare. */
static void format_string(const char *value, char *out, size_t outlen)
{
    if (needs_quotes(value) && !strchr(value, '"'))
        snprintf(out, outlen, "\"%s\"", value);
    else
        snprintf(out, outlen, "%s", value);
}

/* The value as --print-config shows it: what the file would take back;
 * with mask, a secret's password is shown as ****. */
static void format_value(const orderd_config *cfg, const setting *s, bool mask, char *out,
                         size_t outlen)
{
    const char *member = (const char *)cfg + s->offset;
    char masked[1100]; /* as config_print's buffer: "****" can be longer than a password */
    switch (s->type) {
    case SETTING_STRING:
        if (mask && (s->flags & SETTING_SECRET)) {
            /* a URL or conninfo shows all but its password; a bare secret
             * (a key) shows nothing of itself */
            if (member[0] && !strstr(member, "://") && !strchr(member, ' '))
                snprintf(masked, sizeof masked, "****");
            else
                config_mask_url(member, masked, sizeof masked);
            member = masked;
        }
        format_string(member, out, outlen);
        return;
    case SETTING_INT:
        snprintf(out, outlen, "%d", *(const int *)member);
        return;
    case SETTING_SIZE:
        snprintf(out, outlen, "%zu", *(const size_t *)member);
        return;
    case SETTING_BOOL:
        snprintf(out, outlen, "%s", *(const bool *)member ? "true" : "false");
        return;
    case SETTING_LOG_LEVEL:
        snprintf(out, outlen, "%s", log_level_name(*(const log_level *)member));
        return;
    case SETTING_LISTEN:
        if (strchr(cfg->listen_host, ':'))
            snprintf(out, outlen, "[%s]:%u", cfg->listen_host, cfg->listen_port);
        else
            snprintf(out, outlen, "%s:%u", cfg->listen_host, cfg->listen_port);
        return;
    }
}

void config_print(const orderd_config *cfg, FILE *out)
{
    char value[1100];
    for (size_t i = 0; i < SETTING_COUNT; i++) {
        format_value(cfg, &settings[i], true, value, sizeof value);
        fprintf(out, "%s = %s\n", settings[i].key, value);
    }
}

/* ---- reload ------------------------------------------------------------ */

bool config_is_live(const char *key)
{
    const setting *s = find_key(key);
    return s && (s->flags & SETTING_LIVE);
}

int config_diff(const orderd_config *old, const orderd_config *next, config_change_fn fn, void *ctx)
{
    /* compared unmasked, so a change of password alone is seen; shown masked */
    char a[1100], b[1100];
    int changed = 0;
    for (size_t i = 0; i < SETTING_COUNT; i++) {
        const setting *s = &settings[i];
        format_value(old, s, false, a, sizeof a);
        format_value(next, s, false, b, sizeof b);
        if (strcmp(a, b) == 0)
            continue;
        changed++;
        format_value(old, s, true, a, sizeof a);
        format_value(next, s, true, b, sizeof b);
        fn(ctx, s->key, (s->flags & SETTING_LIVE) != 0, a, b);
    }
    return changed;
}

void config_copy_live(orderd_config *dst, const orderd_config *src)
{
    for (size_t i = 0; i < SETTING_COUNT; i++) {
        const setting *s = &settings[i];
        if (s->flags & SETTING_LIVE)
            memcpy((char *)dst + s->offset, (const char *)src + s->offset, s->size);
    }
}

/* The placeholder --help shows after a flag of this type. */
static const char *metavar(setting_type type)
{
    switch (type) {
    case SETTING_STRING:
        return "TEXT";
    case SETTING_INT:
        return "N";
    case SETTING_SIZE:
        return "BYTES";
    case SETTING_BOOL:
        return "BOOL";
    case SETTING_LOG_LEVEL:
        return "LEVEL";
    case SETTING_LISTEN:
        return "HOST:PORT";
    }
    return "VALUE";
}

void config_print_usage(FILE *out)
{
    fprintf(out,
            "usage: orderd [serve|migrate] [options]\n"
            "\n"
            "orderd %s - REST order service\n"
            "\n"
            "commands:\n"
            "  serve            run the daemon in the foreground (the default)\n"
            "  migrate          apply the SQL migrations in sql_dir and exit\n"
            "\n"
            "options:\n"
            "  -h, --help       print this help and exit\n"
            "  --version        print the version and exit\n"
            "  --print-config   print the effective settings (secrets masked) and exit\n"
            "  --probe          exit 0 when GET /readyz on the listen address answers 200\n"
            "                   (a container health check that needs no curl)\n"
            "  --config FILE    read settings from FILE (env ORDERD_CONFIG); by default\n"
            "                   %s is read when it exists\n"
            "\n"
            "signals:\n"
            "  SIGTERM, SIGINT  drain (in-flight requests finish, up to drain_timeout_ms), exit 0\n"
            "  SIGHUP           read the settings again; [live] ones change, others wait\n"
            "                   for a restart; a bad file keeps the old settings\n"
            "\n"
            "settings (default < config file < environment < flag; a flag takes\n"
            "\"--name value\" or \"--name=value\"; the file has \"key = value\" lines;\n"
            "settings marked [live] change on SIGHUP, the others need a restart):\n",
            ORDERD_VERSION, paths_config_file());
    for (size_t i = 0; i < SETTING_COUNT; i++) {
        const setting *s = &settings[i];
        char flag[64], env[64];
        flag_name(s, flag, sizeof flag);
        env_name(s, env, sizeof env);
        fprintf(out, "  %s %s%s\n      env %s, default \"%s\"\n      %s\n", flag, metavar(s->type),
                (s->flags & SETTING_LIVE) ? "  [live]" : "", env, default_of(s), s->help);
    }
}

/* ---- masking ----------------------------------------------------------- */

/* A fixed buffer that truncates and always stays NUL-terminated. */
typedef struct out_buf {
    char *p;
    size_t len, cap;
} out_buf;

static void out_put(out_buf *o, const char *s, size_t n)
{
    if (o->cap == 0)
        return;
    if (n > o->cap - 1 - o->len)
        n = o->cap - 1 - o->len;
    memcpy(o->p + o->len, s, n);
    o->len += n;
    o->p[o->len] = '\0';
}

/*
 * End of a conninfo value starting at p: quoted with backslash escapes,
 * or up to the next whitespace.
 */
static const char *conninfo_value_end(const char *p)
{
    if (*p != '\'') {
        while (*p != '\0' && !isspace((unsigned char)*p))
            p++;
        return p;
    }
    for (p++; *p != '\0' && *p != '\''; p++)
        if (*p == '\\' && p[1] != '\0')
            p++;
    return *p == '\'' ? p + 1 : p;
}

static bool is_password_key(const char *key, size_t len)
{
    return (len == 8 && strncmp(key, "password", 8) == 0) ||
           (len == 11 && strncmp(key, "sslpassword", 11) == 0);
}

/* "host=h password=x": each password value is replaced. */
static void mask_conninfo(const char *s, out_buf *o)
{
    const char *p = s;
    while (*p != '\0') {
        const char *word = p;
        while (*p != '\0' && !isspace((unsigned char)*p) && *p != '=')
            p++;
        size_t keylen = (size_t)(p - word);
        const char *q = p;
        while (isspace((unsigned char)*q))
            q++;
        if (*q != '=') {
            out_put(o, word, (size_t)(q - word));
            p = q;
            continue;
        }
        q++;
        while (isspace((unsigned char)*q))
            q++;
        out_put(o, word, (size_t)(q - word));
        p = conninfo_value_end(q);
        if (is_password_key(word, keylen))
            out_put(o, "****", 4);
        else
            out_put(o, q, (size_t)(p - q));
        while (isspace((unsigned char)*p))
            out_put(o, p++, 1);
    }
}

/* The query string from p on ("a=1&password=x#frag"): password values masked. */
static void mask_query(const char *p, out_buf *o)
{
    while (*p != '\0' && *p != '#') {
        size_t len = strcspn(p, "&#");
        size_t keylen = strcspn(p, "=&#");
        if (keylen < len && is_password_key(p, keylen)) {
            out_put(o, p, keylen + 1);
            out_put(o, "****", 4);
        } else {
            out_put(o, p, len);
        }
        p += len;
        if (*p == '&')
            out_put(o, p++, 1);
    }
    out_put(o, p, strlen(p));
}

/*
 * scheme://user:PASSWORD@host/path?password=X&...; libpq takes the
 * password in the query too.  Like libpq, the user info ends at the last
 * '@' before the first '/', so a '?' or '#' inside a password is masked
 * with it rather than mistaken for the query.
 */
static void mask_uri(const char *s, const char *authority, out_buf *o)
{
    const char *end = authority + strcspn(authority, "/");
    const char *at = NULL;
    for (const char *c = authority; c < end; c++)
        if (*c == '@')
            at = c;
    const char *p = s;
    const char *colon = at ? memchr(authority, ':', (size_t)(at - authority)) : NULL;
    if (colon) {
        out_put(o, s, (size_t)(colon + 1 - s));
        out_put(o, "****", 4);
        p = at;
    }
    const char *query = strchr(at ? at : authority, '?');
    if (!query) {
        out_put(o, p, strlen(p));
        return;
    }
    out_put(o, p, (size_t)(query + 1 - p));
    mask_query(query + 1, o);
}

void config_mask_url(const char *url, char *out, size_t outlen)
{
    if (outlen == 0)
        return;
    out[0] = '\0';
    if (!url)
        return;
    out_buf o = {out, 0, outlen};
    const char *sep = strstr(url, "://");
    if (sep && strcspn(url, " =") > (size_t)(sep - url))
        mask_uri(url, sep + 3, &o);
    else
        mask_conninfo(url, &o);
}
