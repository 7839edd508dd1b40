/* Stop requests: one process-wide flag that a host sets (from a signal
 * handler) and the library's long loops poll. It is the only way the
 * library learns that the user wants it to stop; the library installs no
 * signal handler of its own, so a host program keeps its signals.
 *
 * The flag is a volatile sig_atomic_t: setting it is async-signal-safe and
 * reading it is one load, cheap enough for a loop to ask once per block of
 * rows. Once set it stays set: a stop is not taken back.
 */
#include "config.h"

#include "util/util.h"

#include <dptrain/dptrain.h>
#include <signal.h>

/* The signal number of the first request, or 0. */
static volatile sig_atomic_t stop_signal;

void dpt_stop_request(int sig)
{
    if (!stop_signal) {
        stop_signal = sig > 0 ? sig : SIGTERM;
    }
}

int dpt_stop_requested(void)
{
    return stop_signal;
}

const char *dpt__signal_name(int sig)
{
    switch (sig) {
    case SIGINT:  return "SIGINT";
    case SIGTERM: return "SIGTERM";
    case SIGUSR1: return "SIGUSR1";
    case SIGUSR2: return "SIGUSR2";
    case SIGHUP:  return "SIGHUP";
    case SIGSEGV: return "SIGSEGV";
    case SIGBUS:  return "SIGBUS";
    case SIGFPE:  return "SIGFPE";
    case SIGILL:  return "SIGILL";
    case SIGABRT: return "SIGABRT";
    default:      return "a signal";
    }
}
