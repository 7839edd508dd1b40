/* Catching a crash in plugin code at load and create time. See guard.h for
 * what is guaranteed; this comment says why the mechanism is sound enough
 * for what it is used for, which is only to report and exit.
 *
 * A guarded call installs handlers for SIGSEGV, SIGBUS, SIGFPE and SIGILL
 * (the signals a faulting instruction raises), runs the call, and puts the
 * previous handlers back (Open MPI's backtrace handler, ASan's, the
 * default). When the call faults, the handler siglongjmps to the
 * sigsetjmp in dpt__guard_call, which restores the signal mask saved
 * there (so the caught signal is not left blocked) and returns the signal
 * number.
 *
 * Why this is sound enough:
 * - The handler itself does only what POSIX allows in a handler: it reads
 *   a thread-local pointer that dpt__guard_call set before the call (the
 *   first access happened outside the handler, so reading it allocates
 *   nothing), stores into volatile sig_atomic_t variables, and calls
 *   siglongjmp, or, for a fault that is not a guarded call's, signal()
 *   and raise(). It formats and prints nothing.
 * - Jumping out of a handler that interrupted a function which is not
 *   async-signal-safe (malloc, dlopen) leaves that function's state
 *   undefined: a lock may stay held, a list half updated. That is why a
 *   caught crash is a one-way door: the caller only formats a message
 *   (snprintf into a fixed buffer), the error is agreed on by the ranks and
 *   printed, and the process exits. Nothing calls the crashed plugin again,
 *   and no file is dlclose'd after a crash (the loader may be mid-dlopen).
 *   The common crash, a plugin's own bad pointer or index in its own code,
 *   leaves the C library consistent, and then the report is exact.
 * - The handlers run on an alternate signal stack of their own, so that a
 *   crash from running out of stack (runaway recursion in create) is
 *   caught too rather than killing the process silently.
 * - Only the thread in a guarded call is rescued: a fault on another thread
 *   while the handlers are installed finds no jump target, restores the
 *   default action and re-raises, so it ends the process as it would have.
 *
 * Crashes during training (forward, backward, step) are not caught: they
 * run on many threads in the hot loop, and a crash there is left to the
 * previous handler (Open MPI prints a backtrace and ends the job).
 * check-plugin guards every call it makes into a layer, from several
 * OpenMP threads at once in its threads check: the handlers are installed
 * by the first guarded call that starts and put back by the last to end.
 */
#include "config.h"

#include "plugin/guard.h"

#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

static const int caught[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL};
#define N_CAUGHT (sizeof caught / sizeof caught[0])

/* The alternate signal stack: 64 KiB is far above MINSIGSTKSZ on every
 * platform we build for (2 KiB on x86-64, 5 KiB on arm64 with SVE), and
 * the handler uses a few hundred bytes. One thread at a time uses it;
 * another thread guarding at the same moment runs without one. */
#define ALT_STACK_BYTES (64 * 1024)
static char alt_stack[ALT_STACK_BYTES];
static atomic_flag alt_stack_busy = ATOMIC_FLAG_INIT;

/* The jump target of the calling thread's innermost guarded call, or NULL
 * outside one; the signal that ended it. */
static _Thread_local sigjmp_buf *volatile jump_to;
static _Thread_local volatile sig_atomic_t last_signal;
static volatile sig_atomic_t any_crash;

static void on_crash(int sig)
{
    sigjmp_buf *to = jump_to;
    if (!to) {
        /* Another thread's fault: end the process as without us. */
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    last_signal = sig;
    any_crash = 1;
    siglongjmp(*to, 1);
}

/* Guarded calls may run on several threads at once (check-plugin's
 * threads check): the first to start installs the handlers, saving the
 * previous ones, and the last to end puts those back. The count and the
 * saved handlers are kept under a spin lock (held for a few sigaction
 * calls, never in the handler). */
static atomic_flag handlers_lock = ATOMIC_FLAG_INIT;
static int handlers_users;
static struct sigaction handlers_saved[N_CAUGHT];

static void lock_handlers(void)
{
    while (atomic_flag_test_and_set(&handlers_lock)) {
    }
}

/* Installs the handlers unless another thread's guarded call did; and the
 * alternate stack when it is free, saving the previous one in old_stack.
 * Returns whether the alternate stack was taken. */
static int install(stack_t *old_stack)
{
    int took_stack = 0;
    if (!atomic_flag_test_and_set(&alt_stack_busy)) {
        stack_t ss = {.ss_sp = alt_stack, .ss_size = sizeof alt_stack, .ss_flags = 0};
        took_stack = sigaltstack(&ss, old_stack) == 0;
        if (!took_stack) {
            atomic_flag_clear(&alt_stack_busy);
        }
    }
    struct sigaction act;
    memset(&act, 0, sizeof act);
    act.sa_handler = on_crash;
    sigemptyset(&act.sa_mask);
    act.sa_flags = SA_ONSTACK;
    lock_handlers();
    for (size_t i = 0; handlers_users == 0 && i < N_CAUGHT; i++) {
        sigaction(caught[i], &act, &handlers_saved[i]);
    }
    handlers_users++;
    atomic_flag_clear(&handlers_lock);
    return took_stack;
}

static void uninstall(const stack_t *old_stack, int took_stack)
{
    lock_handlers();
    for (size_t i = 0; handlers_users == 1 && i < N_CAUGHT; i++) {
        sigaction(caught[i], &handlers_saved[i], NULL);
    }
    handlers_users--;
    atomic_flag_clear(&handlers_lock);
    if (took_stack) {
        sigaltstack(old_stack, NULL);
        atomic_flag_clear(&alt_stack_busy);
    }
}

/* Runs fn(arg) with this thread's jump target set; the signal it raised,
 * or 0. Kept out of line so that the only locals alive across the jump are
 * these few, declared volatile as C requires of locals a longjmp may
 * return past. */
static __attribute__((noinline)) int jump_call(void (*fn)(void *arg), void *arg)
{
    sigjmp_buf env;
    sigjmp_buf *volatile outer = jump_to;
    volatile int sig = 0;
    if (sigsetjmp(env, 1) == 0) {
        jump_to = &env;
        fn(arg);
    } else {
        sig = last_signal;
    }
    jump_to = outer;
    return sig;
}

int dpt__guard_call(void (*fn)(void *arg), void *arg)
{
    stack_t old_stack;
    int took_stack = install(&old_stack);
    int sig = jump_call(fn, arg);
    uninstall(&old_stack, took_stack);
    return sig;
}

int dpt__guard_crashed(void)
{
    return any_crash;
}
