/* Predictions for people who do not read HDF5: `dptrain predict --format
 * csv` and `--format npy` (the HDF5 file is dpt_predictions_save in
 * io/model_file.h).
 *
 * CSV: a header line "pred_0,pred_1,...[,label[,class]]", then one line
 * per row: the outputs with 9 significant digits (enough to give back the
 * float32 bits), the class label when there is one, and its name when the
 * model has class names (quoted as RFC 4180 says when it holds a comma, a
 * quote or a line break). npy: numpy's format 1.0,
 * the outputs as little-endian float32 [N, outputs] ('<f4'), and the labels
 * as int32 [N] ('<i4') in a second file. Both are built in memory and
 * written through a temporary file and a rename (io/output.h), so the file
 * at a path is the old one or the new one, never a part. Left out:
 * compression, and .npz (a zip archive).
 */
#ifndef DPT_IO_PRED_FILES_H
#define DPT_IO_PRED_FILES_H

#include <dptrain/dptrain.h>
#include <stddef.h>

/* pred (n, n_out) and, unless NULL, labels [n] as CSV at path; with
 * labels and n_names > 0, each label's name (names[label]) too. */
int dpt_predictions_save_csv(const char *path, const float *pred, const int *labels, size_t n,
                             size_t n_out, const char *const *names, size_t n_names,
                             struct dpt_err *err);

/* pred (n, n_out) as .npy at path and, unless labels is NULL, the labels
 * as .npy at label_path. */
int dpt_predictions_save_npy(const char *path, const float *pred, const int *labels,
                             const char *label_path, size_t n, size_t n_out,
                             struct dpt_err *err);

#endif
