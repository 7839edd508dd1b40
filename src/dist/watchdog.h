/* The watchdog: a rank that waits too long in a collective call ends the
 * job instead of hanging for ever.
 *
 * Every collective of dist.c (and the exact gradient sum of exact.c) marks
 * its start and end with dpt__watch_enter and dpt__watch_leave: two plain
 * stores of a sequence number, nothing else on the path of the step's
 * allreduce. A thread started by dpt_watch_start wakes every quarter of a
 * second; when the sequence number has been odd (inside a collective) and
 * unchanged for the timeout, it writes one line saying where this rank
 * waits (the phase, the epoch and the step the trainer last set) and calls
 * the host's on_hang, which prints it and ends the job (the CLI:
 * MPI_Abort). Each live rank's watchdog fires on its own, so each prints;
 * a rank that is stopped or hung prints nothing, which is how the output
 * names the rank not answering (a blocking collective cannot tell which
 * rank it waits for).
 *
 * The state is process-wide, as MPI is: one watchdog per process, only the
 * thread that calls MPI marks collectives. Nothing here calls MPI.
 */
#ifndef DPT_DIST_WATCHDOG_H
#define DPT_DIST_WATCHDOG_H

#include <dptrain/dptrain.h>
#include <stdatomic.h>
#include <stdint.h>

/* Called on the watchdog's thread with the line to report ("rank R: no
 * answer from the other ranks for S s in PHASE (epoch E, step S); ...").
 * It should not return: it ends the job. */
typedef void (*dpt_watch_hang_fn)(void *ctx, const char *msg);

/* Starts the watchdog of this process (rank `rank`) with a timeout in
 * seconds; 0 starts none. 0, or an error when the thread cannot start. */
int dpt_watch_start(int rank, double timeout_s, dpt_watch_hang_fn on_hang, void *ctx,
                    struct dpt_err *err);
/* Changes the timeout of a running watchdog (0: it never fires). */
void dpt_watch_timeout(double timeout_s);
/* Stops and joins the thread; safe without a watchdog. Before MPI_Finalize. */
void dpt_watch_stop(void);

/* What this rank is doing, for the message: a phase ("the gradient sum of
 * a step"; the string must outlive the watchdog, a literal), and the epoch
 * and step (1-based; 0: not in an epoch). Cheap: plain stores. */
void dpt_watch_phase(const char *phase);
void dpt_watch_at(int64_t epoch, uint64_t step);

/* Around each collective call, on the thread that calls MPI. */
extern _Atomic uint64_t dpt__watch_seq;
static inline void dpt__watch_enter(void)
{
    uint64_t s = atomic_load_explicit(&dpt__watch_seq, memory_order_relaxed);
    atomic_store_explicit(&dpt__watch_seq, s + 1, memory_order_relaxed); /* odd: inside */
}
static inline void dpt__watch_leave(void)
{
    uint64_t s = atomic_load_explicit(&dpt__watch_seq, memory_order_relaxed);
    atomic_store_explicit(&dpt__watch_seq, s + 1, memory_order_relaxed); /* even: outside */
}

#endif
