/* Naming a setting that --set made: errors about a value the user typed on
 * the command line point at that --set, not at the model file, whose line
 * the value never had (set_blame.c). libconfig gives a setting made by
 * --set no source line; every setting read from a file has one.
 */
#ifndef DPT_PLUGIN_SET_BLAME_H
#define DPT_PLUGIN_SET_BLAME_H

#include <libconfig.h>
#include <stddef.h>

/* The path of setting s as --set spells it, "model.layers.[1].units",
 * into buf (returned). */
const char *dpt__setting_path(const config_setting_t *s, char *buf, size_t len);

/* "--set PATH=VALUE" for a setting s without a source line (one --set
 * made), the value written as libconfig would read it back ("--set
 * train.epochs=abc", "--set data.train=x.h5"); for a group --set made on
 * the way, that of the first key in it. Into buf (returned). Returns NULL, buf untouched,
 * for a setting read from a file (it has a line) or NULL. */
const char *dpt__set_blame(const config_setting_t *s, char *buf, size_t len);

#endif
