/* How many OpenMP threads a rank runs. */
#ifndef DPT_TRAIN_THREADS_H
#define DPT_TRAIN_THREADS_H

#include "dist/dist.h"
#include "model/net.h"

#include <stdint.h>

/* The thread count for an option value t: t itself, or for 0 up to
 * omp_get_max_threads() (OMP_NUM_THREADS, else the cores). */
int dpt_train_threads(int t);

/* Collective. The threads per rank for training when none were asked for:
 * up to dpt_train_threads(0) and to the CPUs this rank has to itself
 * (dpt_dist_cpu_share), but no more than the model's size pays for.
 * All ranks take the smallest count (micro-shards depend on it). net may
 * be NULL on a rank whose setup failed: it then takes no part in the
 * choice. */
int dpt_threads_choose(const struct dpt_net *net, uint64_t batch, const struct dpt_dist *d);

/* Local. The same choice for one rank of a job of `ranks` ranks that has
 * `cpus` CPUs to itself (what dpt_threads_choose takes before the ranks
 * agree on their smallest); net must not be NULL. `dptrain plan` calls it
 * for a job it does not run. */
int dpt_threads_for(const struct dpt_net *net, uint64_t batch, int ranks, int cpus);

#endif
