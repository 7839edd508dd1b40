/* Sharding and per-epoch shuffling: see shard.h for the layout. */
#include "config.h"

#include "data/shard.h"
#include "util/util.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define FEISTEL_ROUNDS 6
/* Rows per read: READ_BLOCK, or fewer when they would take more than
 * READ_BLOCK_BYTES as floats, so that the staging buffer stays in L2
 * between the conversion to float and the scaling into the window: with
 * 64 MB blocks both passes went to memory, and digits28's MLP (uint8
 * rows, 2 ranks) trained 6% slower. The reads stay in file order, and a
 * chunk stays inflated across blocks (dataset.c load_chunk). */
#define READ_BLOCK 4096
#define READ_BLOCK_BYTES (256ull << 10)

/* Half the bits of the next even power of two >= n (at least 4). */
static unsigned half_bits_for(uint64_t n)
{
    unsigned bits = 2;
    while (bits < 64 && (1ull << bits) < n) {
        bits++;
    }
    return (bits + 1) / 2;
}

void dpt_perm_init(struct dpt_perm *p, uint64_t n, uint64_t seed, uint64_t epoch, int shuffle)
{
    memset(p, 0, sizeof *p);
    p->n = n;
    p->key = dpt__mix64(seed, epoch);
    p->identity = !shuffle || n < 2;
    p->half_bits = half_bits_for(n);
}

void dpt_perm_blocks(struct dpt_perm *p, uint64_t block, uint64_t pool)
{
    if (block == 0 || pool == 0) {
        return;
    }
    p->block = block;
    p->pool = pool;
    p->blocks = p->n / block;
    p->block_bits = half_bits_for(p->blocks);
    p->pool_bits = half_bits_for(pool);
    p->last_pool_bits = half_bits_for(p->n - (p->n - 1) / pool * pool);
}

static uint64_t feistel(uint64_t key, unsigned half_bits, uint64_t x)
{
    uint64_t mask = (1ull << half_bits) - 1;
    uint64_t l = x >> half_bits, r = x & mask;
    for (uint64_t round = 0; round < FEISTEL_ROUNDS; round++) {
        uint64_t f = dpt__mix64(key + round, r) & mask;
        uint64_t t = l ^ f;
        l = r;
        r = t;
    }
    return (l << half_bits) | r;
}

/* Position i of a permutation of [0, n) keyed by key. Cycle walking: the
 * domain is < 4n, so ~2 rounds on average. */
static uint64_t walk(uint64_t key, unsigned half_bits, uint64_t n, uint64_t i)
{
    uint64_t x = feistel(key, half_bits, i);
    while (x >= n) {
        x = feistel(key, half_bits, x);
    }
    return x;
}

uint64_t dpt_perm_at(const struct dpt_perm *p, uint64_t i)
{
    if (p->identity) {
        return i;
    }
    if (!p->block) {
        return walk(p->key, p->half_bits, p->n, i);
    }
    /* Position i of pool k is position q of the order of blocks. */
    uint64_t k = i / p->pool, start = k * p->pool;
    uint64_t len = p->n - start < p->pool ? p->n - start : p->pool;
    unsigned bits = len == p->pool ? p->pool_bits : p->last_pool_bits;
    uint64_t q = start + walk(dpt__mix64(p->key, k), bits, len, i - start);
    uint64_t b = q / p->block;
    if (b >= p->blocks) {
        return q; /* the short last block */
    }
    return walk(dpt__mix64(p->key, UINT64_MAX), p->block_bits, p->blocks, b) * p->block +
           q % p->block;
}

uint64_t dpt_shard_step_rows(const struct dpt_shard *sh, uint64_t s)
{
    uint64_t first = s * sh->o.batch;
    return sh->n - first < sh->o.batch ? sh->n - first : sh->o.batch;
}

uint64_t dpt_shard_local_micros(const struct dpt_shard *sh, uint64_t s)
{
    uint64_t m = sh->o.micro, k = (dpt_shard_step_rows(sh, s) + m - 1) / m;
    uint64_t P = (uint64_t)sh->o.ranks, r = (uint64_t)sh->o.rank;
    return k > r ? (k - r + P - 1) / P : 0;
}

uint64_t dpt_shard_micro_pos(const struct dpt_shard *sh, uint64_t s, uint64_t i)
{
    return s * sh->o.batch + ((uint64_t)sh->o.rank + (uint64_t)sh->o.ranks * i) * sh->o.micro;
}

uint64_t dpt_shard_micro(const struct dpt_shard *sh, uint64_t s, uint64_t i, uint64_t *first)
{
    uint64_t m = sh->o.micro, k = (uint64_t)sh->o.rank + (uint64_t)sh->o.ranks * i;
    uint64_t rows = dpt_shard_step_rows(sh, s), start = k * m;
    *first = sh->step_off[s] - sh->step_off[sh->win_lo] + i * m;
    return rows - start < m ? rows - start : m;
}

void dpt_shard_destroy(struct dpt_shard *sh)
{
    if (!sh) {
        return;
    }
    dpt_shard_prefetch_wait(sh);
    free(sh->back_x);
    free(sh->back_y);
    free(sh->back_file_row);
    free(sh->step_off);
    free(sh->x);
    free(sh->y);
    free(sh->file_row);
    free(sh->sorted);
    free(sh->stage_x);
    free(sh->stage_y);
    free(sh->all_x);
    free(sh->all_y);
    if (sh->shared) {
        free((void *)sh->shared->rank);
        free(sh->shared);
    }
    free(sh->send_rows);
    free(sh->recv_rows);
    free(sh->send);
    free(sh->recv);
    free(sh->recv_pair);
    free(sh->counts);
    free(sh);
}

/* This rank's rows before each step (step_off) and the steps per window;
 * returns the most rows a window holds. */
static uint64_t plan_windows(struct dpt_shard *sh)
{
    const struct dpt_shard_opts *o = &sh->o;
    for (uint64_t s = 0; s < sh->steps; s++) {
        uint64_t rows = 0, first;
        for (uint64_t i = 0; i < dpt_shard_local_micros(sh, s); i++) {
            rows += dpt_shard_micro(sh, s, i, &first);
        }
        sh->step_off[s + 1] = sh->step_off[s] + rows;
    }
    /* Windows of window_steps steps; the count depends on B and P only, so
     * every rank switches windows at the same steps. */
    uint64_t per_step = (o->batch + (uint64_t)o->ranks - 1) / (uint64_t)o->ranks;
    sh->window_steps = o->window_rows ? o->window_rows / per_step : sh->steps;
    sh->window_steps = sh->window_steps < 1 ? 1 : sh->window_steps;
    uint64_t most = 0;
    for (uint64_t lo = 0; lo < sh->steps; lo += sh->window_steps) {
        uint64_t hi = lo + sh->window_steps < sh->steps ? lo + sh->window_steps : sh->steps;
        uint64_t k = sh->step_off[hi] - sh->step_off[lo];
        most = k > most ? k : most;
    }
    return most;
}

/* The two window buffer sets for windows of up to `rows` rows; 0 or -1. */
static int alloc_windows(struct dpt_shard *sh, size_t rows)
{
    size_t yc = sh->y_cols ? sh->y_cols : 1;
    sh->x = dpt__zalloc_aligned(rows * sh->f * sizeof(float));
    sh->y = dpt__zalloc_aligned(rows * yc * sizeof(float));
    sh->file_row = malloc(rows * sizeof *sh->file_row);
    sh->sorted = malloc(2 * rows * sizeof *sh->sorted);
    sh->back_x = dpt__zalloc_aligned(rows * sh->f * sizeof(float));
    sh->back_y = dpt__zalloc_aligned(rows * yc * sizeof(float));
    sh->back_file_row = malloc(rows * sizeof *sh->back_file_row);
    sh->pair_cap = rows;
    if (sh->shared) {
        size_t L = (size_t)sh->shared->ranks;
        sh->send_rows = calloc(L, sizeof *sh->send_rows);
        sh->recv_rows = calloc(L, sizeof *sh->recv_rows);
        sh->recv = malloc(rows * (sh->f + sh->y_cols) * sizeof(float));
        sh->recv_pair = malloc(2 * rows * sizeof *sh->recv_pair);
        sh->counts = malloc(4 * L * sizeof *sh->counts);
        if (!sh->send_rows || !sh->recv_rows || !sh->recv || !sh->recv_pair || !sh->counts) {
            return -1;
        }
    }
    return sh->x && sh->y && sh->file_row && sh->sorted && sh->back_x && sh->back_y &&
                   sh->back_file_row
               ? 0
               : -1;
}

static uint64_t sat_add(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static uint64_t sat_mul(uint64_t a, uint64_t b)
{
    return b != 0 && a > UINT64_MAX / b ? UINT64_MAX : a * b;
}

/* Bytes of step_off, which grows with N / B. */
static uint64_t steps_bytes(const struct dpt_shard *sh)
{
    return sat_mul(sh->steps + 1, sizeof *sh->step_off);
}

/* Refuses, before anything big is allocated, the shard that cannot fit in
 * this rank's memory: two window buffer sets of `most` rows (X, y, their
 * file rows), the sort pairs, the chunk reads' buffers (up to 3 x 16 MB a
 * dataset), and either the staging block or, with cache_all, the whole
 * file as floats. Counts saturate: a wrap-around must not make a huge
 * claim look small. */
static uint64_t shard_memory(const struct dpt_shard *sh, uint64_t most, const char **what);

static int check_shard_memory(const struct dpt_shard *sh, uint64_t most, struct dpt_err *err)
{
    const char *what;
    uint64_t need = shard_memory(sh, most, &what);
    return dpt_dataset_check_memory(sh->ds, need, what, err);
}

/* The bytes check_shard_memory asks for, and what they hold in *what. */
static uint64_t shard_memory(const struct dpt_shard *sh, uint64_t most, const char **what)
{
    uint64_t yc = sh->y_cols ? sh->y_cols : 1;
    uint64_t row = sat_add(sat_mul(sh->f + yc, sizeof(float)), sizeof(uint64_t));
    uint64_t need = sat_add(sat_mul(2 * most, row), sat_mul(most, 2 * sizeof(uint64_t)));
    need = sat_add(need, steps_bytes(sh));
    need = sat_add(need, dpt_dataset_reader_bytes(sh->ds));
    if (sh->shared) {
        /* The records received and, about as many, sent; their pairs. */
        uint64_t rec = sat_mul(sh->f + sh->y_cols, sizeof(float));
        need = sat_add(need, sat_mul(most, sat_add(2 * rec, 4 * sizeof(uint64_t))));
    }
    *what = "this rank's windows of rows";
    if (sh->o.cache_all) {
        uint64_t n_file = dpt_dataset_rows(sh->ds);
        need = sat_add(need, sat_mul(n_file, sat_mul(sh->f + yc, sizeof(float))));
        *what = "the whole file as floats (data.cache) and this rank's rows";
    } else {
        need = sat_add(need, sat_mul(sh->read_block, sat_mul(sh->f + yc, sizeof(float))));
    }
    return need;
}

/* With cache_all: the whole file in memory (with a validation split, base,
 * the training rows are spread over all of it). */
static int read_all(struct dpt_shard *sh, struct dpt_err *err)
{
    uint64_t n_file = dpt_dataset_rows(sh->ds);
    sh->all_x = malloc(n_file * sh->f * sizeof(float));
    sh->all_y = malloc(n_file * (sh->y_cols ? sh->y_cols : 1) * sizeof(float));
    if (!sh->all_x || !sh->all_y) {
        return DPT_ENOMEM;
    }
    for (uint64_t r = 0; r < n_file; r += sh->read_block) {
        size_t k = n_file - r < sh->read_block ? n_file - r : sh->read_block;
        int rc = dpt_dataset_read_range(sh->ds, r, k, sh->all_x + r * sh->f,
                                        sh->y_cols ? sh->all_y + r * sh->y_cols : NULL, err);
        if (rc < 0) {
            return rc;
        }
    }
    /* Scaled and standardized once, here, instead of in every window
     * (dpt_shard_load copies the rows as they are): elementwise, the same
     * values. */
    dpt_norm_x(sh->o.norm, sh->all_x, sh->all_x, n_file);
    if (sh->y_cols) {
        dpt_norm_y(sh->o.norm, sh->all_y, sh->all_y, n_file, sh->y_cols);
    }
    return 0;
}

int dpt_shard_share_wanted(const struct dpt_dataset *ds)
{
    const char *no = getenv("DPTRAIN_NO_SHARED_CHUNKS");
    return dpt_dataset_chunk_rows(ds) > 0 && !(no && *no && strcmp(no, "0") != 0);
}

/* Takes o.share when it applies: the rows are read in windows, and what one
 * all-to-all moves stays within MPI's int counts (every rank of the node
 * decides alike: the same options, the same bounds). 0 or -1. */
static int begin_share(struct dpt_shard *sh)
{
    const struct dpt_shard_share *s = sh->o.share;
    sh->o.share = NULL;
    if (!s || s->ranks < 2 || s->chunk == 0 || sh->o.cache_all) {
        return 0;
    }
    /* The most rows any rank holds in a window, times the node's ranks. */
    uint64_t P = (uint64_t)sh->o.ranks, m = sh->o.micro;
    uint64_t per_step = ((sh->o.batch + m - 1) / m + P - 1) / P * m;
    uint64_t floats = sat_mul(sat_mul(sat_mul(sh->window_steps, per_step), (uint64_t)s->ranks),
                              sh->f + sh->y_cols);
    if (floats > INT_MAX) {
        return 0;
    }
    sh->shared = malloc(sizeof *sh->shared);
    int *rank = malloc((size_t)s->ranks * sizeof *rank);
    if (!sh->shared || !rank) {
        free(rank);
        return -1;
    }
    memcpy(rank, s->rank, (size_t)s->ranks * sizeof *rank);
    *sh->shared = *s;
    sh->shared->rank = rank;
    return 0;
}

/* A shard with its sizes and its list of steps (step_off) laid out, and
 * nothing read or allocated for rows yet; 0 or an error (*out NULL). */
static int shard_begin(struct dpt_shard **out, struct dpt_dataset *ds,
                       const struct dpt_shard_opts *o, uint64_t *most, struct dpt_err *err)
{
    *out = NULL;
    struct dpt_shard *sh = calloc(1, sizeof *sh);
    if (!sh) {
        return dpt_err_set(err, DPT_ENOMEM, "out of memory");
    }
    sh->ds = ds;
    sh->o = *o;
    sh->n = o->base ? o->n_rows : dpt_dataset_rows(ds);
    if (o->base) {
        sh->base = *o->base;
        sh->has_base = 1;
    }
    sh->f = dpt_dataset_features(ds);
    sh->y_cols = dpt_dataset_y_cols(ds);
    sh->steps = (sh->n + o->batch - 1) / o->batch;
    uint64_t row_bytes = (sh->f + (sh->y_cols ? sh->y_cols : 1)) * sizeof(float);
    sh->read_block = READ_BLOCK_BYTES / row_bytes;
    sh->read_block = sh->read_block < 1 ? 1 : sh->read_block > READ_BLOCK ? READ_BLOCK
                                                                            : sh->read_block;
    int rc = dpt_dataset_check_memory(ds, steps_bytes(sh), "this rank's list of steps", err);
    if (rc < 0) {
        dpt_shard_destroy(sh);
        return rc;
    }
    sh->step_off = calloc(sh->steps + 1, sizeof *sh->step_off);
    if (!sh->step_off) {
        dpt_shard_destroy(sh);
        return dpt_err_set(err, DPT_ENOMEM, "out of memory for this rank's share of %s",
                           dpt_dataset_path(ds));
    }
    *most = plan_windows(sh);
    *most = *most ? *most : 1;
    rc = begin_share(sh);
    if (rc < 0) {
        dpt_shard_destroy(sh);
        return dpt_err_set(err, DPT_ENOMEM, "out of memory");
    }
    *out = sh;
    return 0;
}

int dpt_shard_layout(struct dpt_dataset *ds, const struct dpt_shard_opts *o,
                     struct dpt_shard_layout *out, struct dpt_err *err)
{
    struct dpt_shard *sh;
    uint64_t most;
    int rc = shard_begin(&sh, ds, o, &most, err);
    if (rc < 0) {
        return rc;
    }
    const char *what;
    *out = (struct dpt_shard_layout){
        .steps = sh->steps,
        .rows = sh->step_off[sh->steps],
        .window_steps = sh->window_steps,
        .window_rows = most,
        .memory = shard_memory(sh, most, &what),
    };
    dpt_shard_destroy(sh);
    return 0;
}

int dpt_shard_create(struct dpt_shard **out, struct dpt_dataset *ds,
                     const struct dpt_shard_opts *o, struct dpt_err *err)
{
    struct dpt_shard *sh;
    uint64_t most;
    *out = NULL;
    int rc = shard_begin(&sh, ds, o, &most, err);
    if (rc < 0) {
        return rc;
    }
    rc = check_shard_memory(sh, most, err);
    if (rc < 0) {
        dpt_shard_destroy(sh);
        return rc;
    }
    rc = alloc_windows(sh, most) == 0 ? 0 : DPT_ENOMEM;
    if (rc == 0 && o->cache_all) {
        rc = read_all(sh, err);
    } else if (rc == 0) {
        sh->stage_x = malloc(sh->read_block * sh->f * sizeof(float));
        sh->stage_y = malloc(sh->read_block * (sh->y_cols ? sh->y_cols : 1) * sizeof(float));
        rc = sh->stage_x && sh->stage_y ? 0 : DPT_ENOMEM;
    }
    if (rc == DPT_ENOMEM) {
        rc = dpt_err_set(err, DPT_ENOMEM, "out of memory for this rank's share of %s",
                         dpt_dataset_path(ds));
    }
    if (rc < 0) {
        dpt_shard_destroy(sh);
        return rc;
    }
    *out = sh;
    return 0;
}

static int cmp_pair(const void *a, const void *b)
{
    const uint64_t *x = a, *y = b;
    return (x[0] > y[0]) - (x[0] < y[0]);
}

/* Copies one row into xd and yd, scaling and standardizing X. */
static void put_row(const struct dpt_shard *sh, float *xd, float *yd, const float *x,
                    const float *y)
{
    if (dpt_norm_has_x(sh->o.norm)) {
        dpt_norm_x(sh->o.norm, x, xd, 1);
    } else {
        memcpy(xd, x, sh->f * sizeof(float));
    }
    dpt_norm_y(sh->o.norm, y, yd, 1, sh->y_cols);
}

/* Copies one row into local row `dest`. */
static void place(struct dpt_shard *sh, uint64_t dest, const float *x, const float *y)
{
    put_row(sh, sh->x + dest * sh->f, sh->y + dest * sh->y_cols, x, y);
}

void dpt_shard_epoch(const struct dpt_shard *sh, struct dpt_perm *p, uint64_t seed,
                     uint64_t epoch, int shuffle)
{
    dpt_perm_init(p, sh->n, seed, epoch, shuffle);
    dpt_perm_blocks(p, sh->o.block, sh->o.pool);
}

uint64_t dpt_shard_window_of(const struct dpt_shard *sh, uint64_t s)
{
    return s / sh->window_steps * sh->window_steps;
}

/* ---- Chunks shared on a node (struct dpt_shard_share) ---- */

#define SEND_TAG (1ull << 63) /* a pair's second word: a peer's row, not a local one */

static uint64_t file_row_at(const struct dpt_shard *sh, const struct dpt_perm *perm, uint64_t i)
{
    uint64_t row = dpt_perm_at(perm, i);
    return sh->has_base ? dpt_perm_at(&sh->base, row) : row;
}

/* The index of the node rank that reads the chunk of file row `row`. */
static uint64_t owner_of(const struct dpt_shard *sh, uint64_t row)
{
    return row / sh->shared->chunk % (uint64_t)sh->shared->ranks;
}

/* Appends the pair (row, tag) to sorted; 0 or -1 (out of memory). */
static int push_pair(struct dpt_shard *sh, uint64_t *n, uint64_t row, uint64_t tag)
{
    if (*n == sh->pair_cap) {
        uint64_t cap = 2 * sh->pair_cap;
        uint64_t *p = realloc(sh->sorted, 2 * cap * sizeof *p);
        if (!p) {
            return -1;
        }
        sh->sorted = p;
        sh->pair_cap = cap;
    }
    sh->sorted[2 * *n] = row;
    sh->sorted[2 * *n + 1] = tag;
    (*n)++;
    return 0;
}

/* The rows peer j (node index, job rank q) holds in steps [lo, hi) that lie
 * in this rank's chunks: pairs (row, SEND_TAG | j), counted in send_rows[j]. */
static int peer_rows(struct dpt_shard *sh, const struct dpt_perm *perm, int j, uint64_t *n)
{
    uint64_t P = (uint64_t)sh->o.ranks, q = (uint64_t)sh->shared->rank[j];
    uint64_t m = sh->o.micro, me = (uint64_t)sh->shared->me;
    for (uint64_t s = sh->win_lo; s < sh->win_hi; s++) {
        uint64_t rows = dpt_shard_step_rows(sh, s);
        for (uint64_t k = q; k * m < rows; k += P) {
            uint64_t pos = s * sh->o.batch + k * m;
            uint64_t len = rows - k * m < m ? rows - k * m : m;
            for (uint64_t r = 0; r < len; r++) {
                uint64_t row = file_row_at(sh, perm, pos + r);
                if (owner_of(sh, row) == me) {
                    if (push_pair(sh, n, row, SEND_TAG | (uint64_t)j) < 0) {
                        return -1;
                    }
                    sh->send_rows[j]++;
                }
            }
        }
    }
    return 0;
}

/* The loaded rows (file_row) that other ranks read: their pairs (row, local
 * row) in recv_pair by owner, each owner's by row, which is the order the
 * owner sends them in; the rows read here go to sorted. */
static int split_rows(struct dpt_shard *sh, uint64_t *n)
{
    uint64_t L = (uint64_t)sh->shared->ranks, me = (uint64_t)sh->shared->me;
    uint64_t at[L];
    memset(sh->recv_rows, 0, L * sizeof *sh->recv_rows);
    for (uint64_t d = 0; d < sh->rows; d++) {
        sh->recv_rows[owner_of(sh, sh->file_row[d])]++;
    }
    sh->recv_rows[me] = 0;
    for (uint64_t j = 0, k = 0; j < L; j++) {
        at[j] = k;
        k += sh->recv_rows[j];
    }
    for (uint64_t d = 0; d < sh->rows; d++) {
        uint64_t row = sh->file_row[d], j = owner_of(sh, row);
        if (j == me) {
            if (push_pair(sh, n, row, d) < 0) {
                return -1;
            }
        } else {
            sh->recv_pair[2 * at[j]] = row;
            sh->recv_pair[2 * at[j] + 1] = d;
            at[j]++;
        }
    }
    for (uint64_t j = 0, k = 0; j < L; j++) {
        qsort(sh->recv_pair + 2 * k, sh->recv_rows[j], 2 * sizeof(uint64_t), cmp_pair);
        k += sh->recv_rows[j];
    }
    return 0;
}

/* Reads the n rows of the pairs in sorted, in file order and in blocks,
 * and puts each where its tag says: a local row, or (SEND_TAG | j) the
 * next record for peer j, at[j]. */
static int read_pairs(struct dpt_shard *sh, uint64_t n, uint64_t *at, struct dpt_err *err)
{
    qsort(sh->sorted, n, 2 * sizeof(uint64_t), cmp_pair);
    uint64_t rows_buf[READ_BLOCK], rec = sh->f + sh->y_cols;
    for (uint64_t done = 0; done < n; done += sh->read_block) {
        size_t k = n - done < sh->read_block ? n - done : sh->read_block;
        for (size_t i = 0; i < k; i++) {
            rows_buf[i] = sh->sorted[2 * (done + i)];
        }
        int rc = dpt_dataset_read(sh->ds, rows_buf, k, sh->stage_x,
                                  sh->y_cols ? sh->stage_y : NULL, err);
        if (rc < 0) {
            return rc;
        }
        for (size_t i = 0; i < k; i++) {
            uint64_t tag = sh->sorted[2 * (done + i) + 1];
            const float *x = sh->stage_x + i * sh->f, *y = sh->stage_y + i * sh->y_cols;
            if (tag & SEND_TAG) {
                float *r = sh->send + at[tag & ~SEND_TAG]++ * rec;
                put_row(sh, r, r + sh->f, x, y);
            } else {
                place(sh, tag, x, y);
            }
        }
    }
    return 0;
}

/* The all-to-all of the loaded window, in floats (begin_share checked that
 * they fit in an int). */
const struct dpt_shard_exchange *dpt_shard_exchange(struct dpt_shard *sh)
{
    if (!sh->shared || !sh->loaded_shared) {
        return NULL;
    }
    int L = sh->shared->ranks;
    int *c = sh->counts, rec = (int)(sh->f + sh->y_cols);
    for (int j = 0, s = 0, r = 0; j < L; j++) {
        c[j] = (int)sh->send_rows[j] * rec;
        c[L + j] = s;
        c[2 * L + j] = (int)sh->recv_rows[j] * rec;
        c[3 * L + j] = r;
        s += c[j];
        r += c[2 * L + j];
    }
    sh->xch = (struct dpt_shard_exchange){.send = sh->send, .recv = sh->recv,
                                          .send_counts = c, .send_offsets = c + L,
                                          .recv_counts = c + 2 * L, .recv_offsets = c + 3 * L};
    return &sh->xch;
}

/* dpt_shard_load with a share: reads the rows of this rank's chunks that
 * it or its peers hold in the window, once, in file order. */
static int load_shared(struct dpt_shard *sh, const struct dpt_perm *perm, struct dpt_err *err)
{
    int L = sh->shared->ranks;
    uint64_t n = 0, rec = sh->f + sh->y_cols, at[L];
    memset(sh->send_rows, 0, (size_t)L * sizeof *sh->send_rows);
    int rc = split_rows(sh, &n);
    for (int j = 0; j < L && rc == 0; j++) {
        rc = j == sh->shared->me ? 0 : peer_rows(sh, perm, j, &n);
    }
    uint64_t sends = 0;
    for (int j = 0; j < L; j++) {
        at[j] = sends;
        sends += sh->send_rows[j];
    }
    if (rc == 0 && sends > sh->send_cap) {
        float *p = realloc(sh->send, sends * rec * sizeof(float));
        rc = p ? 0 : -1;
        if (p) {
            sh->send = p;
            sh->send_cap = sends;
        }
    }
    if (rc < 0) {
        return dpt_err_set(err, DPT_ENOMEM, "out of memory for this rank's share of %s",
                           dpt_dataset_path(sh->ds));
    }
    return read_pairs(sh, n, at, err);
}

void dpt_shard_unshare(struct dpt_shard *sh)
{
    dpt_shard_prefetch_wait(sh);
    sh->unshared = 1;
}

void dpt_shard_exchange_place(struct dpt_shard *sh)
{
    uint64_t rec = sh->f + sh->y_cols, k = 0;
    for (int j = 0; j < sh->shared->ranks; j++) {
        k += sh->recv_rows[j];
    }
    for (uint64_t i = 0; i < k; i++) {
        uint64_t d = sh->recv_pair[2 * i + 1];
        const float *r = sh->recv + i * rec;
        memcpy(sh->x + d * sh->f, r, sh->f * sizeof(float));
        memcpy(sh->y + d * sh->y_cols, r + sh->f, sh->y_cols * sizeof(float));
    }
}

int dpt_shard_load(struct dpt_shard *sh, const struct dpt_perm *perm, uint64_t lo,
                   struct dpt_err *err)
{
    sh->win_lo = lo;
    sh->win_hi = lo + sh->window_steps < sh->steps ? lo + sh->window_steps : sh->steps;
    sh->rows = sh->step_off[sh->win_hi] - sh->step_off[lo];
    /* Which file rows land in which local row. */
    uint64_t *pair = sh->sorted;
    for (uint64_t s = sh->win_lo; s < sh->win_hi; s++) {
        for (uint64_t i = 0; i < dpt_shard_local_micros(sh, s); i++) {
            uint64_t first;
            uint64_t rows = dpt_shard_micro(sh, s, i, &first);
            uint64_t pos = dpt_shard_micro_pos(sh, s, i);
            for (uint64_t r = 0; r < rows; r++) {
                uint64_t row = dpt_perm_at(perm, pos + r);
                if (sh->has_base) {
                    row = dpt_perm_at(&sh->base, row);
                }
                sh->file_row[first + r] = row;
                *pair++ = row;
                *pair++ = first + r;
            }
        }
    }
    if (sh->all_x) { /* rows already scaled and standardized by read_all */
        for (uint64_t d = 0; d < sh->rows; d++) {
            uint64_t row = sh->file_row[d];
            memcpy(sh->x + d * sh->f, sh->all_x + row * sh->f, sh->f * sizeof(float));
            memcpy(sh->y + d * sh->y_cols, sh->all_y + row * sh->y_cols,
                   sh->y_cols * sizeof(float));
        }
        return 0;
    }
    sh->loaded_shared = sh->shared && !sh->unshared;
    if (sh->loaded_shared) {
        return load_shared(sh, perm, err);
    }
    return read_pairs(sh, sh->rows, NULL, err);
}

static void swap_buffers(struct dpt_shard *sh)
{
    float *x = sh->x, *y = sh->y;
    uint64_t *r = sh->file_row, lo = sh->win_lo, hi = sh->win_hi, rows = sh->rows;
    int shared = sh->loaded_shared;
    sh->loaded_shared = sh->back_loaded_shared;
    sh->back_loaded_shared = shared;
    sh->x = sh->back_x;
    sh->y = sh->back_y;
    sh->file_row = sh->back_file_row;
    sh->win_lo = sh->back_lo;
    sh->win_hi = sh->back_hi;
    sh->rows = sh->back_rows;
    sh->back_x = x;
    sh->back_y = y;
    sh->back_file_row = r;
    sh->back_lo = lo;
    sh->back_hi = hi;
    sh->back_rows = rows;
}

/* The reader thread: runs dpt_shard_load on a copy of the shard whose
 * buffers are the back set, so the training threads keep reading the front
 * set undisturbed. The scratch it shares (sorted, stage_*) is only used by
 * loads, and the main thread waits for this one before its next load. */
static void *reader_main(void *arg)
{
    struct dpt_shard *sh = arg;
    struct dpt_shard view = *sh;
    view.x = sh->back_x;
    view.y = sh->back_y;
    view.file_row = sh->back_file_row;
    sh->prefetch_rc = dpt_shard_load(&view, &sh->prefetch_perm, sh->back_lo, &sh->prefetch_err);
    sh->back_hi = view.win_hi;
    sh->back_rows = view.rows;
    sh->back_loaded_shared = view.loaded_shared;
    sh->sorted = view.sorted; /* scratch a shared load may have grown */
    sh->pair_cap = view.pair_cap;
    sh->send = view.send;
    sh->send_cap = view.send_cap;
    return NULL;
}

void dpt_shard_prefetch(struct dpt_shard *sh, const struct dpt_perm *perm, uint64_t lo)
{
    dpt_shard_prefetch_wait(sh);
    sh->prefetch_perm = *perm;
    sh->back_lo = lo;
    sh->prefetch_rc = 0;
    memset(&sh->prefetch_err, 0, sizeof sh->prefetch_err);
    sh->prefetch = pthread_create(&sh->reader, NULL, reader_main, sh) == 0 ? 1 : 0;
}

void dpt_shard_prefetch_wait(struct dpt_shard *sh)
{
    if (sh->prefetch == 1) {
        pthread_join(sh->reader, NULL);
        sh->prefetch = 2;
    }
}

int dpt_shard_next(struct dpt_shard *sh, const struct dpt_perm *perm, uint64_t lo,
                   struct dpt_err *err)
{
    dpt_shard_prefetch_wait(sh);
    const struct dpt_perm *p = &sh->prefetch_perm;
    if (sh->prefetch == 2 && p->n == perm->n && p->key == perm->key &&
        p->identity == perm->identity && p->block == perm->block && p->pool == perm->pool &&
        sh->back_lo == lo) {
        sh->prefetch = 0;
        if (sh->prefetch_rc < 0) {
            *err = sh->prefetch_err;
            return sh->prefetch_rc;
        }
        swap_buffers(sh);
        return 0;
    }
    sh->prefetch = 0;
    return dpt_shard_load(sh, perm, lo, err);
}
