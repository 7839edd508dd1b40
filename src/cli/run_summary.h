/* The end-of-run summary of `dptrain train` (run_summary.c): the pieces of
 * the JSON object that --summary FILE.json writes and --format json prints
 * (train_cmd.c builds the rest): the best value of each metric over the
 * epochs of this run and the epoch it came from, the final metrics grouped
 * by data set, and the file write itself. README "train --format json"
 * lists every member; tests/run_summary.sh checks them for each way a run
 * can end.
 */
#ifndef DPT_CLI_RUN_SUMMARY_H
#define DPT_CLI_RUN_SUMMARY_H

#include "train/schedule.h"

#include <dptrain/dptrain.h>
#include <jansson.h>
#include <stdint.h>

/* The metrics an epoch reports, in this order: loss, accuracy, val_loss,
 * val_accuracy. */
#define CLI_N_METRICS 4

/* The best value of each metric so far (lowest loss, highest accuracy)
 * and its epoch (0: no value yet, e.g. no validation data). */
struct cli_best {
    double value[CLI_N_METRICS];
    int64_t epoch[CLI_N_METRICS];
};

/* Takes epoch st into b (the first epoch with a value sets it; a tie keeps
 * the earlier epoch, as early stopping does). */
void cli_best_update(struct cli_best *b, const struct dpt_epoch_stats *st);

/* Adds to o: "best" = {"train": {"loss": {"value", "epoch"}, "accuracy":
 * ...}, "validation": {...}} (a metric without a value is left out, and
 * so is a data set without any), and "final" = {"train": {"loss",
 * "accuracy"}, "validation": {...}, "test": test} from the last epoch
 * (last, NULL: no epoch finished) and the test result (NULL: none). */
void cli_summary_add_metrics(json_t *o, const struct cli_best *b,
                             const struct dpt_epoch_stats *last, json_t *test);

/* Writes o as one line of JSON to path through a temporary file renamed
 * over it (io/output.h), so that a reader never sees half a summary and an
 * older one stays whole when the write fails. 0, or an error naming the
 * file and the cause. */
int cli_summary_write(const char *path, const json_t *o, struct dpt_err *err);

#endif
