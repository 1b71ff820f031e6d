/*
 * echo_client.c -- closed-loop echo load generator for the pxcy benchmarks.
 *
 *   echo_client HOST PORT CONNS SECONDS [MSGSIZE=64]
 *
 * Opens CONNS connections; each sends a MSGSIZE-byte message, waits until the
 * whole echo came back, records the round-trip time and sends the next one,
 * until SECONDS have elapsed (single thread, epoll, level triggered).
 * Prints one machine-readable line:
 *   ECHO_JSON {"messages":..,"seconds":..,"msgs_per_sec":..,"p50_us":..,"p99_us":..,"errors":..,"connected":..}
 * Latency histogram: 1 us buckets up to 200 ms, overflow counted in the last.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define HBUCKETS 200000

struct conn { int fd; size_t got; uint64_t t0; int connected; };

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t hist[HBUCKETS];

static double pct(uint64_t total, double p) {
    uint64_t want = (uint64_t)(total * p), acc = 0;
    if (!total) return 0;
    for (int i = 0; i < HBUCKETS; i++) { acc += hist[i]; if (acc > want) return i; }
    return HBUCKETS - 1;
}

int main(int argc, char **argv) {
    if (argc < 5) { fprintf(stderr, "usage: %s HOST PORT CONNS SECONDS [MSGSIZE]\n", argv[0]); return 2; }
    const char *host = argv[1];
    int port = atoi(argv[2]), nconn = atoi(argv[3]);
    double secs = atof(argv[4]);
    size_t msz = argc > 5 ? (size_t)atoi(argv[5]) : 64;
    signal(SIGPIPE, SIG_IGN);
    char *msg = malloc(msz), *buf = malloc(msz * 4 + 4096);
    for (size_t i = 0; i < msz; i++) msg[i] = (char)('a' + i % 26);
    struct conn *cs = calloc((size_t)nconn, sizeof *cs);
    int ep = epoll_create1(0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
    inet_pton(AF_INET, host, &a.sin_addr);
    uint64_t messages = 0, errors = 0;
    int connected = 0;
    for (int i = 0; i < nconn; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
        if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) < 0) { errors++; if (fd >= 0) close(fd); cs[i].fd = -1; continue; }
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        cs[i].fd = fd; cs[i].connected = 1; connected++;
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    }
    uint64_t start = now_ns(), end = start + (uint64_t)(secs * 1e9);
    for (int i = 0; i < nconn; i++) {
        if (cs[i].fd < 0) continue;
        cs[i].t0 = now_ns();
        if (write(cs[i].fd, msg, msz) != (ssize_t)msz) { errors++; }
    }
    struct epoll_event evs[256];
    int active = connected;
    uint64_t t = start;
    while (active > 0 && (t = now_ns()) < end) {
        int ms = (int)((end - t) / 1000000) + 1;
        int n = epoll_wait(ep, evs, 256, ms);
        for (int k = 0; k < n; k++) {
            struct conn *c = &cs[evs[k].data.u32];
            ssize_t r = read(c->fd, buf, msz - c->got);
            if (r <= 0) {
                if (r < 0 && errno == EINTR) continue;
                errors++; epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL); close(c->fd); c->fd = -1; active--; continue;
            }
            c->got += (size_t)r;
            if (c->got < msz) continue;
            uint64_t t1 = now_ns(), us = (t1 - c->t0) / 1000;
            hist[us < HBUCKETS ? us : HBUCKETS - 1]++;
            messages++;
            c->got = 0;
            c->t0 = t1;
            if (t1 < end && write(c->fd, msg, msz) != (ssize_t)msz) errors++;
        }
    }
    double el = (now_ns() - start) / 1e9;
    printf("ECHO_JSON {\"messages\":%llu,\"seconds\":%.4f,\"msgs_per_sec\":%.1f,\"p50_us\":%.0f,\"p99_us\":%.0f,"
           "\"errors\":%llu,\"connected\":%d,\"msgsize\":%zu}\n",
           (unsigned long long)messages, el, messages / el, pct(messages, 0.50), pct(messages, 0.99),
           (unsigned long long)errors, connected, msz);
    return 0;
}
