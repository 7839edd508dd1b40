/* How a rank holds its training rows: the whole file in memory, an epoch of
 * its rows at a time, or windows of a few steps (the policy; data/shard.c
 * does the reading).
 *
 * A small file is read once and kept (data.cache = "auto"): each epoch then
 * only gathers its rows in memory. A larger one is read a window at a time,
 * two windows per rank (the current one and the prefetched next): a whole
 * epoch of the rank's rows when that fits the budget, else a few steps'
 * worth. The answers are the same on every rank (micro-shards and windows
 * must match), so the functions that depend on a rank's view are collective.
 */
#ifndef DPT_DATA_WINDOW_H
#define DPT_DATA_WINDOW_H

#include "data/dataset.h"
#include "data/shard.h"
#include "dist/dist.h"

#include <stddef.h>
#include <stdint.h>

/* data.cache: "auto" keeps the whole training file in memory on every rank
 * when it is small, "all" always, "none" never. */
enum dpt_cache { DPT_CACHE_AUTO, DPT_CACHE_NONE, DPT_CACHE_ALL };

/* data.shuffle_by: the rows of an epoch come from anywhere in the file
 * ("rows") or in block order ("blocks", see struct dpt_perm); "auto" picks
 * blocks for a file too large to keep in memory by default. */
enum dpt_shuffle_by { DPT_SHUFFLE_BY_AUTO, DPT_SHUFFLE_BY_ROWS, DPT_SHUFFLE_BY_BLOCKS };

/* What the model file asks for. */
struct dpt_window_policy {
    enum dpt_cache cache;
    uint64_t window_rows; /* data.window_rows; 0: automatic */
    enum dpt_shuffle_by by;
    uint64_t batch; /* train.batch */
    /* An order fixed before (a resumed checkpoint's): with by = BLOCKS and
     * block > 0, rows per block and per pool as they are; 0 otherwise. */
    uint64_t block, pool;
};

/* The order of an epoch's rows of ds for dpt_perm_blocks: rows per block
 * and per pool, or 0 and 0 for rows from anywhere (p->block and p->pool
 * when p fixes them). The same on every rank and for any number of ranks
 * and threads. */
void dpt_window_order(const struct dpt_window_policy *p, const struct dpt_dataset *ds,
                      uint64_t *block, uint64_t *pool);

/* Whether every rank keeps the whole file of ds in memory. */
int dpt_window_cache_all(const struct dpt_window_policy *p, const struct dpt_dataset *ds);

/* Collective. Rows per data window (0: a whole epoch) for a rank that
 * trains on n_train rows of ds with `threads` threads, node_ranks ranks
 * sharing its node. */
uint64_t dpt_window_rows(const struct dpt_window_policy *p, const struct dpt_dist *d,
                         int node_ranks, const struct dpt_dataset *ds, uint64_t n_train,
                         int threads);

/* Local. Whether a rank with `threads` threads, node_ranks ranks on its
 * node, wants the big window budget (its workers leave no core for the
 * reader thread, or X is read through HDF5); dpt_window_rows takes it if
 * any rank does. */
int dpt_window_big(int node_ranks, const struct dpt_dataset *ds, int threads);
/* Local. dpt_window_rows for a job of `ranks` ranks whose ranks agreed on
 * big (dpt_window_big of any rank): what `dptrain plan` computes for a job
 * it does not run. */
uint64_t dpt_window_rows_for(const struct dpt_window_policy *p, int ranks, int big,
                             const struct dpt_dataset *ds, uint64_t n_train);

/* One line saying how the shard holds and reads its n_train rows, for
 * --verbose. */
void dpt_window_describe(const struct dpt_shard *sh, uint64_t n_train, char *line, size_t len);

#endif
