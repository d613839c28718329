/*
 * rate_limit.c - leased GCRA budgets (rate_limit.h).
 *
 * GCRA keeps one number per key, the theoretical arrival time (TAT) of
 * the next request: a request at `now` fits when TAT + T - now <= tau,
 * with T = 1/rate the emission interval and tau = burst * T.  Granting n
 * at once moves TAT by n * T.  The Redis script does exactly that on
 * Redis's clock (so replicas' clocks do not matter) and returns what it
 * granted; the same arithmetic runs here on the monotonic clock for the
 * fallback.
 */
#include "orderd/auth/rate_limit.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "orderd/base/clock.h"
#include "orderd/base/log.h"
#include "orderd/base/metrics.h"
#include "orderd/base/worker_pool.h"

#define LOCKS     64
#define LEASE_MAX 1000
#define NS        INT64_C(1000000000)

/*
 * KEYS[1] the key's TAT (microseconds, Redis TIME); ARGV: T in
 * microseconds, burst, most to grant.  Returns {granted, remaining,
 * microseconds until the burst is whole again, microseconds until one
 * request fits (when granted = 0)}.  The key expires when it no longer
 * says more than "full", so idle clients cost no memory.
 */
static const char gcra_script[] =
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000000 + tonumber(t[2])\n"
    "local T = tonumber(ARGV[1])\n"
    "local tau = T * tonumber(ARGV[2])\n"
    "local want = tonumber(ARGV[3])\n"
    "local tat = tonumber(redis.call('GET', KEYS[1]) or '0')\n"
    "if tat < now then tat = now end\n"
    "local n = math.floor((now + tau - tat) / T)\n"
    "if n > want then n = want end\n"
    "if n < 1 then return {0, 0, tat - now, tat + T - tau - now} end\n"
    "tat = tat + n * T\n"
    "redis.call('SET', KEYS[1], string.format('%d', tat), 'PX',"
    " string.format('%d', math.ceil((tat - now) / 1000) + 1))\n"
    "return {n, math.floor((now + tau - tat) / T), tat - now, 0}\n";

typedef struct entry {
    uint64_t hash;
    char key[RATE_LIMIT_KEY_MAX + 1]; /* "" = empty */
    /* the lease from Redis */
    int leased;
    int64_t lease_until_ns;
    int lease_size; /* what the next call asks for: grows while leases run out */
    int remote_remaining;
    int64_t full_at_ns;
    int64_t refused_until_ns; /* Redis said no until then */
    /* the in-process GCRA (fallback, or no Redis) */
    int64_t tat_ns;
} entry;

struct rate_limiter {
    uint64_t id; /* for the per-thread slots */
    char name[32];
    char policy[96];
    int burst;
    int64_t t_ns; /* emission interval */
    int64_t t_us;
    int lease_max;
    int64_t lease_ttl_ns;
    redis_client *redis;
    int script;
    worker_pool *workers;
    size_t mask;
    entry *slots;
    pthread_mutex_t locks[LOCKS];
    atomic_bool in_fallback; /* for the one log line per outage */
    atomic_bool stopping;    /* check_async refuses */
    atomic_int pending;      /* checks queued or running */
};

/*
 * A few keys per thread in front of the table: a thread takes half of a
 * key's lease at a time and spends it without the lock, so one client's
 * connections on several polling threads do not queue on one mutex.
 * The tokens stay the ones Redis granted and expire with the lease.
 */
#define L1_SLOTS 8

typedef struct l1_slot {
    uint64_t limiter_id; /* 0 = empty; ids are never reused */
    uint64_t hash;
    char key[RATE_LIMIT_KEY_MAX + 1];
    int tokens;
    int64_t until_ns;
    int remaining_hint; /* the rest of the budget as last seen */
    int64_t full_at_ns;
} l1_slot;

static _Thread_local l1_slot l1[L1_SLOTS];
static atomic_uint_fast64_t next_limiter_id = 1;

typedef struct check_job {
    rate_limiter *rl;
    rate_limit_done *done;
    void *arg;
    char key[RATE_LIMIT_KEY_MAX + 1];
} check_job;

static uint64_t hash_key(const char *key)
{
    uint64_t h = UINT64_C(14695981039346656037);
    for (const unsigned char *p = (const unsigned char *)key; *p; p++)
        h = (h ^ *p) * UINT64_C(1099511628211);
    return h;
}

static int ceil_s(int64_t ns)
{
    if (ns <= 0)
        return 0;
    int64_t s = (ns + NS - 1) / NS;
    return s > 86400 ? 86400 : (int)s;
}

rate_limiter *rate_limiter_create(const rate_limit_options *opts)
{
    rate_limiter *rl = calloc(1, sizeof *rl);
    if (!rl)
        return NULL;
    rl->id = atomic_fetch_add(&next_limiter_id, 1);
    snprintf(rl->name, sizeof rl->name, "%s", opts->name);
    rl->burst = opts->burst;
    rl->t_ns = (int64_t)llround(1e9 / opts->per_second);
    rl->t_us = rl->t_ns / 1000 > 0 ? rl->t_ns / 1000 : 1;
    /* Leases are at most a tenth of the burst (or of a second's rate),
     * so small budgets are exact (lease 1).  Unspent lease lives a tenth
     * of the time the burst takes to refill: what any replica admits late
     * is then at most rate x that = a tenth of the burst, overall. */
    double small = opts->burst < opts->per_second ? opts->burst : opts->per_second;
    rl->lease_max = small / 10 < 1 ? 1 : small / 10 > LEASE_MAX ? LEASE_MAX : (int)(small / 10);
    int64_t ttl = (int64_t)opts->burst * rl->t_ns / 10;
    rl->lease_ttl_ns = ttl < NS / 1000 ? NS / 1000 : ttl > NS ? NS : ttl;
    snprintf(rl->policy, sizeof rl->policy, "\"%s\";q=%d;w=%d", rl->name, rl->burst,
             ceil_s(rl->burst * rl->t_ns) > 0 ? ceil_s(rl->burst * rl->t_ns) : 1);
    rl->redis = opts->redis;
    rl->script = rl->redis ? redis_client_script_add(rl->redis, gcra_script) : -1;
    size_t n = 1;
    while (n < opts->slots)
        n <<= 1;
    rl->mask = n - 1;
    rl->slots = calloc(n, sizeof *rl->slots);
    rl->workers = worker_pool_create(opts->threads, opts->queue_max);
    if ((rl->redis && rl->script < 0) || !rl->slots || !rl->workers) {
        worker_pool_destroy(rl->workers);
        free(rl->slots);
        free(rl);
        return NULL;
    }
    for (int i = 0; i < LOCKS; i++)
        pthread_mutex_init(&rl->locks[i], NULL);
    return rl;
}

void rate_limiter_destroy(rate_limiter *rl)
{
    if (!rl)
        return;
    rate_limiter_stop(rl);
    worker_pool_destroy(rl->workers);
    for (int i = 0; i < LOCKS; i++)
        pthread_mutex_destroy(&rl->locks[i]);
    free(rl->slots);
    free(rl);
}

const char *rate_limiter_policy(const rate_limiter *rl)
{
    return rl->policy;
}

const char *rate_limiter_name(const rate_limiter *rl)
{
    return rl->name;
}

/* ---- the table -------------------------------------------------------- */

static entry *lock_entry(rate_limiter *rl, const char *key, uint64_t *hash, pthread_mutex_t **lock)
{
    *hash = hash_key(key);
    size_t i = *hash & rl->mask;
    *lock = &rl->locks[i % LOCKS];
    pthread_mutex_lock(*lock);
    return &rl->slots[i];
}

static bool entry_is(const entry *e, uint64_t hash, const char *key)
{
    return e->key[0] && e->hash == hash && strcmp(e->key, key) == 0;
}

/* Makes e key's (forgetting whoever had the slot). */
static void entry_claim(entry *e, uint64_t hash, const char *key)
{
    if (entry_is(e, hash, key))
        return;
    memset(e, 0, sizeof *e);
    e->hash = hash;
    snprintf(e->key, sizeof e->key, "%s", key);
}

/* The in-process GCRA for one request, e locked and claimed. */
static void decide_in_process(const rate_limiter *rl, entry *e, int64_t now, rate_verdict *v)
{
    int64_t tau = rl->burst * rl->t_ns;
    int64_t tat = e->tat_ns > now ? e->tat_ns : now;
    if (tat + rl->t_ns - now > tau) {
        v->allowed = false;
        v->remaining = 0;
        v->retry_after_s = ceil_s(tat + rl->t_ns - tau - now);
        if (v->retry_after_s < 1)
            v->retry_after_s = 1;
        v->reset_s = ceil_s(tat - now);
        return;
    }
    e->tat_ns = tat + rl->t_ns;
    v->allowed = true;
    v->remaining = (int)((now + tau - e->tat_ns) / rl->t_ns);
    v->reset_s = ceil_s(e->tat_ns - now);
}

static void note_fallback(rate_limiter *rl, bool falling_back)
{
    if (atomic_exchange(&rl->in_fallback, falling_back) == falling_back)
        return;
    if (falling_back)
        LOG(LOG_WARN, NULL, "rate limit \"%s\": Redis unreachable, limiting in this process only",
            rl->name);
    else
        LOG(LOG_INFO, NULL, "rate limit \"%s\": Redis reachable again, limits shared", rl->name);
}

static void fallback_decide(rate_limiter *rl, const char *key, int64_t now, rate_verdict *v)
{
    uint64_t h;
    pthread_mutex_t *lock;
    entry *e = lock_entry(rl, key, &h, &lock);
    entry_claim(e, h, key);
    decide_in_process(rl, e, now, v);
    pthread_mutex_unlock(lock);
    if (rl->redis) {
        v->fallback = true;
        metric_inc(METRIC_RATE_LIMIT_FALLBACKS);
        note_fallback(rl, true);
    }
}

bool rate_limiter_try_local(rate_limiter *rl, const char *key, rate_verdict *v)
{
    memset(v, 0, sizeof *v);
    int64_t now = (int64_t)clock_now_ns();
    if (!rl->redis || !redis_client_is_up(rl->redis)) {
        fallback_decide(rl, key, now, v);
        return true;
    }
    uint64_t h = hash_key(key);
    l1_slot *mine = &l1[h % L1_SLOTS];
    if (mine->limiter_id == rl->id && mine->hash == h && mine->tokens > 0 && now < mine->until_ns &&
        strcmp(mine->key, key) == 0) {
        mine->tokens--;
        v->allowed = true;
        v->remaining = mine->remaining_hint + mine->tokens;
        v->reset_s = ceil_s(mine->full_at_ns - now);
        return true;
    }
    pthread_mutex_t *lock;
    entry *e = lock_entry(rl, key, &h, &lock);
    bool decided = false;
    if (entry_is(e, h, key) && now < e->refused_until_ns) {
        v->allowed = false;
        v->retry_after_s = ceil_s(e->refused_until_ns - now);
        v->reset_s = ceil_s(e->full_at_ns - now);
        decided = true;
    } else if (entry_is(e, h, key) && e->leased > 0 && now < e->lease_until_ns) {
        /* half of what is left comes to this thread; one is this request's */
        int chunk = (e->leased + 1) / 2;
        e->leased -= chunk;
        mine->limiter_id = rl->id;
        mine->hash = h;
        memcpy(mine->key, e->key, sizeof mine->key);
        mine->tokens = chunk - 1;
        mine->until_ns = e->lease_until_ns;
        mine->remaining_hint = e->remote_remaining + e->leased;
        mine->full_at_ns = e->full_at_ns;
        v->allowed = true;
        v->remaining = mine->remaining_hint + mine->tokens;
        v->reset_s = ceil_s(e->full_at_ns - now);
        decided = true;
    }
    pthread_mutex_unlock(lock);
    return decided;
}

/* ---- Redis ------------------------------------------------------------ */

static bool reply_integers(const redisReply *r, long long out[4])
{
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 4)
        return false;
    for (size_t i = 0; i < 4; i++) {
        if (r->element[i]->type != REDIS_REPLY_INTEGER)
            return false;
        out[i] = r->element[i]->integer;
    }
    return true;
}

/*
 * How much the next call asks for: a key's lease starts at 1 and doubles
 * each time the last one ran out before it expired (a busy client), and
 * halves when one expired unspent, so a slow client is not charged for a
 * lease it does not use.
 */
static int next_lease_size(const rate_limiter *rl, entry *e, uint64_t hash, const char *key,
                           int64_t now)
{
    if (!entry_is(e, hash, key))
        return 1;
    int size = e->lease_size > 0 ? e->lease_size : 1;
    if (e->leased > 0 && now >= e->lease_until_ns)
        size = size / 2 > 1 ? size / 2 : 1;
    else if (e->leased == 0 && now < e->lease_until_ns)
        size = size * 2 < rl->lease_max ? size * 2 : rl->lease_max;
    e->lease_size = size;
    return size;
}

/* One script call: lease up to want for key.  false: Redis failed. */
static bool lease_from_redis(rate_limiter *rl, const char *key, int lease, long long out[4])
{
    char redis_key[RATE_LIMIT_KEY_MAX + 48], t[24], burst[24], want[24];
    snprintf(redis_key, sizeof redis_key, "orderd:rl:%s:%s", rl->name, key);
    snprintf(t, sizeof t, "%lld", (long long)rl->t_us);
    snprintf(burst, sizeof burst, "%d", rl->burst);
    snprintf(want, sizeof want, "%d", lease);
    const char *argv[] = {redis_key, t, burst, want};
    size_t lens[] = {strlen(redis_key), strlen(t), strlen(burst), strlen(want)};
    redisReply *r = NULL;
    metric_inc(METRIC_RATE_LIMIT_LEASES);
    redis_rc rc = redis_client_eval(rl->redis, rl->script, 1, 4, argv, lens, &r);
    bool ok = rc == REDIS_RC_OK && reply_integers(r, out);
    if (r)
        freeReplyObject(r);
    return ok;
}

void rate_limiter_check(rate_limiter *rl, const char *key, rate_verdict *v)
{
    /* another check may have leased for this key meanwhile */
    if (rate_limiter_try_local(rl, key, v))
        return;
    uint64_t h;
    pthread_mutex_t *lock;
    entry *e = lock_entry(rl, key, &h, &lock);
    int want = next_lease_size(rl, e, h, key, (int64_t)clock_now_ns());
    pthread_mutex_unlock(lock);
    long long got[4];
    if (!lease_from_redis(rl, key, want, got)) {
        fallback_decide(rl, key, (int64_t)clock_now_ns(), v);
        return;
    }
    note_fallback(rl, false);
    int64_t now = (int64_t)clock_now_ns();
    e = lock_entry(rl, key, &h, &lock);
    if (!entry_is(e, h, key)) {
        entry_claim(e, h, key);
        e->lease_size = want;
    }
    e->full_at_ns = now + got[2] * 1000;
    if (got[0] > 0) {
        /* one for this request; the rest joins what is left of the lease
         * (checks for one key may overlap) */
        int left = now < e->lease_until_ns ? e->leased : 0;
        e->leased = left + (int)got[0] - 1;
        e->lease_until_ns = now + rl->lease_ttl_ns;
        e->remote_remaining = (int)got[1];
        e->refused_until_ns = 0;
        v->allowed = true;
        v->remaining = e->remote_remaining + e->leased;
    } else {
        e->leased = 0;
        e->refused_until_ns = now + got[3] * 1000;
        v->allowed = false;
        v->retry_after_s = ceil_s(got[3] * 1000) < 1 ? 1 : ceil_s(got[3] * 1000);
    }
    v->reset_s = ceil_s(e->full_at_ns - now);
    pthread_mutex_unlock(lock);
}

static void run_check(void *arg)
{
    check_job *job = arg;
    rate_limiter *rl = job->rl;
    rate_verdict v;
    rate_limiter_check(rl, job->key, &v);
    job->done(job->arg, &v);
    free(job);
    atomic_fetch_sub(&rl->pending, 1);
}

int rate_limiter_check_async(rate_limiter *rl, const char *key, rate_limit_done *done, void *arg)
{
    /* counted before the flag is read, so rate_limiter_stop either sees
     * this check or this check sees it stopping */
    atomic_fetch_add(&rl->pending, 1);
    check_job *job = atomic_load(&rl->stopping) ? NULL : malloc(sizeof *job);
    if (!job) {
        atomic_fetch_sub(&rl->pending, 1);
        return -1;
    }
    job->rl = rl;
    job->done = done;
    job->arg = arg;
    snprintf(job->key, sizeof job->key, "%s", key);
    if (worker_pool_submit(rl->workers, run_check, job) != 0) {
        free(job);
        atomic_fetch_sub(&rl->pending, 1);
        return -1;
    }
    return 0;
}

void rate_limiter_stop(rate_limiter *rl)
{
    if (!rl)
        return;
    atomic_store(&rl->stopping, true);
    while (atomic_load(&rl->pending) > 0) {
        struct timespec tick = {0, 1000 * 1000};
        nanosleep(&tick, NULL);
    }
}
