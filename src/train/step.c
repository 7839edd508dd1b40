/* One step of training: see step.h for its shape, shard.h for which rows a
 * rank and thread compute, DESIGN.md for why. */
#include "config.h"

#include "train/step.h"
#include "train/schedule.h"
#include "plugin/registry.h"
#include "util/util.h"

#include <limits.h>
#include <math.h>
#include <omp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OPT_CHUNK 16384 /* parameters per optimizer call when threads share the update */
#define SUM_CHUNK 1024  /* parameters per piece when threads sum their gradients */
#define COPIES_MAX_BYTES ((uint64_t)64 << 20) /* a thread's copies (thread_copies) */

/* Floats that ride at the end of the flat gradient in the step's allreduce. */
enum { X_LOSS, X_HITS, X_STOP, X_ERROR, X_CKPT, N_EXTRA };

#define BUCKET_BYTES 65536 /* the least size of a bucket, unless DPTRAIN_BUCKET_BYTES says */

/* A non-negative whole number from the environment variable name, else def. */
static size_t env_size(const char *name, size_t def)
{
    const char *v = getenv(name);
    char *end;
    if (!v || !*v) {
        return def;
    }
    unsigned long long x = strtoull(v, &end, 10);
    return *end || v[0] == '-' ? def : (size_t)x;
}

/* Cuts the flat gradient into the buckets of its sum over the ranks: from
 * the top node down, the order in which the backward pass finishes them, a
 * bucket closes at the start of the first node that makes it at least
 * `floats` long (0: one bucket), and waits for that node. A bucket is never
 * longer than MPI's int counts. The extras (loss, hits, flags) are known
 * only after the pass: they ride in a bucket of their own, or with the whole
 * gradient when it is one bucket (then a step makes one allreduce, as
 * without buckets). Returns 0 or -1 (out of memory). */
static int make_buckets(struct dpt_step *st, size_t floats)
{
    const struct dpt_net *net = st->net;
    size_t n = net->n_params, lowest = SIZE_MAX;
    for (size_t i = net->n_nodes; i-- > 0;) {
        if (net->nodes[i].n_params + net->nodes[i].n_state) {
            lowest = i;
        }
    }
    size_t cap = net->n_nodes + n / INT_MAX + 2, nb = 0, hi = n;
    st->buckets = calloc(cap, sizeof *st->buckets);
    if (!st->buckets) {
        return -1;
    }
    for (size_t i = net->n_nodes; lowest != SIZE_MAX && i-- > lowest;) {
        const struct dpt_node *nd = &net->nodes[i];
        size_t lo = i == lowest ? 0 : nd->param_off;
        if (nd->n_params + nd->n_state == 0 || (i != lowest && (!floats || hi - lo < floats))) {
            continue;
        }
        while (hi > lo) {
            size_t k = hi - lo < (size_t)INT_MAX ? hi - lo : (size_t)INT_MAX;
            st->buckets[nb++] = (struct dpt_bucket){.lo = hi - k, .hi = hi, .node = i};
            hi -= k;
        }
    }
    if (nb <= 1 && n + N_EXTRA <= (size_t)INT_MAX) {
        nb = 0;
        st->buckets[nb++] = (struct dpt_bucket){.lo = 0, .hi = n + N_EXTRA, .node = SIZE_MAX};
    } else {
        st->buckets[nb++] = (struct dpt_bucket){.lo = n, .hi = n + N_EXTRA, .node = SIZE_MAX};
    }
    for (size_t b = 0; b < nb; b++) {
        struct dpt_bucket *k = &st->buckets[b];
        k->blocking = k->node == lowest || k->node == SIZE_MAX;
    }
    st->n_buckets = nb;
    return 0;
}

/* Whether the threads of a rank keep copies of the parameters and of the
 * optimizer state: two threads and no layer state, when a copy takes at
 * most COPIES_MAX_BYTES. Then every thread updates its own copy from the
 * summed gradient (the same operations on the same values: the same bits
 * as the update of one copy), and its passes read only lines its own core
 * wrote. With one copy, each thread updated a part of it, and the next
 * step's products on the other core fetched those lines one by one (1 x 2,
 * medium MLP +5-8%, LeNet +11%: docs/PERFORMANCE.md). Each thread's update
 * is the whole one, so with T threads the update costs T times its share:
 * measured only at two (these machines have two cores), it is kept to two.
 * DPTRAIN_THREAD_COPIES=0 turns the copies off, =1 on for any count, for
 * tests and measurements. */
static int thread_copies(const struct dpt_net *net, int threads)
{
    uint64_t bytes = (uint64_t)(1 + net->opt_floats) * net->n_params * sizeof(float);
    size_t want = env_size("DPTRAIN_THREAD_COPIES", 2); /* 2: when measured to pay */
    if (threads < 2 || net->n_nonweights || bytes > COPIES_MAX_BYTES || want == 0) {
        return 0;
    }
    return want == 1 || threads == 2;
}

/* Thread t takes its copies from net->params and ostate at the first step
 * (a fresh start or a resume has set them since dpt_step_init): on its own
 * core, so that the lines are its. */
static void take_copies(struct dpt_step *st, int t)
{
    size_t n = st->net->n_params;
    if (st->copies && !st->copies_taken && t > 0) {
        memcpy(st->tparams[t], st->net->params, n * sizeof(float));
        memcpy(st->tostate[t], st->ostate, st->net->opt_floats * n * sizeof(float));
    }
}

int dpt_step_init(struct dpt_step *st, struct dpt_net *net, const struct dpt_spec *spec,
                  const struct dpt_dist *d, int threads, size_t micro, struct dpt_err *err)
{
    *st = (struct dpt_step){.net = net, .d = d, .spec = spec, .threads = threads,
                            .lr_scale = 1.0f};
    size_t n = net->n_params + N_EXTRA;
    st->work = calloc((size_t)threads, sizeof *st->work);
    st->tgrad = calloc((size_t)threads, sizeof *st->tgrad);
    st->tfix = calloc((size_t)threads, sizeof *st->tfix);
    st->tdbl = calloc((size_t)threads, sizeof *st->tdbl);
    st->ostate = dpt__zalloc_aligned(net->opt_floats * net->n_params * sizeof(float));
    if (!st->work || !st->tgrad || !st->tfix || !st->tdbl || !st->ostate) {
        return dpt_err_set(err, DPT_ENOMEM, "out of memory");
    }
    for (int t = 0; t < threads; t++) {
        st->tgrad[t] = dpt__zalloc_aligned(n * sizeof(float));
        if (spec->deterministic) {
            st->tfix[t] = dpt__zalloc_aligned(n * sizeof(dpt_fix));
            st->tdbl[t] = dpt__zalloc_aligned(n * sizeof(double));
        }
        if (!st->tgrad[t] || (spec->deterministic && (!st->tfix[t] || !st->tdbl[t]))) {
            return dpt_err_set(err, DPT_ENOMEM, "out of memory for gradients");
        }
        if (dpt_work_create(&st->work[t], net, micro, err) < 0) {
            /* The micro-shard's rows come from these two settings. */
            return dpt_err_prefix(err, "%s: train.batch = %lld, train.micro_batch = %lld", spec->file,
                                  (long long)spec->batch, (long long)spec->micro_batch);
        }
    }
    st->copies = thread_copies(net, threads);
    if (st->copies) {
        size_t k = net->opt_floats * net->n_params;
        st->tparams = calloc((size_t)threads, sizeof *st->tparams);
        st->tostate = calloc((size_t)threads, sizeof *st->tostate);
        if (!st->tparams || !st->tostate) {
            return dpt_err_set(err, DPT_ENOMEM, "out of memory");
        }
        st->tparams[0] = net->params, st->tostate[0] = st->ostate;
        for (int t = 1; t < threads; t++) {
            st->tparams[t] = dpt__zalloc_aligned(net->n_params * sizeof(float));
            st->tostate[t] = dpt__zalloc_aligned((k ? k : 1) * sizeof(float));
            if (!st->tparams[t] || !st->tostate[t]) {
                return dpt_err_set(err, DPT_ENOMEM, "out of memory for the threads' copies "
                                   "of the parameters");
            }
            st->work[t]->params = st->tparams[t];
        }
    }
    if ((d->size > 1 || threads > 1) && !spec->deterministic) {
        size_t bytes = env_size("DPTRAIN_BUCKET_BYTES", BUCKET_BYTES);
        if (make_buckets(st, (bytes + sizeof(float) - 1) / sizeof(float)) < 0) {
            return dpt_err_set(err, DPT_ENOMEM, "out of memory");
        }
        st->overlap = env_size("DPTRAIN_OVERLAP", 1) != 0;
    }
    if (spec->deterministic) {
        if (dpt_fix_mpi_create(&st->fix_type, &st->fix_op) != 0) {
            return dpt_err_set(err, DPT_EINVAL, "cannot create the MPI type for exact sums");
        }
        st->have_fix_mpi = 1;
        /* 0 keeps every sum on the fixed-point path: the same bits, for
         * tests/mpi/deterministic_same_bits.sh and measurements */
        st->doubles = env_size("DPTRAIN_EXACT_DOUBLES", 1) != 0;
        if (st->doubles && d->size > 1 && threads == 1) {
            st->dring = dpt__zalloc_aligned(dpt_fixd_ring_doubles(n, d->size) * sizeof(double));
            if (!st->dring) {
                return dpt_err_set(err, DPT_ENOMEM, "out of memory for exact sums");
            }
        }
    }
    return 0;
}

void dpt_step_bytes(const struct dpt_net *net, const struct dpt_spec *spec, int threads,
                    size_t micro, struct dpt_step_bytes *out)
{
    uint64_t n = net->n_params + N_EXTRA, T = (uint64_t)threads;
    uint64_t per = n * sizeof(float) +
                   (spec->deterministic ? n * (sizeof(dpt_fix) + sizeof(double)) : 0);
    size_t work = 0;
    int fits = dpt_work_bytes(net, micro, &work) == 0;
    out->grads = T * per;
    uint64_t copies = thread_copies(net, threads) ? T : 1; /* at most COPIES_MAX_BYTES each */
    out->params = copies * net->n_params * sizeof(float);
    out->optimizer = copies * net->opt_floats * net->n_params * sizeof(float);
    out->work = fits && work <= UINT64_MAX / T ? T * work : UINT64_MAX;
}

void dpt_step_share(struct dpt_step *st, const struct dpt_dist *node)
{
    if (st->d->size == 1 || st->spec->deterministic || !st->buckets) {
        return; /* the same on every rank */
    }
    size_t n = st->net->n_params + N_EXTRA;
    float *slot = dpt_node_sum_init(&st->node_sum, st->d, node, n);
    if (!slot) {
        return;
    }
    free(st->tgrad[0]); /* zeroed: no step has run */
    st->tgrad[0] = slot;
    st->buckets[0] = (struct dpt_bucket){.lo = 0, .hi = n, .node = SIZE_MAX, .blocking = 1};
    st->n_buckets = 1;
    st->overlap = 0;
}

void dpt_step_cleanup(struct dpt_step *st)
{
    if (st->node_sum.slot) {
        st->tgrad[0] = NULL; /* the slot */
        dpt_node_sum_free(&st->node_sum);
    }
    for (int t = 0; st->work && t < st->threads; t++) {
        dpt_work_destroy(st->work[t]);
    }
    for (int t = 0; st->tgrad && t < st->threads; t++) {
        free(st->tgrad[t]);
    }
    for (int t = 0; st->tfix && t < st->threads; t++) {
        free(st->tfix[t]);
    }
    for (int t = 0; st->tdbl && t < st->threads; t++) {
        free(st->tdbl[t]);
    }
    for (int t = 1; st->tparams && t < st->threads; t++) {
        free(st->tparams[t]);
        free(st->tostate[t]);
    }
    free(st->tparams);
    free(st->tostate);
    if (st->have_fix_mpi) {
        dpt_fix_mpi_free(&st->fix_type, &st->fix_op);
    }
    free(st->work);
    free(st->tgrad);
    free(st->tfix);
    free(st->tdbl);
    free(st->dring);
    free(st->ostate);
    free(st->buckets);
    memset(st, 0, sizeof *st);
}

/* g += d/dw of the layers' L2 penalties (2 * l2 * w) on [off, off + k). */
static void add_l2(const struct dpt_net *net, float *g, size_t off, size_t k)
{
    for (size_t i = 0; i < net->n_nodes; i++) {
        const struct dpt_node *nd = &net->nodes[i];
        if (nd->l2 <= 0) {
            continue;
        }
        size_t lo = nd->l2_off > off ? nd->l2_off : off;
        size_t hi = nd->l2_off + nd->l2_len < off + k ? nd->l2_off + nd->l2_len : off + k;
        float c = (float)(2.0 * nd->l2);
        for (size_t j = lo; j < hi; j++) {
            g[j] += c * net->params[j];
        }
    }
}

/* Whether a[0, n) holds no NaN and no infinity: a float is one of those
 * exactly when its magnitude bits, read as an integer, are at least those
 * of +Inf. The largest magnitude is an integer max reduction, which the
 * compiler vectorizes (a float comparison it would not reorder), built for
 * AVX-512, AVX2 and baseline x86-64 (DPT_VECTORIZE): about one instruction
 * per 8 floats on a piece the step has in cache anyway. Measured with
 * callgrind (docs/PERFORMANCE.md): under 0.2% of the instructions of a
 * step of the tiny model and 0.1% of LeNet's. */
DPT_VECTORIZE static int all_finite(const float *a, size_t n)
{
    uint32_t max = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &a[i], sizeof u);
        u &= 0x7fffffffu;
        max = u > max ? u : max;
    }
    return max < 0x7f800000u;
}

/* The optimizer update of the trainable parameters among [off, off + k) at
 * step t; then zeroes that piece of the gradient while it is in cache (the
 * next step accumulates into it). State statistics in the piece are left
 * for dpt_net_update_state. */
static void update_piece(struct dpt_step *st, size_t off, size_t k, uint64_t t)
{
    const struct dpt_net *net = st->net;
    float *g = st->tgrad[0];
    for (size_t i = 0; i < net->n_train_ranges; i++) {
        const struct dpt_range *r = &net->train_ranges[i];
        size_t lo = r->off > off ? r->off : off;
        size_t hi = r->off + r->len < off + k ? r->off + r->len : off + k;
        if (lo >= hi) {
            continue;
        }
        if (!st->l2_done) {
            add_l2(net, g, lo, hi - lo);
        }
        dpt_enter(&net->opt_site, "step");
        net->opt->step(net->opt_state, net->params + lo, g + lo, st->ostate + lo, net->n_params,
                       hi - lo, t, st->lr_scale);
        dpt_leave();
        memset(g + lo, 0, (hi - lo) * sizeof(float));
    }
}

static void update_copy(struct dpt_step *st, int t, uint64_t update_t);

/* One optimizer update of all parameters at step t, split over the threads;
 * or, with the threads' copies, the L2 gradient split over them and then
 * each thread's update of its copy (the sum is zeroed at the next step). */
static void optimizer_step(struct dpt_step *st, uint64_t t)
{
    size_t n = st->net->n_params;
    size_t chunks = (n + OPT_CHUNK - 1) / OPT_CHUNK;
    if (st->copies) {
#pragma omp parallel num_threads(st->threads)
        {
            if (!st->l2_done) {
#pragma omp for schedule(static)
                for (size_t c = 0; c < chunks; c++) {
                    size_t off = c * OPT_CHUNK;
                    add_l2(st->net, st->tgrad[0], off, n - off < OPT_CHUNK ? n - off : OPT_CHUNK);
                }
            }
            update_copy(st, omp_get_thread_num(), t);
        }
        st->sum_left = !st->spec->deterministic;
        return;
    }
    if (st->threads == 1 || chunks == 1) {
        update_piece(st, 0, n, t);
        return;
    }
#pragma omp parallel for schedule(static) num_threads(st->threads)
    for (size_t c = 0; c < chunks; c++) {
        size_t off = c * OPT_CHUNK;
        update_piece(st, off, n - off < OPT_CHUNK ? n - off : OPT_CHUNK, t);
    }
}

/* The training pass over local micro-shard i of the step into g; returns
 * its loss sum and adds its hits to *hits. */
static double run_micro(struct dpt_step *st, const struct dpt_step_in *in, uint64_t i, int t,
                        float scale, float *g, size_t *hits, const struct dpt_net_hook *hook)
{
    const struct dpt_shard *sh = in->shard;
    uint64_t first, rows = dpt_shard_micro(sh, in->s, i, &first);
    struct dpt_micro_info mi = {in->seed, in->epoch, in->s, dpt_shard_micro_pos(sh, in->s, i)};
    return dpt_net_train_micro(st->net, st->work[t], sh->x + first * sh->f,
                               sh->y + first * sh->y_cols, sh->y_cols, rows, scale, g, hits, &mi, hook);
}

/* a += b, then b = 0, over n floats: vectorized (DPT_VECTORIZE; the
 * buffers never overlap), the same sums as one at a time. The scalar loop
 * was 10% of the samples of the medium MLP's 1 x 2 step; vectorized, 1 x 2
 * trains 2.5% faster (docs/PERFORMANCE.md: the sum waits on the memory more
 * than on the adds). */
DPT_VECTORIZE static void add_clear(float *restrict a, float *restrict b, size_t n)
{
    for (size_t j = 0; j < n; j++) {
        a[j] += b[j];
        b[j] = 0;
    }
}

/* Gradient floats [c, end): the T thread buffers summed into tgrad[0] (and
 * zeroed), then updated by the optimizer at step update_t unless it is 0;
 * with the threads' copies, the L2 gradient is added and each thread
 * updates its copy once every piece is summed (update_copy). */
static void sum_piece(struct dpt_step *st, size_t c, size_t end, int T, uint64_t update_t)
{
    float *g0 = st->tgrad[0];
    for (int u = 1; u < T; u++) {
        add_clear(g0 + c, st->tgrad[u] + c, end - c);
    }
    if (!update_t) {
        return;
    }
    if (!all_finite(g0 + c, end - c)) {
        /* The piece is left unapplied, so that the parameters it covers
         * stay as the step found them for the diagnosis pass
         * (dpt_step_take). */
#pragma omp atomic write
        st->nonfinite = 1;
        memset(g0 + c, 0, (end - c) * sizeof(float));
        return;
    }
    if (st->copies) {
        add_l2(st->net, g0, c, end - c); /* what update_piece adds, from equal parameters */
        return;
    }
    update_piece(st, c, end - c, update_t);
}

/* Thread t's update of its copies (thread_copies) at step update_t from
 * the summed gradient in tgrad[0]: every trainable range, the same
 * operations on the same values in every thread. None when a piece of the
 * sum was not finite (the parameters stay as the step found them for the
 * diagnosis pass). */
static void update_copy(struct dpt_step *st, int t, uint64_t update_t)
{
    const struct dpt_net *net = st->net;
    int nonfinite;
#pragma omp atomic read
    nonfinite = st->nonfinite;
    dpt_enter(&net->opt_site, "step");
    for (size_t i = 0; !nonfinite && i < net->n_train_ranges; i++) {
        const struct dpt_range *r = &net->train_ranges[i];
        net->opt->step(net->opt_state, st->tparams[t] + r->off, st->tgrad[0] + r->off,
                       st->tostate[t] + r->off, net->n_params, r->len, update_t, st->lr_scale);
    }
    dpt_leave();
}

/* Bucket b's sum has arrived: with update_t set, its gradient is updated
 * by the optimizer now (as sum_piece does for one rank). */
static void bucket_arrived(struct dpt_step *st, const struct dpt_bucket *b)
{
    size_t n = st->net->n_params, hi = b->hi < n ? b->hi : n;
    if (st->update_t && b->lo < hi) {
        sum_piece(st, b->lo, hi, 1, st->update_t);
    }
}

/* Takes the buckets whose sums have arrived, in order. */
static void progress(struct dpt_step *st)
{
    while (st->arrived < st->posted && dpt_dist_test(&st->buckets[st->arrived].req)) {
        bucket_arrived(st, &st->buckets[st->arrived++]);
    }
}

/* Starts the nonblocking sum over the ranks of the next bucket in order. */
static void start_bucket(struct dpt_step *st)
{
    struct dpt_bucket *b = &st->buckets[st->posted++];
    dpt_dist_isum_floats(st->d, st->tgrad[0] + b->lo, b->hi - b->lo, &b->req);
}

/* The hook of the step's last backward pass (one thread): starts the sums
 * of the buckets that waited for this node, and moves the others on (Open
 * MPI progresses a nonblocking allreduce only inside MPI calls). */
static void after_node(void *ctx, size_t node)
{
    struct dpt_step *st = ctx;
    while (st->posted < st->n_buckets && st->buckets[st->posted].node == node &&
           !st->buckets[st->posted].blocking) {
        start_bucket(st);
    }
    progress(st);
}

/* After the backward pass: starts the sums of the buckets not started yet
 * (all of them without overlap, in the same order and pieces, so the sums
 * are the same bits either way) and takes every bucket as it arrives. The
 * buckets the pass ends with (the lowest layer's, the extras) have nothing
 * left to overlap with: they are summed by blocking allreduces, which Open
 * MPI runs faster than its nonblocking ones (libnbc: 1.3-1.5x as long
 * for the same bytes, docs/PERFORMANCE.md). */
static void sum_buckets(struct dpt_step *st)
{
    while (st->posted < st->n_buckets && !st->buckets[st->posted].blocking) {
        start_bucket(st);
    }
    for (; st->arrived < st->n_buckets; st->arrived++) {
        struct dpt_bucket *b = &st->buckets[st->arrived];
        if (b->blocking && st->node_sum.slot) {
            dpt_node_sum(&st->node_sum, b->lo, b->hi);
        } else if (b->blocking) {
            dpt_dist_sum_floats(st->d, st->tgrad[0] + b->lo, b->hi - b->lo);
        } else {
            dpt_dist_wait(&b->req);
        }
        bucket_arrived(st, b);
    }
    st->posted = st->n_buckets;
}

/* In a loop that waits for another thread: after a few thousand turns,
 * gives the CPU away each turn (more threads than cores must not spin
 * against the ones they wait for). */
static void pause_a_little(unsigned spins)
{
    if (spins > 4096) {
        sched_yield();
    }
}

/* Several threads. A thread's state in the step's buckets: the first
 * bucket it has not yet finished. */
struct thread_buckets {
    struct dpt_step *st;
    int t;
    size_t mine;
};

/* The master thread starts the sums of the buckets summed over the
 * threads, in order, and moves the started ones on; not the buckets that
 * sum_buckets sums after the pass (blocking). */
static void master_progress(struct dpt_step *st)
{
    if (st->d->size == 1) {
        return;
    }
    while (st->posted < st->n_buckets && !st->buckets[st->posted].blocking &&
           atomic_load(&st->buckets[st->posted].summed)) {
        start_bucket(st);
    }
    progress(st);
}

/* Takes pieces of bucket b's thread sum (T buffers into tgrad[0], in thread
 * order, as sum_piece adds them) until none is left; the thread that
 * finishes the last piece marks the bucket summed. */
static void sum_pieces(struct dpt_step *st, struct dpt_bucket *b)
{
    size_t n = st->net->n_params, hi = b->hi < n ? b->hi : n;
    size_t len = hi > b->lo ? hi - b->lo : 0, pieces = (len + SUM_CHUNK - 1) / SUM_CHUNK;
    if (pieces == 0) {
        atomic_store(&b->summed, 1); /* the extras alone: nothing to add */
        return;
    }
    for (;;) {
        size_t c = atomic_fetch_add(&b->next_piece, 1);
        if (c >= pieces) {
            return;
        }
        size_t lo = b->lo + c * SUM_CHUNK;
        sum_piece(st, lo, hi - lo < SUM_CHUNK ? hi : lo + SUM_CHUNK, st->threads,
                  st->sum_update_t);
        if (atomic_fetch_add(&b->pieces_done, 1) + 1 == pieces) {
            atomic_store(&b->summed, 1);
        }
    }
}

/* Thread tb->t has finished the next of its buckets: the last thread to
 * finish one starts its sum (no thread reads or writes its parameters or
 * gradients in this step any more), and others join when they are free. */
static void arrive(struct thread_buckets *tb)
{
    struct dpt_step *st = tb->st;
    struct dpt_bucket *b = &st->buckets[tb->mine++];
    if (atomic_fetch_add(&b->arrivals, 1) + 1 == st->threads) {
        sum_pieces(st, b);
    }
}

/* The hook of a thread's last backward pass of the step. */
static void thread_after_node(void *ctx, size_t node)
{
    struct thread_buckets *tb = ctx;
    while (tb->mine < tb->st->n_buckets && tb->st->buckets[tb->mine].node == node) {
        arrive(tb);
    }
    if (tb->t == 0) {
        master_progress(tb->st);
    }
}

/* After a thread's last pass: it finishes the buckets still open for it,
 * then helps with every bucket's sum in order as the others finish theirs;
 * the master thread also starts the allreduces as buckets are summed. */
static void thread_finish(struct thread_buckets *tb)
{
    struct dpt_step *st = tb->st;
    while (tb->mine < st->n_buckets) {
        arrive(tb);
    }
    for (size_t i = 0; i < st->n_buckets; i++) {
        struct dpt_bucket *b = &st->buckets[i];
        for (unsigned spins = 0; atomic_load(&b->arrivals) < st->threads; spins++) {
            if (tb->t == 0) {
                master_progress(st);
            }
            pause_a_little(spins);
        }
        sum_pieces(st, b);
    }
    for (unsigned spins = 0; tb->t == 0 && st->d->size > 1 && st->posted < st->n_buckets &&
                             !st->buckets[st->posted].blocking;
         spins++) {
        master_progress(st);
        pause_a_little(spins);
    }
}

/* Fast path of one step on this rank: thread t accumulates the local
 * micro-shards t, t + T, ... into its own float buffer; the buffers are
 * summed in thread order, split by parameter ranges. The buffers start the
 * step zeroed: the sum zeroes what it has read, update_piece zeroes
 * tgrad[0] after use (no separate pass over memory), or, with the threads'
 * copies, thread 0 at the start of the next step. With update_t > 0 (one
 * rank, so no allreduce comes between), each piece is also updated by the
 * optimizer at step update_t right after it is summed, while it is in
 * cache; with the copies, each thread updates its own once all are summed.
 * One thread runs without an OpenMP region: even a team of one pays a
 * futex call per barrier (7% of a step of the tiny model). */
static void compute_fast(struct dpt_step *st, const struct dpt_step_in *in, float scale,
                         uint64_t update_t)
{
    size_t n = st->net->n_params;
    uint64_t local = dpt_shard_local_micros(in->shard, in->s);
    int T = st->threads;
    double loss[T];
    size_t hits[T];
    if (T == 1) {
        loss[0] = 0, hits[0] = 0;
        struct dpt_net_hook hook = {after_node, st};
        for (uint64_t i = 0; i < local; i++) {
            int last = i + 1 == local && st->overlap;
            loss[0] += run_micro(st, in, i, 0, scale, st->tgrad[0], &hits[0], last ? &hook : NULL);
        }
        for (size_t c = 0; update_t && c < n; c += SUM_CHUNK) {
            sum_piece(st, c, c + SUM_CHUNK < n ? c + SUM_CHUNK : n, 1, update_t);
        }
    } else {
        st->sum_update_t = update_t;
        for (size_t b = 0; b < st->n_buckets; b++) {
            struct dpt_bucket *k = &st->buckets[b];
            atomic_init(&k->arrivals, 0);
            atomic_init(&k->next_piece, 0);
            atomic_init(&k->pieces_done, 0);
            atomic_init(&k->summed, 0);
        }
        int update_copies = st->copies && update_t;
#pragma omp parallel num_threads(T)
        {
            int t = omp_get_thread_num();
            struct thread_buckets tb = {st, t, 0};
            struct dpt_net_hook hook = {thread_after_node, &tb};
            uint64_t u = (uint64_t)t, step = (uint64_t)T;
            uint64_t last = u < local ? u + (local - 1 - u) / step * step : UINT64_MAX;
            loss[t] = 0, hits[t] = 0;
            take_copies(st, t);
            if (t == 0 && st->sum_left) {
                memset(st->tgrad[0], 0, n * sizeof(float));
            }
            for (uint64_t i = u; i < local; i += step) {
                int hooked = i == last && st->overlap;
                loss[t] += run_micro(st, in, i, t, scale, st->tgrad[t], &hits[t],
                                     hooked ? &hook : NULL);
            }
            thread_finish(&tb);
            if (update_copies) {
#pragma omp barrier
                update_copy(st, t, update_t);
            }
        }
        st->copies_taken = st->copies;
        st->sum_left = update_copies;
    }
    double l = 0;
    size_t h = 0;
    for (int t = 0; t < T; t++) {
        l += loss[t];
        h += hits[t];
    }
    st->tgrad[0][n + X_LOSS] = (float)l;
    st->tgrad[0][n + X_HITS] = (float)h;
}

/* Thread t's share of the exact path: each of its micro-shards alone into
 * the zeroed float buffer g, then into the thread's fixed-point
 * accumulator with its loss and hit count. With 4 or more micro-shards
 * (2 when this is the only thread of the only rank; any number when the
 * ranks have one thread each) they are added in their double form first
 * (dpt_fixd_add_clear: the same integers, 2 to 4 times as fast a term), what
 * it leaves in g into acc, and the doubles into acc once at the end; or,
 * alone and with nothing left, the doubles are the sum (st->direct); or,
 * ranks of one thread, the ranks sum the doubles (st->dring, gradient()).
 * The doubles' conversion at the end costs about a term and a half, so
 * with 2 or 3 micro-shards and a thread sum still to make the fixed path
 * is as fast or faster (medium MLP, 2 x 1: 101k against 110k samples/s
 * with 2; 4 gain 1-2%). Returns 0, or -1 with *bad_value and *bad_at set
 * when a value is outside the range of exact sums. */
static int exact_micros(struct dpt_step *st, const struct dpt_step_in *in, float scale, int t,
                        double *bad_value, size_t *bad_at)
{
    size_t n = st->net->n_params, nx = n + N_EXTRA;
    uint64_t local = dpt_shard_local_micros(in->shard, in->s), T = (uint64_t)st->threads;
    uint64_t mine = (uint64_t)t < local ? (local - (uint64_t)t + T - 1) / T : 0;
    int alone = T == 1 && st->d->size == 1;
    int dbl = st->dring || (st->doubles && mine >= (alone ? 2u : 4u));
    int live = !dbl; /* acc holds terms: set by the first micro-shard, or zeroed */
    float *g = st->tgrad[t];
    dpt_fix *acc = st->tfix[t];
    double *d = st->tdbl[t];
    /* The first micro-shard sets acc (no pass to zero it first), but for
     * the extras it does not carry. */
    memset(acc + n + 2, 0, (nx - n - 2) * sizeof *acc);
    if ((uint64_t)t >= local) {
        if (dbl) {
            memset(d, 0, (n + 2) * sizeof *d);
        } else {
            memset(acc, 0, (n + 2) * sizeof *acc);
        }
    }
    for (uint64_t i = (uint64_t)t; i < local; i += T) {
        size_t h = 0;
        int first = i == (uint64_t)t, rc = 0;
        if (first) { /* later ones find g zeroed by the conversion of the one before */
            memset(g, 0, n * sizeof(float));
        }
        g[n + X_LOSS] = (float)run_micro(st, in, i, t, scale, g, &h, NULL);
        g[n + X_HITS] = (float)h;
        g[n + X_STOP] = g[n + X_ERROR] = g[n + X_CKPT] = 0;
        if (!dbl) {
            rc = (first ? dpt_fix_set_clear : dpt_fix_add_clear)(acc, g, n + 2, bad_at);
        } else if (dpt_fixd_add_clear(d, g, n + 2, first) > 0) {
            if (!live) {
                memset(acc, 0, (n + 2) * sizeof *acc);
                live = 1;
            }
            rc = dpt_fix_add_clear_nonzero(acc, g, n + 2, bad_at);
        }
        if (rc < 0) {
            if (first) {
                memset(acc, 0, (n + 2) * sizeof *acc); /* refused: nothing was set */
            }
            *bad_value = g[*bad_at];
            return -1;
        }
    }
    if (dbl) {
        st->direct = alone && !live;
        st->dbl_left = live;
        if (!st->direct && !st->dring) {
            dpt_fixd_to_fix(acc, d, n + 2, live);
        }
    }
    return 0;
}

/* Exact path: integer sums do not depend on the order, so neither does
 * anything below. Returns 0 or -1 (thread_err set). */
static int compute_exact(struct dpt_step *st, const struct dpt_step_in *in, float scale)
{
    size_t nx = st->net->n_params + N_EXTRA;
    int T = st->threads, failed = 0;
#pragma omp parallel num_threads(T) if (T > 1)
    {
        int t = omp_get_thread_num();
        double v;
        size_t bad;
        take_copies(st, t);
        if (exact_micros(st, in, scale, t, &v, &bad) < 0) {
#pragma omp critical(dpt_thread_err)
            if (!failed) {
                failed = 1;
                st->nonfinite = !isfinite(v);
                dpt_err_set(&st->thread_err, DPT_ENUMERIC,
                            "--deterministic: a gradient value (%g at parameter %zu, step "
                            "%llu) is outside the range of exact sums (|x| < %g); scale or "
                            "standardize the inputs and targets (data.scale, data.standardize, "
                            "data.standardize_y), or train without --deterministic",
                            v, bad, (unsigned long long)in->s + 1, (double)DPT_FIX_MAX_ABS);
            }
        }
#pragma omp barrier
#pragma omp for schedule(static)
        for (size_t c = 0; c < nx; c += SUM_CHUNK) {
            size_t k = nx - c < SUM_CHUNK ? nx - c : SUM_CHUNK;
            for (int u = 1; u < T; u++) {
                dpt_fix_sum(st->tfix[0] + c, st->tfix[u] + c, k);
            }
        }
    }
    st->copies_taken = st->copies;
    return failed ? -1 : 0;
}

/* The gradient of the step summed over threads and ranks into tgrad[0],
 * with its extras. Sets *failed when this rank failed, *updated when the
 * optimizer update was fused with the thread sum. */
static void gradient(struct dpt_step *st, const struct dpt_step_in *in, int *failed,
                     int *updated)
{
    size_t n = st->net->n_params;
    float *g = st->tgrad[0];
    float scale = 1.0f / (float)dpt_shard_step_rows(in->shard, in->s);
    if (st->spec->deterministic) {
        st->direct = 0;
        *failed = compute_exact(st, in, scale) < 0;
        if (st->direct && !*failed) { /* one rank, one thread: the exact doubles' floats */
            const double *d = st->tdbl[0];
            for (size_t i = 0; i < n + 2; i++) {
                g[i] = (float)d[i]; /* the float nearest, as dpt_fix_to_float of fix(d) */
            }
            g[n + X_STOP] = (float)in->stop;
            g[n + X_ERROR] = 0;
            g[n + X_CKPT] = (float)in->checkpoint;
            return;
        }
        if (st->direct) {
            dpt_fixd_to_fix(st->tfix[0], st->tdbl[0], n + 2, 0);
        }
        float flags[3] = {(float)in->stop, (float)*failed, (float)in->checkpoint};
        if (st->dring) { /* the ranks sum their doubles, or all take the fixed path */
            double *d = st->tdbl[0];
            for (int k = 0; k < 3; k++) {
                d[n + X_STOP + k] = flags[k];
            }
            int rc = dpt_fixd_allreduce_float(d, g, n + N_EXTRA, !*failed && !st->dbl_left,
                                              st->dring, st->d->comm);
            if (rc < 0) {
                fprintf(stderr, "dptrain: error: rank %d: out of memory in the exact sum of a "
                        "step; aborting the job\n", st->d->rank);
                MPI_Abort(st->d->comm, 1);
            }
            if (rc == 1) {
                return;
            }
            dpt_fixd_to_fix(st->tfix[0], d, n + 2, st->dbl_left);
        }
        size_t bad;
        dpt_fix_add(st->tfix[0] + n + X_STOP, flags, 3, &bad);
        if (dpt_fix_allreduce_float(st->tfix[0], g, n + N_EXTRA, st->fix_type, st->fix_op,
                                    st->d->comm) < 0) {
            /* MPI's errors abort before this; what is left is 8 bytes a
             * rank of malloc, and the other ranks are in the sum now */
            fprintf(stderr, "dptrain: error: rank %d: out of memory in the exact sum of a "
                    "step; aborting the job\n", st->d->rank);
            MPI_Abort(st->d->comm, 1);
        }
        return;
    }
    /* One rank: nothing to agree on, so the update joins the thread sum.
     * More ranks on one thread: each bucket is updated as its sum arrives.
     * A NaN loss still stops training; the weights it spoilt are not saved. */
    int one = st->d->size == 1;
    *updated = (one || st->threads == 1) && !dpt_clipping(st->spec);
    st->update_t = *updated ? in->t : 0;
    st->posted = st->arrived = 0;
    compute_fast(st, in, scale, one ? st->update_t : 0);
    g[n + X_STOP] = (float)in->stop;
    g[n + X_ERROR] = 0;
    g[n + X_CKPT] = (float)in->checkpoint;
    if (!one) {
        sum_buckets(st);
    }
}

/* What the diagnosis pass found, as an error naming the layer, its plugin
 * and file, the function and the buffer; rows are the micro-shard's
 * [first, first + rows) of this rank's part of the step. */
static int nonfinite_found(const struct dpt_step *st, const struct dpt_step_in *in,
                           const struct dpt_nonfinite *nf, struct dpt_err *err)
{
    const struct dpt_net *net = st->net;
    const struct dpt_plugin *p = nf->is_loss ? &net->loss->base : net->nodes[nf->node].plugin;
    const char *fn = nf->is_loss ? "forward_backward" : nf->output[0] == 'y' ? "forward"
                                                                            : "backward";
    const char *inputs = nf->is_loss ? "the predictions and the targets"
                         : nf->output[0] == 'y' ? "x and the parameters"
                                                : "x, y, dy and the parameters";
    char who[64] = "the loss";
    if (!nf->is_loss) {
        int index = net->nodes[nf->node].layer_index;
        snprintf(who, sizeof who, "layer %d (model.layers.[%d])", index + 1, index);
    }
    return dpt_err_set(err, DPT_ENUMERIC,
                       "%s, %s plugin '%s' %s (%s): %s() wrote %s into %s (element %zu) at "
                       "epoch %llu, step %llu, although its inputs (%s) were finite; "
                       "training stopped before this step's update",
                       who, dpt_kind_name(p->kind), p->name, p->version, dpt__file_of(p), fn,
                       isnan(nf->value) ? "NaN" : nf->value > 0 ? "+Inf" : "-Inf",
                       nf->output, nf->at, (unsigned long long)in->epoch + 1,
                       (unsigned long long)in->s + 1, inputs);
}

/* After a step whose gradient or loss was not finite on this rank: re-runs
 * the rank's micro-shards of the step one by one on thread 0's buffers, with
 * tgrad[0] as scratch (the step is lost anyway), and writes into err which
 * layer made the first non-finite value. Returns 0 when no micro-shard
 * shows it again (a plugin whose results vary between calls), or when
 * nan_only and the first is an infinity, else the error. */
static int diagnose(struct dpt_step *st, const struct dpt_step_in *in, int nan_only,
                    struct dpt_err *err)
{
    const struct dpt_shard *sh = in->shard;
    float scale = 1.0f / (float)dpt_shard_step_rows(sh, in->s);
    uint64_t local = dpt_shard_local_micros(sh, in->s);
    for (uint64_t i = 0; i < local; i++) {
        uint64_t first, rows = dpt_shard_micro(sh, in->s, i, &first);
        struct dpt_micro_info mi = {in->seed, in->epoch, in->s,
                                    dpt_shard_micro_pos(sh, in->s, i)};
        struct dpt_nonfinite nf;
        dpt_net_find_nonfinite(st->net, st->work[0], sh->x + first * sh->f,
                               sh->y + first * sh->y_cols, sh->y_cols, rows, scale,
                               st->tgrad[0], &mi, &nf);
        if (nf.found) {
            return nan_only && !isnan(nf.value) ? 0 : nonfinite_found(st, in, &nf, err);
        }
    }
    return 0;
}

/* The error of a step whose summed gradient is not finite (the same on
 * every rank, so every rank comes here): the rank that finds the layer
 * tells everyone; if none does, the message says what is known. */
static int nonfinite_error(struct dpt_step *st, const struct dpt_step_in *in,
                           struct dpt_err *err)
{
    int rc = dpt_dist_agree(st->d, diagnose(st, in, 0, err), err);
    if (rc < 0) {
        return rc;
    }
    return dpt_err_set(err, DPT_ENUMERIC,
                       "the gradient became NaN or infinite at epoch %llu, step %llu, but "
                       "re-running the step layer by layer did not reproduce it (a plugin "
                       "whose results differ between calls on the same inputs?)",
                       (unsigned long long)in->epoch + 1, (unsigned long long)in->s + 1);
}

int dpt_step_take(struct dpt_step *st, const struct dpt_step_in *in, struct dpt_step_out *out,
                  struct dpt_err *err)
{
    size_t n = st->net->n_params;
    float *g = st->tgrad[0];
    int failed = 0, updated = 0;
    st->lr_scale = in->lr_scale;
    st->nonfinite = 0;
    gradient(st, in, &failed, &updated);
    if (g[n + X_ERROR] > 0) {
        /* Some rank failed inside the step: let it tell everyone why, and
         * which layer, when it was a value that is not finite. */
        *err = st->thread_err;
        if (failed && st->nonfinite) {
            diagnose(st, in, 0, err);
        }
        return dpt_dist_agree(st->d, failed ? err->code : 0, err);
    }
    float loss = g[n + X_LOSS];
    if (!isfinite(loss)) {
        /* A plugin that made a NaN from finite inputs is named (every rank
         * is here: the loss is the ranks' sum); an infinity is what training
         * that diverges makes, for which the hint below stands. */
        int rc = dpt_dist_agree(st->d, diagnose(st, in, 1, err), err);
        if (rc < 0) {
            return rc;
        }
        return dpt_err_set(err, DPT_ENUMERIC,
                           "the loss became %s at epoch %llu, step %llu (lower the learning "
                           "rate, or standardize the inputs)",
                           isnan(loss) ? "NaN" : "infinite", (unsigned long long)in->epoch + 1,
                           (unsigned long long)in->s + 1);
    }
    /* Checked before the update; the fused path checked each piece before
     * applying it (sum_piece). */
    if (st->nonfinite || (!updated && !st->spec->deterministic && !all_finite(g, n))) {
        return nonfinite_error(st, in, err);
    }
    *out = (struct dpt_step_out){.loss = loss, .hits = g[n + X_HITS], .stop = g[n + X_STOP] > 0,
                                 .checkpoint = g[n + X_CKPT] > 0};
    if (dpt_clipping(st->spec)) {
        add_l2(st->net, g, 0, n); /* the penalty's gradient is part of what is clipped */
        st->l2_done = 1;
        dpt_clip(st->spec, g, st->net->train_ranges, st->net->n_train_ranges);
    }
    if (!updated) {
        optimizer_step(st, in->t);
    }
    if (st->net->n_nonweights) {
        dpt_net_update_state(st->net, g);
    }
    return 0;
}
