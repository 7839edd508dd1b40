/* Scaling and standardization of inputs, standardization of regression
 * targets.
 *
 * With data.scale = s every input value is first multiplied by s (1 / 255
 * for 8-bit images, as Keras users do): x1 = x * s, computed in double and
 * rounded once to float. With data.standardize every input feature (every
 * pixel of an image) then becomes x' = (x1 - mean) / std, where mean and
 * std are the statistics of the scaled inputs x1: that is what model files
 * store, so a reader applies (x * scale - mean) / std with the file's own
 * numbers. With standardize the scale changes nothing but rounding; it
 * matters without it. With data.standardize_y every target column becomes
 * y' = (y - y_mean) / y_std; predictions are mapped back to the file's
 * units.
 *
 * The statistics are computed once, over all rows of the training file, by
 * one algorithm for X and y (two passes in double, or one exact pass with
 * --deterministic; dpt_norm_compute); they
 * and the scale are stored in model files and checkpoints (io/) and applied
 * wherever rows enter the network, through dpt_norm_x and dpt_norm_y: when
 * a rank reads its training rows (data/shard.c) and when a file is
 * evaluated (train/eval.c), so training, evaluation and prediction see the
 * same inputs.
 *
 * What is left out: statistics of a validation set of their own (the
 * training file's are used everywhere), and per-channel statistics of
 * images (each pixel has its own).
 */
#ifndef DPT_DATA_NORM_H
#define DPT_DATA_NORM_H

#include "data/dataset.h"
#include "dist/dist.h"

#include <dptrain/dptrain.h>
#include <stddef.h>

struct dpt_norm {
    /* data.scale: each input is multiplied by scale, first. Only when
     * n_scaled > 0 (the row width, set by dpt_norm_set_scale); a zeroed
     * struct does not scale. */
    double scale;
    size_t n_scaled;
    size_t f;     /* features standardized; 0: none */
    double *mean; /* f values each, malloc'ed, of the scaled inputs: what model files store */
    double *std;  /* population std of the scaled inputs; 1 for a constant feature */
    float *mean_f, *inv_std_f; /* the same as applied, in float */
    size_t yc;    /* target columns standardized; 0: none */
    double *y_mean, *y_std;
    float *y_mean_f, *y_inv_std_f;
    /* The training data's class names (label k is classes[k]), when its
     * labels have them (dpt_dataset_classes); stored in model files and
     * checkpoints, and every file evaluated must number its classes alike. */
    char **classes;
    size_t n_classes;
    /* The training data's column names (feature j is columns[j]), when its
     * X has them (dpt_dataset_columns); kept like classes, and every file
     * evaluated must name the same columns in the same order. */
    char **columns;
    size_t n_columns;
};

/* Allocates f input (or yc target) entries, zeroed, to be filled in and
 * finished with dpt_norm_finish; 0 or DPT_ENOMEM. */
int dpt_norm_alloc_x(struct dpt_norm *n, size_t f);
int dpt_norm_alloc_y(struct dpt_norm *n, size_t yc);
/* Derives the float copies (mean_f, inv_std_f, ...) from mean and std. */
void dpt_norm_finish(struct dpt_norm *n);
/* The class and column names of the training data ds: taken from it when n
 * has none yet, or, when n came from a checkpoint, checked against it (a
 * resumed run must number the classes and order the columns as its start
 * did). 0, DPT_ENOMEM or DPT_EFORMAT (dpt_dataset_check_classes,
 * dpt_dataset_check_columns). */
int dpt_norm_take_names(struct dpt_norm *n, const struct dpt_dataset *ds, struct dpt_err *err);
/* n's class names, for dpt_dataset_check_classes. */
struct dpt_names dpt_norm_classes(const struct dpt_norm *n, const char *whose);
/* n's column names, for dpt_dataset_check_columns. */
struct dpt_names dpt_norm_columns(const struct dpt_norm *n, const char *whose);
/* Copies names[0..k) into n's classes (none before): 0 or DPT_ENOMEM. */
int dpt_norm_set_classes(struct dpt_norm *n, const char *const *names, size_t k);
/* Frees everything and zeroes n; safe on a zeroed or half-built n. */
void dpt_norm_cleanup(struct dpt_norm *n);

/* Sets the scale inputs are multiplied by (scale > 0; 1: none) and the
 * width of their rows, f values. Call it before dpt_norm_compute, whose
 * input statistics are those of the scaled values. When n already has a
 * scale (read from a checkpoint) equal to this one to 14 digits, n keeps
 * its own (a model file's /config text keeps 15 digits, the scale stored
 * with the statistics all of them). Statistics that n already holds must
 * have been computed with the same scale: else DPT_ECONFIG, with a message
 * naming both. */
int dpt_norm_set_scale(struct dpt_norm *n, double scale, size_t f, struct dpt_err *err);
/* Whether dpt_norm_x changes inputs (scales or standardizes them). */
int dpt_norm_has_x(const struct dpt_norm *n);
/* Whether inputs are scaled: a scale other than 1 is set. */
int dpt_norm_scales(const struct dpt_norm *n);

/* Collective. The statistics of X (with x) and of y (with y) over all rows
 * of ds: each rank reads a contiguous block of about N/P rows, the sums are
 * combined over the ranks. Two passes per array: the mean, then the spread
 * around it (see dpt_dataset_moments). The statistics of X are those of the
 * inputs times n->scale: the raw ones times the scale. A column whose values
 * are all equal (a constant pixel of an image border) gets that value, times
 * the scale, as its mean, exactly as dpt_norm_x scales it, and std 1, so
 * standardizing leaves it at 0. Any rank's read error is every rank's.
 * With exact (train.deterministic) the statistics come from exact sums of
 * the values read as floats and of their squares (dist/exact.h, struct
 * dpt_wide): one pass, and the same bits for any number of ranks, where the
 * floating-point sums of the two passes differ in the last bits with the
 * ranks' blocks (tests/mpi/deterministic_model_file.sh). */
int dpt_norm_compute(struct dpt_norm *n, struct dpt_dataset *ds, const struct dpt_dist *d,
                     int x, int y, int exact, struct dpt_err *err);

/* out (rows, f) = (x * scale - mean) / std, or x * scale without input
 * statistics, or (x - mean) / std without a scale. out may be x. When it
 * neither scales nor standardizes (n NULL, or !dpt_norm_has_x(n)) it does
 * nothing: the width of a row is then unknown here, so callers that need a
 * copy make it. */
void dpt_norm_x(const struct dpt_norm *n, const float *x, float *out, size_t rows);
/* out (rows, cols) = (y - y_mean) / y_std when the targets were
 * standardized with cols columns, else a copy of y. out may be y. */
void dpt_norm_y(const struct dpt_norm *n, const float *y, float *out, size_t rows,
                size_t cols);
/* The inverse of dpt_norm_y on outputs (rows, cols), in place. */
void dpt_norm_unapply_y(const struct dpt_norm *n, float *out, size_t rows, size_t cols);

#endif
