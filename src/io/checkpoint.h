/* Checkpoints: everything a run needs to continue exactly, in one HDF5 file
 * per checkpoint, and their rotation on disk.
 *
 * A checkpoint is a model file (io/model_file.h: /config, /layers,
 * /standardize) with format = "dptrain-checkpoint" and, version 1:
 *   /optimizer/state   float32 [state_floats, n_params] (flat layout, padded
 *                      slices), attr type = the optimizer's name
 *   /train             attrs epoch, step_in_epoch, global_step, seed,
 *                      epoch_loss_sum, epoch_hit_sum, rng, loss
 *   /  attr checksum = "xxh3-64:HEX" over the flat parameters, the optimizer
 *                      state, the standardization and the train state.
 *
 * On disk, a checkpoint PATH is a symbolic link to the newest of numbered
 * files STEM-<global step, 12 digits>EXT next to it (PATH = STEM EXT), of
 * which the newest `keep` are kept. Writing one (dpt_checkpoint_write) is
 * one operation: the numbered file through a temporary file (flush, fsync,
 * rename, fsync of the folder), then a new link renamed over PATH, then the
 * pruning of older files and of temporaries a killed writer left. Readers
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

/* Where training stands; what a checkpoint stores besides the buffers. */
struct dpt_train_state {
    int64_t epoch;        /* the epoch in progress, from 0 */
    uint64_t step;        /* steps of that epoch already taken */
    uint64_t global_step; /* optimizer steps taken in all (Adam's t) */
    uint64_t seed;        /* train.seed: with epoch it fixes the data order */
    double loss_sum, hit_sum; /* over the epoch's steps taken so far */
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

/* Reads a checkpoint into a network built from a compatible model: layer
 * tensors, optimizer state (ostate: opt_floats * n_params floats), norm and
 * state; refuses a checksum mismatch, a model of another shape, another
 * optimizer, and a trained model (which --init takes). Layer plugins of
 * another version than the checkpoint's are handled as dpt_model_load
 * says (io/model_file.h), with warnings to warn (may be NULL). */
int dpt_checkpoint_load(const char *path, struct dpt_net *net, float *ostate,
                        struct dpt_norm *norm, struct dpt_train_state *st,
                        const struct dpt_warn *warn, struct dpt_err *err);

#endif
