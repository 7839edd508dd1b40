/* MPI for the rest of dptrain: who we are, agreeing on errors, broadcasting
 * text, summing the flat gradient. With one rank every call is a no-op or a
 * copy, so serial runs pay nothing.
 */
#ifndef DPT_DIST_DIST_H
#define DPT_DIST_DIST_H

#include <dptrain/dptrain.h>
#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

struct dpt_dist {
    MPI_Comm comm;
    int rank, size;
};

void dpt_dist_init(struct dpt_dist *d, MPI_Comm comm);

/* Collective. Every rank passes its own rc (0 or a negative code) and err.
 * If any rank failed, every rank returns the code of the lowest failing rank
 * and err holds that rank's message, prefixed with "rank R: " when P > 1. */
int dpt_dist_agree(const struct dpt_dist *d, int rc, struct dpt_err *err);

/* Collective. Root's malloc'ed string *s is copied to every rank (*s on the
 * others must be NULL on entry; they receive a malloc'ed copy). */
int dpt_dist_bcast_string(const struct dpt_dist *d, char **s, int root, struct dpt_err *err);

/* Collective. In-place sums of n floats / doubles over all ranks. */
void dpt_dist_sum_floats(const struct dpt_dist *d, float *buf, size_t n);
void dpt_dist_sum_doubles(const struct dpt_dist *d, double *buf, size_t n);

/* Collective. 0 when every rank has the same 64-bit value, else the lowest
 * rank whose value differs from rank 0's, plus one. */
int dpt_dist_same_u64(const struct dpt_dist *d, uint64_t v);

#endif
