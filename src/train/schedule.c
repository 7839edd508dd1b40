/* Learning-rate schedules, gradient clipping and the epoch callbacks: see
 * schedule.h. */
#include "config.h"

#include "train/schedule.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

float dpt_lr_factor(const struct dpt_spec *sp, uint64_t t)
{
    double k = (double)(t - 1), d = (double)sp->lr_decay_steps, f = 1.0;
    switch (sp->lr_schedule) {
    case DPT_LR_STEP:
        f = pow(sp->lr_decay_rate, floor(k / d));
        break;
    case DPT_LR_EXPONENTIAL:
        f = pow(sp->lr_decay_rate, k / d);
        break;
    case DPT_LR_COSINE: {
        double x = k < d ? k / d : 1.0;
        f = sp->lr_min_scale + (1.0 - sp->lr_min_scale) * 0.5 * (1.0 + cos(M_PI * x));
        break;
    }
    case DPT_LR_CONSTANT:
        break;
    }
    if (sp->lr_warmup_steps > 0 && t <= (uint64_t)sp->lr_warmup_steps) {
        f *= (double)t / (double)sp->lr_warmup_steps;
    }
    if (sp->lr_base_batch > 0) {
        f *= (double)sp->batch / (double)sp->lr_base_batch; /* the large-batch rule */
    }
    return (float)f;
}

int dpt_clipping(const struct dpt_spec *sp)
{
    return sp->clip_norm > 0 || sp->clip_value > 0;
}

void dpt_clip(const struct dpt_spec *sp, float *g, const struct dpt_range *ranges,
              size_t n_ranges)
{
    if (sp->clip_value > 0) {
        float v = (float)sp->clip_value;
        for (size_t r = 0; r < n_ranges; r++) {
            float *p = g + ranges[r].off;
            for (size_t i = 0; i < ranges[r].len; i++) {
                p[i] = p[i] > v ? v : p[i] < -v ? -v : p[i];
            }
        }
    }
    if (sp->clip_norm > 0) {
        double ss = 0;
        for (size_t r = 0; r < n_ranges; r++) {
            const float *p = g + ranges[r].off;
            for (size_t i = 0; i < ranges[r].len; i++) {
                ss += (double)p[i] * p[i];
            }
        }
        double norm = sqrt(ss);
        if (norm > sp->clip_norm) {
            float c = (float)(sp->clip_norm / norm);
            for (size_t r = 0; r < n_ranges; r++) {
                float *p = g + ranges[r].off;
                for (size_t i = 0; i < ranges[r].len; i++) {
                    p[i] *= c;
                }
            }
        }
    }
}

int dpt_callbacks_init(struct dpt_callbacks *cb, const struct dpt_spec *spec, size_t n_params,
                       struct dpt_err *err)
{
    *cb = (struct dpt_callbacks){
        .spec = spec,
        .plateau_scale = 1.0,
        .plateau_wait = -1,
        .es_wait = -1,
        .n_params = n_params,
    };
    if (spec->es_monitor != DPT_MONITOR_NONE && spec->es_restore) {
        cb->best = malloc(n_params * sizeof *cb->best);
        if (!cb->best) {
            return dpt_err_set(err, DPT_ENOMEM, "out of memory for the best weights");
        }
    }
    return 0;
}

void dpt_callbacks_cleanup(struct dpt_callbacks *cb)
{
    free(cb->best);
    cb->best = NULL;
}

/* The value of a monitored metric in es. */
static double monitored(enum dpt_monitor m, const struct dpt_epoch_stats *es)
{
    switch (m) {
    case DPT_MONITOR_LOSS:
        return es->loss;
    case DPT_MONITOR_ACCURACY:
        return es->accuracy;
    case DPT_MONITOR_VAL_LOSS:
        return es->val_loss;
    case DPT_MONITOR_VAL_ACCURACY:
        return es->val_accuracy;
    case DPT_MONITOR_NONE:
        break;
    }
    return NAN;
}

/* Did v improve on *best by more than min_delta (losses down, accuracies
 * up)? *wait < 0 means no best yet. Updates *best and *wait. */
static int improved(enum dpt_monitor m, double v, double min_delta, double *best, int64_t *wait)
{
    int maximize = m == DPT_MONITOR_ACCURACY || m == DPT_MONITOR_VAL_ACCURACY;
    if (*wait < 0 || (maximize ? v > *best + min_delta : v < *best - min_delta)) {
        *best = v;
        *wait = 0;
        return 1;
    }
    ++*wait;
    return 0;
}

int dpt_callbacks_epoch(struct dpt_callbacks *cb, const struct dpt_epoch_stats *es,
                        const float *params)
{
    const struct dpt_spec *sp = cb->spec;
    double v = monitored(sp->rop_monitor, es);
    if (!isnan(v) && !improved(sp->rop_monitor, v, sp->rop_min_delta, &cb->plateau_best,
                               &cb->plateau_wait) &&
        cb->plateau_wait >= sp->rop_patience) {
        double next = cb->plateau_scale * sp->rop_factor;
        cb->plateau_scale = next > sp->rop_min_scale ? next : sp->rop_min_scale;
        cb->plateau_wait = 0;
    }
    v = monitored(sp->es_monitor, es);
    if (isnan(v)) {
        return 0; /* nothing to watch (no early stopping, no validation data, no accuracy) */
    }
    if (improved(sp->es_monitor, v, sp->es_min_delta, &cb->es_best, &cb->es_wait)) {
        cb->es_best_epoch = es->epoch;
        if (cb->best) {
            memcpy(cb->best, params, cb->n_params * sizeof *cb->best);
        }
        return 0;
    }
    return cb->es_wait >= sp->es_patience;
}

void dpt_callbacks_restore(const struct dpt_callbacks *cb, float *params)
{
    if (cb->best) {
        memcpy(params, cb->best, cb->n_params * sizeof *cb->best);
    }
}
