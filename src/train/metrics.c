/* Evaluation over a data file and target checks. Rank r takes the rows
 * [N*r/P, N*(r+1)/P) in blocks; threads split each block into micro-shards;
 * sums are reduced in double over threads (fixed order) and ranks. */
#include "config.h"

#include "train/metrics.h"
#include "data/dataset.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#define EVAL_BLOCK 4096
#define EVAL_MICRO 256

int dpt_check_target_rows(const struct dpt_net *net, const char *path, const char *y_name,
                          const float *y, size_t rows, size_t y_cols,
                          const uint64_t *file_row, uint64_t first_row, struct dpt_err *err)
{
    if (!net->loss->check_rows || rows == 0) {
        return 0;
    }
    char why[512] = "";
    int64_t bad = net->loss->check_rows(net->loss_state, y, rows, net->n_out, y_cols, why,
                                        sizeof why);
    if (bad < 0) {
        return 0;
    }
    uint64_t row = file_row ? file_row[bad] : first_row + (uint64_t)bad;
    return dpt_err_set(err, DPT_EDATA, "%s: dataset '%s': row %llu: %s (loss '%s')", path, y_name,
                       (unsigned long long)row, why, net->loss->base.name);
}

static void standardize(float *x, size_t rows, const struct dpt_norm *norm)
{
    for (size_t i = 0; i < rows; i++) {
        float *r = x + i * norm->f;
        for (size_t j = 0; j < norm->f; j++) {
            r[j] = (r[j] - norm->mean_f[j]) * norm->inv_std_f[j];
        }
    }
}

/* Evaluates one block of rows already read into x (rows, F) and y: standardizes
 * x, splits the block into micro-shards over the threads, writes activated
 * outputs to pred (if not NULL) and adds the loss and hit sums to sums[0..1]
 * (thread partial sums combined in thread order). */
static void eval_block(const struct dpt_net *net, struct dpt_work **work, int T, float *x,
                       const float *y, size_t yc, size_t rows, const struct dpt_norm *norm,
                       float *pred, double sums[2])
{
    size_t f = net->n_in;
    if (norm && norm->f) {
        standardize(x, rows, norm);
    }
    size_t micros = (rows + EVAL_MICRO - 1) / EVAL_MICRO;
    double loss[T], hits[T];
#pragma omp parallel num_threads(T) if (T > 1)
    {
        int t = omp_get_thread_num();
        double l = 0;
        size_t h = 0;
        for (size_t i = (size_t)t; i < micros; i += (size_t)T) {
            size_t first = i * EVAL_MICRO;
            size_t k = rows - first < EVAL_MICRO ? rows - first : EVAL_MICRO;
            l += dpt_net_eval_micro(net, work[t], x + first * f, y ? y + first * yc : NULL, yc, k,
                                    pred ? pred + first * net->n_out : NULL, &h);
        }
        loss[t] = l;
        hits[t] = (double)h;
    }
    for (int t = 0; t < T; t++) {
        sums[0] += loss[t];
        sums[1] += hits[t];
    }
}

int dpt_evaluate(const struct dpt_net *net, const char *path, const char *x_name,
                 const char *y_name, const struct dpt_norm *norm, const struct dpt_dist *d,
                 int threads, int want_pred, struct dpt_eval_result *res, struct dpt_err *err)
{
    memset(res, 0, sizeof *res);
    res->n_out = net->n_out;
    int T = dpt_train_threads(threads);
    struct dpt_dataset *ds = NULL;
    struct dpt_work **work = calloc((size_t)T, sizeof *work);
    float *x = NULL, *y = NULL, *pred = NULL;
    int *counts = NULL, *displs = NULL;
    int rc = work ? 0 : dpt_err_set(err, DPT_ENOMEM, "out of memory");
    if (rc == 0) {
        rc = dpt_dataset_open(&ds, path, x_name, y_name, err);
    }
    uint64_t n = 0, f = 0, yc = 0;
    if (rc == 0) {
        n = dpt_dataset_rows(ds);
        f = dpt_dataset_features(ds);
        yc = dpt_dataset_y_cols(ds);
        if (f != net->n_in) {
            rc = dpt_err_set(err, DPT_EDATA, "%s: dataset '%s' has %llu features; the model "
                             "takes %zu", path, x_name, (unsigned long long)f, net->n_in);
        } else if (y_name) {
            rc = dpt_net_check_targets(net, yc, path, err);
        }
    }
    uint64_t lo = n * (uint64_t)d->rank / (uint64_t)d->size;
    uint64_t hi = n * (uint64_t)(d->rank + 1) / (uint64_t)d->size;
    if (rc == 0) {
        x = malloc(EVAL_BLOCK * f * sizeof(float));
        y = malloc(EVAL_BLOCK * (yc ? yc : 1) * sizeof(float));
        pred = want_pred ? malloc(((hi - lo) ? (hi - lo) : 1) * net->n_out * sizeof(float)) : NULL;
        if (!x || !y || (want_pred && !pred)) {
            rc = dpt_err_set(err, DPT_ENOMEM, "out of memory evaluating %s", path);
        }
        for (int t = 0; rc == 0 && t < T; t++) {
            rc = dpt_work_create(&work[t], net, EVAL_MICRO, err);
        }
    }
    double sums[2] = {0, 0}; /* loss, hits */
    for (uint64_t b = lo; rc == 0 && b < hi; b += EVAL_BLOCK) {
        size_t rows = hi - b < EVAL_BLOCK ? hi - b : EVAL_BLOCK;
        rc = dpt_dataset_read_range(ds, b, rows, x, y_name ? y : NULL, err);
        if (rc == 0 && y_name) {
            rc = dpt_check_target_rows(net, path, y_name, y, rows, yc, NULL, b, err);
        }
        if (rc < 0) {
            break;
        }
        eval_block(net, work, T, x, y_name ? y : NULL, yc, rows, norm,
                   pred ? pred + (b - lo) * net->n_out : NULL, sums);
    }
    rc = dpt_dist_agree(d, rc, err);
    if (rc == 0) {
        dpt_dist_sum_doubles(d, sums, 2);
        res->n = n;
        res->loss = y_name ? sums[0] / (double)n : NAN;
        res->accuracy = (y_name && net->loss->correct) ? sums[1] / (double)n : NAN;
    }
    if (rc == 0 && want_pred) {
        /* Gather the predictions on rank 0 in row order. */
        float *all = NULL;
        if (d->size == 1) {
            all = pred;
            pred = NULL;
        } else {
            if (d->rank == 0) {
                all = malloc(n * net->n_out * sizeof(float));
                counts = malloc((size_t)d->size * sizeof *counts);
                displs = malloc((size_t)d->size * sizeof *displs);
                if (!all || !counts || !displs) {
                    rc = dpt_err_set(err, DPT_ENOMEM, "out of memory gathering predictions");
                }
                for (int q = 0; rc == 0 && q < d->size; q++) {
                    uint64_t a = n * (uint64_t)q / (uint64_t)d->size;
                    uint64_t z = n * (uint64_t)(q + 1) / (uint64_t)d->size;
                    counts[q] = (int)((z - a) * net->n_out);
                    displs[q] = (int)(a * net->n_out);
                }
            }
            rc = dpt_dist_agree(d, rc, err);
            if (rc == 0) {
                MPI_Gatherv(pred, (int)((hi - lo) * net->n_out), MPI_FLOAT, all, counts, displs,
                            MPI_FLOAT, 0, d->comm);
            }
        }
        res->pred = all;
    }
    for (int t = 0; work && t < T; t++) {
        dpt_work_destroy(work[t]);
    }
    free(work);
    free(x);
    free(y);
    free(pred);
    free(counts);
    free(displs);
    dpt_dataset_close(ds);
    return rc;
}

int dpt_evaluate_rows(const struct dpt_net *net, struct dpt_dataset *ds, const uint64_t *rows,
                      size_t n_local, uint64_t n_total,
                      const struct dpt_norm *norm, const struct dpt_dist *d, int threads,
                      struct dpt_eval_result *res, struct dpt_err *err)
{
    memset(res, 0, sizeof *res);
    res->n_out = net->n_out;
    int T = dpt_train_threads(threads);
    size_t f = net->n_in, yc = dpt_dataset_y_cols(ds);
    struct dpt_work **work = calloc((size_t)T, sizeof *work);
    float *x = malloc(EVAL_BLOCK * f * sizeof(float));
    float *y = malloc(EVAL_BLOCK * (yc ? yc : 1) * sizeof(float));
    int rc = (work && x && y) ? 0 : dpt_err_set(err, DPT_ENOMEM, "out of memory");
    for (int t = 0; rc == 0 && t < T; t++) {
        rc = dpt_work_create(&work[t], net, EVAL_MICRO, err);
    }
    double sums[2] = {0, 0};
    for (size_t b = 0; rc == 0 && b < n_local; b += EVAL_BLOCK) {
        size_t k = n_local - b < EVAL_BLOCK ? n_local - b : EVAL_BLOCK;
        rc = dpt_dataset_read(ds, rows + b, k, x, y, err);
        if (rc == 0) {
            eval_block(net, work, T, x, y, yc, k, norm, NULL, sums);
        }
    }
    rc = dpt_dist_agree(d, rc, err);
    if (rc == 0) {
        dpt_dist_sum_doubles(d, sums, 2);
        res->n = n_total;
        res->loss = sums[0] / (double)n_total;
        res->accuracy = net->loss->correct ? sums[1] / (double)n_total : NAN;
    }
    for (int t = 0; work && t < T; t++) {
        dpt_work_destroy(work[t]);
    }
    free(work);
    free(x);
    free(y);
    return rc;
}
