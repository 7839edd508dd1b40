/* dptrain plan: what a training job will do, before it is submitted (see
 * src/train/plan.h for where each figure comes from). One process, no
 * mpirun: -np P describes the job. Prints text or one JSON object; the
 * warnings go with the figures (text: "warning [ID]: ..." lines at the
 * end), and the exit status is 0 whatever they say, 1 when training
 * itself could not start (no data, a model that does not build), 2 for a
 * bad command line.
 */
#include "config.h"

#include "cli/cli.h"
#include "cli/resume_out.h"
#include "data/memory.h"
#include "model/spec.h"
#include "plugin/registry.h"
#include "train/plan.h"

#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char plan_usage[] =
    "usage: dptrain plan MODEL.cfg [-np P] [--threads T] [options]\n"
    "\n"
    "Before a long job: what 'mpirun -np P dptrain train MODEL.cfg --threads T'\n"
    "will do, computed by the code the run uses: rows per rank (training,\n"
    "validation, test), steps per epoch and in total, micro-shards, memory per\n"
    "rank, the model file's and a checkpoint's size and how many checkpoints\n"
    "are kept, the learning rate at a few steps, and the run time estimated\n"
    "from a few steps timed on this machine; then warnings for what will go\n"
    "wrong or badly. Runs as one process, without mpirun.\n"
    "\n"
    "options:\n"
    "  -np P, --np P            ranks of the job (default 1)\n"
    "  --threads T              threads per rank (default: what train chooses)\n"
    "  --ranks-per-node N       ranks sharing a node (default: all P)\n"
    "  --set SECTION.KEY=VALUE  override a setting of the model file (repeatable)\n"
    "  --out MODEL.h5           the model file train writes (default MODEL.h5)\n"
    "  --checkpoint PATH        the checkpoint path train is given\n"
    "  --time-steps K           steps to time (default 5; 0: no timing)\n"
    "  --format json            print one JSON object instead of text\n"
    "  --plugin-path DIRS       extra plugin folders or files, ':'-separated\n"
    "  --allow-unsafe-plugins   load plugins others could have written, with a warning\n";

struct plan_args {
    struct cli_common c;
    const char *model, *out, *ckpt;
    int ranks, node_ranks, time_steps;
    char **sets;
    size_t n_sets;
    char out_buf[PATH_MAX];
    char name[PATH_MAX]; /* the model's name, which checkpoints store */
};

/* An integer option value in [min, max]; -1 (reported) if not. */
static int count_value(const char *opt, const char *v, long min, long max)
{
    char *end;
    long n = v ? strtol(v, &end, 10) : -1;
    if (!v || !*v || *end || n < min || n > max) {
        cli_usage_error("plan ", "%s must be a number from %ld to %ld, got '%s'", opt, min, max,
                        v ? v : "nothing");
        return -1;
    }
    return (int)n;
}

/* One option at argv[*i]; 0, or EXIT_USAGE (reported). */
static int plan_option(struct plan_args *a, int argc, char **argv, int *i)
{
    const char *o = argv[*i], *v = *i + 1 < argc ? argv[*i + 1] : NULL;
    int n;
    if (strcmp(o, "-np") == 0 || strcmp(o, "--np") == 0 || strcmp(o, "--ranks-per-node") == 0 ||
        strcmp(o, "--time-steps") == 0) {
        int steps = strcmp(o, "--time-steps") == 0;
        if ((n = count_value(o, v, steps ? 0 : 1, steps ? 1000 : 1 << 20)) < 0) {
            return EXIT_USAGE;
        }
        *(strcmp(o, "--time-steps") == 0 ? &a->time_steps
          : strcmp(o, "--ranks-per-node") == 0 ? &a->node_ranks : &a->ranks) = n;
    } else if (strcmp(o, "--set") == 0 || strcmp(o, "--out") == 0 ||
               strcmp(o, "--checkpoint") == 0) {
        if (!v) {
            return cli_usage_error("plan ", "%s needs a value", o);
        }
        if (strcmp(o, "--set") == 0) {
            a->sets[a->n_sets++] = argv[*i + 1];
        } else {
            *(strcmp(o, "--out") == 0 ? &a->out : &a->ckpt) = v;
        }
    } else {
        int r = cli_common_option("plan", argc, argv, i, &a->c);
        if (r < 0) {
            return EXIT_USAGE;
        }
        if (r == 0 && (o[0] == '-' || a->model)) {
            return cli_usage_error("plan ", "unknown argument '%s'", o);
        }
        if (r == 0) {
            a->model = o;
        }
        return 0;
    }
    ++*i;
    return 0;
}

static int parse_args(struct plan_args *a, int argc, char **argv)
{
    a->ranks = 1;
    a->time_steps = 5;
    a->sets = calloc((size_t)argc, sizeof *a->sets);
    if (!a->sets) {
        cli_error("out of memory");
        return EXIT_RUN;
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(plan_usage, stdout);
            return -1;
        }
        int rc = plan_option(a, argc, argv, &i);
        if (rc != 0) {
            return rc;
        }
    }
    if (!a->model) {
        return cli_usage_error("plan ", "no model file given");
    }
    if (a->node_ranks > a->ranks) {
        return cli_usage_error("plan ", "--ranks-per-node %d is more than the %d ranks",
                               a->node_ranks, a->ranks);
    }
    if (!a->out) {
        cli_default_out(a->out_buf, sizeof a->out_buf, a->model);
        a->out = a->out_buf;
    }
    return 0;
}

/* Rows per rank: every rank when there are few, else the first three, the
 * last and the smallest and largest training share. */
static void print_ranks(const struct dpt_plan *p)
{
    printf("rows per rank (training per epoch / validation / test):\n");
    for (int r = 0; r < p->ranks; r++) {
        if (p->ranks > 6 && r == 3) {
            printf("  ...\n");
            r = p->ranks - 1;
        }
        printf("  rank %d: %llu / %llu / %llu\n", r, (unsigned long long)p->rank[r].train,
               (unsigned long long)p->rank[r].validation, (unsigned long long)p->rank[r].test);
    }
}

static void print_memory(const struct dpt_plan *p)
{
    const struct dpt_plan_memory *m = &p->mem;
    const struct {
        const char *what;
        uint64_t bytes;
    } parts[] = {{"data (its rows, windows, staging)", m->data},
                 {"parameters", m->params},
                 {"gradients (one per thread)", m->grads},
                 {"optimizer state", m->optimizer},
                 {"activations and workspaces", m->work},
                 {"best weights (early stopping)", m->best},
                 {"total", m->total}};
    char b[64];
    printf("memory of rank 0:\n");
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        if (parts[i].bytes || i == 0 || i + 1 == sizeof parts / sizeof parts[0]) {
            printf("  %-36s %s\n", parts[i].what, dpt__bytes_text(b, sizeof b, parts[i].bytes));
        }
    }
}

static void print_text(const struct plan_args *a, const struct dpt_plan *p)
{
    char b1[64], b2[64];
    printf("plan: %s on %d rank%s x %d thread%s%s\n", a->model, p->ranks, p->ranks == 1 ? "" : "s",
           p->threads, p->threads == 1 ? "" : "s",
           p->threads_chosen ? " (as train chooses without --threads)" : "");
    printf("data: %llu rows x %llu features; %llu for training, %llu for validation%s, "
           "%llu test\n", (unsigned long long)p->n_file, (unsigned long long)p->features,
           (unsigned long long)p->n_train, (unsigned long long)p->n_validation,
           p->validation_split ? " (split)" : "", (unsigned long long)p->n_test);
    print_ranks(p);
    printf("steps: batch %llu in micro-shards of %llu rows (%llu a step); %llu steps an epoch, "
           "%lld epochs, %llu steps\n", (unsigned long long)p->batch,
           (unsigned long long)p->micro, (unsigned long long)p->micros_per_step,
           (unsigned long long)p->steps_per_epoch, (long long)p->epochs,
           (unsigned long long)p->steps);
    if (p->batch_note[0]) {
        printf("note: %s\n", p->batch_note); /* train's note, word for word */
    }
    printf("reading: %s, %s", p->cache_all ? "the whole file kept in memory"
           : p->windows_per_epoch > 1 ? "windows of steps" : "an epoch of rows at a time",
           p->direct        ? "straight from the file"
           : p->chunk_reads ? "by chunks inflated with libdeflate"
                            : "through HDF5 (chunked or compressed)");
    if (p->kept_in[0]) {
        printf(" (once: then kept in %s, %s of %s a node)", p->kept_in,
               dpt__bytes_text(b1, sizeof b1, p->kept_bytes),
               p->kept_in_memory ? "memory (a tmpfs)" : "disk");
    }
    if (p->chunks_shared_by > 1) {
        printf(", each once for the node's %d ranks", p->chunks_shared_by);
    }
    if (p->pool) {
        printf("; in block order: blocks of %llu rows, pools of %llu",
               (unsigned long long)p->block, (unsigned long long)p->pool);
    }
    printf("\n");
    print_memory(p);
    printf("files: model %s %s; checkpoint %s", a->out,
           dpt__bytes_text(b1, sizeof b1, p->model_bytes),
           dpt__bytes_text(b2, sizeof b2, p->ckpt_bytes));
    if (a->ckpt) {
        printf(" each at %s: about %llu written, %llu kept\n", a->ckpt,
               (unsigned long long)p->ckpts_written, (unsigned long long)p->ckpts_kept);
    } else {
        printf(" (none written: no --checkpoint or train.checkpoint.path)\n");
    }
    printf("learning rate:");
    for (int i = 0; i < p->n_lr; i++) {
        printf("%s step %llu: ", i ? "," : "", (unsigned long long)p->lr_step[i]);
        if (isnan(p->lr)) {
            printf("x%.4g", p->lr_factor[i]);
        } else {
            printf("%.4g", p->lr * p->lr_factor[i]);
        }
    }
    printf("\n");
    if (p->steps_timed > 0) {
        printf("time: %.3g s a step (median of %d steps timed on this machine, rank 0's share; "
               "reading the rows, the allreduce, validation and checkpoints not counted): "
               "about %.3g s for "
               "%llu steps, an estimate for this machine\n", p->step_s, p->steps_timed,
               p->estimate_s, (unsigned long long)p->steps);
    }
    for (int i = 0; i < p->n_warn; i++) {
        printf("warning [%s]: %s\n", p->warn[i].id, p->warn[i].text);
    }
}

static json_t *uint_json(uint64_t v)
{
    return json_integer((json_int_t)v);
}

static json_t *memory_json(const struct dpt_plan_memory *m)
{
    json_t *o = json_object();
    json_object_set_new(o, "data", uint_json(m->data));
    json_object_set_new(o, "parameters", uint_json(m->params));
    json_object_set_new(o, "gradients", uint_json(m->grads));
    json_object_set_new(o, "optimizer", uint_json(m->optimizer));
    json_object_set_new(o, "work", uint_json(m->work));
    json_object_set_new(o, "best_weights", uint_json(m->best));
    json_object_set_new(o, "total", uint_json(m->total));
    return o;
}

static json_t *files_json(const struct plan_args *a, const struct dpt_plan *p)
{
    json_t *o = json_object();
    json_object_set_new(o, "model", json_string(a->out));
    json_object_set_new(o, "model_bytes", uint_json(p->model_bytes));
    json_object_set_new(o, "checkpoint", a->ckpt ? json_string(a->ckpt) : json_null());
    json_object_set_new(o, "checkpoint_bytes", uint_json(p->ckpt_bytes));
    json_object_set_new(o, "checkpoints_written", uint_json(p->ckpts_written));
    json_object_set_new(o, "checkpoints_kept", uint_json(p->ckpts_kept));
    return o;
}

static json_t *rows_json(const struct dpt_plan *p)
{
    json_t *a = json_array();
    for (int r = 0; r < p->ranks; r++) {
        json_t *o = json_object();
        json_object_set_new(o, "rank", json_integer(r));
        json_object_set_new(o, "train", uint_json(p->rank[r].train));
        json_object_set_new(o, "validation", uint_json(p->rank[r].validation));
        json_object_set_new(o, "test", uint_json(p->rank[r].test));
        json_object_set_new(o, "data_bytes", uint_json(p->rank[r].data_bytes));
        json_array_append_new(a, o);
    }
    return a;
}

static json_t *schedule_json(const struct dpt_plan *p)
{
    json_t *a = json_array();
    for (int i = 0; i < p->n_lr; i++) {
        json_t *o = json_object();
        json_object_set_new(o, "step", uint_json(p->lr_step[i]));
        json_object_set_new(o, "factor", json_real(p->lr_factor[i]));
        json_object_set_new(o, "learning_rate",
                            isnan(p->lr) ? json_null() : json_real(p->lr * p->lr_factor[i]));
        json_array_append_new(a, o);
    }
    return a;
}

static json_t *plan_json(const struct plan_args *a, const struct dpt_plan *p)
{
    json_t *o = json_object(), *w = json_array(), *t = json_object();
    json_object_set_new(o, "model", json_string(a->model));
    json_object_set_new(o, "ranks", json_integer(p->ranks));
    json_object_set_new(o, "threads", json_integer(p->threads));
    json_object_set_new(o, "ranks_per_node", json_integer(p->node_ranks));
    json_object_set_new(o, "rows", uint_json(p->n_file));
    json_object_set_new(o, "train_rows", uint_json(p->n_train));
    json_object_set_new(o, "validation_rows", uint_json(p->n_validation));
    json_object_set_new(o, "test_rows", uint_json(p->n_test));
    json_object_set_new(o, "per_rank", rows_json(p));
    json_object_set_new(o, "batch", uint_json(p->batch));
    json_object_set_new(o, "micro_batch", uint_json(p->micro));
    json_object_set_new(o, "micro_shards_per_step", uint_json(p->micros_per_step));
    json_object_set_new(o, "batch_note", p->batch_note[0] ? json_string(p->batch_note)
                                                          : json_null());
    json_object_set_new(o, "steps_per_epoch", uint_json(p->steps_per_epoch));
    json_object_set_new(o, "epochs", json_integer(p->epochs));
    json_object_set_new(o, "steps", uint_json(p->steps));
    json_object_set_new(o, "cache_all", json_boolean(p->cache_all));
    json_object_set_new(o, "direct_reads", json_boolean(p->direct));
    json_object_set_new(o, "chunk_reads", json_boolean(p->chunk_reads));
    json_object_set_new(o, "chunks_shared_by", json_integer(p->chunks_shared_by));
    json_object_set_new(o, "chunks_kept_in", p->kept_in[0] ? json_string(p->kept_in) : json_null());
    json_object_set_new(o, "chunks_kept_bytes", uint_json(p->kept_bytes));
    json_object_set_new(o, "chunks_kept_in_memory", json_boolean(p->kept_in_memory));
    json_object_set_new(o, "order", json_string(p->pool ? "blocks" : "rows"));
    json_object_set_new(o, "block_rows", uint_json(p->block));
    json_object_set_new(o, "pool_rows", uint_json(p->pool));
    json_object_set_new(o, "windows_per_epoch", uint_json(p->windows_per_epoch));
    json_object_set_new(o, "params", uint_json(p->n_params));
    json_object_set_new(o, "memory_per_rank", memory_json(&p->mem));
    json_object_set_new(o, "memory_per_node", uint_json(p->node_bytes));
    json_object_set_new(o, "files", files_json(a, p));
    json_object_set_new(o, "learning_rate", schedule_json(p));
    json_object_set_new(t, "steps_timed", json_integer(p->steps_timed));
    json_object_set_new(t, "step_s", json_real(p->step_s));
    json_object_set_new(t, "estimate_s", json_real(p->estimate_s));
    json_object_set_new(t, "note", json_string("an estimate for this machine: rank 0's share "
                                               "of each step, without reading the rows, "
                                               "the allreduce, validation and checkpoints"));
    json_object_set_new(o, "time", t);
    for (int i = 0; i < p->n_warn; i++) {
        json_t *x = json_object();
        json_object_set_new(x, "id", json_string(p->warn[i].id));
        json_object_set_new(x, "message", json_string(p->warn[i].text));
        json_array_append_new(w, x);
    }
    json_object_set_new(o, "warnings", w);
    return o;
}

/* The plan of the parsed arguments; prints it, returns the exit status. */
static int run(struct plan_args *a, const struct dpt_dist *d)
{
    struct dpt_err err = {0};
    struct dpt_spec spec;
    struct dpt_registry *reg = NULL;
    struct dpt_plan p = {0};
    int rc = dpt_spec_load(&spec, a->model, a->sets, a->n_sets, &err);
    if (rc == 0) {
        rc = cli_registry_create(&reg, &a->c, &err);
    }
    if (rc == 0) {
        cli_plugin_warnings(reg);
        a->ckpt = a->ckpt ? a->ckpt : spec.ckpt_path;
        /* As train_cmd.c sets them: what its checkpoints store, for their size. */
        spec.ckpt_path = a->ckpt;
        cli_run_name(d, a->model, NULL, a->name, sizeof a->name, &err); /* a stem: cannot fail */
        spec.name = a->name;
        struct dpt_plan_opts o = {.ranks = a->ranks, .threads = a->c.threads,
                                  .node_ranks = a->node_ranks, .out = a->out,
                                  .ckpt_path = a->ckpt, .time_steps = a->time_steps};
        rc = dpt_plan_make(&p, &spec, reg, d, &o, &err);
    }
    if (rc == 0 && a->c.json) {
        json_t *o = plan_json(a, &p);
        char *s = json_dumps(o, JSON_COMPACT);
        json_decref(o);
        rc = s ? 0 : dpt_err_set(&err, DPT_ENOMEM, "out of memory");
        if (s) {
            puts(s);
        }
        free(s);
    } else if (rc == 0) {
        print_text(a, &p);
    }
    if (rc < 0) {
        cli_error("%s", err.msg);
    }
    dpt_plan_cleanup(&p);
    dpt_registry_destroy(reg);
    dpt_spec_cleanup(&spec);
    return rc < 0 ? EXIT_RUN : 0;
}

int cmd_plan(int argc, char **argv)
{
    struct plan_args a = {.c.takes = CLI_TAKES_THREADS | CLI_TAKES_FORMAT};
    int rc = parse_args(&a, argc, argv);
    if (rc != 0) {
        free(a.sets);
        return rc < 0 ? 0 : rc;
    }
    struct dpt_dist d;
    if (cli_mpi_init(&argc, &argv, &d, 0) < 0) {
        free(a.sets);
        return EXIT_RUN;
    }
    if (d.size > 1) {
        rc = cli_usage_error("plan ", "dptrain plan runs as one process: run it without "
                             "mpirun and give the job's ranks with -np P");
    } else {
        rc = run(&a, &d);
    }
    cli_mpi_finalize();
    free(a.sets);
    return rc;
}
