/* pxcy debug mode: poisoning, quarantine of rolled-back blocks, ownership checks.
 *
 * On when the environment has PXCY_DEBUG=1 at import time, or always in a
 * PXCY_DEBUG_BUILD build. Off, every hook below is a predictable branch.
 *
 * Rolled-back transient blocks are dropped and made PROT_NONE (partial rollbacks
 * and freed persistent values are filled with 0xDB); they stay
 * mapped (and so never reused) for the next PXCY_QUARANTINE rollbacks. A stale
 * transient pointer dereferenced after its callback faults there, and the SIGSEGV
 * handler reports it as such (with a backtrace) instead of a bare crash. Pointers
 * handed to the transport are checked against the registry of live blocks, so a
 * stale or foreign pointer fails at the call, with the caller's file and line.
 */
#ifndef PXCY_DEBUG_H
#define PXCY_DEBUG_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <execinfo.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define PXCY_LIKELY(x) __builtin_expect(!!(x), 1)
#define PXCY_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define PXCY_POISON 0xDB
#define PXCY_UNUSED __attribute__((unused))

#ifndef PXCY_DEBUG_BUILD
#define PXCY_DEBUG_BUILD 0
#endif

PXCY_UNUSED static int pxcy_debug_enabled = PXCY_DEBUG_BUILD;

#define PXCY_QUARANTINE 4096
#define PXCY_REGISTRY 65536

typedef struct { const char *lo, *hi; } pxcy__range;

/* Debug-only bookkeeping, shared by all threads of this module under one mutex. */
static pthread_mutex_t pxcy__dbg_lock = PTHREAD_MUTEX_INITIALIZER;
static pxcy__range pxcy__live[PXCY_REGISTRY];
static size_t pxcy__nlive;
static pxcy__range pxcy__quar[PXCY_QUARANTINE];
static size_t pxcy__quar_next;

PXCY_UNUSED static void pxcy__write(const char *s) {
    ssize_t r = write(2, s, strlen(s));
    (void)r;
}

/* Each frame as MODULE(+OFFSET), then (unless PXCY_DEBUG_SYMBOLIZE=0) resolved to
 * function and file:line by addr2line: a .pyx line for modules built with
 * PXCY_DEBUG_BUILD=1 / `pxcy build --debug` (-g and Cython #line directives). We are
 * about to abort, so spawning a process here is acceptable. */
PXCY_UNUSED static void pxcy__backtrace(void) {
    void *frames[48];
    int n = backtrace(frames, 48);
    pxcy__write("pxcy debug: backtrace:\n");
    backtrace_symbols_fd(frames, n, 2);
    const char *sym = getenv("PXCY_DEBUG_SYMBOLIZE");
    if (sym && strcmp(sym, "0") == 0) return;
    pxcy__write("pxcy debug: source lines (addr2line):\n");
    {   /* worker threads block every asynchronous signal; addr2line (and the
           sanitizers' process spawning) expect the default mask: we abort anyway */
        sigset_t none;
        sigemptyset(&none);
        pthread_sigmask(SIG_SETMASK, &none, NULL);
    }
    /* a sanitizer runtime preloaded into this process (libtsan) crashes the shell that
       popen starts: the children get none (we abort anyway, the environment is ours) */
    unsetenv("LD_PRELOAD");
    for (int i = 1; i < n; i++) {
        Dl_info info;
        if (!dladdr(frames[i], &info) || !info.dli_fname || !info.dli_fbase) continue;
        if (!strstr(info.dli_fname, ".so")) continue;            /* the interpreter itself */
        char cmd[1400];
        snprintf(cmd, sizeof cmd, "addr2line -f -i -C -e '%s' 0x%lx 2>/dev/null",
                 info.dli_fname,
                 (unsigned long)((char *)frames[i] - (char *)info.dli_fbase - 1));
        FILE *p = popen(cmd, "r");
        if (!p) return;
        char line[512];
        int k = 0;
        char fn[512] = "";
        while (fgets(line, sizeof line, p)) {
            if (k++ % 2 == 0) {                                  /* function name */
                snprintf(fn, sizeof fn, "%s", line);
                fn[strcspn(fn, "\n")] = 0;
            } else if (strncmp(line, "??", 2) != 0) {
                char out[1100];
                snprintf(out, sizeof out, "  %s in %s", fn, line);
                pxcy__write(out);
            }
        }
        pclose(p);
    }
}

__attribute__((noreturn, format(printf, 3, 4))) PXCY_UNUSED
static void pxcy_debug_fail(const char *file, int line, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    int k = snprintf(msg, sizeof msg, "pxcy debug: %s:%d: ", file, line);
    va_start(ap, fmt);
    vsnprintf(msg + k, sizeof msg - (size_t)k, fmt, ap);
    va_end(ap);
    pxcy__write(msg);
    pxcy__write("\n");
    pxcy__backtrace();
    abort();
}

/* pxcy_debug_fail at the caller's file and line (a .pyx line in a PXCY_DEBUG_BUILD
 * build, where Cython emits #line directives). */
#define PXCY_FAIL(...) pxcy_debug_fail(__FILE__, __LINE__, __VA_ARGS__)

PXCY_UNUSED static int pxcy__in(const pxcy__range *r, const void *p) {
    return r->lo && (const char *)p >= r->lo && (const char *)p < r->hi;
}

PXCY_UNUSED static void pxcy_debug_register(void *b, size_t len) {
    pthread_mutex_lock(&pxcy__dbg_lock);
    if (pxcy__nlive < PXCY_REGISTRY) {
        pxcy__live[pxcy__nlive].lo = (const char *)b;
        pxcy__live[pxcy__nlive].hi = (const char *)b + len;
        pxcy__nlive++;
    }
    pthread_mutex_unlock(&pxcy__dbg_lock);
}

PXCY_UNUSED static void pxcy__unregister(const void *b) {
    for (size_t i = 0; i < pxcy__nlive; i++)
        if (pxcy__live[i].lo == (const char *)b) {
            pxcy__live[i] = pxcy__live[--pxcy__nlive];
            return;
        }
}

/* Drop the pages, protect, and keep the mapping so its addresses are not reused yet:
 * any access through a stale pointer faults (reported by the handler below). */
PXCY_UNUSED static void pxcy_debug_quarantine(void *b, size_t len) {
    madvise(b, len, MADV_DONTNEED);
    mprotect(b, len, PROT_NONE);
    pthread_mutex_lock(&pxcy__dbg_lock);
    pxcy__unregister(b);
    pxcy__range *slot = &pxcy__quar[pxcy__quar_next++ % PXCY_QUARANTINE];
    if (slot->lo) munmap((void *)slot->lo, (size_t)(slot->hi - slot->lo));
    slot->lo = (const char *)b;
    slot->hi = (const char *)b + len;
    pthread_mutex_unlock(&pxcy__dbg_lock);
}

/* 1: p lies in a rolled-back (quarantined) block. */
PXCY_UNUSED static int pxcy_debug_is_stale(const void *p) {
    int r = 0;
    pthread_mutex_lock(&pxcy__dbg_lock);
    for (size_t i = 0; i < PXCY_QUARANTINE && !r; i++) r = pxcy__in(&pxcy__quar[i], p);
    pthread_mutex_unlock(&pxcy__dbg_lock);
    return r;
}

/* 1: p lies in some live heap block (of any connection). */
PXCY_UNUSED static int pxcy_debug_is_heap(const void *p) {
    int r = 0;
    pthread_mutex_lock(&pxcy__dbg_lock);
    for (size_t i = 0; i < pxcy__nlive && !r; i++) r = pxcy__in(&pxcy__live[i], p);
    pthread_mutex_unlock(&pxcy__dbg_lock);
    return r;
}

static struct sigaction pxcy__old_segv, pxcy__old_bus;

PXCY_UNUSED static void pxcy__on_fault(int sig, siginfo_t *si, void *ctx) {
    /* No lock: we are about to die, and the faulting thread may hold it. */
    for (size_t i = 0; i < PXCY_QUARANTINE; i++)
        if (pxcy__in(&pxcy__quar[i], si->si_addr)) {
            char msg[256];
            snprintf(msg, sizeof msg,
                     "pxcy debug: access to transient heap memory after rollback at %p: a "
                     "pointer from the transient heap was kept past its callback\n",
                     si->si_addr);
            pxcy__write(msg);
            pxcy__backtrace();
            abort();
        }
    struct sigaction *old = sig == SIGSEGV ? &pxcy__old_segv : &pxcy__old_bus;
    if (old->sa_flags & SA_SIGINFO && old->sa_sigaction) {
        old->sa_sigaction(sig, si, ctx);
    } else if (old->sa_handler != SIG_DFL && old->sa_handler != SIG_IGN) {
        old->sa_handler(sig);
    } else {
        signal(sig, SIG_DFL);
        raise(sig);
    }
}

/* Called once at import (with the GIL): reads PXCY_DEBUG, installs the fault handler. */
PXCY_UNUSED static int pxcy_debug_init(void) {
    const char *e = getenv("PXCY_DEBUG");
    if (e && e[0] && strcmp(e, "0") != 0) pxcy_debug_enabled = 1;
    if (pxcy_debug_enabled) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_sigaction = pxcy__on_fault;
        sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGSEGV, &sa, &pxcy__old_segv);
        sigaction(SIGBUS, &sa, &pxcy__old_bus);
    }
    return pxcy_debug_enabled;
}

#endif
