/* The direct system calls of pxcy/includes/syscalls.h against what the kernel says:
 * results, errno (per thread, untouched on success), negative arguments. Built by
 * tests/test_syscalls_c.py as is (the inlined `syscall` instruction on x86-64), with
 * -DPXCY_SYS_NO_ASM (syscall(2), what other architectures use) and with
 * -DPXCY_SYS_LIBC (the libc calls sanitizer builds use). */
#define _GNU_SOURCE
#include "pxcy/includes/syscalls.h"
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

static int fails;
#define CHECK(c) do { if (!(c)) { printf("FAIL %s:%d %s (errno %d %s)\n", __FILE__, __LINE__, #c, \
                                         errno, strerror(errno)); fails++; } } while (0)

static void *other_thread(void *arg)
{
    char b[8];
    (void)arg;
    errno = 0;
    CHECK(pxcy_sys_recv(-1, b, sizeof b) == -1 && errno == EBADF);
    return (void *)(intptr_t)errno;
}

int main(void)
{
    int sv[2], pf[2], ep;
    char buf[64];
    struct iovec iov[2] = {{"ab", 2}, {"cd", 2}};
    struct msghdr m;
    struct epoll_event ev, out[4];
    pthread_t t;
    void *rv;

    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == 0);
    CHECK(pipe2(pf, O_NONBLOCK) == 0);
    errno = 0;
    CHECK(pxcy_sys_recv(sv[0], buf, sizeof buf) == -1 && errno == EAGAIN);
    CHECK(pxcy_sys_send(sv[1], "hello", 5, MSG_NOSIGNAL) == 5);
    errno = 12345;
    CHECK(pxcy_sys_recv(sv[0], buf, sizeof buf) == 5 && memcmp(buf, "hello", 5) == 0);
    CHECK(errno == 12345);                                   /* untouched on success */
    CHECK(pxcy_sys_recv(-1, buf, sizeof buf) == -1 && errno == EBADF);
    CHECK(pxcy_sys_recv(INT32_MIN, buf, sizeof buf) == -1 && errno == EBADF);
    CHECK(pxcy_sys_recv(pf[0], buf, sizeof buf) == -1 && errno == ENOTSOCK);
    CHECK(pxcy_sys_send(pf[1], "x", 1, 0) == -1 && errno == ENOTSOCK);

    memset(&m, 0, sizeof m);
    m.msg_iov = iov;
    m.msg_iovlen = 2;
    CHECK(pxcy_sys_sendmsg(sv[1], &m, MSG_NOSIGNAL) == 4);
    CHECK(pxcy_sys_recv(sv[0], buf, sizeof buf) == 4 && memcmp(buf, "abcd", 4) == 0);

    ep = epoll_create1(EPOLL_CLOEXEC);
    CHECK(ep >= 0);
    CHECK(pxcy_sys_epoll_wait(ep, out, 4, 0) == 0);
    memset(&ev, 0, sizeof ev);
    ev.events = EPOLLIN | EPOLLET;
    ev.data.u64 = 0xdeadbeefcafebabeULL;
    CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, sv[0], &ev) == 0);
    CHECK(pxcy_sys_send(sv[1], "q", 1, MSG_NOSIGNAL) == 1);
    CHECK(pxcy_sys_epoll_wait(ep, out, 4, -1) == 1 && out[0].data.u64 == 0xdeadbeefcafebabeULL);
    CHECK(pxcy_sys_epoll_wait(ep, out, 0, 0) == -1 && errno == EINVAL);
    CHECK(pxcy_sys_epoll_wait(-1, out, 4, 0) == -1 && errno == EBADF);
    CHECK(pxcy_sys_epoll_wait(pf[0], out, 4, 0) == -1 && errno == EINVAL);

    CHECK(pxcy_sys_recv(sv[0], buf, sizeof buf) == 1);
    close(sv[1]);
    CHECK(pxcy_sys_recv(sv[0], buf, sizeof buf) == 0);     /* EOF */
    CHECK(pxcy_sys_send(sv[0], "x", 1, MSG_NOSIGNAL) == -1 && errno == EPIPE);   /* no SIGPIPE */

    errno = 777;                                             /* errno is the thread's own */
    CHECK(pthread_create(&t, NULL, other_thread, NULL) == 0);
    CHECK(pthread_join(t, &rv) == 0);
    CHECK((intptr_t)rv == EBADF && errno == 777);

    printf("%s: %d failures\n",
#if defined(PXCY_SYS_LIBC)
           "libc calls",
#elif defined(PXCY_SYS_NO_ASM)
           "syscall(2) calls",
#else
           "direct calls",
#endif
           fails);
    return fails != 0;
}
