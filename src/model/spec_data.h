/* The model file's data sets (spec_data.c), read by spec.c's data section:
 * data.train, data.test, data.validation as files, glob patterns or lists
 * of them, and data.x_columns / data.y_columns, into spec->train_src,
 * test_src and validation_src. */
#ifndef DPT_MODEL_SPEC_DATA_H
#define DPT_MODEL_SPEC_DATA_H

#include "model/spec.h"
#include "plugin/host.h"

/* Reads key ("train", "test" or "validation"; marking it asked for) into
 * its source; spec->train, test or validation becomes its first file, NULL
 * when not given. Returns 0, or -1 with the message in c->err. */
int dpt__spec_read_data_files(struct dpt_spec *spec, struct dpt_host_ctx *c, const char *key);
/* Reads data.x_columns and data.y_columns, the same way. */
int dpt__spec_read_data_columns(struct dpt_spec *spec, struct dpt_host_ctx *c);
/* After the data section is read: refuses data.y beside data.y_columns
 * and fills the sources' dataset names and columns. */
int dpt__spec_check_data_sources(struct dpt_spec *spec, struct dpt_host_ctx *c);
void dpt__spec_free_data_sources(struct dpt_spec *spec);

#endif
