/* Validation rows: see validation.h. */
#include "config.h"

#include "train/validation.h"
#include "train/eval.h"
#include "data/window.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Opens data.validation and checks it against the network (the shape of
 * its targets too) and the training data's classes and columns. */
static int open_file(struct dpt_validation *v, const struct dpt_spec *sp,
                     const struct dpt_dataset *train, const struct dpt_net *net,
                     struct dpt_err *err)
{
    struct dpt_names classes = dpt_dataset_classes(train);
    struct dpt_names columns = dpt_dataset_columns(train);
    int rc = dpt_eval_open(&v->ds, net, &sp->validation_src, 1, &classes, &columns, err);
    v->owns_ds = v->ds != NULL;
    return rc;
}

int dpt_validation_setup(struct dpt_validation *v, const struct dpt_spec *sp,
                         struct dpt_dataset *train, uint64_t block,
                         const struct dpt_net *net, const struct dpt_dist *d,
                         uint64_t *n_train, struct dpt_err *err)
{
    memset(v, 0, sizeof *v);
    v->y_name = dpt_eval_y_name(&sp->train_src, 1);
    uint64_t n = 0, N = dpt_dataset_rows(train);
    *n_train = N;
    if (sp->validation) {
        int rc = open_file(v, sp, train, net, err);
        if (rc < 0) {
            return rc;
        }
        n = dpt_dataset_rows(v->ds);
    } else if (sp->validation_split > 0) {
        n = (uint64_t)llround((double)N * sp->validation_split);
        n = n < 1 ? 1 : n;
        if (n >= N) {
            return dpt_err_set(err, DPT_ECONFIG, "%s: data.validation_split = %g leaves no "
                               "training rows of %llu", sp->file, sp->validation_split,
                               (unsigned long long)N);
        }
        /* In block order the split keeps blocks whole (pools of one block),
         * so that the training rows stay runs of the file. */
        dpt_perm_init(&v->base, N, (uint64_t)sp->seed, UINT64_MAX, 1);
        dpt_perm_blocks(&v->base, block, block);
        v->split = 1;
        v->ds = train;
        *n_train = N - n;
    } else {
        return 0;
    }
    uint64_t lo, hi;
    dpt_eval_share(n, d->rank, d->size, &lo, &hi);
    v->n = n;
    v->local = hi - lo;
    v->rows = malloc((v->local ? v->local : 1) * sizeof *v->rows);
    if (!v->rows) {
        return dpt_err_set(err, DPT_ENOMEM, "out of memory");
    }
    for (uint64_t k = lo; k < hi; k++) {
        v->rows[k - lo] = v->split ? dpt_perm_at(&v->base, *n_train + k) : k;
    }
    qsort(v->rows, v->local, sizeof *v->rows, cmp_u64);
    return 0;
}

int dpt_validation_check_targets(const struct dpt_validation *v, const struct dpt_spec *sp,
                                 const struct dpt_net *net, const struct dpt_dist *d,
                                 struct dpt_err *err)
{
    if (!v->owns_ds) {
        return 0; /* no file, or the split's rows: data.train's, checked with it */
    }
    return dpt_eval_check_targets(net, v->ds, dpt_eval_y_name(&sp->validation_src, 1), d, err);
}

int dpt_validation_run(const struct dpt_validation *v, const struct dpt_net *net,
                       const struct dpt_norm *norm, const struct dpt_dist *d, int threads,
                       double *loss, double *accuracy, struct dpt_err *err)
{
    struct dpt_eval_result res;
    int rc = dpt_evaluate_rows(net, v->ds, v->y_name, v->rows, v->local, v->n, norm, d, threads,
                               &res, err);
    *loss = rc == 0 ? res.loss : NAN;
    *accuracy = rc == 0 ? res.accuracy : NAN;
    return rc;
}

void dpt_validation_cleanup(struct dpt_validation *v)
{
    if (v->owns_ds) {
        dpt_dataset_close(v->ds);
    }
    free(v->rows);
    memset(v, 0, sizeof *v);
}
