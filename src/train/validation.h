/* Validation data: which rows each rank evaluates after every epoch.
 *
 * Either a file of its own (data.validation), each rank taking a contiguous
 * share of its rows, or a held-out part of data.train
 * (data.validation_split = f): the rows base(N_train .. N-1) of a
 * permutation `base` of [0, N) keyed by train.seed, so the split depends on
 * the seed only; training then uses base(0 .. N_train-1).
 */
#ifndef DPT_TRAIN_VALIDATION_H
#define DPT_TRAIN_VALIDATION_H

#include "data/dataset.h"
#include "data/norm.h"
#include "data/shard.h"
#include "dist/dist.h"
#include "model/net.h"
#include "model/spec.h"

#include <stddef.h>
#include <stdint.h>

struct dpt_validation {
    struct dpt_dataset *ds; /* data.validation (owned), or the training set (borrowed) */
    int owns_ds;
    const char *y_name;     /* its target dataset, for messages */
    uint64_t *rows;         /* the file rows this rank evaluates, sorted */
    size_t local;
    uint64_t n;             /* validation rows of all ranks; 0: no validation */
    int split;              /* validation_split: base holds the permutation */
    struct dpt_perm base;
};

/* Sets v up for spec over the training set train (N rows), whose epochs
 * take rows in blocks of `block` rows (dpt_window_order; 0: rows order);
 * *n_train gets the rows left for training. Local: errors name the file or
 * the setting. */
int dpt_validation_setup(struct dpt_validation *v, const struct dpt_spec *spec,
                         struct dpt_dataset *train, uint64_t block,
                         const struct dpt_net *net, const struct dpt_dist *d,
                         uint64_t *n_train, struct dpt_err *err);

/* Collective, once the ranks agree v is set up. The targets of
 * data.validation checked against the loss (dpt_eval_check_targets): 0, or
 * the same error on every rank. */
int dpt_validation_check_targets(const struct dpt_validation *v, const struct dpt_spec *spec,
                                 const struct dpt_net *net, const struct dpt_dist *d,
                                 struct dpt_err *err);

/* Collective. The mean loss and accuracy of the network over the
 * validation rows (NaN accuracy when the loss does not count hits). */
int dpt_validation_run(const struct dpt_validation *v, const struct dpt_net *net,
                       const struct dpt_norm *norm, const struct dpt_dist *d, int threads,
                       double *loss, double *accuracy, struct dpt_err *err);

void dpt_validation_cleanup(struct dpt_validation *v);

#endif
