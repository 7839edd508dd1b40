/* Standardization statistics and their application: see norm.h. */
#include "config.h"

#include "data/norm.h"
#include "dist/exact.h"

#include <dptrain/plugin.h> /* DPT_VECTORIZE */

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int dpt_norm_alloc_x(struct dpt_norm *n, size_t f)
{
    n->mean = calloc(f, sizeof *n->mean);
    n->std = calloc(f, sizeof *n->std);
    n->mean_f = calloc(f, sizeof *n->mean_f);
    n->inv_std_f = calloc(f, sizeof *n->inv_std_f);
    if (!n->mean || !n->std || !n->mean_f || !n->inv_std_f) {
        return DPT_ENOMEM; /* dpt_norm_cleanup frees what was allocated */
    }
    n->f = f;
    return 0;
}

int dpt_norm_alloc_y(struct dpt_norm *n, size_t yc)
{
    n->y_mean = calloc(yc, sizeof *n->y_mean);
    n->y_std = calloc(yc, sizeof *n->y_std);
    n->y_mean_f = calloc(yc, sizeof *n->y_mean_f);
    n->y_inv_std_f = calloc(yc, sizeof *n->y_inv_std_f);
    if (!n->y_mean || !n->y_std || !n->y_mean_f || !n->y_inv_std_f) {
        return DPT_ENOMEM;
    }
    n->yc = yc;
    return 0;
}

int dpt_norm_set_scale(struct dpt_norm *n, double scale, size_t f, struct dpt_err *err)
{
    assert(scale > 0);
    double had = n->n_scaled ? n->scale : 1.0;
    /* A model file's /config keeps 15 significant digits (libconfig), the
     * scale beside the statistics all 17: a run resumed from the /config of
     * a checkpoint has a scale that differs in the last digits. Those are
     * the same scale, and the checkpoint's own is kept, so that the resumed
     * run computes what the first one did. */
    if (fabs(had - scale) <= 1e-14 * had) {
        scale = had;
    } else if (n->f) {
        return dpt_err_set(err, DPT_ECONFIG, "the input statistics were computed on inputs "
                           "scaled by %.10g (data.scale), but data.scale is now %.10g", had,
                           scale);
    }
    n->scale = scale;
    n->n_scaled = scale != 1.0 ? f : 0;
    return 0;
}

int dpt_norm_has_x(const struct dpt_norm *n)
{
    return n && (n->f || n->n_scaled);
}

int dpt_norm_scales(const struct dpt_norm *n)
{
    return n && n->n_scaled;
}

void dpt_norm_finish(struct dpt_norm *n)
{
    for (size_t j = 0; j < n->f; j++) {
        n->mean_f[j] = (float)n->mean[j];
        n->inv_std_f[j] = (float)(1.0 / n->std[j]);
    }
    for (size_t j = 0; j < n->yc; j++) {
        n->y_mean_f[j] = (float)n->y_mean[j];
        n->y_inv_std_f[j] = (float)(1.0 / n->y_std[j]);
    }
}

/* Copies names[0..k) into *v (none before), *n set first so that
 * dpt_norm_cleanup frees what was copied: 0 or DPT_ENOMEM. */
static int copy_names(char ***v, size_t *n, const char *const *names, size_t k)
{
    *v = k ? calloc(k, sizeof **v) : NULL;
    if (k && !*v) {
        return DPT_ENOMEM;
    }
    *n = k;
    for (size_t i = 0; i < k; i++) {
        if (!((*v)[i] = strdup(names[i]))) {
            return DPT_ENOMEM;
        }
    }
    return 0;
}

static void free_names(char **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++) {
        free(v[i]);
    }
    free(v);
}

int dpt_norm_set_classes(struct dpt_norm *n, const char *const *names, size_t k)
{
    return copy_names(&n->classes, &n->n_classes, names, k);
}

int dpt_norm_take_names(struct dpt_norm *n, const struct dpt_dataset *ds, struct dpt_err *err)
{
    int rc = 0;
    if (n->n_classes) {
        struct dpt_names was = dpt_norm_classes(n, "the checkpoint");
        rc = dpt_dataset_check_classes(ds, &was, err);
    } else {
        struct dpt_names c = dpt_dataset_classes(ds);
        rc = copy_names(&n->classes, &n->n_classes, c.v, c.n);
    }
    if (rc == 0 && n->n_columns) {
        struct dpt_names was = dpt_norm_columns(n, "the checkpoint");
        rc = dpt_dataset_check_columns(ds, &was, err);
    } else if (rc == 0) {
        struct dpt_names c = dpt_dataset_columns(ds);
        rc = copy_names(&n->columns, &n->n_columns, c.v, c.n);
    }
    return rc == DPT_ENOMEM ? dpt_err_set(err, DPT_ENOMEM, "out of memory") : rc;
}

struct dpt_names dpt_norm_classes(const struct dpt_norm *n, const char *whose)
{
    return (struct dpt_names){(const char *const *)n->classes, n->n_classes, whose};
}

struct dpt_names dpt_norm_columns(const struct dpt_norm *n, const char *whose)
{
    return (struct dpt_names){(const char *const *)n->columns, n->n_columns, whose};
}

void dpt_norm_cleanup(struct dpt_norm *n)
{
    free_names(n->classes, n->n_classes);
    free_names(n->columns, n->n_columns);
    free(n->mean);
    free(n->std);
    free(n->mean_f);
    free(n->inv_std_f);
    free(n->y_mean);
    free(n->y_std);
    free(n->y_mean_f);
    free(n->y_inv_std_f);
    memset(n, 0, sizeof *n);
}

/* Mean and population std of the k columns of one array of ds times scale,
 * over all its rows, into mean and std. Each rank sums its block; the first
 * pass gives the mean, the second the deviations from it, and the corrected
 * two-pass formula (Chan, Golub and LeVeque, "Algorithms for computing the
 * sample variance", Am. Stat. 37(3), 1983) takes the variance from them: the
 * sum of deviations, zero in exact arithmetic, removes most of the error of
 * a mean that is off by rounding. Both passes work in the file's units and
 * the scale is applied at the end (scale 1 changes no bit): a constant
 * column's mean is then its value times the scale, the same double product
 * dpt_norm_x rounds to float, so its standardized value is exactly 0. */
static int column_stats(struct dpt_dataset *ds, enum dpt_array which, size_t k, double scale,
                        const struct dpt_dist *d, double *mean, double *std, struct dpt_err *err)
{
    uint64_t n = dpt_dataset_rows(ds);
    uint64_t first = n * (uint64_t)d->rank / (uint64_t)d->size;
    uint64_t last = n * (uint64_t)(d->rank + 1) / (uint64_t)d->size;
    double *acc = malloc(4 * k * sizeof *acc);
    int rc = acc ? 0 : dpt_err_set(err, DPT_ENOMEM, "out of memory");
    double *sum = acc, *sq = acc + k, *lo = acc + 2 * k, *hi = acc + 3 * k;
    for (int pass = 0; pass < 2; pass++) {
        if (rc == 0) {
            rc = dpt_dataset_moments(ds, which, first, last - first, pass ? mean : NULL, sum, sq,
                                     lo, hi, err);
        }
        rc = dpt_dist_agree(d, rc, err);
        if (rc < 0) {
            break;
        }
        dpt_dist_sum_doubles(d, sum, 2 * k); /* sum and sq are adjacent */
        dpt_dist_min_doubles(d, lo, k);
        dpt_dist_max_doubles(d, hi, k);
        for (size_t j = 0; j < k; j++) {
            if (pass == 0) {
                /* A constant column gets its value exactly. */
                mean[j] = lo[j] == hi[j] ? lo[j] : sum[j] / (double)n;
            } else {
                double var = (sq[j] - sum[j] * sum[j] / (double)n) / (double)n;
                std[j] = lo[j] == hi[j] || !(var > 0.0) ? 1.0 : sqrt(var) * scale;
            }
        }
    }
    for (size_t j = 0; rc == 0 && j < k; j++) {
        mean[j] *= scale;
    }
    free(acc);
    return rc;
}

/* The exact statistics read blocks of at most this many values (4 MB of
 * floats): one block of rows per read, as dpt_dataset_moments does. */
#define EXACT_BLOCK_VALUES ((size_t)1 << 20)

/* Sums of k columns of rows [first, last) of one array of ds into sum and
 * sq (k each, normalized), and their smallest and largest values into lo
 * and hi. Not collective. */
static int exact_sums(struct dpt_dataset *ds, enum dpt_array which, size_t k, uint64_t first,
                      uint64_t last, struct dpt_wide *sum, struct dpt_wide *sq, double *lo,
                      double *hi, struct dpt_err *err)
{
    size_t block = EXACT_BLOCK_VALUES / k < 1 ? 1 : EXACT_BLOCK_VALUES / k;
    float *buf = malloc(block * k * sizeof *buf);
    if (!buf) {
        return dpt_err_set(err, DPT_ENOMEM, "%s: out of memory for the statistics",
                           dpt_dataset_path(ds));
    }
    for (size_t j = 0; j < k; j++) {
        lo[j] = INFINITY;
        hi[j] = -INFINITY;
    }
    int rc = 0;
    for (uint64_t b = first; rc == 0 && b < last; b += block) {
        size_t rows = last - b < block ? (size_t)(last - b) : block;
        rc = dpt_dataset_read_array(ds, which, b, rows, buf, err);
        for (size_t i = 0; rc == 0 && i < rows; i++) {
            const float *row = buf + i * k;
            for (size_t j = 0; j < k; j++) {
                dpt_wide_add(&sum[j], row[j]);
                dpt_wide_add_square(&sq[j], row[j]);
                lo[j] = row[j] < lo[j] ? row[j] : lo[j];
                hi[j] = row[j] > hi[j] ? row[j] : hi[j];
            }
        }
        /* At most 2^20 additions per limb since the last time: far from
         * the 2^30 an int64 limb holds. */
        for (size_t j = 0; rc == 0 && j < k; j++) {
            dpt_wide_normalize(&sum[j]);
            dpt_wide_normalize(&sq[j]);
        }
    }
    free(buf);
    return rc;
}

/* column_stats for --deterministic: the same statistics from exact sums of
 * the values (as floats, as training reads them) and of their squares, so
 * that they are the same bits for any number of ranks and threads. One pass
 * suffices: the variance (n * sum(x^2) - sum(x)^2) / n^2 is computed with
 * an exact numerator (dpt_wide_variance), which the two passes of the
 * floating-point version approximate. Memory: 352 bytes per column. */
static int exact_column_stats(struct dpt_dataset *ds, enum dpt_array which, size_t k,
                              double scale, const struct dpt_dist *d, double *mean,
                              double *std, struct dpt_err *err)
{
    uint64_t n = dpt_dataset_rows(ds);
    uint64_t first = n * (uint64_t)d->rank / (uint64_t)d->size;
    uint64_t last = n * (uint64_t)(d->rank + 1) / (uint64_t)d->size;
    struct dpt_wide *acc = calloc(2 * k, sizeof *acc);
    double *lo = malloc(2 * k * sizeof *lo), *hi = lo + k;
    int rc = acc && lo ? 0 : dpt_err_set(err, DPT_ENOMEM, "out of memory");
    if (rc == 0) {
        rc = exact_sums(ds, which, k, first, last, acc, acc + k, lo, hi, err);
    }
    rc = dpt_dist_agree(d, rc, err);
    if (rc == 0 && d->size > 1 && dpt_wide_allreduce(acc, 2 * k, d->comm) < 0) {
        rc = dpt_err_set(err, DPT_EIO, "MPI failed to sum the statistics");
    }
    if (rc == 0) {
        dpt_dist_min_doubles(d, lo, k);
        dpt_dist_max_doubles(d, hi, k);
    }
    for (size_t j = 0; rc == 0 && j < k; j++) {
        /* A constant column gets its value exactly, as column_stats does. */
        double m = lo[j] == hi[j] ? lo[j] : dpt_wide_to_double(&acc[j]) / (double)n;
        double var = dpt_wide_variance(&acc[j], &acc[k + j], n);
        mean[j] = m * scale;
        std[j] = lo[j] == hi[j] || !(var > 0.0) ? 1.0 : sqrt(var) * scale;
    }
    free(lo);
    free(acc);
    return rc;
}

int dpt_norm_compute(struct dpt_norm *n, struct dpt_dataset *ds, const struct dpt_dist *d,
                     int x, int y, int exact, struct dpt_err *err)
{
    int (*stats)(struct dpt_dataset *, enum dpt_array, size_t, double, const struct dpt_dist *,
                 double *, double *, struct dpt_err *) = exact ? exact_column_stats
                                                               : column_stats;
    size_t f = dpt_dataset_features(ds), yc = dpt_dataset_y_cols(ds);
    int rc = 0;
    if ((x && dpt_norm_alloc_x(n, f) < 0) || (y && dpt_norm_alloc_y(n, yc) < 0)) {
        rc = dpt_err_set(err, DPT_ENOMEM, "out of memory");
    }
    if (rc == 0 && x) {
        rc = stats(ds, DPT_ARRAY_X, f, n->n_scaled ? n->scale : 1.0, d, n->mean, n->std, err);
    }
    if (rc == 0 && y) {
        rc = stats(ds, DPT_ARRAY_Y, yc, 1.0, d, n->y_mean, n->y_std, err);
    }
    if (rc < 0) {
        dpt_norm_cleanup(n);
        return rc;
    }
    dpt_norm_finish(n);
    return 0;
}

/* Runs on every row of every step (LeNet: 1.5% of the step before the
 * vector clones); the clones change no result: no product is added. */
DPT_VECTORIZE
void dpt_norm_x(const struct dpt_norm *n, const float *x, float *out, size_t rows)
{
    if (!dpt_norm_has_x(n)) {
        return; /* rows go in as they are (x == out) */
    }
    assert(!n->f || !n->n_scaled || n->f == n->n_scaled);
    size_t f = n->f ? n->f : n->n_scaled;
    for (size_t i = 0; i < rows; i++) {
        const float *r = x + i * f;
        float *o = out + i * f;
        if (n->n_scaled) {
            /* In double, rounded once: x * (1 / 255) then gives the float
             * nearest x / 255, as a float32 division in numpy does. */
            for (size_t j = 0; j < f; j++) {
                o[j] = (float)((double)r[j] * n->scale);
            }
            r = o;
        }
        if (n->f) {
            for (size_t j = 0; j < f; j++) {
                o[j] = (r[j] - n->mean_f[j]) * n->inv_std_f[j];
            }
        }
    }
}

void dpt_norm_y(const struct dpt_norm *n, const float *y, float *out, size_t rows,
                size_t cols)
{
    if (!n || n->yc == 0 || n->yc != cols) {
        if (out != y) {
            memmove(out, y, rows * cols * sizeof *out);
        }
        return;
    }
    for (size_t i = 0; i < rows * cols; i++) {
        out[i] = (y[i] - n->y_mean_f[i % cols]) * n->y_inv_std_f[i % cols];
    }
}

void dpt_norm_unapply_y(const struct dpt_norm *n, float *out, size_t rows, size_t cols)
{
    if (!n || n->yc == 0 || n->yc != cols) {
        return;
    }
    for (size_t i = 0; i < rows; i++) {
        for (size_t j = 0; j < cols; j++) {
            /* In double, as the statistics are kept. */
            out[i * cols + j] = (float)(out[i * cols + j] * n->y_std[j] + n->y_mean[j]);
        }
    }
}
