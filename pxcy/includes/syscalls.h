/* The system calls of a worker's steady state, entered through syscall(2).
 *
 * glibc's read, send, sendmsg and epoll_wait are cancellation points: in a multi-threaded
 * process each brackets its system call with __pthread_enable_asynccancel and
 * __pthread_disable_asynccancel (about 90 instructions per request and response on
 * the sequential path, callgrind). pxcy never cancels a worker thread, so the plain
 * entry does the same work: the same return value, errno on failure. epoll_wait is
 * epoll_pwait with no signal mask (the only form every Linux architecture has).
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
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__) || !defined(SYS_read) || \
    !defined(SYS_sendto) || !defined(SYS_sendmsg) || !defined(SYS_epoll_pwait)
#define PXCY_SYS_LIBC 1
#endif

#ifdef PXCY_SYS_LIBC
#define pxcy_sys_read read
#define pxcy_sys_send send
#define pxcy_sys_sendmsg sendmsg
#define pxcy_sys_epoll_wait epoll_wait
#else
long syscall(long number, ...);   /* (unistd.h declares it only under _GNU_SOURCE) */

static inline ssize_t pxcy_sys_read(int fd, void *buf, size_t n)
{
    return (ssize_t)syscall(SYS_read, fd, buf, n);
}

/* send(2) is sendto with no address: one buffer, without sendmsg's msghdr and iovec
 * copies (the common case: one contiguous run of responses) */
static inline ssize_t pxcy_sys_send(int fd, const void *buf, size_t n, int flags)
{
    return (ssize_t)syscall(SYS_sendto, fd, buf, n, flags, NULL, 0);
}

static inline ssize_t pxcy_sys_sendmsg(int fd, const struct msghdr *m, int flags)
{
    return (ssize_t)syscall(SYS_sendmsg, fd, m, flags);
}

static inline int pxcy_sys_epoll_wait(int epfd, struct epoll_event *ev, int max, int timeout)
{
    return (int)syscall(SYS_epoll_pwait, epfd, ev, max, timeout, NULL, (size_t)(_NSIG / 8));
}
#endif
#endif
