/* The thread policy: see threads.h. */
#include "config.h"

#include "train/threads.h"
#include "dist/placement.h"

#include <limits.h>
#include <omp.h>

/* One thread per THREAD_FLOP of a step's arithmetic on a rank (~6 flops
 * per parameter and row). Waking a thread and joining it costs ~10-20 us
 * per step (futex, in a VM), so a small model runs fastest on one: the tiny
 * benchmark model (224 parameters, batch 32) trains at 8M samples/s on one
 * thread and 1.3M on two; the medium one (235k parameters, batch 128) gains
 * 1.7x from two. */
#define THREAD_FLOP 4e6

int dpt_train_threads(int t)
{
    return t > 0 ? t : omp_get_max_threads();
}

/* Threads the model's step pays for, at most max. */
static int paid_threads(int max, const struct dpt_net *net, uint64_t batch, int ranks)
{
    uint64_t rows = (batch + (uint64_t)ranks - 1) / (uint64_t)ranks;
    double t = 6.0 * (double)net->n_params * (double)rows / THREAD_FLOP;
    return t < 1 ? 1 : t > max ? max : (int)t;
}

/* The cores are shared among the node's ranks: 2 ranks x 2 threads on 2
 * unbound cores ran 10x slower than 2 x 1. A rank takes at most the CPUs it
 * has to itself (dist/placement.h): all of its mask when mpirun bound it to
 * cores of its own, its part of the node's CPUs when ranks are unbound. */
int dpt_threads_for(const struct dpt_net *net, uint64_t batch, int ranks, int cpus)
{
    int max = dpt_train_threads(0);
    max = max < cpus ? max : cpus;
    return paid_threads(max < 1 ? 1 : max, net, batch, ranks);
}

int dpt_threads_choose(const struct dpt_net *net, uint64_t batch, const struct dpt_dist *d)
{
    int cpus = dpt_dist_cpu_share(d);
    int t = net ? dpt_threads_for(net, batch, d->size, cpus) : INT_MAX;
    t = dpt_dist_min_int(d, t);
    return t == INT_MAX ? dpt_train_threads(0) : t;
}
