/* The dptrain command: shared pieces of the subcommands. Only src/cli prints
 * and picks exit codes: 0 success, 1 a run failed (bad data, bad model file,
 * diverged...), 2 bad command line, 3 stopped by a signal after writing a
 * checkpoint, 128 + the signal's number stopped with nothing worth saving
 * (130 SIGINT, 143 SIGTERM, 138 SIGUSR1, 140 SIGUSR2). */
#ifndef DPT_CLI_CLI_H
#define DPT_CLI_CLI_H

#include "dist/dist.h"

#include <dptrain/dptrain.h>
#include <stdio.h>
#include <time.h>

struct dpt_net;

#define EXIT_RUN 1
#define EXIT_USAGE 2
#define EXIT_STOPPED 3

/* The options most subcommands share. --plugin-path and
 * --allow-unsafe-plugins are taken by every command that parses them with
 * cli_common_option; the others only by the commands whose --help lists
 * them (set in takes), so that an option that would do nothing is refused
 * instead of ignored (tests/help_defaults_checked.sh holds each --help to
 * what its command accepts). */
#define CLI_TAKES_THREADS 1u /* --threads T */
#define CLI_TAKES_FORMAT 2u  /* --format json|text */
#define CLI_TAKES_QUIET 4u   /* -q, --quiet */
struct cli_common {
    unsigned takes; /* CLI_TAKES_* */
    const char *plugin_path;
    int threads;
    int json;
    int quiet;
    int allow_unsafe_plugins; /* --allow-unsafe-plugins: warn instead of refusing */
};

/* argv[0] is the subcommand's name. Each returns the exit status. */
int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_predict(int argc, char **argv);
int cmd_plugins(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_summary(int argc, char **argv);
int cmd_check_plugin(int argc, char **argv);
int cmd_keys(int argc, char **argv);
int cmd_plan(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_convert(int argc, char **argv);
/* inspect's data-file half (src/cli/inspect_data.c): the exit status when
 * argv names a data file (or --sample is misused), -1 to go on with the
 * model and checkpoint inspection. */
int cli_inspect_data(int argc, char **argv);

/* To stdout: "blas: CONFIG, kernels NAME", with who chose them when dptrain
 * set OPENBLAS_CORETYPE (src/util/blas_core.h) and a note when the kernels
 * are older than the CPU runs. `dptrain --version` and `train --verbose`. */
void cli_print_blas(void);

/* The model summary (src/cli/summary_cmd.c): "Model: MODEL, input [30]",
 * one row per entry of model.layers (index, type and activation, output
 * shape, parameters), then the total, trainable and non-trainable
 * parameters with their memory. `dptrain summary` and `dptrain train
 * --verbose` print it. */
void cli_summary_print(FILE *f, const char *model, const struct dpt_net *net);

/* The file name of path without its folder and its last extension:
 * "cfgs/m.cfg" -> "m". */
void cli_model_stem(char *buf, size_t len, const char *path);

/* train's default --out: MODEL.cfg -> MODEL.h5 in the current folder
 * (src/cli/train_cmd.c; `dptrain plan` sizes the same file). */
void cli_default_out(char *buf, size_t len, const char *model);

/* "dptrain: error: MSG" on stderr (rank 0 only, or unknown rank). */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* On stderr: the plugin files the registry skipped and the plugins it found
 * shadowed further down the search path (call on rank 0). */
struct dpt_registry;
void cli_plugin_warnings(const struct dpt_registry *reg);
/* The plugin registry of a command (src/cli/plugin_trust.c): --plugin-path
 * and --allow-unsafe-plugins from c; on rank 0, a warning on stderr for
 * each unsafe file or folder that --allow-unsafe-plugins let through. */
int cli_registry_create(struct dpt_registry **reg, const struct cli_common *c,
                        struct dpt_err *err);
/* The warnings above, for a registry made another way (check-plugin). */
void cli_unsafe_plugin_warnings(const struct dpt_registry *reg);
/* "plugin file PATH sha256 HEX", one line per loaded plugin file, to f
 * (--verbose). */
void cli_plugin_files_print(FILE *f, const struct dpt_registry *reg);
/* What the model or checkpoint file at path recorded about the plugin
 * files loaded when it was written: printed (text) or set as member
 * "plugin_files" of json object o (when o is not NULL). */
struct json_t;
void cli_plugin_files_inspect(const char *path, struct json_t *o);

/* "dptrain: warning: MSG" on stderr (rank 0 only, or unknown rank); its
 * shape fits struct dpt_warn's fn (io/model_file.h), ctx unused. */
void cli_warn(void *ctx, const char *msg);
/* Usage errors: message plus "try 'dptrain CMD --help'"; returns EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* cli_usage_error for an option the command does not know, with a hint
 * when it is mpirun's -np (the user meant mpirun -np P dptrain CMD ...). */
int cli_unknown_option(const char *cmd, const char *opt);
/* This process's MPI rank from the launcher's environment (0 when not under mpirun). */
int cli_env_rank(void);

/* The task's metrics of an evaluation as members of the JSON object o
 * (accuracy, precision/recall/f1, top-k, mae/rmse/r2, confusion); a metric
 * without a value is left out. eval --format json and train's summary. */
struct json_t;
struct dpt_eval_result;
void cli_metrics_json(struct json_t *o, const struct dpt_eval_result *r);
/* The model's class names, when it has them, as the member "classes" of o
 * (index k names class k). eval and predict --format json, train's summary. */
struct dpt_norm;
void cli_classes_json(struct json_t *o, const struct dpt_norm *norm);
/* " (of the standardized targets)" when data.standardize_y made the loss
 * one of other units than the metrics beside it (mae, rmse: the file's
 * units), else "": for eval's line and train's test line. */
const char *cli_loss_units(const struct dpt_norm *norm);

/* Parses a common option at argv[*i] (advancing *i past its value);
 * 1 if taken, 0 if not a common option, -1 on a bad value (reported). */
int cli_common_option(const char *cmd, int argc, char **argv, int *i, struct cli_common *c);

/* MPI_Init_thread / MPI_Finalize around the commands that need MPI.
 * cli_mpi_init also starts the watchdog of collective calls
 * (dist/watchdog.h) with timeout_s seconds (0: none) when there is more
 * than one rank; cli_mpi_timeout changes it (once the model file's
 * train.timeout is known). On a timeout each live rank prints the
 * watchdog's line and the job ends with MPI_Abort (exit status 1). */
int cli_mpi_init(int *argc, char ***argv, struct dpt_dist *d, double timeout_s);
void cli_mpi_timeout(double timeout_s);
/* Whether cli_mpi_init set OMPI_MCA_pml=ob1 for a job on one node (main.c
 * says why); train --verbose says so. */
int cli_mpi_pml_chosen(void);
/* Whether cli_mpi_init set OMPI_MCA_btl_vader_single_copy_mechanism=none
 * (main.c says why); train --verbose says so. */
int cli_mpi_copy_chosen(void);
/* Whether cli_mpi_init set OMPI_MCA_ess_singleton_isolated=1 for a process
 * started without mpirun (main.c says why); train --verbose says so. */
int cli_mpi_isolated_chosen(void);
void cli_mpi_finalize(void);

/* t as "2026-12-06 04:38:02 UTC" (the lines of train for batch logs) and
 * as "2026-12-06T04:38:02Z" (ISO 8601, the JSON summary), into buf. */
const char *cli_utc(char *buf, size_t len, time_t t);
const char *cli_iso_utc(char *buf, size_t len, time_t t);

/* SIGINT, SIGTERM, SIGUSR1 and SIGUSR2 become a stop request
 * (dpt_stop_request) instead of ending the process. The long commands
 * (train, eval, predict) call it first thing, before MPI starts, so that a
 * signal in the first moments of a job is a clean stop too; cli_mpi_init
 * installs the handlers again after MPI_Init. */
void cli_catch_stop_signals(void);

/* While the library reads a file, a crash in libhdf5 or a read without
 * progress for DPTRAIN_READ_TIMEOUT seconds ends the process with one line
 * naming the file (main.c says how). Called first thing, and again after
 * MPI_Init, which installs crash handlers of its own. */
void cli_guard_reads(void);
/* After a stop request with nothing saved: the exit status for signal
 * sig, 128 + sig (130, 143, 138, 140). The ranks may have been signalled
 * differently (or only some): collective, every rank returns the same. */
int cli_stop_status(const struct dpt_dist *d);

/* A --set value's form (src/cli/set_option.c): 0 when it is
 * SECTION.KEY=VALUE with no empty part in the key, else a usage error
 * naming it (cmd as for cli_usage_error) and EXIT_USAGE. */
int cli_set_option(const char *cmd, const char *assignment);

#endif
