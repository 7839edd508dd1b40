/* Standardization of inputs and regression targets.
 *
 * With data.standardize every input feature becomes x' = (x - mean) / std,
 * with data.standardize_y every target column y' = (y - y_mean) / y_std;
 * predictions are mapped back to the file's units. The statistics are
 * computed once, over all rows of the training file, by one algorithm for
 * X and y (two passes in double, dpt_norm_compute); they are stored in
 * model files and checkpoints (io/) and applied wherever rows enter the
 * network through dpt_norm_x and dpt_norm_y: when a rank reads its training
 * rows (data/shard.c) and when a file is evaluated (train/eval.c).
 *
 * What is left out: per-sample scaling (data.scale) and statistics of a
 * validation set of their own (the training file's are used everywhere).
 */
#ifndef DPT_DATA_NORM_H
#define DPT_DATA_NORM_H

#include "data/dataset.h"
#include "dist/dist.h"

#include <dptrain/dptrain.h>
#include <stddef.h>

struct dpt_norm {
    size_t f;     /* features standardized; 0: none */
    double *mean; /* f values each, malloc'ed: what model files store */
    double *std;  /* population std; 1 for a constant feature */
    float *mean_f, *inv_std_f; /* the same as applied, in float */
    size_t yc;    /* target columns standardized; 0: none */
    double *y_mean, *y_std;
    float *y_mean_f, *y_inv_std_f;
};

/* Allocates f input (or yc target) entries, zeroed, to be filled in and
 * finished with dpt_norm_finish; 0 or DPT_ENOMEM. */
int dpt_norm_alloc_x(struct dpt_norm *n, size_t f);
int dpt_norm_alloc_y(struct dpt_norm *n, size_t yc);
/* Derives the float copies (mean_f, inv_std_f, ...) from mean and std. */
void dpt_norm_finish(struct dpt_norm *n);
/* Frees everything and zeroes n; safe on a zeroed or half-built n. */
void dpt_norm_cleanup(struct dpt_norm *n);

/* Collective. The statistics of X (with x) and of y (with y) over all rows
 * of ds: each rank reads a contiguous block of about N/P rows, the sums are
 * combined over the ranks. Two passes per array: the mean, then the spread
 * around it (see dpt_dataset_moments). A column whose values are all equal
 * gets that value as its mean, exactly, and std 1, so standardizing leaves
 * it at 0. Any rank's read error is every rank's. */
int dpt_norm_compute(struct dpt_norm *n, struct dpt_dataset *ds, const struct dpt_dist *d,
                     int x, int y, struct dpt_err *err);

/* out (rows, f) = (x - mean) / std. out may be x. Without input
 * statistics (n NULL or n->f == 0) it does nothing: the width of a row is
 * then unknown here, so callers that need a copy make it. */
void dpt_norm_x(const struct dpt_norm *n, const float *x, float *out, size_t rows);
/* out (rows, cols) = (y - y_mean) / y_std when the targets were
 * standardized with cols columns, else a copy of y. out may be y. */
void dpt_norm_y(const struct dpt_norm *n, const float *y, float *out, size_t rows,
                size_t cols);
/* The inverse of dpt_norm_y on outputs (rows, cols), in place. */
void dpt_norm_unapply_y(const struct dpt_norm *n, float *out, size_t rows, size_t cols);

#endif
