/* train.log_every: which epoch lines a batch log gets. See log_every.h. */
#include "config.h"

#include "cli/log_every.h"

#include <string.h>

void cli_log_every_init(struct cli_log_every *l, int64_t every_epochs, double every_s,
                        int thin)
{
    memset(l, 0, sizeof *l);
    l->every_epochs = thin ? every_epochs : 1;
    l->every_s = thin ? every_s : 0.0;
    if (l->every_epochs <= 0 && !(l->every_s > 0)) {
        l->every_epochs = 1; /* nothing sensible asked: every epoch */
    }
}

int cli_log_every_due(struct cli_log_every *l, const struct dpt_epoch_stats *st)
{
    int due = !l->printed || st->epoch >= st->epochs || st->stop_early;
    if (l->every_epochs > 0) {
        due |= st->epoch % l->every_epochs == 0;
    } else {
        due |= st->elapsed - l->last_s >= l->every_s;
    }
    if (due) {
        l->printed = 1;
        l->held = 0;
        l->last_s = st->elapsed;
        return 1;
    }
    l->held = 1;
    l->held_st = *st;
    return 0;
}

int cli_log_every_take_held(struct cli_log_every *l, struct dpt_epoch_stats *st)
{
    if (!l->held) {
        return 0;
    }
    *st = l->held_st;
    l->held = 0;
    l->last_s = st->elapsed;
    return 1;
}
