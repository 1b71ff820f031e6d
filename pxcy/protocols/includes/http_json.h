/* http_json.h -- incremental JSON writer for nogil handlers.  Header-only C99,
 * no global state; memory comes from a caller-supplied allocator (pxcy passes the
 * connection's transient heap), so nothing is freed: a grown buffer just leaves
 * the old one to the heap's rollback.
 *
 *   px_json j;  px_json_init(&j, alloc, ctx, size_hint)     0, or -1 (out of memory)
 *   px_json_begin_object / end_object / begin_array / end_array
 *   px_json_key(j, k, n)      a member name (escaped like a string) and ':'
 *   px_json_str(j, s, n)      UTF-8 in, valid JSON out (invalid UTF-8 -> U+FFFD)
 *   px_json_int(j, v)         int64
 *   px_json_float(j, v)       shortest decimal that reads back as the same double
 *                             (0.1 -> "0.1"); NaN and infinities -> null
 *   px_json_bool / px_json_null / px_json_raw(j, s, n)
 * Every call returns 0, or -1 once an allocation failed; failure is sticky
 * (j->failed), so a handler may check only at the end.  Commas are inserted
 * automatically between values; nesting is the caller's responsibility.
 * Output: j->buf[0 .. j->n).
 */
#ifndef PX_HTTP_JSON_H
#define PX_HTTP_JSON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "http_util.h"

typedef void *(*px_json_alloc)(void *ctx, size_t n);

typedef struct {
    char *buf;
    size_t n, cap;
    px_json_alloc alloc;
    void *ctx;
    int failed;
    int comma;          /* the next value needs a ',' before it */
} px_json;

static inline int px__jreserve(px_json *j, size_t need)
{
    if (j->failed) return -1;
    if (need <= j->cap - j->n) return 0;
    if (need > (SIZE_MAX / 4) - j->n) { j->failed = 1; return -1; }
    size_t cap = (j->n + need) * 2;
    char *nb = j->alloc ? (char *)j->alloc(j->ctx, cap) : NULL;
    if (!nb) { j->failed = 1; return -1; }
    if (j->n) memcpy(nb, j->buf, j->n);
    j->buf = nb;
    j->cap = cap;
    return 0;
}

/* room for a value of `need` bytes plus its separator */
static inline int px__jsep(px_json *j, size_t need)
{
    if (px__jreserve(j, need + 1) < 0) return -1;
    if (j->comma) j->buf[j->n++] = ',';
    return 0;
}

static inline int px_json_init(px_json *j, px_json_alloc alloc, void *ctx, size_t hint)
{
    j->buf = NULL;
    j->n = j->cap = 0;
    j->alloc = alloc;
    j->ctx = ctx;
    j->failed = 0;
    j->comma = 0;
    return px__jreserve(j, hint ? hint : 256);
}

static inline int px__jopen(px_json *j, char c)
{
    if (px__jsep(j, 1) < 0) return -1;
    j->buf[j->n++] = c;
    j->comma = 0;
    return 0;
}

static inline int px__jclose(px_json *j, char c)
{
    if (px__jreserve(j, 1) < 0) return -1;
    j->buf[j->n++] = c;
    j->comma = 1;
    return 0;
}

static inline int px_json_begin_object(px_json *j) { return px__jopen(j, '{'); }
static inline int px_json_end_object(px_json *j) { return px__jclose(j, '}'); }
static inline int px_json_begin_array(px_json *j) { return px__jopen(j, '['); }
static inline int px_json_end_array(px_json *j) { return px__jclose(j, ']'); }

static inline int px_json_str(px_json *j, const char *s, size_t n)
{
    if (n > SIZE_MAX / 8) { j->failed = 1; return -1; }
    if (px__jsep(j, 6 * n + 2) < 0) return -1;
    j->buf[j->n++] = '"';
    j->n += px_json_escape(j->buf + j->n, j->cap - j->n - 1, s, n);
    j->buf[j->n++] = '"';
    j->comma = 1;
    return 0;
}

static inline int px_json_key(px_json *j, const char *k, size_t n)
{
    if (px_json_str(j, k, n) < 0 || px__jreserve(j, 1) < 0) return -1;
    j->buf[j->n++] = ':';
    j->comma = 0;
    return 0;
}

static inline int px_json_raw(px_json *j, const char *s, size_t n)
{
    if (px__jsep(j, n) < 0) return -1;
    memcpy(j->buf + j->n, s, n);
    j->n += n;
    j->comma = 1;
    return 0;
}

static inline int px_json_null(px_json *j) { return px_json_raw(j, "null", 4); }
static inline int px_json_bool(px_json *j, int v) { return v ? px_json_raw(j, "true", 4) : px_json_raw(j, "false", 5); }

static inline int px_json_int(px_json *j, int64_t v)
{
    if (px__jsep(j, PX_INT_MAXLEN + 1) < 0) return -1;
    j->n += px_write_i64(j->buf + j->n, v);
    j->comma = 1;
    return 0;
}

/* Shortest of %.15g, %.16g, %.17g that strtod reads back exactly (%.17g always
 * does).  Locale: workers never call setlocale, so '.' is the decimal point. */
static inline int px_json_format_double(char *out, double v)
{
    int k = 0;
    for (int prec = 15; prec <= 17; prec++) {
        k = snprintf(out, 32, "%.*g", prec, v);
        if (prec == 17 || strtod(out, NULL) == v) break;
    }
    return k;
}

static inline int px_json_float(px_json *j, double v)
{
    if (v != v || v - v != 0) return px_json_null(j);     /* NaN / inf are not JSON */
    if (px__jsep(j, 32) < 0) return -1;
    j->n += (size_t)px_json_format_double(j->buf + j->n, v);
    j->comma = 1;
    return 0;
}

#endif /* PX_HTTP_JSON_H */
