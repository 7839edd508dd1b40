/* The model description a model or checkpoint file stores (/config), made
 * to be read again from any folder.
 *
 * A model file's relative paths are relative to its folder, and a --set
 * value's to the working directory (model/spec.h); once loaded, every path
 * in the spec is relative to the working directory of the run. A
 * checkpoint read by `dptrain train --resume CKPT` without the model file
 * (a requeued batch job, started from another folder) has nothing else to
 * go by, so the stored text holds every path absolute: data.train,
 * data.test and data.validation (each file, glob pattern or list entry),
 * train.log and train.checkpoint.path, made absolute against the working
 * directory when the file is written. The checkpoint series the run
 * writes (spec->ckpt_path: train.checkpoint.path or --checkpoint) is
 * stored as a whole train.checkpoint group, with its every_steps,
 * every_epochs, every_seconds and keep as the run used them, so that a
 * resumed run without the model file checkpoints where and as often as
 * the original did (tests/resume_from_anywhere.sh). A data path that is a
 * glob pattern gets the working directory's own glob characters escaped
 * ("/runs/a[1]" -> "/runs/a\[1]"), so that the folder is not read as a
 * pattern. --deterministic is stored as train.deterministic = true, so the
 * resumed run sums as exactly as the original did without being told.
 *
 * Absolute rather than relative to the checkpoint's folder: a requeued job
 * changes its working directory, not where the data lives. A project
 * folder moved elsewhere is resumed with --set data.train=NEW (the data's
 * contents, not its path, are what a resume compares).
 */
#ifndef DPT_MODEL_SPEC_STORE_H
#define DPT_MODEL_SPEC_STORE_H

#include "model/spec.h"

/* The text to store for spec: its settings as libconfig writes them
 * (comments dropped), paths absolute and the checkpoint series written
 * out as described above. malloc'ed (the caller frees it); NULL when out
 * of memory. When the working directory cannot be named (removed under
 * the run), paths are stored as they are. */
char *dpt_spec_stored_text(const struct dpt_spec *spec);

#endif
