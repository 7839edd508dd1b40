/* Sharding under mpirun: every rank reads only its rows (counted by the
 * dataset handle), every row is seen exactly once per epoch across ranks,
 * and each micro-shard holds the same rows whatever P and T are.
 *
 *   mpirun -np P tests/mpi/test_shard FILE.h5[,FILE.h5...] B m T
 *
 * Several files, comma-separated, are one data set (data/dataset.h): the
 * same checks then cover rows that come from different files.
 */
#include "config.h"

#include "data/dataset.h"
#include "data/shard.h"
#include "dist/dist.h"

#include "check.h"

#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures, checks;


int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    struct dpt_dist d;
    dpt_dist_init(&d, MPI_COMM_WORLD);
    if (argc != 5) {
        fprintf(stderr, "usage: test_shard FILE.h5 B m T\n");
        MPI_Abort(MPI_COMM_WORLD, 2);
    }
    uint64_t B = strtoull(argv[2], NULL, 10), m = strtoull(argv[3], NULL, 10);
    int T = atoi(argv[4]);
    struct dpt_err err = {0};
    struct dpt_dataset *ds;
    const char *files[16];
    size_t n_files = 0;
    for (char *f = strtok(argv[1], ","); f && n_files < 16; f = strtok(NULL, ",")) {
        files[n_files++] = f;
    }
    const struct dpt_data_source src = {.files = files, .n_files = n_files, .x_name = "X",
                                        .y_name = "y"};
    if (dpt_dataset_open_source(&ds, &src, 1, &err) < 0) {
        fprintf(stderr, "%s\n", err.msg);
        MPI_Abort(MPI_COMM_WORLD, 2);
    }
    uint64_t n = dpt_dataset_rows(ds), f = dpt_dataset_features(ds);
    struct dpt_shard_opts o = {.batch = B, .micro = m, .ranks = d.size, .rank = d.rank,
                               .threads = T};
    struct dpt_shard *sh;
    CHECK(dpt_shard_create(&sh, ds, &o, &err) == 0, "%s", err.msg);

    /* Rows per rank are about N/P: at most one micro-shard per step more. */
    uint64_t fair = n / (uint64_t)d.size + sh->steps * m;
    CHECK(sh->rows <= fair, "rank %d holds %llu rows, more than N/P + steps*m = %llu", d.rank,
          (unsigned long long)sh->rows, (unsigned long long)fair);

    int *seen = calloc(n, sizeof *seen);
    for (uint64_t epoch = 0; epoch < 3; epoch++) {
        struct dpt_perm perm;
        dpt_perm_init(&perm, n, 42, epoch, 1);
        uint64_t before = dpt_dataset_rows_read(ds);
        CHECK(dpt_shard_load(sh, &perm, 0, &err) == 0, "%s", err.msg);
        uint64_t read = dpt_dataset_rows_read(ds) - before;
        CHECK(read == sh->rows, "rank %d read %llu rows for an epoch, holds %llu", d.rank,
              (unsigned long long)read, (unsigned long long)sh->rows);

        /* Each local micro-shard holds exactly the rows its positions say,
         * and the row's data is in place (column 0 holds the row index in
         * the test file). */
        for (uint64_t s = 0; s < sh->steps; s++) {
            for (uint64_t i = 0; i < dpt_shard_local_micros(sh, s); i++) {
                uint64_t first, rows = dpt_shard_micro(sh, s, i, &first);
                uint64_t k = (uint64_t)d.rank + (uint64_t)d.size * i;
                for (uint64_t j = 0; j < rows; j++) {
                    uint64_t want = dpt_perm_at(&perm, s * B + k * m + j);
                    CHECK(sh->file_row[first + j] == want, "step %llu micro %llu row %llu",
                          (unsigned long long)s, (unsigned long long)k, (unsigned long long)j);
                    CHECK(sh->x[(first + j) * f] == (float)want, "data of row %llu misplaced",
                          (unsigned long long)want);
                }
            }
        }
        memset(seen, 0, n * sizeof *seen);
        for (uint64_t r = 0; r < sh->rows; r++) {
            seen[sh->file_row[r]]++;
        }
        MPI_Allreduce(MPI_IN_PLACE, seen, (int)n, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
        uint64_t once = 0;
        for (uint64_t r = 0; r < n; r++) {
            once += seen[r] == 1;
        }
        CHECK(once == n, "epoch %llu: %llu of %llu rows seen exactly once across ranks",
              (unsigned long long)epoch, (unsigned long long)once, (unsigned long long)n);
    }
    /* Windows: the same micro-shards, read a few steps at a time. */
    struct dpt_shard_opts wo = o;
    wo.window_rows = 97;
    struct dpt_shard *ws;
    CHECK(dpt_shard_create(&ws, ds, &wo, &err) == 0, "%s", err.msg);
    struct dpt_perm wp;
    dpt_perm_init(&wp, n, 42, 5, 1);
    memset(seen, 0, n * sizeof *seen);
    uint64_t windows = 0;
    for (uint64_t lo = 0; lo < ws->steps; lo = ws->win_hi, windows++) {
        uint64_t before = dpt_dataset_rows_read(ds);
        CHECK(dpt_shard_load(ws, &wp, lo, &err) == 0, "%s", err.msg);
        CHECK(dpt_dataset_rows_read(ds) - before == ws->rows, "window at step %llu",
              (unsigned long long)lo);
        for (uint64_t s = ws->win_lo; s < ws->win_hi; s++) {
            for (uint64_t i = 0; i < dpt_shard_local_micros(ws, s); i++) {
                uint64_t first, rows = dpt_shard_micro(ws, s, i, &first);
                for (uint64_t j = 0; j < rows; j++) {
                    uint64_t want = dpt_perm_at(&wp, dpt_shard_micro_pos(ws, s, i) + j);
                    CHECK(ws->file_row[first + j] == want && ws->x[(first + j) * f] == (float)want,
                          "window step %llu micro %llu", (unsigned long long)s,
                          (unsigned long long)i);
                    seen[want]++;
                }
            }
        }
    }
    CHECK(windows > 1 || ws->steps == 1, "only %llu window(s)", (unsigned long long)windows);
    MPI_Allreduce(MPI_IN_PLACE, seen, (int)n, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    uint64_t once = 0;
    for (uint64_t r = 0; r < n; r++) {
        once += seen[r] == 1;
    }
    CHECK(once == n, "windows: %llu of %llu rows seen exactly once", (unsigned long long)once,
          (unsigned long long)n);
    dpt_shard_destroy(ws);

    /* The permutation is a bijection and depends on the epoch. */
    struct dpt_perm p0, p1;
    dpt_perm_init(&p0, n, 42, 0, 1);
    dpt_perm_init(&p1, n, 42, 1, 1);
    uint64_t same = 0;
    for (uint64_t i = 0; i < n; i++) {
        same += dpt_perm_at(&p0, i) == dpt_perm_at(&p1, i);
    }
    CHECK(same < n / 4 + 2, "epochs 0 and 1 agree on %llu of %llu positions",
          (unsigned long long)same, (unsigned long long)n);

    free(seen);
    dpt_shard_destroy(sh);
    dpt_dataset_close(ds);
    int total[2] = {checks, failures};
    MPI_Allreduce(MPI_IN_PLACE, total, 2, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (d.rank == 0) {
        printf("shard P=%d T=%d N=%llu B=%llu m=%llu: %d passed, %d failed\n", d.size, T,
               (unsigned long long)n, (unsigned long long)B, (unsigned long long)m,
               total[0] - total[1], total[1]);
    }
    MPI_Finalize();
    return total[1] ? 1 : 0;
}
