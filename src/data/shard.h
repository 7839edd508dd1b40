/* Sharding: which rows of the data set this rank reads, and in which order.
 *
 * Epoch e visits the rows in the order of a permutation of [0, N) that
 * depends only on (seed, epoch): position i holds row dpt_perm_at(i). Step s
 * covers positions [s*B, min(N, (s+1)*B)), cut into micro-shards of m rows
 * (the last one of a step may be shorter). Micro-shard k of a step belongs to
 * rank k % P and, within it, to thread (k / P) % T. So what a micro-shard
 * holds never depends on P or T; only who computes it does.
 *
 * A rank reads just its rows of an epoch (sorted, in blocks) and lays them
 * out by micro-shard: memory per rank grows with N/P. The next epoch's rows
 * can be read by a background thread while this epoch trains (two buffer
 * sets: 2 N/P rows). HDF5 is not thread-safe here: while a prefetch runs,
 * nobody else may call HDF5 (dpt_shard_prefetch_wait first).
 */
#ifndef DPT_DATA_SHARD_H
#define DPT_DATA_SHARD_H

#include "data/dataset.h"
#include "data/norm.h"

#include <dptrain/dptrain.h>
#include <pthread.h>
#include <stdint.h>

/* A permutation of [0, n) evaluated pointwise: a Feistel network over the
 * next even power of two with cycle walking (a bijection, O(1) memory).
 *
 * In block order (dpt_perm_blocks) the rows stay near their neighbours, so
 * that a window of steps reads a few runs of the file rather than rows from
 * all over it: the file is cut into blocks of `block` consecutive rows (the
 * last, short one stays last), the blocks are permuted, and the rows of
 * that order are shuffled within pools of `pool` positions. */
struct dpt_perm {
    uint64_t n;
    uint64_t key;
    unsigned half_bits;
    int identity;
    uint64_t block, pool; /* block order; 0: rows from anywhere */
    uint64_t blocks;      /* full blocks: n / block */
    unsigned block_bits, pool_bits, last_pool_bits;
};
void dpt_perm_init(struct dpt_perm *p, uint64_t n, uint64_t seed, uint64_t epoch, int shuffle);
/* Turns p into block order (block, pool >= 1 rows; block 0 leaves it). */
void dpt_perm_blocks(struct dpt_perm *p, uint64_t block, uint64_t pool);
uint64_t dpt_perm_at(const struct dpt_perm *p, uint64_t i);

/* One inflation per node. Each rank needs rows of nearly every chunk of a
 * window, so with each rank reading for itself a node would inflate every
 * chunk of a compressed X once per rank. Shared, the `ranks` ranks of a
 * node split X's chunks (chunk c is read by the rank of index c % ranks),
 * each reads the rows its peers need from its chunks along with its own and
 * packs them, standardized, into its send buffer; dpt_shard_exchange
 * then gives what an all-to-all among the node's ranks (the caller's, in
 * the main thread: MPI is funneled) moves, and dpt_shard_exchange_place puts
 * the received rows in their places. The rows and their bits are the same
 * as without sharing. */
struct dpt_shard_share {
    int ranks, me;    /* the node's ranks, and this one's index among them */
    const int *rank;  /* their ranks in the job, by index (copied) */
    uint64_t chunk;   /* rows per chunk of X */
};

/* Whether this rank would share ds's chunks with its node peers: X is
 * chunked and DPTRAIN_NO_SHARED_CHUNKS (for measurements) is not set. */
int dpt_shard_share_wanted(const struct dpt_dataset *ds);

struct dpt_shard_opts {
    uint64_t batch, micro; /* B and m */
    int ranks, rank, threads;
    int cache_all;          /* read the whole file once into memory */
    const struct dpt_norm *norm; /* standardize X and y on read, or NULL */
    /* With a validation split: the rows trained on are base(0 .. n_rows-1),
     * so epoch position i holds file row base(perm(i)). NULL: all rows. */
    const struct dpt_perm *base;
    uint64_t n_rows;
    /* Rows of one window (0: a whole epoch): a rank holds the rows of
     * window_steps consecutive steps at a time (and prefetches the next
     * window), so its resident data stays small whatever N is. */
    uint64_t window_rows;
    /* The order of an epoch's rows: dpt_perm_blocks(block, pool); 0 and 0:
     * rows from anywhere. */
    uint64_t block, pool;
    /* Chunks shared on a node (NULL: each rank reads what it needs): see
     * struct dpt_shard_share. */
    const struct dpt_shard_share *share;
};

/* What the all-to-all among the node's ranks moves after a shared load, in
 * floats by node rank. */
struct dpt_shard_exchange {
    const float *send;
    float *recv;
    const int *send_counts, *send_offsets, *recv_counts, *recv_offsets;
};

struct dpt_shard {
    struct dpt_dataset *ds;
    struct dpt_shard_opts o;
    uint64_t n, f, y_cols;
    uint64_t steps;        /* steps per epoch: ceil(N / B) */
    uint64_t *step_off;    /* this rank's rows before step s in an epoch */
    uint64_t window_steps; /* steps per window, the same on every rank */
    uint64_t win_lo, win_hi; /* the steps whose rows are loaded */
    uint64_t rows;         /* rows loaded: step_off[win_hi] - step_off[win_lo] */
    float *x, *y;          /* those rows, (rows, F) and (rows, y_cols) */
    uint64_t *file_row;    /* file row of each loaded row */
    /* private */
    float *back_x, *back_y; /* the other buffer set, filled by a prefetch */
    uint64_t *back_file_row;
    uint64_t back_lo, back_hi, back_rows;
    pthread_t reader;
    int prefetch; /* 0 idle, 1 running, 2 done (result in prefetch_rc, prefetch_err) */
    int prefetch_rc;
    struct dpt_err prefetch_err;
    struct dpt_perm prefetch_perm;
    struct dpt_perm base;
    int has_base;
    uint64_t *sorted;     /* (file row, local row) pairs, sorted by file row */
    uint64_t read_block;  /* rows per read (READ_BLOCK or fewer for wide rows) */
    float *stage_x, *stage_y;
    float *all_x, *all_y; /* with cache_all */
    uint64_t pair_cap;    /* pairs `sorted` has room for */
    /* With a share (shared non-NULL): per peer, the rows sent and received
     * for the loaded window, as records of f + y_cols floats, and the
     * (file row, local row) of each received record, by peer. */
    struct dpt_shard_share *shared;
    int unshared;           /* dpt_shard_unshare was called: loads read all their rows */
    int loaded_shared, back_loaded_shared; /* the window (the prefetched one) was loaded
                                              shared: its exchange is due */
    uint64_t *send_rows, *recv_rows;
    float *send, *recv;
    int *counts; /* the exchange's: 4 x the node's ranks */
    struct dpt_shard_exchange xch; /* what dpt_shard_exchange returns */
    uint64_t send_cap; /* records `send` has room for */
    uint64_t *recv_pair;
};

int dpt_shard_create(struct dpt_shard **out, struct dpt_dataset *ds,
                     const struct dpt_shard_opts *o, struct dpt_err *err);
void dpt_shard_destroy(struct dpt_shard *sh);

/* What dpt_shard_create would lay out for o over ds, without allocating
 * the windows or reading a row: `dptrain plan`'s figures for each rank. */
struct dpt_shard_layout {
    uint64_t steps;          /* steps per epoch */
    uint64_t rows;           /* this rank's rows per epoch */
    uint64_t window_steps;   /* steps per window (steps: a whole epoch) */
    uint64_t window_rows;    /* the most rows one window holds */
    uint64_t memory;         /* bytes dpt_shard_create checks for: windows, their
                              * bookkeeping, and the staging block or the cached file */
};
int dpt_shard_layout(struct dpt_dataset *ds, const struct dpt_shard_opts *o,
                     struct dpt_shard_layout *out, struct dpt_err *err);

/* The order of epoch e's rows: the permutation every rank uses. */
void dpt_shard_epoch(const struct dpt_shard *sh, struct dpt_perm *p, uint64_t seed,
                     uint64_t epoch, int shuffle);

/* The first step of the window that holds step s. */
uint64_t dpt_shard_window_of(const struct dpt_shard *sh, uint64_t s);
/* Reads this rank's rows of the window starting at step lo (a window start)
 * of the epoch given by perm. */
int dpt_shard_load(struct dpt_shard *sh, const struct dpt_perm *perm, uint64_t lo,
                   struct dpt_err *err);

/* Starts reading the window at step lo of the epoch of perm into the back
 * buffers in a background thread. Falls back to nothing (the next
 * dpt_shard_next reads) if the thread cannot start. */
void dpt_shard_prefetch(struct dpt_shard *sh, const struct dpt_perm *perm, uint64_t lo);
/* Waits for a running prefetch (so that HDF5 may be used again). */
void dpt_shard_prefetch_wait(struct dpt_shard *sh);
/* Makes the window at step lo of the epoch of perm current: swaps in the
 * prefetched buffers if that window was prefetched, else reads now. */
int dpt_shard_next(struct dpt_shard *sh, const struct dpt_perm *perm, uint64_t lo,
                   struct dpt_err *err);

/* With a share, after the window was made current: what the all-to-all
 * among the node's ranks moves, in floats by node rank (counts and offsets
 * of send and of recv). NULL when this shard shares nothing. */
const struct dpt_shard_exchange *dpt_shard_exchange(struct dpt_shard *sh);
/* Puts the received records in their rows (after the all-to-all). */
void dpt_shard_exchange_place(struct dpt_shard *sh);
/* From the next load on, this rank reads all of its rows itself (every
 * chunk of the node is kept where each rank can read it): the windows
 * loaded before, the prefetched one included, still have their exchange,
 * so the node's ranks call it at the same point of the epoch. After the
 * current window's exchange, with no prefetch running. */
void dpt_shard_unshare(struct dpt_shard *sh);

/* Rows in step s (the last step may be short). */
uint64_t dpt_shard_step_rows(const struct dpt_shard *sh, uint64_t s);
/* Micro-shards of step s that this rank holds. */
uint64_t dpt_shard_local_micros(const struct dpt_shard *sh, uint64_t s);
/* Position in the epoch's order of the first row of local micro-shard i of step s. */
uint64_t dpt_shard_micro_pos(const struct dpt_shard *sh, uint64_t s, uint64_t i);
/* Local micro-shard i of step s (a step of the loaded window): its rows and
 * its first row in x. */
uint64_t dpt_shard_micro(const struct dpt_shard *sh, uint64_t s, uint64_t i, uint64_t *first);

#endif
