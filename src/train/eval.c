/* Evaluation and target checks (see eval.h). One core, eval_local, reads a
 * rank's rows in blocks of EVAL_BLOCK and runs each block as micro-shards of
 * EVAL_MICRO rows over the threads; eval_finish sums over the ranks. Both
 * sizes, and the order of the sums, fix the numbers: change them and every
 * reported loss moves in its last bits. */
#include "config.h"

#include "train/eval.h"
#include "data/dataset.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#define EVAL_BLOCK 4096
#define EVAL_MICRO 256

/* What a scan of target rows found: the first row the loss refuses (a row
 * of the data set; none: UINT64_MAX) and why, how many it refuses, and
 * whether the labels look numbered from 1 (each refused label is n_out and
 * no label is 0). */
struct target_scan {
    uint64_t first, bad;
    int all_n_out, any_zero;
    char why[512];
};

/* Adds rows [row0, row0 + rows) of the data set, their targets y (rows,
 * yc), to s. The loss's check_rows says only where the first bad row is,
 * so it is called again past each bad row to count them all. */
static void scan_rows(const struct dpt_net *net, const float *y, size_t rows, size_t yc,
                      uint64_t row0, struct target_scan *s)
{
    int labels = yc == 1 && net->n_out >= 2 && net->loss->correct;
    char why[512];
    for (size_t i = 0; i < rows;) {
        int64_t b = net->loss->check_rows(net->loss_state, y + i * yc, rows - i, net->n_out, yc,
                                          why, sizeof why);
        size_t end = b < 0 ? rows : i + (size_t)b;
        for (size_t k = i; labels && k < end; k++) {
            s->any_zero |= y[k] == 0.0f;
        }
        if (b < 0) {
            break;
        }
        if (s->bad++ == 0) {
            s->first = row0 + end;
            memcpy(s->why, why, sizeof why);
        }
        s->all_n_out &= labels && y[end] == (float)net->n_out;
        i = end + 1;
    }
}

/* The error for the first bad row of s: the file that holds it, its row
 * there, the loss's reason, how many rows are bad and, when the labels run
 * 1..n_out, that classes are numbered from 0. */
static int scan_error(const struct dpt_net *net, const struct dpt_dataset *ds,
                      const char *y_name, const struct target_scan *s, struct dpt_err *err)
{
    uint64_t row, n = dpt_dataset_rows(ds);
    size_t f = dpt_dataset_locate(ds, s->first, &row), files = dpt_dataset_files(ds);
    char of[96], hint[256] = "";
    if (files == 1) {
        snprintf(of, sizeof of, "its %llu rows", (unsigned long long)n);
    } else {
        snprintf(of, sizeof of, "the %llu rows of the %zu files", (unsigned long long)n, files);
    }
    if (s->all_n_out && !s->any_zero) {
        snprintf(hint, sizeof hint, "; the labels run 1..%zu: dptrain numbers classes from 0; "
                 "convert with labels - 1 (or let `dptrain convert --label` number text "
                 "labels)", net->n_out);
    }
    return dpt_err_set(err, DPT_EDATA, "%s: dataset '%s': row %llu: %s (loss '%s'); %llu of "
                       "%s %s bad%s", dpt_dataset_file(ds, f), y_name, (unsigned long long)row,
                       s->why, net->loss->base.name, (unsigned long long)s->bad, of,
                       s->bad == 1 ? "is" : "are", hint);
}

int dpt_eval_check_targets(const struct dpt_net *net, struct dpt_dataset *ds,
                           const char *y_name, const struct dpt_dist *d, struct dpt_err *err)
{
    uint64_t lo, hi, yc = dpt_dataset_y_cols(ds);
    dpt_eval_share(dpt_dataset_rows(ds), d->rank, d->size, &lo, &hi);
    if (!net->loss->check_rows || yc == 0) {
        return 0;
    }
    /* Blocks of about 4 MiB of targets, whatever their width (one-hot rows
     * of many classes). */
    size_t block = yc < (1u << 20) ? (size_t)((1u << 20) / yc) : 1;
    float *y = malloc(block * yc * sizeof *y);
    int rc = y ? 0 : dpt_err_set(err, DPT_ENOMEM, "out of memory checking the targets");
    struct target_scan s = {.first = UINT64_MAX, .all_n_out = 1};
    for (uint64_t first = lo; rc == 0 && first < hi; first += block) {
        size_t k = hi - first < block ? (size_t)(hi - first) : block;
        rc = dpt_dataset_read_array(ds, DPT_ARRAY_Y, first, k, y, err);
        if (rc == 0) {
            scan_rows(net, y, k, yc, first, &s);
        }
    }
    free(y);
    rc = dpt_dist_agree(d, rc, err);
    if (rc < 0) {
        return rc;
    }
    /* The whole file's first bad row and count, whichever rank read them,
     * so that the message is the same for any number of ranks. Row numbers
     * and counts are below 2^53, exact in a double. */
    double first = s.first == UINT64_MAX ? INFINITY : (double)s.first, bad = (double)s.bad;
    dpt_dist_min_doubles(d, &first, 1);
    if (isinf(first)) {
        return 0;
    }
    dpt_dist_sum_doubles(d, &bad, 1);
    int owner = dpt_dist_min_int(d, s.bad > 0 && (double)s.first == first ? d->rank : INT_MAX);
    s.all_n_out = dpt_dist_min_int(d, s.all_n_out);
    s.any_zero = dpt_dist_any(d, s.any_zero);
    s.bad = (uint64_t)bad;
    if (d->rank == owner) {
        scan_error(net, ds, y_name, &s, err);
    }
    dpt_dist_bcast_bytes(d, err->msg, (int)sizeof err->msg, owner);
    err->code = DPT_EDATA;
    return DPT_EDATA;
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

/* What one rank evaluates: its rows of an open data set (a sorted list of
 * file rows, or the range [first, first + n)) and what to compute. */
struct eval_job {
    const struct dpt_net *net;
    struct dpt_dataset *ds;
    const char *y_name; /* NULL: no targets, outputs only */
    const struct dpt_norm *norm;
    int T;                /* threads */
    const uint64_t *rows; /* NULL: the range */
    uint64_t first;
    size_t n;
    enum dpt_task task; /* metric sums to add after the loss and hits */
    int top_k;
};

/* One block's buffers and one work buffer per thread: x (EVAL_BLOCK, F),
 * y and its standardized copy ys (EVAL_BLOCK, y_cols), and out (EVAL_BLOCK,
 * n_out) when the outputs are needed but have no place in the predictions. */
struct eval_bufs {
    struct dpt_work **work;
    float *x, *y, *ys, *out;
};

static void bufs_destroy(struct eval_bufs *b, int T)
{
    for (int t = 0; b->work && t < T; t++) {
        dpt_work_destroy(b->work[t]);
    }
    free(b->work);
    free(b->x);
    free(b->y);
    free(b->ys);
    free(b->out);
}

/* Allocates b (zeroed by the caller) for j; on failure bufs_destroy frees
 * what was made. */
static int bufs_create(struct eval_bufs *b, const struct eval_job *j, size_t yc, int want_out,
                       struct dpt_err *err)
{
    size_t yw = yc ? yc : 1;
    b->work = calloc((size_t)j->T, sizeof *b->work);
    b->x = malloc(EVAL_BLOCK * j->net->n_in * sizeof(float));
    b->y = malloc(EVAL_BLOCK * yw * sizeof(float));
    b->ys = malloc(EVAL_BLOCK * yw * sizeof(float));
    b->out = want_out ? malloc(EVAL_BLOCK * j->net->n_out * sizeof(float)) : NULL;
    if (!b->work || !b->x || !b->y || !b->ys || (want_out && !b->out)) {
        return dpt_err_set(err, DPT_ENOMEM, "out of memory evaluating %s",
                           dpt_dataset_path(j->ds));
    }
    for (int t = 0; t < j->T; t++) {
        int rc = dpt_work_create(&b->work[t], j->net, EVAL_MICRO, err);
        if (rc < 0) {
            return rc;
        }
    }
    return 0;
}

/* Reads rows [i, i + k) of the job's rows into x and y. Their targets were
 * checked against the loss when the file was opened
 * (dpt_eval_check_targets). */
static int read_block(const struct eval_job *j, size_t i, size_t k, struct eval_bufs *b,
                      struct dpt_err *err)
{
    float *y = j->y_name ? b->y : NULL;
    return j->rows ? dpt_dataset_read(j->ds, j->rows + i, k, b->x, y, err)
                   : dpt_dataset_read_range(j->ds, j->first + i, k, b->x, y, err);
}

/* The core of both entry points: evaluates this rank's rows in blocks of
 * EVAL_BLOCK, adding the loss and hit sums to sums[0..1] and the task's
 * metric sums to sums[2..]. With pred (n, n_out) not NULL it writes the
 * outputs there, in target units. Not collective. */
static int eval_local(const struct eval_job *j, double *sums, float *pred, struct dpt_err *err)
{
    const struct dpt_net *net = j->net;
    size_t yc = dpt_dataset_y_cols(j->ds);
    struct eval_bufs b = {0};
    int rc = bufs_create(&b, j, yc, !pred && j->task != DPT_TASK_NONE, err);
    for (size_t i = 0; rc == 0 && i < j->n; i += EVAL_BLOCK) {
        size_t k = j->n - i < EVAL_BLOCK ? j->n - i : EVAL_BLOCK;
        rc = read_block(j, i, k, &b, err);
        if (rc < 0) {
            break;
        }
        /* The loss sees targets as in training (standardized with
         * standardize_y); the metrics see outputs and targets in file units. */
        if (j->y_name) {
            dpt_norm_y(j->norm, b.y, b.ys, k, yc);
        }
        float *out = pred ? pred + i * net->n_out : b.out;
        eval_block(net, b.work, j->T, b.x, j->y_name ? b.ys : NULL, yc, k, j->norm, out, sums);
        if (out) {
            dpt_norm_unapply_y(j->norm, out, k, net->n_out);
        }
        if (j->task != DPT_TASK_NONE) {
            metric_sums_add(j->task, net->n_out, yc, j->top_k, out, b.y, k, sums + 2);
        }
    }
    bufs_destroy(&b, j->T);
    return rc;
}

/* Collective. Agrees on rc, sums the ranks' sums[0..n_sums) and turns them
 * into res: loss and accuracy per row over the n rows, then the metrics. */
static int eval_finish(const struct dpt_net *net, int has_y, uint64_t n, double *sums,
                       size_t n_sums, const struct dpt_dist *d, int rc,
                       struct dpt_eval_result *res, struct dpt_err *err)
{
    rc = dpt_dist_agree(d, rc, err);
    if (rc < 0) {
        return rc;
    }
    dpt_dist_sum_doubles(d, sums, n_sums);
    res->n = n;
    res->loss = has_y ? sums[0] / (double)n : NAN;
    res->accuracy = (has_y && net->loss->correct) ? sums[1] / (double)n : NAN;
    if (n_sums > 2 && metric_finish(res, sums + 2) < 0) { /* the task's sums follow */
        rc = dpt_err_set(err, DPT_ENOMEM, "out of memory");
    }
    return dpt_dist_agree(d, rc, err);
}

void dpt_eval_share(uint64_t n, int rank, int ranks, uint64_t *lo, uint64_t *hi)
{
    *lo = n * (uint64_t)rank / (uint64_t)ranks;
    *hi = n * (uint64_t)(rank + 1) / (uint64_t)ranks;
}

/* Opens a data file for evaluation and checks it fits the model: the
 * sample shape, the column names and, with targets, their shape and
 * class names. */
int dpt_eval_open(struct dpt_dataset **ds, const struct dpt_net *net,
                  const struct dpt_data_source *src, int with_y,
                  const struct dpt_names *classes, const struct dpt_names *columns,
                  struct dpt_err *err)
{
    int rc = dpt_dataset_open_source(ds, src, with_y, err);
    /* The names first: when both sides name their columns, a column too
     * many or missing is told by name, not only as a shape. */
    if (rc == 0) {
        rc = dpt_dataset_check_columns(*ds, columns, err);
    }
    struct dpt_shape in;
    if (rc == 0) {
        dpt_dataset_sample_shape(*ds, &in);
        rc = dpt_net_check_inputs(net, &in, dpt_dataset_path(*ds), src->x_name, err);
    }
    if (rc == 0 && dpt_eval_y_name(src, with_y)) {
        rc = dpt_net_check_targets(net, dpt_dataset_y_cols(*ds), dpt_dataset_path(*ds), err);
    }
    if (rc == 0 && dpt_eval_y_name(src, with_y)) {
        rc = dpt_dataset_check_classes(*ds, classes, err);
    }
    return rc;
}

const char *dpt_eval_y_name(const struct dpt_data_source *src, int with_y)
{
    if (!with_y) {
        return NULL;
    }
    return src->y_cols ? src->x_name : src->y_name;
}

int dpt_evaluate(const struct dpt_net *net, const struct dpt_data_source *src, int with_y,
                 const struct dpt_norm *norm, const struct dpt_dist *d, int threads,
                 int want_pred, struct dpt_eval_result *res, struct dpt_err *err)
{
    memset(res, 0, sizeof *res);
    res->n_out = net->n_out;
    struct dpt_dataset *ds = NULL;
    const char *y_name = dpt_eval_y_name(src, with_y);
    const char *path = src->files[0];
    struct dpt_names classes = dpt_norm_classes(norm, "the model");
    struct dpt_names columns = dpt_norm_columns(norm, "the model");
    int rc = dpt_eval_open(&ds, net, src, with_y, &classes, &columns, err);
    if (y_name) {
        rc = dpt_dist_agree(d, rc, err);
        rc = rc == 0 ? dpt_eval_check_targets(net, ds, y_name, d, err) : rc;
    }
    uint64_t n = rc == 0 ? dpt_dataset_rows(ds) : 0;
    uint64_t lo, hi;
    dpt_eval_share(n, d->rank, d->size, &lo, &hi);
    res->task = rc == 0 && y_name ? task_of(net, dpt_dataset_y_cols(ds)) : DPT_TASK_NONE;
    res->classes = res->task == DPT_TASK_MULTICLASS ? net->n_out : 0;
    res->top_k = res->classes > 1 ? (int)(res->classes - 1 < 5 ? res->classes - 1 : 5) : 0;
    struct eval_job job = {.net = net, .ds = ds, .y_name = y_name, .norm = norm,
                           .T = dpt_train_threads(threads), .rows = NULL, .first = lo,
                           .n = hi - lo, .task = res->task, .top_k = res->top_k};
    size_t n_sums = 2 + metric_sums_len(res->task, res->classes);
    double *sums = calloc(n_sums, sizeof *sums); /* loss, hits, then the metric sums */
    float *pred = want_pred ? malloc((job.n ? job.n : 1) * net->n_out * sizeof(float)) : NULL;
    if (rc == 0 && (!sums || (want_pred && !pred))) {
        rc = dpt_err_set(err, DPT_ENOMEM, "out of memory evaluating %s", path);
    }
    if (rc == 0) {
        rc = eval_local(&job, sums, pred, err);
    }
    rc = eval_finish(net, y_name != NULL, n, sums, n_sums, d, rc, res, err);
    /* The predictions, in row order on rank 0; one rank already has them all. */
    if (rc == 0 && want_pred && d->size == 1) {
        res->pred = pred;
        pred = NULL;
    } else if (rc == 0 && want_pred) {
        rc = dpt_dist_gather_floats(d, pred, job.n * net->n_out, &res->pred, err);
    }
    free(pred);
    free(sums);
    dpt_dataset_close(ds);
    return rc;
}

int dpt_evaluate_rows(const struct dpt_net *net, struct dpt_dataset *ds, const char *y_name,
                      const uint64_t *rows, size_t n_local, uint64_t n_total,
                      const struct dpt_norm *norm, const struct dpt_dist *d, int threads,
                      struct dpt_eval_result *res, struct dpt_err *err)
{
    memset(res, 0, sizeof *res);
    res->n_out = net->n_out;
    struct eval_job job = {.net = net, .ds = ds, .y_name = y_name, .norm = norm,
                           .T = dpt_train_threads(threads), .rows = rows, .first = 0,
                           .n = n_local, .task = DPT_TASK_NONE, .top_k = 0};
    double sums[2] = {0, 0};
    int rc = eval_local(&job, sums, NULL, err);
    return eval_finish(net, y_name != NULL, n_total, sums, 2, d, rc, res, err);
}
