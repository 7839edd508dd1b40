/* Small helpers shared inside libdptrain. */
#include "config.h"

#include "util/util.h"

#include <ctype.h>
#include <dlfcn.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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
     * needed to name the file a plugin descriptor lives in. The registry
     * loads plugins as "/proc/self/fd/N" and keeps N open while they are
     * loaded (plugin/registry.c), so that name still leads to the file. */
    static _Thread_local char real[PATH_MAX];
    static const char fd_prefix[] = "/proc/self/fd/";
    Dl_info info;
    if (!addr || !dladdr(addr, &info) || !info.dli_fname || !info.dli_fname[0]) {
        return "unknown file";
    }
    if (strncmp(info.dli_fname, fd_prefix, sizeof fd_prefix - 1) == 0) {
        ssize_t n = readlink(info.dli_fname, real, sizeof real - 1);
        if (n > 0) {
            real[n] = '\0';
            return real;
        }
    }
    return info.dli_fname;
}

/* Appends component [s, s + n) of a path to buf (used bytes *used),
 * applying "." and ".." lexically. */
static void push_component(char *buf, size_t len, size_t *used, const char *s, size_t n)
{
    if (n == 0 || (n == 1 && s[0] == '.')) {
        return;
    }
    if (n == 2 && s[0] == '.' && s[1] == '.') {
        char *slash = strrchr(buf, '/');
        *used = slash && slash != buf ? (size_t)(slash - buf) : 1;
        buf[*used] = '\0';
        return;
    }
    if (*used + 1 + n >= len) {
        return;
    }
    if (buf[*used - 1] != '/') {
        buf[(*used)++] = '/';
    }
    memcpy(buf + *used, s, n);
    *used += n;
    buf[*used] = '\0';
}

const char *dpt__path_shown(const char *path, char *buf, size_t len)
{
    /* Symbolic links are left alone (the file may not exist, so realpath
     * cannot help): ".." is taken lexically, which is what a user reading
     * the message will do too. */
    char cwd[4096], abs[4096] = "/";
    size_t used = 1;
    if (path[0] != '/' && !getcwd(cwd, sizeof cwd)) {
        snprintf(buf, len, "%s", path);
        return buf;
    }
    for (int pass = path[0] == '/' ? 1 : 0; pass < 2; pass++) {
        const char *p = pass ? path : cwd;
        while (*p) {
            const char *end = strchr(p, '/');
            size_t n = end ? (size_t)(end - p) : strlen(p);
            push_component(abs, sizeof abs, &used, p, n);
            p += n + (end ? 1 : 0);
        }
    }
    if (strcmp(abs, path) == 0) {
        snprintf(buf, len, "%s", path);
    } else {
        snprintf(buf, len, "%s (resolved as %s)", path, abs);
    }
    return buf;
}

int dpt__duration_parse(const char *s, double *seconds)
{
    /* Up to three ':'-separated fields, the last one seconds (a decimal
     * number), and Slurm's "DAYS-" in front of hours. */
    double days = 0, f[3] = {0, 0, 0};
    int n = 0;
    char *end;
    const char *dash = strchr(s, '-');
    if (dash) {
        days = strtod(s, &end);
        if (end != dash || end == s || days < 0) {
            return -1;
        }
        s = dash + 1;
    }
    for (;;) {
        if (n == 3 || !isdigit((unsigned char)*s)) {
            return -1;
        }
        f[n++] = strtod(s, &end);
        if (*end == '\0') {
            break;
        }
        if (*end != ':') {
            return -1;
        }
        s = end + 1;
    }
    /* After "DAYS-" the fields count from hours, else from seconds. */
    double h, m, sec;
    if (dash) {
        h = f[0], m = f[1], sec = f[2];
    } else {
        h = n == 3 ? f[0] : 0, m = n >= 2 ? f[n - 2] : 0, sec = f[n - 1];
    }
    if ((n >= 2 && (sec >= 60 || m >= 60)) || (dash && h >= 24)) {
        return -1;
    }
    *seconds = ((days * 24 + h) * 60 + m) * 60 + sec;
    return 0;
}

void dpt__flush_denormals(void)
{
    const char *keep = getenv("DPTRAIN_KEEP_DENORMALS");
    if (keep && *keep && strcmp(keep, "0") != 0) {
        return;
    }
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    unsigned int csr;
    __asm__ volatile("stmxcsr %0" : "=m"(csr));
    csr |= 0x8040u; /* FTZ (bit 15) and DAZ (bit 6) */
    __asm__ volatile("ldmxcsr %0" : : "m"(csr));
#elif defined(__aarch64__) && (defined(__GNUC__) || defined(__clang__))
    unsigned long fpcr;
    __asm__ volatile("mrs %0, fpcr" : "=r"(fpcr));
    fpcr |= 1ul << 24; /* FZ */
    __asm__ volatile("msr fpcr, %0" : : "r"(fpcr));
#endif
}
