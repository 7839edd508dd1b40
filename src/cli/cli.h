/* The dptrain command: shared pieces of the subcommands. Only src/cli prints
 * and picks exit codes: 0 success, 1 a run failed (bad data, bad model file,
 * diverged...), 2 bad command line. */
#ifndef DPT_CLI_CLI_H
#define DPT_CLI_CLI_H

#include "dist/dist.h"

#include <dptrain/dptrain.h>
#include <stdio.h>

struct dpt_net;

#define EXIT_RUN 1
#define EXIT_USAGE 2

/* Options every subcommand takes. */
struct cli_common {
    const char *plugin_path;
    int threads;
    int json;
    int quiet;
};

/* argv[0] is the subcommand's name. Each returns the exit status. */
int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_predict(int argc, char **argv);
int cmd_plugins(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_summary(int argc, char **argv);
int cmd_check_plugin(int argc, char **argv);

/* The model summary (src/cli/summary_cmd.c): "Model: MODEL, input [30]",
 * one row per entry of model.layers (index, type and activation, output
 * shape, parameters), then the total, trainable and non-trainable
 * parameters with their memory. `dptrain summary` and `dptrain train
 * --verbose` print it. */
void cli_summary_print(FILE *f, const char *model, const struct dpt_net *net);

/* "dptrain: error: MSG" on stderr (rank 0 only, or unknown rank). */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* On stderr: the plugin files the registry skipped and the plugins it found
 * shadowed further down the search path (call on rank 0). */
struct dpt_registry;
void cli_plugin_warnings(const struct dpt_registry *reg);
/* "dptrain: warning: MSG" on stderr (rank 0 only, or unknown rank); its
 * shape fits struct dpt_warn's fn (io/model_file.h), ctx unused. */
void cli_warn(void *ctx, const char *msg);
/* Usage errors: message plus "try 'dptrain CMD --help'"; returns EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* This process's MPI rank from the launcher's environment (0 when not under mpirun). */
int cli_env_rank(void);

/* Parses a common option at argv[*i] (advancing *i past its value);
 * 1 if taken, 0 if not a common option, -1 on a bad value (reported). */
int cli_common_option(const char *cmd, int argc, char **argv, int *i, struct cli_common *c);

/* MPI_Init_thread / MPI_Finalize around the commands that need MPI. */
int cli_mpi_init(int *argc, char ***argv, struct dpt_dist *d);
void cli_mpi_finalize(void);

#endif
