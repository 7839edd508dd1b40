/* What `dptrain check-plugin` cannot know about the example plugins of
 * examples/plugins/, run by tests/examples_plugins.sh after it has built
 * them from the public headers alone (it puts their folder first on
 * DPTRAIN_PLUGIN_PATH, and this program finds them there as the host
 * would): channel_scale's tensors and initial values as its settings ask,
 * huber's values worked by hand, and settings each refuses naming the key.
 * Gradients and buffer contracts are check-plugin's, run by the same test.
 */
#include "config.h"

#include "layer_check.h"
#include "plugin/host.h"
#include "plugin/registry.h"
#include "util.h"

#include <CUnit/CUnit.h>
#include <libconfig.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct dpt_registry *reg;

static const struct dpt_plugin *find(uint32_t kind, const char *name)
{
    struct dpt_err err = {0};
    if (!reg && dpt_registry_create(&reg, NULL, &err) < 0) {
        printf("\n    registry: %s", err.msg);
        return NULL;
    }
    const struct dpt_plugin *p = dpt_registry_find(reg, kind, name, &err);
    if (!p) {
        printf("\n    %s", err.msg);
    }
    return p;
}

/* The tensors are "gamma" [C] at 0 and "beta" [C] at C, covering the slice
 * exactly; init follows the settings (beta all beta_init, gamma around
 * gamma_init, exactly it with stddev 0). */
static void test_channel_scale_tensors_and_init(void)
{
    struct lc c;
    struct dpt_shape in = lc_shape(2, 3, 4);
    CU_ASSERT_EQUAL_FATAL(lc_create(&c, "channel_scale", "stddev = 0.0; gamma_init = 2.0; "
                                    "beta_init = 0.5;", &in), 0);
    struct dpt_tensor t;
    CU_ASSERT_EQUAL_FATAL(c.p->tensor(c.st, 0, &t), 0);
    CU_ASSERT_STRING_EQUAL(t.name, "gamma");
    CU_ASSERT(t.rank == 1 && t.shape[0] == 4 && t.offset == 0);
    CU_ASSERT_EQUAL_FATAL(c.p->tensor(c.st, 1, &t), 0);
    CU_ASSERT_STRING_EQUAL(t.name, "beta");
    CU_ASSERT(t.rank == 1 && t.shape[0] == 4 && t.offset == 4);
    CU_ASSERT_EQUAL(c.p->tensor(c.st, 2, &t), -1);
    for (size_t i = 0; i < 4; i++) {
        CU_ASSERT_EQUAL(c.params[i], 2.0f);
        CU_ASSERT_EQUAL(c.params[4 + i], 0.5f);
    }
    lc_destroy(&c);
}

/* A setting out of range is refused by the host's getter, whose message
 * names the file, the layer and the key. */
static void test_channel_scale_bad_setting(void)
{
    struct lc c;
    struct dpt_shape in = lc_shape(3, 0, 0);
    CU_ASSERT(lc_create(&c, "channel_scale", "stddev = -1.0;", &in) < 0);
    printf("\n    refused: %s", c.host.err.msg);
    CU_ASSERT_PTR_NOT_NULL(strstr(c.host.err.msg, "test.cfg"));
    CU_ASSERT_PTR_NOT_NULL(strstr(c.host.err.msg, "channel_scale"));
    CU_ASSERT_PTR_NOT_NULL(strstr(c.host.err.msg, "'stddev'"));
    lc_destroy(&c);
}

/* A huber instance made from settings text, as the host makes it from the
 * loss's group of a model file. */
struct loss {
    const struct dpt_loss_plugin *p;
    config_t cfg;
    struct dpt_host_ctx host;
    void *st;
};

static int loss_create(struct loss *l, const char *settings)
{
    memset(l, 0, sizeof *l);
    l->p = (const void *)find(DPT_KIND_LOSS, "huber");
    CU_ASSERT_PTR_NOT_NULL_FATAL(l->p);
    config_init(&l->cfg);
    CU_ASSERT_FATAL(config_read_string(&l->cfg, settings));
    dpt_host_init(&l->host, config_root_setting(&l->cfg), "test.cfg", "loss (huber)");
    int rc = l->p->create(&l->st, &l->host.host);
    if (rc < 0) {
        l->st = NULL;
    }
    return rc;
}

static void loss_destroy(struct loss *l)
{
    if (l->st) {
        l->p->destroy(l->st);
    }
    config_destroy(&l->cfg);
}

/* Values worked by hand: with delta 1, errors 0.5 and 3 cost 0.125 and
 * 1 * (3 - 0.5) = 2.5, a row of both (0.125 + 2.5) / 2 = 1.3125; with
 * delta 0.5 the error 3 costs 0.5 * (3 - 0.25) = 1.375 and its gradient is
 * 0.5 (clipped), times scale / n_out. */
static void test_huber_values(void)
{
    struct loss l;
    CU_ASSERT_EQUAL_FATAL(loss_create(&l, ""), 0);
    float pred[2] = {1.5f, -2.0f}, y[2] = {1.0f, 1.0f};
    CU_ASSERT_DOUBLE_EQUAL(l.p->forward_backward(l.st, pred, y, NULL, 1, 2, 2, 1.0f), 1.3125,
                           1e-12);
    loss_destroy(&l);
    CU_ASSERT_EQUAL_FATAL(loss_create(&l, "delta = 0.5;"), 0);
    float p1 = 4.0f, t1 = 1.0f, d1 = 0.0f;
    CU_ASSERT_DOUBLE_EQUAL(l.p->forward_backward(l.st, &p1, &t1, &d1, 1, 1, 1, 0.25f), 1.375,
                           1e-12);
    CU_ASSERT_DOUBLE_EQUAL(d1, 0.5 * 0.25, 1e-7);
    char why[256] = "";
    CU_ASSERT_EQUAL(l.p->check_shape(l.st, 2, 2, why, sizeof why), 0);
    CU_ASSERT_EQUAL(l.p->check_shape(l.st, 2, 1, why, sizeof why), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(why, "the targets have 1 columns"));
    float bad[4] = {1.0f, 2.0f, 3.0f, NAN};
    CU_ASSERT_EQUAL(l.p->check_rows(l.st, bad, 2, 2, 2, why, sizeof why), 1);
    loss_destroy(&l);
}

/* delta = 0 passes the getter's range and is refused by create itself;
 * a negative one by the getter. Both messages name the key. */
static void test_huber_bad_delta(void)
{
    const char *bad[] = {"delta = 0.0;", "delta = -1.0;"};
    for (size_t i = 0; i < 2; i++) {
        struct loss l;
        CU_ASSERT(loss_create(&l, bad[i]) < 0);
        printf("\n    refused: %s", l.host.err.msg);
        CU_ASSERT_PTR_NOT_NULL(strstr(l.host.err.msg, "'delta'"));
        CU_ASSERT_PTR_NOT_NULL(strstr(l.host.err.msg, "test.cfg"));
        loss_destroy(&l);
    }
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS) {
        return 1;
    }
    CU_pSuite s = CU_add_suite("example plugins (examples/plugins)", NULL, NULL);
    CU_add_test(s, "channel_scale: tensors and init", test_channel_scale_tensors_and_init);
    CU_add_test(s, "channel_scale: a bad setting is named", test_channel_scale_bad_setting);
    CU_add_test(s, "huber: values by hand, shapes, rows", test_huber_values);
    CU_add_test(s, "huber: a bad delta is named", test_huber_bad_delta);
    int rc = test_run_all();
    dpt_registry_destroy(reg);
    return rc;
}
