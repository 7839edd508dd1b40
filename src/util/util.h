/* Small helpers shared inside libdptrain (not exported). */
#ifndef DPT_UTIL_UTIL_H
#define DPT_UTIL_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* malloc'ed copy of s (NULL stays NULL). */
char *dpt__strdup(const char *s);
/* malloc'ed printf result, or NULL when out of memory. */
char *dpt__aprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* 64-byte aligned, zeroed allocation of n bytes (n may be 0); free with free(). */
void *dpt__zalloc_aligned(size_t n);
/* Seconds on a monotonic clock. */
double dpt__now(void);
/* A well-mixed 64-bit hash of (a, b), for deriving seeds. */
uint64_t dpt__mix64(uint64_t a, uint64_t b);
/* The path of the loaded file (the dptrain program or a plugin) that holds
 * address addr, as it was opened (a plugin's real path, not the
 * /proc/self/fd name the registry loads it by); "unknown file" when the
 * loader cannot tell. Borrowed: valid while the file stays loaded and
 * until this thread's next call. */
const char *dpt__file_of(const void *addr);
/* A user-given path for a message: the path itself when it is absolute and
 * plain, else "PATH (resolved as /ABS/PATH)", the absolute path against the
 * working directory with "." and ".." applied, so that a relative path
 * written in a model file and joined to the file's folder
 * ("x/../data/a.h5") says which file was looked for. Written to buf,
 * which is returned. */
const char *dpt__path_shown(const char *path, char *buf, size_t len);
/* "SIGINT", "SIGTERM", "SIGUSR1", "SIGUSR2", "SIGHUP", and the crash
 * signals the plugin guard catches ("SIGSEGV", "SIGBUS", "SIGFPE",
 * "SIGILL"), else "a signal": for messages about stops and crashes. */
const char *dpt__signal_name(int sig);
/* A duration in seconds from "SECONDS" (decimals allowed), "MM:SS",
 * "HH:MM:SS" or Slurm's "DAYS-HH[:MM[:SS]]"; 0, or -1 when s is not one. */
int dpt__duration_parse(const char *s, double *seconds);
/* Subnormal floats (below 1.2e-38) become zero in this thread and in the
 * threads it starts afterwards: results that would be subnormal are
 * flushed to zero and subnormal inputs read as zero (x86-64: MXCSR's FTZ
 * and DAZ bits; AArch64: FPCR.FZ). Arithmetic on subnormals takes a
 * microcode assist of ~100 cycles on x86, and a network that trains for
 * long makes many (Adam's moments of parameters whose gradient is zero
 * decay through the subnormal range). Unless DPTRAIN_KEEP_DENORMALS is set
 * to a non-empty value other than "0"; nothing on other CPUs. DESIGN.md,
 * "Subnormal floats are flushed". */
void dpt__flush_denormals(void);

#endif
