/* The model file's data sets (spec_data.c), read by spec.c's data section:
 * data.train, data.test, data.validation as files, glob patterns or lists
 * of them, and data.x_columns / data.y_columns, into spec->train_src,
 * test_src and validation_src. */
#ifndef DPT_MODEL_SPEC_DATA_H
#define DPT_MODEL_SPEC_DATA_H

#include "model/spec.h"
#include "plugin/host.h"

/* Reads the keys (marking them asked for); spec->train, test and
 * validation become the first file of each, NULL when not given. Returns
 * 0, or -1 with the message in c->err. */
int dpt__spec_read_data_sources(struct dpt_spec *spec, struct dpt_host_ctx *c);
/* After data.x and data.y are read: refuses data.y beside data.y_columns
 * and fills the sources' dataset names. */
int dpt__spec_check_data_sources(struct dpt_spec *spec, struct dpt_host_ctx *c);
void dpt__spec_free_data_sources(struct dpt_spec *spec);

#endif
