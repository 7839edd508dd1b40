/* The settings Adam and AdamW share, read the same way by both plugins
 * (adam.c, adamw.c): learning_rate (0.001, in (0, 1e6]), beta1 (0.9, in
 * [0, 1)), beta2 (0.999, in [0, 1)), epsilon (1e-7, in (0, 1e6]) and
 * weight_decay (in [0, 1e6], default given by the plugin). Private to the
 * plugins: each still builds into its own module. Both keep m and v, so
 * state_floats is 2 for both. */
#ifndef DPT_PLUGINS_ADAM_SETTINGS_H
#define DPT_PLUGINS_ADAM_SETTINGS_H

#include <dptrain/plugin.h>

#include <math.h>
#include <stdlib.h>

struct adam_settings {
    double lr;
    double beta1;
    double beta2;
    double epsilon;
    double weight_decay;
};

/* Reads the settings into a malloc'ed instance at *state (free it with
 * adam_settings_destroy). Returns 0 or the negative value the host gave. */
static int adam_settings_create(void **state, const struct dpt_host *host, double decay_default)
{
    struct adam_settings a;
    int rc = host->get_float(host->ctx, "learning_rate", 0.001, 0.0, 1e6, &a.lr);
    if (rc < 0) {
        return rc;
    }
    if (a.lr == 0.0) {
        return host->error(host->ctx, "'learning_rate' must be greater than 0");
    }
    rc = host->get_float(host->ctx, "beta1", 0.9, 0.0, 1.0, &a.beta1);
    if (rc < 0) {
        return rc;
    }
    if (a.beta1 == 1.0) {
        return host->error(host->ctx, "'beta1' must be less than 1, got 1");
    }
    rc = host->get_float(host->ctx, "beta2", 0.999, 0.0, 1.0, &a.beta2);
    if (rc < 0) {
        return rc;
    }
    if (a.beta2 == 1.0) {
        return host->error(host->ctx, "'beta2' must be less than 1, got 1");
    }
    rc = host->get_float(host->ctx, "epsilon", 1e-7, 0.0, 1e6, &a.epsilon);
    if (rc < 0) {
        return rc;
    }
    if (a.epsilon == 0.0) {
        return host->error(host->ctx, "'epsilon' must be greater than 0");
    }
    rc = host->get_float(host->ctx, "weight_decay", decay_default, 0.0, 1e6, &a.weight_decay);
    if (rc < 0) {
        return rc;
    }
    struct adam_settings *s = malloc(sizeof *s);
    if (!s) {
        return host->error(host->ctx, "out of memory");
    }
    *s = a;
    *state = s;
    return 0;
}

static void adam_settings_destroy(void *state)
{
    free(state);
}

/* What one step at t uses, in float. The bias corrections are computed in
 * double: beta^t underflows gracefully to 0 for large t, and 1 - beta^t
 * keeps its digits. */
struct adam_step_consts {
    float inv_c1, inv_c2; /* 1 / (1 - beta1^t), 1 / (1 - beta2^t) */
    float lr, b1, b2, eps, wd;
};

static struct adam_step_consts adam_step_consts(const struct adam_settings *a, uint64_t t,
                                                float lr_scale)
{
    return (struct adam_step_consts){
        .inv_c1 = (float)(1.0 / (1.0 - pow(a->beta1, (double)t))),
        .inv_c2 = (float)(1.0 / (1.0 - pow(a->beta2, (double)t))),
        .lr = (float)(a->lr * lr_scale),
        .b1 = (float)a->beta1,
        .b2 = (float)a->beta2,
        .eps = (float)a->epsilon,
        .wd = (float)a->weight_decay,
    };
}

/* m and v. */
static uint32_t adam_settings_state_floats(const void *state)
{
    (void)state;
    return 2;
}

#endif
