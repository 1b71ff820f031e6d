/* http_log.h -- an access log that never makes a worker wait for the file.
 * Header-only C99 + pthreads.  Each worker appends lines to its own buffer (a
 * mutex per buffer, held for a memcpy; only the logger thread ever contends for
 * it, to swap buffers); a logger thread writes full buffers to the file every
 * PX_LOG_FLUSH_MS, and px_log_close writes what is left, so a graceful stop
 * loses no line.  A worker whose buffer reached PX_LOG_BUF_MAX drops the line
 * and counts it (log->dropped): memory stays bounded when the disk stalls.
 *
 *   px_log *px_log_open(const char *path)     NULL with errno on failure
 *   void px_log_write(px_log *l, int worker, const char *line, size_t n)
 *   void px_log_flush(px_log *l)              write everything buffered now
 *   void px_log_close(px_log *l)              stop the thread, flush, close, free
 *   size_t px_log_clf_time(char *out, int64_t t)   "[01/Dec/2026:21:30:00 +0000]" (28)
 *   size_t px_log_escape(char *dst, const char *s, size_t n)
 *       printable ASCII except '"' and '\\' as is, others as \xHH (dst: 4n bytes)
 */
#ifndef PX_HTTP_LOG_H
#define PX_HTTP_LOG_H

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "http_util.h"

#ifndef PX_LOG_WORKERS
#define PX_LOG_WORKERS 64
#endif
#ifndef PX_LOG_BUF_MAX
#define PX_LOG_BUF_MAX (4u << 20)
#endif
#ifndef PX_LOG_FLUSH_MS
#define PX_LOG_FLUSH_MS 100
#endif

typedef struct {
    pthread_mutex_t mu;
    char *data;
    size_t n, cap;
    char pad[64];
} px_log_buf;

typedef struct {
    int fd;
    int stop;
    int started;
    uint64_t dropped;
    uint64_t written;
    pthread_t thread;
    pthread_mutex_t wmu;           /* one writer to the file at a time */
    pthread_mutex_t wake_mu;
    pthread_cond_t wake;
    px_log_buf bufs[PX_LOG_WORKERS];
} px_log;

static inline void px_log_write(px_log *l, int worker, const char *line, size_t n)
{
    px_log_buf *b = &l->bufs[(unsigned)worker % PX_LOG_WORKERS];
    pthread_mutex_lock(&b->mu);
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64 * 1024;
        while (cap < b->n + n) cap *= 2;
        char *nd = cap <= PX_LOG_BUF_MAX ? (char *)realloc(b->data, cap) : NULL;
        if (!nd) {
            __atomic_add_fetch(&l->dropped, 1, __ATOMIC_RELAXED);
            pthread_mutex_unlock(&b->mu);
            return;
        }
        b->data = nd;
        b->cap = cap;
    }
    memcpy(b->data + b->n, line, n);
    b->n += n;
    pthread_mutex_unlock(&b->mu);
}

static inline void px__log_write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t k = write(fd, p, n);
        if (k < 0) {
            if (errno == EINTR) continue;
            return;                        /* disk full / I/O error: nothing to tell */
        }
        p += k;
        n -= (size_t)k;
    }
}

static inline void px_log_flush(px_log *l)
{
    pthread_mutex_lock(&l->wmu);
    for (int i = 0; i < PX_LOG_WORKERS; i++) {
        px_log_buf *b = &l->bufs[i];
        pthread_mutex_lock(&b->mu);
        char *d = b->data;
        size_t n = b->n, cap = b->cap;
        b->data = NULL;                  /* the worker starts a fresh buffer */
        b->n = b->cap = 0;
        pthread_mutex_unlock(&b->mu);
        if (n) {
            px__log_write_all(l->fd, d, n);
            __atomic_add_fetch(&l->written, n, __ATOMIC_RELAXED);
        }
        (void)cap;
        free(d);
    }
    pthread_mutex_unlock(&l->wmu);
}

static void *px__log_main(void *arg)
{
    px_log *l = (px_log *)arg;
    pthread_mutex_lock(&l->wake_mu);
    while (!l->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += (long)PX_LOG_FLUSH_MS * 1000000L;
        while (ts.tv_nsec >= 1000000000L) { ts.tv_sec++; ts.tv_nsec -= 1000000000L; }
        pthread_cond_timedwait(&l->wake, &l->wake_mu, &ts);
        pthread_mutex_unlock(&l->wake_mu);
        px_log_flush(l);
        pthread_mutex_lock(&l->wake_mu);
    }
    pthread_mutex_unlock(&l->wake_mu);
    return NULL;
}

static inline px_log *px_log_open(const char *path)
{
    px_log *l = (px_log *)calloc(1, sizeof *l);
    if (!l) return NULL;
    l->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (l->fd < 0) { int e = errno; free(l); errno = e; return NULL; }
    pthread_mutex_init(&l->wmu, NULL);
    pthread_mutex_init(&l->wake_mu, NULL);
    pthread_cond_init(&l->wake, NULL);
    for (int i = 0; i < PX_LOG_WORKERS; i++) pthread_mutex_init(&l->bufs[i].mu, NULL);
    /* the logger thread takes no signals: they belong to the main thread */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int rc = pthread_create(&l->thread, NULL, px__log_main, l);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc) { close(l->fd); free(l); errno = rc; return NULL; }
    l->started = 1;
    return l;
}

static inline void px_log_close(px_log *l)
{
    if (!l) return;
    pthread_mutex_lock(&l->wake_mu);
    l->stop = 1;
    pthread_cond_signal(&l->wake);
    pthread_mutex_unlock(&l->wake_mu);
    if (l->started) pthread_join(l->thread, NULL);
    px_log_flush(l);
    close(l->fd);
    for (int i = 0; i < PX_LOG_WORKERS; i++) pthread_mutex_destroy(&l->bufs[i].mu);
    free(l);
}

static inline size_t px_log_clf_time(char *out, int64_t t)
{
    char d[PX_HTTP_DATE_LEN];              /* "Sun, 06 Nov 1994 08:49:37 GMT" */
    if (px_http_date_format(d, t) < 0) memcpy(d, "Thu, 01 Jan 1970 00:00:00 GMT", 29);
    out[0] = '[';
    memcpy(out + 1, d + 5, 2);             /* dd */
    out[3] = '/';
    memcpy(out + 4, d + 8, 3);             /* Mon */
    out[7] = '/';
    memcpy(out + 8, d + 12, 4);            /* yyyy */
    out[12] = ':';
    memcpy(out + 13, d + 17, 8);           /* hh:mm:ss */
    memcpy(out + 21, " +0000]", 7);
    return 28;
}

static inline size_t px_log_escape(char *dst, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
            dst[o++] = (char)c;
        } else {
            dst[o++] = '\\'; dst[o++] = 'x';
            dst[o++] = hex[c >> 4]; dst[o++] = hex[c & 15];
        }
    }
    return o;
}

#endif /* PX_HTTP_LOG_H */
