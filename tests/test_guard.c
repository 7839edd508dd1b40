/* The crash guard (src/plugin/guard.c): a guarded call that faults comes
 * back with the signal's number, the handlers and the signal mask from
 * before the call are back afterwards, it works again after a crash, and
 * a crash by running out of stack is caught too (the alternate stack). */
#include "config.h"

#include "plugin/guard.h"
#include "util/util.h"
#include "util.h"

#include <CUnit/CUnit.h>
#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>

static void store_one(void *arg)
{
    *(int *)arg = 1;
}

/* A store into a page mapped without access: a real SIGSEGV, and not a
 * null store, which UBSan would report (and stop at) before the fault. */
static void segv(void *arg)
{
    (void)arg;
    volatile int *volatile nowhere =
        mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    *nowhere = 1;
}

static void fpe(void *arg)
{
    (void)arg;
    raise(SIGFPE);
}

/* Recursion without end; the limit is volatile so that the compiler can
 * neither see the recursion is endless nor turn it into a loop. */
static volatile int depth_limit = INT_MAX;

static int recurse(int n)
{
    volatile char frame[1024];
    frame[0] = (char)n;
    return n > depth_limit ? 0 : recurse(n + 1) + frame[0];
}

static void overflow(void *arg)
{
    *(int *)arg = recurse(0);
}

static void test_returns(void)
{
    int x = 0;
    CU_ASSERT_EQUAL(dpt__guard_call(store_one, &x), 0);
    CU_ASSERT_EQUAL(x, 1);
}

static void test_catches(void)
{
    CU_ASSERT_EQUAL(dpt__guard_call(segv, NULL), SIGSEGV);
    CU_ASSERT_EQUAL(dpt__guard_call(fpe, NULL), SIGFPE);
    CU_ASSERT(dpt__guard_crashed());
    CU_ASSERT_STRING_EQUAL(dpt__signal_name(SIGSEGV), "SIGSEGV");
    CU_ASSERT_STRING_EQUAL(dpt__signal_name(SIGBUS), "SIGBUS");
    /* Again after a crash: the handler is installed anew and the mask
     * did not keep SIGSEGV blocked. */
    CU_ASSERT_EQUAL(dpt__guard_call(segv, NULL), SIGSEGV);
    sigset_t now;
    CU_ASSERT_EQUAL(sigprocmask(SIG_BLOCK, NULL, &now), 0);
    CU_ASSERT_FALSE(sigismember(&now, SIGSEGV));
    CU_ASSERT_FALSE(sigismember(&now, SIGFPE));
}

static void marker(int sig)
{
    (void)sig;
}

static void test_restores_handlers(void)
{
    static const int sigs[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL};
    struct sigaction mine, before[4], after;
    memset(&mine, 0, sizeof mine);
    mine.sa_handler = marker;
    sigemptyset(&mine.sa_mask);
    for (int i = 0; i < 4; i++) {
        sigaction(sigs[i], &mine, &before[i]);
    }
    /* The alternate signal stack of before the call (none, or the one
     * AddressSanitizer gives each thread). */
    stack_t ss_before;
    CU_ASSERT_EQUAL_FATAL(sigaltstack(NULL, &ss_before), 0);
    int x = 0;
    dpt__guard_call(store_one, &x);
    dpt__guard_call(segv, NULL);
    for (int i = 0; i < 4; i++) {
        sigaction(sigs[i], &before[i], &after);
        CU_ASSERT(after.sa_handler == marker);
    }
    /* The alternate stack of before the call is back. */
    stack_t ss;
    CU_ASSERT_EQUAL(sigaltstack(NULL, &ss), 0);
    CU_ASSERT(ss.ss_sp == ss_before.ss_sp && ss.ss_size == ss_before.ss_size &&
              ss.ss_flags == ss_before.ss_flags);
}

static void test_stack_overflow(void)
{
    int x = 0;
    CU_ASSERT_EQUAL(dpt__guard_call(overflow, &x), SIGSEGV);
    CU_ASSERT_EQUAL(x, 0);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS) {
        return 2;
    }
    CU_pSuite s = CU_add_suite("guard", NULL, NULL);
    CU_add_test(s, "a call that returns runs as without the guard", test_returns);
    CU_add_test(s, "SIGSEGV and SIGFPE come back as their numbers, again and again",
                test_catches);
    CU_add_test(s, "the handlers of before the call are back after it", test_restores_handlers);
    CU_add_test(s, "running out of stack is caught (alternate signal stack)",
                test_stack_overflow);
    return test_run_all();
}
