/* `dptrain train`'s model name and the file it must never write the
 * model over.
 *
 * The default --out is named after the model, MODEL.h5 for MODEL.cfg. A
 * resume without the model file takes the name its checkpoint stored
 * (attribute model_name, io/checkpoint.h), so that run from the
 * checkpoint's folder the model does not land on the checkpoint's link;
 * and whatever --out is, a checkpoint is never replaced by a trained
 * model (tests/resume_from_anywhere.sh).
 */
#ifndef DPT_CLI_RESUME_OUT_H
#define DPT_CLI_RESUME_OUT_H

#include "dist/dist.h"

#include <dptrain/dptrain.h>
#include <stddef.h>

/* The model's name into name (len bytes): the stem of the model file when
 * there is one; else the model_name the checkpoint resume stored (rank 0
 * reads it, every rank gets it); else, for a checkpoint written before
 * names were stored, the checkpoint's own stem. Collective. */
int cli_run_name(const struct dpt_dist *d, const char *model, const char *resume, char *name,
                 size_t len, struct dpt_err *err);

/* Rank 0, before training: an error naming both files when out is the
 * checkpoint link of this run (ckpt, may be NULL) or an existing
 * checkpoint (a numbered file, or a link to one). */
int cli_out_not_checkpoint(const char *out, const char *ckpt, struct dpt_err *err);

#endif
