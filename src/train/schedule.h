/* What a fit() loop decides besides the gradient: the learning-rate factor
 * of each step, gradient clipping, and the callbacks that act after each
 * epoch (early stopping, reduce-on-plateau).
 *
 * Everything here is a function of the spec and of values every rank holds
 * alike (the step number, the summed gradient, metrics already reduced over
 * the ranks), so all ranks decide the same without talking. Nothing here
 * calls MPI or reads files.
 */
#ifndef DPT_TRAIN_SCHEDULE_H
#define DPT_TRAIN_SCHEDULE_H

#include "model/net.h"
#include "model/spec.h"

#include <dptrain/dptrain.h>
#include <stddef.h>
#include <stdint.h>

/* The learning-rate factor at optimizer step t (1, 2, ...): the schedule
 * (train.lr_schedule), times a linear warmup over its first warmup_steps,
 * times batch / scale_lr_batch. A function of t alone, so a resumed run
 * gets the same values. The plateau factor is applied by the caller. */
float dpt_lr_factor(const struct dpt_spec *spec, uint64_t t);

/* Whether the spec clips gradients (clip_value or clip_norm). */
int dpt_clipping(const struct dpt_spec *spec);
/* Clips the summed gradient g in place over the ranges of trainable
 * parameters: each element to [-clip_value, clip_value], then the whole to
 * an L2 norm of at most clip_norm (the norm summed in double). */
void dpt_clip(const struct dpt_spec *spec, float *g, const struct dpt_range *ranges,
              size_t n_ranges);

/* The metrics of one finished epoch, as every rank holds them. */
struct dpt_epoch_stats {
    int64_t epoch, epochs; /* 1-based */
    uint64_t samples;      /* in the epoch (all ranks) */
    double loss;           /* mean per sample */
    double accuracy;       /* NaN when the loss cannot tell */
    double val_loss, val_accuracy; /* NaN without validation data */
    double lr_scale;       /* the schedule's factor at the epoch's last step */
    int stop_early;        /* early stopping ends training after this epoch */
    double seconds;        /* wall time of the epoch */
    double elapsed;        /* since training started */
};

/* The state of the callbacks; dpt_callbacks_init sets it up. */
struct dpt_callbacks {
    const struct dpt_spec *spec;
    double plateau_scale; /* reduce_lr_on_plateau's factor, 1 until it acts */
    double plateau_best;
    int64_t plateau_wait; /* epochs without improvement; -1: no value seen yet */
    double es_best;       /* early stopping */
    int64_t es_wait;
    int64_t es_best_epoch; /* the epoch (1-based) of es_best; 0: none yet */
    int stopped;          /* early stopping ended training (set by the trainer) */
    float *best;          /* parameters at es_best (restore_best_weights), malloc'ed */
    size_t n_params;
};

/* Sets cb up for spec; with early stopping that restores the best weights
 * it allocates a copy of n_params floats. 0 or DPT_ENOMEM. */
int dpt_callbacks_init(struct dpt_callbacks *cb, const struct dpt_spec *spec, size_t n_params,
                       struct dpt_err *err);
void dpt_callbacks_cleanup(struct dpt_callbacks *cb);

/* After an epoch with metrics es and parameters params: reduce-on-plateau
 * may lower plateau_scale; early stopping keeps the best parameters and
 * returns 1 when training should stop. A metric that is NaN (no validation
 * data, a loss without accuracy) is not watched. */
int dpt_callbacks_epoch(struct dpt_callbacks *cb, const struct dpt_epoch_stats *es,
                        const float *params);

/* With restore_best_weights, copies the best parameters seen into params;
 * otherwise nothing. */
void dpt_callbacks_restore(const struct dpt_callbacks *cb, float *params);

#endif
