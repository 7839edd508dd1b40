/* The pieces of model files that checkpoints share (internal to io/):
 * a checkpoint is a model file with more in it (see checkpoint.h).
 */
#ifndef DPT_IO_MODEL_IO_H
#define DPT_IO_MODEL_IO_H

#include "data/norm.h"
#include "io/model_file.h"
#include "model/net.h"
#include "util/h5.h"

#include <dptrain/dptrain.h>
#include <hdf5.h>
#include <xxhash.h>

/* The `format` attribute at the root of each kind of file. */
#define DPT_MODEL_FORMAT "dptrain-model"
#define DPT_CKPT_FORMAT "dptrain-checkpoint"

/* A model or checkpoint file open for reading, with HDF5's error printing
 * off until dpt__model_close. */
struct dpt__model_file {
    hid_t f;
    struct dpt__h5_quiet quiet;
};
/* Opens path read-only; *format receives its format attribute, which must
 * be a model's or a checkpoint's. Call dpt__model_close even on failure. */
int dpt__model_open(struct dpt__model_file *h, const char *path, char *format, size_t len,
                    struct dpt_err *err);
void dpt__model_close(struct dpt__model_file *h);

/* Writes what every model file holds: the root attributes (format, ...),
 * /config, /layers and /standardize. 0 or -1. */
int dpt__model_write_contents(hid_t f, const char *format, const struct dpt_net *net,
                              const char *config_text, const struct dpt_norm *norm);
/* Reads a float tensor of group g (whose path, "layers/00_dense", messages
 * name); its shape must be t's and its type float32. */
int dpt__model_read_tensor(hid_t g, const char *file, const char *gpath,
                           const struct dpt_tensor *t, float *dst, struct dpt_err *err);
/* Reads every layer's tensors into net->params, comparing each layer's
 * recorded plugin version with the loaded plugin's (see dpt_model_load in
 * model_file.h); warn may be NULL. */
int dpt__model_read_layers(hid_t f, const char *path, struct dpt_net *net,
                           const struct dpt_warn *warn, struct dpt_err *err);
/* The file's n_inputs and input_shape against the input of net: an error
 * naming both when they differ or do not agree with each other. */
int dpt__model_check_input(hid_t f, const char *path, const struct dpt_net *net,
                           struct dpt_err *err);
/* For a checkpoint read as a trained model (eval, predict): reads what
 * else it holds (/train, /optimizer, /callbacks) and checks its checksum
 * over that, net's weights and norm, as a resume would. */
int dpt__checkpoint_verify(hid_t f, const char *path, const struct dpt_net *net,
                           const struct dpt_norm *norm, struct dpt_err *err);
/* Adds the standardization of norm (mean and std, the scale when it is
 * not 1, y_mean and y_std; nothing for NULL) to the checksum h, as model
 * files and checkpoints both hash it. */
void dpt__model_hash_norm(XXH3_state_t *h, const struct dpt_norm *norm);

/* Reads /standardize into norm (left empty when the file has none). */
int dpt__model_read_norm(hid_t f, const char *path, size_t n_in, struct dpt_norm *norm,
                         struct dpt_err *err);

#endif
