/* MPI helpers: error agreement, broadcasts, sums. See dist.h. */
#include "config.h"

#include "dist/dist.h"
#include "dist/watchdog.h"

#include <dptrain/plugin.h> /* DPT_VECTORIZE */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A collective call the watchdog (watchdog.h) watches: two plain stores. */
#define WATCHED(call)                                                                       \
    do {                                                                                    \
        dpt__watch_enter();                                                                 \
        call;                                                                               \
        dpt__watch_leave();                                                                 \
    } while (0)

void dpt_dist_init(struct dpt_dist *d, MPI_Comm comm)
{
    d->comm = comm;
    MPI_Comm_rank(comm, &d->rank);
    MPI_Comm_size(comm, &d->size);
}

int dpt_dist_start(int *argc, char ***argv, struct dpt_dist *d, struct dpt_err *err)
{
    int provided;
    if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
        return dpt_err_set(err, DPT_EINVAL, "MPI_Init failed");
    }
    /* Errors are agreed on and reported by dptrain, not by MPI aborting. */
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    dpt_dist_init(d, MPI_COMM_WORLD);
    return 0;
}

void dpt_dist_finish(void)
{
    MPI_Finalize();
}

int dpt_dist_agree(const struct dpt_dist *d, int rc, struct dpt_err *err)
{
    if (d->size == 1) {
        return rc;
    }
    int mine = rc < 0 ? d->rank : INT_MAX, first;
    WATCHED(MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, d->comm));
    if (first == INT_MAX) {
        return 0;
    }
    /* "rank R: " says where an error happened when some ranks did not have
     * it. When every rank failed, the error is either one agreed on already
     * (its message carries the prefix, if any, since the first agreement:
     * adding one more gave "rank 0: rank 0: ...") or one every rank found
     * alike (the same bad file), where a rank's number tells nothing. */
    int ok = rc < 0 ? 0 : 1, n_ok;
    WATCHED(MPI_Allreduce(&ok, &n_ok, 1, MPI_INT, MPI_SUM, d->comm));
    struct {
        int code;
        char msg[sizeof err->msg];
    } m;
    if (d->rank == first) {
        m.code = err->code ? err->code : rc;
        if (n_ok > 0) {
            snprintf(m.msg, sizeof m.msg, "rank %d: %.2000s", first, err->msg);
        } else {
            memcpy(m.msg, err->msg, sizeof m.msg);
        }
    }
    WATCHED(MPI_Bcast(&m, (int)sizeof m, MPI_BYTE, first, d->comm));
    err->code = m.code;
    memcpy(err->msg, m.msg, sizeof err->msg);
    return m.code;
}

int dpt_dist_bcast_string(const struct dpt_dist *d, char **s, int root, struct dpt_err *err)
{
    if (d->size == 1) {
        return 0;
    }
    long long len = d->rank == root ? (long long)strlen(*s) + 1 : 0;
    WATCHED(MPI_Bcast(&len, 1, MPI_LONG_LONG, root, d->comm));
    if (len > INT_MAX) {
        return dpt_err_set(err, DPT_EINVAL, "text of %lld bytes is too long to broadcast", len);
    }
    if (d->rank != root) {
        *s = malloc((size_t)len);
    }
    int ok = *s != NULL, all_ok;
    WATCHED(MPI_Allreduce(&ok, &all_ok, 1, MPI_INT, MPI_MIN, d->comm));
    if (!all_ok) {
        return dpt_err_set(err, DPT_ENOMEM, "out of memory receiving the model file");
    }
    WATCHED(MPI_Bcast(*s, (int)len, MPI_CHAR, root, d->comm));
    return 0;
}

void dpt_dist_sum_floats(const struct dpt_dist *d, float *buf, size_t n)
{
    if (d->size == 1) {
        return;
    }
    /* Counts are int: sum in pieces below 2^31 elements. */
    for (size_t off = 0; off < n; off += (size_t)INT_MAX) {
        size_t k = n - off < (size_t)INT_MAX ? n - off : (size_t)INT_MAX;
        WATCHED(MPI_Allreduce(MPI_IN_PLACE, buf + off, (int)k, MPI_FLOAT, MPI_SUM, d->comm));
    }
}

void dpt_dist_isum_floats(const struct dpt_dist *d, float *buf, size_t n, MPI_Request *req)
{
    MPI_Iallreduce(MPI_IN_PLACE, buf, (int)n, MPI_FLOAT, MPI_SUM, d->comm, req);
}

int dpt_dist_test(MPI_Request *req)
{
    int done = 0;
    MPI_Test(req, &done, MPI_STATUS_IGNORE);
    return done;
}

void dpt_dist_wait(MPI_Request *req)
{
    WATCHED(MPI_Wait(req, MPI_STATUS_IGNORE));
}

#define NODE_SUM_MAX_BYTES ((uint64_t)1 << 30)
#define SLOT_ALIGN 16 /* floats: slots and pieces start on their own cache lines */

float *dpt_node_sum_init(struct dpt_node_sum *s, const struct dpt_dist *d,
                        const struct dpt_dist *node, size_t n)
{
    *s = (struct dpt_node_sum){.comm = node->comm, .win = MPI_WIN_NULL,
                               .ranks = node->size, .rank = node->rank};
    if (d->size == 1) {
        return NULL;
    }
    const char *want = getenv("DPTRAIN_NODE_SUM");
    int rc, local = node->size;
    /* All of the job on one node, on every rank (a rank learns only its own
     * node's size), and not turned off on any: they agree. */
    uint64_t stride = ((uint64_t)n + SLOT_ALIGN - 1) / SLOT_ALIGN * SLOT_ALIGN;
    int ok = local == d->size && stride * (uint64_t)d->size * sizeof(float) <= NODE_SUM_MAX_BYTES &&
             !(want && strcmp(want, "0") == 0);
    WATCHED(MPI_Allreduce(MPI_IN_PLACE, &ok, 1, MPI_INT, MPI_MIN, d->comm));
    float *base = NULL;
    if (ok) {
        /* Rank 0 holds every slot, one after another; each rank first
         * touches its own (memory near its core on NUMA nodes). */
        MPI_Aint bytes = s->rank == 0 ? (MPI_Aint)((stride * (uint64_t)local + SLOT_ALIGN) *
                                                   sizeof(float)) : 0;
        WATCHED(rc = MPI_Win_allocate_shared(bytes, sizeof(float), MPI_INFO_NULL, s->comm, &base,
                                             &s->win));
        ok = rc == MPI_SUCCESS;
        if (ok) {
            MPI_Aint size;
            int unit;
            ok = MPI_Win_shared_query(s->win, 0, &size, &unit, &base) == MPI_SUCCESS &&
                 ((uintptr_t)base & 3) == 0;
        }
        if (ok) { /* Open MPI's segment starts 8 bytes past a line; every rank maps it
                   * at a page boundary, so they all skip the same floats */
            base += (64 - ((uintptr_t)base & 63)) % 64 / sizeof(float);
        }
        s->slot = ok ? malloc((size_t)local * sizeof *s->slot) : NULL;
        ok = s->slot != NULL;
        WATCHED(MPI_Allreduce(MPI_IN_PLACE, &ok, 1, MPI_INT, MPI_MIN, d->comm));
    }
    if (!ok) {
        dpt_node_sum_free(s);
        return NULL;
    }
    for (int j = 0; j < local; j++) {
        s->slot[j] = base + stride * (uint64_t)j;
    }
    memset(s->slot[s->rank], 0, n * sizeof(float));
    MPI_Win_lock_all(MPI_MODE_NOCHECK, s->win); /* loads and stores from here on */
    s->locked = 1;
    return s->slot[s->rank];
}

/* Where rank r's piece of [lo, lo + len) starts among `ranks`: whole cache
 * lines, so that no two ranks write one. */
static size_t piece_start(size_t lo, size_t len, int r, int ranks)
{
    if (r == ranks) {
        return lo + len;
    }
    uint64_t at = (uint64_t)len * (uint64_t)r / (uint64_t)ranks; /* len < 2^28 */
    return lo + (size_t)at / SLOT_ALIGN * SLOT_ALIGN;
}

/* Two ranks: a[i] = b[i] = a[i] + b[i] (the pieces never overlap). */
DPT_VECTORIZE static void add_both(float *restrict a, float *restrict b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        float v = a[i] + b[i];
        a[i] = v;
        b[i] = v;
    }
}

/* More ranks: the sum of slot[0..ranks)[i] in rank order into every slot,
 * 256 floats at a time through an accumulator the compiler vectorizes. */
DPT_VECTORIZE static void add_all(float *const *slot, int ranks, size_t lo, size_t hi)
{
    float acc[256];
    for (size_t c = lo; c < hi; c += 256) {
        size_t k = hi - c < 256 ? hi - c : 256;
        memcpy(acc, slot[0] + c, k * sizeof(float));
        for (int j = 1; j < ranks; j++) {
            const float *restrict x = slot[j] + c;
            for (size_t i = 0; i < k; i++) {
                acc[i] += x[i];
            }
        }
        for (int j = 0; j < ranks; j++) {
            memcpy(slot[j] + c, acc, k * sizeof(float));
        }
    }
}

/* The node's ranks meet; the stores each made before are seen by all. */
static void node_meet(struct dpt_node_sum *s)
{
    MPI_Win_sync(s->win);
    WATCHED(MPI_Barrier(s->comm));
    MPI_Win_sync(s->win);
}

void dpt_node_sum(struct dpt_node_sum *s, size_t lo, size_t hi)
{
    node_meet(s); /* every slot holds its rank's [lo, hi) */
    size_t a = piece_start(lo, hi - lo, s->rank, s->ranks);
    size_t b = piece_start(lo, hi - lo, s->rank + 1, s->ranks);
    if (s->ranks == 2) {
        add_both(s->slot[0] + a, s->slot[1] + a, b - a);
    } else if (b > a) {
        add_all(s->slot, s->ranks, a, b);
    }
    node_meet(s); /* every piece summed: no rank reads another's slot until the next sum */
}

void dpt_node_sum_free(struct dpt_node_sum *s)
{
    if (s->win != MPI_WIN_NULL) {
        if (s->locked) {
            MPI_Win_unlock_all(s->win);
        }
        WATCHED(MPI_Win_free(&s->win));
    }
    free(s->slot);
    *s = (struct dpt_node_sum){.comm = MPI_COMM_NULL, .win = MPI_WIN_NULL};
}

static void reduce_doubles(const struct dpt_dist *d, double *buf, size_t n, MPI_Op op)
{
    if (d->size == 1) {
        return;
    }
    WATCHED(MPI_Allreduce(MPI_IN_PLACE, buf, (int)n, MPI_DOUBLE, op, d->comm));
}

void dpt_dist_sum_doubles(const struct dpt_dist *d, double *buf, size_t n)
{
    reduce_doubles(d, buf, n, MPI_SUM);
}

void dpt_dist_min_doubles(const struct dpt_dist *d, double *buf, size_t n)
{
    reduce_doubles(d, buf, n, MPI_MIN);
}

void dpt_dist_max_doubles(const struct dpt_dist *d, double *buf, size_t n)
{
    reduce_doubles(d, buf, n, MPI_MAX);
}

int dpt_dist_min_int(const struct dpt_dist *d, int v)
{
    if (d->size > 1) {
        WATCHED(MPI_Allreduce(MPI_IN_PLACE, &v, 1, MPI_INT, MPI_MIN, d->comm));
    }
    return v;
}

int dpt_dist_any(const struct dpt_dist *d, int v)
{
    v = v != 0;
    if (d->size > 1) {
        WATCHED(MPI_Allreduce(MPI_IN_PLACE, &v, 1, MPI_INT, MPI_LOR, d->comm));
    }
    return v;
}

void dpt_dist_bcast_bytes(const struct dpt_dist *d, void *v, int n, int root)
{
    if (d->size > 1) {
        WATCHED(MPI_Bcast(v, n, MPI_BYTE, root, d->comm));
    }
}

void dpt_dist_or_bytes(const struct dpt_dist *d, uint8_t *v, uint64_t n)
{
    for (uint64_t off = 0; d->size > 1 && off < n; off += INT_MAX) {
        int k = n - off < INT_MAX ? (int)(n - off) : INT_MAX;
        WATCHED(MPI_Allreduce(MPI_IN_PLACE, v + off, k, MPI_UINT8_T, MPI_BOR, d->comm));
    }
}

int dpt_dist_node_ranks(const struct dpt_dist *d)
{
    MPI_Comm node;
    int local = 1;
    int rc = MPI_ERR_OTHER;
    if (d->size > 1) {
        WATCHED(rc = MPI_Comm_split_type(d->comm, MPI_COMM_TYPE_SHARED, d->rank, MPI_INFO_NULL,
                                         &node));
    }
    if (rc == MPI_SUCCESS) {
        MPI_Comm_size(node, &local);
        MPI_Comm_free(&node);
    }
    return local;
}

int dpt_dist_node(const struct dpt_dist *d, struct dpt_dist *node, int **ranks)
{
    MPI_Comm comm = MPI_COMM_SELF;
    int rc = MPI_SUCCESS;
    if (d->size > 1) {
        WATCHED(rc = MPI_Comm_split_type(d->comm, MPI_COMM_TYPE_SHARED, d->rank, MPI_INFO_NULL,
                                         &comm));
    }
    if (rc != MPI_SUCCESS || d->size == 1) {
        comm = MPI_COMM_SELF;
    }
    dpt_dist_init(node, comm);
    *ranks = malloc((size_t)node->size * sizeof **ranks);
    int ok = *ranks != NULL;
    if (node->size > 1) {
        WATCHED(MPI_Allreduce(MPI_IN_PLACE, &ok, 1, MPI_INT, MPI_LAND, comm));
    }
    if (!ok) {
        dpt_dist_node_free(node, *ranks);
        *ranks = NULL;
        return DPT_ENOMEM;
    }
    (*ranks)[0] = d->rank;
    if (node->size > 1) {
        WATCHED(MPI_Allgather(&d->rank, 1, MPI_INT, *ranks, 1, MPI_INT, comm));
    }
    return 0;
}

void dpt_dist_node_free(struct dpt_dist *node, int *ranks)
{
    if (node->comm != MPI_COMM_SELF && node->comm != MPI_COMM_NULL) {
        MPI_Comm_free(&node->comm);
    }
    node->comm = MPI_COMM_NULL;
    free(ranks);
}

void dpt_dist_alltoallv_floats(const struct dpt_dist *d, const float *send, const int *send_counts,
                               const int *send_offsets, float *recv, const int *recv_counts,
                               const int *recv_offsets)
{
    WATCHED(MPI_Alltoallv(send, send_counts, send_offsets, MPI_FLOAT, recv, recv_counts,
                          recv_offsets, MPI_FLOAT, d->comm));
}

int dpt_dist_same_u64(const struct dpt_dist *d, uint64_t v)
{
    if (d->size == 1) {
        return 0;
    }
    uint64_t ref = v;
    WATCHED(MPI_Bcast(&ref, 1, MPI_UINT64_T, 0, d->comm));
    int mine = v != ref ? d->rank + 1 : INT_MAX, first;
    WATCHED(MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, d->comm));
    return first == INT_MAX ? 0 : first;
}

/* Rank 0's half of dpt_dist_gather_floats: from every rank's count ns[q],
 * the int counts and displacements MPI_Gatherv takes, and room for the whole. */
static int gather_layout(const unsigned long long *ns, int P, int *counts, int *displs,
                         float **all, struct dpt_err *err)
{
    unsigned long long total = 0;
    for (int q = 0; q < P; q++) {
        if (ns[q] > (unsigned long long)INT_MAX - total) {
            return dpt_err_set(err, DPT_EINVAL, "cannot gather more than %d floats on one rank "
                               "(MPI counts are int): rank %d sends %llu after the %llu of "
                               "the ranks before it", INT_MAX, q, ns[q], total);
        }
        counts[q] = (int)ns[q];
        displs[q] = (int)total;
        total += ns[q];
    }
    *all = malloc((total ? total : 1) * sizeof **all);
    if (!*all) {
        return dpt_err_set(err, DPT_ENOMEM, "out of memory gathering %llu floats", total);
    }
    return 0;
}

int dpt_dist_gather_floats(const struct dpt_dist *d, const float *buf, size_t n, float **all,
                           struct dpt_err *err)
{
    *all = NULL;
    if (d->size == 1) {
        *all = malloc((n ? n : 1) * sizeof **all);
        if (!*all) {
            return dpt_err_set(err, DPT_ENOMEM, "out of memory gathering %zu floats", n);
        }
        memcpy(*all, buf, n * sizeof **all);
        return 0;
    }
    /* Rank 0 learns every rank's count first: Gatherv needs them all there. */
    int P = d->size, root = d->rank == 0, rc = 0;
    unsigned long long mine = n, *ns = NULL;
    int *counts = NULL, *displs = NULL;
    if (root) {
        ns = malloc((size_t)P * sizeof *ns);
        counts = malloc((size_t)P * sizeof *counts);
        displs = malloc((size_t)P * sizeof *displs);
        if (!ns || !counts || !displs) {
            rc = dpt_err_set(err, DPT_ENOMEM, "out of memory gathering floats");
        }
    }
    rc = dpt_dist_agree(d, rc, err);
    if (rc == 0) {
        WATCHED(MPI_Gather(&mine, 1, MPI_UNSIGNED_LONG_LONG, ns, 1, MPI_UNSIGNED_LONG_LONG, 0,
                           d->comm));
        rc = root ? gather_layout(ns, P, counts, displs, all, err) : 0;
        rc = dpt_dist_agree(d, rc, err);
    }
    if (rc == 0) {
        WATCHED(MPI_Gatherv(buf, (int)n, MPI_FLOAT, *all, counts, displs, MPI_FLOAT, 0,
                            d->comm));
    } else {
        free(*all);
        *all = NULL;
    }
    free(ns);
    free(counts);
    free(displs);
    return rc;
}
