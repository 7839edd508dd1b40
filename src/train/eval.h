/* Evaluating a trained network over rows of a data set: the loss, the
 * accuracy and the task's metrics, and the outputs as predictions.
 *
 * Two entry points share one core (eval.c): dpt_evaluate takes a whole data
 * file (dptrain eval, predict and the test file after training), each rank
 * a contiguous block of rows; dpt_evaluate_rows takes given rows of a data
 * set training already holds open (the validation rows of data.validation
 * or data.validation_split). Every target row is checked against the loss
 * before (dpt_eval_check_targets: by dpt_evaluate, and at start-up for the
 * files training holds). Both read in blocks,
 * standardize as training did (data/norm.h) and split each block into
 * micro-shards over the threads; the sums are added in double in a fixed
 * order (threads in turn, then the ranks).
 *
 * What is left out: metrics other than loss and accuracy for the
 * validation rows, and weighting of rows.
 */
#ifndef DPT_TRAIN_EVAL_H
#define DPT_TRAIN_EVAL_H

#include "data/dataset.h"
#include "data/norm.h"
#include "dist/dist.h"
#include "model/net.h"
#include "train/train.h"

/* What kind of task the targets and the model make, for the metrics. */
enum dpt_task { DPT_TASK_NONE, DPT_TASK_BINARY, DPT_TASK_MULTICLASS, DPT_TASK_REGRESSION };

struct dpt_eval_result {
    uint64_t n;      /* rows evaluated */
    double loss;     /* mean per row (NaN without targets) */
    double accuracy; /* NaN when the loss cannot tell */
    size_t n_out;
    float *pred; /* with want_pred, on rank 0: (n, n_out) outputs in target units; free() */
    enum dpt_task task;
    /* binary: precision, recall, F1 of class 1 (threshold 0.5) */
    double precision, recall, f1;
    /* multiclass: top-k accuracy (k = min(5, classes - 1)) */
    int top_k;
    double top_k_accuracy;
    /* classification: confusion[true * classes + predicted] (malloc'ed; free()) */
    size_t classes;
    uint64_t *confusion;
    /* regression, in the units of the data file: */
    double mae, rmse, r2;
};

/* The rows [*lo, *hi) of n that rank `rank` of `ranks` evaluates (a
 * contiguous share; validation takes the same shares of its rows). */
void dpt_eval_share(uint64_t n, int rank, int ranks, uint64_t *lo, uint64_t *hi);

/* Opens the data set of src to run net over (with_y 0: no targets) and
 * checks that its sample shape and, with targets, theirs fit the network,
 * that X names its columns as columns does and its labels number their
 * classes as classes does (the model's or the training data's; NULL or no
 * names: nothing to check); errors name the file, the dataset and both
 * shapes or lists. *ds is the caller's to close, also when a check fails
 * after the file opened. */
int dpt_eval_open(struct dpt_dataset **ds, const struct dpt_net *net,
                  const struct dpt_data_source *src, int with_y,
                  const struct dpt_names *classes, const struct dpt_names *columns,
                  struct dpt_err *err);

/* The name of src's targets for messages (their dataset, or the one their
 * columns are in), or NULL when there are none (or with_y is 0). */
const char *dpt_eval_y_name(const struct dpt_data_source *src, int with_y);

/* Collective. Evaluates every row of the data set of src (with_y 0: no
 * targets, outputs only): each rank takes the rows [N*r/P, N*(r+1)/P).
 * With want_pred rank 0 receives all outputs in res->pred. Errors name the
 * file: features the model does not take, targets of the wrong shape or a
 * bad label (with its row). */
int dpt_evaluate(const struct dpt_net *net, const struct dpt_data_source *src, int with_y,
                 const struct dpt_norm *norm, const struct dpt_dist *d, int threads,
                 int want_pred, struct dpt_eval_result *res, struct dpt_err *err);

/* Collective. Loss and accuracy over rows of an open data set: this rank
 * takes the file rows rows[0..n_local) (sorted), all ranks together n_total
 * rows. y_name names ds's target dataset in messages; NULL: no targets (the
 * loss and accuracy are then NaN). The task's metrics are not computed. */
int dpt_evaluate_rows(const struct dpt_net *net, struct dpt_dataset *ds, const char *y_name,
                      const uint64_t *rows, size_t n_local, uint64_t n_total,
                      const struct dpt_norm *norm, const struct dpt_dist *d, int threads,
                      struct dpt_eval_result *res, struct dpt_err *err);

/* Collective, on every rank alike once the ranks agree ds is open. Reads
 * the targets of this rank's share of ds (dpt_eval_share, in blocks of
 * about 4 MiB) and checks them with the loss's check_rows, so that a label
 * the loss refuses stops a run before its first step: 0, or on every rank
 * the same error, whatever the number of ranks. It names the first bad row
 * in file order (its file, dataset and row there), how many rows are bad,
 * and, when the labels run 1..n_out, that classes are numbered from 0. */
int dpt_eval_check_targets(const struct dpt_net *net, struct dpt_dataset *ds,
                           const char *y_name, const struct dpt_dist *d, struct dpt_err *err);

#endif
