/* Training: the fit() of dptrain. Opens the data, builds the network,
 * and runs the epochs: steps (train/step.h) over windows of rows
 * (data/shard.h), validation (train/validation.h), callbacks and schedules
 * (train/schedule.h), checkpoints (io/checkpoint.h).
 */
#ifndef DPT_TRAIN_TRAIN_H
#define DPT_TRAIN_TRAIN_H

#include "data/norm.h"
#include "dist/dist.h"
#include "model/net.h"
#include "model/spec.h"
#include "plugin/registry.h"
#include "train/schedule.h"
#include "train/threads.h"

#include <dptrain/dptrain.h>
#include <signal.h>
#include <stdint.h>

/* Where a run ended, for the caller's report (train --format json): set
 * by dpt_train on every rank whatever it returns, once the run had begun. */
struct dpt_train_outcome {
    int64_t epochs;          /* epochs completed, those of a resumed checkpoint included */
    uint64_t global_step;    /* optimizer steps taken in all */
    uint64_t steps_this_run; /* of which by this run */
    int early_stopped;       /* early stopping ended training */
    int64_t best_epoch;      /* early stopping's best epoch (1-based); 0: none */
    /* restore_best_weights put this epoch's weights back at the end (an
     * early stop, or the last epoch not the best); 0: none. */
    int64_t restored_epoch;
    /* After a run that succeeded: X's chunks inflated by all ranks in all
     * (data/dataset.h, dpt_dataset_chunks_inflated), of the file's chunks. */
    uint64_t chunks_inflated, chunks;
    /* The epoch (1-based) from which the node's ranks read their own rows
     * from the chunks kept in the node's files, exchanging none; 0: never. */
    int64_t own_rows_epoch;
};

struct dpt_train_opts {
    int threads; /* per rank; 0: up to omp_get_max_threads(), as the model's size pays for */
    int64_t check_sync; /* every K steps compare a hash of the weights; 0: never */
    /* Checkpoint to continue from, or NULL. With resume_auto, the link path
     * of a series: its newest checkpoint that loads, or a fresh start when
     * the series has no files (train/train.c, resume_auto). */
    const char *resume;
    int resume_auto;
    /* The first checkpoint of this run removes every other numbered file
     * of its series (--overwrite: a fresh run replaces an earlier one's). */
    int overwrite;
    const char *init;   /* model or checkpoint file whose weights to start from, or NULL */
    /* Where checkpoints go (NULL: none, unless a stop request comes; then
     * stop_path). Schedules and retention come from the spec. */
    const char *ckpt_path;
    const char *stop_path;
    /* Set (by a signal handler) to ask for a stop: all ranks finish the
     * step, a checkpoint is written, dpt_train returns DPT_ESIGNAL. NULL is
     * fine: dpt_stop_requested() asks the same, and is how the CLI asks. */
    volatile sig_atomic_t *stop;
    int64_t stop_after_steps; /* testing: behave as if *stop were set after this many steps */
    /* The model file the caller writes after training (NULL: none); its
     * filesystem must have room for it, checked before the first step. */
    const char *out;
    /* The time limit: limit seconds, ending at deadline on dpt__now()'s
     * clock (0: none). Rank 0 stops training at the step boundary that
     * leaves time to write the checkpoint (or, without ckpt_path, the
     * model file); dpt_train then returns DPT_ESIGNAL and sets *time_up
     * on every rank. */
    double limit, deadline;
    int *time_up;
    /* Called on every rank after each epoch (the CLI prints on rank 0). */
    void (*on_epoch)(void *ctx, const struct dpt_epoch_stats *st);
    /* Called on rank 0 only, during an epoch, at most every 0.2 s: steps
     * done of steps, the mean loss so far. NULL: no calls. */
    void (*on_progress)(void *ctx, int64_t epoch, uint64_t step, uint64_t steps, double loss,
                        double seconds);
    /* Called on every rank once before the first step, with the network
     * built (for a model summary), the threads per rank chosen and one line
     * saying how the rows are held and read, then one with the micro-shard
     * size (for --verbose). NULL: no call. */
    void (*on_start)(void *ctx, const struct dpt_net *net, int threads, const char *data);
    /* Called on every rank after each checkpoint; stopping is 1 when the
     * run stops after it (a stop request, the time limit), else 0. */
    void (*on_checkpoint)(void *ctx, const char *path, uint64_t global_step, int stopping);
    /* Called on every rank for each warning of loading init or resume (a
     * layer plugin of another version than the file's, with the same
     * parameter layout: io/model_file.h); the CLI prints on rank 0. NULL:
     * the warnings are dropped. */
    void (*on_warning)(void *ctx, const char *msg);
    /* Called on rank 0 with notes about a resume: which checkpoint
     * --resume auto took (or a fresh start), the changed settings applied,
     * another number of ranks without --deterministic (train/resume.h);
     * and before on_start, a batch larger than the training rows or one
     * that leaves ranks without rows (dpt_train_batch_note). NULL: dropped. */
    void (*on_note)(void *ctx, const char *msg);
    /* Called on rank 0 before a pass over a data file larger than 64 MB
     * that comes before the first epoch (the standardization statistics),
     * with what it does: a batch log then says where the time goes. NULL:
     * no call. */
    void (*on_pass)(void *ctx, const char *msg);
    /* Called on rank 0 once a resume (o->resume given) knows where it
     * starts, before on_start: the epochs the checkpoint had completed (a
     * checkpoint in the middle of an epoch counts the epochs before it)
     * and the checkpoint file it loaded (borrowed for the call), or 0 and
     * NULL when --resume auto starts afresh. Rows logged by the interrupted
     * run after that point will be logged again (the CLI drops them from
     * train.log). NULL: no call. */
    void (*on_resume)(void *ctx, int64_t epochs_done, const char *from);
    void *ctx;
    struct dpt_train_outcome *outcome; /* filled in at the end; NULL: not asked */
};

/* Rows per micro-shard of a job of ranks x threads training net as spec
 * says (train.micro_batch, else the defaults README.md lists). Local: what
 * dpt_train uses, and what `dptrain plan` reports. */
uint64_t dpt_train_micro_rows(const struct dpt_spec *spec, const struct dpt_net *net, int ranks,
                              int threads);

/* When spec's batch is more than the n_train training rows (Keras allows
 * it): a one-line note into buf (len bytes) saying what a step then is
 * (one an epoch, over all the rows, in how many micro-shards) and, when
 * that leaves ranks without rows, which and what would give them some;
 * when the batch fits in the rows but makes fewer micro-shards a step than
 * there are ranks (batch_norm's 32-row micro-shards and a batch of 32 on 2
 * ranks), which ranks get none and what would give them some. Returns 1
 * with a note, else 0 with buf untouched. Local: dpt_train gives it to
 * on_note on rank 0, `dptrain plan` prints it. */
int dpt_train_batch_note(const struct dpt_spec *spec, const struct dpt_net *net,
                         uint64_t n_train, int ranks, int threads, char *buf, size_t len);

/* Collective. Opens spec's training data, builds and initializes the network
 * (identical on every rank; from opts->init or opts->resume if given),
 * computes the standardization if asked (or takes the checkpoint's), and
 * trains up to spec->epochs, writing checkpoints as the spec and opts say.
 * On success, and on DPT_ESIGNAL after a checkpoint (a stop request,
 * dpt_stop_requested() or opts->stop, after the first step), *net and
 * *norm belong to the caller. A stop request before the first step (during
 * the statistics, the first reads) returns DPT_ESIGNAL with *net NULL:
 * nothing was worth saving. Any rank's error becomes every
 * rank's. With spec->deterministic the gradients are summed exactly (see
 * dist/exact.h), so the weights do not depend on the number of ranks or
 * threads. */
int dpt_train(const struct dpt_spec *spec, const struct dpt_registry *reg,
              const struct dpt_dist *dist, const struct dpt_train_opts *o,
              struct dpt_net **net, struct dpt_norm *norm, struct dpt_err *err);

#endif
