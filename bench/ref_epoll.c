/*
 * ref_epoll.c -- the epoll reference responder for the pxcy HTTP benchmarks.
 *
 * A minimal single-threaded epoll server (level triggered, non-blocking).
 * For every readable event it does ONE read(); it parses nothing except
 * counting request terminators "\r\n\r\n" (a 4-state matcher kept per
 * connection, so a terminator split across reads is still counted), and
 * answers with ONE write() carrying one canned "HTTP/1.1 200 ... Hello, World!"
 * response per terminator found (pipelined requests get one response each).
 * It is a reference, not a lower bound: it shows what the kernel's TCP work
 * plus one epoll_wait/read/write per event costs; a server that batches more
 * (or pxcy, within the run-to-run spread) can come out at or slightly under it.
 * Its io_uring sibling is ref_uring.c.
 *
 *   ref_epoll PORT [--echo] [--workers N] [--host 127.0.0.1]
 *
 * --echo     : write back exactly what was read (one read, one write).
 * --workers N: fork N processes, each with its own SO_REUSEPORT listener.
 *
 * Short writes (never seen with the benchmark loads) are buffered per
 * connection and flushed on EPOLLOUT; reads from that connection are paused
 * meanwhile, so the "one write per read" rule holds in the common case.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAXFD 65536
#define RBUF (64 * 1024)

static const char RESP[] =
    "HTTP/1.1 200 OK\r\n"
    "Server: ref-epoll\r\n"
    "Date: Thu, 01 Jan 2026 00:00:00 GMT\r\n"
    "Content-Type: text/plain\r\n"
    "Content-Length: 13\r\n"
    "\r\n"
    "Hello, World!";
#define RESP_LEN (sizeof(RESP) - 1)
/* worst case: every 4 bytes of a 64 KiB read is a terminator */
#define MAXRESP (RBUF / 4 + 1)

struct conn {
    unsigned char state;   /* how many bytes of "\r\n\r\n" matched so far */
    char *pend;            /* unwritten output after a short write */
    size_t pend_len, pend_off;
};

static struct conn conns[MAXFD];
static char *outbuf;
static int echo_mode;

static int listen_on(const char *host, int port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    struct sockaddr_in a;
    if (fd < 0) { perror("socket"); exit(1); }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((unsigned short)port);
    if (inet_pton(AF_INET, host, &a.sin_addr) != 1) { fprintf(stderr, "bad host %s\n", host); exit(2); }
    if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0) { perror("bind"); exit(1); }
    if (listen(fd, 4096) < 0) { perror("listen"); exit(1); }
    return fd;
}

static void drop(int ep, int fd) {
    epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
    close(fd);
    free(conns[fd].pend);
    memset(&conns[fd], 0, sizeof conns[fd]);
}

/* returns 0 if fully written, 1 if output is pending, -1 on error */
static int send_out(int ep, int fd, const char *p, size_t n) {
    ssize_t w = write(fd, p, n);
    if (w == (ssize_t)n) return 0;
    if (w < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK) return -1;
        w = 0;
    }
    struct conn *c = &conns[fd];
    c->pend = malloc(n - (size_t)w);
    if (!c->pend) return -1;
    memcpy(c->pend, p + w, n - (size_t)w);
    c->pend_len = n - (size_t)w;
    c->pend_off = 0;
    struct epoll_event ev = {.events = EPOLLOUT, .data.fd = fd};
    epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
    return 1;
}

static void serve(const char *host, int port) {
    int lfd = listen_on(host, port);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = lfd}, evs[512];
    static char rbuf[RBUF];
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
    for (;;) {
        int n = epoll_wait(ep, evs, 512, -1);
        if (n < 0) { if (errno == EINTR) continue; perror("epoll_wait"); exit(1); }
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == lfd) {
                for (;;) {
                    int cfd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                    if (cfd < 0) break;
                    if (cfd >= MAXFD) { close(cfd); continue; }
                    int one = 1;
                    setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    struct epoll_event cev = {.events = EPOLLIN, .data.fd = cfd};
                    epoll_ctl(ep, EPOLL_CTL_ADD, cfd, &cev);
                }
                continue;
            }
            struct conn *c = &conns[fd];
            if (c->pend) { /* EPOLLOUT: flush what a short write left over */
                ssize_t w = write(fd, c->pend + c->pend_off, c->pend_len - c->pend_off);
                if (w < 0 && errno != EAGAIN) { drop(ep, fd); continue; }
                if (w > 0) c->pend_off += (size_t)w;
                if (c->pend_off == c->pend_len) {
                    free(c->pend); c->pend = NULL;
                    struct epoll_event cev = {.events = EPOLLIN, .data.fd = fd};
                    epoll_ctl(ep, EPOLL_CTL_MOD, fd, &cev);
                }
                continue;
            }
            ssize_t r = read(fd, rbuf, sizeof rbuf);
            if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) { drop(ep, fd); continue; }
            if (r < 0) continue;
            if (echo_mode) {
                if (send_out(ep, fd, rbuf, (size_t)r) < 0) drop(ep, fd);
                continue;
            }
            /* count "\r\n\r\n" with a 4-state matcher carried across reads */
            unsigned s = c->state;
            size_t reqs = 0;
            for (ssize_t k = 0; k < r; k++) {
                char ch = rbuf[k];
                if (ch == '\r') s = (s == 2) ? 3 : 1;
                else if (ch == '\n' && (s == 1 || s == 3)) {
                    if (s == 3) { reqs++; s = 0; } else s = 2;
                } else s = 0;
            }
            c->state = (unsigned char)s;
            if (reqs && send_out(ep, fd, outbuf, reqs * RESP_LEN) < 0) drop(ep, fd);
        }
    }
}

int main(int argc, char **argv) {
    int port = 0, workers = 1;
    const char *host = "127.0.0.1";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--echo")) echo_mode = 1;
        else if (!strcmp(argv[i], "--workers") && i + 1 < argc) workers = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--host") && i + 1 < argc) host = argv[++i];
        else port = atoi(argv[i]);
    }
    if (port <= 0 || workers < 1) {
        fprintf(stderr, "usage: %s PORT [--echo] [--workers N] [--host ADDR]\n", argv[0]);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    outbuf = malloc(MAXRESP * RESP_LEN);
    for (size_t k = 0; k < MAXRESP; k++) memcpy(outbuf + k * RESP_LEN, RESP, RESP_LEN);
    printf("ref_epoll (%s) listening on http://%s:%d workers=%d\n", echo_mode ? "echo" : "http", host, port, workers);
    fflush(stdout);
    if (workers == 1) serve(host, port);
    for (int w = 0; w < workers; w++)
        if (fork() == 0) serve(host, port);
    while (wait(NULL) > 0) {}
    return 0;
}
