/* Learning-rate schedules, gradient clipping and the epoch callbacks
 * (src/train/schedule.c) against values computed by hand from their
 * definitions (Keras' for the schedules and callbacks). */
#include "config.h"

#include "train/schedule.h"
#include "util.h"

#include <CUnit/CUnit.h>
#include <math.h>
#include <string.h>

/* A spec with the defaults the model-file reader gives (no config tree:
 * the functions under test read the typed fields only). */
static struct dpt_spec defaults(void)
{
    struct dpt_spec sp;
    memset(&sp, 0, sizeof sp);
    sp.batch = 32;
    sp.lr_schedule = DPT_LR_CONSTANT;
    sp.lr_decay_steps = 1000;
    sp.lr_decay_rate = 0.5;
    sp.es_patience = 5;
    sp.rop_factor = 0.1;
    sp.rop_patience = 10;
    sp.rop_min_delta = 1e-4;
    return sp;
}

static void test_lr_schedules(void)
{
    struct dpt_spec sp = defaults();
    for (uint64_t t = 1; t < 5000; t += 997) {
        CU_ASSERT_EQUAL(dpt_lr_factor(&sp, t), 1.0f);
    }
    sp.lr_decay_steps = 10;
    sp.lr_decay_rate = 0.5;
    sp.lr_schedule = DPT_LR_STEP; /* rate^floor((t-1)/steps) */
    CU_ASSERT_EQUAL(dpt_lr_factor(&sp, 1), 1.0f);
    CU_ASSERT_EQUAL(dpt_lr_factor(&sp, 10), 1.0f);
    CU_ASSERT_EQUAL(dpt_lr_factor(&sp, 11), 0.5f);
    CU_ASSERT_EQUAL(dpt_lr_factor(&sp, 31), 0.125f);
    sp.lr_schedule = DPT_LR_EXPONENTIAL; /* rate^((t-1)/steps) */
    CU_ASSERT_DOUBLE_EQUAL(dpt_lr_factor(&sp, 6), pow(0.5, 0.5), 1e-7);
    CU_ASSERT_DOUBLE_EQUAL(dpt_lr_factor(&sp, 21), 0.25, 1e-7);
    sp.lr_schedule = DPT_LR_COSINE; /* min + (1 - min) (1 + cos(pi x)) / 2, x capped at 1 */
    sp.lr_min_scale = 0.2;
    CU_ASSERT_DOUBLE_EQUAL(dpt_lr_factor(&sp, 1), 1.0, 1e-7);
    CU_ASSERT_DOUBLE_EQUAL(dpt_lr_factor(&sp, 6), 0.2 + 0.8 * 0.5, 1e-7);
    CU_ASSERT_DOUBLE_EQUAL(dpt_lr_factor(&sp, 11), 0.2, 1e-7);
    CU_ASSERT_DOUBLE_EQUAL(dpt_lr_factor(&sp, 500), 0.2, 1e-7);
}

static void test_lr_warmup_and_batch(void)
{
    struct dpt_spec sp = defaults();
    sp.lr_warmup_steps = 4; /* linear: t / 4 for t <= 4 */
    CU_ASSERT_EQUAL(dpt_lr_factor(&sp, 1), 0.25f);
    CU_ASSERT_EQUAL(dpt_lr_factor(&sp, 3), 0.75f);
    CU_ASSERT_EQUAL(dpt_lr_factor(&sp, 4), 1.0f);
    CU_ASSERT_EQUAL(dpt_lr_factor(&sp, 5), 1.0f);
    sp.lr_base_batch = 8; /* batch 32 / 8 */
    CU_ASSERT_EQUAL(dpt_lr_factor(&sp, 2), 2.0f);
    CU_ASSERT_EQUAL(dpt_lr_factor(&sp, 100), 4.0f);
    /* Warmup multiplies the schedule. */
    sp.lr_schedule = DPT_LR_STEP;
    sp.lr_decay_steps = 2;
    CU_ASSERT_EQUAL(dpt_lr_factor(&sp, 3), 0.5f * 0.75f * 4.0f);
}

static void test_clip(void)
{
    struct dpt_spec sp = defaults();
    float g[4] = {3, -4, 0.5f, 0};
    CU_ASSERT_FALSE(dpt_clipping(&sp));
    dpt_clip(&sp, g, &(struct dpt_range){0, 4}, 1); /* nothing set: unchanged */
    CU_ASSERT(g[0] == 3 && g[1] == -4 && g[2] == 0.5f && g[3] == 0);

    sp.clip_value = 1;
    CU_ASSERT_TRUE(dpt_clipping(&sp));
    dpt_clip(&sp, g, &(struct dpt_range){0, 4}, 1);
    CU_ASSERT(g[0] == 1 && g[1] == -1 && g[2] == 0.5f && g[3] == 0);

    /* By norm: (3, -4) has norm 5; clipped to 2.5 it becomes (1.5, -2). */
    float h[2] = {3, -4};
    sp.clip_value = 0;
    sp.clip_norm = 2.5;
    dpt_clip(&sp, h, &(struct dpt_range){0, 2}, 1);
    CU_ASSERT_DOUBLE_EQUAL(h[0], 1.5, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(h[1], -2.0, 1e-6);
    float small[2] = {0.3f, 0.4f}; /* norm 0.5 <= 2.5: untouched */
    dpt_clip(&sp, small, &(struct dpt_range){0, 2}, 1);
    CU_ASSERT(small[0] == 0.3f && small[1] == 0.4f);

    /* Both: by value first, then the norm of what is left. */
    float both[2] = {30, -40};
    sp.clip_value = 3;
    sp.clip_norm = 1;
    dpt_clip(&sp, both, &(struct dpt_range){0, 2}, 1); /* (3, -3), norm 4.243 -> (0.7071, -0.7071) */
    CU_ASSERT_DOUBLE_EQUAL(both[0], sqrt(0.5), 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(both[1], -sqrt(0.5), 1e-6);
}

static struct dpt_epoch_stats epoch(double loss, double val_loss, double val_accuracy)
{
    return (struct dpt_epoch_stats){.loss = loss, .accuracy = NAN, .val_loss = val_loss,
                                    .val_accuracy = val_accuracy};
}

static void test_early_stopping(void)
{
    struct dpt_spec sp = defaults();
    sp.es_monitor = DPT_MONITOR_VAL_LOSS;
    sp.es_patience = 2;
    sp.es_min_delta = 0.01;
    sp.es_restore = 1;
    struct dpt_callbacks cb;
    struct dpt_err err = {0};
    CU_ASSERT_EQUAL_FATAL(dpt_callbacks_init(&cb, &sp, 2, &err), 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(cb.best);
    float w[2] = {1, 1};
    struct dpt_epoch_stats es = epoch(9, 1.0, NAN);
    CU_ASSERT_EQUAL(dpt_callbacks_epoch(&cb, &es, w), 0); /* first value: the best */
    w[0] = 2;
    es.val_loss = 0.5;
    CU_ASSERT_EQUAL(dpt_callbacks_epoch(&cb, &es, w), 0); /* improved: best weights (2, 1) */
    w[0] = 3;
    es.val_loss = 0.495; /* better by less than min_delta: a wait */
    CU_ASSERT_EQUAL(dpt_callbacks_epoch(&cb, &es, w), 0);
    es.val_loss = NAN;   /* not watched: neither a wait nor a best */
    CU_ASSERT_EQUAL(dpt_callbacks_epoch(&cb, &es, w), 0);
    es.val_loss = 0.6;   /* second wait: patience reached */
    CU_ASSERT_EQUAL(dpt_callbacks_epoch(&cb, &es, w), 1);
    dpt_callbacks_restore(&cb, w);
    CU_ASSERT(w[0] == 2 && w[1] == 1);
    dpt_callbacks_cleanup(&cb);

    /* Accuracies improve upwards; without restore_best_weights nothing is kept. */
    sp.es_monitor = DPT_MONITOR_VAL_ACCURACY;
    sp.es_restore = 0;
    sp.es_min_delta = 0;
    sp.es_patience = 1;
    CU_ASSERT_EQUAL_FATAL(dpt_callbacks_init(&cb, &sp, 2, &err), 0);
    CU_ASSERT_PTR_NULL(cb.best);
    es = epoch(1, 1, 0.5);
    CU_ASSERT_EQUAL(dpt_callbacks_epoch(&cb, &es, w), 0);
    es.val_accuracy = 0.6;
    CU_ASSERT_EQUAL(dpt_callbacks_epoch(&cb, &es, w), 0);
    es.val_accuracy = 0.6;
    CU_ASSERT_EQUAL(dpt_callbacks_epoch(&cb, &es, w), 1);
    w[0] = 7;
    dpt_callbacks_restore(&cb, w);
    CU_ASSERT_EQUAL(w[0], 7);
    dpt_callbacks_cleanup(&cb);

    /* No early stopping configured: never stops. */
    sp = defaults();
    CU_ASSERT_EQUAL_FATAL(dpt_callbacks_init(&cb, &sp, 2, &err), 0);
    for (int i = 0; i < 20; i++) {
        es = epoch(1, 1, 1);
        CU_ASSERT_EQUAL(dpt_callbacks_epoch(&cb, &es, w), 0);
    }
    CU_ASSERT_EQUAL(cb.plateau_scale, 1.0);
    dpt_callbacks_cleanup(&cb);
}

static void test_reduce_on_plateau(void)
{
    struct dpt_spec sp = defaults();
    sp.rop_monitor = DPT_MONITOR_LOSS;
    sp.rop_factor = 0.5;
    sp.rop_patience = 2;
    sp.rop_min_delta = 0;
    sp.rop_min_scale = 0.2;
    struct dpt_callbacks cb;
    struct dpt_err err = {0};
    CU_ASSERT_EQUAL_FATAL(dpt_callbacks_init(&cb, &sp, 1, &err), 0);
    float w[1] = {0};
    /* Losses 1, 1, 1 (two epochs without improvement: x0.5), 1, 1 (x0.5
     * again: 0.25), 1, 1 (0.125, held at min_scale 0.2), 0.5 (improves). */
    const double losses[] = {1, 1, 1, 1, 1, 1, 1, 0.5};
    const double scale[] = {1, 1, 0.5, 0.5, 0.25, 0.25, 0.2, 0.2};
    for (size_t i = 0; i < sizeof losses / sizeof losses[0]; i++) {
        struct dpt_epoch_stats es = epoch(losses[i], NAN, NAN);
        CU_ASSERT_EQUAL(dpt_callbacks_epoch(&cb, &es, w), 0);
        CU_ASSERT_DOUBLE_EQUAL(cb.plateau_scale, scale[i], 1e-12);
    }
    dpt_callbacks_cleanup(&cb);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS) {
        return 2;
    }
    CU_pSuite lr = CU_add_suite("learning-rate factor", NULL, NULL);
    CU_add_test(lr, "constant, step, exponential, cosine", test_lr_schedules);
    CU_add_test(lr, "warmup and batch scaling", test_lr_warmup_and_batch);
    CU_pSuite clip = CU_add_suite("clipping", NULL, NULL);
    CU_add_test(clip, "by value, by norm, both", test_clip);
    CU_pSuite cbs = CU_add_suite("callbacks", NULL, NULL);
    CU_add_test(cbs, "early stopping: patience, min_delta, NaN, restore", test_early_stopping);
    CU_add_test(cbs, "reduce on plateau: factor, patience, min_scale", test_reduce_on_plateau);
    return test_run_all();
}
