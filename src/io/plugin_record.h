/* The plugin files a model or checkpoint file was written with.
 *
 * Dataset /plugin_files (a string, absent from files written before it):
 * one line per plugin file the registry had loaded when the file was
 * written, in load order, "SHA256  PATH\n", sha256sum's format (so that
 * `sha256sum -c` checks the files still there). PATH is the file's
 * absolute path with symbolic links resolved; a path holding a newline or
 * a backslash is written as sha256sum writes it (the line starts with a
 * backslash, and "\n" and "\\" stand for the two). It records what ran,
 * for the record: loading a model never compares it with the plugins
 * found now (the per-layer plugin_version does that, model_file.h).
 */
#ifndef DPT_IO_PLUGIN_RECORD_H
#define DPT_IO_PLUGIN_RECORD_H

#include "plugin/registry.h"

#include <dptrain/dptrain.h>
#include <hdf5.h>

/* Writes /plugin_files of the files reg loaded into the open file f;
 * 0, or -1 when HDF5 failed. */
int dpt__plugin_files_write(hid_t f, const struct dpt_registry *reg);

/* The /plugin_files text of the model or checkpoint file at path into
 * *text (malloc'ed; NULL when the file has none); 0 or an error naming the
 * file. */
int dpt_model_read_plugin_files(const char *path, char **text, struct dpt_err *err);

#endif
