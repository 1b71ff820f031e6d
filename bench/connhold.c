/*
 * connhold.c -- open and hold many idle keep-alive HTTP connections.
 *
 *   connhold HOST PORT N [PATH=/plaintext]
 *
 * Opens N connections (at most 256 connects in flight), sends ONE
 * "GET PATH HTTP/1.1" on each and waits for the response headers, so each is a
 * real keep-alive connection the server has parsed a request on. Then prints
 *   READY ok=<n> failed=<m>
 * and holds every connection open until stdin reaches EOF (or 600 s pass).
 * Setup gives up after 120 s.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { S_CONNECTING, S_WAITING, S_DONE, S_FAILED };
struct c { int fd, st; char tail[4]; };

int main(int argc, char **argv) {
    if (argc < 4) { fprintf(stderr, "usage: %s HOST PORT N [PATH]\n", argv[0]); return 2; }
    int port = atoi(argv[2]), n = atoi(argv[3]);
    const char *path = argc > 4 ? argv[4] : "/plaintext";
    char req[512];
    int reqlen = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: %s:%d\r\n\r\n", path, argv[1], port);
    signal(SIGPIPE, SIG_IGN);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
    inet_pton(AF_INET, argv[1], &a.sin_addr);
    struct c *cs = calloc((size_t)n, sizeof *cs);
    int ep = epoll_create1(0), opened = 0, inflight = 0, ok = 0, failed = 0;
    struct epoll_event evs[512];
    time_t deadline = time(NULL) + 120;
    char buf[4096];
    while (ok + failed < n && time(NULL) < deadline) {
        while (opened < n && inflight < 256) {
            struct c *c = &cs[opened];
            c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
            if (c->fd < 0) { c->st = S_FAILED; failed++; opened++; continue; }
            int r = connect(c->fd, (struct sockaddr *)&a, sizeof a);
            if (r < 0 && errno != EINPROGRESS) { close(c->fd); c->st = S_FAILED; failed++; opened++; continue; }
            struct epoll_event ev = {.events = EPOLLOUT | EPOLLIN, .data.u32 = (uint32_t)opened};
            epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
            c->st = S_CONNECTING;
            opened++; inflight++;
        }
        int m = epoll_wait(ep, evs, 512, 1000);
        for (int k = 0; k < m; k++) {
            struct c *c = &cs[evs[k].data.u32];
            if (c->st == S_CONNECTING && (evs[k].events & EPOLLOUT)) {
                int err = 0; socklen_t l = sizeof err;
                getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l);
                if (err || write(c->fd, req, (size_t)reqlen) != reqlen) goto fail;
                c->st = S_WAITING;
                struct epoll_event ev = {.events = EPOLLIN, .data.u32 = evs[k].data.u32};
                epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
            } else if (c->st == S_WAITING && (evs[k].events & EPOLLIN)) {
                ssize_t r = read(c->fd, buf, sizeof buf);
                if (r <= 0) goto fail;
                if (memmem(buf, (size_t)r, "\r\n\r\n", 4)) {  /* headers seen: keep-alive conn is idle now */
                    c->st = S_DONE; ok++; inflight--;
                    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
                }
            } else if (evs[k].events & (EPOLLERR | EPOLLHUP)) {
                goto fail;
            }
            continue;
        fail:
            epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
            close(c->fd); c->st = S_FAILED; failed++; inflight--;
        }
    }
    printf("READY ok=%d failed=%d\n", ok, n - ok);
    fflush(stdout);
    struct pollfd p = {.fd = 0, .events = POLLIN};
    time_t hold_until = time(NULL) + 600;
    while (time(NULL) < hold_until) {
        if (poll(&p, 1, 1000) > 0) { if (read(0, buf, sizeof buf) <= 0) break; }
    }
    return 0;
}
