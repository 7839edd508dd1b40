/* One optimizer step of data-parallel training: the numerics of a step.
 *
 * Every thread runs forward/backward over its micro-shards of the step into
 * its own gradient buffer; the buffers are summed in thread order; one
 * in-place allreduce sums the flat gradient over the ranks, with the step's
 * loss, hit count and the stop, error and checkpoint flags riding as extra floats at its
 * end; every rank then applies the same optimizer update, so the parameters
 * stay identical everywhere. With --deterministic each micro-shard's
 * gradient is added into fixed-point accumulators instead (dist/exact.h), so
 * the sums do not depend on the order, the ranks or the threads.
 *
 * All buffers (per-thread gradients and work buffers, exact accumulators,
 * the optimizer state) are allocated by dpt_step_init, before the first
 * step; taking a step allocates nothing.
 */
#ifndef DPT_TRAIN_STEP_H
#define DPT_TRAIN_STEP_H

#include "data/shard.h"
#include "dist/dist.h"
#include "dist/exact.h"
#include "model/net.h"
#include "model/spec.h"

#include <dptrain/dptrain.h>
#include <stdatomic.h>
#include <stdint.h>

/* A piece [lo, hi) of the flat gradient summed over the ranks by one
 * nonblocking allreduce, which can start once the backward pass of node
 * `node` is done (SIZE_MAX: after the whole pass). */
struct dpt_bucket {
    size_t lo, hi, node;
    int blocking; /* summed by a blocking allreduce after the pass: nothing is left to
                   * overlap with it (the lowest layer's, the extras) */
    MPI_Request req;
    /* Several threads: how many have finished `node` on their last
     * micro-shard; the thread sum's pieces taken and done; 1 once summed. */
    atomic_int arrivals;
    atomic_size_t next_piece, pieces_done;
    atomic_int summed;
};

struct dpt_step {
    struct dpt_net *net;
    const struct dpt_dist *d;
    const struct dpt_spec *spec; /* deterministic, clipping */
    int threads;
    struct dpt_work **work; /* per thread */
    float **tgrad;          /* per thread; tgrad[0] ends up holding the sum */
    float *ostate;          /* the optimizer's state: opt_floats arrays of n_params */
    /* Two threads (thread_copies in step.c): each thread's copy of the
     * parameters and of the optimizer state, which its passes read and its
     * update writes; [0] are net->params and ostate. */
    float **tparams, **tostate;
    int copies;             /* the threads keep copies */
    int copies_taken;       /* they have taken net->params and ostate (at the first step) */
    int sum_left;           /* tgrad[0] still holds the last step's sum (zeroed at the next) */
    dpt_fix **tfix;         /* --deterministic: per-thread exact accumulators */
    double **tdbl;          /* --deterministic: their double form (dpt_fixd_add_clear) */
    int direct;             /* this step's sum is in tdbl[0], exact (one rank, one thread) */
    int doubles;            /* the double form may be used (DPTRAIN_EXACT_DOUBLES, default 1) */
    double *dring;          /* ranks of one thread: scratch of the ranks' sum of the doubles */
    int dbl_left;           /* this step, in the ring's case: tfix[0] holds terms too */
    MPI_Datatype fix_type;
    MPI_Op fix_op;
    int have_fix_mpi;
    struct dpt_err thread_err; /* the first error a thread met in a step */
    float lr_scale;            /* of the step being taken */
    int l2_done;               /* the L2 gradient was added before clipping */
    int nonfinite;             /* this step's gradient held a NaN or an infinity */
    /* More than one rank: the gradient's sum over the ranks, in pieces of
     * whole layers, top layers first (make_buckets in step.c); the last
     * holds the extras. */
    struct dpt_bucket *buckets;
    size_t n_buckets;
    size_t posted, arrived; /* buckets of this step started, and summed */
    int overlap;            /* buckets start during the backward pass */
    uint64_t update_t;      /* nonzero: each bucket is updated at this step as it arrives */
    uint64_t sum_update_t;  /* several threads, one rank: the update fused with the sum */
    struct dpt_node_sum node_sum; /* slot set: the ranks sum through it (dpt_step_share),
                                   * and tgrad[0] is this rank's slot */
};

/* What one step computes: step s of the epoch whose rows shard holds. */
struct dpt_step_in {
    const struct dpt_shard *shard;
    uint64_t s;
    uint64_t seed, epoch; /* for layers that draw random numbers (dropout) */
    uint64_t t;           /* the optimizer step being taken: 1, 2, ... (Adam's t) */
    float lr_scale;       /* the learning rate's factor for this step */
    int stop;             /* this rank asks every rank to stop after the step */
    int checkpoint;       /* this rank asks for a checkpoint after the step (rank 0's
                           * clock says every_seconds have passed) */
};

/* What every rank learns from a step. */
struct dpt_step_out {
    double loss; /* the sum of the per-sample losses of the step's rows (all ranks) */
    double hits; /* right predictions among them */
    int stop;    /* some rank asked to stop */
    int checkpoint; /* some rank asked for a checkpoint */
};

/* Allocates the buffers of a step for micro-shards of up to micro rows on
 * `threads` threads, and zeroes the optimizer state. Local; 0 or an error.
 * dpt_step_cleanup is safe after a failure. net->params and ostate may be
 * set between this and the first dpt_step_take (a fresh start, a resume);
 * from then on only the steps change them (with several threads each
 * thread updates a copy of its own, taken at the first step;
 * net->params and ostate stay the ones checkpoints and the model file
 * read). */
int dpt_step_init(struct dpt_step *st, struct dpt_net *net, const struct dpt_spec *spec,
                  const struct dpt_dist *d, int threads, size_t micro, struct dpt_err *err);
/* Collective, after every rank's dpt_step_init succeeded; `node` is the
 * ranks of this rank's node (dpt_dist_node), kept until dpt_step_cleanup.
 * When the ranks
 * all run on one node, the gradient sums go through memory they share
 * (dpt_node_sum) instead of MPI's allreduce: the rank's gradient buffer
 * becomes its slot, and the whole gradient is summed in one piece after
 * the backward pass (no buckets: on a node the sum runs on the cores that
 * compute, so overlapping it hides nothing). Nothing changes otherwise,
 * or with --deterministic (its exact sums). */
void dpt_step_share(struct dpt_step *st, const struct dpt_dist *node);
/* Collective when dpt_step_share made slots. */
void dpt_step_cleanup(struct dpt_step *st);

/* The bytes of net's parameters and the bytes dpt_step_init allocates for
 * it on `threads` threads with micro-shards of micro rows, by kind: the
 * parameters and the optimizer state (a copy per thread when the threads
 * keep copies), per-thread gradients (and exact accumulators with
 * --deterministic), and the work buffers (activations and workspaces).
 * Saturates at UINT64_MAX. */
struct dpt_step_bytes {
    uint64_t params, grads, optimizer, work;
};
void dpt_step_bytes(const struct dpt_net *net, const struct dpt_spec *spec, int threads,
                    size_t micro, struct dpt_step_bytes *out);

/* Collective. Takes one step: gradient, allreduce, checks, optimizer update
 * of net->params. Returns 0, or an error every rank agrees on: a thread's
 * failure (--deterministic out of range), a NaN or infinite loss (naming
 * the epoch and step), or a NaN or infinite gradient. A gradient that is not
 * finite is found before the update touches the parameters it covers; then
 * a diagnosis pass re-runs the step's micro-shards layer by layer and the
 * error names the layer, its plugin and the function (forward's y,
 * backward's dx or dparams) that made it from finite inputs. */
int dpt_step_take(struct dpt_step *st, const struct dpt_step_in *in, struct dpt_step_out *out,
                  struct dpt_err *err);

#endif
