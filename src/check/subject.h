/* Inside check/: a plugin seen as a layer (a "subject") and the checks
 * every subject gets (check_layer.c). Layers are subjects as they are;
 * activations and losses through adapters (check_loss.c). */
#ifndef DPT_CHECK_SUBJECT_H
#define DPT_CHECK_SUBJECT_H

#include "check/check.h"
#include "check/harness.h"
#include "plugin/host.h"

/* The finite-difference step and the largest relative error accepted
 * (harness.h says how errors are measured). A step of 1e-2 keeps float
 * rounding of the outputs below 1e-4 of a unit gradient for the small
 * inputs used here, and the truncation error of smooth functions near
 * 1e-5; a sign or factor error gives an error near 1. */
#define DPT_CHECK_STEP 1e-2
#define DPT_CHECK_TOL 1e-2

/* One instance and the host it was created with (which must outlive it). */
struct dpt_check_inst {
    struct dpt_check_layer c;
    struct dpt_host_ctx host;
    size_t init_nonfinite; /* 1 + the first non-finite float init wrote, or 0 */
};

struct dpt_check_subject {
    const struct dpt_plugin *base; /* the plugin, as results name it */
    const char *x, *dx;            /* the input and its gradient in messages: "x", "dx" */
    double lo, hi;                 /* inputs are drawn from [lo, hi] */
    char label[96];                /* the case in messages: "input [5, 4, 3]" */
    /* Trainable tensors for finite differences: ranges parts[k] ..
     * parts[k + 1] of the slice named names[k]. */
    size_t parts[65];
    const char *names[64];
    size_t n_parts;
    /* Makes another instance like the checked one (for the instances and
     * threads checks), with parameters from seed. 0 or negative. */
    int (*make)(const struct dpt_check_subject *s, uint64_t seed, struct dpt_check_inst *out);
    void (*unmake)(struct dpt_check_inst *inst);
    const void *ctx; /* make's */
};

/* Every check of subject s on instance a, for B = 1, 2, 3 and the threads
 * and instances checks. 0 or DPT_ENOMEM. */
int dpt_check_subject_run(const struct dpt_check_subject *s, struct dpt_check_inst *a,
                          struct dpt_check_report *rep);

/* The shapes to try: o's, else the defaults, into *n. */
const struct dpt_shape *dpt_check_shapes(const struct dpt_check_options *o, size_t *n);

#endif
