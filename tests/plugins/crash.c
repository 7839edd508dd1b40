/* Test plugin: a layer that crashes (SIGSEGV, a store through a null
 * pointer), for the messages that name the plugin and its file
 * (tests/plugin_crash_reported.sh, tests/mpi/plugin_crash_one_rank.sh).
 * Built three times, CRASH_IN saying where:
 *   1  in create()          (crash_create.so, layer 'crash_create')
 *   2  in a constructor     (crash_ctor.so: dlopen runs it)
 *   3  in dpt_plugins()     (crash_list.so)
 *   4  in training          (crash_train.so, layer 'crash_train'): in
 *      forward() or backward(), as CRASH_FN=forward|backward in the
 *      environment says (no crash without it)
 * With CRASH_ONLY_RANK=R in the environment it crashes only on MPI rank R
 * (Open MPI's OMPI_COMM_WORLD_RANK), so that the other ranks carry on to
 * the next collective. */
#include <dptrain/plugin.h>

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#ifndef CRASH_IN
#error "build with -DCRASH_IN=1, 2 or 3"
#endif

/* Whether this process is one that should crash. */
static int crash_here(void)
{
    const char *only = getenv("CRASH_ONLY_RANK");
    const char *rank = getenv("OMPI_COMM_WORLD_RANK");
    return !only || (rank && strcmp(only, rank) == 0);
}

/* The crash itself: a store into a page mapped without access (a real
 * SIGSEGV; a null store would be stopped by UBSan first in the sanitizer
 * build). Both the pointer and the store are volatile: else the compiler
 * may drop a store it can prove goes nowhere. */
static void crash(void)
{
    volatile int *volatile nowhere =
        mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    *nowhere = 1;
}

#if CRASH_IN == 2
__attribute__((constructor)) static void crash_at_load(void)
{
    if (crash_here()) {
        crash();
    }
}
#endif

/* The state is the row width: the layer copies x to y. */
static int crash_create(void **state, const struct dpt_host *host, const struct dpt_shape *in,
                        struct dpt_layer_info *info)
{
#if CRASH_IN == 1
    if (crash_here()) {
        crash();
    }
#endif
    size_t *width = malloc(sizeof *width);
    if (!width) {
        return host->error(host->ctx, "out of memory");
    }
    *width = 1;
    for (uint32_t j = 0; j < in->rank; j++) {
        *width *= in->dims[j];
    }
    *info = (struct dpt_layer_info){.out = *in};
    *state = width;
    return 0;
}

static void crash_destroy(void *state)
{
    free(state);
}

/* CRASH_IN 4: whether fn is the function to crash in, here. */
static int crash_in(const char *fn)
{
#if CRASH_IN == 4
    const char *want = getenv("CRASH_FN");
    return want && strcmp(want, fn) == 0 && crash_here();
#else
    (void)fn;
    return 0;
#endif
}

static void crash_forward(const void *st, const float *params, const float *x, float *y,
                          const struct dpt_batch *b)
{
    (void)params;
    if (crash_in("forward")) {
        crash();
    }
    memcpy(y, x, b->B * *(const size_t *)st * sizeof *y);
}

static void crash_backward(const void *st, const float *params, const float *x, const float *y,
                           const float *dy, float *dx, float *dparams,
                           const struct dpt_batch *b)
{
    (void)params, (void)x, (void)y, (void)dparams;
    if (crash_in("backward")) {
        crash();
    }
    for (size_t i = 0; dx && i < b->B * *(const size_t *)st; i++) {
        dx[i] += dy[i];
    }
}

#if CRASH_IN == 1
#define CRASH_NAME "crash_create"
#elif CRASH_IN == 2
#define CRASH_NAME "crash_ctor"
#elif CRASH_IN == 4
#define CRASH_NAME "crash_train"
#else
#define CRASH_NAME "crash_list"
#endif

static const struct dpt_layer_plugin crashing = {
    .base = DPT_PLUGIN_HEADER(DPT_KIND_LAYER, CRASH_NAME, "1.0.0", "crashes on purpose"),
    .create = crash_create,
    .destroy = crash_destroy,
    .forward = crash_forward,
    .backward = crash_backward,
};
static const struct dpt_plugin *const all[] = {&crashing.base, NULL};
DPT_PLUGIN_EXPORT const struct dpt_plugin *const *dpt_plugins(void)
{
#if CRASH_IN == 3
    if (crash_here()) {
        crash();
    }
#endif
    return all;
}
