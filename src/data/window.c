/* The data-window policy: see window.h. */
#include "config.h"

#include "data/window.h"

#include <inttypes.h>
#include <limits.h>
#include <omp.h>
#include <stdio.h>

/* Training rows a rank holds by default (data.cache = "auto", no
 * data.window_rows). A file whose rows take at most CACHE_BYTES is read once
 * and kept: each epoch then only gathers its rows in memory (the tiny
 * benchmark spent more time reading and sorting its rows each epoch than
 * training on them). A larger one is read a window at a time, two windows
 * (the current one and the prefetched next) in WINDOW_BYTES: a whole epoch
 * of the rank's rows when that fits, else a few steps' worth. With direct
 * reads (dataset.c) windows cost ~1.5 us per row, in the reader thread.
 * A window's rows are scattered over the file, so reading one costs about
 * a pass over the file whatever its size: free while a core is idle for
 * the reader thread, ~7% of the workers' time when they use every core
 * (2 x 1 on 2 cores). Then, and for files read through HDF5 (chunked or
 * compressed X: a window's random rows touch nearly every chunk, so every
 * window would decompress the whole file; gzip, chunks of 64 rows: 7.4k
 * instead of 70k samples/s), whole-epoch windows are used up to
 * WINDOW_BYTES_BIG. */
#define CACHE_BYTES (64ull << 20)
#define WINDOW_BYTES (64ull << 20)
#define WINDOW_BYTES_BIG (512ull << 20)

/* Block order (files larger than CACHE_BYTES by default): blocks of
 * BLOCK_ROWS rows (fewer when that would be more than BLOCK_BYTES), or of
 * X's chunk when X is chunked, so that an epoch decompresses each chunk
 * once; pools of POOL_BYTES of rows (at least POOL_BLOCKS blocks), a whole
 * number of batches. A window is a whole number of pools in at most half of
 * WINDOW_BYTES, whatever the cores, the layout or N, and reads runs of
 * neighbouring rows. */
#define BLOCK_ROWS 64
#define BLOCK_BYTES (256u << 10)
#define POOL_BYTES (32ull << 20)
#define POOL_BLOCKS 16

/* Bytes one training row takes in memory (X and y as floats). */
static uint64_t row_bytes(const struct dpt_dataset *ds)
{
    uint64_t yc = dpt_dataset_y_cols(ds);
    return (dpt_dataset_features(ds) + (yc ? yc : 1)) * sizeof(float);
}

int dpt_window_cache_all(const struct dpt_window_policy *p, const struct dpt_dataset *ds)
{
    if (p->cache != DPT_CACHE_AUTO) {
        return p->cache == DPT_CACHE_ALL;
    }
    return p->window_rows == 0 && dpt_dataset_rows(ds) * row_bytes(ds) <= CACHE_BYTES;
}

void dpt_window_order(const struct dpt_window_policy *p, const struct dpt_dataset *ds,
                      uint64_t *block, uint64_t *pool)
{
    uint64_t bytes = row_bytes(ds);
    *block = *pool = 0;
    if (p->by == DPT_SHUFFLE_BY_BLOCKS && p->block > 0) {
        *block = p->block;
        *pool = p->pool;
        return;
    }
    if (p->by == DPT_SHUFFLE_BY_ROWS ||
        (p->by == DPT_SHUFFLE_BY_AUTO && dpt_dataset_rows(ds) * bytes <= CACHE_BYTES)) {
        return;
    }
    uint64_t most = POOL_BYTES / POOL_BLOCKS / bytes;
    uint64_t b = dpt_dataset_chunk_rows(ds);
    if (b == 0) {
        b = BLOCK_BYTES / bytes < BLOCK_ROWS ? BLOCK_BYTES / bytes : BLOCK_ROWS;
    }
    b = b > most ? most : b;
    *block = b < 1 ? 1 : b;
    uint64_t rows = POOL_BYTES / bytes > POOL_BLOCKS * *block ? POOL_BYTES / bytes
                                                                : POOL_BLOCKS * *block;
    *pool = (rows + p->batch - 1) / p->batch * p->batch;
}

/* Whether this rank wants the big window budget: its node's workers (ranks
 * x threads) leave no core for the reader thread (cores as the process may
 * use them: binding counts), or it reads X through HDF5. */
int dpt_window_big(int node_ranks, const struct dpt_dataset *ds, int threads)
{
    return node_ranks * threads >= omp_get_num_procs() || !dpt_dataset_direct(ds);
}

/* A whole epoch when two epochs' worth of this rank's rows fit in the
 * budget (WINDOW_BYTES, or WINDOW_BYTES_BIG when the cores are busy or the
 * file is read through HDF5) or the file is cached, else what fits. */
uint64_t dpt_window_rows(const struct dpt_window_policy *p, const struct dpt_dist *d,
                         int node_ranks, const struct dpt_dataset *ds, uint64_t n_train,
                         int threads)
{
    if (p->window_rows > 0) {
        return p->window_rows;
    }
    int big = dpt_dist_any(d, dpt_window_big(node_ranks, ds, threads));
    return dpt_window_rows_for(p, d->size, big, ds, n_train);
}

uint64_t dpt_window_rows_for(const struct dpt_window_policy *p, int ranks, int big,
                             const struct dpt_dataset *ds, uint64_t n_train)
{
    if (p->window_rows > 0) {
        return p->window_rows;
    }
    uint64_t bytes = row_bytes(ds), per_rank = n_train / (uint64_t)ranks + 1;
    uint64_t block, pool;
    dpt_window_order(p, ds, &block, &pool);
    /* A file kept in memory is gathered from there an epoch at a time
     * while it is small (what "auto" keeps), else in windows as a streamed
     * one is read: held once, not once more in each of two epoch windows. */
    int cached = dpt_window_cache_all(p, ds);
    uint64_t budget = big && !pool && !cached ? WINDOW_BYTES_BIG : WINDOW_BYTES;
    if (2 * per_rank * bytes <= budget ||
        (cached && dpt_dataset_rows(ds) * bytes <= CACHE_BYTES)) {
        return 0;
    }
    if (!pool) {
        return budget / (2 * bytes);
    }
    /* Whole pools: a pool's steps each hold ceil(B / P) of a rank's rows. */
    uint64_t per_step = (p->batch + (uint64_t)ranks - 1) / (uint64_t)ranks;
    uint64_t pool_rows = pool / p->batch * per_step;
    uint64_t k = budget / (2 * bytes) / pool_rows;
    return (k ? k : 1) * pool_rows;
}

void dpt_window_describe(const struct dpt_shard *sh, uint64_t n_train, char *line, size_t len)
{
    double mb = (double)row_bytes(sh->ds) / (1 << 20);
    char order[192] = "";
    int k = 0;
    if (sh->o.pool) {
        k = snprintf(order, sizeof order, "; in block order: blocks of %" PRIu64 " rows, pools "
                     "of %" PRIu64, sh->o.block, sh->o.pool);
    }
    uint64_t held = dpt_dataset_rows(sh->ds) - n_train;
    if (held && k >= 0 && (size_t)k < sizeof order) {
        snprintf(order + k, sizeof order - (size_t)k, "; %" PRIu64 " more held out for "
                 "validation", held);
    }
    if (sh->all_x) {
        snprintf(line, len, "data: %" PRIu64 " rows x %" PRIu64 " features kept in memory "
                 "(%.1f MiB per rank)%s", n_train, sh->f, mb * (double)dpt_dataset_rows(sh->ds),
                 order);
        return;
    }
    int windows = sh->window_steps < sh->steps;
    uint64_t rows = sh->step_off[windows ? sh->window_steps : sh->steps];
    char shared[96] = "";
    if (sh->shared) {
        snprintf(shared, sizeof shared, ", each once for the node's %d ranks",
                 sh->shared->ranks);
    }
    char kept[PATH_MAX + 64] = "";
    if (dpt_dataset_kept_in(sh->ds)) {
        snprintf(kept, sizeof kept, " (once: then kept in %s)", dpt_dataset_kept_in(sh->ds));
    }
    snprintf(line, len, "data: %" PRIu64 " rows x %" PRIu64 " features read %s, %s%s%s (2 "
             "buffers of %.1f MiB per rank)%s", n_train, sh->f,
             windows ? "a window of steps at a time" : "an epoch at a time",
             dpt_dataset_direct(sh->ds)       ? "straight from the file"
             : dpt_dataset_chunk_reads(sh->ds) ? "by chunks inflated with libdeflate"
                                               : "through HDF5",
             kept, shared, mb * (double)rows, order);
}
