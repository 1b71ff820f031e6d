/* pxcy soak client: a bounded mix of keep-alive, pipelined and reconnecting clients
 * that check every answer, plus an "idle" mode holding many keep-alive connections.
 *
 *   client load  PROTO PORT REQUESTS THREADS [DEPTH]
 *   client idle  PROTO PORT CONNS
 *
 * PROTO: echo (payload of 16..512 bytes echoed back) or http (GET /plaintext, a
 * 200 response with a Content-Length body). Thread i is keep-alive (i % 3 == 0),
 * pipelined with DEPTH requests per write (i % 3 == 1) or reconnecting (i % 3 == 2:
 * 1..8 requests per connection, every 4th connection closed with a reset). Every
 * answer is checked; a wrong answer, an unexpected close or a 30 s stall is an
 * error. Prints one line: "requests=N errors=E connects=C resets=R".
 * idle: opens CONNS connections, one request each, prints "ready N", then holds
 * them until stdin reaches EOF; then checks each one still answers, prints
 * "idle-ok N errors=E" and exits.
 * Exit status: 0 when errors == 0. 127.0.0.1 only.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <arpa/inet.h>

enum { ECHO, HTTP };
static int proto, port, depth = 16;
static long long total;
static atomic_llong done_requests, errors, connects, resets;
static const char HTTP_REQ[] = "GET /plaintext HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

static int dial(void) {
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    struct timeval tv = {.tv_sec = 30};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        close(fd);
        return -1;
    }
    atomic_fetch_add(&connects, 1);
    return fd;
}

static int send_all(int fd, const char *p, size_t n) {
    while (n) {
        ssize_t r = send(fd, p, n, MSG_NOSIGNAL);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -1;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

static int recv_all(int fd, char *p, size_t n) {
    while (n) {
        ssize_t r = recv(fd, p, n, 0);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -1;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

/* per-thread read buffer for HTTP responses */
typedef struct {
    char buf[1 << 16];
    size_t len;
} rbuf;

/* One HTTP response from fd (buffered in rb): 0 if "HTTP/1.1 200" with the whole body. */
static int http_response(int fd, rbuf *rb) {
    for (;;) {
        char *end = memmem(rb->buf, rb->len, "\r\n\r\n", 4);
        if (end) {
            size_t hdr = (size_t)(end - rb->buf) + 4;
            long clen = -1;
            if (rb->len < 12 || memcmp(rb->buf, "HTTP/1.1 200", 12) != 0) return -1;
            for (char *p = rb->buf; p < end; p++) {
                if ((p == rb->buf || p[-1] == '\n') && strncasecmp(p, "content-length:", 15) == 0) {
                    clen = strtol(p + 15, NULL, 10);
                    break;
                }
            }
            if (clen < 0) return -1;
            while (rb->len < hdr + (size_t)clen) {
                if (rb->len == sizeof rb->buf) return -1;
                ssize_t r = recv(fd, rb->buf + rb->len, sizeof rb->buf - rb->len, 0);
                if (r <= 0) return -1;
                rb->len += (size_t)r;
            }
            size_t used = hdr + (size_t)clen;
            memmove(rb->buf, rb->buf + used, rb->len - used);
            rb->len -= used;
            return 0;
        }
        if (rb->len == sizeof rb->buf) return -1;
        ssize_t r = recv(fd, rb->buf + rb->len, sizeof rb->buf - rb->len, 0);
        if (r <= 0) return -1;
        rb->len += (size_t)r;
    }
}

/* k requests on fd (written at once), then their k answers; 0 when all correct. */
static int exchange(int fd, int k, unsigned *seed, rbuf *rb) {
    static __thread char out[64 * 1024], in[64 * 1024];
    size_t n = 0;
    if (proto == HTTP) {
        for (int i = 0; i < k; i++) {
            memcpy(out + n, HTTP_REQ, sizeof HTTP_REQ - 1);
            n += sizeof HTTP_REQ - 1;
        }
        if (send_all(fd, out, n) < 0) return -1;
        for (int i = 0; i < k; i++)
            if (http_response(fd, rb) < 0) return -1;
        return 0;
    }
    for (int i = 0; i < k; i++) {
        size_t len = 16 + rand_r(seed) % 497;
        for (size_t j = 0; j < len; j++) out[n + j] = (char)('a' + (rand_r(seed) % 26));
        n += len;
    }
    if (send_all(fd, out, n) < 0) return -1;
    if (recv_all(fd, in, n) < 0) return -1;
    return memcmp(in, out, n) == 0 ? 0 : -1;
}

static int take(long long k) {
    /* claim k requests of the global budget; returns how many were granted */
    long long before = atomic_fetch_add(&done_requests, k);
    if (before >= total) return 0;
    return (int)(before + k <= total ? k : total - before);
}

static void *worker(void *arg) {
    long id = (long)arg;
    int mode = (int)(id % 3);
    unsigned seed = (unsigned)id * 7919u + 1;
    rbuf *rb = calloc(1, sizeof *rb);
    int fd = -1;
    long conns = 0;
    for (;;) {
        int k = mode == 1 ? depth : 1;
        k = take(k);
        if (k == 0) break;
        if (fd < 0) {
            fd = dial();
            rb->len = 0;
            if (fd < 0) {
                atomic_fetch_add(&errors, 1);
                break;
            }
            conns++;
        }
        if (exchange(fd, k, &seed, rb) < 0) {
            atomic_fetch_add(&errors, 1);
            close(fd);
            fd = -1;
            continue;
        }
        if (mode == 2 && rand_r(&seed) % 8 == 0) {
            if (conns % 4 == 0) {           /* abortive close: reset */
                struct linger lg = {1, 0};
                setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
                atomic_fetch_add(&resets, 1);
            }
            close(fd);
            fd = -1;
        }
    }
    if (fd >= 0) close(fd);
    free(rb);
    return NULL;
}

static int run_load(long long requests, int threads) {
    total = requests;
    pthread_t *t = calloc((size_t)threads, sizeof *t);
    for (long i = 0; i < threads; i++) pthread_create(&t[i], NULL, worker, (void *)i);
    for (int i = 0; i < threads; i++) pthread_join(t[i], NULL);
    long long served = atomic_load(&done_requests);
    if (served > total) served = total;
    printf("requests=%lld errors=%lld connects=%lld resets=%lld\n", served,
           (long long)atomic_load(&errors), (long long)atomic_load(&connects),
           (long long)atomic_load(&resets));
    fflush(stdout);
    free(t);
    return atomic_load(&errors) == 0 ? 0 : 1;
}

static int run_idle(int n) {
    int *fds = calloc((size_t)n, sizeof *fds);
    rbuf *rb = calloc(1, sizeof *rb);
    unsigned seed = 12345;
    long long errs = 0;
    for (int i = 0; i < n; i++) {
        fds[i] = dial();
        rb->len = 0;
        if (fds[i] < 0 || exchange(fds[i], 1, &seed, rb) < 0) errs++;
    }
    printf("ready %d errors=%lld\n", n, errs);
    fflush(stdout);
    char junk[256];
    while (read(0, junk, sizeof junk) > 0) {}
    for (int i = 0; i < n; i++) {
        rb->len = 0;
        if (fds[i] < 0 || exchange(fds[i], 1, &seed, rb) < 0) errs++;
        if (fds[i] >= 0) close(fds[i]);
    }
    printf("idle-ok %d errors=%lld\n", n, errs);
    fflush(stdout);
    free(fds);
    free(rb);
    return errs == 0 ? 0 : 1;
}

int main(int argc, char **argv) {
    if (argc < 5) {
        fprintf(stderr, "usage: %s load echo|http PORT REQUESTS THREADS [DEPTH]\n"
                        "       %s idle echo|http PORT CONNS\n", argv[0], argv[0]);
        return 2;
    }
    proto = strcmp(argv[2], "http") == 0 ? HTTP : ECHO;
    port = atoi(argv[3]);
    if (strcmp(argv[1], "idle") == 0) return run_idle(atoi(argv[4]));
    if (argc < 6) return 2;
    if (argc > 6) depth = atoi(argv[6]);
    if (depth < 1 || depth > 64) depth = 16;
    return run_load(atoll(argv[4]), atoi(argv[5]));
}
