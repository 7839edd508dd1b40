/* The watchdog of collective calls. See watchdog.h for what it promises;
 * DESIGN.md ("Never hang") for why a thread and not nonblocking calls. */
#include "config.h"

#include "dist/watchdog.h"
#include "util/util.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* How often the thread looks. A quarter of a second makes the report at
 * most that late and costs four wake-ups a second on a core the step does
 * not wait for. */
#define WATCH_PERIOD_S 0.25

_Atomic uint64_t dpt__watch_seq;

static struct {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    int running, quit; /* under lock */
    int rank;
    dpt_watch_hang_fn on_hang;
    void *ctx;
    _Atomic int64_t timeout_ms;
    _Atomic(const char *) phase;
    _Atomic int64_t epoch;
    _Atomic uint64_t step;
} w = {.lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER};

void dpt_watch_phase(const char *phase)
{
    atomic_store_explicit(&w.phase, phase, memory_order_relaxed);
}

void dpt_watch_at(int64_t epoch, uint64_t step)
{
    atomic_store_explicit(&w.epoch, epoch, memory_order_relaxed);
    atomic_store_explicit(&w.step, step, memory_order_relaxed);
}

/* The line on_hang gets, into buf. */
static void describe(char *buf, size_t len, double waited)
{
    const char *phase = atomic_load_explicit(&w.phase, memory_order_relaxed);
    int64_t epoch = atomic_load_explicit(&w.epoch, memory_order_relaxed);
    uint64_t step = atomic_load_explicit(&w.step, memory_order_relaxed);
    char where[64] = "";
    if (epoch > 0) {
        snprintf(where, sizeof where, " (epoch %lld, step %llu)", (long long)epoch,
                 (unsigned long long)step);
    }
    snprintf(buf, len, "rank %d: no answer from the other ranks for %.0f s in %s%s; the ranks "
             "that print no such line are the ones not answering (stopped, hung or lost); "
             "aborting the job (the timeout is --timeout or train.timeout)",
             w.rank, waited, phase ? phase : "start-up", where);
}

/* Sleeps WATCH_PERIOD_S or until told to quit; 1 when told to quit. */
static int nap(void)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    long ns = until.tv_nsec + (long)(WATCH_PERIOD_S * 1e9);
    until.tv_sec += ns / 1000000000L;
    until.tv_nsec = ns % 1000000000L;
    pthread_mutex_lock(&w.lock);
    int rc = 0;
    while (!w.quit && rc != ETIMEDOUT) {
        rc = pthread_cond_timedwait(&w.wake, &w.lock, &until);
    }
    int quit = w.quit;
    pthread_mutex_unlock(&w.lock);
    return quit;
}

/* The thread: since when has the sequence number stood still, and odd? */
static void *watch_main(void *arg)
{
    (void)arg;
    uint64_t seen = atomic_load(&dpt__watch_seq);
    double since = dpt__now(), last = since;
    while (!nap()) {
        uint64_t now_seq = atomic_load_explicit(&dpt__watch_seq, memory_order_relaxed);
        double now = dpt__now(), slept = now - last;
        last = now;
        /* A nap far longer than asked: this process itself was stopped
         * (SIGSTOP, a suspended job). That wait is not the others' fault;
         * once continued, it counts afresh rather than blaming them. */
        if (now_seq != seen || !(now_seq & 1) || slept > 4 * WATCH_PERIOD_S) {
            seen = now_seq;
            since = now;
            continue;
        }
        int64_t ms = atomic_load_explicit(&w.timeout_ms, memory_order_relaxed);
        if (ms > 0 && (now - since) * 1000.0 >= (double)ms) {
            char msg[512];
            describe(msg, sizeof msg, now - since);
            w.on_hang(w.ctx, msg);
            since = now; /* on_hang returned (a test's): report again a timeout later */
        }
    }
    return NULL;
}

void dpt_watch_timeout(double timeout_s)
{
    atomic_store(&w.timeout_ms, (int64_t)(timeout_s * 1000.0));
}

int dpt_watch_start(int rank, double timeout_s, dpt_watch_hang_fn on_hang, void *ctx,
                    struct dpt_err *err)
{
    dpt_watch_timeout(timeout_s);
    pthread_mutex_lock(&w.lock);
    int rc = 0;
    if (!w.running && timeout_s > 0) {
        w.rank = rank;
        w.on_hang = on_hang;
        w.ctx = ctx;
        w.quit = 0;
        int e = pthread_create(&w.thread, NULL, watch_main, NULL);
        if (e) {
            rc = dpt_err_set(err, DPT_ENOMEM, "cannot start the watchdog thread: %s",
                             strerror(e));
        }
        w.running = e == 0;
    }
    pthread_mutex_unlock(&w.lock);
    return rc;
}

void dpt_watch_stop(void)
{
    pthread_mutex_lock(&w.lock);
    int running = w.running;
    w.quit = 1;
    w.running = 0;
    pthread_cond_signal(&w.wake);
    pthread_mutex_unlock(&w.lock);
    if (running) {
        pthread_join(w.thread, NULL);
    }
}
