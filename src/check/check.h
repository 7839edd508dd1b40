/* `dptrain check-plugin`: every check of one plugin, as results the
 * command prints (src/cli/check_plugin_cmd.c).
 *
 * Layers are created for a few input shapes (the caller's, or [7], [6, 3]
 * and [5, 4, 3]) and run for B = 1, 2 and 3 rows of random inputs: finite
 * differences in double against backward for x and each trainable tensor
 * (kink-aware), the buffer contracts of plugin.h (check/harness.h), the
 * parameter tensors covering the slice, the same bits from 4 OpenMP threads
 * on one instance and from two instances called in turn. Activations and
 * losses are run through the same harness as layers without parameters
 * (a loss as a layer whose output is its summed loss), losses for each form
 * of targets they accept. Optimizers are stepped against formulas in
 * double when they are built-in ones (sgd, adam, adamw, rmsprop, adagrad,
 * with their defaults and with other settings), and every optimizer is
 * checked for finite, repeatable, elementwise updates that leave the
 * gradient alone and stay inside their buffers.
 *
 * A result is one check of one plugin: a check that runs many times (shapes,
 * batch sizes) is one result that fails with its worst case. Nothing here
 * prints; the plugins' settings come from a libconfig group (--set).
 */
#ifndef DPT_CHECK_CHECK_H
#define DPT_CHECK_CHECK_H

#include <dptrain/dptrain.h>
#include <dptrain/plugin.h>
#include <libconfig.h>
#include <stddef.h>

struct dpt_host_ctx;

struct dpt_check_result {
    const char *kind;  /* "layer", "activation", "loss", "optimizer" (static) */
    char name[64];     /* the plugin's name */
    char check[320];   /* e.g. "gradient kernel", "dparams accumulate (+=)" */
    int failed;
    double worst;      /* how bad the kept failure is (the worst one is kept) */
    char detail[400];  /* why it failed ("" when it passed) */
    /* Gradient checks: points skipped because a kink of the function lay
     * within the smallest step (harness.h), of the points compared, over
     * every shape and batch size. */
    size_t skipped, points;
};

struct dpt_check_report {
    struct dpt_check_result *r; /* in the order the checks were first made */
    size_t n, cap;
    int oom; /* a result could not be recorded */
};

struct dpt_check_options {
    const config_setting_t *settings; /* the plugin's settings (NULL: defaults) */
    const char *settings_name;        /* names them in messages, e.g. "--set" */
    const struct dpt_shape *shapes;   /* layer/activation input shapes (NULL: defaults) */
    size_t n_shapes;
    /* Set by the first instance whose create() left a key of settings
     * unread (a typo would otherwise check the defaults without a word);
     * dpt_check_plugin reports it as a failed check. NULL: not checked. */
    struct dpt_err *unread;
};

/* After a successful create() through host: notes in o->unread a key of
 * o->settings that create() did not ask for, unless one is noted already. */
void dpt_check_note_unread(const struct dpt_check_options *o, struct dpt_host_ctx *host);

/* Runs every check of plugin p into rep. Returns 0, or DPT_ENOMEM. */
int dpt_check_plugin(const struct dpt_plugin *p, const struct dpt_check_options *o,
                     struct dpt_check_report *rep);
/* The number of failed results. */
size_t dpt_check_failures(const struct dpt_check_report *rep);
void dpt_check_report_cleanup(struct dpt_check_report *rep);

/* For the check_*.c files: records check (printf-formatted into the
 * result) of p as passed unless it is there already; dpt_check_fail marks
 * it failed with detail, keeping the detail of the worst failure. */
void dpt_check_pass(struct dpt_check_report *rep, const struct dpt_plugin *p,
                    const char *check);
void dpt_check_fail(struct dpt_check_report *rep, const struct dpt_plugin *p, const char *check,
                    double worst, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Adds to the points skipped at kinks and compared of the result of
 * (p, check), which dpt_check_pass or dpt_check_fail made. */
void dpt_check_count_skipped(struct dpt_check_report *rep, const struct dpt_plugin *p,
                             const char *check, size_t skipped, size_t points);

/* "[5, 4, 3]" into buf (returned). */
const char *dpt_check_shape_text(const struct dpt_shape *s, char *buf, size_t len);

/* The checks of each kind (check_layer.c, check_loss.c, check_optimizer.c). */
int dpt_check_layer_plugin(const struct dpt_layer_plugin *p, const struct dpt_check_options *o,
                           struct dpt_check_report *rep);
int dpt_check_activation_plugin(const struct dpt_activation_plugin *p,
                                const struct dpt_check_options *o,
                                struct dpt_check_report *rep);
int dpt_check_loss_plugin(const struct dpt_loss_plugin *p, const struct dpt_check_options *o,
                          struct dpt_check_report *rep);
int dpt_check_optimizer_plugin(const struct dpt_optimizer_plugin *p,
                               const struct dpt_check_options *o, struct dpt_check_report *rep);

#endif
