/* Where the ranks run: the CPUs each rank may use (its affinity mask, as
 * mpirun's binding left it) and how many of them it has to itself. */
#ifndef DPT_DIST_PLACEMENT_H
#define DPT_DIST_PLACEMENT_H

#include "dist/dist.h"

#include <sched.h>
#include <stdio.h>

/* The CPUs a rank has to itself, given its own mask and the masks of all n
 * ranks of its node (its own among them): each CPU of its mask counts
 * 1/k when k of the n masks hold it; the sum rounded down, at least 1.
 * Ranks bound to cores of their own (mpirun --map-by ...:PE=T) get T
 * each; unbound ranks share the node's CPUs evenly. */
int dpt__cpu_share(const cpu_set_t *mine, const cpu_set_t *all, int n);

/* Writes "0, 1 and 2" for the ranks r[0..shown) of total into buf: all of
 * them named when shown == total, else "0, 1, 2, 3 and 5 more". */
void dpt__rank_list(char *buf, size_t len, const int *r, int shown, int total);

/* Collective. dpt__cpu_share for this rank among the ranks of its node. */
int dpt_dist_cpu_share(const struct dpt_dist *d);

/* Collective. Rank 0 writes to out where the ranks run, one line per rank
 * (the first 16 of a larger job, then a count): its host, the CPUs it may
 * use and how many it has to itself; then OpenMP's binding settings and a
 * note when ranks share CPUs. */
void dpt_dist_describe_placement(const struct dpt_dist *d, FILE *out);

#endif
