/* Trained-model files: see model_file.h for the layout. */
#include "config.h"

#include "io/model_file.h"
#include "util/util.h"

#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#define FORMAT "dptrain-model"
#define FORMAT_VERSION 1
#define CKPT_FORMAT "dptrain-checkpoint"

static int write_string_attr(hid_t obj, const char *name, const char *value)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(obj, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
    int rc = (a >= 0 && H5Awrite(a, t, &value) >= 0) ? 0 : -1;
    if (a >= 0) {
        H5Aclose(a);
    }
    H5Sclose(sp);
    H5Tclose(t);
    return rc;
}

static int write_int_attr(hid_t obj, const char *name, long long value)
{
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(obj, name, H5T_STD_I64LE, sp, H5P_DEFAULT, H5P_DEFAULT);
    int rc = (a >= 0 && H5Awrite(a, H5T_NATIVE_LLONG, &value) >= 0) ? 0 : -1;
    if (a >= 0) {
        H5Aclose(a);
    }
    H5Sclose(sp);
    return rc;
}

static int write_array(hid_t loc, const char *name, hid_t file_type, hid_t mem_type, int rank,
                       const hsize_t *dims, const void *data)
{
    hid_t sp = H5Screate_simple(rank, dims, NULL);
    hid_t ds = H5Dcreate2(loc, name, file_type, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int rc = (ds >= 0 && H5Dwrite(ds, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0) ? 0
                                                                                          : -1;
    if (ds >= 0) {
        H5Dclose(ds);
    }
    H5Sclose(sp);
    return rc;
}

static int write_string_dataset(hid_t loc, const char *name, const char *text)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t ds = H5Dcreate2(loc, name, t, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int rc = (ds >= 0 && H5Dwrite(ds, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, &text) >= 0) ? 0 : -1;
    if (ds >= 0) {
        H5Dclose(ds);
    }
    H5Sclose(sp);
    H5Tclose(t);
    return rc;
}

/* Tensor i of node nd, or the whole slice as "params" for plugins that do
 * not describe their tensors. 0, or -1 past the last. */
static int node_tensor(const struct dpt_node *nd, uint32_t i, struct dpt_tensor *t)
{
    if (nd->layer->tensor) {
        return nd->layer->tensor(nd->state, i, t);
    }
    if (i > 0) {
        return -1;
    }
    *t = (struct dpt_tensor){.name = "params", .rank = 1, .shape = {nd->n_params}, .offset = 0};
    return 0;
}

static void group_name(char *buf, size_t len, const struct dpt_node *nd)
{
    snprintf(buf, len, "%02d_%s", nd->layer_index, nd->layer->base.name);
}

static int write_contents(hid_t f, const char *format, const struct dpt_net *net,
                          const char *config_text, const struct dpt_norm *norm)
{
    char abi[16];
    snprintf(abi, sizeof abi, "%d.%d", DPT_ABI_MAJOR, DPT_ABI_MINOR);
    if (write_string_attr(f, "format", format) < 0 ||
        write_int_attr(f, "format_version", FORMAT_VERSION) < 0 ||
        write_string_attr(f, "dptrain_version", PACKAGE_VERSION) < 0 ||
        write_string_attr(f, "plugin_abi", abi) < 0 ||
        write_int_attr(f, "n_inputs", (long long)net->n_in) < 0 ||
        write_int_attr(f, "n_outputs", (long long)net->n_out) < 0 ||
        write_string_dataset(f, "config", config_text) < 0) {
        return -1;
    }
    hid_t layers = H5Gcreate2(f, "layers", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (layers < 0) {
        return -1;
    }
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < net->n_nodes; i++) {
        const struct dpt_node *nd = &net->nodes[i];
        if (nd->kind != DPT_KIND_LAYER) {
            continue;
        }
        char name[128];
        group_name(name, sizeof name, nd);
        hid_t g = H5Gcreate2(layers, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        rc = g < 0 || write_string_attr(g, "type", nd->layer->base.name) < 0 ||
                     write_int_attr(g, "index", nd->layer_index) < 0
                 ? -1
                 : 0;
        struct dpt_tensor t;
        for (uint32_t k = 0; rc == 0 && node_tensor(nd, k, &t) == 0; k++) {
            hsize_t dims[4];
            for (uint32_t j = 0; j < t.rank && j < 4; j++) {
                dims[j] = t.shape[j];
            }
            rc = write_array(g, t.name, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, (int)t.rank, dims,
                             net->params + nd->param_off + t.offset);
        }
        if (g >= 0) {
            H5Gclose(g);
        }
    }
    H5Gclose(layers);
    if (rc == 0 && norm && (norm->f || norm->yc)) {
        hid_t g = H5Gcreate2(f, "standardize", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        hsize_t dims[1] = {norm->f}, ydims[1] = {norm->yc};
        rc = g < 0 ? -1 : 0;
        if (rc == 0 && norm->f) {
            rc = write_array(g, "mean", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, dims, norm->mean) < 0 ||
                         write_array(g, "std", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, dims, norm->std) < 0
                     ? -1
                     : 0;
        }
        if (rc == 0 && norm->yc) {
            rc = write_array(g, "y_mean", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, ydims, norm->y_mean) < 0 ||
                         write_array(g, "y_std", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, ydims, norm->y_std) < 0
                     ? -1
                     : 0;
        }
        if (g >= 0) {
            H5Gclose(g);
        }
    }
    return rc;
}

/* fsync a file or directory by path; 0 or -1 with errno. */
static int sync_path(const char *path, int dir)
{
    int fd = open(path, dir ? O_RDONLY | O_DIRECTORY : O_RDONLY);
    if (fd < 0) {
        return -1;
    }
    int rc = fsync(fd);
    close(fd);
    return rc;
}

/* Creates path through a temporary file: fill(f, ctx) fills it; then
 * flush, fsync, rename, fsync the folder. */
static int save_atomically(const char *path, int (*fill)(hid_t f, const void *ctx),
                           const void *ctx, struct dpt_err *err)
{
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s.tmp-%ld", path, (long)getpid());
    H5E_auto2_t old_fn;
    void *old_data;
    H5Eget_auto2(H5E_DEFAULT, &old_fn, &old_data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t f = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    int rc = 0;
    if (f < 0) {
        rc = dpt_err_set(err, DPT_EIO, "%s: cannot create the file (does its folder exist and "
                         "can you write there?)", tmp);
    } else {
        int w = fill(f, ctx);
        int fl = H5Fflush(f, H5F_SCOPE_GLOBAL);
        int cl = H5Fclose(f);
        if (w < 0 || fl < 0 || cl < 0) {
            rc = dpt_err_set(err, DPT_EIO, "%s: writing failed (disk full?)", tmp);
        }
    }
    H5Eset_auto2(H5E_DEFAULT, old_fn, old_data);
    if (rc == 0 && sync_path(tmp, 0) < 0) {
        rc = dpt_err_set(err, DPT_EIO, "%s: fsync: %s", tmp, strerror(errno));
    }
    if (rc == 0 && rename(tmp, path) < 0) {
        rc = dpt_err_set(err, DPT_EIO, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
    }
    if (rc < 0) {
        unlink(tmp);
        return rc;
    }
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    sync_path(dirname(dir), 1); /* best effort: make the rename durable */
    return 0;
}

struct model_ctx {
    const struct dpt_net *net;
    const char *text;
    const struct dpt_norm *norm;
};

static int write_model(hid_t f, const void *ctx)
{
    const struct model_ctx *m = ctx;
    return write_contents(f, FORMAT, m->net, m->text, m->norm);
}

int dpt_model_save(const char *path, const struct dpt_net *net, const struct dpt_spec *spec,
                   const struct dpt_norm *norm, struct dpt_err *err)
{
    char *text = dpt_spec_to_string(spec);
    if (!text) {
        return dpt_err_set(err, DPT_ENOMEM, "out of memory");
    }
    struct model_ctx m = {net, text, norm};
    int rc = save_atomically(path, write_model, &m, err);
    free(text);
    return rc;
}

struct pred_ctx {
    const float *pred;
    const int *labels;
    size_t n, n_out;
};

static int write_pred(hid_t f, const void *ctx)
{
    const struct pred_ctx *p = ctx;
    hsize_t dims[2] = {p->n, p->n_out};
    if (write_string_attr(f, "format", "dptrain-predictions") < 0 ||
        write_array(f, "pred", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, dims, p->pred) < 0) {
        return -1;
    }
    return p->labels ? write_array(f, "label", H5T_STD_I32LE, H5T_NATIVE_INT, 1, dims, p->labels)
                     : 0;
}

int dpt_predictions_save(const char *path, const float *pred, const int *labels, size_t n,
                         size_t n_out, struct dpt_err *err)
{
    struct pred_ctx p = {pred, labels, n, n_out};
    return save_atomically(path, write_pred, &p, err);
}

static char *read_string_dataset(hid_t f, const char *name)
{
    hid_t ds = H5Dopen2(f, name, H5P_DEFAULT);
    if (ds < 0) {
        return NULL;
    }
    hid_t ft = H5Dget_type(ds);
    char *out = NULL;
    if (H5Tget_class(ft) == H5T_STRING) {
        if (H5Tis_variable_str(ft) > 0) {
            hid_t t = H5Tcopy(H5T_C_S1);
            H5Tset_size(t, H5T_VARIABLE);
            H5Tset_cset(t, H5Tget_cset(ft));
            char *s = NULL;
            if (H5Dread(ds, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, &s) >= 0 && s) {
                out = dpt__strdup(s);
                H5free_memory(s);
            }
            H5Tclose(t);
        } else {
            size_t n = H5Tget_size(ft);
            out = calloc(n + 1, 1);
            if (out && H5Dread(ds, ft, H5S_ALL, H5S_ALL, H5P_DEFAULT, out) < 0) {
                free(out);
                out = NULL;
            }
        }
    }
    H5Tclose(ft);
    H5Dclose(ds);
    return out;
}

static int read_string_attr(hid_t obj, const char *name, char *buf, size_t len)
{
    if (H5Aexists(obj, name) <= 0) {
        return -1;
    }
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    hid_t ft = H5Aget_type(a);
    int rc = -1;
    if (H5Tget_class(ft) == H5T_STRING && H5Tis_variable_str(ft) > 0) {
        hid_t t = H5Tcopy(H5T_C_S1);
        H5Tset_size(t, H5T_VARIABLE);
        H5Tset_cset(t, H5Tget_cset(ft));
        char *s = NULL;
        if (H5Aread(a, t, &s) >= 0 && s) {
            snprintf(buf, len, "%s", s);
            H5free_memory(s);
            rc = 0;
        }
        H5Tclose(t);
    }
    H5Tclose(ft);
    H5Aclose(a);
    return rc;
}

static int read_ll_attr(hid_t obj, const char *name, long long *v)
{
    if (H5Aexists(obj, name) <= 0) {
        return -1;
    }
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    int rc = H5Aread(a, H5T_NATIVE_LLONG, v) >= 0 ? 0 : -1;
    H5Aclose(a);
    return rc;
}

/* Reads a float tensor; its shape must be t's. */
static int read_tensor(hid_t g, const char *file, const char *gname, const struct dpt_tensor *t,
                       float *dst, struct dpt_err *err)
{
    if (H5Lexists(g, t->name, H5P_DEFAULT) <= 0) {
        return dpt_err_set(err, DPT_EFORMAT, "%s: missing dataset /layers/%s/%s", file, gname,
                           t->name);
    }
    hid_t ds = H5Dopen2(g, t->name, H5P_DEFAULT);
    hid_t sp = H5Dget_space(ds);
    int rank = H5Sget_simple_extent_ndims(sp);
    hsize_t dims[8] = {0};
    int ok = rank == (int)t->rank && rank <= 8;
    if (ok) {
        H5Sget_simple_extent_dims(sp, dims, NULL);
        for (int j = 0; j < rank; j++) {
            ok = ok && dims[j] == t->shape[j];
        }
    }
    int rc = 0;
    if (!ok) {
        char want[96] = "", got[96] = "";
        for (uint32_t j = 0; j < t->rank && j < 4; j++) {
            size_t u = strlen(want);
            snprintf(want + u, sizeof want - u, "%s%llu", j ? ", " : "",
                     (unsigned long long)t->shape[j]);
        }
        for (int j = 0; j < rank && j < 8; j++) {
            size_t u = strlen(got);
            snprintf(got + u, sizeof got - u, "%s%llu", j ? ", " : "", (unsigned long long)dims[j]);
        }
        rc = dpt_err_set(err, DPT_EFORMAT, "%s: /layers/%s/%s has shape [%s]; the model "
                         "needs [%s] (a different model?)", file, gname, t->name, got, want);
    } else if (H5Dread(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, dst) < 0) {
        rc = dpt_err_set(err, DPT_EIO, "%s: cannot read /layers/%s/%s", file, gname, t->name);
    }
    H5Sclose(sp);
    H5Dclose(ds);
    return rc;
}

/* Reads name (float64, n values) into dst; 0 or an error. */
static int read_doubles(hid_t f, const char *path, const char *name, double *dst, size_t n,
                        struct dpt_err *err)
{
    hid_t ds = H5Dopen2(f, name, H5P_DEFAULT);
    hid_t sp = ds >= 0 ? H5Dget_space(ds) : -1;
    int ok = sp >= 0 && H5Sget_simple_extent_npoints(sp) == (hssize_t)n &&
             H5Dread(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, dst) >= 0;
    if (sp >= 0) {
        H5Sclose(sp);
    }
    if (ds >= 0) {
        H5Dclose(ds);
    }
    return ok ? 0 : dpt_err_set(err, DPT_EFORMAT, "%s: /%s must be float64 [%zu]", path, name, n);
}

/* Size of a 1-D dataset, or 0. */
static size_t extent(hid_t f, const char *name)
{
    hid_t ds = H5Dopen2(f, name, H5P_DEFAULT);
    hid_t sp = ds >= 0 ? H5Dget_space(ds) : -1;
    hssize_t n = sp >= 0 ? H5Sget_simple_extent_npoints(sp) : 0;
    if (sp >= 0) {
        H5Sclose(sp);
    }
    if (ds >= 0) {
        H5Dclose(ds);
    }
    return n > 0 ? (size_t)n : 0;
}

static int read_norm(hid_t f, const char *path, size_t n_in, struct dpt_norm *norm,
                     struct dpt_err *err)
{
    if (H5Lexists(f, "standardize", H5P_DEFAULT) <= 0) {
        return 0;
    }
    int rc = 0;
    if (H5Lexists(f, "standardize/mean", H5P_DEFAULT) > 0) {
        rc = dpt_norm_alloc_x(norm, n_in) < 0 ? dpt_err_set(err, DPT_ENOMEM, "out of memory") : 0;
        if (rc == 0) {
            rc = read_doubles(f, path, "standardize/mean", norm->mean, n_in, err);
        }
        if (rc == 0) {
            rc = read_doubles(f, path, "standardize/std", norm->std, n_in, err);
        }
    }
    size_t yc = H5Lexists(f, "standardize/y_mean", H5P_DEFAULT) > 0
                    ? extent(f, "standardize/y_mean")
                    : 0;
    if (rc == 0 && yc) {
        rc = dpt_norm_alloc_y(norm, yc) < 0 ? dpt_err_set(err, DPT_ENOMEM, "out of memory") : 0;
        if (rc == 0) {
            rc = read_doubles(f, path, "standardize/y_mean", norm->y_mean, yc, err);
        }
        if (rc == 0) {
            rc = read_doubles(f, path, "standardize/y_std", norm->y_std, yc, err);
        }
    }
    if (rc == 0) {
        dpt_norm_finish(norm);
    }
    return rc;
}

/* Opens a model or checkpoint file read-only with HDF5's messages off;
 * *format receives its format attribute. Close with close_file. */
struct h5file {
    hid_t f;
    H5E_auto2_t old_fn;
    void *old_data;
};

static int open_file(struct h5file *h, const char *path, char *format, size_t len,
                     struct dpt_err *err)
{
    H5Eget_auto2(H5E_DEFAULT, &h->old_fn, &h->old_data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    h->f = -1;
    if (access(path, R_OK) != 0) {
        return dpt_err_set(err, DPT_EIO, "%s: %s", path, strerror(errno));
    }
    h->f = H5Fis_hdf5(path) > 0 ? H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT) : -1;
    if (h->f < 0) {
        return dpt_err_set(err, DPT_EFORMAT, "%s: not an HDF5 file (or a truncated one)", path);
    }
    if (read_string_attr(h->f, "format", format, len) < 0 ||
        (strcmp(format, FORMAT) != 0 && strcmp(format, CKPT_FORMAT) != 0)) {
        return dpt_err_set(err, DPT_EFORMAT, "%s: not a dptrain model file (no format = \"%s\" "
                           "attribute)", path, FORMAT);
    }
    return 0;
}

static void close_file(struct h5file *h)
{
    if (h->f >= 0) {
        H5Fclose(h->f);
    }
    H5Eset_auto2(H5E_DEFAULT, h->old_fn, h->old_data);
}

/* Reads every layer's tensors into net->params. */
static int read_layers(hid_t f, const char *path, struct dpt_net *net, struct dpt_err *err)
{
    for (size_t i = 0; i < net->n_nodes; i++) {
        const struct dpt_node *nd = &net->nodes[i];
        if (nd->kind != DPT_KIND_LAYER) {
            continue;
        }
        char gname[128], full[160];
        group_name(gname, sizeof gname, nd);
        snprintf(full, sizeof full, "layers/%s", gname);
        if (H5Lexists(f, "layers", H5P_DEFAULT) <= 0 || H5Lexists(f, full, H5P_DEFAULT) <= 0) {
            return dpt_err_set(err, DPT_EFORMAT, "%s: no group /%s (the file holds a different "
                               "model)", path, full);
        }
        hid_t g = H5Gopen2(f, full, H5P_DEFAULT);
        struct dpt_tensor t;
        int rc = 0;
        for (uint32_t k = 0; rc == 0 && node_tensor(nd, k, &t) == 0; k++) {
            rc = read_tensor(g, path, gname, &t, net->params + nd->param_off + t.offset, err);
        }
        H5Gclose(g);
        if (rc < 0) {
            return rc;
        }
    }
    return 0;
}

int dpt_model_read_config(const char *path, char **text, struct dpt_err *err)
{
    struct h5file h;
    char fmt[64] = "";
    *text = NULL;
    int rc = open_file(&h, path, fmt, sizeof fmt, err);
    if (rc == 0 && !(*text = read_string_dataset(h.f, "config"))) {
        rc = dpt_err_set(err, DPT_EFORMAT, "%s: damaged file: no /config", path);
    }
    close_file(&h);
    return rc;
}

int dpt_model_load(const char *path, const struct dpt_registry *reg, struct dpt_spec *spec,
                   struct dpt_net **net_out, struct dpt_norm *norm, struct dpt_err *err)
{
    *net_out = NULL;
    memset(norm, 0, sizeof *norm);
    memset(spec, 0, sizeof *spec);
    config_init(&spec->cfg);
    struct dpt_net *net = NULL;
    char *text = NULL;
    struct h5file h;
    char fmt[64] = "";
    long long n_in = 0;
    int rc = open_file(&h, path, fmt, sizeof fmt, err);
    if (rc == 0 && (read_ll_attr(h.f, "n_inputs", &n_in) < 0 || n_in <= 0 ||
                    !(text = read_string_dataset(h.f, "config")))) {
        rc = dpt_err_set(err, DPT_EFORMAT, "%s: damaged model file (no /config or n_inputs)",
                         path);
    }
    if (rc == 0) {
        config_destroy(&spec->cfg);
        char name[PATH_MAX];
        snprintf(name, sizeof name, "%s:/config", path);
        rc = dpt_spec_parse(spec, text, name, err);
    }
    if (rc == 0) {
        rc = dpt_net_create(&net, spec, reg, (size_t)n_in, err);
    }
    if (rc == 0) {
        rc = read_layers(h.f, path, net, err);
    }
    if (rc == 0) {
        rc = read_norm(h.f, path, (size_t)n_in, norm, err);
    }
    close_file(&h);
    free(text);
    if (rc < 0) {
        dpt_net_destroy(net);
        dpt_norm_cleanup(norm);
        return rc;
    }
    *net_out = net;
    return 0;
}

int dpt_weights_load(const char *path, struct dpt_net *net, struct dpt_err *err)
{
    struct h5file h;
    char fmt[64] = "";
    int rc = open_file(&h, path, fmt, sizeof fmt, err);
    if (rc == 0) {
        rc = read_layers(h.f, path, net, err);
    }
    close_file(&h);
    return rc;
}

/* ---- Checkpoints ---- */

/* XXH3-64 over everything a resume depends on. */
static uint64_t checkpoint_hash(const struct dpt_net *net, const float *ostate,
                                const struct dpt_norm *norm, const struct dpt_train_state *st)
{
    XXH3_state_t *h = XXH3_createState();
    if (!h) {
        return 0;
    }
    XXH3_64bits_reset(h);
    XXH3_64bits_update(h, net->params, net->n_params * sizeof(float));
    XXH3_64bits_update(h, ostate, net->opt_floats * net->n_params * sizeof(float));
    if (norm && norm->f) {
        XXH3_64bits_update(h, norm->mean, norm->f * sizeof(double));
        XXH3_64bits_update(h, norm->std, norm->f * sizeof(double));
    }
    if (norm && norm->yc) {
        XXH3_64bits_update(h, norm->y_mean, norm->yc * sizeof(double));
        XXH3_64bits_update(h, norm->y_std, norm->yc * sizeof(double));
    }
    long long ints[4] = {(long long)st->epoch, (long long)st->step,
                         (long long)st->global_step, (long long)st->seed};
    XXH3_64bits_update(h, ints, sizeof ints);
    XXH3_64bits_update(h, &st->loss_sum, sizeof st->loss_sum);
    XXH3_64bits_update(h, &st->hit_sum, sizeof st->hit_sum);
    uint64_t v = XXH3_64bits_digest(h);
    XXH3_freeState(h);
    return v;
}

static int write_double_attr(hid_t obj, const char *name, double value)
{
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(obj, name, H5T_IEEE_F64LE, sp, H5P_DEFAULT, H5P_DEFAULT);
    int rc = (a >= 0 && H5Awrite(a, H5T_NATIVE_DOUBLE, &value) >= 0) ? 0 : -1;
    if (a >= 0) {
        H5Aclose(a);
    }
    H5Sclose(sp);
    return rc;
}

static int read_double_attr(hid_t obj, const char *name, double *v)
{
    if (H5Aexists(obj, name) <= 0) {
        return -1;
    }
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    int rc = H5Aread(a, H5T_NATIVE_DOUBLE, v) >= 0 ? 0 : -1;
    H5Aclose(a);
    return rc;
}

struct ckpt_ctx {
    const struct dpt_net *net;
    const float *ostate;
    const char *text;
    const struct dpt_norm *norm;
    const struct dpt_train_state *st;
};

static int write_checkpoint(hid_t f, const void *ctx)
{
    const struct ckpt_ctx *c = ctx;
    const struct dpt_net *net = c->net;
    if (write_contents(f, CKPT_FORMAT, net, c->text, c->norm) < 0) {
        return -1;
    }
    hid_t g = H5Gcreate2(f, "optimizer", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t dims[2] = {net->opt_floats, net->n_params};
    int rc = g < 0 || write_string_attr(g, "type", net->opt->base.name) < 0 ||
                     write_array(g, "state", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, dims,
                                 c->ostate) < 0
                 ? -1
                 : 0;
    if (g >= 0) {
        H5Gclose(g);
    }
    hid_t t = rc == 0 ? H5Gcreate2(f, "train", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT) : -1;
    char sum[64];
    snprintf(sum, sizeof sum, "xxh3-64:%016llx",
             (unsigned long long)checkpoint_hash(net, c->ostate, c->norm, c->st));
    rc = t < 0 || write_int_attr(t, "epoch", c->st->epoch) < 0 ||
                 write_int_attr(t, "step_in_epoch", (long long)c->st->step) < 0 ||
                 write_int_attr(t, "global_step", (long long)c->st->global_step) < 0 ||
                 write_int_attr(t, "seed", (long long)c->st->seed) < 0 ||
                 write_double_attr(t, "epoch_loss_sum", c->st->loss_sum) < 0 ||
                 write_double_attr(t, "epoch_hit_sum", c->st->hit_sum) < 0 ||
                 write_string_attr(t, "rng", "philox4x32-10 and a Feistel permutation, "
                                   "keyed by (seed, epoch): no other state") < 0 ||
                 write_string_attr(t, "loss", net->loss->base.name) < 0 ||
                 write_string_attr(f, "checksum", sum) < 0
             ? -1
             : 0;
    if (t >= 0) {
        H5Gclose(t);
    }
    return rc;
}

int dpt_checkpoint_save(const char *path, const struct dpt_net *net, const float *ostate,
                        const struct dpt_spec *spec, const struct dpt_norm *norm,
                        const struct dpt_train_state *st, struct dpt_err *err)
{
    char *text = dpt_spec_to_string(spec);
    if (!text) {
        return dpt_err_set(err, DPT_ENOMEM, "out of memory");
    }
    struct ckpt_ctx c = {net, ostate, text, norm, st};
    int rc = save_atomically(path, write_checkpoint, &c, err);
    free(text);
    return rc;
}

int dpt_checkpoint_load(const char *path, struct dpt_net *net, float *ostate,
                        struct dpt_norm *norm, struct dpt_train_state *st, struct dpt_err *err)
{
    struct h5file h;
    char fmt[64] = "", opt[64] = "", sum[64] = "";
    memset(st, 0, sizeof *st);
    dpt_norm_cleanup(norm);
    int rc = open_file(&h, path, fmt, sizeof fmt, err);
    if (rc == 0 && strcmp(fmt, CKPT_FORMAT) != 0) {
        rc = dpt_err_set(err, DPT_EFORMAT, "%s: a trained model, not a checkpoint (use --init "
                         "to start from its weights)", path);
    }
    long long ep = 0, step = 0, gstep = 0, seed = 0;
    hid_t t = -1;
    if (rc == 0) {
        t = H5Lexists(h.f, "train", H5P_DEFAULT) > 0 ? H5Gopen2(h.f, "train", H5P_DEFAULT) : -1;
        if (t < 0 || read_ll_attr(t, "epoch", &ep) < 0 ||
            read_ll_attr(t, "step_in_epoch", &step) < 0 ||
            read_ll_attr(t, "global_step", &gstep) < 0 || read_ll_attr(t, "seed", &seed) < 0 ||
            read_double_attr(t, "epoch_loss_sum", &st->loss_sum) < 0 ||
            read_double_attr(t, "epoch_hit_sum", &st->hit_sum) < 0 ||
            read_string_attr(h.f, "checksum", sum, sizeof sum) < 0) {
            rc = dpt_err_set(err, DPT_EFORMAT, "%s: damaged checkpoint: /train or the "
                             "checksum is missing", path);
        }
        st->epoch = ep;
        st->step = (uint64_t)step;
        st->global_step = (uint64_t)gstep;
        st->seed = (uint64_t)seed;
    }
    if (t >= 0) {
        H5Gclose(t);
    }
    if (rc == 0) {
        rc = read_layers(h.f, path, net, err);
    }
    if (rc == 0) {
        hid_t g = H5Lexists(h.f, "optimizer", H5P_DEFAULT) > 0
                      ? H5Gopen2(h.f, "optimizer", H5P_DEFAULT)
                      : -1;
        if (g < 0 || read_string_attr(g, "type", opt, sizeof opt) < 0) {
            rc = dpt_err_set(err, DPT_EFORMAT, "%s: damaged checkpoint: no /optimizer", path);
        } else if (strcmp(opt, net->opt->base.name) != 0) {
            rc = dpt_err_set(err, DPT_ECONFIG, "%s: the checkpoint's optimizer is '%s'; the "
                             "model file's is '%s'", path, opt, net->opt->base.name);
        } else if (net->opt_floats > 0) {
            struct dpt_tensor ts = {.name = "state", .rank = 2,
                                    .shape = {net->opt_floats, net->n_params}};
            rc = read_tensor(g, path, "../optimizer", &ts, ostate, err);
        }
        if (g >= 0) {
            H5Gclose(g);
        }
    }
    if (rc == 0) {
        rc = read_norm(h.f, path, net->n_in, norm, err);
    }
    if (rc == 0) {
        char want[64];
        snprintf(want, sizeof want, "xxh3-64:%016llx",
                 (unsigned long long)checkpoint_hash(net, ostate, norm, st));
        if (strcmp(want, sum) != 0) {
            rc = dpt_err_set(err, DPT_EFORMAT, "%s: checksum mismatch (file says %s, contents "
                             "give %s): the checkpoint is corrupted", path, sum, want);
        }
    }
    close_file(&h);
    if (rc < 0) {
        dpt_norm_cleanup(norm);
    }
    return rc;
}

int dpt_model_file_kind(const char *path, enum dpt_file_kind *kind, struct dpt_err *err)
{
    struct h5file h;
    char fmt[64] = "";
    int rc = open_file(&h, path, fmt, sizeof fmt, err);
    close_file(&h);
    *kind = rc < 0                            ? DPT_FILE_NEITHER
            : strcmp(fmt, CKPT_FORMAT) == 0 ? DPT_FILE_CHECKPOINT
                                            : DPT_FILE_MODEL;
    return rc;
}
