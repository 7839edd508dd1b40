/* The plan of a training job: see plan.h. The warnings and their ids:
 *
 *   refused             training would stop at start-up (dpt_consistency_check:
 *                       a monitor without validation data, a loss that does
 *                       not fit the targets, ...)
 *   uneven_batch        a step's micro-shards do not spread evenly over the
 *                       P x T workers (micro-shard k goes to rank k % P,
 *                       thread (k / P) % T): some wait for others each step
 *   idle_rank           a rank gets no training rows at all
 *   rereads_compressed  X is chunked or compressed and read in rows order in
 *                       several windows per epoch: each window's rows touch
 *                       nearly every chunk, so each decompresses the file
 *                       (block order decompresses each chunk once an epoch)
 *   disk_space          the model file and the checkpoints kept (plus the one
 *                       being written) do not fit the free space of their folder
 *   memory              the ranks of a node need more memory than it has
 *   oversubscribed      the ranks x threads of a node exceed its cores
 *   time_limit          the estimated run time exceeds train.time_limit
 *   timing              the steps could not be timed (the reason)
 *   chunks_not_kept     a streamed gzip X read more than one epoch cannot keep
 *                       its chunks once inflated (the folder, the reason)
 */
#include "config.h"

#include "train/plan.h"
#include "train/resume.h"
#include "data/dataset.h"
#include "data/memory.h"
#include "data/shard.h"
#include "data/window.h"
#include "io/checkpoint.h"
#include "io/model_file.h"
#include "io/output.h"
#include "plugin/host.h"
#include "train/consistency.h"
#include "train/eval.h"
#include "train/schedule.h"
#include "train/step.h"
#include "train/threads.h"
#include "train/train.h"
#include "train/validation.h"
#include "util/blas_core.h"
#include "util/util.h"

#include <limits.h>
#include <sys/stat.h>
#include <math.h>
#include <omp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What the plan holds while it is made. */
struct planner {
    const struct dpt_spec *spec;
    const struct dpt_plan_opts *o;
    const struct dpt_dist *d;
    struct dpt_plan *p;
    struct dpt_dataset *ds;
    struct dpt_net *net;
    struct dpt_norm norm;
    struct dpt_validation val;
    struct dpt_window_policy policy;
    uint64_t block, pool; /* the epoch order (dpt_window_order) */
    uint64_t window_rows;
};

static void warn(struct dpt_plan *p, const char *id, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void warn(struct dpt_plan *p, const char *id, const char *fmt, ...)
{
    if (p->n_warn == DPT_PLAN_MAX_WARNINGS) {
        return;
    }
    struct dpt_plan_warning *w = &p->warn[p->n_warn++];
    w->id = id;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->text, sizeof w->text, fmt, ap);
    va_end(ap);
}

static uint64_t add_sat(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* The training data and the network, as dpt_train's open_data makes them;
 * the optimizer's learning_rate is read from the getter call the optimizer
 * plugin makes (plugin/host.h records it). */
static int open_model(struct planner *pl, const struct dpt_registry *reg, struct dpt_err *err)
{
    const struct dpt_spec *spec = pl->spec;
    if (!spec->train) {
        return dpt_err_set(err, DPT_ECONFIG, "%s: no training data: set data.train = "
                           "\"FILE.h5\" (or --set data.train=FILE.h5)", spec->file);
    }
    int rc = dpt_dataset_open_source(&pl->ds, &spec->train_src, 1, err);
    struct dpt_key_log *log = rc == 0 ? calloc(1, sizeof *log) : NULL;
    if (rc == 0 && !log) {
        rc = dpt_err_set(err, DPT_ENOMEM, "out of memory");
    }
    if (rc == 0) {
        struct dpt_shape in;
        dpt_dataset_sample_shape(pl->ds, &in);
        struct dpt_key_log *before = dpt_host_record(log);
        rc = dpt_net_create(&pl->net, spec, reg, &in, err);
        dpt_host_record(before);
    }
    pl->p->lr = NAN;
    for (size_t i = 0; rc == 0 && i < log->n; i++) {
        if (strncmp(log->use[i].what, "optimizer", 9) == 0 &&
            strcmp(log->use[i].key, "learning_rate") == 0) {
            pl->p->lr = log->use[i].value;
        }
    }
    free(log);
    if (rc == 0) {
        rc = dpt_net_check_targets(pl->net, dpt_dataset_y_cols(pl->ds), dpt_dataset_path(pl->ds),
                                   err);
    }
    return rc;
}

/* Rows: the validation split or file, the test file, and each rank's
 * share of each, as dpt_validation_setup, dpt_shard_layout and
 * dpt_eval_share give them. */
static int plan_rows(struct planner *pl, struct dpt_err *err)
{
    struct dpt_plan *p = pl->p;
    const struct dpt_spec *spec = pl->spec;
    struct dpt_dist rank0 = {.comm = MPI_COMM_NULL, .rank = 0, .size = p->ranks};
    /* The order of a run started afresh (a resume keeps its checkpoint's). */
    pl->policy = (struct dpt_window_policy){.cache = spec->cache,
                                            .window_rows = (uint64_t)spec->window_rows,
                                            .by = spec->shuffle_by,
                                            .batch = (uint64_t)spec->batch};
    dpt_window_order(&pl->policy, pl->ds, &pl->block, &pl->pool);
    int rc = dpt_validation_setup(&pl->val, spec, pl->ds, pl->block, pl->net, &rank0,
                                  &p->n_train, err);
    if (rc < 0) {
        return rc;
    }
    p->n_file = dpt_dataset_rows(pl->ds);
    p->n_validation = pl->val.n;
    p->validation_split = pl->val.split;
    if (spec->test) {
        struct dpt_dataset *test = NULL;
        struct dpt_names classes = dpt_dataset_classes(pl->ds);
        struct dpt_names columns = dpt_dataset_columns(pl->ds);
        rc = dpt_eval_open(&test, pl->net, &spec->test_src, 1, &classes, &columns, err);
        p->n_test = rc == 0 ? dpt_dataset_rows(test) : 0;
        dpt_dataset_close(test);
        if (rc < 0) {
            return dpt_err_prefix(err, "data.test");
        }
    }
    p->rank = calloc((size_t)p->ranks, sizeof *p->rank);
    if (!p->rank) {
        return dpt_err_set(err, DPT_ENOMEM, "out of memory");
    }
    for (int r = 0; r < p->ranks; r++) {
        uint64_t lo, hi;
        dpt_eval_share(p->n_validation, r, p->ranks, &lo, &hi);
        p->rank[r].validation = hi - lo;
        dpt_eval_share(p->n_test, r, p->ranks, &lo, &hi);
        p->rank[r].test = hi - lo;
    }
    return 0;
}

/* The shard options of rank r, as dpt_train's make_shard sets them. */
static struct dpt_shard_opts shard_opts(const struct planner *pl, int r)
{
    const struct dpt_plan *p = pl->p;
    return (struct dpt_shard_opts){
        .batch = p->batch,
        .micro = p->micro,
        .ranks = p->ranks,
        .rank = r,
        .threads = p->threads,
        .cache_all = p->cache_all,
        .norm = &pl->norm,
        .base = pl->val.split ? &pl->val.base : NULL,
        .n_rows = p->n_train,
        .window_rows = pl->window_rows,
        .block = pl->block,
        .pool = pl->pool,
    };
}

/* Threads, micro-shards, windows and each rank's training rows. */
static int plan_steps(struct planner *pl, struct dpt_err *err)
{
    struct dpt_plan *p = pl->p;
    const struct dpt_spec *spec = pl->spec;
    p->batch = (uint64_t)spec->batch;
    p->epochs = spec->epochs;
    p->threads_chosen = pl->o->threads <= 0;
    /* The node's CPUs shared among its ranks, as by unbound ranks or ranks
     * bound to cores of their own that split the node between them. */
    int cpus = omp_get_num_procs() / p->node_ranks;
    p->threads = pl->o->threads > 0 ? pl->o->threads
                                    : dpt_threads_for(pl->net, p->batch, p->ranks, cpus);
    p->micro = dpt_train_micro_rows(spec, pl->net, p->ranks, p->threads);
    p->micros_per_step = (p->batch + p->micro - 1) / p->micro;
    dpt_train_batch_note(spec, pl->net, p->n_train, p->ranks, p->threads, p->batch_note,
                         sizeof p->batch_note);
    p->cache_all = dpt_window_cache_all(&pl->policy, pl->ds);
    p->direct = dpt_dataset_direct(pl->ds);
    p->chunk_reads = dpt_dataset_chunk_reads(pl->ds);
    p->block = pl->block;
    p->pool = pl->pool;
    p->chunks_shared_by = 1;
    int big = dpt_window_big(p->node_ranks, pl->ds, p->threads);
    pl->window_rows = dpt_window_rows_for(&pl->policy, p->ranks, big, pl->ds, p->n_train);
    /* Ranks r of a node: consecutive, node_ranks of them, sharing X's chunks
     * as make_shard has them do. */
    int L = p->node_ranks < p->ranks ? p->node_ranks : p->ranks;
    int node[L];
    for (int r = 0; r < p->ranks; r++) {
        struct dpt_shard_opts so = shard_opts(pl, r);
        int first = r / L * L, on_node = p->ranks - first < L ? p->ranks - first : L;
        for (int i = 0; i < on_node; i++) {
            node[i] = first + i;
        }
        struct dpt_shard_share share = {.ranks = on_node, .me = r - first, .rank = node,
                                        .chunk = dpt_dataset_chunk_rows(pl->ds)};
        so.share = on_node > 1 && dpt_shard_share_wanted(pl->ds) ? &share : NULL;
        if (r == 0 && so.share && !p->cache_all) {
            p->chunks_shared_by = on_node;
        }
        struct dpt_shard_layout lay;
        int rc = dpt_shard_layout(pl->ds, &so, &lay, err);
        if (rc < 0) {
            return rc;
        }
        p->rank[r].train = lay.rows;
        p->rank[r].data_bytes = lay.memory;
        p->steps_per_epoch = lay.steps;
        p->window_steps = lay.window_steps;
    }
    /* As make_shard (train.c): a streamed file read more than one epoch
     * keeps its chunks once inflated; the node's ranks keep each once when
     * they share them, else each keeps them all. */
    if (p->chunk_reads && !p->cache_all && p->epochs > 1) {
        const char *dir = dpt_dataset_keep_inflated(pl->ds); /* the data set's: copied */
        int copies = p->chunks_shared_by > 1 ? 1 : L;
        snprintf(p->kept_in, sizeof p->kept_in, "%s", dir ? dir : "");
        p->kept_bytes = dir ? dpt_dataset_inflated_bytes(pl->ds) * (uint64_t)copies : 0;
        p->kept_in_memory = dir && dpt_dataset_kept_in_memory(pl->ds);
    }
    p->windows_per_epoch = p->window_steps ? (p->steps_per_epoch + p->window_steps - 1) /
                                                 p->window_steps
                                           : 1;
    p->steps = p->steps_per_epoch * (uint64_t)(p->epochs > 0 ? p->epochs : 0);
    p->features = dpt_dataset_features(pl->ds);
    return 0;
}

/* Rank 0's memory: its data (dpt_shard_layout), the parameters, the step's
 * buffers (dpt_step_bytes), early stopping's copy of the best weights. */
static void plan_memory(struct planner *pl)
{
    struct dpt_plan *p = pl->p;
    struct dpt_plan_memory *m = &p->mem;
    struct dpt_step_bytes sb;
    dpt_step_bytes(pl->net, pl->spec, p->threads, p->micro, &sb);
    p->n_params = dpt_net_count(pl->net, -1, NULL, NULL);
    m->data = p->rank[0].data_bytes;
    m->params = sb.params; /* the flat buffer, padding included, once or a copy per thread */
    m->grads = sb.grads;
    m->optimizer = sb.optimizer;
    m->work = sb.work;
    m->best = pl->spec->es_monitor != DPT_MONITOR_NONE && pl->spec->es_restore
                  ? pl->net->n_params * sizeof(float)
                  : 0;
    uint64_t parts[] = {m->data, m->params, m->grads, m->optimizer, m->work, m->best};
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        m->total = add_sat(m->total, parts[i]);
    }
    p->node_bytes = m->total;
    for (int r = 1; r < p->node_ranks; r++) {
        p->node_bytes = add_sat(p->node_bytes, m->total);
    }
    p->available = dpt__mem_available();
}

/* The standardization, as training computes it (one pass over the data),
 * so that the timed steps see the values training sees and the model
 * file holds its statistics. */
static int plan_norm(struct planner *pl, struct dpt_err *err)
{
    const struct dpt_spec *spec = pl->spec;
    int rc = dpt_norm_take_names(&pl->norm, pl->ds, err);
    if (rc == 0) {
        rc = dpt_norm_set_scale(&pl->norm, spec->scale, dpt_dataset_features(pl->ds), err);
    }
    if (rc == 0 && (spec->standardize || spec->standardize_y)) {
        rc = dpt_norm_compute(&pl->norm, pl->ds, pl->d, spec->standardize, spec->standardize_y,
                              spec->deterministic, err);
    }
    return rc;
}

/* The model file and one checkpoint, built in memory as the run writes
 * them; how many checkpoints the run writes and keeps. */
static int plan_files(struct planner *pl, struct dpt_err *err)
{
    struct dpt_plan *p = pl->p;
    const struct dpt_spec *spec = pl->spec;
    size_t n_state = pl->net->opt_floats * pl->net->n_params;
    float *ostate = calloc(n_state ? n_state : 1, sizeof(float));
    float *best = calloc(pl->net->n_params ? pl->net->n_params : 1, sizeof(float));
    if (!ostate || !best) {
        free(ostate);
        free(best);
        return dpt_err_set(err, DPT_ENOMEM, "out of memory");
    }
    struct dpt_train_state st = {.seed = (uint64_t)spec->seed};
    st.cb.best = p->mem.best ? best : NULL;
    st.run = (struct dpt_run_record){.ranks = p->ranks, .threads = p->threads,
                                     .deterministic = spec->deterministic,
                                     .block = pl->block, .pool = pl->pool};
    int rc = dpt_resume_fingerprint(pl->ds, st.run.data, sizeof st.run.data, err);
    if (rc == 0) {
        rc = dpt_model_file_bytes(pl->net, spec, &pl->norm, &p->model_bytes, err);
    }
    if (rc == 0) {
        rc = dpt_checkpoint_file_bytes(pl->net, ostate, spec, &pl->norm, &st, &p->ckpt_bytes,
                                       err);
    }
    free(ostate);
    free(best);
    return rc;
}

static uint64_t gcd_u64(uint64_t a, uint64_t b)
{
    while (b) {
        uint64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

/* Checkpoint files the run writes: one per global step that is a
 * multiple of every_steps or ends an epoch that is a multiple of
 * every_epochs (train.c's run_steps and finish_epoch; both at one step
 * write one file), one at the end unless the last step had one, and about
 * one per every_seconds of the estimated time. The newest keep stay. */
static void plan_checkpoints(struct planner *pl)
{
    struct dpt_plan *p = pl->p;
    const struct dpt_spec *spec = pl->spec;
    if (!pl->o->ckpt_path || p->steps == 0) {
        return;
    }
    uint64_t S = p->steps_per_epoch, E = (uint64_t)p->epochs, total = p->steps;
    uint64_t es = (uint64_t)spec->ckpt_every_steps, ee = (uint64_t)spec->ckpt_every_epochs;
    uint64_t n = es ? total / es : 0;
    if (ee) {
        n += E / ee;
        if (es) {
            /* Epoch ends e * S with e a multiple of ee that every_steps has too. */
            uint64_t need = es / gcd_u64(S, es), l = ee / gcd_u64(ee, need) * need;
            n -= E / l;
        }
    }
    int last = (es && total % es == 0) || (ee && E % ee == 0);
    n += last ? 0 : 1;
    if (spec->ckpt_every_seconds > 0 && p->estimate_s > 0) {
        n += (uint64_t)(p->estimate_s / spec->ckpt_every_seconds);
    }
    p->ckpts_written = n;
    p->ckpts_kept = n < (uint64_t)spec->ckpt_keep ? n : (uint64_t)spec->ckpt_keep;
}

/* The learning-rate factor (dpt_lr_factor) at the first step, the end of
 * the warmup, a quarter, half and three quarters of the run, and the last
 * step; repeats dropped. */
static void plan_schedule(struct planner *pl)
{
    struct dpt_plan *p = pl->p;
    uint64_t T = p->steps ? p->steps : 1, w = (uint64_t)pl->spec->lr_warmup_steps;
    uint64_t at[] = {1, w && w < T ? w : 1, T / 4, T / 2, 3 * T / 4, T};
    for (size_t i = 0; i < sizeof at / sizeof at[0]; i++) {
        uint64_t t = at[i] ? at[i] : 1;
        int seen = 0;
        for (int k = 0; k < p->n_lr; k++) {
            seen |= p->lr_step[k] == t;
        }
        if (!seen && p->n_lr < DPT_PLAN_LR_POINTS) {
            p->lr_step[p->n_lr] = t;
            p->lr_factor[p->n_lr++] = dpt_lr_factor(pl->spec, t);
        }
    }
    /* In step order: the warmup's end may come after a quarter. */
    for (int i = 1; i < p->n_lr; i++) {
        for (int k = i; k > 0 && p->lr_step[k - 1] > p->lr_step[k]; k--) {
            uint64_t t = p->lr_step[k];
            double f = p->lr_factor[k];
            p->lr_step[k] = p->lr_step[k - 1];
            p->lr_factor[k] = p->lr_factor[k - 1];
            p->lr_step[k - 1] = t;
            p->lr_factor[k - 1] = f;
        }
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Takes k real steps of rank 0's share on its rows of the first window of
 * epoch 1 (dpt_shard_create, dpt_step_take; the allreduce is a copy in one
 * process) and sets p->step_s to the median of all but the first, which
 * warms the caches. */
static int time_steps(struct planner *pl, struct dpt_step *step, struct dpt_shard *sh, int k,
                      struct dpt_err *err)
{
    struct dpt_plan *p = pl->p;
    const struct dpt_spec *spec = pl->spec;
    double *t = calloc((size_t)k, sizeof *t);
    if (!t) {
        return dpt_err_set(err, DPT_ENOMEM, "out of memory");
    }
    struct dpt_perm perm;
    dpt_shard_epoch(sh, &perm, (uint64_t)spec->seed, 0, spec->shuffle);
    int rc = dpt_shard_next(sh, &perm, 0, err);
    int done = 0;
    for (int i = 0; rc == 0 && i < k; i++) {
        struct dpt_step_in in = {.shard = sh, .s = (uint64_t)i % sh->window_steps,
                                 .seed = (uint64_t)spec->seed, .epoch = 0,
                                 .t = (uint64_t)i + 1,
                                 .lr_scale = dpt_lr_factor(spec, (uint64_t)i + 1)};
        struct dpt_step_out out;
        double t0 = dpt__now();
        rc = dpt_step_take(step, &in, &out, err);
        t[done++] = dpt__now() - t0;
    }
    if (done > 1) {
        qsort(t + 1, (size_t)done - 1, sizeof *t, cmp_double);
        p->step_s = t[1 + (done - 1) / 2];
    } else if (done == 1) {
        p->step_s = t[0];
    }
    p->steps_timed = done;
    p->estimate_s = p->step_s * (double)p->steps;
    free(t);
    return rc;
}

/* The timed steps with the buffers training allocates for them; a failure
 * (a loss that is NaN from the start, memory) becomes a warning. */
static void plan_time(struct planner *pl)
{
    struct dpt_plan *p = pl->p;
    struct dpt_err err = {0};
    struct dpt_step step = {0};
    struct dpt_shard *sh = NULL;
    struct dpt_shard_opts so = shard_opts(pl, 0);
    dpt_blas_one_thread(); /* each worker thread runs its own sgemm, as in training */
    dpt_net_init_params(pl->net, (uint64_t)pl->spec->seed);
    int rc = dpt_step_init(&step, pl->net, pl->spec, pl->d, p->threads, p->micro, &err);
    if (rc == 0) {
        rc = dpt_shard_create(&sh, pl->ds, &so, &err);
    }
    if (rc == 0 && p->rank[0].train > 0) {
        rc = time_steps(pl, &step, sh, pl->o->time_steps, &err);
    }
    if (rc < 0) {
        warn(p, "timing", "the steps could not be timed: %s", err.msg);
    }
    dpt_shard_destroy(sh);
    dpt_step_cleanup(&step);
}

/* How a step's micro-shards spread over the workers, and ranks left
 * without rows (shard.h: micro-shard k of a step goes to rank k % P and
 * thread (k / P) % T). */
static void warn_layout(struct dpt_plan *p)
{
    uint64_t W = (uint64_t)p->ranks * (uint64_t)p->threads, k = p->micros_per_step;
    if (k < W) {
        warn(p, "uneven_batch", "a batch of %llu rows makes %llu micro-shards of up to %llu "
             "rows a step, for %llu workers (%d ranks x %d threads): %llu workers wait "
             "through every step; use a batch of at least %llu or fewer ranks or threads",
             (unsigned long long)p->batch, (unsigned long long)k, (unsigned long long)p->micro,
             (unsigned long long)W, p->ranks, p->threads, (unsigned long long)(W - k),
             (unsigned long long)(W * p->micro));
    } else if (k % W != 0) {
        warn(p, "uneven_batch", "a batch of %llu rows makes %llu micro-shards of up to %llu "
             "rows a step, not a multiple of the %llu workers (%d ranks x %d threads): "
             "%llu workers compute one micro-shard more than the others each step; a batch "
             "of %llu or %llu spreads evenly",
             (unsigned long long)p->batch, (unsigned long long)k, (unsigned long long)p->micro,
             (unsigned long long)W, p->ranks, p->threads, (unsigned long long)(k % W),
             (unsigned long long)(k / W * W * p->micro),
             (unsigned long long)((k / W + 1) * W * p->micro));
    }
    int idle = 0, first = -1;
    for (int r = 0; r < p->ranks; r++) {
        if (p->rank[r].train == 0) {
            idle++;
            first = first < 0 ? r : first;
        }
    }
    if (idle && p->n_train < p->batch) {
        uint64_t k = (p->n_train + p->micro - 1) / p->micro;
        warn(p, "idle_rank", "%d of %d ranks get no training rows (rank %d first): the data "
             "has %llu training rows, fewer than the batch of %llu, so an epoch is one step "
             "of %llu micro-shard%s of up to %llu rows, one rank each; those ranks only wait",
             idle, p->ranks, first, (unsigned long long)p->n_train,
             (unsigned long long)p->batch, (unsigned long long)k, k == 1 ? "" : "s",
             (unsigned long long)p->micro);
    } else if (idle) {
        warn(p, "idle_rank", "%d of %d ranks get no training rows (rank %d first): a batch of "
             "%llu rows in micro-shards of %llu gives %llu micro-shards a step, one rank "
             "each; those ranks only wait", idle, p->ranks, first,
             (unsigned long long)p->batch, (unsigned long long)p->micro,
             (unsigned long long)p->micros_per_step);
    }
}

/* Windows that decompress the file again and again, memory, cores, the
 * time limit. */
static void warn_resources(struct planner *pl)
{
    struct dpt_plan *p = pl->p;
    if (dpt_dataset_not_kept(pl->ds)) { /* set only where plan_steps tried to keep them */
        warn(p, "chunks_not_kept", "X's chunks will be inflated again each epoch, not kept "
             "once inflated: %s", dpt_dataset_not_kept(pl->ds));
    }
    if (!p->direct && !p->cache_all && !p->pool && p->windows_per_epoch > 1) {
        warn(p, "rereads_compressed", "%s stores X chunked or compressed, and its rows are "
             "read in rows order in %llu windows an epoch (%llu steps each): a window's rows "
             "are spread over the file and touch nearly every chunk, so each window "
             "decompresses about the whole file (%llu times an epoch); set "
             "data.shuffle_by = \"blocks\" (each chunk once an epoch), data.cache = \"all\" "
             "if the file fits in memory, a larger data.window_rows, or store X contiguous "
             "(h5repack -l CONTI)", dpt_dataset_path(pl->ds),
             (unsigned long long)p->windows_per_epoch, (unsigned long long)p->window_steps,
             (unsigned long long)p->windows_per_epoch);
    }
    char need[64], have[64];
    if (p->available != UINT64_MAX && p->node_bytes > p->available) {
        warn(p, "memory", "%d ranks on a node need %s; this machine has %s available",
             p->node_ranks, dpt__bytes_text(need, sizeof need, p->node_bytes),
             dpt__bytes_text(have, sizeof have, p->available));
    }
    int cores = omp_get_num_procs();
    if (p->node_ranks * p->threads > cores) {
        warn(p, "oversubscribed", "%d ranks x %d threads on a node is %d workers for the %d "
             "cores this process may use: they take turns, and a step waits for the slowest",
             p->node_ranks, p->threads, p->node_ranks * p->threads, cores);
    }
    double limit = pl->spec->time_limit;
    if (limit > 0 && p->estimate_s > limit) {
        warn(p, "time_limit", "the steps alone take about %.0f s, more than train.time_limit "
             "= %.0f s: the run stops with status 3 after about %.0f%% of its steps",
             p->estimate_s, limit, 100.0 * limit / p->estimate_s);
    }
}

/* The model file and the checkpoints on disk: the newest keep, plus the
 * one being written before the oldest is removed, checked as the run's
 * start-up checks its outputs (dpt_output_space). */
/* path itself when its folder exists, else "FOLDER/." for the nearest
 * folder above it that does (the run makes the missing ones), so that
 * dpt_output_space finds the filesystem the file will be on. */
static const char *on_disk(const char *path, char *buf, size_t len)
{
    if (!path) {
        return NULL;
    }
    snprintf(buf, len, "%s", path);
    for (int first = 1;; first = 0) {
        char *slash = strrchr(buf, '/');
        if (!slash) {
            return first ? path : "./."; /* a file of the current folder, or below it */
        }
        *slash = '\0';
        struct stat st;
        if (buf[0] == '\0' || (stat(buf, &st) == 0 && S_ISDIR(st.st_mode))) {
            if (first) {
                return path;
            }
            size_t used = strlen(buf);
            snprintf(buf + used, len - used, "%s", buf[0] ? "/." : "/");
            return buf;
        }
    }
}

static void warn_space(struct planner *pl)
{
    struct dpt_plan *p = pl->p;
    uint64_t files = p->ckpts_written < p->ckpts_kept + 1 ? p->ckpts_written : p->ckpts_kept + 1;
    char what[128];
    snprintf(what, sizeof what, "%llu checkpoints of %.40s in", (unsigned long long)files,
             pl->o->ckpt_path ? pl->o->ckpt_path : "");
    char out[PATH_MAX], ckpt[PATH_MAX];
    const struct dpt_output_need needs[] = {
        {on_disk(pl->o->out, out, sizeof out), "the model file", p->model_bytes},
        {on_disk(pl->o->ckpt_path, ckpt, sizeof ckpt), what, files * p->ckpt_bytes},
    };
    struct dpt_err err = {0};
    if (dpt_output_space(needs, 2, &err) < 0) {
        warn(p, "disk_space", "%s", err.msg);
    }
}

int dpt_plan_make(struct dpt_plan *p, const struct dpt_spec *spec,
                  const struct dpt_registry *reg, const struct dpt_dist *d,
                  const struct dpt_plan_opts *o, struct dpt_err *err)
{
    memset(p, 0, sizeof *p);
    p->ranks = o->ranks;
    p->node_ranks = o->node_ranks > 0 ? o->node_ranks : o->ranks;
    struct planner pl = {.spec = spec, .o = o, .d = d, .p = p};
    int rc = open_model(&pl, reg, err);
    if (rc == 0 && dpt_consistency_check(spec, pl.net, pl.ds, err) < 0) {
        warn(p, "refused", "training would stop at start-up: %s", err->msg);
        memset(err, 0, sizeof *err);
    }
    if (rc == 0) {
        rc = plan_rows(&pl, err);
    }
    if (rc == 0) {
        rc = plan_steps(&pl, err);
    }
    if (rc == 0) {
        plan_memory(&pl);
        rc = plan_norm(&pl, err);
    }
    if (rc == 0) {
        rc = plan_files(&pl, err);
    }
    if (rc == 0) {
        plan_schedule(&pl);
        warn_layout(p);
        if (o->time_steps > 0) {
            plan_time(&pl);
        }
        plan_checkpoints(&pl);
        warn_resources(&pl);
        warn_space(&pl);
    }
    dpt_validation_cleanup(&pl.val);
    dpt_norm_cleanup(&pl.norm);
    dpt_net_destroy(pl.net);
    dpt_dataset_close(pl.ds);
    return rc;
}

void dpt_plan_cleanup(struct dpt_plan *p)
{
    free(p->rank);
    memset(p, 0, sizeof *p);
}
