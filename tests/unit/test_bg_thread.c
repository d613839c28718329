#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "orderd/base/bg_thread.h"
#include "orderd/base/clock.h"

#define MS     UINT64_C(1000000)
#define MINUTE (60000 * MS)
/* far below MINUTE, far above any scheduling delay: "ended early", not "timed out" */
#define PROMPTLY (10000 * MS)

/* One thread that makes one wait, when the test says go. */
typedef struct probe {
    bg_thread thread;
    uint64_t timeout_ns;
    sem_t go;   /* the test lets the thread begin its wait */
    sem_t done; /* the wait ended */
    uint64_t waited_ns;
    bool went_on;
} probe;

static void wait_once(bg_thread *self, void *arg)
{
    probe *p = arg;
    sem_wait(&p->go);
    uint64_t start = clock_now_ns();
    p->went_on = bg_thread_wait(self, p->timeout_ns);
    p->waited_ns = clock_now_ns() - start;
    sem_post(&p->done);
}

static void probe_start(probe *p, uint64_t timeout_ns)
{
    memset(p, 0, sizeof *p);
    p->timeout_ns = timeout_ns;
    sem_init(&p->go, 0, 0);
    sem_init(&p->done, 0, 0);
    assert_int_equal(bg_thread_start(&p->thread, "probe", 1, wait_once, p), 0);
}

static void probe_stop(probe *p)
{
    bg_thread_stop(&p->thread);
    sem_destroy(&p->go);
    sem_destroy(&p->done);
}

static void a_wait_lasts_its_timeout_then_goes_on(void **state)
{
    (void)state;
    probe p;
    probe_start(&p, 20 * MS);
    sem_post(&p.go);
    sem_wait(&p.done);
    assert_true(p.went_on);
    assert_true(p.waited_ns >= 20 * MS);
    probe_stop(&p);
}

static void stop_ends_a_long_wait_at_once(void **state)
{
    (void)state;
    probe p;
    probe_start(&p, MINUTE);
    sem_post(&p.go);
    probe_stop(&p); /* before or during the wait: either way it ends now */
    assert_false(p.went_on);
    assert_true(p.waited_ns < PROMPTLY);
}

static void a_wake_before_the_wait_is_not_lost(void **state)
{
    (void)state;
    probe p;
    probe_start(&p, MINUTE);
    bg_thread_wake(&p.thread); /* the thread is still held before its wait */
    sem_post(&p.go);
    sem_wait(&p.done);
    assert_true(p.went_on);
    assert_true(p.waited_ns < PROMPTLY);
    probe_stop(&p);
}

static atomic_int spins;

/* A thread that waits on something else (here: short sleeps) and
 * checks the flag each round, as the tracking listener does with poll. */
static void spin_until_stopping(bg_thread *self, void *arg)
{
    (void)arg;
    while (!bg_thread_stopping(self)) {
        atomic_fetch_add(&spins, 1);
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    }
}

static void stopping_is_seen_by_threads_that_wait_elsewhere(void **state)
{
    (void)state;
    atomic_store(&spins, 0);
    bg_thread t;
    assert_int_equal(bg_thread_start(&t, "spin", 1, spin_until_stopping, NULL), 0);
    while (atomic_load(&spins) == 0)
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    bg_thread_stop(&t); /* returns: the thread saw the flag and ended */
    assert_true(atomic_load(&spins) > 0);
}

static atomic_int group_runs;

static void count_then_wait_for_stop(bg_thread *self, void *arg)
{
    (void)arg;
    atomic_fetch_add(&group_runs, 1);
    while (bg_thread_wait(self, MINUTE))
        ;
}

/* Whether a thread of this process has exactly this name (as top shows it). */
static bool thread_named(const char *want)
{
    DIR *tasks = opendir("/proc/self/task");
    assert_non_null(tasks);
    bool found = false;
    struct dirent *e;
    while (!found && (e = readdir(tasks)) != NULL) {
        char path[300], name[32] = "";
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue; /* "." and ".." */
        if (fgets(name, sizeof name, f))
            name[strcspn(name, "\n")] = '\0';
        fclose(f);
        found = strcmp(name, want) == 0;
    }
    closedir(tasks);
    return found;
}

static void a_group_runs_count_threads_named_by_index(void **state)
{
    (void)state;
    atomic_store(&group_runs, 0);
    bg_thread t;
    assert_int_equal(bg_thread_start(&t, "group", 3, count_then_wait_for_stop, NULL), 0);
    assert_true(thread_named("group-0"));
    assert_true(thread_named("group-1"));
    assert_true(thread_named("group-2"));
    assert_false(thread_named("group-3"));
    bg_thread_stop(&t); /* joins all three */
    assert_int_equal(atomic_load(&group_runs), 3);
    assert_false(thread_named("group-0"));
}

static void a_long_name_is_cut_to_what_linux_keeps(void **state)
{
    (void)state;
    bg_thread t;
    assert_int_equal(
        bg_thread_start(&t, "a-very-long-thread-name", 1, count_then_wait_for_stop, NULL), 0);
    assert_true(thread_named("a-very-long-thr"));
    bg_thread_stop(&t);
}

static void stop_of_nothing_does_nothing(void **state)
{
    (void)state;
    bg_thread never = {0};
    bg_thread_stop(&never);
    bg_thread_stop(NULL);
    bg_thread t;
    assert_int_equal(bg_thread_start(&t, "none", 0, count_then_wait_for_stop, NULL), -1);
    bg_thread_stop(&t); /* a failed start leaves nothing running */
    assert_int_equal(bg_thread_start(&t, "twice", 1, count_then_wait_for_stop, NULL), 0);
    bg_thread_stop(&t);
    bg_thread_stop(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_wait_lasts_its_timeout_then_goes_on),
        cmocka_unit_test(stop_ends_a_long_wait_at_once),
        cmocka_unit_test(a_wake_before_the_wait_is_not_lost),
        cmocka_unit_test(stopping_is_seen_by_threads_that_wait_elsewhere),
        cmocka_unit_test(a_group_runs_count_threads_named_by_index),
        cmocka_unit_test(a_long_name_is_cut_to_what_linux_keeps),
        cmocka_unit_test(stop_of_nothing_does_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
