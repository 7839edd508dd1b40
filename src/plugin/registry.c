/* The plugin registry: search path, dlopen, ABI checks, lookup by name.
 *
 * Every usable plugin file stays open until the registry is destroyed, so the
 * descriptors it hands out stay valid that long. Files are opened with
 * RTLD_NOW | RTLD_LOCAL: a missing symbol shows at load time, and two plugins
 * may use the same static names without clashing. A path entry is the file
 * or folder it names, relative to the working directory: "mine.so" is
 * opened as "./mine.so", never looked up in the system's library folders,
 * and messages show it as resolved ("mine.so (resolved as /ABS/mine.so)").
 * dlopen (the file's constructors) and dpt_plugins() run under the crash
 * guard (guard.h): a crash there is an error naming the file, never a
 * rejected file to skip.
 *
 * Before any of its code runs, a file and its folder must pass trust.h's
 * checks (owner, write bits); a file is dlopened as "/proc/self/fd/N", the
 * descriptor that was checked and hashed, which stays open as long as the
 * registry, so that no other file can take that name while the loader
 * remembers it. With DPT_REGISTRY_ALLOW_UNSAFE a failed check is kept as a
 * warning (dpt_registry_unsafe) instead of an error.
 */
#include "config.h"

#include "plugin/registry.h"
#include "plugin/abi1.h"
#include "plugin/guard.h"
#include "plugin/trust.h"
#include "util/util.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct dpt_registry {
    void **handles;
    size_t n_handles;
    struct dpt_registry_entry *entries;
    size_t n_entries;
    char **files; /* owned copies, entries[i].file points into them */
    size_t n_files;
    char **rejected;
    size_t n_rejected;
    char **shadowed; /* "KIND NAME in FILE (shadowed by FILE)" */
    size_t n_shadowed;
    size_t *entry_place; /* the search-path place each entry came from */
    char **dirs_seen; /* realpaths of scanned directories */
    size_t n_dirs_seen;
    struct dpt_registry_place *places; /* the search path, in order; paths owned */
    size_t n_places;
    unsigned flags;                    /* DPT_REGISTRY_* */
    struct dpt_registry_file *loaded;  /* per files[i]: real path and SHA-256 (owned) */
    char **unsafe;                     /* checks failed but allowed: the warnings */
    size_t n_unsafe;
    int *fds;                          /* every descriptor dlopened, closed last */
    size_t n_fds;
};

const char *dpt_kind_name(uint32_t kind)
{
    switch (kind) {
    case DPT_KIND_LAYER:
        return "layer";
    case DPT_KIND_ACTIVATION:
        return "activation";
    case DPT_KIND_LOSS:
        return "loss";
    case DPT_KIND_OPTIMIZER:
        return "optimizer";
    default:
        return "unknown";
    }
}

/* Appends p to the array *arr of *n elements of size sz; 0 or -1. */
static int push(void *arr, size_t *n, size_t sz, const void *p)
{
    void **a = arr;
    void *grown = realloc(*a, (*n + 1) * sz);
    if (!grown) {
        return -1;
    }
    memcpy((char *)grown + *n * sz, p, sz);
    *a = grown;
    (*n)++;
    return 0;
}

static int reject(struct dpt_registry *reg, const char *msg)
{
    char *copy = dpt__strdup(msg);
    if (!copy || push(&reg->rejected, &reg->n_rejected, sizeof copy, &copy) < 0) {
        free(copy);
        return DPT_ENOMEM;
    }
    return 0;
}

/* Checks one descriptor; 0 if usable, else writes the reason into err. */
static int check_descriptor(const struct dpt_plugin *p, const char *file, struct dpt_err *err)
{
    if (!p->name || !p->name[0]) {
        return dpt_err_set(err, DPT_EPLUGIN, "plugin %s: a descriptor has no name", file);
    }
    if (p->abi_major < DPT_ABI_MAJOR_OLDEST || p->abi_major > DPT_ABI_MAJOR) {
        return dpt_err_set(err, DPT_EPLUGIN,
                           "plugin %s: '%s' was built for plugin ABI %u.%u; this dptrain "
                           "speaks %d.%d (and loads %d.x)",
                           file, p->name, p->abi_major, p->abi_minor, DPT_ABI_MAJOR,
                           DPT_ABI_MINOR, DPT_ABI_MAJOR_OLDEST);
    }
    if (p->kind < DPT_KIND_LAYER || p->kind > DPT_KIND_OPTIMIZER) {
        return dpt_err_set(err, DPT_EPLUGIN, "plugin %s: '%s' has unknown kind %u", file,
                           p->name, p->kind);
    }
    return 0;
}

/* The first required function p lacks (see plugin.h), or NULL. */
static const char *missing_function(const struct dpt_plugin *p)
{
    switch (p->kind) {
    case DPT_KIND_LAYER:
        if (p->abi_major == 1) {
            const struct dpt_layer_plugin_v1 *l = (const void *)p;
            return !l->create ? "create" : !l->destroy ? "destroy" : !l->init ? "init"
                   : !l->forward ? "forward" : !l->backward ? "backward" : NULL;
        } else {
            const struct dpt_layer_plugin *l = (const void *)p;
            /* init and update_state depend on what create() reports: net.c. */
            return !l->create ? "create" : !l->destroy ? "destroy" : !l->forward ? "forward"
                   : !l->backward ? "backward" : NULL;
        }
    case DPT_KIND_ACTIVATION: {
        const struct dpt_activation_plugin *a = (const void *)p;
        return !a->forward ? "forward" : !a->backward ? "backward"
               : a->create && !a->destroy ? "destroy (it has create)" : NULL;
    }
    case DPT_KIND_LOSS: {
        const struct dpt_loss_plugin *l = (const void *)p;
        return !l->forward_backward ? "forward_backward" : !l->check_shape ? "check_shape"
               : l->create && !l->destroy ? "destroy (it has create)" : NULL;
    }
    case DPT_KIND_OPTIMIZER: {
        const struct dpt_optimizer_plugin *o = (const void *)p;
        return !o->create ? "create" : !o->destroy ? "destroy" : !o->state_floats
               ? "state_floats" : !o->step ? "step" : NULL;
    }
    }
    return NULL;
}

static int check_functions(const struct dpt_plugin *p, const char *file, struct dpt_err *err)
{
    const char *missing = missing_function(p);
    if (missing) {
        return dpt_err_set(err, DPT_EPLUGIN,
                           "plugin %s: %s '%s' lacks the required function %s (see plugin.h)",
                           file, dpt_kind_name(p->kind), p->name, missing);
    }
    return 0;
}

/* Adds plugin p of file to the entries. A name found again further down
 * the search path is shadowed (as a command is on $PATH: a development copy
 * on --plugin-path wins over the installed one) and noted for `dptrain
 * plugins`; found twice in one place (one folder or file), it is an error,
 * since neither can be said to come first. */
static int add_plugin(struct dpt_registry *reg, const struct dpt_plugin *p, const char *file,
                      struct dpt_err *err)
{
    size_t place = reg->n_places ? reg->n_places - 1 : 0;
    for (size_t j = 0; j < reg->n_entries; j++) {
        const struct dpt_registry_entry *e = &reg->entries[j];
        if (e->plugin->kind != p->kind || strcmp(e->plugin->name, p->name) != 0) {
            continue;
        }
        if (reg->entry_place[j] == place) {
            return dpt_err_set(err, DPT_EPLUGIN,
                               "two %s plugins named '%s' in one place of the plugin path: "
                               "%s and %s; remove one",
                               dpt_kind_name(p->kind), p->name, e->file, file);
        }
        char *note = dpt__aprintf("%s %s in %s (shadowed by %s)", dpt_kind_name(p->kind),
                                  p->name, file, e->file);
        if (!note || push(&reg->shadowed, &reg->n_shadowed, sizeof note, &note) < 0) {
            free(note);
            return dpt_err_set(err, DPT_ENOMEM, "out of memory loading plugins");
        }
        return 0;
    }
    struct dpt_registry_entry e = {p, file};
    size_t n = reg->n_entries;
    if (push(&reg->entry_place, &n, sizeof place, &place) < 0 ||
        push(&reg->entries, &reg->n_entries, sizeof e, &e) < 0) {
        return dpt_err_set(err, DPT_ENOMEM, "out of memory loading plugins");
    }
    return 0;
}

/* The two calls into a plugin file that run its code, each under the
 * crash guard: dlopen (which runs the file's constructors) and its
 * dpt_plugins(). */
struct open_call {
    const char *path;
    void *handle;
    dpt_plugins_fn fn;
    const struct dpt_plugin *const *list;
};

static void call_dlopen(void *arg)
{
    struct open_call *c = arg;
    c->handle = dlopen(c->path, RTLD_NOW | RTLD_LOCAL);
}

static void call_list(void *arg)
{
    struct open_call *c = arg;
    c->list = c->fn();
}

/* Keeps a usable file: its handle, its path as given (which the entries
 * point into), where it really is with its SHA-256 (tf's path moves into
 * the registry), and its plugins. */
static int keep_file(struct dpt_registry *reg, void *h, const struct dpt_plugin *const *list,
                     const char *file, struct dpt__trusted_file *tf, struct dpt_err *err)
{
    char *copy = dpt__strdup(file);
    struct dpt_registry_file rec = {.real = tf->real};
    memcpy(rec.sha256, tf->sha256, sizeof rec.sha256);
    size_t n = reg->n_files;
    if (!copy || push(&reg->loaded, &n, sizeof rec, &rec) < 0) {
        free(copy);
        dpt__trusted_file_close(tf);
        dlclose(h);
        return dpt_err_set(err, DPT_ENOMEM, "out of memory loading plugins");
    }
    tf->real = NULL;
    reg->loaded[reg->n_files].path = copy;
    if (push(&reg->files, &reg->n_files, sizeof copy, &copy) < 0) {
        free(copy);
        free((char *)rec.real);
        dlclose(h);
        return dpt_err_set(err, DPT_ENOMEM, "out of memory loading plugins");
    }
    if (push(&reg->handles, &reg->n_handles, sizeof h, &h) < 0) {
        dlclose(h);
        return dpt_err_set(err, DPT_ENOMEM, "out of memory loading plugins");
    }
    for (size_t i = 0; list[i]; i++) {
        int rc = add_plugin(reg, list[i], copy, err);
        if (rc < 0) {
            return rc;
        }
    }
    return 0;
}

/* A failed trust check (DPT__UNSAFE, the reason in err): an error that
 * says how to override it, or, with DPT_REGISTRY_ALLOW_UNSAFE, a warning
 * kept for the caller to print, and 0. */
static int unsafe(struct dpt_registry *reg, struct dpt_err *err)
{
    if (!(reg->flags & DPT_REGISTRY_ALLOW_UNSAFE)) {
        struct dpt_err why = *err;
        return dpt_err_set(err, DPT_EPLUGIN, "%s, or pass --allow-unsafe-plugins", why.msg);
    }
    char *note = dpt__aprintf("%s; used anyway (--allow-unsafe-plugins)", err->msg);
    if (!note || push(&reg->unsafe, &reg->n_unsafe, sizeof note, &note) < 0) {
        free(note);
        return dpt_err_set(err, DPT_ENOMEM, "out of memory");
    }
    return 0;
}

/* dlopen finds an object it already has by its name before it looks at
 * the file: a file loaded earlier as "/proc/self/fd/N" that dlclose did
 * not unload (a library marked NODELETE, or one of an earlier registry)
 * would be taken for this one once N is reused. So tf moves to another
 * descriptor number until no loaded object has its name. The number of
 * tries only bounds a loader gone wrong. */
static int free_fd_name(struct dpt__trusted_file *tf, const char *shown, struct dpt_err *err)
{
    for (int tries = 0; tries < 64; tries++) {
        void *h = dlopen(tf->fd_path, RTLD_LAZY | RTLD_NOLOAD);
        if (!h) {
            return 0;
        }
        struct link_map *lm = NULL;
        int taken = dlinfo(h, RTLD_DI_LINKMAP, &lm) == 0 && lm && lm->l_name &&
                    strcmp(lm->l_name, tf->fd_path) == 0;
        dlclose(h);
        if (!taken) {
            return 0; /* this very file, loaded before under another name */
        }
        int fd = fcntl(tf->fd, F_DUPFD_CLOEXEC, tf->fd + 1);
        if (fd < 0) {
            return dpt_err_set(err, DPT_EIO, "plugin file %s: %s", shown, strerror(errno));
        }
        close(tf->fd);
        tf->fd = fd;
        snprintf(tf->fd_path, sizeof tf->fd_path, "/proc/self/fd/%d", fd);
    }
    return dpt_err_set(err, DPT_EPLUGIN, "plugin file %s: the loader keeps every name "
                       "/proc/self/fd/N for it taken", shown);
}

/* dlerror's text without the "/proc/self/fd/N: " it starts with when the
 * file itself is at fault (the message names the file already). */
static const char *load_error(const char *fd_path)
{
    const char *e = dlerror();
    size_t k = strlen(fd_path);
    if (!e) {
        return "unknown error";
    }
    return strncmp(e, fd_path, k) == 0 && e[k] == ':' && e[k + 1] == ' ' ? e + k + 2 : e;
}

/* Opens name in the folder dirfd (already checked, its status dir_st);
 * file is the path the user or a folder scan gave, which messages show
 * resolved. The file must pass trust.h's checks first. Unusable files:
 * error if explicit, else recorded. A crash in the file's code is an
 * error (DPT_ECRASH) either way, and the file is left open: see guard.h. */
static int load_file(struct dpt_registry *reg, int dirfd, const char *name, const char *file,
                     const struct stat *dir_st, int explicit, struct dpt_err *err)
{
    char shown[PATH_MAX + 64];
    dpt__path_shown(file, shown, sizeof shown);
    struct dpt__trusted_file tf;
    struct dpt_err why = {0};
    void *h = NULL;
    int rc = dpt__trust_file_open(&tf, dirfd, name, file, dir_st, &why);
    if (rc == DPT__UNSAFE) {
        rc = unsafe(reg, &why);
        if (rc < 0) {
            *err = why;
            dpt__trusted_file_close(&tf);
            return rc;
        }
    }
    if (rc == 0) {
        rc = free_fd_name(&tf, shown, &why);
    }
    if (rc < 0) {
        dpt__trusted_file_close(&tf);
        goto rejected;
    }
    /* The descriptor stays open as long as the registry: its number is
     * the loaded file's name. */
    if (push(&reg->fds, &reg->n_fds, sizeof tf.fd, &tf.fd) < 0) {
        dpt__trusted_file_close(&tf);
        return dpt_err_set(err, DPT_ENOMEM, "out of memory loading plugins");
    }
    tf.fd = -1;
    struct open_call call = {.path = tf.fd_path};
    int sig = dpt__guard_call(call_dlopen, &call);
    if (sig) {
        dpt__trusted_file_close(&tf);
        return dpt_err_set(err, DPT_ECRASH, "plugin file %s crashed with %s while loading "
                           "(dlopen, which runs its constructors); this is a bug in the "
                           "plugin", shown, dpt__signal_name(sig));
    }
    h = call.handle;
    if (!h) {
        dpt_err_set(&why, DPT_EPLUGIN, "plugin %s: cannot load: %s", shown,
                    load_error(tf.fd_path));
        goto rejected;
    }
    dlerror();
    void *sym = dlsym(h, DPT_PLUGINS_SYMBOL);
    if (!sym) {
        dpt_err_set(&why, DPT_EPLUGIN,
                    "plugin %s: not a dptrain plugin (no '%s' symbol)", shown,
                    DPT_PLUGINS_SYMBOL);
        goto rejected;
    }
    memcpy(&call.fn, &sym, sizeof call.fn); /* object to function pointer, as POSIX allows */
    sig = dpt__guard_call(call_list, &call);
    if (sig) {
        dpt__trusted_file_close(&tf);
        return dpt_err_set(err, DPT_ECRASH, "plugin file %s crashed with %s in %s(); this "
                           "is a bug in the plugin", shown, dpt__signal_name(sig),
                           DPT_PLUGINS_SYMBOL);
    }
    const struct dpt_plugin *const *list = call.list;
    if (!list || !list[0]) {
        dpt_err_set(&why, DPT_EPLUGIN, "plugin %s: '%s' returned no plugins", shown,
                    DPT_PLUGINS_SYMBOL);
        goto rejected;
    }
    for (size_t i = 0; list[i]; i++) {
        if (check_descriptor(list[i], shown, &why) < 0 ||
            check_functions(list[i], shown, &why) < 0) {
            goto rejected;
        }
    }
    return keep_file(reg, h, list, file, &tf, err);

rejected:
    dpt__trusted_file_close(&tf);
    if (h) {
        dlclose(h);
    }
    if (explicit) {
        *err = why;
        return why.code;
    }
    return reject(reg, why.msg) < 0 ? dpt_err_set(err, DPT_ENOMEM, "out of memory") : 0;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Loads every *.so of a directory, in name order (so messages are stable).
 * The folder is checked (trust.h) before it is read, and its files are
 * opened from the descriptor that was checked. */
static int load_dir(struct dpt_registry *reg, const char *dir, struct dpt_err *err)
{
    char real[PATH_MAX], shown[PATH_MAX + 64];
    dpt__path_shown(dir, shown, sizeof shown);
    if (!realpath(dir, real)) {
        return dpt_err_set(err, DPT_EIO, "plugin path %s: %s", shown, strerror(errno));
    }
    for (size_t i = 0; i < reg->n_dirs_seen; i++) {
        if (strcmp(reg->dirs_seen[i], real) == 0) {
            /* Every caller records the folder's place just before. */
            reg->places[reg->n_places - 1].status = DPT_PLACE_REPEATED;
            return 0;
        }
    }
    char *seen = dpt__strdup(real);
    if (!seen || push(&reg->dirs_seen, &reg->n_dirs_seen, sizeof seen, &seen) < 0) {
        free(seen);
        return dpt_err_set(err, DPT_ENOMEM, "out of memory");
    }

    int fd;
    struct stat st;
    int rc = dpt__trust_dir_open(dir, shown, &fd, &st, err);
    if (rc == DPT__UNSAFE) {
        rc = unsafe(reg, err);
    }
    DIR *d = rc == 0 ? fdopendir(fd) : NULL;
    if (!d) {
        if (fd >= 0) {
            close(fd);
        }
        return rc < 0 ? rc : dpt_err_set(err, DPT_EIO, "plugin path %s: %s", shown,
                                         strerror(errno));
    }
    char **names = NULL;
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!ends_with(de->d_name, ".so")) {
            continue;
        }
        char *path = dpt__aprintf("%s/%s", dir, de->d_name);
        if (!path || push(&names, &n, sizeof path, &path) < 0) {
            free(path);
            rc = dpt_err_set(err, DPT_ENOMEM, "out of memory");
            break;
        }
    }
    if (rc == 0 && n > 1) { /* qsort must not get NULL, even for 0 items */
        qsort(names, n, sizeof *names, cmp_str);
    }
    for (size_t i = 0; i < n; i++) {
        if (rc == 0) {
            rc = load_file(reg, dirfd(d), names[i] + strlen(dir) + 1, names[i], &st, 0, err);
        }
        free(names[i]);
    }
    free(names);
    closedir(d);
    return rc;
}

/* A file named on the search path or given to check-plugin: the folder
 * that holds it as named (the link's, when it is a symbolic link) is
 * checked, then the file is opened from that folder's descriptor. */
static int load_named_file(struct dpt_registry *reg, const char *file, struct dpt_err *err)
{
    char folder[PATH_MAX], shown[2 * PATH_MAX + 128];
    const char *slash = strrchr(file, '/');
    const char *name = slash ? slash + 1 : file;
    if (!slash) {
        snprintf(folder, sizeof folder, ".");
    } else {
        snprintf(folder, sizeof folder, "%.*s", slash == file ? 1 : (int)(slash - file), file);
    }
    char real[PATH_MAX];
    snprintf(shown, sizeof shown, "%s (which holds %s)",
             realpath(folder, real) ? real : folder, file);
    if (!name[0]) {
        return dpt_err_set(err, DPT_EPLUGIN, "plugin %s: not a file", file);
    }
    int fd;
    struct stat st;
    int rc = dpt__trust_dir_open(folder, shown, &fd, &st, err);
    if (rc == DPT__UNSAFE) {
        rc = unsafe(reg, err);
    }
    if (rc == 0) {
        rc = load_file(reg, fd, name, file, &st, 1, err);
    }
    if (fd >= 0) {
        close(fd);
    }
    return rc;
}

/* Records one folder or file of the search path for `dptrain plugins
 * --verbose`, with what is there now. */
static int add_place(struct dpt_registry *reg, const char *path, const char *origin,
                     struct dpt_err *err)
{
    struct stat st;
    struct dpt_registry_place pl = {.path = dpt__strdup(path), .origin = origin};
    if (stat(path, &st) != 0) {
        pl.status = DPT_PLACE_MISSING;
    } else {
        pl.status = S_ISDIR(st.st_mode) ? DPT_PLACE_FOLDER : DPT_PLACE_FILE;
    }
    if (!pl.path || push(&reg->places, &reg->n_places, sizeof pl, &pl) < 0) {
        free((char *)pl.path);
        return dpt_err_set(err, DPT_ENOMEM, "out of memory");
    }
    return 0;
}

/* One entry of a search path: directory or file. */
static int load_entry(struct dpt_registry *reg, const char *entry, const char *origin,
                      struct dpt_err *err)
{
    int rc = add_place(reg, entry, origin, err);
    if (rc < 0) {
        return rc;
    }
    struct stat st;
    if (stat(entry, &st) != 0) {
        char shown[PATH_MAX + 64];
        return dpt_err_set(err, DPT_EIO, "%s entry %s: %s", origin,
                           dpt__path_shown(entry, shown, sizeof shown), strerror(errno));
    }
    if (S_ISDIR(st.st_mode)) {
        return load_dir(reg, entry, err);
    }
    return load_named_file(reg, entry, err);
}

static int load_path(struct dpt_registry *reg, const char *path, const char *origin,
                     struct dpt_err *err)
{
    char *copy = dpt__strdup(path);
    if (!copy) {
        return dpt_err_set(err, DPT_ENOMEM, "out of memory");
    }
    int rc = 0;
    char *save = NULL;
    for (char *e = strtok_r(copy, ":", &save); e && rc == 0; e = strtok_r(NULL, ":", &save)) {
        rc = load_entry(reg, e, origin, err);
    }
    free(copy);
    return rc;
}

/* The build tree's plugins when this program runs from the build tree,
 * else the install directory. Returns where the folder comes from. */
static const char *builtin_dir(char *buf, size_t len)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        size_t k = strlen(DPT_BUILD_DIR);
        if (strncmp(exe, DPT_BUILD_DIR, k) == 0 && exe[k] == '/') {
            snprintf(buf, len, "%s/plugins/.libs", DPT_BUILD_DIR);
            return "built-in (build tree)";
        }
    }
    snprintf(buf, len, "%s", DPT_PLUGIN_DIR);
    return "built-in";
}

/* The per-user folder, ${XDG_DATA_HOME:-$HOME/.local/share}/dptrain/plugins
 * (the XDG base directory specification, which also says to ignore a
 * relative XDG_DATA_HOME). Returns where it comes from, or NULL when neither
 * variable gives an absolute folder. */
static const char *user_dir(char *buf, size_t len)
{
    const char *xdg = getenv("XDG_DATA_HOME");
    if (xdg && xdg[0] == '/') {
        snprintf(buf, len, "%s/dptrain/plugins", xdg);
        return "per-user ($XDG_DATA_HOME)";
    }
    const char *home = getenv("HOME");
    if (home && home[0] == '/') {
        snprintf(buf, len, "%s/.local/share/dptrain/plugins", home);
        return "per-user ($HOME/.local/share)";
    }
    return NULL;
}

/* A folder the user did not name (per-user, built-in): scanned when it
 * exists, recorded either way. */
static int load_default_dir(struct dpt_registry *reg, const char *dir, const char *origin,
                            struct dpt_err *err)
{
    int rc = add_place(reg, dir, origin, err);
    if (rc == 0 && reg->places[reg->n_places - 1].status == DPT_PLACE_FOLDER) {
        rc = load_dir(reg, dir, err);
    }
    return rc;
}

int dpt_registry_create(struct dpt_registry **out, const char *path, struct dpt_err *err)
{
    return dpt_registry_create_flags(out, path, 0, err);
}

int dpt_registry_create_flags(struct dpt_registry **out, const char *path, unsigned flags,
                              struct dpt_err *err)
{
    *out = NULL;
    struct dpt_registry *reg = calloc(1, sizeof *reg);
    if (!reg) {
        return dpt_err_set(err, DPT_ENOMEM, "out of memory");
    }
    reg->flags = flags;
    int rc = 0;
    if (path && path[0]) {
        rc = load_path(reg, path, "--plugin-path", err);
    }
    const char *env = getenv("DPTRAIN_PLUGIN_PATH");
    if (rc == 0 && env && env[0]) {
        rc = load_path(reg, env, "DPTRAIN_PLUGIN_PATH", err);
    }
    char dir[PATH_MAX];
    const char *origin = user_dir(dir, sizeof dir);
    if (rc == 0 && origin) {
        rc = load_default_dir(reg, dir, origin, err);
    }
    origin = builtin_dir(dir, sizeof dir);
    if (rc == 0) {
        rc = load_default_dir(reg, dir, origin, err);
    }
    if (rc < 0) {
        dpt_registry_destroy(reg);
        return rc;
    }
    *out = reg;
    return 0;
}

int dpt_registry_create_file(struct dpt_registry **out, const char *file, unsigned flags,
                             struct dpt_err *err)
{
    *out = NULL;
    struct dpt_registry *reg = calloc(1, sizeof *reg);
    if (!reg) {
        return dpt_err_set(err, DPT_ENOMEM, "out of memory");
    }
    reg->flags = flags;
    int rc = load_named_file(reg, file, err);
    if (rc < 0) {
        dpt_registry_destroy(reg);
        return rc;
    }
    *out = reg;
    return 0;
}

void dpt_registry_destroy(struct dpt_registry *reg)
{
    if (!reg) {
        return;
    }
    /* After a crash in plugin code the loader may be stopped half way
     * through a dlopen: the process is about to exit, so nothing is closed. */
    for (size_t i = reg->n_handles; i-- > 0 && !dpt__guard_crashed();) {
        dlclose(reg->handles[i]);
    }
    for (size_t i = 0; i < reg->n_fds && !dpt__guard_crashed(); i++) {
        close(reg->fds[i]);
    }
    for (size_t i = 0; i < reg->n_files; i++) {
        free(reg->files[i]);
        free((char *)reg->loaded[i].real);
    }
    for (size_t i = 0; i < reg->n_unsafe; i++) {
        free(reg->unsafe[i]);
    }
    free(reg->unsafe);
    free(reg->loaded);
    free(reg->fds);
    for (size_t i = 0; i < reg->n_rejected; i++) {
        free(reg->rejected[i]);
    }
    for (size_t i = 0; i < reg->n_shadowed; i++) {
        free(reg->shadowed[i]);
    }
    free(reg->shadowed);
    free(reg->entry_place);
    for (size_t i = 0; i < reg->n_dirs_seen; i++) {
        free(reg->dirs_seen[i]);
    }
    for (size_t i = 0; i < reg->n_places; i++) {
        free((char *)reg->places[i].path);
    }
    free(reg->places);
    free(reg->handles);
    free(reg->entries);
    free(reg->files);
    free(reg->rejected);
    free(reg->dirs_seen);
    free(reg);
}

size_t dpt_registry_count(const struct dpt_registry *reg)
{
    return reg->n_entries;
}

const struct dpt_registry_entry *dpt_registry_entry(const struct dpt_registry *reg, size_t i)
{
    return i < reg->n_entries ? &reg->entries[i] : NULL;
}

size_t dpt_registry_file_count(const struct dpt_registry *reg)
{
    return reg->n_files;
}

const struct dpt_registry_file *dpt_registry_file(const struct dpt_registry *reg, size_t i)
{
    return i < reg->n_files ? &reg->loaded[i] : NULL;
}

size_t dpt_registry_unsafe_count(const struct dpt_registry *reg)
{
    return reg->n_unsafe;
}

const char *dpt_registry_unsafe(const struct dpt_registry *reg, size_t i)
{
    return i < reg->n_unsafe ? reg->unsafe[i] : NULL;
}

size_t dpt_registry_rejected_count(const struct dpt_registry *reg)
{
    return reg->n_rejected;
}

const char *dpt_registry_rejected(const struct dpt_registry *reg, size_t i)
{
    return i < reg->n_rejected ? reg->rejected[i] : NULL;
}

size_t dpt_registry_shadowed_count(const struct dpt_registry *reg)
{
    return reg->n_shadowed;
}

const char *dpt_registry_shadowed(const struct dpt_registry *reg, size_t i)
{
    return i < reg->n_shadowed ? reg->shadowed[i] : NULL;
}

size_t dpt_registry_place_count(const struct dpt_registry *reg)
{
    return reg->n_places;
}

const struct dpt_registry_place *dpt_registry_place(const struct dpt_registry *reg, size_t i)
{
    return i < reg->n_places ? &reg->places[i] : NULL;
}

const struct dpt_plugin *dpt_registry_find(const struct dpt_registry *reg, uint32_t kind,
                                           const char *name, struct dpt_err *err)
{
    char known[512] = "";
    size_t used = 0;
    for (size_t i = 0; i < reg->n_entries; i++) {
        const struct dpt_plugin *p = reg->entries[i].plugin;
        if (p->kind != kind) {
            continue;
        }
        if (strcmp(p->name, name) == 0) {
            return p;
        }
        int w = snprintf(known + used, sizeof known - used, "%s%s", used ? ", " : "", p->name);
        if (w > 0 && (size_t)w < sizeof known - used) {
            used += (size_t)w;
        }
    }
    char rejected[1024] = "";
    if (reg->n_rejected) {
        snprintf(rejected, sizeof rejected, "; %zu plugin file(s) were rejected, first: %s",
                 reg->n_rejected, reg->rejected[0]);
    }
    return dpt_err_set(err, DPT_EPLUGIN,
                       "no %s plugin named '%s' (known: %s)%s; a plugin of your own is "
                       "found with --plugin-path FILE_OR_FOLDER (see dptrain plugins --verbose)",
                       dpt_kind_name(kind), name, used ? known : "none", rejected),
           NULL;
}
