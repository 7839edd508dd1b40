/* Checkpoints: everything a run needs to continue exactly, in one HDF5 file
 * per checkpoint, and their rotation on disk.
 *
 * A checkpoint is a model file (io/model_file.h: /config, /layers,
 * /standardize) with format = "dptrain-checkpoint" and, version 1:
 *   /optimizer/state   float32 [state_floats, n_params] (flat layout, padded
 *                      slices), attr type = the optimizer's name
 *   /train             attrs epoch, step_in_epoch, global_step, seed,
 *                      epoch_loss_sum, epoch_hit_sum, rng, loss, and the
 *                      run record: ranks, threads, deterministic, data,
 *                      order ("rows" or "blocks": the order of the epochs'
 *                      rows the run used, data.shuffle_by resolved), with
 *                      order_block and order_pool (rows per block and per
 *                      pool) in block order. A file without order (older
 *                      builds, which always used rows order) reads as rows.
 *   /callbacks         attrs plateau_scale, plateau_best, plateau_wait,
 *                      es_best, es_wait, es_best_epoch, stopped_early;
 *                      dataset best_weights float32 [n_params] (only with
 *                      restore_best_weights)
 *   /  attr checksum = "xxh3-64:HEX" over the flat parameters, the optimizer
 *                      state, the standardization, the train state and the
 *                      callbacks (when the file has them: older ones do not).
 *   /  attr model_name = the stem of the model file the run was started
 *                      with (struct dpt_spec, name), which names the default
 *                      --out of a resume without it (older files lack it)
 *   /config holds the text of model/spec_store.h: paths absolute and the
 *                      checkpoint series' settings written out.
 *
 * On disk, a checkpoint PATH is a symbolic link to the newest of numbered
 * files STEM-<global step, 12 digits>EXT next to it (PATH = STEM EXT), of
 * which the newest `keep` are kept. Writing one (dpt_checkpoint_write) is
 * one operation: the numbered file through a temporary file (flush, fsync,
 * rename, fsync of the folder), then a new link renamed over PATH, then the
 * pruning of older files and of temporaries a killed writer left. The
 * temporary file and link have unpredictable names and are created
 * exclusively (util/tmpname.h), and the pruning removes only the user's
 * own regular files with exactly that name pattern. Readers
 * only ever see a whole checkpoint. Nothing here talks MPI: rank 0 writes,
 * the trainer shares the outcome.
 */
#ifndef DPT_IO_CHECKPOINT_H
#define DPT_IO_CHECKPOINT_H

#include "data/norm.h"
#include "io/model_file.h"
#include "model/net.h"
#include "model/spec.h"

#include <dptrain/dptrain.h>
#include <stddef.h>
#include <stdint.h>

/* The state of the epoch callbacks (train/schedule.h: struct
 * dpt_callbacks), so that a resumed run decides as the uninterrupted one
 * would: reduce_lr_on_plateau's factor, best value and wait; early
 * stopping's best value, wait, best epoch, whether it ended training, and
 * the best weights when it restores them. */
struct dpt_callback_state {
    double plateau_scale, plateau_best;
    int64_t plateau_wait; /* -1: no value seen yet */
    double es_best;
    int64_t es_wait;      /* -1: no value seen yet */
    int64_t es_best_epoch; /* 1-based; 0: none yet */
    int stopped_early;    /* early stopping ended training */
    /* restore_best_weights: n_params floats, the caller's buffer (borrowed);
     * NULL: none written, and a stored copy is not read. */
    float *best;
};

/* How the checkpoint's run ran and on what; a resume compares them with
 * its own (train/resume.h) and keeps its order. All zero / empty in
 * checkpoints from before they were recorded: zero block and pool is rows
 * order, which every build before data.shuffle_by used. */
struct dpt_run_record {
    int64_t ranks, threads; /* P and T of the run that wrote the checkpoint */
    int deterministic;
    char data[512];         /* data.train's fingerprint: shapes, dtypes, hash of rows */
    uint64_t block, pool;   /* the epoch order (data/window.h, dpt_window_order): rows
                             * per block and per pool; 0 and 0: rows order */
};

/* Where training stands; what a checkpoint stores besides the buffers. */
struct dpt_train_state {
    int64_t epoch;        /* the epoch in progress, from 0 */
    uint64_t step;        /* steps of that epoch already taken */
    uint64_t global_step; /* optimizer steps taken in all (Adam's t) */
    uint64_t seed;        /* train.seed: with epoch it fixes the data order */
    double loss_sum, hit_sum; /* over the epoch's steps taken so far */
    struct dpt_callback_state cb;
    int has_cb;           /* loaded: the file held /callbacks (written always) */
    struct dpt_run_record run;
};

/* Writes a checkpoint of the run to the numbered file of st->global_step
 * behind the link path, keeping the newest `keep` (at least 1) numbered
 * files. ostate holds the optimizer state (opt_floats * n_params floats). */
int dpt_checkpoint_write(const char *path, int64_t keep, const struct dpt_net *net,
                         const float *ostate, const struct dpt_spec *spec,
                         const struct dpt_norm *norm, const struct dpt_train_state *st,
                         struct dpt_err *err);

/* Writes one checkpoint file at path (no link, no rotation). */
int dpt_checkpoint_save(const char *path, const struct dpt_net *net, const float *ostate,
                        const struct dpt_spec *spec, const struct dpt_norm *norm,
                        const struct dpt_train_state *st, struct dpt_err *err);

/* The bytes one checkpoint file (dpt_checkpoint_save) would take: the
 * file built in memory, not written. */
int dpt_checkpoint_file_bytes(const struct dpt_net *net, const float *ostate,
                              const struct dpt_spec *spec, const struct dpt_norm *norm,
                              const struct dpt_train_state *st, uint64_t *bytes,
                              struct dpt_err *err);
/* Reads a checkpoint into a network built from a compatible model: layer
 * tensors, optimizer state (ostate: opt_floats * n_params floats), norm and
 * state (st->cb.best, when not NULL, is a buffer of n_params floats for the
 * best weights; it is filled when the file has them); refuses a checksum mismatch, a model of another shape, another
 * optimizer, and a trained model (which --init takes). Layer plugins of
 * another version than the checkpoint's are handled as dpt_model_load
 * says (io/model_file.h), with warnings to warn (may be NULL). */
int dpt_checkpoint_load(const char *path, struct dpt_net *net, float *ostate,
                        struct dpt_norm *norm, struct dpt_train_state *st,
                        const struct dpt_warn *warn, struct dpt_err *err);

/* The model_name attribute of the checkpoint at path into buf (len
 * bytes): 0, or -1 when the file has none (written before it was stored)
 * or cannot be read (the loaders report why). */
int dpt_checkpoint_model_name(const char *path, char *buf, size_t len);

/* The numbered checkpoint files of the series behind the link path, newest
 * (most recently written) first, one per line in a malloc'ed string *list
 * (empty when there are none; the caller frees it). The link itself is not
 * listed. 0 or DPT_ENOMEM. */
int dpt_checkpoint_series(const char *path, char **list, struct dpt_err *err);

#endif
