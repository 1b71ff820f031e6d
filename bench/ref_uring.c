/*
 * ref_uring.c -- the io_uring reference responder for the pxcy HTTP benchmarks.
 *
 * The io_uring sibling of ref_epoll.c, answering the same canned response:
 * one multishot accept for the listener; per connection one recv into its own
 * buffer, and for each completed recv ONE send of one canned
 * "HTTP/1.1 200 ... Hello, World!" per request terminator "\r\n\r\n" found
 * (a 4-state matcher kept per connection, as in ref_epoll.c), linked
 * (IOSQE_IO_LINK) to the connection's next recv. The loop makes ONE
 * io_uring_enter per batch: it submits everything the last batch of
 * completions queued and waits for the next completions in the same call.
 * It parses nothing; it shows what the kernel's TCP work costs through
 * io_uring instead of epoll + read + write.
 *
 *   ref_uring PORT [--echo] [--workers N] [--host 127.0.0.1]
 *
 * --echo     : send back exactly what was received (the send linked to the next recv
 *              reuses the buffer: the recv starts only once the send completed).
 * --workers N: fork N processes, each with its own ring and SO_REUSEPORT listener.
 *
 * Sends carry MSG_WAITALL, so io_uring retries a short send on the stream
 * socket itself; a failed send cancels the linked recv, whose completion
 * (-ECANCELED) closes the connection: one close path.
 * Needs liburing (Debian: liburing-dev); build: cc -O2 -o ref_uring ref_uring.c -luring
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAXFD 65536
#define RBUF (64 * 1024)
#define ENTRIES 4096

enum { OP_ACCEPT = 1, OP_RECV = 2, OP_SEND = 3 };
#define UD(op, fd) (((uint64_t)(op) << 32) | (uint32_t)(fd))

static const char RESP[] =
    "HTTP/1.1 200 OK\r\n"
    "Server: ref-uring\r\n"
    "Date: Thu, 01 Jan 2026 00:00:00 GMT\r\n"
    "Content-Type: text/plain\r\n"
    "Content-Length: 13\r\n"
    "\r\n"
    "Hello, World!";
#define RESP_LEN (sizeof(RESP) - 1)
#define MAXRESP (RBUF / 4 + 1)

struct conn {
    unsigned char state;   /* how many bytes of "\r\n\r\n" matched so far */
    char *buf;             /* RBUF bytes, allocated once per fd slot and reused */
};

static struct conn conns[MAXFD];
static char *outbuf;
static int echo_mode;
static struct io_uring ring;

static int listen_on(const char *host, int port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
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

/* an SQE, flushing the SQ to the kernel first if it is full (rare: ENTRIES is large) */
static struct io_uring_sqe *sqe_get(void) {
    struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
    while (!sqe) {
        io_uring_submit(&ring);
        sqe = io_uring_get_sqe(&ring);
    }
    return sqe;
}

static void arm_accept(int lfd) {
    struct io_uring_sqe *sqe = sqe_get();
    io_uring_prep_multishot_accept(sqe, lfd, NULL, NULL, SOCK_CLOEXEC);
    io_uring_sqe_set_data64(sqe, UD(OP_ACCEPT, lfd));
}

static void arm_recv(int fd, unsigned sqe_flags) {
    struct io_uring_sqe *sqe = sqe_get();
    io_uring_prep_recv(sqe, fd, conns[fd].buf, RBUF, 0);
    sqe->flags |= sqe_flags;
    io_uring_sqe_set_data64(sqe, UD(OP_RECV, fd));
}

/* send n bytes, then (linked) the next recv */
static void send_then_recv(int fd, const char *p, size_t n) {
    struct io_uring_sqe *sqe = sqe_get();
    io_uring_prep_send(sqe, fd, p, n, MSG_WAITALL | MSG_NOSIGNAL);
    sqe->flags |= IOSQE_IO_LINK;
    io_uring_sqe_set_data64(sqe, UD(OP_SEND, fd));
    arm_recv(fd, 0);
}

static void drop(int fd) {
    close(fd);
    conns[fd].state = 0;
}

static void on_recv(int fd, int res) {
    struct conn *c = &conns[fd];
    if (res <= 0) { drop(fd); return; }     /* EOF, error, or canceled after a failed send */
    if (echo_mode) { send_then_recv(fd, c->buf, (size_t)res); return; }
    unsigned s = c->state;
    size_t reqs = 0;
    for (int k = 0; k < res; k++) {
        char ch = c->buf[k];
        if (ch == '\r') s = (s == 2) ? 3 : 1;
        else if (ch == '\n' && (s == 1 || s == 3)) {
            if (s == 3) { reqs++; s = 0; } else s = 2;
        } else s = 0;
    }
    c->state = (unsigned char)s;
    if (reqs) send_then_recv(fd, outbuf, reqs * RESP_LEN);
    else arm_recv(fd, 0);
}

static void serve(const char *host, int port) {
    int lfd = listen_on(host, port);
    struct io_uring_params p;
    memset(&p, 0, sizeof p);
    p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_COOP_TASKRUN;
    if (io_uring_queue_init_params(ENTRIES, &ring, &p) < 0) {
        memset(&p, 0, sizeof p);         /* older kernels: no flags */
        int e = io_uring_queue_init_params(ENTRIES, &ring, &p);
        if (e < 0) { fprintf(stderr, "io_uring_queue_init: %s\n", strerror(-e)); exit(1); }
    }
    arm_accept(lfd);
    for (;;) {
        int e = io_uring_submit_and_wait(&ring, 1);   /* the one io_uring_enter of this batch */
        if (e < 0 && e != -EINTR && e != -EAGAIN && e != -EBUSY) {
            fprintf(stderr, "io_uring_submit_and_wait: %s\n", strerror(-e));
            exit(1);
        }
        struct io_uring_cqe *cqe;
        unsigned head, seen = 0;
        io_uring_for_each_cqe(&ring, head, cqe) {
            seen++;
            int op = (int)(cqe->user_data >> 32), fd = (int)(uint32_t)cqe->user_data;
            if (op == OP_ACCEPT) {
                int cfd = cqe->res;
                if (cfd >= 0 && cfd < MAXFD) {
                    int one = 1;
                    setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    if (!conns[cfd].buf && !(conns[cfd].buf = malloc(RBUF))) close(cfd);
                    else { conns[cfd].state = 0; arm_recv(cfd, 0); }
                } else if (cfd >= MAXFD) {
                    close(cfd);
                }
                if (!(cqe->flags & IORING_CQE_F_MORE)) arm_accept(fd);   /* multishot ended */
            } else if (op == OP_RECV) {
                on_recv(fd, cqe->res);
            }
            /* OP_SEND: nothing to do; a failure shows up as the linked recv's -ECANCELED */
        }
        io_uring_cq_advance(&ring, seen);
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
    if (!outbuf) return 1;
    for (size_t k = 0; k < MAXRESP; k++) memcpy(outbuf + k * RESP_LEN, RESP, RESP_LEN);
    printf("ref_uring (%s) listening on http://%s:%d workers=%d\n", echo_mode ? "echo" : "http", host, port, workers);
    fflush(stdout);
    if (workers == 1) serve(host, port);
    for (int w = 0; w < workers; w++)
        if (fork() == 0) serve(host, port);
    while (wait(NULL) > 0) {}
    return 0;
}
