/* Small helpers shared inside libdptrain. */
#include "config.h"

#include "util/util.h"

#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

char *dpt__strdup(const char *s)
{
    if (!s) {
        return NULL;
    }
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) {
        memcpy(d, s, n);
    }
    return d;
}

char *dpt__aprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0) {
        s = NULL;
    }
    va_end(ap);
    return s;
}

void *dpt__zalloc_aligned(size_t n)
{
    size_t rounded = (n + 63) / 64 * 64;
    void *p = aligned_alloc(64, rounded ? rounded : 64);
    if (p) {
        memset(p, 0, rounded ? rounded : 64);
    }
    return p;
}

double dpt__now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

uint64_t dpt__mix64(uint64_t a, uint64_t b)
{
    /* splitmix64 finalizer over a combination of both words. */
    uint64_t z = a * 0x9E3779B97F4A7C15ull ^ (b + 0x632BE59BD9B4E019ull + (a << 6) + (a >> 2));
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

const char *dpt__file_of(const void *addr)
{
    /* dladdr reads the loader's own list of loaded objects: no registry is
     * needed to name the file a plugin descriptor lives in. */
    Dl_info info;
    if (addr && dladdr(addr, &info) && info.dli_fname && info.dli_fname[0]) {
        return info.dli_fname;
    }
    return "unknown file";
}
