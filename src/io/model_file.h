/* Trained-model files (HDF5, readable with h5py). Layout, version 1:
 *
 *   /                      attrs: format = "dptrain-model", format_version = 1,
 *                                 dptrain_version, plugin_abi, n_inputs, n_outputs
 *   /config                string: the whole model file (libconfig text), as trained
 *   /layers/NN_TYPE/NAME   float32 tensors of layer NN (00, 01, ...), e.g.
 *                          /layers/00_dense/weight [n_out, n_in], .../bias [n_out];
 *                          group attrs: type (the plugin's name), index (position
 *                          in model.layers), plugin_version (the descriptor's
 *                          version string) and plugin_abi ("MAJOR.MINOR" the
 *                          plugin was built against); older files lack the
 *                          last two and load as before (nothing to compare)
 *   /standardize/mean, /standardize/std   float64 [F] (when data.standardize), of the
 *                          inputs times data.scale: x' = (x * scale - mean) / std
 *   /standardize attr scale float64, data.scale (only when it is not 1)
 *   /standardize/y_mean, /standardize/y_std float64 [k] (when data.standardize_y)
 *   /  attr classes         strings [K]: the training labels' class names (y's attribute
 *                          `classes`, as dptrain convert writes it), when they had them;
 *                          output k is classes[k]. Every file evaluated with the model
 *                          must number its classes alike (dpt_dataset_check_classes)
 *   /  attr columns         strings [F]: the training data's column names (X's attribute
 *                          `columns`, as dptrain convert writes it), when it had them
 *                          and no columns were picked (data.x_columns, y_columns);
 *                          input j is columns[j]. Every file evaluated with the model
 *                          that names its columns must name the same ones in the same
 *                          order (dpt_dataset_check_columns). Neither attribute is in
 *                          the checksum
 *   /  attr checksum = "xxh3-64:HEX" over every layer's tensors (in order, as
 *                          stored) and the standardization; verified by every
 *                          loader (dpt_model_load, dpt_weights_load); files
 *                          written before it load with a warning
 *   /plugin_files          string: each loaded plugin file's SHA-256 and path, one
 *                          line each as sha256sum prints them (io/plugin_record.h)
 *
 * Files are written to "PATH.tmp-<random>" in the same folder, flushed, fsynced
 * and renamed over PATH: a reader sees the old file or the new one, whole.
 * Checkpoints are model files with more in them: io/checkpoint.h.
 */
#ifndef DPT_IO_MODEL_FILE_H
#define DPT_IO_MODEL_FILE_H

#include "data/norm.h"
#include "model/net.h"
#include "model/spec.h"
#include "plugin/registry.h"

#include <dptrain/dptrain.h>

/* Where a load sends what it warns about without failing (a layer whose
 * plugin has another version than the one that wrote the file, but the
 * same parameter layout): fn(ctx, message) once per warning, the message
 * borrowed for the call. A NULL struct or fn drops the warnings. */
struct dpt_warn {
    void (*fn)(void *ctx, const char *msg);
    void *ctx;
};

/* What a file recorded about the plugin of one layer. */
struct dpt_layer_record {
    int recorded;     /* 0: the file predates the records (version and abi empty) */
    char version[64]; /* the plugin's version string when the file was written */
    char abi[16];     /* the plugin ABI it was built against, "MAJOR.MINOR" */
};

int dpt_model_save(const char *path, const struct dpt_net *net, const struct dpt_spec *spec,
                   const struct dpt_norm *norm, struct dpt_err *err);

/* The bytes dpt_model_save would write: the file built in memory, not
 * written. */
int dpt_model_file_bytes(const struct dpt_net *net, const struct dpt_spec *spec,
                         const struct dpt_norm *norm, uint64_t *bytes, struct dpt_err *err);
/* Rebuilds the network (plugins from reg) and its weights; *spec, *net and
 * *norm belong to the caller afterwards. A layer whose plugin now has
 * another version than the one recorded in the file is an error naming the
 * layer, the plugin and both versions when its parameter count or a
 * tensor's shape differs; otherwise the weights are read and warn gets a
 * message naming the same (warn may be NULL). */
int dpt_model_load(const char *path, const struct dpt_registry *reg, struct dpt_spec *spec,
                   struct dpt_net **net, struct dpt_norm *norm, const struct dpt_warn *warn,
                   struct dpt_err *err);

/* Writes predictions (n, n_out) as /pred float32 and, when labels is not
 * NULL, /label int32 [n]; same temporary-file-and-rename protocol. The
 * model's class names (n_names, may be 0) go into the root's string
 * attribute `classes`: label k is classes[k]. */
int dpt_predictions_save(const char *path, const float *pred, const int *labels, size_t n,
                         size_t n_out, const char *const *names, size_t n_names,
                         struct dpt_err *err);

/* Reads the /config text of a model or checkpoint file (malloc'ed). */
int dpt_model_read_config(const char *path, char **text, struct dpt_err *err);

/* Reads the layer tensors of a model or checkpoint file into net->params;
 * names and shapes must match (--init). Plugin versions as dpt_model_load. */
int dpt_weights_load(const char *path, struct dpt_net *net, const struct dpt_warn *warn,
                     struct dpt_err *err);

/* Reads what the file at path recorded about each layer's plugin into
 * rec[i] for net->nodes[i] (net->n_nodes entries; those of activations and
 * of layers the file lacks are left zeroed), for `dptrain inspect`. */
int dpt_model_read_records(const char *path, const struct dpt_net *net,
                           struct dpt_layer_record *rec, struct dpt_err *err);

/* 1 when the model or checkpoint file at path has a checksum attribute
 * (the loaders verify it), else 0. */
int dpt_model_has_checksum(const char *path);

/* What a file is, by its format attribute. */
enum dpt_file_kind { DPT_FILE_NEITHER, DPT_FILE_MODEL, DPT_FILE_CHECKPOINT };
/* Reads the format attribute of the file at path: *kind is DPT_FILE_MODEL
 * ("dptrain-model") or DPT_FILE_CHECKPOINT ("dptrain-checkpoint") and the
 * result 0; anything else is DPT_FILE_NEITHER with an error that says what
 * the file is instead (unreadable, not HDF5, no dptrain format attribute).
 * Only the attribute is read: whether the rest is whole is the loaders'. */
int dpt_model_file_kind(const char *path, enum dpt_file_kind *kind, struct dpt_err *err);

#endif
