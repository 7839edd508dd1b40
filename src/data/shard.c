/* Sharding and per-epoch shuffling: see shard.h for the layout. */
#include "config.h"

#include "data/shard.h"
#include "util/util.h"

#include <stdlib.h>
#include <string.h>

#define FEISTEL_ROUNDS 6
/* Rows per read: READ_BLOCK, or fewer when they would take more than
 * READ_BLOCK_BYTES as floats (a staging buffer of 4096 rows of 224 x 224 x 3
 * images would be 2.4 GB). */
#define READ_BLOCK 4096
#define READ_BLOCK_BYTES (64ull << 20)

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
 * file rows), the sort pairs, and either the staging block or, with
 * cache_all, the whole file as floats. Counts saturate: a wrap-around must
 * not make a huge claim look small. */
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

/* Copies one row into local row `dest`, scaling and standardizing X. */
static void place(struct dpt_shard *sh, uint64_t dest, const float *x, const float *y)
{
    float *xd = sh->x + dest * sh->f;
    if (dpt_norm_has_x(sh->o.norm)) {
        dpt_norm_x(sh->o.norm, x, xd, 1);
    } else {
        memcpy(xd, x, sh->f * sizeof(float));
    }
    dpt_norm_y(sh->o.norm, y, sh->y + dest * sh->y_cols, 1, sh->y_cols);
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
    if (sh->all_x) {
        for (uint64_t d = 0; d < sh->rows; d++) {
            uint64_t row = sh->file_row[d];
            place(sh, d, sh->all_x + row * sh->f, sh->all_y + row * sh->y_cols);
        }
        return 0;
    }
    qsort(sh->sorted, sh->rows, 2 * sizeof(uint64_t), cmp_pair);

    /* Read in blocks of sorted rows, then scatter to their local rows. */
    uint64_t rows_buf[READ_BLOCK];
    for (uint64_t done = 0; done < sh->rows; done += sh->read_block) {
        size_t k = sh->rows - done < sh->read_block ? sh->rows - done : sh->read_block;
        for (size_t j = 0; j < k; j++) {
            rows_buf[j] = sh->sorted[2 * (done + j)];
        }
        int rc = dpt_dataset_read(sh->ds, rows_buf, k, sh->stage_x,
                                  sh->y_cols ? sh->stage_y : NULL, err);
        if (rc < 0) {
            return rc;
        }
        for (size_t j = 0; j < k; j++) {
            place(sh, sh->sorted[2 * (done + j) + 1], sh->stage_x + j * sh->f,
                  sh->stage_y + j * sh->y_cols);
        }
    }
    return 0;
}

static void swap_buffers(struct dpt_shard *sh)
{
    float *x = sh->x, *y = sh->y;
    uint64_t *r = sh->file_row, lo = sh->win_lo, hi = sh->win_hi, rows = sh->rows;
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
