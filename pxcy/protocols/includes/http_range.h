/* http_range.h -- RFC 9110 sec. 14 Range / If-Range evaluation.  Header-only C99,
 * no malloc, no mutable globals, thread-safe.
 *
 *   typedef struct { uint64_t first, last; } px_range;      inclusive byte offsets
 *   int px_range_parse(const char *v, size_t n, uint64_t len,
 *                      px_range *out, size_t max, size_t *count)
 *       v/n: the Range field value; len: representation length; out: room for max
 *       ranges (PX_RANGE_MAX = 16 is a good size).  Returns
 *         PX_RANGE_PARTIAL (206)  *count >= 1 satisfiable ranges in out, clipped to
 *                                 len-1, in request order; when any two overlap or
 *                                 are adjacent, all are sorted by offset and
 *                                 coalesced instead (so *count may be 1 for a list)
 *         PX_RANGE_UNSATISFIABLE (416)  valid header, nothing satisfiable (e.g.
 *                                 first-pos >= len, "-0", or len == 0)
 *         PX_RANGE_IGNORE (200)   serve the full representation: unit is not
 *                                 "bytes" (case-insensitive), syntax error (incl.
 *                                 last < first, whitespace around '=', no digits),
 *                                 or more than max range-specs (DoS guard).
 *       Forms: "a-b", "a-" (to EOF), "-n" (last n bytes; n > len = whole).  List
 *       elements are separated by commas with optional whitespace; empty elements
 *       are skipped.  Numbers saturate at UINT64_MAX, so huge values are safe: a
 *       huge first-pos is unsatisfiable, a huge last-pos / suffix is clipped.
 *   int px_if_range_match(const char *v, size_t n, const char *etag, size_t etag_n,
 *                         int64_t last_modified)
 *       1 if the Range header should be honoured.  A value starting with '"' is an
 *       entity-tag compared strongly (byte-exact) with etag (which includes its
 *       quotes; a weak etag "W/..." never matches); a "W/" value never matches;
 *       anything else is parsed as an HTTP-date and must equal last_modified exactly
 *       (pass last_modified < 0 when unknown).  Invalid values -> 0 (send 200).
 */
#ifndef PX_HTTP_RANGE_H
#define PX_HTTP_RANGE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "http_util.h"

#ifndef PX_RANGE_MAX
#define PX_RANGE_MAX 16
#endif

enum { PX_RANGE_IGNORE = 200, PX_RANGE_PARTIAL = 206, PX_RANGE_UNSATISFIABLE = 416 };

typedef struct { uint64_t first, last; } px_range;

/* 1*DIGIT, saturating.  Returns pointer after the digits, or NULL if none. */
static inline const char *px__rdigits(const char *p, const char *e, uint64_t *v)
{
    const char *s = p;
    uint64_t x = 0;
    while (p < e && (unsigned)(*p - '0') < 10u) {
        unsigned d = (unsigned)(*p - '0');
        x = (x > (UINT64_MAX - d) / 10) ? UINT64_MAX : x * 10 + d;
        p++;
    }
    *v = x;
    return p == s ? NULL : p;
}

static inline int px_range_parse(const char *v, size_t n, uint64_t len, px_range *out,
                                 size_t max, size_t *count)
{
    const char *p = v, *e = v + n;
    size_t specs = 0, k = 0;
    *count = 0;
    if (n < 6 || ((p[0] | 0x20) != 'b') || ((p[1] | 0x20) != 'y') || ((p[2] | 0x20) != 't') ||
        ((p[3] | 0x20) != 'e') || ((p[4] | 0x20) != 's') || p[5] != '=')
        return PX_RANGE_IGNORE;
    p += 6;
    for (;;) {
        while (p < e && (*p == ' ' || *p == '\t' || *p == ',')) p++;
        if (p == e) break;
        uint64_t a, b;
        int suffix = 0, open = 0;
        if (*p == '-') {
            p = px__rdigits(p + 1, e, &b);
            if (!p) return PX_RANGE_IGNORE;
            suffix = 1;
        } else {
            p = px__rdigits(p, e, &a);
            if (!p || p == e || *p != '-') return PX_RANGE_IGNORE;
            const char *q = px__rdigits(p + 1, e, &b);
            if (q) {
                if (b < a) return PX_RANGE_IGNORE;
                p = q;
            } else {
                p++;
                open = 1;
            }
        }
        while (p < e && (*p == ' ' || *p == '\t')) p++;
        if (p < e && *p != ',') return PX_RANGE_IGNORE;
        if (++specs > max) return PX_RANGE_IGNORE;
        /* satisfiable? */
        if (suffix) {
            if (b == 0 || len == 0) continue;
            out[k].first = b >= len ? 0 : len - b;
            out[k].last = len - 1;
        } else {
            if (a >= len) continue;
            out[k].first = a;
            out[k].last = (open || b >= len) ? len - 1 : b;
        }
        k++;
    }
    if (specs == 0) return PX_RANGE_IGNORE;
    if (k == 0) return PX_RANGE_UNSATISFIABLE;
    /* Request order (RFC 9110 14.6) unless two ranges overlap or touch: then sorted
     * and coalesced (a MAY), which also bounds the response by the length. */
    px_range srt[PX_RANGE_MAX];
    int merge = 0;
    if (k > PX_RANGE_MAX) merge = 1;          /* cannot check: coalesce in place */
    else {
        memcpy(srt, out, k * sizeof *out);
        for (size_t i = 1; i < k; i++) {
            px_range t = srt[i];
            size_t j = i;
            while (j > 0 && srt[j - 1].first > t.first) { srt[j] = srt[j - 1]; j--; }
            srt[j] = t;
        }
        for (size_t i = 1; i < k; i++)
            if (srt[i].first <= srt[i - 1].last + 1) merge = 1;
    }
    if (!merge) { *count = k; return PX_RANGE_PARTIAL; }
    if (k <= PX_RANGE_MAX) memcpy(out, srt, k * sizeof *out);
    else {
        for (size_t i = 1; i < k; i++) {
            px_range t = out[i];
            size_t j = i;
            while (j > 0 && out[j - 1].first > t.first) { out[j] = out[j - 1]; j--; }
            out[j] = t;
        }
    }
    size_t w = 0;
    for (size_t i = 1; i < k; i++) {
        if (out[i].first <= out[w].last + 1) {
            if (out[i].last > out[w].last) out[w].last = out[i].last;
        } else {
            out[++w] = out[i];
        }
    }
    *count = w + 1;
    return PX_RANGE_PARTIAL;
}

static inline int px_if_range_match(const char *v, size_t n, const char *etag, size_t etag_n,
                                    int64_t last_modified)
{
    if (n == 0) return 0;
    if (v[0] == '"') {
        if (n < 2 || v[n - 1] != '"' || !etag || etag_n != n) return 0;
        return memcmp(v, etag, n) == 0;
    }
    if (n >= 2 && v[0] == 'W' && v[1] == '/') return 0;
    int64_t t;
    if (last_modified < 0 || px_http_date_parse(v, n, &t)) return 0;
    return t == last_modified;
}

#endif /* PX_HTTP_RANGE_H */
