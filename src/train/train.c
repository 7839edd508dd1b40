/* The training loop: setup, then epochs of steps. See train.h for what it
 * promises, step.h for the numerics of one step, shard.h for which rows a
 * rank and thread compute, DESIGN.md for why.
 *
 * Everything big is allocated during setup, before the first step. Errors
 * are agreed on where one rank can fail alone (opening and reading data,
 * building the network, writing a checkpoint); a NaN loss or a stop request
 * is seen by all ranks at once because it rides in the step's allreduce.
 */
#include "config.h"

#include "train/train.h"
#include "data/dataset.h"
#include "data/shard.h"
#include "data/window.h"
#include "dist/watchdog.h"
#include "io/checkpoint.h"
#include "io/model_file.h"
#include "io/output.h"
#include "train/eval.h"
#include "train/resume.h"
#include "train/fingerprint.h"
#include "train/step.h"
#include "train/consistency.h"
#include "train/validation.h"
#include "util/blas_core.h"
#include "util/util.h"

#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

/* Default micro-shard rows with --deterministic: at most DET_MICRO, and
 * few enough that a batch makes DET_SHARES micro-shards, whatever P and T:
 * 64 rows of a batch of 64 left one micro-shard a step, so that a second
 * rank or thread had nothing to do (LeNet, 2 x 1: 41k samples/s, the same
 * as 1 x 1, against 65k with 4 micro-shards of 16). */
#define DET_MICRO 64
#define DET_SHARES 4
/* Default micro-shard rows of a model with layer state (batch norm): its
 * batch statistics come from each micro-shard, so a size that does not
 * depend on P and T keeps the trained model independent of them; 32 is
 * what "ghost batch norm" commonly uses and Keras' default batch. */
#define STATE_MICRO 32
/* At most this many rows per micro-shard of a model with spatial layers
 * (a layer's output of rank 2 or more: convolutions, pooling). Their
 * kernels work a sample or a block of tiles at a time and need no tall
 * products, while a sample's activations are large (LeNet's 15k floats,
 * vggsmall's 150k): small micro-shards keep what one layer wrote in cache
 * for the next and for backward. One thread, batch 64, medians of 3
 * alternating runs: LeNet 14.7k samples/s with micro-shards of 64, 16.4k
 * with 32, 17.7k with 16, 14.6k with 8; vggsmall 554-633 with 64, 687 with
 * 16, 565-606 with 8. Dense models keep one micro-shard per worker: their
 * sgemm wants the rows. */
#define SPATIAL_MICRO 16
/* The time limit's margin beyond twice the checkpoint's write time: 10 s
 * (interfaces of issue 13), but at most a tenth of the limit, so that a
 * limit of a few seconds (the tests', a quick debug job's) still trains. */
#define TIME_MARGIN_S 10.0
/* Before the first checkpoint has been timed, its write time is estimated
 * at this rate: 100 MB/s is a slow share of a busy parallel filesystem. */
#define WRITE_RATE 100e6

/* Everything one run holds; released by run_cleanup. */
struct run {
    const struct dpt_spec *spec;
    const struct dpt_train_opts *o;
    const struct dpt_dist *d;
    struct dpt_net *net;
    struct dpt_norm *norm;
    struct dpt_dataset *ds;
    struct dpt_shard *shard;
    struct dpt_dist node;    /* the ranks on this rank's node */
    int *node_rank;          /* their ranks in d (NULL: node not set up) */
    struct dpt_step step;
    struct dpt_callbacks cb;
    struct dpt_validation val;
    struct dpt_train_state st;
    struct dpt_run_record run; /* this run's P, T, mode, data (rank 0's fingerprint), order */
    struct dpt_window_policy policy; /* how the training rows are held, and their order */
    int resumed;             /* a checkpoint was loaded: its order is kept */
    char from[PATH_MAX];     /* ... the file it came from (for o->on_resume) */
    int threads;
    uint64_t n_train;        /* rows trained on (all of data.train but a validation split) */
    uint64_t micro;          /* rows per micro-shard (dpt_train_micro_rows) */
    float lr_scale;          /* the learning rate's factor at the last step */
    uint64_t steps_this_run;
    int64_t last_ckpt_step;  /* global step of the last checkpoint written, or -1 */
    int stop_saved;          /* a stop request was answered with a checkpoint */
    int64_t restored_epoch;  /* restore_best_weights put this epoch's weights back */
    double last_ckpt_time;   /* when it was written, or when training started */
    double write_s;          /* rank 0: the last checkpoint's write time (0: none yet) */
    double last_check, step_max; /* rank 0: the time limit's last look, longest step */
    int time_up;             /* rank 0: the time limit asked for the stop */
    int keep_watch;          /* a rank keeps inflated chunks, and no write has failed yet */
    int keep_node;           /* the node's ranks keep X's chunks in the same files */
    int64_t own_rows_epoch;  /* from this epoch (1-based) on, no rows exchanged; 0: never */
    double start, epoch_start;
};

static void run_cleanup(struct run *r)
{
    dpt_step_cleanup(&r->step);
    dpt_callbacks_cleanup(&r->cb);
    dpt_validation_cleanup(&r->val);
    dpt_shard_destroy(r->shard);
    dpt_dataset_close(r->ds);
    if (r->node_rank) {
        dpt_dist_node_free(&r->node, r->node_rank);
    }
}

static uint64_t params_hash(const struct dpt_net *net)
{
    return XXH3_64bits(net->params, net->n_params * sizeof(float));
}

/* ---- Checkpoints and stops ---- */

/* The callbacks' state into r->st.cb, for a checkpoint. */
static void callbacks_to_state(struct run *r)
{
    const struct dpt_callbacks *cb = &r->cb;
    r->st.cb = (struct dpt_callback_state){
        .plateau_scale = cb->plateau_scale,
        .plateau_best = cb->plateau_best,
        .plateau_wait = cb->plateau_wait,
        .es_best = cb->es_best,
        .es_wait = cb->es_wait,
        .es_best_epoch = cb->es_best_epoch,
        .stopped_early = cb->stopped,
        .best = cb->best,
    };
}

/* The callbacks' state from a loaded checkpoint (the best weights are in
 * cb->best already: dpt_checkpoint_load filled them). A checkpoint from
 * before callbacks were stored leaves them fresh. */
static void callbacks_from_state(struct run *r)
{
    const struct dpt_callback_state *s = &r->st.cb;
    struct dpt_callbacks *cb = &r->cb;
    if (!r->st.has_cb) {
        return;
    }
    cb->plateau_scale = s->plateau_scale;
    cb->plateau_best = s->plateau_best;
    cb->plateau_wait = s->plateau_wait;
    cb->es_best = s->es_best;
    cb->es_wait = s->es_wait;
    cb->es_best_epoch = s->es_best_epoch;
    cb->stopped = s->stopped_early;
}

/* Rank 0 writes a checkpoint behind the link path; the others wait and
 * share its outcome. stopping: the run stops after it (o->on_checkpoint). */
static int checkpoint(struct run *r, const char *path, int stopping, struct dpt_err *err)
{
    dpt_shard_prefetch_wait(r->shard); /* HDF5 is not thread-safe: one user at a time */
    dpt_watch_phase("writing a checkpoint (the others wait for rank 0)");
    int rc = 0;
    callbacks_to_state(r);
    r->st.run = r->run;
    if (r->d->rank == 0) {
        int64_t keep = r->o->overwrite && r->last_ckpt_step < 0 ? 1 : r->spec->ckpt_keep;
        double t0 = dpt__now();
        rc = dpt_checkpoint_write(path, keep, r->net, r->step.ostate, r->spec,
                                  r->norm, &r->st, err);
        r->write_s = dpt__now() - t0;
    }
    rc = dpt_dist_agree(r->d, rc, err);
    if (rc == 0) {
        r->last_ckpt_step = (int64_t)r->st.global_step;
        r->last_ckpt_time = dpt__now();
        if (r->o->on_checkpoint) {
            r->o->on_checkpoint(r->o->ctx, path, r->st.global_step, stopping);
        }
    }
    return rc;
}

/* Some rank asked to stop (a signal, --stop-after-steps) after the steps
 * r->st says were taken: a checkpoint (to the configured path, else the
 * stop path; none when the configured path holds this very step already,
 * as after a stop request that came while it was written), then
 * DPT_ESIGNAL. */
static int stop_on_request(struct run *r, struct dpt_err *err)
{
    const char *path = r->o->ckpt_path ? r->o->ckpt_path : r->o->stop_path;
    int rc = 0;
    if (path && !(path == r->o->ckpt_path &&
                  r->last_ckpt_step == (int64_t)r->st.global_step)) {
        rc = checkpoint(r, path, 1, err);
    }
    if (rc < 0) {
        return rc;
    }
    r->stop_saved = path != NULL;
    int sig = dpt_stop_requested();
    char by[32] = "";
    if (sig) {
        snprintf(by, sizeof by, " (%s)", dpt__signal_name(sig));
    }
    return dpt_err_set(err, DPT_ESIGNAL, "stopped on request%s after step %llu of epoch %lld%s%s",
                       by, (unsigned long long)r->st.step, (long long)r->st.epoch + 1,
                       path ? "; checkpoint " : "", path ? path : "");
}

/* The bytes of a model file of the net, and of a checkpoint: the floats,
 * plus the attributes and the model description (an iris model is 14 KB
 * for 131 parameters, a LeNet's 180 KB for 44k: 64 KiB and 8 KiB a node
 * cover both). */
static uint64_t model_bytes(const struct run *r)
{
    return 4 * (uint64_t)r->net->n_params + (64u << 10) + (8u << 10) * r->net->n_nodes;
}
static uint64_t checkpoint_bytes(const struct run *r)
{
    return model_bytes(r) + 4 * (uint64_t)r->net->n_params * r->net->opt_floats;
}

/* Rank 0, before each step: whether this step must be the last, so that
 * the checkpoint (without one, the model file) is written before the time
 * limit. The step about to start, the longest step seen so far (epoch
 * ends, validation and checkpoints included), twice the write time and
 * the margin must fit before the deadline. */
static int time_is_up(struct run *r)
{
    const struct dpt_train_opts *o = r->o;
    if (o->deadline <= 0 || r->d->rank != 0) {
        return 0;
    }
    double now = dpt__now();
    if (r->last_check > 0 && now - r->last_check > r->step_max) {
        r->step_max = now - r->last_check;
    }
    r->last_check = now;
    double write_s = r->write_s > 0 ? r->write_s
                                    : (double)(o->ckpt_path ? checkpoint_bytes(r)
                                                            : model_bytes(r)) / WRITE_RATE;
    double margin = o->limit / 10 < TIME_MARGIN_S ? o->limit / 10 : TIME_MARGIN_S;
    r->time_up = now + r->step_max + 2 * write_s + margin >= o->deadline;
    return r->time_up;
}

/* The time limit stopped training after step s: the checkpoint, if one is
 * configured (the caller writes the model file otherwise), then
 * DPT_ESIGNAL with *o->time_up set. */
static int stop_on_time_limit(struct run *r, uint64_t s, struct dpt_err *err)
{
    const struct dpt_train_opts *o = r->o;
    int rc = 0;
    if (o->ckpt_path && r->last_ckpt_step != (int64_t)r->st.global_step) {
        rc = checkpoint(r, o->ckpt_path, 1, err);
    }
    if (rc < 0) {
        return rc;
    }
    r->stop_saved = 1; /* the checkpoint, or the model the caller writes */
    *o->time_up = 1;
    double left = o->deadline - dpt__now();
    return dpt_err_set(err, DPT_ESIGNAL, "time limit of %.0f s: stopped after step %llu of "
                       "epoch %lld with %.1f s left%s%s", o->limit, (unsigned long long)s + 1,
                       (long long)r->st.epoch + 1, left, o->ckpt_path ? "; checkpoint " : "",
                       o->ckpt_path ? o->ckpt_path : "");
}

/* ---- One step ---- */

/* Called by the node's ranks at the last window of the first whole epoch of
 * this run with the chunks shared and kept in the node's files, once its
 * rows are read: every chunk the training reads has been inflated and kept
 * by one of them. Unless a write failed, each rank learns which chunks the
 * others kept (an OR of the maps) and from the next epoch on reads its own
 * rows, all from the kept chunks: no rows move between the ranks. */
static void read_own_rows(struct run *r)
{
    r->keep_node = 0;
    if (dpt_dist_any(&r->node, dpt_dataset_keep_errno(r->ds) != 0)) {
        return; /* the chunks not kept are still inflated once for the node */
    }
    for (size_t i = 0; i < dpt_dataset_files(r->ds); i++) {
        uint64_t n;
        uint8_t *kept = dpt_dataset_kept_map(r->ds, i, &n);
        if (kept) {
            dpt_dist_or_bytes(&r->node, kept, n);
        }
    }
    dpt_shard_unshare(r->shard);
    r->own_rows_epoch = r->st.epoch + 2; /* 1-based: the next one */
}

/* Makes the window holding step s of the epoch of perm current (agreed on
 * by all ranks) and starts reading the window after it: the rest of this
 * epoch, or the next epoch's first. */
static int load_window(struct run *r, const struct dpt_perm *perm, uint64_t s,
                       struct dpt_err *err)
{
    const struct dpt_spec *spec = r->spec;
    struct dpt_shard *sh = r->shard;
    dpt_watch_phase("reading a window of training rows");
    int rc = dpt_shard_next(sh, perm, dpt_shard_window_of(sh, s), err);
    const struct dpt_shard_exchange *x = dpt_shard_exchange(sh);
    if (x) {
        /* The rows this rank's node peers read from their chunks. */
        rc = dpt_dist_agree(&r->node, rc, err);
        if (rc == 0) {
            dpt_dist_alltoallv_floats(&r->node, x->send, x->send_counts, x->send_offsets,
                                      x->recv, x->recv_counts, x->recv_offsets);
            dpt_shard_exchange_place(sh);
        }
        /* The epoch's last window, and this run read all of the epoch. */
        if (rc == 0 && r->keep_node && sh->win_hi == sh->steps && r->steps_this_run >= s) {
            read_own_rows(r);
        }
    }
    if (rc == 0 && sh->win_hi < sh->steps) {
        dpt_shard_prefetch(sh, perm, sh->win_hi);
    } else if (rc == 0 && r->st.epoch + 1 < spec->epochs) {
        struct dpt_perm next;
        dpt_shard_epoch(sh, &next, r->st.seed, (uint64_t)r->st.epoch + 1, spec->shuffle);
        dpt_shard_prefetch(sh, &next, 0);
    }
    return dpt_dist_agree(r->d, rc, err);
}

/* With --check-sync K, every K steps: do all ranks hold the same weights? */
static int check_sync(const struct run *r, struct dpt_err *err)
{
    int64_t k = r->o->check_sync;
    if (k <= 0 || r->st.global_step % (uint64_t)k != 0) {
        return 0;
    }
    int bad = dpt_dist_same_u64(r->d, params_hash(r->net));
    if (bad) {
        return dpt_err_set(err, DPT_ENUMERIC, "--check-sync: the weights of rank %d differ from "
                           "rank 0's after step %llu",
                           bad - 1, (unsigned long long)r->st.global_step);
    }
    return 0;
}

/* Whether rank 0's clock says a checkpoint is due: every_seconds of
 * training have passed since the last one. Only rank 0 asks, and the
 * request rides in the step's allreduce, so all ranks checkpoint after the
 * same step whatever their clocks say. */
static int checkpoint_due(const struct run *r)
{
    double every = r->spec->ckpt_every_seconds;
    return r->d->rank == 0 && r->o->ckpt_path && every > 0 &&
           dpt__now() - r->last_ckpt_time >= every;
}

/* Step s of the current epoch on every rank; *stop when some rank asked to
 * stop (a signal, or --stop-after-steps), *due when a checkpoint is due. */
static int take_step(struct run *r, uint64_t s, int *stop, int *due, struct dpt_err *err)
{
    const struct dpt_train_opts *o = r->o;
    r->lr_scale = dpt_lr_factor(r->spec, r->st.global_step + 1) * (float)r->cb.plateau_scale;
    struct dpt_step_in in = {
        .shard = r->shard,
        .s = s,
        .seed = r->st.seed,
        .epoch = (uint64_t)r->st.epoch,
        .t = r->st.global_step + 1,
        .lr_scale = r->lr_scale,
        .stop = dpt_stop_requested() || (o->stop && *o->stop) || time_is_up(r) ||
                (o->stop_after_steps > 0 &&
                 r->steps_this_run + 1 >= (uint64_t)o->stop_after_steps),
        .checkpoint = checkpoint_due(r),
    };
    struct dpt_step_out out;
    dpt_watch_phase("the gradient sum of a step");
    dpt_watch_at(r->st.epoch + 1, s + 1);
    int rc = dpt_step_take(&r->step, &in, &out, err);
    if (rc < 0) {
        return rc;
    }
    r->st.loss_sum += out.loss;
    r->st.hit_sum += out.hits;
    r->st.global_step++;
    r->st.step = s + 1;
    r->steps_this_run++;
    *stop = out.stop;
    *due = out.checkpoint;
    return check_sync(r, err);
}

/* ---- Epochs ---- */

/* Rank 0's progress bar, at most every 0.2 s. */
static void report_progress(const struct run *r, uint64_t s, double *last)
{
    const struct dpt_train_opts *o = r->o;
    if (!o->on_progress || r->d->rank != 0 || dpt__now() - *last <= 0.2) {
        return;
    }
    *last = dpt__now();
    o->on_progress(o->ctx, r->st.epoch + 1, s + 1, r->shard->steps,
                   r->st.loss_sum / (double)((s + 1) * r->spec->batch), *last - r->epoch_start);
}

/* The steps of the current epoch from r->st.step on (a resumed run starts
 * mid-epoch), with the checkpoints every_steps and every_seconds ask for. */
static int run_steps(struct run *r, struct dpt_err *err)
{
    const struct dpt_spec *spec = r->spec;
    struct dpt_shard *sh = r->shard;
    int64_t every = r->o->ckpt_path ? spec->ckpt_every_steps : 0;
    struct dpt_perm perm;
    dpt_shard_epoch(sh, &perm, r->st.seed, (uint64_t)r->st.epoch, spec->shuffle);
    double last_progress = r->epoch_start;
    uint64_t s0 = r->st.step;
    for (uint64_t s = s0; s < sh->steps; s++) {
        int rc = 0, stop = 0, due = 0;
        if (s == s0 || s >= sh->win_hi) {
            rc = load_window(r, &perm, s, err);
        }
        if (rc == 0) {
            rc = take_step(r, s, &stop, &due, err);
        }
        /* Every rank learns whether rank 0's clock asked for the stop. */
        if (rc == 0 && stop && dpt_dist_any(r->d, r->time_up)) {
            rc = stop_on_time_limit(r, s, err);
        } else if (rc == 0 && stop) {
            rc = stop_on_request(r, err);
        }
        if (rc < 0) {
            return rc;
        }
        report_progress(r, s, &last_progress);
        due |= every > 0 && r->st.global_step % (uint64_t)every == 0;
        if (due && (rc = checkpoint(r, r->o->ckpt_path, 0, err)) < 0) {
            return rc;
        }
    }
    return 0;
}

/* A write of the kept chunks that failed during the epoch (a full disk, a
 * file-size limit) stopped the keeping on its rank: rank 0 says so, once. */
static void watch_keeping(struct run *r)
{
    int e = r->keep_watch ? -dpt_dist_min_int(r->d, -dpt_dataset_keep_errno(r->ds)) : 0;
    if (e == 0) {
        return;
    }
    r->keep_watch = 0;
    if (r->d->rank == 0 && r->o->on_warning) {
        char msg[PATH_MAX + 512];
        const char *dir = dpt_dataset_kept_in(r->ds);
        snprintf(msg, sizeof msg, "X's chunks are no longer kept once inflated since epoch %lld: "
                 "a write to %s failed: %s; the chunks not kept yet are inflated again each "
                 "epoch (to keep them all: more room there, or another folder in "
                 "DPTRAIN_SCRATCH)", (long long)r->st.epoch + 1,
                 dir ? dir : "the scratch folder", strerror(e));
        r->o->on_warning(r->o->ctx, msg);
    }
}

/* After the epoch's steps: its metrics (validation included), the
 * callbacks, the epoch line, the checkpoint every_epochs asks for. Sets
 * *done when early stopping ends training. */
static int finish_epoch(struct run *r, int *done, struct dpt_err *err)
{
    const struct dpt_spec *spec = r->spec;
    const struct dpt_train_opts *o = r->o;
    uint64_t n = r->shard->n;
    struct dpt_epoch_stats es = {
        .epoch = r->st.epoch + 1,
        .epochs = spec->epochs,
        .samples = n,
        .loss = r->st.loss_sum / (double)n,
        .accuracy = r->net->loss->correct ? r->st.hit_sum / (double)n : NAN,
        .val_loss = NAN,
        .val_accuracy = NAN,
        .lr_scale = r->lr_scale,
    };
    if (r->val.n) {
        dpt_shard_prefetch_wait(r->shard); /* HDF5: one user at a time */
        dpt_watch_phase("validation");
        int rc = dpt_validation_run(&r->val, r->net, r->norm, r->d, r->threads, &es.val_loss,
                                    &es.val_accuracy, err);
        if (rc < 0) {
            return rc;
        }
    }
    watch_keeping(r);
    es.stop_early = dpt_callbacks_epoch(&r->cb, &es, r->net->params);
    double now = dpt__now();
    es.seconds = now - r->epoch_start;
    es.elapsed = now - r->start;
    if (o->on_epoch) {
        o->on_epoch(o->ctx, &es);
    }
    r->st.epoch++;
    r->st.step = 0;
    r->st.loss_sum = r->st.hit_sum = 0;
    if (es.stop_early) {
        r->cb.stopped = 1;
        dpt_callbacks_restore(&r->cb, r->net->params);
        r->restored_epoch = r->cb.best ? r->cb.es_best_epoch : 0;
        *done = 1;
        return 0;
    }
    int64_t every = o->ckpt_path ? spec->ckpt_every_epochs : 0;
    if (every > 0 && r->st.epoch % every == 0) {
        return checkpoint(r, o->ckpt_path, 0, err);
    }
    return 0;
}

static int train_epochs(struct run *r, struct dpt_err *err)
{
    r->start = r->last_ckpt_time = dpt__now();
    /* A checkpoint written after early stopping ended training: resuming
     * it trains no further (its weights are the best ones, restored). */
    int rc = 0, done = r->cb.stopped;
    while (rc == 0 && !done && r->st.epoch < r->spec->epochs) {
        r->epoch_start = dpt__now();
        if (r->st.step == 0) {
            r->st.loss_sum = r->st.hit_sum = 0;
        }
        rc = run_steps(r, err);
        if (rc == 0) {
            rc = finish_epoch(r, &done, err);
        }
    }
    /* A stop request that a read of rows noticed (a window, validation)
     * rather than a step: the steps taken are worth a checkpoint too. */
    if (rc == DPT_ESIGNAL && !r->stop_saved && r->steps_this_run > 0) {
        rc = stop_on_request(r, err);
    }
    /* The end of training is a checkpoint too: a later run may go further. */
    if (rc == 0 && r->o->ckpt_path && r->last_ckpt_step != (int64_t)r->st.global_step) {
        rc = checkpoint(r, r->o->ckpt_path, 0, err);
    }
    /* restore_best_weights also when the epochs ran out before the
     * patience did: the model file gets the best epoch's weights, as a
     * Keras user expects of the setting (the checkpoint above keeps the last
     * epoch's, with the optimizer state that goes with them, for a run that
     * goes on). Not after a stop: that run is to be resumed. */
    if (rc == 0 && !done && r->cb.best && r->cb.es_best_epoch > 0 &&
        r->cb.es_best_epoch < r->st.epoch) {
        dpt_callbacks_restore(&r->cb, r->net->params);
        r->restored_epoch = r->cb.es_best_epoch;
    }
    return rc;
}

/* ---- Setup ---- */

/* Opens data.train and builds the network for it. Local. */
static int open_data(struct run *r, const struct dpt_registry *reg, struct dpt_err *err)
{
    const struct dpt_spec *spec = r->spec;
    if (!spec->train) {
        return dpt_err_set(err, DPT_ECONFIG, "%s: no training data: set data.train = "
                           "\"FILE.h5\" (or --set data.train=FILE.h5)", spec->file);
    }
    int rc = dpt_dataset_open_source(&r->ds, &spec->train_src, 1, err);
    if (rc == 0) {
        struct dpt_shape in;
        dpt_dataset_sample_shape(r->ds, &in);
        rc = dpt_net_create(&r->net, spec, reg, &in, err);
    }
    if (rc == 0) {
        rc = dpt_net_check_targets(r->net, dpt_dataset_y_cols(r->ds), dpt_dataset_path(r->ds),
                                   err);
    }
    if (rc == 0) {
        rc = dpt_consistency_check(spec, r->net, r->ds, err);
    }
    return rc;
}

/* data.test, opened and checked against the model now, its targets
 * included, so that a wrong file is reported before training rather than
 * after it. Collective. */
static int check_test_file(const struct run *r, struct dpt_err *err)
{
    const struct dpt_spec *spec = r->spec;
    if (!spec->test) {
        return 0;
    }
    struct dpt_dataset *ds = NULL;
    struct dpt_names classes = dpt_dataset_classes(r->ds);
    struct dpt_names columns = dpt_dataset_columns(r->ds);
    int rc = dpt_eval_open(&ds, r->net, &spec->test_src, 1, &classes, &columns, err);
    if (dpt_dist_agree(r->d, rc, err) == 0) {
        rc = dpt_eval_check_targets(r->net, ds, dpt_eval_y_name(&spec->test_src, 1), r->d, err);
    }
    dpt_dataset_close(ds);
    if (rc < 0) {
        dpt_err_prefix(err, "data.test");
    }
    return rc;
}

/* The targets of data.train, then data.test, checked against the loss
 * before the first step: every row, so that the error names the first bad
 * row of the file and how many there are, whatever the shuffle, the
 * validation split and the number of ranks. Collective. */
static int check_targets(const struct run *r, struct dpt_err *err)
{
    dpt_watch_phase("start-up (checking the targets)");
    int rc = dpt_eval_check_targets(r->net, r->ds, dpt_eval_y_name(&r->spec->train_src, 1),
                                    r->d, err);
    return rc == 0 ? check_test_file(r, err) : rc;
}

/* Rank 0 (the rank that writes): room for the model file and for a
 * checkpoint beside the previous one (which stays until the new one is
 * whole). Collective. */
static int check_space(const struct run *r, struct dpt_err *err)
{
    int rc = 0;
    if (r->d->rank == 0) {
        const struct dpt_output_need needs[] = {
            {r->o->out, "the model file", model_bytes(r)},
            {r->o->ckpt_path, "two checkpoints", 2 * checkpoint_bytes(r)},
        };
        rc = dpt_output_space(needs, 2, err);
    }
    return dpt_dist_agree(r->d, rc, err);
}

/* Whether a layer of the net outputs samples of rank 2 or more. */
static int has_spatial_layer(const struct dpt_net *net)
{
    for (size_t i = 0; net && i < net->n_nodes; i++) {
        if (net->nodes[i].out.rank > 1) {
            return 1;
        }
    }
    return 0;
}

/* Rows per micro-shard: train.micro_batch, else with --deterministic
 * a quarter of a batch but at most 64 (16 for a model with spatial
 * layers; what a micro-shard holds must not depend on P or T), else 32 for a
 * model with layer state (batch statistics per micro-shard must not
 * either), else one per worker of a batch; for a model with spatial
 * layers, k per worker instead, the fewest that bring a micro-shard to
 * SPATIAL_MICRO rows or below (so that the workers still get as many
 * each: batch 64 on 3 workers gives micro-shards of 11, not 16 and an idle
 * worker). */
static uint64_t micro_rows(const struct dpt_spec *spec, uint64_t B, const struct dpt_net *net,
                           int ranks, int threads)
{
    uint64_t m;
    if (spec->micro_batch > 0) {
        m = (uint64_t)spec->micro_batch;
    } else if (spec->deterministic) {
        m = (B + DET_SHARES - 1) / DET_SHARES;
        m = m < DET_MICRO ? m : DET_MICRO;
        if (has_spatial_layer(net) && m > SPATIAL_MICRO) {
            m = SPATIAL_MICRO;
        }
    } else if (net && net->n_nonweights > 0) {
        m = STATE_MICRO;
    } else {
        uint64_t workers = (uint64_t)ranks * (uint64_t)threads;
        m = (B + workers - 1) / workers;
        if (has_spatial_layer(net) && m > SPATIAL_MICRO) {
            uint64_t k = (m + SPATIAL_MICRO - 1) / SPATIAL_MICRO;
            m = (B + workers * k - 1) / (workers * k);
        }
    }
    return m < B ? m : B;
}

uint64_t dpt_train_micro_rows(const struct dpt_spec *spec, const struct dpt_net *net, int ranks,
                              int threads)
{
    return micro_rows(spec, (uint64_t)spec->batch, net, ranks, threads);
}

/* "rank K of P gets" or "ranks K-(P-1) of P get": the ranks past the k
 * micro-shards of a step. */
static void idle_ranks(char *buf, size_t len, uint64_t k, int ranks)
{
    if ((uint64_t)ranks - k == 1) {
        snprintf(buf, len, "rank %llu of %d gets", (unsigned long long)k, ranks);
    } else {
        snprintf(buf, len, "ranks %llu-%d of %d get", (unsigned long long)k, ranks - 1, ranks);
    }
}

int dpt_train_batch_note(const struct dpt_spec *spec, const struct dpt_net *net,
                         uint64_t n_train, int ranks, int threads, char *buf, size_t len)
{
    uint64_t B = (uint64_t)spec->batch, P = (uint64_t)ranks;
    if (n_train == 0) {
        return 0;
    }
    char idle[64];
    if (B <= n_train) {
        /* A step's micro-shards, one rank each (micro-shard k goes to rank
         * k % P): fewer than the ranks leave some without rows every step,
         * e.g. batch_norm's 32-row micro-shards with a batch of 32. */
        uint64_t m = micro_rows(spec, B, net, ranks, threads), k = (B + m - 1) / m;
        if (k >= P) {
            return 0;
        }
        idle_ranks(idle, sizeof idle, k, ranks);
        snprintf(buf, len, "train.batch = %llu in micro-shards of %llu rows makes %llu "
                 "micro-shard%s a step for %d ranks, so %s no rows and only wait%s; "
                 "train.batch = %llu or train.micro_batch = %llu gives every rank rows",
                 (unsigned long long)B, (unsigned long long)m, (unsigned long long)k,
                 k == 1 ? "" : "s", ranks, idle, P - k == 1 ? "s" : "",
                 (unsigned long long)(P * m), (unsigned long long)((B + P - 1) / P));
        return 1;
    }
    /* The one step's micro-shards: micro-shard k goes to rank k % P. */
    uint64_t m = micro_rows(spec, B, net, ranks, threads), k = (n_train + m - 1) / m;
    size_t n = (size_t)snprintf(buf, len, "train.batch = %llu is more than the %llu training "
                                "rows: each epoch is one step over all %llu rows (their mean "
                                "gradient, as Keras does with such a batch_size), in %llu "
                                "micro-shard%s of up to %llu rows",
                                (unsigned long long)B, (unsigned long long)n_train,
                                (unsigned long long)n_train, (unsigned long long)k,
                                k == 1 ? "" : "s", (unsigned long long)m);
    if (k >= P || n >= len) {
        return 1;
    }
    /* What gives every rank rows: a batch of all the rows, when the
     * micro-shards it makes are enough, else smaller micro-shards. */
    uint64_t m_all = micro_rows(spec, n_train, net, ranks, threads);
    uint64_t per_rank = (n_train + P - 1) / P;
    char fix[96];
    if ((n_train + m_all - 1) / m_all >= P) {
        snprintf(fix, sizeof fix, "train.batch = %llu", (unsigned long long)n_train);
    } else {
        snprintf(fix, sizeof fix, "train.micro_batch = %llu", (unsigned long long)per_rank);
    }
    idle_ranks(idle, sizeof idle, k, ranks);
    snprintf(buf + n, len - n, ", so %s no rows and only wait%s; %s gives every rank rows",
             idle, P - k == 1 ? "s" : "", fix);
    return 1;
}

/* The weights of a fresh start: from the seed, then --init; the optimizer
 * state zero and training at its start. Local. */
static int fresh_start(struct run *r, struct dpt_err *err)
{
    const struct dpt_train_opts *o = r->o;
    dpt_net_init_params(r->net, (uint64_t)r->spec->seed);
    memset(r->step.ostate, 0, r->net->opt_floats * r->net->n_params * sizeof(float));
    r->st = (struct dpt_train_state){.seed = (uint64_t)r->spec->seed};
    const struct dpt_warn warn = {o->on_warning, o->ctx};
    return o->init ? dpt_weights_load(o->init, r->net, &warn, err) : 0;
}

static void note(const struct run *r, const char *msg)
{
    if (r->o->on_note && r->d->rank == 0) {
        r->o->on_note(r->o->ctx, msg);
    }
}

/* On rank 0: does the checkpoint at path, loaded into r->st, fit this run
 * (train/resume.h)? Notes what changed. */
static int check_resume(struct run *r, const char *path, struct dpt_err *err)
{
    if (r->st.epoch > r->spec->epochs) {
        return dpt_err_set(err, DPT_ECONFIG, "%s: the checkpoint is at epoch %lld; "
                           "train.epochs = %lld is smaller", path, (long long)r->st.epoch,
                           (long long)r->spec->epochs);
    }
    char *text = NULL;
    int rc = dpt_model_read_config(path, &text, err);
    if (rc == 0) {
        rc = dpt_resume_compare(path, text, &r->st.run, r->spec, &r->run,
                                r->o->on_note, r->o->ctx, err);
    }
    free(text);
    return rc;
}

/* Continues from the checkpoint at path: every rank loads it (weights,
 * optimizer state, standardization, where training stands, callbacks), and
 * rank 0 checks that it fits this run. Collective; the outcome is agreed. */
static int resume_from(struct run *r, const char *path, struct dpt_err *err)
{
    const struct dpt_warn warn = {r->o->on_warning, r->o->ctx};
    r->st.cb.best = r->cb.best;
    int rc = dpt_checkpoint_load(path, r->net, r->step.ostate, r->norm, &r->st, &warn, err);
    if (rc == 0 && r->d->rank == 0) {
        rc = check_resume(r, path, err);
    }
    rc = dpt_dist_agree(r->d, rc, err);
    r->resumed = rc == 0;
    if (rc == 0) {
        snprintf(r->from, sizeof r->from, "%s", path);
        callbacks_from_state(r);
        /* The factor of the last step taken, for the epoch line of an epoch
         * whose steps were all taken before the stop. */
        uint64_t t = r->st.global_step ? r->st.global_step : 1;
        r->lr_scale = dpt_lr_factor(r->spec, t) * (float)r->cb.plateau_scale;
    }
    return rc;
}

/* --resume auto: the newest checkpoint of the series that loads and fits
 * (rank 0 lists the files, newest first, and every rank tries them in that
 * order), or a fresh start when the series has no files. When it has files
 * but none loads, that is an error rather than a fresh start: a fresh run
 * would rotate them away. Collective. */
static int resume_auto(struct run *r, struct dpt_err *err)
{
    char *list = NULL, line[PATH_MAX + 1200];
    int rc = r->d->rank == 0 ? dpt_checkpoint_series(r->o->resume, &list, err) : 0;
    rc = dpt_dist_agree(r->d, rc, err);
    if (rc == 0) {
        rc = dpt_dist_bcast_string(r->d, &list, 0, err);
    }
    int tried = 0;
    for (char *f = list, *nl; rc == 0 && f && (nl = strchr(f, '\n')); f = nl + 1, tried++) {
        *nl = '\0';
        rc = fresh_start(r, err) == 0 ? resume_from(r, f, err) : -1;
        if (rc == 0) {
            snprintf(line, sizeof line, "--resume auto: resuming from %s (%s %lld, %llu "
                     "steps in all)", f, r->st.step ? "in epoch" : "after epoch",
                     (long long)r->st.epoch + (r->st.step ? 1 : 0),
                     (unsigned long long)r->st.global_step);
            note(r, line);
            free(list);
            return 0;
        }
        snprintf(line, sizeof line, "--resume auto: skipping %s: %s", f, err->msg);
        note(r, line);
        rc = 0;
    }
    free(list);
    if (rc == 0 && tried) {
        return dpt_err_set(err, DPT_EFORMAT, "--resume auto: none of the %d checkpoint files "
                           "of %s loads (see above); resume one with --resume FILE, or start "
                           "afresh with --overwrite", tried, r->o->resume);
    }
    if (rc == 0) {
        snprintf(line, sizeof line, "--resume auto: no checkpoint of %s yet: starting afresh",
                 r->o->resume);
        note(r, line);
        rc = fresh_start(r, err);
    }
    return rc;
}

/* The starting weights: from the seed, then --init, then --resume (which
 * also brings the optimizer state, the standardization, where training
 * stands and the callbacks). All ranks must end up with the same weights.
 * Collective. */
static int init_weights(struct run *r, struct dpt_err *err)
{
    const struct dpt_train_opts *o = r->o;
    int rc = fresh_start(r, err);
    rc = dpt_dist_agree(r->d, rc, err);
    if (rc == 0 && o->resume) {
        rc = o->resume_auto ? resume_auto(r, err) : resume_from(r, o->resume, err);
    }
    if (rc == 0) {
        int bad = dpt_dist_same_u64(r->d, params_hash(r->net));
        if (bad) {
            rc = dpt_err_set(err, DPT_ENUMERIC, "initial weights of rank %d differ from rank "
                             "0's (plugins must initialize from the host's random stream only)",
                             bad - 1);
        }
    }
    if (rc == 0 && o->resume && o->on_resume && r->d->rank == 0) {
        o->on_resume(o->ctx, r->st.epoch, r->resumed ? r->from : NULL);
    }
    return rc;
}

/* The class and column names (dpt_norm_take_names), the input scale, and the
 * standardization unless the checkpoint brought it. Collective. */
/* A data file larger than this gets a line before the pass of standardize:
 * the size above which "auto" streams the rows (a pass of seconds). */
#define PASS_NOTE_BYTES (64ull << 20)

static int standardize(struct run *r, struct dpt_err *err)
{
    const struct dpt_spec *spec = r->spec;
    int rc = dpt_norm_take_names(r->norm, r->ds, err);
    if (rc == 0) {
        rc = dpt_norm_set_scale(r->norm, spec->scale, dpt_dataset_features(r->ds), err);
    }
    if (rc < 0 && r->o->resume) {
        dpt_err_prefix(err, "%s", r->o->resume); /* only a checkpoint brings statistics */
    }
    int x = spec->standardize && !r->norm->f, y = spec->standardize_y && !r->norm->yc;
    if (rc < 0 || !(x || y)) {
        return rc;
    }
    uint64_t n = dpt_dataset_rows(r->ds);
    uint64_t bytes = n * (dpt_dataset_features(r->ds) + dpt_dataset_y_cols(r->ds)) * 4;
    if (bytes > PASS_NOTE_BYTES && r->d->rank == 0 && r->o->on_pass) {
        char msg[PATH_MAX + 256];
        snprintf(msg, sizeof msg, "standardizing: a pass over the %" PRIu64 " rows of %s (%.1f "
                 "MiB as floats) for each %s's mean and standard deviation, before epoch 1", n,
                 dpt_dataset_path(r->ds), (double)bytes / 1048576.0, x ? "feature" : "target");
        r->o->on_pass(r->o->ctx, msg);
    }
    return dpt_norm_compute(r->norm, r->ds, r->d, x, y, spec->deterministic, err);
}

/* The order of the epochs' rows, fixed: a resumed run keeps the order its
 * checkpoint records (rows order for one from before it was recorded),
 * whatever data.shuffle_by = "auto" picks now (check_resume has noted a
 * difference and refused a contradicting setting); this run's checkpoints
 * record it in turn. Then the validation split, which follows the order, or
 * data.validation, whose targets are checked here. Collective. */
static int fix_order(struct run *r, struct dpt_err *err)
{
    if (r->resumed) {
        const struct dpt_run_record *was = &r->st.run;
        r->policy.by = was->block ? DPT_SHUFFLE_BY_BLOCKS : DPT_SHUFFLE_BY_ROWS;
        r->policy.block = was->block;
        r->policy.pool = was->pool;
    }
    dpt_window_order(&r->policy, r->ds, &r->run.block, &r->run.pool);
    int rc = dpt_validation_setup(&r->val, r->spec, r->ds, r->run.block, r->net, r->d,
                                  &r->n_train, err);
    rc = dpt_dist_agree(r->d, rc, err);
    return rc == 0 ? dpt_validation_check_targets(&r->val, r->spec, r->net, r->d, err) : rc;
}

/* Whether the ranks of this node read X's chunks once for all of them
 * (struct dpt_shard_share): when every one of them wants to. Collective. */
static int share_chunks(struct run *r)
{
    if (!r->node_rank || r->node.size < 2) {
        return 0;
    }
    return dpt_dist_min_int(&r->node, dpt_shard_share_wanted(r->ds));
}

/* X's chunks, read again each epoch, are kept once inflated. Shared on the
 * node, in one file per data file that the node's first rank makes and the
 * others open (dpt_dataset_keep_peer): each chunk is kept once a node,
 * where every rank can read it, so that once all are kept each rank reads
 * its own rows and the node's ranks exchange none (read_own_rows). A peer
 * that cannot open them keeps its own. Collective on the node if shared.
 * Returns 1, or 0 for a peer that could not open them, with *why
 * (dpt_dataset_keep_peer's). */
static int keep_chunks(struct run *r, int shared, int *why)
{
    size_t n = dpt_dataset_files(r->ds);
    struct dpt_kept_file *kf = shared ? calloc(n + 1, sizeof *kf) : NULL;
    r->keep_node = 0;
    if (!shared || !dpt_dist_min_int(&r->node, kf != NULL)) {
        dpt_dataset_keep_inflated(r->ds);
        free(kf);
        return 1;
    }
    kf[n].fd = -1; /* kf[n]: the maker's process id, or -1: nothing kept */
    if (r->node.rank == 0 && dpt_dataset_keep_inflated(r->ds)) {
        dpt_dataset_keep_files(r->ds, kf);
        kf[n].fd = getpid();
    }
    dpt_dist_bcast_bytes(&r->node, kf, (int)((n + 1) * sizeof *kf), 0);
    int opened = 1;
    if (r->node.rank != 0 && kf[n].fd >= 0) {
        opened = dpt_dataset_keep_peer(r->ds, kf[n].fd, kf, why) == 0;
        if (!opened) {
            dpt_dataset_keep_inflated(r->ds); /* the files it could not open: its own */
        }
    }
    r->keep_node = kf[n].fd >= 0 && dpt_dist_min_int(&r->node, opened);
    free(kf);
    return opened;
}

/* Rank 0 warns when a rank could not open its node's kept chunks
 * (keep_chunks: opened, why), naming the lowest such rank and its reason.
 * Collective. */
static void warn_kept_apart(struct run *r, int opened, int why)
{
    int first = dpt_dist_min_int(r->d, opened ? INT_MAX : r->d->rank);
    if (first == INT_MAX) {
        return;
    }
    why = dpt_dist_min_int(r->d, r->d->rank == first ? why : INT_MAX);
    if (r->d->rank != 0 || !r->o->on_warning) {
        return;
    }
    char msg[512];
    snprintf(msg, sizeof msg, "X's chunks are kept once inflated, but not once a node: rank %d "
             "could not open the file of its node's first rank through /proc/PID/fd (%s; a "
             "container or PID namespace per rank?), so it keeps its own and its node's ranks "
             "exchange rows each epoch instead of each reading its own from the kept chunks "
             "(slower; ranks of a node in one container share them)",
             first, why ? strerror(why) : "the path led to another file");
    r->o->on_warning(r->o->ctx, msg);
}

/* The shard: which rows this rank reads, held how. Collective. */
static int make_shard(struct run *r, int node_ranks, uint64_t micro, struct dpt_err *err)
{
    const struct dpt_spec *spec = r->spec;
    const struct dpt_window_policy *policy = &r->policy;
    struct dpt_shard_share share = {.ranks = r->node.size, .me = r->node.rank,
                                    .rank = r->node_rank,
                                    .chunk = dpt_dataset_chunk_rows(r->ds)};
    int shared = share_chunks(r);
    struct dpt_shard_opts so = {
        .batch = (uint64_t)spec->batch,
        .micro = micro,
        .ranks = r->d->size,
        .rank = r->d->rank,
        .threads = r->threads,
        .cache_all = dpt_window_cache_all(policy, r->ds),
        .norm = r->norm,
        .base = r->val.split ? &r->val.base : NULL,
        .n_rows = r->n_train,
        .window_rows = dpt_window_rows(policy, r->d, node_ranks, r->ds, r->n_train,
                                       r->threads),
        .block = r->run.block,
        .pool = r->run.pool,
        .share = shared ? &share : NULL,
    };
    int rc = dpt_dist_agree(r->d, dpt_shard_create(&r->shard, r->ds, &so, err), err);
    if (rc == 0 && !so.cache_all && spec->epochs > 1) {
        int peer_why = 0, opened = keep_chunks(r, shared, &peer_why); /* read each epoch */
        warn_kept_apart(r, opened, peer_why);
        const char *why = dpt_dataset_not_kept(r->ds);
        if (why && r->d->rank == 0 && r->o->on_warning) {
            char msg[PATH_MAX + 512];
            snprintf(msg, sizeof msg, "X's chunks are inflated again each epoch, not kept once "
                     "inflated: %s (DPTRAIN_SCRATCH=none: this warning off)", why);
            r->o->on_warning(r->o->ctx, msg);
        }
    }
    r->keep_watch = rc == 0 && dpt_dist_any(r->d, dpt_dataset_kept_in(r->ds) != NULL);
    return rc;
}

/* Tells o->on_start the net, the threads and how the training rows are
 * held and read. */
static void report_start(const struct run *r)
{
    char line[640];
    dpt_window_describe(r->shard, r->n_train, line, sizeof line);
    size_t n = strlen(line);
    uint64_t B = (uint64_t)r->spec->batch;
    n += (size_t)snprintf(line + n, sizeof line - n, "\nsteps: batch %llu in micro-shards of "
                          "%llu rows", (unsigned long long)B, (unsigned long long)r->micro);
    const struct dpt_step *st = &r->step;
    if (n < sizeof line && st->node_sum.slot) {
        snprintf(line + n, sizeof line - n, "\nsums: through memory the %d ranks share (one "
                 "node; DPTRAIN_NODE_SUM=0: MPI's allreduce)", r->d->size);
    } else if (n < sizeof line && r->d->size > 1 && !r->spec->deterministic) {
        snprintf(line + n, sizeof line - n, "\nsums: MPI's allreduce in %zu bucket%s%s",
                 st->n_buckets, st->n_buckets == 1 ? "" : "s",
                 st->overlap ? ", started during the backward pass" : "");
    }
    r->o->on_start(r->o->ctx, r->net, r->threads, line);
}

/* Everything before the first step, in an order every rank follows alike:
 * the collective calls are made whether or not this rank failed so far. */
static int setup(struct run *r, const struct dpt_registry *reg, struct dpt_err *err)
{
    dpt_watch_phase("start-up (opening the data, building the network)");
    int rc = open_data(r, reg, err);
    int node_rc = dpt_dist_node(r->d, &r->node, &r->node_rank);
    int node = node_rc == 0 ? r->node.size : 1;
    rc = rc == 0 ? node_rc : rc;
    r->threads = r->o->threads > 0 ? r->o->threads
                                   : dpt_threads_choose(rc == 0 ? r->net : NULL,
                                                        (uint64_t)r->spec->batch, r->d);
    if (rc == 0) {
        rc = dpt_callbacks_init(&r->cb, r->spec, r->net->n_params, err);
    }
    r->policy = (struct dpt_window_policy){.cache = r->spec->cache,
                                           .window_rows = (uint64_t)r->spec->window_rows,
                                           .by = r->spec->shuffle_by,
                                           .batch = (uint64_t)r->spec->batch};
    /* The order data.shuffle_by picks for a fresh run; a resume may keep
     * another (fix_order). */
    r->run = (struct dpt_run_record){.ranks = r->d->size, .threads = r->threads,
                                     .deterministic = r->spec->deterministic};
    if (rc == 0) {
        dpt_window_order(&r->policy, r->ds, &r->run.block, &r->run.pool);
    }
    if (rc == 0 && r->d->rank == 0) {
        rc = dpt_resume_fingerprint(r->ds, r->run.data, sizeof r->run.data, err);
    }
    uint64_t micro = r->micro = dpt_train_micro_rows(r->spec, r->net, r->d->size, r->threads);
    if (rc == 0) {
        rc = dpt_step_init(&r->step, r->net, r->spec, r->d, r->threads, micro, err);
    }
    rc = dpt_dist_agree(r->d, rc, err);
    if (rc == 0) {
        dpt_step_share(&r->step, &r->node);
        rc = dpt_fingerprint_agree(r->d, r->spec, r->net, reg, r->ds, err);
    }
    if (rc == 0) {
        rc = check_targets(r, err);
    }
    if (rc == 0) {
        rc = check_space(r, err);
    }
    if (rc == 0) {
        rc = init_weights(r, err);
    }
    if (rc == 0) {
        rc = fix_order(r, err);
    }
    if (rc == 0) {
        dpt_watch_phase("the standardization statistics");
        rc = standardize(r, err);
    }
    if (rc == 0) {
        dpt_watch_phase("start-up (reading the training rows)");
        rc = make_shard(r, node, micro, err);
    }
    return rc;
}

int dpt_train(const struct dpt_spec *spec, const struct dpt_registry *reg,
              const struct dpt_dist *d, const struct dpt_train_opts *o, struct dpt_net **net_out,
              struct dpt_norm *norm, struct dpt_err *err)
{
    *net_out = NULL;
    memset(norm, 0, sizeof *norm);
    struct run r = {.spec = spec, .o = o, .d = d, .norm = norm, .last_ckpt_step = -1,
                    .lr_scale = 1.0f};
    dpt_blas_one_thread(); /* each worker thread runs its own sgemm */
    int rc = setup(&r, reg, err);
    char line[1024];
    if (rc == 0 && dpt_train_batch_note(spec, r.net, r.n_train, d->size, r.threads, line,
                                        sizeof line)) {
        note(&r, line);
    }
    if (rc == 0 && o->on_start) {
        report_start(&r);
    }
    if (rc == 0) {
        rc = train_epochs(&r, err);
    }
    if (o->outcome) {
        *o->outcome = (struct dpt_train_outcome){
            .epochs = r.st.epoch, .global_step = r.st.global_step,
            .steps_this_run = r.steps_this_run, .early_stopped = r.cb.stopped,
            .best_epoch = r.cb.es_best_epoch, .restored_epoch = r.restored_epoch};
    }
    if (rc == 0 && o->outcome) { /* rc is agreed: every rank is here */
        dpt_shard_prefetch_wait(r.shard);
        double n = (double)dpt_dataset_chunks_inflated(r.ds);
        dpt_dist_sum_doubles(d, &n, 1);
        uint64_t c = dpt_dataset_chunk_rows(r.ds);
        o->outcome->chunks_inflated = (uint64_t)n;
        o->outcome->chunks = c ? (dpt_dataset_rows(r.ds) + c - 1) / c : 0;
        o->outcome->own_rows_epoch = r.own_rows_epoch;
    }
    run_cleanup(&r);
    if (rc < 0 && !(rc == DPT_ESIGNAL && r.stop_saved)) {
        dpt_net_destroy(r.net);
        dpt_norm_cleanup(norm);
        return rc;
    }
    *net_out = r.net;
    return rc;
}
