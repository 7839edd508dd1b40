/* A trained network as an ONNX model (`dptrain export`).
 *
 * The graph computes what `dptrain predict` writes to /pred: input "x",
 * float32 [N, sample shape] (the data file's values, channels last, as
 * dptrain reads them: [N, H, W] files become [N, H, W, 1]), output "pred",
 * float32 [N, outputs]. In between: data.scale and the input
 * standardization of the model file, every layer and activation (the final
 * one included, also when the loss fuses it in training), and the inverse
 * of data.standardize_y. docs/DESIGN.md ("ONNX export") has the mapping
 * table and the layout choice: the tensors stay channels last, and each
 * run of convolutions, pooling and batch norms on images is wrapped in a
 * Transpose to ONNX's channels-first order and one back.
 *
 * Opset 13, IR version 7; the encoding is protobuf-c's, of the schema
 * Debian's libonnx-dev ships (onnx.proto, compiled at build time). Only
 * the built-in layers and activations are mapped, recognized by name and
 * by the file they were loaded from; any other plugin is refused by name.
 * The file is written through a temporary file and a rename
 * (io/output.h): the file there before stays whole on any failure.
 * Built only when configure found protoc-c, libprotobuf-c and onnx.proto
 * (DPT_HAVE_ONNX); it is part of the dptrain command, not of libdptrain.
 */
#ifndef DPT_IO_ONNX_EXPORT_H
#define DPT_IO_ONNX_EXPORT_H

#include "data/norm.h"
#include "model/net.h"

#include <dptrain/dptrain.h>
#include <stddef.h>

/* The ONNX operator set and IR version of exported files. */
#define DPT_ONNX_OPSET 13
#define DPT_ONNX_IR_VERSION 7

/* What an export wrote, for the command's report. */
struct dpt_onnx_info {
    size_t nodes;        /* ONNX nodes in the graph */
    size_t initializers; /* constant tensors: weights, statistics, shapes */
    size_t bytes;        /* the file's size */
};

/* Writes net (with the scale and statistics of norm, which may be NULL) to
 * path as ONNX. source names the model file in messages ("m.h5: layer 2
 * (vscale): ..."). 0, or DPT_EPLUGIN for a layer or activation without an
 * ONNX mapping (named with its plugin and file), DPT_ENOMEM, or the
 * write's error (DPT_EIO, naming path and the cause). *info may be NULL. */
int dpt_onnx_export(const char *path, const struct dpt_net *net, const struct dpt_norm *norm,
                    const char *source, struct dpt_onnx_info *info, struct dpt_err *err);

#endif
