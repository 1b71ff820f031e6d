/* The system calls of a worker's steady state, entered directly (the `syscall`
 * instruction on x86-64, syscall(2) elsewhere).
 *
 * glibc's recv, send, sendmsg and epoll_wait are cancellation points: in a multi-threaded
 * process each brackets its system call with __pthread_enable_asynccancel and
 * __pthread_disable_asynccancel (about 90 instructions per request and response on
 * the sequential path, callgrind). pxcy never cancels a worker thread, so the plain
 * entry does the same work: the same return value, errno on failure. epoll_wait is
 * epoll_pwait with no signal mask where the architecture has no epoll_wait.
 * Under ASan, TSan or MSan (gcc's __SANITIZE_* macros, clang's __has_feature), and
 * where the headers lack one of these numbers, the libc calls stay: the
 * sanitizers see them (buffer checks, fd synchronisation) through their
 * interceptors, not through syscall(2). */
#ifndef PXCY_SYSCALLS_H
#define PXCY_SYSCALLS_H
#include <stddef.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
    __has_feature(memory_sanitizer)
#define PXCY_SYS_LIBC 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__) || !defined(SYS_recvfrom) || \
    !defined(SYS_sendto) || !defined(SYS_sendmsg) || !defined(SYS_epoll_pwait)
#define PXCY_SYS_LIBC 1
#endif

#ifdef PXCY_SYS_LIBC
static inline ssize_t pxcy_sys_recv(int fd, void *buf, size_t n) { return recv(fd, buf, n, 0); }
#define pxcy_sys_send send
#define pxcy_sys_sendmsg sendmsg
#define pxcy_sys_epoll_wait epoll_wait
#else
#include <errno.h>
/* (not x32, where long is 32 bits; PXCY_SYS_NO_ASM: syscall(2) instead, for tests) */
#if defined(__x86_64__) && !defined(__ILP32__) && !defined(PXCY_SYS_NO_ASM)
/* The `syscall` instruction itself, inlined (x86-64 Linux ABI: number in rax, arguments
 * in rdi, rsi, rdx, r10, r8, r9; rcx and r11 clobbered): no call into libc's
 * syscall(2) and its PLT stub, two fewer code lines for a request to fetch after
 * the kernel's work has evicted them. */
static inline long pxcy__syscall6(long n, long a1, long a2, long a3, long a4, long a5, long a6)
{
    long r;
    register long r10 __asm__("r10") = a4;
    register long r8 __asm__("r8") = a5;
    register long r9 __asm__("r9") = a6;
    __asm__ volatile("syscall"
                     : "=a"(r)
                     : "a"(n), "D"(a1), "S"(a2), "d"(a3), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
    if ((unsigned long)r > (unsigned long)-4096L) {
        errno = (int)-r;
        return -1;
    }
    return r;
}
#define PXCY__SYSCALL6(n, a1, a2, a3, a4, a5, a6) \
    pxcy__syscall6((long)(n), (long)(a1), (long)(a2), (long)(a3), (long)(a4), (long)(a5), (long)(a6))
#else
long syscall(long number, ...);   /* (unistd.h declares it only under _GNU_SOURCE) */
#define PXCY__SYSCALL6(n, a1, a2, a3, a4, a5, a6) \
    syscall((long)(n), (long)(a1), (long)(a2), (long)(a3), (long)(a4), (long)(a5), (long)(a6))
#endif

/* recvfrom(2) with no address rather than read(2): a connection is always a socket,
 * and the socket call skips the VFS layer (about 60 ns less per call here) */
static inline ssize_t pxcy_sys_recv(int fd, void *buf, size_t n)
{
    return (ssize_t)PXCY__SYSCALL6(SYS_recvfrom, fd, buf, n, 0, NULL, NULL);
}

/* send(2) is sendto with no address: one buffer, without sendmsg's msghdr and iovec
 * copies (the common case: one contiguous run of responses) */
static inline ssize_t pxcy_sys_send(int fd, const void *buf, size_t n, int flags)
{
    return (ssize_t)PXCY__SYSCALL6(SYS_sendto, fd, buf, n, flags, NULL, 0);
}

static inline ssize_t pxcy_sys_sendmsg(int fd, const struct msghdr *m, int flags)
{
    return (ssize_t)PXCY__SYSCALL6(SYS_sendmsg, fd, m, flags, 0, 0, 0);
}

static inline int pxcy_sys_epoll_wait(int epfd, struct epoll_event *ev, int max, int timeout)
{
#ifdef SYS_epoll_wait      /* (not on every architecture; without the sigmask step) */
    return (int)PXCY__SYSCALL6(SYS_epoll_wait, epfd, ev, max, timeout, 0, 0);
#else
    return (int)PXCY__SYSCALL6(SYS_epoll_pwait, epfd, ev, max, timeout, NULL, (size_t)(_NSIG / 8));
#endif
}
#endif
#endif
