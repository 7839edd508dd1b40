/* Checkpoint files and their rotation: see checkpoint.h. */
#include "config.h"

#include "io/checkpoint.h"
#include "io/h5file.h"
#include "io/model_io.h"
#include "util/tmpname.h"
#include "model/spec_store.h"
#include "util/util.h"

#include <errno.h>
#include <glob.h>
#include <hdf5.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

/* Adds the callbacks' state to the checksum; best holds the best weights
 * (n floats) or is NULL. */
static void hash_callbacks(XXH3_state_t *h, const struct dpt_callback_state *cb,
                           const float *best, size_t n)
{
    double d[3] = {cb->plateau_scale, cb->plateau_best, cb->es_best};
    long long i[4] = {(long long)cb->plateau_wait, (long long)cb->es_wait,
                      (long long)cb->es_best_epoch, (long long)cb->stopped_early};
    XXH3_64bits_update(h, d, sizeof d);
    XXH3_64bits_update(h, i, sizeof i);
    if (best) {
        XXH3_64bits_update(h, best, n * sizeof *best);
    }
}

/* XXH3-64 over everything a resume depends on. with_cb: the callbacks are
 * part of it (always when writing; when reading, if the file has them),
 * with the best weights best (NULL: none). */
static uint64_t checkpoint_hash(const struct dpt_net *net, const float *ostate,
                                const struct dpt_norm *norm, const struct dpt_train_state *st,
                                int with_cb, const float *best)
{
    XXH3_state_t *h = XXH3_createState();
    if (!h) {
        return 0;
    }
    XXH3_64bits_reset(h);
    XXH3_64bits_update(h, net->params, net->n_params * sizeof(float));
    XXH3_64bits_update(h, ostate, net->opt_floats * net->n_params * sizeof(float));
    dpt__model_hash_norm(h, norm);
    long long ints[4] = {(long long)st->epoch, (long long)st->step,
                         (long long)st->global_step, (long long)st->seed};
    XXH3_64bits_update(h, ints, sizeof ints);
    XXH3_64bits_update(h, &st->loss_sum, sizeof st->loss_sum);
    XXH3_64bits_update(h, &st->hit_sum, sizeof st->hit_sum);
    if (with_cb) {
        hash_callbacks(h, &st->cb, best, net->n_params);
    }
    uint64_t v = XXH3_64bits_digest(h);
    XXH3_freeState(h);
    return v;
}

struct ckpt_ctx {
    const struct dpt_net *net;
    const float *ostate;
    const char *text;
    const struct dpt_norm *norm;
    const struct dpt_train_state *st;
    const char *name; /* the model's name (struct dpt_spec, name), or NULL */
};

/* /callbacks: the callbacks' numbers, and the best weights when kept. */
static int write_callbacks(hid_t f, const struct dpt_callback_state *cb, size_t n_params)
{
    hid_t g = dpt__h5_group_create(f, "callbacks");
    hsize_t dims[1] = {n_params};
    int rc = g < 0 || dpt__h5_write_double_attr(g, "plateau_scale", cb->plateau_scale) < 0 ||
                     dpt__h5_write_double_attr(g, "plateau_best", cb->plateau_best) < 0 ||
                     dpt__h5_write_int_attr(g, "plateau_wait", cb->plateau_wait) < 0 ||
                     dpt__h5_write_double_attr(g, "es_best", cb->es_best) < 0 ||
                     dpt__h5_write_int_attr(g, "es_wait", cb->es_wait) < 0 ||
                     dpt__h5_write_int_attr(g, "es_best_epoch", cb->es_best_epoch) < 0 ||
                     dpt__h5_write_int_attr(g, "stopped_early", cb->stopped_early) < 0 ||
                     (cb->best && dpt__h5_write_array(g, "best_weights", H5T_IEEE_F32LE,
                                                      H5T_NATIVE_FLOAT, 1, dims, cb->best) < 0)
                 ? -1
                 : 0;
    if (g >= 0) {
        H5Gclose(g);
    }
    return rc;
}

/* The run record's attributes on /train; the block and pool sizes only
 * in block order. */
static int write_run_record(hid_t t, const struct dpt_run_record *run)
{
    int blocks = run->block > 0;
    return dpt__h5_write_int_attr(t, "ranks", run->ranks) < 0 ||
                   dpt__h5_write_int_attr(t, "threads", run->threads) < 0 ||
                   dpt__h5_write_int_attr(t, "deterministic", run->deterministic) < 0 ||
                   dpt__h5_write_string_attr(t, "data", run->data) < 0 ||
                   dpt__h5_write_string_attr(t, "order", blocks ? "blocks" : "rows") < 0 ||
                   (blocks && (dpt__h5_write_int_attr(t, "order_block",
                                                      (long long)run->block) < 0 ||
                               dpt__h5_write_int_attr(t, "order_pool",
                                                      (long long)run->pool) < 0))
               ? -1
               : 0;
}

static int write_checkpoint(hid_t f, const void *ctx)
{
    const struct ckpt_ctx *c = ctx;
    const struct dpt_net *net = c->net;
    if (dpt__model_write_contents(f, DPT_CKPT_FORMAT, net, c->text, c->norm) < 0) {
        return -1;
    }
    hid_t g = dpt__h5_group_create(f, "optimizer");
    hsize_t dims[2] = {net->opt_floats, net->n_params};
    int rc = g < 0 || dpt__h5_write_string_attr(g, "type", net->opt->base.name) < 0 ||
                     dpt__h5_write_array(g, "state", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, dims,
                                 c->ostate) < 0
                 ? -1
                 : 0;
    if (g >= 0) {
        H5Gclose(g);
    }
    hid_t t = rc == 0 ? dpt__h5_group_create(f, "train") : -1;
    char sum[64];
    snprintf(sum, sizeof sum, "xxh3-64:%016llx",
             (unsigned long long)checkpoint_hash(net, c->ostate, c->norm, c->st, 1,
                                                 c->st->cb.best));
    rc = t < 0 || dpt__h5_write_int_attr(t, "epoch", c->st->epoch) < 0 ||
                 dpt__h5_write_int_attr(t, "step_in_epoch", (long long)c->st->step) < 0 ||
                 dpt__h5_write_int_attr(t, "global_step", (long long)c->st->global_step) < 0 ||
                 dpt__h5_write_int_attr(t, "seed", (long long)c->st->seed) < 0 ||
                 dpt__h5_write_double_attr(t, "epoch_loss_sum", c->st->loss_sum) < 0 ||
                 dpt__h5_write_double_attr(t, "epoch_hit_sum", c->st->hit_sum) < 0 ||
                 dpt__h5_write_string_attr(t, "rng", "philox4x32-10 and a Feistel permutation, "
                                   "keyed by (seed, epoch): no other state") < 0 ||
                 dpt__h5_write_string_attr(t, "loss", net->loss->base.name) < 0 ||
                 write_run_record(t, &c->st->run) < 0 ||
                 write_callbacks(f, &c->st->cb, net->n_params) < 0 ||
                 dpt__h5_write_string_attr(f, "checksum", sum) < 0 ||
                 (c->name && dpt__h5_write_string_attr(f, "model_name", c->name) < 0)
             ? -1
             : 0;
    if (t >= 0) {
        H5Gclose(t);
    }
    return rc;
}

/* The bytes of a checkpoint's tensors: the weights and state, the
 * optimizer's state, and the best weights early stopping may keep. */
static size_t checkpoint_data_bytes(const struct dpt_net *net)
{
    return (2 + net->opt_floats) * net->n_params * sizeof(float);
}

int dpt_checkpoint_save(const char *path, const struct dpt_net *net, const float *ostate,
                        const struct dpt_spec *spec, const struct dpt_norm *norm,
                        const struct dpt_train_state *st, struct dpt_err *err)
{
    char *text = dpt_spec_stored_text(spec);
    if (!text) {
        return dpt_err_set(err, DPT_ENOMEM, "out of memory");
    }
    struct ckpt_ctx c = {net, ostate, text, norm, st, spec->name};
    int rc = dpt__h5_save_atomically(path, write_checkpoint, &c, checkpoint_data_bytes(net), err);
    free(text);
    return rc;
}

int dpt_checkpoint_file_bytes(const struct dpt_net *net, const float *ostate,
                              const struct dpt_spec *spec, const struct dpt_norm *norm,
                              const struct dpt_train_state *st, uint64_t *bytes,
                              struct dpt_err *err)
{
    char *text = dpt_spec_stored_text(spec);
    if (!text) {
        return dpt_err_set(err, DPT_ENOMEM, "out of memory");
    }
    struct ckpt_ctx c = {net, ostate, text, norm, st, spec->name};
    int rc = dpt__h5_image_bytes("(a checkpoint, measured)", write_checkpoint, &c,
                                 checkpoint_data_bytes(net), bytes, err);
    free(text);
    return rc;
}

/* The order of the run record from /train t: block and pool stay 0 (rows
 * order) unless order = "blocks" with both sizes. A file from before the
 * order was recorded was written by a build that always used rows order. */
static int read_order(hid_t t, const char *path, struct dpt_run_record *run,
                      struct dpt_err *err)
{
    char order[16] = "";
    long long block = 0, pool = 0;
    if (H5Aexists(t, "order") <= 0) {
        return 0;
    }
    if (dpt__h5_read_string_attr(t, "order", order, sizeof order) < 0 ||
        (strcmp(order, "rows") != 0 && strcmp(order, "blocks") != 0)) {
        return dpt_err_set(err, DPT_EFORMAT, "%s: damaged checkpoint: /train attribute "
                           "'order' must be \"rows\" or \"blocks\", found \"%s\"", path, order);
    }
    if (strcmp(order, "blocks") == 0 &&
        (dpt__h5_read_ll_attr(t, "order_block", &block) < 0 ||
         dpt__h5_read_ll_attr(t, "order_pool", &pool) < 0 || block < 1 || pool < block)) {
        return dpt_err_set(err, DPT_EFORMAT, "%s: damaged checkpoint: order = \"blocks\" "
                           "needs /train attributes order_block >= 1 and order_pool >= "
                           "order_block, found %lld and %lld", path, block, pool);
    }
    run->block = (uint64_t)block;
    run->pool = (uint64_t)pool;
    return 0;
}

/* The run record from /train t; attributes a file from before they were
 * recorded lacks stay zero. */
static void read_run_record(hid_t t, struct dpt_run_record *run)
{
    long long v = 0;
    if (H5Aexists(t, "ranks") > 0 && dpt__h5_read_ll_attr(t, "ranks", &v) == 0) {
        run->ranks = v;
    }
    if (H5Aexists(t, "threads") > 0 && dpt__h5_read_ll_attr(t, "threads", &v) == 0) {
        run->threads = v;
    }
    if (H5Aexists(t, "deterministic") > 0 && dpt__h5_read_ll_attr(t, "deterministic", &v) == 0) {
        run->deterministic = (int)v;
    }
    if (H5Aexists(t, "data") > 0) {
        dpt__h5_read_string_attr(t, "data", run->data, sizeof run->data);
    }
}

/* /callbacks into st->cb (st->has_cb = 1), when the file has it. The best
 * weights, when stored, are read into *best (malloc'ed, n_params floats,
 * the caller frees) for the checksum, and copied into st->cb.best when the
 * caller gave a buffer. A file from before callbacks were stored leaves
 * has_cb 0. */
static int read_callbacks(hid_t f, const char *path, const struct dpt_net *net,
                          struct dpt_train_state *st, float **best, struct dpt_err *err)
{
    if (H5Lexists(f, "callbacks", H5P_DEFAULT) <= 0) {
        return 0;
    }
    hid_t g = H5Gopen2(f, "callbacks", H5P_DEFAULT);
    struct dpt_callback_state *cb = &st->cb;
    long long pw = 0, ew = 0, be = 0, se = 0;
    int rc = 0;
    if (g < 0 || dpt__h5_read_double_attr(g, "plateau_scale", &cb->plateau_scale) < 0 ||
        dpt__h5_read_double_attr(g, "plateau_best", &cb->plateau_best) < 0 ||
        dpt__h5_read_ll_attr(g, "plateau_wait", &pw) < 0 ||
        dpt__h5_read_double_attr(g, "es_best", &cb->es_best) < 0 ||
        dpt__h5_read_ll_attr(g, "es_wait", &ew) < 0 ||
        dpt__h5_read_ll_attr(g, "es_best_epoch", &be) < 0 ||
        dpt__h5_read_ll_attr(g, "stopped_early", &se) < 0) {
        rc = dpt_err_set(err, DPT_EFORMAT, "%s: damaged checkpoint: /callbacks lacks an "
                         "attribute", path);
    }
    cb->plateau_wait = pw;
    cb->es_wait = ew;
    cb->es_best_epoch = be;
    cb->stopped_early = (int)se;
    if (rc == 0 && H5Lexists(g, "best_weights", H5P_DEFAULT) > 0) {
        *best = malloc(net->n_params * sizeof **best + 1);
        struct dpt_tensor t = {.name = "best_weights", .rank = 1, .shape = {net->n_params}};
        rc = *best ? dpt__model_read_tensor(g, path, "callbacks", &t, *best, err)
                   : dpt_err_set(err, DPT_ENOMEM, "out of memory");
        if (rc == 0 && cb->best) {
            memcpy(cb->best, *best, net->n_params * sizeof *cb->best);
        }
    }
    if (g >= 0) {
        H5Gclose(g);
    }
    st->has_cb = rc == 0;
    return rc;
}

/* /train into st (where training stands and the run record) and the
 * file's checksum attribute into sum (len bytes). */
static int read_train_state(hid_t f, const char *path, struct dpt_train_state *st, char *sum,
                            size_t len, struct dpt_err *err)
{
    long long ep = 0, step = 0, gstep = 0, seed = 0;
    int rc = 0;
    hid_t t = H5Lexists(f, "train", H5P_DEFAULT) > 0 ? H5Gopen2(f, "train", H5P_DEFAULT) : -1;
    if (t < 0 || dpt__h5_read_ll_attr(t, "epoch", &ep) < 0 ||
        dpt__h5_read_ll_attr(t, "step_in_epoch", &step) < 0 ||
        dpt__h5_read_ll_attr(t, "global_step", &gstep) < 0 || dpt__h5_read_ll_attr(t, "seed", &seed) < 0 ||
        dpt__h5_read_double_attr(t, "epoch_loss_sum", &st->loss_sum) < 0 ||
        dpt__h5_read_double_attr(t, "epoch_hit_sum", &st->hit_sum) < 0 ||
        dpt__h5_read_string_attr(f, "checksum", sum, len) < 0) {
        rc = dpt_err_set(err, DPT_EFORMAT, "%s: damaged checkpoint: /train or the "
                         "checksum is missing", path);
    }
    st->epoch = ep;
    st->step = (uint64_t)step;
    st->global_step = (uint64_t)gstep;
    st->seed = (uint64_t)seed;
    if (t >= 0) {
        read_run_record(t, &st->run);
        if (rc == 0) {
            rc = read_order(t, path, &st->run, err);
        }
        H5Gclose(t);
    }
    return rc;
}

/* /optimizer into ostate (opt_floats * n_params floats), after checking
 * that it is the state of the model's optimizer. */
static int read_optimizer(hid_t f, const char *path, const struct dpt_net *net, float *ostate,
                          struct dpt_err *err)
{
    char opt[64] = "";
    int rc = 0;
    hid_t g = H5Lexists(f, "optimizer", H5P_DEFAULT) > 0 ? H5Gopen2(f, "optimizer", H5P_DEFAULT)
                                                         : -1;
    if (g < 0 || dpt__h5_read_string_attr(g, "type", opt, sizeof opt) < 0) {
        rc = dpt_err_set(err, DPT_EFORMAT, "%s: damaged checkpoint: no /optimizer", path);
    } else if (strcmp(opt, net->opt->base.name) != 0) {
        rc = dpt_err_set(err, DPT_ECONFIG, "%s: the checkpoint's optimizer is '%s'; the "
                         "model file's is '%s'", path, opt, net->opt->base.name);
    } else if (net->opt_floats > 0) {
        struct dpt_tensor ts = {.name = "state", .rank = 2,
                                .shape = {net->opt_floats, net->n_params}};
        rc = dpt__model_read_tensor(g, path, "optimizer", &ts, ostate, err);
    }
    if (g >= 0) {
        H5Gclose(g);
    }
    return rc;
}

/* The checksum of what was read against the one the file says (sum). */
static int check_sum(const char *path, const struct dpt_net *net, const float *ostate,
                     const struct dpt_norm *norm, const struct dpt_train_state *st,
                     const float *best, const char *sum, struct dpt_err *err)
{
    char want[64];
    snprintf(want, sizeof want, "xxh3-64:%016llx",
             (unsigned long long)checkpoint_hash(net, ostate, norm, st, st->has_cb, best));
    if (strcmp(want, sum) != 0) {
        return dpt_err_set(err, DPT_EFORMAT, "%s: checksum mismatch (file says %s, contents "
                           "give %s): the checkpoint is corrupted", path, sum, want);
    }
    return 0;
}

int dpt__checkpoint_verify(hid_t f, const char *path, const struct dpt_net *net,
                           const struct dpt_norm *norm, struct dpt_err *err)
{
    struct dpt_train_state st;
    memset(&st, 0, sizeof st);
    char sum[64] = "";
    float *best = NULL, *ostate = dpt__zalloc_aligned(net->opt_floats * net->n_params *
                                                      sizeof(float));
    int rc = ostate ? read_train_state(f, path, &st, sum, sizeof sum, err)
                    : dpt_err_set(err, DPT_ENOMEM, "out of memory");
    if (rc == 0) {
        rc = read_optimizer(f, path, net, ostate, err);
    }
    if (rc == 0) {
        rc = read_callbacks(f, path, net, &st, &best, err);
    }
    if (rc == 0) {
        rc = check_sum(path, net, ostate, norm, &st, best, sum, err);
    }
    free(best);
    free(ostate);
    return rc;
}

int dpt_checkpoint_load(const char *path, struct dpt_net *net, float *ostate,
                        struct dpt_norm *norm, struct dpt_train_state *st,
                        const struct dpt_warn *warn, struct dpt_err *err)
{
    struct dpt__model_file h;
    char fmt[64] = "", sum[64] = "";
    float *keep_best = st->cb.best, *best = NULL;
    memset(st, 0, sizeof *st);
    st->cb.best = keep_best;
    dpt_norm_cleanup(norm);
    int rc = dpt__model_open(&h, path, fmt, sizeof fmt, err);
    if (rc == 0 && strcmp(fmt, DPT_CKPT_FORMAT) != 0) {
        rc = dpt_err_set(err, DPT_EFORMAT, "%s: a trained model, not a checkpoint (use --init "
                         "to start from its weights)", path);
    }
    if (rc == 0) {
        rc = read_train_state(h.f, path, st, sum, sizeof sum, err);
    }
    if (rc == 0) {
        rc = dpt__model_read_layers(h.f, path, net, warn, err);
    }
    if (rc == 0) {
        /* After the layers, whose message about another input width names
         * the tensor; this catches what the tensors cannot show. */
        rc = dpt__model_check_input(h.f, path, net, err);
    }
    if (rc == 0) {
        rc = read_optimizer(h.f, path, net, ostate, err);
    }
    if (rc == 0) {
        rc = dpt__model_read_norm(h.f, path, net->n_in, norm, err);
    }
    if (rc == 0) {
        rc = read_callbacks(h.f, path, net, st, &best, err);
    }
    if (rc == 0) {
        rc = check_sum(path, net, ostate, norm, st, best, sum, err);
    }
    dpt__model_close(&h);
    free(best);
    if (rc < 0) {
        dpt_norm_cleanup(norm);
    }
    return rc;
}

int dpt_checkpoint_model_name(const char *path, char *buf, size_t len)
{
    struct dpt__model_file h;
    char fmt[64] = "";
    struct dpt_err err = {0};
    int rc = dpt__model_open(&h, path, fmt, sizeof fmt, &err);
    if (rc == 0 && (H5Aexists(h.f, "model_name") <= 0 ||
                    dpt__h5_read_string_attr(h.f, "model_name", buf, len) < 0 || !buf[0])) {
        rc = -1;
    }
    dpt__model_close(&h);
    return rc < 0 ? -1 : 0;
}

/* "dir/ckpt.h5" -> "dir/ckpt" + ".h5" split for numbered files. */
static void split_ext(const char *path, char *stem, size_t len, const char **ext)
{
    const char *dot = strrchr(path, '.'), *slash = strrchr(path, '/');
    if (dot && (!slash || dot > slash + 1)) {
        snprintf(stem, len, "%.*s", (int)(dot - path), path);
        *ext = dot;
    } else {
        snprintf(stem, len, "%s", path);
        *ext = ".h5";
    }
}

struct aged {
    char *path;
    struct timespec mtime;
};

static int newer_first(const void *a, const void *b)
{
    const struct timespec *x = &((const struct aged *)a)->mtime;
    const struct timespec *y = &((const struct aged *)b)->mtime;
    if (x->tv_sec != y->tv_sec) {
        return x->tv_sec < y->tv_sec ? 1 : -1;
    }
    return (x->tv_nsec < y->tv_nsec) - (x->tv_nsec > y->tv_nsec);
}

/* Keeps the `keep` most recently written numbered checkpoints of stem (the
 * one just written, `current`, always among them) and deletes the rest, and
 * temporary files a killed writer left behind. */
static void prune(const char *stem, const char *ext, int64_t keep, const char *current)
{
    char pattern[PATH_MAX + 128];
    glob_t g;
    snprintf(pattern, sizeof pattern, "%s-[0-9]*[0-9]%s", stem, ext);
    if (glob(pattern, 0, NULL, &g) == 0) {
        struct aged *files = calloc(g.gl_pathc, sizeof *files);
        size_t n = 0;
        for (size_t i = 0; files && i < g.gl_pathc; i++) {
            struct stat st;
            if (strcmp(g.gl_pathv[i], current) != 0 && stat(g.gl_pathv[i], &st) == 0) {
                files[n++] = (struct aged){g.gl_pathv[i], st.st_mtim};
            }
        }
        if (files) {
            qsort(files, n, sizeof *files, newer_first);
            for (size_t i = (size_t)keep - 1; i < n; i++) {
                unlink(files[i].path);
            }
        }
        free(files);
        globfree(&g);
    }
    /* Exactly the names io/output.c gives temporary files (PATH.tmp- and
     * the random part, util/tmpname.h), and only regular files of ours:
     * never a file someone else put in a shared folder. */
    snprintf(pattern, sizeof pattern, "%s-[0-9]*[0-9]%s" DPT__TMP_SEP DPT__RANDOM_GLOB, stem, ext);
    if (glob(pattern, 0, NULL, &g) == 0) {
        for (size_t i = 0; i < g.gl_pathc; i++) {
            if (dpt__tmp_is_ours(g.gl_pathv[i])) {
                unlink(g.gl_pathv[i]);
            }
        }
        globfree(&g);
    }
}

/* Points the link path at file (its name in the same folder): a new
 * symbolic link under an unpredictable name (symlink(2) fails on anything
 * already there, like O_EXCL; a taken name is retried), renamed over path,
 * which replaces a link or file there rather than writing through it. 0,
 * or -1 with errno; no temporary link is left behind. */
static int point_link(const char *path, const char *file)
{
    char prefix[PATH_MAX + 16], link_tmp[PATH_MAX + 64];
    snprintf(prefix, sizeof prefix, "%s.link-", path);
    for (int i = 0; i < DPT__CREATE_TRIES; i++) {
        if (dpt__random_name(prefix, link_tmp, sizeof link_tmp) < 0) {
            return -1;
        }
        if (symlink(file, link_tmp) == 0) {
            if (rename(link_tmp, path) == 0) {
                return 0;
            }
            int e = errno;
            unlink(link_tmp);
            errno = e;
            return -1;
        }
        if (errno != EEXIST) {
            return -1;
        }
    }
    return -1;
}

int dpt_checkpoint_write(const char *path, int64_t keep, const struct dpt_net *net,
                         const float *ostate, const struct dpt_spec *spec,
                         const struct dpt_norm *norm, const struct dpt_train_state *st,
                         struct dpt_err *err)
{
    char stem[PATH_MAX - 32], file[PATH_MAX];
    const char *ext;
    split_ext(path, stem, sizeof stem, &ext);
    snprintf(file, sizeof file, "%s-%012llu%s", stem, (unsigned long long)st->global_step, ext);
    int rc = dpt_checkpoint_save(file, net, ostate, spec, norm, st, err);
    if (rc < 0) {
        return rc;
    }
    const char *slash = strrchr(file, '/');
    if (point_link(path, slash ? slash + 1 : file) < 0) {
        return dpt_err_set(err, DPT_EIO, "%s: cannot point the checkpoint link at %s: %s (is %s a "
                           "folder?)", path, file, strerror(errno), path);
    }
    prune(stem, ext, keep > 0 ? keep : 1, file);
    return 0;
}

/* Appends line and a newline to the malloc'ed string *list. -1 when out of
 * memory. */
static int append_line(char **list, size_t *len, const char *line)
{
    size_t n = strlen(line);
    char *grown = realloc(*list, *len + n + 2);
    if (!grown) {
        return -1;
    }
    memcpy(grown + *len, line, n);
    grown[*len + n] = '\n';
    grown[*len + n + 1] = '\0';
    *list = grown;
    *len += n + 1;
    return 0;
}

int dpt_checkpoint_series(const char *path, char **list, struct dpt_err *err)
{
    char stem[PATH_MAX - 32], pattern[PATH_MAX + 32];
    const char *ext;
    split_ext(path, stem, sizeof stem, &ext);
    snprintf(pattern, sizeof pattern, "%s-[0-9]*[0-9]%s", stem, ext);
    *list = calloc(1, 1);
    size_t len = 0;
    int rc = *list ? 0 : dpt_err_set(err, DPT_ENOMEM, "out of memory");
    glob_t g;
    int globbed = rc == 0 && glob(pattern, 0, NULL, &g) == 0;
    struct aged *files = globbed ? calloc(g.gl_pathc, sizeof *files) : NULL;
    size_t n = 0;
    if (globbed && !files) {
        rc = dpt_err_set(err, DPT_ENOMEM, "out of memory");
    }
    for (size_t i = 0; files && i < g.gl_pathc; i++) {
        struct stat st;
        if (stat(g.gl_pathv[i], &st) == 0 && S_ISREG(st.st_mode)) {
            files[n++] = (struct aged){g.gl_pathv[i], st.st_mtim};
        }
    }
    if (files) {
        qsort(files, n, sizeof *files, newer_first);
    }
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (append_line(list, &len, files[i].path) < 0) {
            rc = dpt_err_set(err, DPT_ENOMEM, "out of memory");
        }
    }
    free(files);
    if (globbed) {
        globfree(&g);
    }
    if (rc < 0) {
        free(*list);
        *list = NULL;
    }
    return rc;
}
