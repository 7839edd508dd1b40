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

/* Starts MPI (threads funneled: only the main thread calls MPI) with errors
 * returned rather than aborting, and fills d for all processes of the job.
 * 0, or an error. dpt_dist_finish ends MPI. */
int dpt_dist_start(int *argc, char ***argv, struct dpt_dist *d, struct dpt_err *err);
void dpt_dist_finish(void);

/* Collective. Every rank passes its own rc (0 or a negative code) and err.
 * If any rank failed, every rank returns the code of the lowest failing rank
 * and err holds that rank's message, prefixed with "rank R: " when some
 * ranks did not fail (never when all did: agreeing on an agreed error again
 * leaves its message as it is, tests/messages.sh). */
int dpt_dist_agree(const struct dpt_dist *d, int rc, struct dpt_err *err);

/* Collective. Root's malloc'ed string *s is copied to every rank (*s on the
 * others must be NULL on entry; they receive a malloc'ed copy). */
int dpt_dist_bcast_string(const struct dpt_dist *d, char **s, int root, struct dpt_err *err);

/* Collective. In-place sums of n floats / doubles over all ranks. */
void dpt_dist_sum_floats(const struct dpt_dist *d, float *buf, size_t n);
void dpt_dist_sum_doubles(const struct dpt_dist *d, double *buf, size_t n);

/* Collective, nonblocking. Starts the in-place sum of n < 2^31 floats over
 * all ranks; buf must stay untouched until dpt_dist_test says it is done or
 * dpt_dist_wait returns. Every rank starts the same sums in the same order.
 * Open MPI moves such a sum on only inside MPI calls: dpt_dist_test is one. */
void dpt_dist_isum_floats(const struct dpt_dist *d, float *buf, size_t n, MPI_Request *req);
int dpt_dist_test(MPI_Request *req); /* 1 when the sum is done */
void dpt_dist_wait(MPI_Request *req);

/* Sums of float buffers through memory the ranks of one node share: each
 * rank's buffer is a slot of one MPI shared-memory window; each rank adds
 * its piece of every slot, in rank order, and writes the sum into every
 * slot. Nothing is copied through MPI's transport (Open MPI's allreduce
 * of two ranks copies each buffer to the other and back): the medium
 * MLP's 2 x 1 trains 4% faster (docs/PERFORMANCE.md). */
struct dpt_node_sum {
    MPI_Comm comm; /* the job's ranks, all on one node (borrowed) */
    MPI_Win win;
    float **slot;  /* slot[j]: rank j's buffer */
    int ranks, rank;
    int locked;    /* MPI_Win_lock_all was called */
};

/* Collective. `node` is the ranks of d on this rank's node
 * (dpt_dist_node), which must outlive the slots. When every rank of d runs
 * on one node and the slots take at
 * most NODE_SUM_MAX_BYTES (1 GiB) in all: makes slots of n floats, zeroed,
 * and returns this rank's (64-byte aligned; dpt_node_sum_free releases
 * it). NULL on every rank otherwise (one rank, ranks on several nodes,
 * DPTRAIN_NODE_SUM=0, or a window MPI could not make): the sums then go
 * through MPI's allreduce. */
float *dpt_node_sum_init(struct dpt_node_sum *s, const struct dpt_dist *d,
                        const struct dpt_dist *node, size_t n);
/* Collective. [lo, hi) of every slot becomes the sum of all slots' [lo,
 * hi), added in rank order: the same bits on every rank, and for two ranks
 * the same as MPI's sum. Each rank must have written its slot's [lo, hi)
 * before, and may use its slot again once this returns. */
void dpt_node_sum(struct dpt_node_sum *s, size_t lo, size_t hi);
/* Collective when the slots were made. */
void dpt_node_sum_free(struct dpt_node_sum *s);

/* Collective. In-place elementwise minima / maxima of n doubles. */
void dpt_dist_min_doubles(const struct dpt_dist *d, double *buf, size_t n);
void dpt_dist_max_doubles(const struct dpt_dist *d, double *buf, size_t n);

/* Collective. The smallest v of all ranks; whether any rank's v is true. */
int dpt_dist_min_int(const struct dpt_dist *d, int v);
int dpt_dist_any(const struct dpt_dist *d, int v);
/* Collective. root's n bytes into v on every rank; v[i] |= every rank's
 * v[i] for n bytes (in pieces that fit MPI's int counts). */
void dpt_dist_bcast_bytes(const struct dpt_dist *d, void *v, int n, int root);
void dpt_dist_or_bytes(const struct dpt_dist *d, uint8_t *v, uint64_t n);

/* Collective. How many ranks of d share this rank's node (memory). */
int dpt_dist_node_ranks(const struct dpt_dist *d);

/* Collective. The ranks of d on this rank's node as a dist of their own
 * (node->rank is this rank's index among them, ordered as in d), and their
 * ranks in d (*ranks, malloc'ed, node->size of them). 0, or DPT_ENOMEM;
 * dpt_dist_node_free releases both. */
int dpt_dist_node(const struct dpt_dist *d, struct dpt_dist *node, int **ranks);
void dpt_dist_node_free(struct dpt_dist *node, int *ranks);

/* Collective over d: MPI_Alltoallv of floats, counts and offsets by rank. */
void dpt_dist_alltoallv_floats(const struct dpt_dist *d, const float *send, const int *send_counts,
                               const int *send_offsets, float *recv, const int *recv_counts,
                               const int *recv_offsets);

/* Collective. 0 when every rank has the same 64-bit value, else the lowest
 * rank whose value differs from rank 0's, plus one. */
int dpt_dist_same_u64(const struct dpt_dist *d, uint64_t v);

/* Collective. Rank 0 receives every rank's n floats of buf, concatenated in
 * rank order, in *all: a malloc'ed array the caller frees; the other ranks
 * get *all = NULL. With one rank *all is a copy of buf. Fails on every rank
 * alike (see dpt_dist_agree) when rank 0 is out of memory or the whole does
 * not fit MPI's int counts (2^31 - 1 floats). */
int dpt_dist_gather_floats(const struct dpt_dist *d, const float *buf, size_t n, float **all,
                           struct dpt_err *err);

#endif
