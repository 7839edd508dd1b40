/* Trained-model files: see model_file.h for the layout. */
#include "config.h"

#include "io/model_file.h"
#include "io/h5file.h"
#include "io/model_io.h"
#include "io/plugin_record.h"
#include "util/h5.h"
#include "util/util.h"

#include <errno.h>
#include <hdf5.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#define FORMAT_VERSION 1

static void group_name(char *buf, size_t len, const struct dpt_node *nd)
{
    snprintf(buf, len, "%02d_%s", nd->layer_index, nd->plugin->name);
}

/* The version string of a layer's plugin ("" for a descriptor without one). */
static const char *plugin_version(const struct dpt_node *nd)
{
    return nd->plugin->version ? nd->plugin->version : "";
}

static int write_shape(hid_t f, const char *name, const struct dpt_shape *s)
{
    long long dims[DPT_MAX_RANK];
    for (uint32_t j = 0; j < s->rank; j++) {
        dims[j] = (long long)s->dims[j];
    }
    return dpt__h5_write_ints_attr(f, name, dims, s->rank);
}

/* The input sample shape of a model file: its input_shape attribute, or
 * [n_inputs] for files written before shapes (format 1 without it). */
static int read_input_shape(hid_t f, long long n_in, struct dpt_shape *s)
{
    long long dims[DPT_MAX_RANK];
    size_t rank = 0;
    if (dpt__h5_read_ints_attr(f, "input_shape", dims, DPT_MAX_RANK, &rank) < 0) {
        *s = dpt_shape_flat((uint64_t)n_in);
        return H5Aexists(f, "input_shape") > 0 ? -1 : 0;
    }
    *s = (struct dpt_shape){.rank = (uint32_t)rank};
    long long prod = 1;
    for (size_t j = 0; j < rank; j++) {
        s->dims[j] = dims[j] > 0 ? (uint64_t)dims[j] : 0;
        /* A dimension below 1, or a product past n_in (n_in > 0), does not
         * fit; checked before multiplying, which could overflow. */
        if (dims[j] <= 0 || prod > n_in / dims[j]) {
            return -1;
        }
        prod *= dims[j];
    }
    return rank >= 1 && prod == n_in ? 0 : -1;
}

int dpt__model_check_input(hid_t f, const char *path, const struct dpt_net *net,
                           struct dpt_err *err)
{
    long long n_in = 0;
    struct dpt_shape in;
    if (dpt__h5_read_ll_attr(f, "n_inputs", &n_in) < 0 || n_in <= 0 ||
        read_input_shape(f, n_in, &in) < 0) {
        return dpt_err_set(err, DPT_EFORMAT, "%s: damaged model file: input_shape does not "
                           "fit n_inputs = %lld", path, n_in);
    }
    int same = in.rank == net->in.rank;
    for (uint32_t j = 0; same && j < in.rank; j++) {
        same = in.dims[j] == net->in.dims[j];
    }
    if (!same) {
        char a[96], b[96];
        return dpt_err_set(err, DPT_EFORMAT, "%s: the file's model takes inputs of shape %s; "
                           "this model takes %s (a different model?)", path,
                           dpt_shape_str(&in, a, sizeof a), dpt_shape_str(&net->in, b, sizeof b));
    }
    return 0;
}

/* The group of one layer: its tensors, and what a later load compares with
 * the plugin it finds then (type, index, the plugin's version and the ABI
 * it was built against). */
static int write_layer(hid_t layers, const struct dpt_net *net, const struct dpt_node *nd)
{
    char name[128], abi[32];
    group_name(name, sizeof name, nd);
    snprintf(abi, sizeof abi, "%u.%u", (unsigned)nd->plugin->abi_major,
             (unsigned)nd->plugin->abi_minor);
    hid_t g = dpt__h5_group_create(layers, name);
    int rc = g < 0 || dpt__h5_write_string_attr(g, "type", nd->plugin->name) < 0 ||
                     dpt__h5_write_int_attr(g, "index", nd->layer_index) < 0 ||
                     dpt__h5_write_string_attr(g, "plugin_version", plugin_version(nd)) < 0 ||
                     dpt__h5_write_string_attr(g, "plugin_abi", abi) < 0
                 ? -1
                 : 0;
    struct dpt_tensor t;
    for (uint32_t k = 0; rc == 0 && dpt_node_tensor(nd, k, &t) == 0; k++) {
        hsize_t dims[4];
        for (uint32_t j = 0; j < t.rank && j < 4; j++) {
            dims[j] = t.shape[j];
        }
        rc = dpt__h5_write_array(g, t.name, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, (int)t.rank, dims,
                                 net->params + nd->param_off + t.offset);
    }
    if (g >= 0) {
        H5Gclose(g);
    }
    return rc;
}

int dpt__model_write_contents(hid_t f, const char *format, const struct dpt_net *net,
                          const char *config_text, const struct dpt_norm *norm)
{
    char abi[16];
    snprintf(abi, sizeof abi, "%d.%d", DPT_ABI_MAJOR, DPT_ABI_MINOR);
    if (dpt__h5_write_string_attr(f, "format", format) < 0 ||
        dpt__h5_write_int_attr(f, "format_version", FORMAT_VERSION) < 0 ||
        dpt__h5_write_string_attr(f, "dptrain_version", PACKAGE_VERSION) < 0 ||
        dpt__h5_write_string_attr(f, "plugin_abi", abi) < 0 ||
        dpt__h5_write_int_attr(f, "n_inputs", (long long)net->n_in) < 0 ||
        dpt__h5_write_int_attr(f, "n_outputs", (long long)net->n_out) < 0 ||
        write_shape(f, "input_shape", &net->in) < 0 ||
        write_shape(f, "output_shape", &net->out) < 0 ||
        dpt__h5_write_string_dataset(f, "config", config_text) < 0 ||
        (net->reg && dpt__plugin_files_write(f, net->reg) < 0)) {
        return -1;
    }
    hid_t layers = dpt__h5_group_create(f, "layers");
    if (layers < 0) {
        return -1;
    }
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < net->n_nodes; i++) {
        if (net->nodes[i].kind == DPT_KIND_LAYER) {
            rc = write_layer(layers, net, &net->nodes[i]);
        }
    }
    H5Gclose(layers);
    if (rc == 0 && norm && (norm->f || norm->yc || dpt_norm_scales(norm))) {
        hid_t g = dpt__h5_group_create(f, "standardize");
        hsize_t dims[1] = {norm->f}, ydims[1] = {norm->yc};
        rc = g < 0 ? -1 : 0;
        /* data.scale, only when it is not 1: files without it stay as they were. */
        if (rc == 0 && dpt_norm_scales(norm)) {
            rc = dpt__h5_write_double_attr(g, "scale", norm->scale);
        }
        if (rc == 0 && norm->f) {
            rc = dpt__h5_write_array(g, "mean", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, dims, norm->mean) < 0 ||
                         dpt__h5_write_array(g, "std", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, dims, norm->std) < 0
                     ? -1
                     : 0;
        }
        if (rc == 0 && norm->yc) {
            rc = dpt__h5_write_array(g, "y_mean", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, ydims, norm->y_mean) < 0 ||
                         dpt__h5_write_array(g, "y_std", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, ydims, norm->y_std) < 0
                     ? -1
                     : 0;
        }
        if (g >= 0) {
            H5Gclose(g);
        }
    }
    if (rc == 0 && norm && norm->n_classes) {
        rc = dpt__h5_write_strings_attr(f, "classes", (const char *const *)norm->classes,
                                        norm->n_classes);
    }
    if (rc == 0 && norm && norm->n_columns) {
        rc = dpt__h5_write_strings_attr(f, "columns", (const char *const *)norm->columns,
                                        norm->n_columns);
    }
    return rc;
}

void dpt__model_hash_norm(XXH3_state_t *h, const struct dpt_norm *norm)
{
    if (norm && norm->f) {
        XXH3_64bits_update(h, norm->mean, norm->f * sizeof(double));
        XXH3_64bits_update(h, norm->std, norm->f * sizeof(double));
    }
    if (norm && dpt_norm_scales(norm)) {
        XXH3_64bits_update(h, &norm->scale, sizeof norm->scale);
    }
    if (norm && norm->yc) {
        XXH3_64bits_update(h, norm->y_mean, norm->yc * sizeof(double));
        XXH3_64bits_update(h, norm->y_std, norm->yc * sizeof(double));
    }
}

/* Adds the tensors of layer nd to h in the order of their names (as h5py
 * lists a group), each as stored: n floats, without the flat buffer's
 * alignment padding. Names are unique within a layer: each round takes
 * the smallest name after the last one taken. */
static void hash_layer(XXH3_state_t *h, const struct dpt_net *net, const struct dpt_node *nd)
{
    const char *prev = NULL;
    for (;;) {
        struct dpt_tensor t, next;
        int found = 0;
        for (uint32_t k = 0; dpt_node_tensor(nd, k, &t) == 0; k++) {
            if ((!prev || strcmp(t.name, prev) > 0) &&
                (!found || strcmp(t.name, next.name) < 0)) {
                next = t;
                found = 1;
            }
        }
        if (!found) {
            return;
        }
        size_t n = 1;
        for (uint32_t j = 0; j < next.rank; j++) {
            n *= next.shape[j];
        }
        XXH3_64bits_update(h, net->params + nd->param_off + next.offset, n * sizeof(float));
        prev = next.name;
    }
}

/* A model file's checksum, "xxh3-64:HEX" into buf (len bytes): XXH3-64
 * over every layer's tensors (the layers in model order, each one's
 * tensors in the order of their names) and the standardization (mean,
 * std, scale when not 1, y_mean, y_std), the bytes as stored (float32,
 * float64, little-endian). Nothing that changes between two runs of the
 * same training (no time, host or path), so equal models get equal files;
 * tests/model_checksum.sh computes it again with h5py. */
static void model_checksum(const struct dpt_net *net, const struct dpt_norm *norm, char *buf,
                           size_t len)
{
    XXH3_state_t *h = XXH3_createState();
    if (!h) {
        snprintf(buf, len, "(out of memory)");
        return;
    }
    XXH3_64bits_reset(h);
    for (size_t i = 0; i < net->n_nodes; i++) {
        if (net->nodes[i].kind == DPT_KIND_LAYER) {
            hash_layer(h, net, &net->nodes[i]);
        }
    }
    dpt__model_hash_norm(h, norm);
    snprintf(buf, len, "xxh3-64:%016llx", (unsigned long long)XXH3_64bits_digest(h));
    XXH3_freeState(h);
}

/* The checksum of the model read (net's weights, norm) against the one the
 * file says. A file without one, written before model files had it, is
 * read with a warning: nothing to compare. */
static int verify_model(hid_t f, const char *path, const struct dpt_net *net,
                        const struct dpt_norm *norm, const struct dpt_warn *warn,
                        struct dpt_err *err)
{
    char sum[64] = "", want[64];
    if (H5Aexists(f, "checksum") <= 0) {
        if (warn && warn->fn) {
            char msg[PATH_MAX + 160];
            snprintf(msg, sizeof msg, "%s: no checksum (a model file written before dptrain "
                     "stored one): its weights cannot be verified", path);
            warn->fn(warn->ctx, msg);
        }
        return 0;
    }
    if (dpt__h5_read_string_attr(f, "checksum", sum, sizeof sum) < 0) {
        return dpt_err_set(err, DPT_EFORMAT, "%s: damaged model file: the checksum attribute "
                           "is not a string", path);
    }
    model_checksum(net, norm, want, sizeof want);
    if (strcmp(sum, want) != 0) {
        return dpt_err_set(err, DPT_EFORMAT, "%s: checksum mismatch: the weights or state were "
                           "changed after the file was written (the file says %s, its contents "
                           "give %s); use an intact copy or train again", path, sum, want);
    }
    return 0;
}

int dpt_model_has_checksum(const char *path)
{
    struct dpt__model_file h;
    char fmt[64] = "";
    struct dpt_err err = {0};
    int has = dpt__model_open(&h, path, fmt, sizeof fmt, &err) == 0 &&
              H5Aexists(h.f, "checksum") > 0;
    dpt__model_close(&h);
    return has;
}

struct model_ctx {
    const struct dpt_net *net;
    const char *text;
    const struct dpt_norm *norm;
};

static int write_model(hid_t f, const void *ctx)
{
    const struct model_ctx *m = ctx;
    char sum[64];
    model_checksum(m->net, m->norm, sum, sizeof sum);
    return dpt__model_write_contents(f, DPT_MODEL_FORMAT, m->net, m->text, m->norm) < 0 ||
                   dpt__h5_write_string_attr(f, "checksum", sum) < 0
               ? -1
               : 0;
}

int dpt_model_save(const char *path, const struct dpt_net *net, const struct dpt_spec *spec,
                   const struct dpt_norm *norm, struct dpt_err *err)
{
    char *text = dpt_spec_to_string(spec);
    if (!text) {
        return dpt_err_set(err, DPT_ENOMEM, "out of memory");
    }
    struct model_ctx m = {net, text, norm};
    int rc = dpt__h5_save_atomically(path, write_model, &m, net->n_params * sizeof(float), err);
    free(text);
    return rc;
}

int dpt_model_file_bytes(const struct dpt_net *net, const struct dpt_spec *spec,
                         const struct dpt_norm *norm, uint64_t *bytes, struct dpt_err *err)
{
    char *text = dpt_spec_to_string(spec);
    if (!text) {
        return dpt_err_set(err, DPT_ENOMEM, "out of memory");
    }
    struct model_ctx m = {net, text, norm};
    int rc = dpt__h5_image_bytes("(the model file, measured)", write_model, &m,
                                 net->n_params * sizeof(float), bytes, err);
    free(text);
    return rc;
}

struct pred_ctx {
    const float *pred;
    const int *labels;
    size_t n, n_out;
    const char *const *names;
    size_t n_names;
};

static int write_pred(hid_t f, const void *ctx)
{
    const struct pred_ctx *p = ctx;
    hsize_t dims[2] = {p->n, p->n_out};
    if (dpt__h5_write_string_attr(f, "format", "dptrain-predictions") < 0 ||
        dpt__h5_write_array(f, "pred", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, dims, p->pred) < 0 ||
        (p->n_names && dpt__h5_write_strings_attr(f, "classes", p->names, p->n_names) < 0)) {
        return -1;
    }
    return p->labels ? dpt__h5_write_array(f, "label", H5T_STD_I32LE, H5T_NATIVE_INT, 1, dims, p->labels)
                     : 0;
}

int dpt_predictions_save(const char *path, const float *pred, const int *labels, size_t n,
                         size_t n_out, const char *const *names, size_t n_names,
                         struct dpt_err *err)
{
    struct pred_ctx p = {pred, labels, n, n_out, names, n_names};
    return dpt__h5_save_atomically(path, write_pred, &p,
                                   n * (n_out * sizeof(float) + (labels ? sizeof(int) : 0)), err);
}

/* "d1, d2, ..." of n dimensions into buf (returned). */
static const char *dims_str(const unsigned long long *dims, int n, char *buf, size_t len)
{
    buf[0] = '\0';
    for (int j = 0; j < n; j++) {
        size_t u = strlen(buf);
        snprintf(buf + u, len - u, "%s%llu", j ? ", " : "", dims[j]);
    }
    return buf;
}

/* The HDF5 type ty as a user would name it ("int32", "float64",
 * "strings") into buf (returned). */
static const char *type_str(hid_t ty, char *buf, size_t len)
{
    size_t bits = H5Tget_size(ty) * 8;
    switch (H5Tget_class(ty)) {
    case H5T_INTEGER:
        snprintf(buf, len, "%s%zu", H5Tget_sign(ty) == H5T_SGN_NONE ? "uint" : "int", bits);
        break;
    case H5T_FLOAT:
        snprintf(buf, len, "float%zu", bits);
        break;
    case H5T_STRING:
        snprintf(buf, len, "strings");
        break;
    default:
        snprintf(buf, len, "values of HDF5 type class %d", (int)H5Tget_class(ty));
        break;
    }
    return buf;
}

/* Reads the float tensor t of group g (gpath: its path, "layers/00_dense",
 * for messages); its shape must be t's and its type a 32-bit float (the
 * only one the writer uses: another would be converted without a word).
 * The values are read as stored, bit for bit, NaN payloads included
 * (tests/test_model_file.c); a checkpoint's checksum covers them. */
int dpt__model_read_tensor(hid_t g, const char *file, const char *gpath,
                           const struct dpt_tensor *t, float *dst, struct dpt_err *err)
{
    if (H5Lexists(g, t->name, H5P_DEFAULT) <= 0) {
        return dpt_err_set(err, DPT_EFORMAT, "%s: missing dataset /%s/%s", file, gpath, t->name);
    }
    hid_t ds = H5Dopen2(g, t->name, H5P_DEFAULT);
    hid_t sp = ds >= 0 ? H5Dget_space(ds) : -1;
    hid_t ty = ds >= 0 ? H5Dget_type(ds) : -1;
    int rank = sp >= 0 ? H5Sget_simple_extent_ndims(sp) : -1;
    hsize_t dims[8] = {0};
    unsigned long long want[sizeof t->shape / sizeof t->shape[0]], got[8];
    int ok = rank == (int)t->rank && rank <= 8;
    /* The dimensions are read whatever the rank, for the message below. */
    if (rank >= 0 && rank <= 8) {
        H5Sget_simple_extent_dims(sp, dims, NULL);
    }
    for (int j = 0; j < rank && j < 8; j++) {
        got[j] = dims[j];
        ok = ok && dims[j] == t->shape[j];
    }
    for (uint32_t j = 0; j < t->rank; j++) {
        want[j] = t->shape[j];
    }
    int rc = 0;
    char a[96], b[96];
    if (ds < 0 || sp < 0 || ty < 0) {
        rc = dpt_err_set(err, DPT_EFORMAT, "%s: /%s/%s is not a readable dataset", file, gpath,
                         t->name);
    } else if (!ok) {
        rc = dpt_err_set(err, DPT_EFORMAT, "%s: /%s/%s has shape [%s]; the model needs [%s] "
                         "(a different model?)", file, gpath, t->name,
                         dims_str(got, rank < 0 ? 0 : rank > 8 ? 8 : rank, a, sizeof a),
                         dims_str(want, (int)t->rank, b, sizeof b));
    } else if (H5Tget_class(ty) != H5T_FLOAT || H5Tget_size(ty) != sizeof(float)) {
        rc = dpt_err_set(err, DPT_EFORMAT, "%s: /%s/%s holds %s; model files store float32",
                         file, gpath, t->name, type_str(ty, a, sizeof a));
    } else if (H5Dread(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, dst) < 0) {
        rc = dpt_err_set(err, DPT_EIO, "%s: cannot read /%s/%s", file, gpath, t->name);
    }
    if (ty >= 0) {
        H5Tclose(ty);
    }
    if (sp >= 0) {
        H5Sclose(sp);
    }
    if (ds >= 0) {
        H5Dclose(ds);
    }
    return rc;
}

/* The statistics of /standardize must be finite, and every std above 0:
 * the writer stores 1 for a constant feature, so anything else is damage
 * that would turn every prediction into inf or NaN. */
static int check_norm(const char *path, const struct dpt_norm *norm, struct dpt_err *err)
{
    const struct {
        const char *name;
        const double *v;
        size_t n;
        int positive;
    } sets[] = {{"mean", norm->mean, norm->f, 0}, {"std", norm->std, norm->f, 1},
                {"y_mean", norm->y_mean, norm->yc, 0}, {"y_std", norm->y_std, norm->yc, 1}};
    for (size_t k = 0; k < sizeof sets / sizeof sets[0]; k++) {
        for (size_t i = 0; sets[k].v && i < sets[k].n; i++) {
            double v = sets[k].v[i];
            if (!isfinite(v) || (sets[k].positive && !(v > 0))) {
                return dpt_err_set(err, DPT_EFORMAT, "%s: /standardize/%s[%zu] is %g; it must "
                                   "be a finite number%s (the file is damaged)", path,
                                   sets[k].name, i, v, sets[k].positive ? " above 0" : "");
            }
        }
    }
    return 0;
}

int dpt__model_read_norm(hid_t f, const char *path, size_t n_in, struct dpt_norm *norm,
                     struct dpt_err *err)
{
    if (dpt__h5_read_strings_attr(f, "classes", &norm->classes, &norm->n_classes) < 0) {
        return dpt_err_set(err, DPT_EFORMAT, "%s: damaged model file: attribute 'classes' is "
                           "not a list of strings", path);
    }
    if (dpt__h5_read_strings_attr(f, "columns", &norm->columns, &norm->n_columns) < 0) {
        return dpt_err_set(err, DPT_EFORMAT, "%s: damaged model file: attribute 'columns' is "
                           "not a list of strings", path);
    }
    if (H5Lexists(f, "standardize", H5P_DEFAULT) <= 0) {
        return 0;
    }
    int rc = 0;
    hid_t g = H5Gopen2(f, "standardize", H5P_DEFAULT);
    if (g >= 0 && H5Aexists(g, "scale") > 0) {
        double scale = 0;
        rc = dpt__h5_read_double_attr(g, "scale", &scale) == 0 && scale > 0 && isfinite(scale)
                 ? dpt_norm_set_scale(norm, scale, n_in, err)
                 : dpt_err_set(err, DPT_EFORMAT, "%s: /standardize: attribute 'scale' must be "
                               "a number above 0, found %g", path, scale);
    }
    if (g >= 0) {
        H5Gclose(g);
    }
    if (rc == 0 && H5Lexists(f, "standardize/mean", H5P_DEFAULT) > 0) {
        rc = dpt_norm_alloc_x(norm, n_in) < 0 ? dpt_err_set(err, DPT_ENOMEM, "out of memory") : 0;
        if (rc == 0) {
            rc = dpt__h5_read_doubles(f, path, "standardize/mean", norm->mean, n_in, err);
        }
        if (rc == 0) {
            rc = dpt__h5_read_doubles(f, path, "standardize/std", norm->std, n_in, err);
        }
    }
    size_t yc = H5Lexists(f, "standardize/y_mean", H5P_DEFAULT) > 0
                    ? dpt__h5_extent(f, "standardize/y_mean")
                    : 0;
    if (rc == 0 && yc) {
        rc = dpt_norm_alloc_y(norm, yc) < 0 ? dpt_err_set(err, DPT_ENOMEM, "out of memory") : 0;
        if (rc == 0) {
            rc = dpt__h5_read_doubles(f, path, "standardize/y_mean", norm->y_mean, yc, err);
        }
        if (rc == 0) {
            rc = dpt__h5_read_doubles(f, path, "standardize/y_std", norm->y_std, yc, err);
        }
    }
    if (rc == 0) {
        rc = check_norm(path, norm, err);
    }
    if (rc == 0) {
        dpt_norm_finish(norm);
    }
    return rc;
}

int dpt__model_open(struct dpt__model_file *h, const char *path, char *format, size_t len,
                     struct dpt_err *err)
{
    dpt__h5_quiet_begin(&h->quiet);
    dpt__h5_reading(&h->quiet, path);
    h->f = -1;
    if (access(path, R_OK) != 0) {
        int e = errno;
        char shown[8192];
        return dpt_err_set(err, DPT_EIO, "%s: %s", dpt__path_shown(path, shown, sizeof shown),
                           strerror(e));
    }
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        return dpt_err_set(err, DPT_EIO, "%s: a folder, not a model file", path);
    }
    h->f = H5Fis_hdf5(path) > 0 ? H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT) : -1;
    if (h->f < 0) {
        return dpt_err_set(err, DPT_EFORMAT, "%s: not an HDF5 file (or a truncated one)", path);
    }
    if (dpt__h5_read_string_attr(h->f, "format", format, len) < 0 ||
        (strcmp(format, DPT_MODEL_FORMAT) != 0 && strcmp(format, DPT_CKPT_FORMAT) != 0)) {
        return dpt_err_set(err, DPT_EFORMAT, "%s: not a dptrain model file (no format = \"%s\" "
                           "attribute)", path, DPT_MODEL_FORMAT);
    }
    /* Every file ever written says its version; a later layout read as
     * this one would put its numbers in the wrong places. */
    long long version = 0;
    if (dpt__h5_read_ll_attr(h->f, "format_version", &version) < 0) {
        return dpt_err_set(err, DPT_EFORMAT, "%s: damaged %s file: no integer attribute "
                           "format_version", path, format);
    }
    if (version != FORMAT_VERSION) {
        return dpt_err_set(err, DPT_EFORMAT, "%s: %s format version %lld; this dptrain reads "
                           "version %d (a file from a newer dptrain?)", path, format, version,
                           FORMAT_VERSION);
    }
    return 0;
}

void dpt__model_close(struct dpt__model_file *h)
{
    if (h->f >= 0) {
        H5Fclose(h->f);
    }
    dpt__h5_quiet_end(&h->quiet);
}

/* The record of the layer group g (zeroed, recorded = 0, when the file
 * predates records). */
static void read_record(hid_t g, struct dpt_layer_record *rec)
{
    memset(rec, 0, sizeof *rec);
    rec->recorded =
        dpt__h5_read_string_attr(g, "plugin_version", rec->version, sizeof rec->version) == 0;
    if (dpt__h5_read_string_attr(g, "plugin_abi", rec->abi, sizeof rec->abi) < 0) {
        rec->abi[0] = '\0';
    }
}

/* Floats in all the datasets of group g: what the file holds for a layer,
 * whatever the tensors' names. */
static unsigned long long group_floats(hid_t g)
{
    H5G_info_t info;
    unsigned long long sum = 0;
    if (H5Gget_info(g, &info) < 0) {
        return 0;
    }
    for (hsize_t i = 0; i < info.nlinks; i++) {
        char name[256];
        if (H5Lget_name_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_INC, i, name, sizeof name,
                               H5P_DEFAULT) < 0) {
            continue;
        }
        hid_t ds = H5Dopen2(g, name, H5P_DEFAULT);
        hid_t sp = ds >= 0 ? H5Dget_space(ds) : -1;
        hssize_t n = sp >= 0 ? H5Sget_simple_extent_npoints(sp) : 0;
        sum += n > 0 ? (unsigned long long)n : 0;
        if (sp >= 0) {
            H5Sclose(sp);
        }
        if (ds >= 0) {
            H5Dclose(ds);
        }
    }
    return sum;
}

/* Floats in a layer's tensors: what the writer stores for it. */
static unsigned long long node_floats(const struct dpt_node *nd)
{
    unsigned long long sum = 0;
    struct dpt_tensor t;
    for (uint32_t k = 0; dpt_node_tensor(nd, k, &t) == 0; k++) {
        unsigned long long n = 1;
        for (uint32_t j = 0; j < t.rank; j++) {
            n *= t.shape[j];
        }
        sum += n;
    }
    return sum;
}

/* "written by plugin 'P' version V; the plugin loaded now (FILE) is version
 * W", the part every message about a changed version shares. */
static void describe_change(char *buf, size_t len, const struct dpt_node *nd,
                            const struct dpt_layer_record *rec)
{
    snprintf(buf, len, "written by plugin '%s' version %s; the plugin loaded now (%s) is "
             "version %s", nd->plugin->name, rec->version, dpt__file_of(nd->plugin),
             plugin_version(nd));
}

/* Reads the tensors of layer nd from its group g. A plugin whose version
 * differs from the one that wrote the group is an error when the parameter
 * count differs (the weights would be read as something else), and a
 * warning through warn when the count and the tensor shapes are the same;
 * an error about a tensor then also names both versions. Whatever the
 * versions, a group holding more floats than the plugin's tensors is an
 * error rather than weights partly read. */
static int read_layer(hid_t g, const char *path, const char *gpath, struct dpt_net *net,
                      const struct dpt_node *nd, const struct dpt_warn *warn,
                      struct dpt_err *err)
{
    struct dpt_layer_record rec;
    read_record(g, &rec);
    int changed = rec.recorded && strcmp(rec.version, plugin_version(nd)) != 0;
    char change[1024] = "";
    if (changed) {
        describe_change(change, sizeof change, nd, &rec);
        unsigned long long in_file = group_floats(g), wanted = node_floats(nd);
        if (in_file != wanted) {
            return dpt_err_set(err, DPT_EFORMAT, "%s: %s: the file holds %llu parameters for "
                               "this layer, %s and has %llu: the weights cannot be read (load "
                               "version %s with --plugin-path, or train again)", path,
                               nd->label, in_file, change, wanted, rec.version);
        }
    }
    int rc = 0;
    struct dpt_tensor t;
    for (uint32_t k = 0; rc == 0 && dpt_node_tensor(nd, k, &t) == 0; k++) {
        rc = dpt__model_read_tensor(g, path, gpath, &t, net->params + nd->param_off + t.offset,
                                    err);
    }
    if (rc < 0 && changed) {
        size_t used = strlen(err->msg);
        snprintf(err->msg + used, sizeof err->msg - used, " (%s: %s)", nd->label, change);
    } else if (rc == 0 && group_floats(g) != node_floats(nd)) {
        /* Every tensor the plugin names was there, but the file holds more:
         * written by a plugin with more parameters under the same version,
         * or before versions were recorded. Reading on would drop them. */
        rc = dpt_err_set(err, DPT_EFORMAT, "%s: %s: the file holds %llu parameters for this "
                         "layer; plugin '%s' version %s (%s) has %llu (a different model, or "
                         "another build of the plugin)", path, nd->label, group_floats(g),
                         nd->plugin->name, plugin_version(nd), dpt__file_of(nd->plugin),
                         node_floats(nd));
    } else if (rc == 0 && changed && warn && warn->fn) {
        char msg[1536];
        snprintf(msg, sizeof msg, "%s: %s: %s; the parameter count and tensor shapes are the "
                 "same, so the weights were read as stored", path, nd->label, change);
        warn->fn(warn->ctx, msg);
    }
    return rc;
}

/* Reads every layer's tensors into net->params. */
int dpt__model_read_layers(hid_t f, const char *path, struct dpt_net *net,
                           const struct dpt_warn *warn, struct dpt_err *err)
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
        int rc = read_layer(g, path, full, net, nd, warn, err);
        H5Gclose(g);
        if (rc < 0) {
            return rc;
        }
    }
    return 0;
}

int dpt_model_read_records(const char *path, const struct dpt_net *net,
                           struct dpt_layer_record *rec, struct dpt_err *err)
{
    struct dpt__model_file h;
    char fmt[64] = "";
    memset(rec, 0, net->n_nodes * sizeof *rec);
    int rc = dpt__model_open(&h, path, fmt, sizeof fmt, err);
    for (size_t i = 0; rc == 0 && i < net->n_nodes; i++) {
        const struct dpt_node *nd = &net->nodes[i];
        char gname[128], full[160];
        group_name(gname, sizeof gname, nd);
        snprintf(full, sizeof full, "layers/%s", gname);
        if (nd->kind == DPT_KIND_LAYER && H5Lexists(h.f, "layers", H5P_DEFAULT) > 0 &&
            H5Lexists(h.f, full, H5P_DEFAULT) > 0) {
            hid_t g = H5Gopen2(h.f, full, H5P_DEFAULT);
            read_record(g, &rec[i]);
            H5Gclose(g);
        }
    }
    dpt__model_close(&h);
    return rc;
}

int dpt_model_read_config(const char *path, char **text, struct dpt_err *err)
{
    struct dpt__model_file h;
    char fmt[64] = "";
    *text = NULL;
    int rc = dpt__model_open(&h, path, fmt, sizeof fmt, err);
    if (rc == 0 && !(*text = dpt__h5_read_string_dataset(h.f, "config"))) {
        rc = dpt_err_set(err, DPT_EFORMAT, "%s: damaged file: no /config", path);
    }
    dpt__model_close(&h);
    return rc;
}

int dpt_model_load(const char *path, const struct dpt_registry *reg, struct dpt_spec *spec,
                   struct dpt_net **net_out, struct dpt_norm *norm, const struct dpt_warn *warn,
                   struct dpt_err *err)
{
    *net_out = NULL;
    memset(norm, 0, sizeof *norm);
    memset(spec, 0, sizeof *spec);
    config_init(&spec->cfg);
    struct dpt_net *net = NULL;
    char *text = NULL;
    struct dpt__model_file h;
    char fmt[64] = "";
    long long n_in = 0;
    int rc = dpt__model_open(&h, path, fmt, sizeof fmt, err);
    if (rc == 0 && (dpt__h5_read_ll_attr(h.f, "n_inputs", &n_in) < 0 || n_in <= 0 ||
                    !(text = dpt__h5_read_string_dataset(h.f, "config")))) {
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
        struct dpt_shape in;
        rc = read_input_shape(h.f, n_in, &in) < 0
                 ? dpt_err_set(err, DPT_EFORMAT, "%s: damaged model file: input_shape does not "
                               "fit n_inputs = %lld", path, n_in)
                 : dpt_net_create(&net, spec, reg, &in, err);
    }
    if (rc == 0) {
        rc = dpt__model_read_layers(h.f, path, net, warn, err);
    }
    if (rc == 0) {
        rc = dpt__model_read_norm(h.f, path, (size_t)n_in, norm, err);
    }
    if (rc == 0 && strcmp(fmt, DPT_CKPT_FORMAT) == 0) {
        rc = dpt__checkpoint_verify(h.f, path, net, norm, err);
    } else if (rc == 0) {
        rc = verify_model(h.f, path, net, norm, warn, err);
    }
    dpt__model_close(&h);
    free(text);
    if (rc < 0) {
        dpt_net_destroy(net);
        dpt_norm_cleanup(norm);
        return rc;
    }
    *net_out = net;
    return 0;
}

int dpt_weights_load(const char *path, struct dpt_net *net, const struct dpt_warn *warn,
                     struct dpt_err *err)
{
    struct dpt__model_file h;
    char fmt[64] = "";
    int rc = dpt__model_open(&h, path, fmt, sizeof fmt, err);
    if (rc == 0) {
        rc = dpt__model_read_layers(h.f, path, net, warn, err);
    }
    /* A trained model's checksum covers its weights and standardization:
     * the latter is read here only to check it. (A checkpoint's checksum
     * covers an optimizer state this model may not share: not checked.) */
    long long n_in = 0;
    struct dpt_norm norm = {0};
    if (rc == 0 && strcmp(fmt, DPT_MODEL_FORMAT) == 0) {
        rc = dpt__h5_read_ll_attr(h.f, "n_inputs", &n_in) < 0 || n_in <= 0
                 ? dpt_err_set(err, DPT_EFORMAT, "%s: damaged model file (no n_inputs)", path)
                 : dpt__model_read_norm(h.f, path, (size_t)n_in, &norm, err);
        if (rc == 0) {
            rc = verify_model(h.f, path, net, &norm, warn, err);
        }
    }
    dpt_norm_cleanup(&norm);
    dpt__model_close(&h);
    return rc;
}

int dpt_model_file_kind(const char *path, enum dpt_file_kind *kind, struct dpt_err *err)
{
    struct dpt__model_file h;
    char fmt[64] = "";
    int rc = dpt__model_open(&h, path, fmt, sizeof fmt, err);
    dpt__model_close(&h);
    *kind = rc < 0                                ? DPT_FILE_NEITHER
            : strcmp(fmt, DPT_CKPT_FORMAT) == 0 ? DPT_FILE_CHECKPOINT
                                                : DPT_FILE_MODEL;
    return rc;
}
