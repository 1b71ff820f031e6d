/*
 * syscall_cost.c -- what the kernel entry of each steady-state system call costs
 * here, for choosing between equivalent calls (pxcy/includes/syscalls.h).
 *
 *   cc -O2 -pthread -o syscall_cost bench/syscall_cost.c && taskset -c 0 ./syscall_cost [N]
 *
 * Each call is made N times (default 1,000,000) on an idle non-blocking socket of a
 * Unix socket pair, so it does the entry, the descriptor lookup and the socket's
 * own checks, then returns at once (EAGAIN; a zero-length send; a wait with timeout 0
 * on an epoll set whose one socket never becomes ready): the part of a call that does not depend on the data.
 * The calls are compared in pairs that do the same work, in the same run:
 * read against recvfrom, write against sendto, epoll_pwait (no signal mask)
 * against epoll_wait. The whole set runs twice: in a single-threaded process, then
 * from a second thread (the descriptor table is then shared, so every lookup takes
 * and drops a reference to the file: what a worker thread of pxcy pays, and a
 * single-threaded C server does not). Prints one line per pair and process kind:
 *   SYSCALL_COST <threads> <call> <ns> <call> <ns> <difference ns>
 * (the median of 5 repetitions each). Times are of this machine and this run only.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static int sock, ep;
static long n_calls = 1000000;
static char buf[4096];

static double now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

enum { C_READ, C_RECVFROM, C_WRITE, C_SENDTO, C_EPOLL_PWAIT, C_EPOLL_WAIT, NCALLS };
static const char *NAMES[NCALLS] = {"read", "recvfrom", "write", "sendto", "epoll_pwait", "epoll_wait"};

static double per_call(int which)
{
    struct epoll_event ev[4];
    double t0 = now_ns();
    for (long i = 0; i < n_calls; i++) {
        switch (which) {
        case C_READ: syscall(SYS_read, sock, buf, sizeof buf); break;
        case C_RECVFROM: syscall(SYS_recvfrom, sock, buf, sizeof buf, 0, NULL, NULL); break;
        case C_WRITE: syscall(SYS_write, sock, buf, 0); break;
        case C_SENDTO: syscall(SYS_sendto, sock, buf, 0, MSG_NOSIGNAL, NULL, 0); break;
        case C_EPOLL_PWAIT: syscall(SYS_epoll_pwait, ep, ev, 4, 0, NULL, _NSIG / 8); break;
#ifdef SYS_epoll_wait
        case C_EPOLL_WAIT: syscall(SYS_epoll_wait, ep, ev, 4, 0); break;
#else
        case C_EPOLL_WAIT: syscall(SYS_epoll_pwait, ep, ev, 4, 0, NULL, _NSIG / 8); break;
#endif
        }
    }
    return (now_ns() - t0) / (double)n_calls;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void *measure(void *arg)
{
    const char *kind = arg;
    double t[NCALLS][5];
    for (int rep = 0; rep < 5; rep++)          /* interleaved: a drift hits every call */
        for (int c = 0; c < NCALLS; c++)
            t[c][rep] = per_call(c);
    for (int c = 0; c < NCALLS; c += 2) {
        qsort(t[c], 5, sizeof(double), cmp);
        qsort(t[c + 1], 5, sizeof(double), cmp);
        printf("SYSCALL_COST %s %s %.1f %s %.1f %.1f\n", kind, NAMES[c], t[c][2], NAMES[c + 1],
               t[c + 1][2], t[c][2] - t[c + 1][2]);
    }
    fflush(stdout);
    return NULL;
}

int main(int argc, char **argv)
{
    int sv[2];
    pthread_t th;
    struct epoll_event e = {.events = EPOLLIN};
    if (argc > 1 && (n_calls = strtol(argv[1], NULL, 10)) <= 0) {
        fprintf(stderr, "usage: syscall_cost [N > 0]\n");
        return 2;
    }
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0 || (ep = epoll_create1(0)) < 0) {
        perror("syscall_cost");
        return 1;
    }
    sock = sv[0];
    fcntl(sock, F_SETFL, O_NONBLOCK);
    e.data.fd = sv[1];
    epoll_ctl(ep, EPOLL_CTL_ADD, sv[1], &e);   /* nothing to read on it: never ready */
    measure("single-threaded");
    if (pthread_create(&th, NULL, measure, "second-thread") != 0) {
        perror("pthread_create");
        return 1;
    }
    pthread_join(th, NULL);
    return 0;
}
