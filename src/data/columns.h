/* Column selections: data.x_columns and data.y_columns, which take the
 * features and the labels of a data set from columns of one 2-D dataset
 * [N, columns] (a table stored as one array) instead of two datasets.
 *
 *     data = { train = "table.h5"; x = "data"; y_columns = [-1]; };
 *     data = { x = "data"; x_columns = "0:20"; y_columns = [20, 21]; };
 *
 * A selection is a column index (negative ones count from the end, as in
 * numpy: -1 is the last column), a range "a:b" (Python's slice without a
 * step: a included, b excluded, either end left out or negative), or a list
 * of these, in the order the columns are wanted. A column may be selected
 * once. The syntax is checked when the model file is read (the message
 * names the key and its line); whether the columns exist is checked when a
 * data file is opened, against that dataset's width (the message names the
 * key, its line, the file, the dataset and its width).
 */
#ifndef DPT_DATA_COLUMNS_H
#define DPT_DATA_COLUMNS_H

#include <dptrain/dptrain.h>
#include <libconfig.h>
#include <stddef.h>
#include <stdint.h>

/* One item of a selection: a single column, or a range with optional ends. */
struct dpt_col_item {
    int64_t lo, hi;
    int has_lo, has_hi; /* a range's ends as written; a single column has both */
    int single;         /* an index, not a range */
};

struct dpt_columns {
    char *key;   /* "data.y_columns", copied */
    char *where; /* "FILE:LINE" of the setting, copied */
    size_t n;
    struct dpt_col_item *items;
};

/* Parses setting s (an integer, a string, or a list or array of them) of
 * key into *out (malloc'ed; dpt_columns_destroy frees it). where is
 * "FILE:LINE" for messages. A malformed item is DPT_ECONFIG naming where,
 * the key, what was expected and what was found. */
int dpt_columns_parse(struct dpt_columns **out, const config_setting_t *s, const char *key,
                      const char *where, struct dpt_err *err);
void dpt_columns_destroy(struct dpt_columns *c); /* NULL is fine */

/* The columns c selects of a dataset `width` columns wide, in c's order,
 * into *idx (malloc'ed, *n_idx of them; the caller frees it). path and
 * dset name the file and dataset in messages: a column or a range end
 * outside [-width, width], an empty range, a column selected twice. */
int dpt_columns_resolve(const struct dpt_columns *c, uint64_t width, const char *path,
                        const char *dset, uint64_t **idx, size_t *n_idx, struct dpt_err *err);

/* Writes idx (n columns) as ranges, "0:20, 23", into buf. */
const char *dpt_columns_text(const uint64_t *idx, size_t n, char *buf, size_t len);

#endif
