/* Which epoch lines a batch log gets (train.log_every, log_every.c). A
 * 100000-epoch job printing every epoch leaves a log nobody reads; with
 * log_every the CLI prints every Nth epoch, or one line per T seconds of
 * training, and always: the first epoch of the run, the last one, the one
 * early stopping ended on, and, however the run ends (a signal, the time
 * limit, a NaN, an error), the last epoch it finished. A checkpoint brings
 * no epoch line: it has a line of its own (train_cmd.c). A line not
 * printed when its epoch ends is held until the next one replaces it or
 * the run stops. Applies only when the progress bar is off: on a terminal
 * every epoch gets its line. Rank 0.
 */
#ifndef DPT_CLI_LOG_EVERY_H
#define DPT_CLI_LOG_EVERY_H

#include "train/schedule.h"

#include <stdint.h>

struct cli_log_every {
    int64_t every_epochs; /* print epochs divisible by it; 0: by time */
    double every_s;       /* else at most one line per every_s seconds of training */
    double last_s;        /* st->elapsed of the last line printed */
    int printed;          /* a line was printed in this run */
    int held;             /* held_st is an epoch not printed yet */
    struct dpt_epoch_stats held_st;
};

/* Sets l up for train.log_every (spec.h's log_every_epochs, log_every_s);
 * thin = 0 (a progress bar on a terminal) prints every epoch. */
void cli_log_every_init(struct cli_log_every *l, int64_t every_epochs, double every_s,
                        int thin);

/* After epoch st: 1 when its line is due now (the caller prints it), else 0
 * and the line is held. */
int cli_log_every_due(struct cli_log_every *l, const struct dpt_epoch_stats *st);

/* The run stops (its stop's checkpoint was written, or it ended): 1 and
 * *st the held epoch's stats when one is held (the caller prints its line
 * now), else 0. */
int cli_log_every_take_held(struct cli_log_every *l, struct dpt_epoch_stats *st);

#endif
