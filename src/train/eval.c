/* Evaluation over a data file and target checks. Rank r takes the rows
 * [N*r/P, N*(r+1)/P) in blocks; threads split each block into micro-shards;
 * sums are reduced in double over threads (fixed order) and ranks. */
#include "config.h"

#include "train/eval.h"
#include "data/dataset.h"

#include <math.h>
#include <stdio.h>
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

/* The task the metrics are for: labels with several outputs are classes;
 * one output with a loss that counts hits (bce) is binary; a loss without
 * hits (mse on float targets) is regression. */
static enum dpt_task task_of(const struct dpt_net *net, size_t yc)
{
    if (net->loss->correct && net->n_out >= 2) {
        return DPT_TASK_MULTICLASS;
    }
    if (net->loss->correct && net->n_out == 1) {
        return DPT_TASK_BINARY;
    }
    return yc == net->n_out ? DPT_TASK_REGRESSION : DPT_TASK_NONE;
}

static size_t argmax(const float *v, size_t n)
{
    size_t best = 0;
    for (size_t j = 1; j < n; j++) {
        best = v[j] > v[best] ? j : best;
    }
    return best;
}

/* Sums behind the task's metrics, added for rows of outputs (target units)
 * and raw targets: binary [tp, fp, fn, tn]; multiclass [top-k hits,
 * confusion C x C]; regression [sum |e|, sum e^2, sum y, sum y^2, count]. */
static size_t metric_sums_len(enum dpt_task task, size_t classes)
{
    return task == DPT_TASK_BINARY       ? 4
           : task == DPT_TASK_MULTICLASS ? 1 + classes * classes
           : task == DPT_TASK_REGRESSION ? 5
                                         : 0;
}

static void metric_sums_add(enum dpt_task task, size_t n_out, size_t yc, int k,
                            const float *out, const float *y, size_t rows, double *m)
{
    for (size_t i = 0; i < rows; i++) {
        const float *o = out + i * n_out, *t = y + i * yc;
        if (task == DPT_TASK_BINARY) {
            int p = o[0] > 0.5f, a = t[0] > 0.5f;
            m[a ? (p ? 0 : 2) : (p ? 1 : 3)] += 1;
        } else if (task == DPT_TASK_MULTICLASS) {
            size_t truth = yc == 1 ? (size_t)t[0] : argmax(t, yc), rank = 0;
            if (truth >= n_out) {
                continue; /* refused earlier by the loss's check_rows */
            }
            for (size_t j = 0; j < n_out; j++) {
                rank += o[j] > o[truth];
            }
            m[0] += rank < (size_t)k;
            m[1 + truth * n_out + argmax(o, n_out)] += 1;
        } else if (task == DPT_TASK_REGRESSION) {
            for (size_t j = 0; j < n_out; j++) {
                double e = (double)o[j] - t[j];
                m[0] += fabs(e);
                m[1] += e * e;
                m[2] += t[j];
                m[3] += (double)t[j] * t[j];
                m[4] += 1;
            }
        }
    }
}

/* Turns the reduced sums into the result's metrics. */
static int metric_finish(struct dpt_eval_result *res, const double *m)
{
    if (res->task == DPT_TASK_BINARY) {
        double tp = m[0], fp = m[1], fn = m[2], tn = m[3];
        res->precision = tp + fp > 0 ? tp / (tp + fp) : 0;
        res->recall = tp + fn > 0 ? tp / (tp + fn) : 0;
        res->f1 = res->precision + res->recall > 0
                      ? 2 * res->precision * res->recall / (res->precision + res->recall)
                      : 0;
        res->classes = 2;
        res->confusion = malloc(4 * sizeof *res->confusion);
        if (!res->confusion) {
            return -1;
        }
        /* rows: true 0, 1; columns: predicted 0, 1 */
        res->confusion[0] = (uint64_t)tn;
        res->confusion[1] = (uint64_t)fp;
        res->confusion[2] = (uint64_t)fn;
        res->confusion[3] = (uint64_t)tp;
    } else if (res->task == DPT_TASK_MULTICLASS) {
        res->top_k_accuracy = m[0] / (double)res->n;
        res->confusion = malloc(res->classes * res->classes * sizeof *res->confusion);
        if (!res->confusion) {
            return -1;
        }
        for (size_t i = 0; i < res->classes * res->classes; i++) {
            res->confusion[i] = (uint64_t)m[1 + i];
        }
    } else if (res->task == DPT_TASK_REGRESSION) {
        double cnt = m[4], mean = m[2] / cnt, sst = m[3] - cnt * mean * mean;
        res->mae = m[0] / cnt;
        res->rmse = sqrt(m[1] / cnt);
        res->r2 = sst > 0 ? 1.0 - m[1] / sst : NAN;
    }
    return 0;
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
    dpt_norm_x(norm, x, x, rows);
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
    res->task = y_name ? task_of(net, yc) : DPT_TASK_NONE;
    res->classes = res->task == DPT_TASK_MULTICLASS ? net->n_out : 0;
    res->top_k = res->classes > 1 ? (int)(res->classes - 1 < 5 ? res->classes - 1 : 5) : 0;
    size_t n_m = 2 + metric_sums_len(res->task, res->classes);
    double *sums = calloc(n_m, sizeof *sums); /* loss, hits, then the task's metric sums */
    float *ys = NULL, *out = NULL;
    if (rc == 0) {
        x = malloc(EVAL_BLOCK * f * sizeof(float));
        y = malloc(EVAL_BLOCK * (yc ? yc : 1) * sizeof(float));
        ys = malloc(EVAL_BLOCK * (yc ? yc : 1) * sizeof(float));
        out = malloc(EVAL_BLOCK * net->n_out * sizeof(float));
        pred = want_pred ? malloc(((hi - lo) ? (hi - lo) : 1) * net->n_out * sizeof(float)) : NULL;
        if (!x || !y || !ys || !out || !sums || (want_pred && !pred)) {
            rc = dpt_err_set(err, DPT_ENOMEM, "out of memory evaluating %s", path);
        }
        for (int t = 0; rc == 0 && t < T; t++) {
            rc = dpt_work_create(&work[t], net, EVAL_MICRO, err);
        }
    }
    for (uint64_t b = lo; rc == 0 && b < hi; b += EVAL_BLOCK) {
        size_t rows = hi - b < EVAL_BLOCK ? hi - b : EVAL_BLOCK;
        rc = dpt_dataset_read_range(ds, b, rows, x, y_name ? y : NULL, err);
        if (rc == 0 && y_name) {
            rc = dpt_check_target_rows(net, path, y_name, y, rows, yc, NULL, b, err);
        }
        if (rc < 0) {
            break;
        }
        /* The loss sees targets as in training (standardized with
         * standardize_y); the metrics see outputs and targets in file units. */
        if (y_name) {
            dpt_norm_y(norm, y, ys, rows, yc);
        }
        eval_block(net, work, T, x, y_name ? ys : NULL, yc, rows, norm, out, sums);
        dpt_norm_unapply_y(norm, out, rows, net->n_out);
        if (y_name) {
            metric_sums_add(res->task, net->n_out, yc, res->top_k, out, y, rows, sums + 2);
        }
        if (pred) {
            memcpy(pred + (b - lo) * net->n_out, out, rows * net->n_out * sizeof(float));
        }
    }
    rc = dpt_dist_agree(d, rc, err);
    if (rc == 0) {
        dpt_dist_sum_doubles(d, sums, n_m);
        res->n = n;
        res->loss = y_name ? sums[0] / (double)n : NAN;
        res->accuracy = (y_name && net->loss->correct) ? sums[1] / (double)n : NAN;
        if (metric_finish(res, sums + 2) < 0) {
            rc = dpt_err_set(err, DPT_ENOMEM, "out of memory");
        }
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
    free(sums);
    free(ys);
    free(out);
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
            dpt_norm_y(norm, y, y, k, yc);
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
