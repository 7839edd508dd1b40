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

#define FORMAT "dptrain-model"
#define FORMAT_VERSION 1

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

static int write_contents(hid_t f, const struct dpt_net *net, const char *config_text,
                          const struct dpt_norm *norm)
{
    char abi[16];
    snprintf(abi, sizeof abi, "%d.%d", DPT_ABI_MAJOR, DPT_ABI_MINOR);
    if (write_string_attr(f, "format", FORMAT) < 0 ||
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
    if (rc == 0 && norm && norm->f) {
        hid_t g = H5Gcreate2(f, "standardize", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        hsize_t dims[1] = {norm->f};
        rc = g < 0 ||
                     write_array(g, "mean", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, dims, norm->mean) < 0 ||
                     write_array(g, "std", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, dims, norm->std) < 0
                 ? -1
                 : 0;
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
    return write_contents(f, m->net, m->text, m->norm);
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
        rc = dpt_err_set(err, DPT_EFORMAT, "%s: /layers/%s/%s has the wrong shape for the "
                         "model in /config", file, gname, t->name);
    } else if (H5Dread(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, dst) < 0) {
        rc = dpt_err_set(err, DPT_EIO, "%s: cannot read /layers/%s/%s", file, gname, t->name);
    }
    H5Sclose(sp);
    H5Dclose(ds);
    return rc;
}

static int read_norm(hid_t f, const char *path, size_t n_in, struct dpt_norm *norm,
                     struct dpt_err *err)
{
    if (H5Lexists(f, "standardize", H5P_DEFAULT) <= 0) {
        return 0;
    }
    if (dpt_norm_alloc(norm, n_in) < 0) {
        return dpt_err_set(err, DPT_ENOMEM, "out of memory");
    }
    static const char *const names[] = {"standardize/mean", "standardize/std"};
    double *dst[] = {norm->mean, norm->std};
    for (int i = 0; i < 2; i++) {
        hid_t ds = H5Dopen2(f, names[i], H5P_DEFAULT);
        hid_t sp = ds >= 0 ? H5Dget_space(ds) : -1;
        int ok = sp >= 0 && H5Sget_simple_extent_npoints(sp) == (hssize_t)n_in &&
                 H5Dread(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, dst[i]) >= 0;
        if (sp >= 0) {
            H5Sclose(sp);
        }
        if (ds >= 0) {
            H5Dclose(ds);
        }
        if (!ok) {
            return dpt_err_set(err, DPT_EFORMAT, "%s: /%s must be float64 [%zu]", path,
                               names[i], n_in);
        }
    }
    dpt_norm_finish(norm);
    return 0;
}

int dpt_model_load(const char *path, const struct dpt_registry *reg, struct dpt_spec *spec,
                   struct dpt_net **net_out, struct dpt_norm *norm, struct dpt_err *err)
{
    *net_out = NULL;
    memset(norm, 0, sizeof *norm);
    memset(spec, 0, sizeof *spec);
    config_init(&spec->cfg);
    if (access(path, R_OK) != 0) {
        return dpt_err_set(err, DPT_EIO, "%s: %s", path, strerror(errno));
    }
    H5E_auto2_t old_fn;
    void *old_data;
    H5Eget_auto2(H5E_DEFAULT, &old_fn, &old_data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    struct dpt_net *net = NULL;
    char *text = NULL;
    int rc = 0;
    hid_t f = H5Fis_hdf5(path) > 0 ? H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT) : -1;
    char fmt[64] = "";
    long long n_in = 0;
    if (f < 0) {
        rc = dpt_err_set(err, DPT_EFORMAT, "%s: not an HDF5 file", path);
    } else if (read_string_attr(f, "format", fmt, sizeof fmt) < 0 || strcmp(fmt, FORMAT) != 0) {
        rc = dpt_err_set(err, DPT_EFORMAT, "%s: not a dptrain model file (no format = \"%s\" "
                         "attribute)", path, FORMAT);
    } else if (read_ll_attr(f, "n_inputs", &n_in) < 0 || n_in <= 0 ||
               !(text = read_string_dataset(f, "config"))) {
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
    for (size_t i = 0; rc == 0 && i < net->n_nodes; i++) {
        const struct dpt_node *nd = &net->nodes[i];
        if (nd->kind != DPT_KIND_LAYER) {
            continue;
        }
        char gname[128], full[160];
        group_name(gname, sizeof gname, nd);
        snprintf(full, sizeof full, "layers/%s", gname);
        if (H5Lexists(f, "layers", H5P_DEFAULT) <= 0 || H5Lexists(f, full, H5P_DEFAULT) <= 0) {
            rc = dpt_err_set(err, DPT_EFORMAT, "%s: missing group /%s", path, full);
            break;
        }
        hid_t g = H5Gopen2(f, full, H5P_DEFAULT);
        struct dpt_tensor t;
        for (uint32_t k = 0; rc == 0 && node_tensor(nd, k, &t) == 0; k++) {
            rc = read_tensor(g, path, gname, &t, net->params + nd->param_off + t.offset, err);
        }
        H5Gclose(g);
    }
    if (rc == 0) {
        rc = read_norm(f, path, (size_t)n_in, norm, err);
    }
    if (f >= 0) {
        H5Fclose(f);
    }
    H5Eset_auto2(H5E_DEFAULT, old_fn, old_data);
    free(text);
    if (rc < 0) {
        dpt_net_destroy(net);
        dpt_norm_cleanup(norm);
        return rc;
    }
    *net_out = net;
    return 0;
}
