/* Start-up checks that the settings of a run fit together: the loss, the
 * targets in the training file and the model's outputs; the metrics asked
 * for; what early stopping and reduce-on-plateau monitor.
 *
 * Each check refuses a combination that would otherwise train without a
 * word while doing something else than asked: mean squared error reading
 * one column of class labels as one-hot rows, a metric the loss cannot
 * compute (printed as nan), a callback watching a metric that never has a
 * value (so it never fires). The message names the model file (and the
 * line of the setting), what the setting expects, what the data or model
 * holds, and what to write instead. What is left out: target values (a
 * label 7 under binary cross-entropy), which the loss plugins' check_rows
 * refuse when the targets are read at start-up (dpt_eval_check_targets), and
 * losses of other plugins, whose
 * own check_shape speaks for them.
 */
#ifndef DPT_TRAIN_CONSISTENCY_H
#define DPT_TRAIN_CONSISTENCY_H

#include "data/dataset.h"
#include "model/net.h"
#include "model/spec.h"

#include <dptrain/dptrain.h>

/* Local: every rank decides alike from the same spec, network and file
 * shapes. 0, or DPT_ECONFIG with the first problem found. ds is the
 * training file (its y's columns and dtype). */
int dpt_consistency_check(const struct dpt_spec *spec, const struct dpt_net *net,
                          const struct dpt_dataset *ds, struct dpt_err *err);

#endif
