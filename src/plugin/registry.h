/* The plugin registry: finds plugin files on the search path, dlopens them,
 * checks their ABI and keeps their descriptors by (kind, name).
 *
 * Search order: the --plugin-path entries, then DPTRAIN_PLUGIN_PATH, then the
 * per-user folder ${XDG_DATA_HOME:-$HOME/.local/share}/dptrain/plugins, then
 * the built-in directory (the build tree's plugins/.libs when dptrain runs
 * from its build tree, else the install directory). Entries are
 * ':'-separated directories (every *.so in them is tried) or plugin files. A
 * directory is scanned once however often it is listed. The per-user and
 * built-in folders are skipped when they do not exist. The registry keeps
 * the search path it walked (dpt_registry_place) for `dptrain plugins
 * --verbose`.
 *
 * Fatal (create fails): a named entry that does not exist, an explicitly
 * named file that is not a usable plugin, two plugins of one kind with one
 * name (the message names both files). Files found by scanning a directory
 * that are not usable plugins are recorded as rejected, with the reason.
 *
 * Every folder scanned and every file loaded must be owned by the running
 * user or root and writable by no one else (plugin/trust.h); one that is
 * not is fatal, its message naming it and the reason, unless the registry
 * is created with DPT_REGISTRY_ALLOW_UNSAFE, which keeps the message as a
 * warning (dpt_registry_unsafe) and loads it. An empty entry of a path
 * ("a::b", a leading or trailing ':') is skipped: the working folder is
 * searched only when an entry names it ("." or a relative path). The
 * registry records each loaded file's real path and SHA-256
 * (dpt_registry_file), for --verbose and the model file.
 */
#ifndef DPT_PLUGIN_REGISTRY_H
#define DPT_PLUGIN_REGISTRY_H

#include <dptrain/dptrain.h>
#include <dptrain/plugin.h>

struct dpt_registry;

struct dpt_registry_entry {
    const struct dpt_plugin *plugin; /* borrowed from the loaded file */
    const char *file;                /* the file it came from */
};

/* One folder or file of the search path, as the registry found it. */
enum dpt_place_status {
    DPT_PLACE_FOLDER,   /* a folder, scanned */
    DPT_PLACE_FILE,     /* a file, loaded (or, for the per-user and built-in
                         * places, not a folder, so skipped) */
    DPT_PLACE_MISSING,  /* nothing there */
    DPT_PLACE_REPEATED, /* a folder already scanned earlier on the path */
};

struct dpt_registry_place {
    const char *path;   /* as written, or as computed for the per-user and built-in folders */
    const char *origin; /* "--plugin-path", "DPTRAIN_PLUGIN_PATH", "per-user (...)", "built-in" */
    enum dpt_place_status status;
};

/* Flags of dpt_registry_create_flags and dpt_registry_create_file. */
#define DPT_REGISTRY_ALLOW_UNSAFE 1u /* warn about unsafe files and folders, load them */

/* path: the --plugin-path value (may be NULL). flags: DPT_REGISTRY_*. */
int dpt_registry_create(struct dpt_registry **out, const char *path, struct dpt_err *err);
int dpt_registry_create_flags(struct dpt_registry **out, const char *path, unsigned flags,
                              struct dpt_err *err);
/* A registry of the plugins of one file only (no search path), for
 * `dptrain check-plugin`: the file must pass the same safety checks, load
 * and pass the same ABI and required-function checks. */
int dpt_registry_create_file(struct dpt_registry **out, const char *file, unsigned flags,
                             struct dpt_err *err);
void dpt_registry_destroy(struct dpt_registry *reg);

size_t dpt_registry_count(const struct dpt_registry *reg);
const struct dpt_registry_entry *dpt_registry_entry(const struct dpt_registry *reg, size_t i);
size_t dpt_registry_rejected_count(const struct dpt_registry *reg);
/* "FILE: reason" for rejected file i. */
const char *dpt_registry_rejected(const struct dpt_registry *reg, size_t i);
/* Plugins not used because one of the same kind and name came earlier in
 * the search path: "KIND NAME in FILE (shadowed by FILE)". */
size_t dpt_registry_shadowed_count(const struct dpt_registry *reg);
const char *dpt_registry_shadowed(const struct dpt_registry *reg, size_t i);

/* A plugin file the registry loaded and kept; strings live as long as
 * the registry. */
struct dpt_registry_file {
    const char *path; /* as on the search path or found by a scan (entries' file) */
    const char *real; /* the file opened: absolute, symbolic links resolved */
    char sha256[65];  /* hex SHA-256 of the bytes loaded (read through the same descriptor) */
};
size_t dpt_registry_file_count(const struct dpt_registry *reg);
const struct dpt_registry_file *dpt_registry_file(const struct dpt_registry *reg, size_t i);
/* With DPT_REGISTRY_ALLOW_UNSAFE: one message per failed safety check,
 * "plugin file X: writable by ...; used anyway (--allow-unsafe-plugins)". */
size_t dpt_registry_unsafe_count(const struct dpt_registry *reg);
const char *dpt_registry_unsafe(const struct dpt_registry *reg, size_t i);

/* The search path in order; strings live as long as the registry. */
size_t dpt_registry_place_count(const struct dpt_registry *reg);
const struct dpt_registry_place *dpt_registry_place(const struct dpt_registry *reg, size_t i);

/* The plugin of this kind and name, or NULL with an error that lists the
 * names of that kind that are known (and rejected files, if any). */
const struct dpt_plugin *dpt_registry_find(const struct dpt_registry *reg, uint32_t kind,
                                           const char *name, struct dpt_err *err);

/* "layer", "activation", "loss", "optimizer" (or "unknown"). */
const char *dpt_kind_name(uint32_t kind);

#endif
