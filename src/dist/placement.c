/* Where the ranks run: see placement.h.
 *
 * The thread choice (train/threads.c) needs the CPUs a rank has to itself.
 * omp_get_num_procs() is the size of the rank's affinity mask; dividing it
 * by the ranks of the node is right for unbound ranks, which all hold every
 * CPU, and wrong for bound ones: with --map-by ppr:2:node:PE=4 each rank
 * holds 4 CPUs of its own, not 2. So the masks of the node's ranks are
 * compared instead, and `train --verbose` shows them (docs/HPC.md).
 */
#include "config.h"

#include "dist/placement.h"
#include "dist/watchdog.h"

#include <stdlib.h>
#include <string.h>

int dpt__cpu_share(const cpu_set_t *mine, const cpu_set_t *all, int n)
{
    double share = 0;
    for (int c = 0; c < CPU_SETSIZE; c++) {
        if (!CPU_ISSET(c, mine)) {
            continue;
        }
        int k = 0;
        for (int j = 0; j < n; j++) {
            k += CPU_ISSET(c, &all[j]) != 0;
        }
        share += 1.0 / (k > 0 ? k : 1);
    }
    /* 1e-9: 1/3 + 1/3 + 1/3 must count as 1. */
    int whole = (int)(share + 1e-9);
    return whole > 1 ? whole : 1;
}

static void own_mask(cpu_set_t *set)
{
    CPU_ZERO(set);
    if (sched_getaffinity(0, sizeof *set, set) != 0) {
        /* No mask to read: any CPU (share then divides them evenly). */
        for (int c = 0; c < CPU_SETSIZE; c++) {
            CPU_SET(c, set);
        }
    }
}

/* The masks of the ranks of this rank's node, in *all (malloc'ed) and
 * their number in *n; a single rank's own mask when that fails. */
static void node_masks(const struct dpt_dist *d, const cpu_set_t *mine, cpu_set_t **all, int *n)
{
    *n = 1;
    *all = malloc(sizeof **all);
    MPI_Comm node;
    int rc = MPI_ERR_OTHER;
    if (d->size > 1) {
        dpt__watch_enter();
        rc = MPI_Comm_split_type(d->comm, MPI_COMM_TYPE_SHARED, d->rank, MPI_INFO_NULL, &node);
        dpt__watch_leave();
    }
    if (rc == MPI_SUCCESS) {
        int local;
        MPI_Comm_size(node, &local);
        cpu_set_t *many = malloc((size_t)local * sizeof *many);
        /* Every rank of the node takes part, out of memory or not. */
        int ok = many != NULL, all_ok = 0;
        dpt__watch_enter();
        MPI_Allreduce(&ok, &all_ok, 1, MPI_INT, MPI_MIN, node);
        if (all_ok) {
            MPI_Allgather(mine, (int)sizeof *mine, MPI_BYTE, many, (int)sizeof *mine, MPI_BYTE,
                          node);
        }
        dpt__watch_leave();
        MPI_Comm_free(&node);
        if (all_ok) {
            free(*all);
            *all = many;
            *n = local;
            return;
        }
        free(many);
    }
    if (*all) {
        **all = *mine;
    }
}

int dpt_dist_cpu_share(const struct dpt_dist *d)
{
    cpu_set_t mine;
    own_mask(&mine);
    cpu_set_t *all;
    int n;
    node_masks(d, &mine, &all, &n);
    int share = all ? dpt__cpu_share(&mine, all, n) : CPU_COUNT(&mine);
    free(all);
    return share > 0 ? share : 1;
}

/* The CPUs of set as a list of ranges ("0-3,8,10-11"), cut short with
 * "..." when it does not fit. */
static void cpus_text(const cpu_set_t *set, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int c = 0; c < CPU_SETSIZE; c++) {
        if (!CPU_ISSET(c, set)) {
            continue;
        }
        int last = c;
        while (last + 1 < CPU_SETSIZE && CPU_ISSET(last + 1, set)) {
            last++;
        }
        char part[32];
        int w = last > c ? snprintf(part, sizeof part, "%s%d-%d", used ? "," : "", c, last)
                         : snprintf(part, sizeof part, "%s%d", used ? "," : "", c);
        if (used + (size_t)w + 4 >= len) {
            snprintf(buf + used, len - used, ",...");
            return;
        }
        memcpy(buf + used, part, (size_t)w + 1);
        used += (size_t)w;
        c = last;
    }
}

/* One rank as rank 0 receives it. */
struct where {
    char host[64];
    cpu_set_t set;
    int share;
};

/* "0, 1 and 2" for the ranks r[0..shown) of total: all of them named when
 * shown == total, else "0, 1, 2, 3 and 5 more". */
void dpt__rank_list(char *buf, size_t len, const int *r, int shown, int total)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < shown && used < len; i++) {
        const char *sep = i == 0 ? "" : i == total - 1 ? " and " : ", ";
        used += (size_t)snprintf(buf + used, len - used, "%s%d", sep, r[i]);
    }
    if (total > shown && used < len) {
        snprintf(buf + used, len - used, " and %d more", total - shown);
    }
}

/* Rank 0: the note for rank a's node, if a shares CPUs there (1 if
 * written). When the node's ranks outnumber the CPUs of all their masks,
 * binding cannot help and the note says how many ranks fit; otherwise it
 * names the ranks that share CPUs with a and how to bind them apart. */
static int note_shared(FILE *out, const struct where *w, int n, int a)
{
    enum { MAX_LISTED = 5 };
    cpu_set_t node_cpus, shared;
    CPU_ZERO(&node_cpus);
    CPU_ZERO(&shared);
    int on_node = 0, k = 0, listed[MAX_LISTED];
    listed[k++] = a;
    for (int b = 0; b < n; b++) {
        if (strcmp(w[a].host, w[b].host) != 0) {
            continue;
        }
        on_node++;
        CPU_OR(&node_cpus, &node_cpus, &w[b].set);
        cpu_set_t both;
        CPU_AND(&both, &w[a].set, &w[b].set);
        if (b != a && CPU_COUNT(&both) > 0) {
            CPU_OR(&shared, &shared, &both);
            if (k < MAX_LISTED) {
                listed[k] = b;
            }
            k++;
        }
    }
    if (k == 1) {
        return 0;
    }
    char list[256], ranks[96];
    int cpus = CPU_COUNT(&node_cpus);
    if (on_node > cpus) {
        cpus_text(&node_cpus, list, sizeof list);
        fprintf(out, "placement: note: the %d ranks on %s share %d cpu%s (%s): each gets less "
                "than one; run at most %d rank%s there (docs/HPC.md)\n", on_node, w[a].host,
                cpus, cpus > 1 ? "s" : "", list, cpus, cpus > 1 ? "s" : "");
        return 1;
    }
    dpt__rank_list(ranks, sizeof ranks, listed, k <= MAX_LISTED ? k : MAX_LISTED - 1, k);
    cpus_text(&shared, list, sizeof list);
    fprintf(out, "placement: note: ranks %s on %s may %s run on cpus %s: their threads "
            "compete; bind each rank to cores of its own (mpirun --map-by "
            "ppr:RANKS:node:PE=THREADS --bind-to core, docs/HPC.md)\n",
            ranks, w[a].host, k == 2 ? "both" : "all", list);
    return 1;
}

/* Rank 0: the lines for n ranks. */
static void print_where(FILE *out, const struct where *w, int n)
{
    enum { SHOWN = 16 };
    char list[256];
    for (int r = 0; r < n && r < SHOWN; r++) {
        cpus_text(&w[r].set, list, sizeof list);
        int count = CPU_COUNT(&w[r].set);
        fprintf(out, "placement: rank %d on %s: cpus %s (%d), %d to itself\n", r, w[r].host,
                list, count, w[r].share);
    }
    if (n > SHOWN) {
        int least = w[0].share;
        for (int r = 1; r < n; r++) {
            least = w[r].share < least ? w[r].share : least;
        }
        fprintf(out, "placement: and %d more rank%s; every rank has at least %d cpu%s to "
                "itself\n", n - SHOWN, n - SHOWN > 1 ? "s" : "", least, least > 1 ? "s" : "");
    }
    const char *bind = getenv("OMP_PROC_BIND"), *places = getenv("OMP_PLACES");
    fprintf(out, "placement: threads: OMP_PROC_BIND=%s OMP_PLACES=%s%s\n", bind ? bind : "(unset)",
            places ? places : "(unset)",
            bind ? "" : " (threads may move between the rank's cpus; see docs/HPC.md)");
    for (int a = 0; a < n; a++) {
        if (note_shared(out, w, n, a)) {
            return;
        }
    }
}

void dpt_dist_describe_placement(const struct dpt_dist *d, FILE *out)
{
    struct where me;
    memset(&me, 0, sizeof me);
    char name[MPI_MAX_PROCESSOR_NAME];
    int len = 0;
    if (MPI_Get_processor_name(name, &len) != MPI_SUCCESS) {
        len = snprintf(name, sizeof name, "?");
    }
    snprintf(me.host, sizeof me.host, "%.*s", len, name);
    own_mask(&me.set);
    me.share = dpt_dist_cpu_share(d);
    struct where *all = d->rank == 0 ? calloc((size_t)d->size, sizeof *all) : NULL;
    int ok = d->rank != 0 || all != NULL;
    dpt__watch_enter();
    MPI_Bcast(&ok, 1, MPI_INT, 0, d->comm);
    if (ok) {
        MPI_Gather(&me, (int)sizeof me, MPI_BYTE, all, (int)sizeof me, MPI_BYTE, 0, d->comm);
    }
    dpt__watch_leave();
    if (d->rank == 0) {
        if (ok) {
            print_where(out, all, d->size);
        } else {
            print_where(out, &me, 1);
        }
        fflush(out);
    }
    free(all);
}
