/* HDF5 filter plugins: finding those installed for any HDF5 flavour, and
 * naming a missing one with the Debian package that provides it (see h5.h). */
#include "config.h"

#include "util/h5.h"

#include <dirent.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Filters HDF5 does not build in, by registered id: the name h5py and the
 * HDF Group's registry use, and the Debian package(s) that make the plugin
 * load here ("" when Debian 12 ships none: its hdf5-filter-plugin holds
 * LZ4 and BZip2 but no Bitshuffle). */
static const struct known_filter {
    H5Z_filter_t id;
    const char *name;
    const char *package;
} known[] = {
    {307, "bzip2", "package hdf5-filter-plugin"},
    {32000, "lzf", "packages hdf5-plugin-lzf and liblzf1"},
    {32001, "blosc", "package hdf5-filter-plugin-blosc-serial"},
    {32004, "lz4", "package hdf5-filter-plugin"},
    {32008, "bitshuffle", ""},
    {32013, "zfp", "package hdf5-filter-plugin-zfp-serial"},
    {32015, "zstd", ""},
    {32017, "sz", ""},
    {32026, "blosc2", ""},
};

static const struct known_filter *find_known(H5Z_filter_t id)
{
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        if (known[i].id == id) {
            return &known[i];
        }
    }
    return NULL;
}

/* Whether dir is already in HDF5's plugin search path. */
static int in_search_path(const char *dir)
{
    unsigned n = 0;
    if (H5PLsize(&n) < 0) {
        return 0;
    }
    for (unsigned i = 0; i < n; i++) {
        char have[4096];
        if (H5PLget(i, have, sizeof have) > 0 && strcmp(have, dir) == 0) {
            return 1;
        }
    }
    return 0;
}

/* Appends dir to the search path when it is a folder only root (or we)
 * can write to, and not there yet. */
static void append_dir(const char *dir)
{
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode) || (st.st_mode & (S_IWGRP | S_IWOTH)) ||
        (st.st_uid != 0 && st.st_uid != geteuid()) || in_search_path(dir)) {
        return;
    }
    H5PLappend(dir);
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* base/NAME/plugins for every NAME in base but own and serial, sorted. */
static void append_other_flavours(const char *base, const char *own)
{
    DIR *d = opendir(base);
    if (!d) {
        return;
    }
    char *names[16];
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < sizeof names / sizeof names[0]) {
        if (e->d_name[0] != '.' && strcmp(e->d_name, own) != 0 &&
            strcmp(e->d_name, "serial") != 0) {
            names[n] = strdup(e->d_name);
            n += names[n] != NULL;
        }
    }
    closedir(d);
    qsort(names, n, sizeof names[0], compare_names);
    for (size_t i = 0; i < n; i++) {
        char dir[4096];
        if (snprintf(dir, sizeof dir, "%s/%s/plugins", base, names[i]) < (int)sizeof dir) {
            append_dir(dir);
        }
        free(names[i]);
    }
}

/* Debian's lzf plugin (hdf5-plugin-lzf 3.7.0-8, built from h5py) calls
 * liblzf's lzf_decompress but does not link liblzf, so HDF5 fails to load
 * it in a program that has not loaded liblzf already (h5py has). Loading
 * liblzf for the whole process first lets the plugin load; without it,
 * lzf is reported missing as any other filter. The handle is kept. */
static void load_liblzf(void)
{
    if (!dlopen("liblzf.so.1", RTLD_LAZY | RTLD_GLOBAL)) {
        (void)dlerror();
    }
}

void dpt__h5_find_filters(void)
{
    static int done;
    if (done) {
        return;
    }
    done = 1;
    load_liblzf();
#ifdef H5_DEFAULT_PLUGINDIR
    /* Debian's layout: LIBDIR/hdf5/<flavour>/plugins, one per flavour. */
    char own_dir[4096];
    snprintf(own_dir, sizeof own_dir, "%s", H5_DEFAULT_PLUGINDIR);
    append_dir(own_dir); /* HDF5 drops it when HDF5_PLUGIN_PATH is set */
    char *slash = strrchr(own_dir, '/');
    if (!slash || strcmp(slash, "/plugins") != 0 || strchr(own_dir, ':')) {
        return;
    }
    *slash = '\0';
    slash = strrchr(own_dir, '/');
    if (!slash) {
        return;
    }
    *slash = '\0';
    const char *base = own_dir, *own = slash + 1;
    char dir[4096];
    if (snprintf(dir, sizeof dir, "%s/serial/plugins", base) < (int)sizeof dir) {
        append_dir(dir);
    }
    append_other_flavours(base, own);
#endif
}

const char *dpt__h5_filter_name(H5Z_filter_t id, const char *stored)
{
    const struct known_filter *k = find_known(id);
    return k ? k->name : stored && stored[0] ? stored : "unnamed";
}

const char *dpt__h5_filter_missing(char *buf, size_t len, H5Z_filter_t id)
{
    const struct known_filter *k = find_known(id);
    const char *off = getenv("HDF5_PLUGIN_PRELOAD");
    if (off && strcmp(off, "::") == 0) {
        snprintf(buf, len, "HDF5_PLUGIN_PRELOAD=:: turns HDF5's filter plugins off");
    } else if (k && k->package[0]) {
        snprintf(buf, len, "no installed HDF5 filter plugin provides it: install the Debian "
                 "%s", k->package);
    } else {
        snprintf(buf, len, "no installed HDF5 filter plugin provides it and Debian ships none: "
                 "an HDF5 filter plugin for filter id %d is needed (in a folder named by "
                 "HDF5_PLUGIN_PATH)", (int)id);
    }
    return buf;
}
