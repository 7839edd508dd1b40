/* What a training job will do, before it runs: `dptrain plan`.
 *
 * For a job of P ranks x T threads the plan gives the rows of each rank
 * (training, validation, test), the steps, the micro-shards, the memory of
 * rank 0 by kind, the sizes of the model file and of a checkpoint, the
 * learning-rate schedule at a few steps, a run time estimated from steps
 * timed on this machine, and warnings for what will go wrong or badly.
 *
 * Each figure comes from the code the run itself uses, so that the plan
 * cannot disagree with it: dpt_train_micro_rows, dpt_threads_for,
 * dpt_window_rows_for and dpt_shard_layout (each rank's rows and windows,
 * and the memory dpt_shard_create checks for), dpt_validation_setup and
 * dpt_eval_share, dpt_step_bytes, the model file and a checkpoint built
 * in memory exactly as they are written (dpt_model_file_bytes,
 * dpt_checkpoint_file_bytes), dpt_lr_factor, dpt_consistency_check and
 * dpt_output_space. The timed steps are real steps (dpt_step_take) of
 * rank 0's share of the batch, on its rows of the real data; what they
 * leave out (the allreduce between ranks, validation, checkpoint writes)
 * is said with the figure. tests/plan.sh and tests/mpi/plan_matches_run.sh
 * compare the figures with real runs.
 *
 * Nothing here is collective: the plan runs in one process and the job
 * it plans is described, not run.
 */
#ifndef DPT_TRAIN_PLAN_H
#define DPT_TRAIN_PLAN_H

#include "dist/dist.h"
#include "model/spec.h"
#include "plugin/registry.h"

#include <dptrain/dptrain.h>
#include <limits.h>
#include <stdint.h>

struct dpt_plan_opts {
    int ranks;             /* P */
    int threads;           /* T; 0: what training would choose */
    int node_ranks;        /* ranks sharing a node; 0: all P on one node */
    const char *out;       /* the model file the run writes */
    const char *ckpt_path; /* the checkpoint link, or NULL: none */
    int time_steps;        /* steps to time; 0: no timing */
};

/* The rows one rank holds. */
struct dpt_plan_rank {
    uint64_t train;      /* training rows per epoch */
    uint64_t validation; /* validation rows it evaluates after an epoch */
    uint64_t test;       /* rows of data.test it evaluates after training */
    uint64_t data_bytes; /* what dpt_shard_create checks for on this rank */
};

/* Rank 0's memory by kind (the rank with the most rows). */
struct dpt_plan_memory {
    uint64_t data, params, grads, optimizer, work, best, total;
};

#define DPT_PLAN_MAX_WARNINGS 16
#define DPT_PLAN_LR_POINTS 7

struct dpt_plan_warning {
    const char *id; /* a fixed word: "uneven_batch", "idle_rank", ... (plan.c lists them) */
    char text[1024];
};

struct dpt_plan {
    int ranks, threads, node_ranks, threads_chosen;
    uint64_t n_file, n_train, n_validation, n_test, features;
    int validation_split;
    int64_t epochs;
    uint64_t batch, micro, micros_per_step, steps_per_epoch, steps;
    char batch_note[1024]; /* train's note of a batch above the training rows, or "" */
    struct dpt_plan_rank *rank; /* ranks entries, malloc'ed */
    int cache_all, direct;
    int chunk_reads;         /* X's chunks inflated by dptrain (libdeflate) */
    int chunks_shared_by;    /* ranks of a node that inflate each chunk once for all; 1: none */
    char kept_in[PATH_MAX];  /* where the inflated chunks are kept after their first read, or "" */
    uint64_t kept_bytes;     /* the disk that takes on a node */
    int kept_in_memory;      /* ... memory: kept_in is a tmpfs (DPTRAIN_SCRATCH named it) */
    uint64_t block, pool;    /* block order's block and pool rows; 0 and 0: rows order */
    uint64_t window_steps, windows_per_epoch;
    uint64_t n_params; /* as train, summary and inspect count them (no padding) */
    struct dpt_plan_memory mem;
    uint64_t node_bytes, available; /* node_ranks x rank 0's, and what this machine has */
    uint64_t model_bytes, ckpt_bytes, ckpts_written, ckpts_kept;
    double lr; /* the optimizer's learning_rate; NaN when it reads none */
    uint64_t lr_step[DPT_PLAN_LR_POINTS];
    double lr_factor[DPT_PLAN_LR_POINTS];
    int n_lr;
    int steps_timed;
    double step_s, estimate_s; /* 0 when nothing was timed */
    struct dpt_plan_warning warn[DPT_PLAN_MAX_WARNINGS];
    int n_warn;
};

/* Plans the job spec describes for o (d: this process alone, for the
 * standardization statistics and the timed steps). 0, or an error that
 * training would stop on too (no data, a model that does not build). What
 * training would refuse later, or do badly, is a warning in p. */
int dpt_plan_make(struct dpt_plan *p, const struct dpt_spec *spec,
                  const struct dpt_registry *reg, const struct dpt_dist *d,
                  const struct dpt_plan_opts *o, struct dpt_err *err);
void dpt_plan_cleanup(struct dpt_plan *p);

#endif
