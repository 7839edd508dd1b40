/* Evaluation over a whole data file: loss, accuracy and predictions,
 * computed in parallel over ranks (contiguous blocks of rows) and threads. */
#ifndef DPT_TRAIN_EVAL_H
#define DPT_TRAIN_EVAL_H

#include "dist/dist.h"
#include "model/net.h"
#include "train/train.h"
#include "data/dataset.h"

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

/* Collective. y_name NULL: no targets (predictions only). */
int dpt_evaluate(const struct dpt_net *net, const char *path, const char *x_name,
                 const char *y_name, const struct dpt_norm *norm, const struct dpt_dist *d,
                 int threads, int want_pred, struct dpt_eval_result *res, struct dpt_err *err);

/* Collective. Loss and accuracy over rows of an open data set: this rank
 * takes rows[0..n_local) (sorted), all ranks together n_total rows. */
int dpt_evaluate_rows(const struct dpt_net *net, struct dpt_dataset *ds, const uint64_t *rows,
                      size_t n_local, uint64_t n_total,
                      const struct dpt_norm *norm, const struct dpt_dist *d, int threads,
                      struct dpt_eval_result *res, struct dpt_err *err);

/* Checks target rows against the loss; file_row maps local rows to file
 * rows (NULL: identity from first_row). Error names file and row. */
int dpt_check_target_rows(const struct dpt_net *net, const char *path, const char *y_name,
                          const float *y, size_t rows, size_t y_cols,
                          const uint64_t *file_row, uint64_t first_row, struct dpt_err *err);

#endif
