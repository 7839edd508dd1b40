/* Resuming: what a checkpoint and the run that continues it must agree on,
 * and what that run may change.
 *
 * A resume is exact only on the same model, the same data in the same order
 * and the same batches: a change of model.layers, model.loss, the data
 * (data.train's fingerprint, data.x/y, shuffle, standardization, scale,
 * validation split), train.batch or train.seed is refused, naming each
 * change. The order of the rows is the checkpoint's run record's (rows
 * order when it has none): the run keeps it (train.c), a data.shuffle_by
 * naming the other order is refused, and "auto" resolving otherwise today
 * is noted. Every other changed setting (epochs, the learning rate and the
 * optimizer's other settings, schedules, callbacks, checkpoints, the log)
 * is applied, and said so. Nothing here calls MPI or prints: the trainer
 * compares on rank 0 and shares the outcome; notes go to a callback.
 */
#ifndef DPT_TRAIN_RESUME_H
#define DPT_TRAIN_RESUME_H

#include "data/dataset.h"
#include "io/checkpoint.h"
#include "model/spec.h"

#include <dptrain/dptrain.h>
#include <stddef.h>

/* Writes into buf (len bytes) a fingerprint of the data set ds: the
 * shapes and kinds of X and y, and an XXH3-64 of rows at its start, middle
 * and end (up to 8 each), as read (floats). Reads those rows through ds;
 * local. 0 or the read's error. */
int dpt_resume_fingerprint(struct dpt_dataset *ds, char *buf, size_t len, struct dpt_err *err);

/* A note for the user: ctx and one line of text. */
typedef void (*dpt_note_fn)(void *ctx, const char *line);

/* Compares the checkpoint ckpt (its model description text as stored in
 * /config, and its run record was) with the spec and run record of the run
 * resuming it. Returns 0 or DPT_ECONFIG with a message naming every change
 * that breaks the resume. On 0, calls note once with the changed settings
 * applied (if any), once when the checkpoint's order of the rows is not
 * the one data.shuffle_by picks for this run (now), and once when the
 * resume runs on another number of ranks or threads without
 * --deterministic (so is not bitwise exact). */
int dpt_resume_compare(const char *ckpt, const char *ckpt_text,
                       const struct dpt_run_record *was, const struct dpt_spec *spec,
                       const struct dpt_run_record *now, dpt_note_fn note, void *ctx,
                       struct dpt_err *err);

#endif
