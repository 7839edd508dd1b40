/* Catching a crash in plugin code long enough to say whose it was.
 *
 * dpt__guard_call runs one call into a plugin (dlopen, which runs the
 * plugin's constructors; its dpt_plugins(); a create()) with handlers for
 * SIGSEGV, SIGBUS, SIGFPE and SIGILL installed for the duration of that
 * call only. When the call crashes, the handler jumps back out of it and
 * dpt__guard_call returns the signal number, so that the caller can write
 * "plugin 'x' (/path/x.so) crashed with SIGSEGV in create()".
 *
 * What it guarantees, and what it leaves out: after a caught crash the
 * process MUST report and exit. The crashed code may have left memory,
 * locks or the loader in any state, so dptrain calls nothing more of that
 * plugin (no destroy, no dlclose of any file) and never trains; the error
 * (DPT_ECRASH) goes the way every error goes, agreed on by all ranks and
 * printed once. docs/DESIGN.md ("A crash in a plugin") says why this is
 * sound enough for that path. Crashes in forward/backward during training
 * are not caught: they run on worker threads in the hot loop; there the
 * crash handler of cli/main.c prints one line naming the layer, plugin,
 * file and function (dpt__running, model/net.h) and leaves the rest to the
 * handler before it (Open MPI's report, a core file).
 */
#ifndef DPT_PLUGIN_GUARD_H
#define DPT_PLUGIN_GUARD_H

/* Runs fn(arg) on the calling thread with the four crash signals caught.
 * Returns 0 when fn returned, else the number of the signal it raised. The
 * signal handlers and the alternate signal stack in place before the call
 * are back in place when it returns, either way (with calls on several
 * threads at once: when the last of them returns). */
int dpt__guard_call(void (*fn)(void *arg), void *arg);

/* Whether any guarded call of this process has crashed: from then on the
 * process only reports and exits (the registry no longer closes files). */
int dpt__guard_crashed(void);

#endif
