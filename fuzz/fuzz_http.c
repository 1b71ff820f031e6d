/* libFuzzer harness for pxcy's HTTP C helpers (see fuzz/README.md).
 * Also #included by tests/c/test_http.c to replay fuzz/corpus and
 * fuzz/regressions without libFuzzer.  Any violated property calls abort(). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_parse.h"
#include "http_range.h"
#include "http_util.h"
#include "http_body.h"

#define FZ_ASSERT(c)                                                           \
    do {                                                                       \
        if (!(c)) {                                                            \
            fprintf(stderr, "fuzz property failed %s:%d: %s\n", __FILE__, __LINE__, #c); \
            abort();                                                           \
        }                                                                      \
    } while (0)

static int fz_slice_eq(px_slice a, px_slice b) { return a.p == b.p && a.n == b.n; }

static int fz_req_eq(const px_request *a, const px_request *b)
{
    if (!fz_slice_eq(a->method, b->method) || a->method_id != b->method_id ||
        a->minor_version != b->minor_version || !fz_slice_eq(a->target, b->target) ||
        !fz_slice_eq(a->path, b->path) || !fz_slice_eq(a->query, b->query) ||
        a->num_headers != b->num_headers || a->content_length != b->content_length ||
        a->chunked != b->chunked || a->keep_alive != b->keep_alive || a->path_clean != b->path_clean ||
        a->expect_continue != b->expect_continue || a->upgrade != b->upgrade ||
        !fz_slice_eq(a->host, b->host) || !fz_slice_eq(a->if_none_match, b->if_none_match) ||
        !fz_slice_eq(a->if_modified_since, b->if_modified_since) ||
        !fz_slice_eq(a->range, b->range) || !fz_slice_eq(a->if_range, b->if_range))
        return 0;
    for (size_t i = 0; i < a->num_headers; i++)
        if (!fz_slice_eq(a->headers[i].name, b->headers[i].name) ||
            !fz_slice_eq(a->headers[i].value, b->headers[i].value))
            return 0;
    return 1;
}

/* Parse buf with a feed split at `split` (and a third step at split2). */
static int fz_parse_split(const char *buf, size_t n, size_t split, size_t split2, px_request *r,
                          const px_limits *lim)
{
    px_request_reset(r);
    int rc = px_parse_request(buf, split, r, lim);
    if (rc) return rc;
    rc = px_parse_request(buf, split2, r, lim);
    if (rc) return rc;
    return px_parse_request(buf, n, r, lim);
}

static void fz_parser(const char *buf, size_t n, unsigned sel)
{
    static px_request a, b;   /* large; the fuzzer is single-threaded */
    px_limits lim = PX_LIMITS_DEFAULT;
    if (sel & 0x10) { lim.max_request_line = 40; lim.max_header_bytes = 120; lim.max_headers = 5; }
    if (sel & 0x20) lim.require_host = 1;
    int lvl_max = px_simd_set_level(99);
    px_simd_set_level((int)(sel & 3) % (lvl_max + 1));
    px_request_reset(&a);
    int ra = px_parse_request(buf, n, &a, &lim);
    FZ_ASSERT(ra <= (int)n);
    FZ_ASSERT(ra == 0 || ra > 0 || ra == -400 || ra == -414 || ra == -431 || ra == -501 || ra == -505);
    size_t split = n ? (sel * 131u) % (n + 1) : 0;
    size_t split2 = split + (n - split) / 2;
    px_simd_set_level((int)((sel >> 2) & 3) % (lvl_max + 1));
    int rb = fz_parse_split(buf, n, split, split2, &b, &lim);
    FZ_ASSERT(ra == rb);
    if (ra > 0) FZ_ASSERT(fz_req_eq(&a, &b));
    /* the pre-scan path alone, one-shot: what the one-pass path accepts it must too */
    px_request_reset(&b);
    int rs = px__parse_scan(buf, n, &b, &lim);
    FZ_ASSERT(rs == ra);
    if (ra > 0) {
        FZ_ASSERT(fz_req_eq(&a, &b));
        /* the limits at this head's own edges (request line, header bytes, fields), one
         * below, at and one above each: both paths still agree */
        if (a.method.p && a.target.p) {
            size_t rl_end = (size_t)(a.target.p + a.target.n + 9 - buf);
            size_t rl = rl_end - (size_t)(a.method.p - buf), hb = (size_t)ra - (rl_end + 2);
            static px_request c, d;
            for (int k = 0; k < 3; k++)
                for (int e = -1; e <= 1; e++) {
                    px_limits l2 = lim;
                    if (k == 0) l2.max_request_line = rl + (size_t)e;
                    else if (k == 1) l2.max_header_bytes = hb + (size_t)e;
                    else l2.max_headers = a.num_headers + (size_t)e;
                    px_request_reset(&c);
                    px_request_reset(&d);
                    int r1 = px_parse_request(buf, n, &c, &l2), r2 = px__parse_scan(buf, n, &d, &l2);
                    FZ_ASSERT(r1 == r2);
                    if (r1 > 0) FZ_ASSERT(fz_req_eq(&c, &d));
                }
        }
        const px_slice *h = a.num_headers ? px_header_get(&a, a.headers[0].name.p, a.headers[0].name.n) : NULL;
        FZ_ASSERT(!a.num_headers || h);
        FZ_ASSERT(a.path.n > 0 || a.method.n == 7);
        /* pipelined: parse what follows too */
        px_request_reset(&b);
        int rc2 = px_parse_request(buf + ra, n - (size_t)ra, &b, &lim);
        FZ_ASSERT(rc2 <= (int)(n - (size_t)ra));
        /* normalize the path and check the result's shape */
        char out[512];
        if (a.path.n <= sizeof out) {
            ptrdiff_t k = px_path_normalize(out, sizeof out, a.path.p, a.path.n);
            if (k > 0) {
                FZ_ASSERT(out[0] == '/');
                for (ptrdiff_t i = 0; i + 1 < k; i++) FZ_ASSERT(!(out[i] == '/' && out[i + 1] == '/'));
            }
        }
    }
    px_simd_set_level(99);
}

static void fz_chunked(const char *buf, size_t n, unsigned sel)
{
    char o1[4096], o2[4096];
    size_t l1 = 0, l2 = 0;
    px_chunked c;
    px_slice d;
    /* one shot */
    px_chunked_init(&c);
    size_t used1 = 0;
    ptrdiff_t k = 0;
    while (used1 < n) {
        k = px_chunked_decode(&c, buf + used1, n - used1, &d);
        if (k < 0) break;
        FZ_ASSERT((size_t)k <= n - used1);
        if (d.n) {
            FZ_ASSERT(d.p >= buf + used1 && d.p + d.n <= buf + used1 + k);
            if (l1 + d.n <= sizeof o1) memcpy(o1 + l1, d.p, d.n);
            l1 += d.n;
        }
        used1 += (size_t)k;
        if (px_chunked_done(&c)) break;
        FZ_ASSERT(k > 0);
    }
    int err1 = k < 0, done1 = px_chunked_done(&c);
    /* piecewise: pieces of 1 + (sel-derived) bytes */
    px_chunked_init(&c);
    size_t used2 = 0, step = 1 + (sel % 7);
    int err2 = 0;
    while (used2 < n && !px_chunked_done(&c)) {
        size_t piece = n - used2 < step ? n - used2 : step;
        size_t off = 0;
        while (off < piece && !px_chunked_done(&c)) {
            k = px_chunked_decode(&c, buf + used2 + off, piece - off, &d);
            if (k < 0) { err2 = 1; break; }
            if (d.n) {
                if (l2 + d.n <= sizeof o2) memcpy(o2 + l2, d.p, d.n);
                l2 += d.n;
            }
            off += (size_t)k;
        }
        if (err2) break;
        used2 += off;
    }
    FZ_ASSERT(err1 == err2);
    if (!err1) {
        FZ_ASSERT(done1 == px_chunked_done(&c));
        FZ_ASSERT(used1 == used2);
        FZ_ASSERT(l1 == l2 && c.total == l1);
        size_t cmp = l1 < sizeof o1 ? l1 : sizeof o1;
        FZ_ASSERT(memcmp(o1, o2, cmp) == 0);
    }
}

/* request bodies: one shot vs pieces of 1..8 bytes, limits from sel */
static void fz_body(const char *buf, size_t n, unsigned sel)
{
    uint64_t maxd = (sel & 0x40) ? (sel & 0x3f) * 3u : 0, maxw = (sel & 0x80) ? (sel & 0x3f) * 7u + 1 : 0;
    int chunked = !(sel & 1);
    int64_t cl = chunked ? -1 : (int64_t)(n / 2);
    px_body a, b;
    px_slice d;
    uint64_t sum1 = 0, sum2 = 0;
    int ra = px_body_start(&a, cl, chunked, maxd, maxw), rb = px_body_start(&b, cl, chunked, maxd, maxw);
    FZ_ASSERT(ra == rb && (ra == 0 || ra == -413));
    if (ra) return;
    size_t u1 = 0, u2 = 0;
    ptrdiff_t k = 0;
    int e1 = 0, e2 = 0;
    while (u1 < n && !px_body_done(&a)) {
        k = px_body_feed(&a, buf + u1, n - u1, &d);
        if (k < 0) { e1 = (int)k; break; }
        if (k == 0) break;
        FZ_ASSERT(!d.n || (d.p >= buf + u1 && d.p + d.n <= buf + u1 + k));
        for (size_t i = 0; i < d.n; i++) sum1 = sum1 * 31 + (unsigned char)d.p[i];
        u1 += (size_t)k;
    }
    size_t step = 1 + (sel >> 1) % 8;
    while (u2 < n && !px_body_done(&b)) {
        size_t piece = n - u2 < step ? n - u2 : step;
        k = px_body_feed(&b, buf + u2, piece, &d);
        if (k < 0) { e2 = (int)k; break; }
        if (k == 0) break;
        for (size_t i = 0; i < d.n; i++) sum2 = sum2 * 31 + (unsigned char)d.p[i];
        u2 += (size_t)k;
    }
    FZ_ASSERT(e1 == 0 || e1 == -400 || e1 == -413);
    if (!e1 && !e2) {
        FZ_ASSERT(u1 == u2 && sum1 == sum2 && a.decoded == b.decoded && a.wire == b.wire);
        FZ_ASSERT(px_body_done(&a) == px_body_done(&b));
    }
    if (!e1) {
        FZ_ASSERT(!maxd || a.decoded <= maxd);
        FZ_ASSERT(!maxw || !chunked || a.wire <= maxw);
        FZ_ASSERT(a.wire == u1);
    }
}

static void fz_range(const char *buf, size_t n, unsigned sel)
{
    px_range rs[PX_RANGE_MAX];
    size_t cnt = 0;
    uint64_t len = sel & 0x80 ? (uint64_t)sel * 977u : (UINT64_MAX >> (sel & 63));
    int rc = px_range_parse(buf, n, len, rs, PX_RANGE_MAX, &cnt);
    FZ_ASSERT(rc == 200 || rc == 206 || rc == 416);
    if (rc == 206) {
        FZ_ASSERT(cnt >= 1 && cnt <= PX_RANGE_MAX);
        for (size_t i = 0; i < cnt; i++) {
            FZ_ASSERT(rs[i].first <= rs[i].last && rs[i].last < len);
            /* request order or sorted: never two that overlap or touch */
            for (size_t j = 0; j < i; j++)
                FZ_ASSERT(rs[i].first > rs[j].last + 1 || rs[j].first > rs[i].last + 1);
        }
    } else {
        FZ_ASSERT(cnt == 0);
    }
    (void)px_if_range_match(buf, n, "\"abc\"", 5, (int64_t)sel * 1000);
}

static void fz_util(const char *buf, size_t n)
{
    char out[1024];
    if (n <= sizeof out) {
        ptrdiff_t k = px_path_normalize(out, sizeof out, buf, n);
        FZ_ASSERT(k == -1 || k > 0);
        if (k > 0) {
            FZ_ASSERT(out[0] == '/' && (size_t)k <= n);
            FZ_ASSERT(memchr(out, 0, (size_t)k) == NULL);
            for (ptrdiff_t i = 0; i < k; i++) {
                if (out[i] != '/') continue;
                FZ_ASSERT(i + 1 >= k || out[i + 1] != '/');
                size_t rest = (size_t)(k - i - 1);
                FZ_ASSERT(!(rest >= 1 && out[i + 1] == '.' && (rest == 1 || out[i + 2] == '/')));
                FZ_ASSERT(!(rest >= 2 && out[i + 1] == '.' && out[i + 2] == '.' &&
                            (rest == 2 || out[i + 3] == '/')));
            }
            if (!memchr(out, '%', (size_t)k)) {   /* idempotent */
                char again[1024];
                ptrdiff_t k2 = px_path_normalize(again, sizeof again, out, (size_t)k);
                FZ_ASSERT(k2 == k && memcmp(again, out, (size_t)k) == 0);
            }
        }
    }
    /* JSON: size query, full write, truncated writes are prefixes */
    static char js[6 * 4096], js2[6 * 4096];
    if (n <= 4096) {
        size_t need = px_json_escape(NULL, 0, buf, n);
        FZ_ASSERT(need <= 6 * n);
        size_t w = px_json_escape(js, sizeof js, buf, n);
        FZ_ASSERT(w == need);
        size_t cap = n ? (unsigned char)buf[0] % (need + 1) : 0;
        FZ_ASSERT(px_json_escape(js2, cap, buf, n) == need);
        /* validate: no raw controls, no '"' unescaped, escapes well formed, UTF-8 valid */
        const unsigned char *s = (const unsigned char *)js;
        for (size_t i = 0; i < w; i++) {
            FZ_ASSERT(s[i] >= 0x20 && s[i] != '"');
            if (s[i] == '\\') {
                FZ_ASSERT(i + 1 < w);
                unsigned char e = s[++i];
                FZ_ASSERT(strchr("\"\\bfnrtu", e) && e);
                if (e == 'u') { FZ_ASSERT(i + 4 < w); i += 4; }
            } else if (s[i] >= 0x80) {
                size_t len = s[i] >= 0xF0 ? 4 : s[i] >= 0xE0 ? 3 : 2;
                FZ_ASSERT(s[i] >= 0xC2 && s[i] <= 0xF4 && i + len <= w);
                for (size_t j = 1; j < len; j++) FZ_ASSERT((s[i + j] & 0xC0) == 0x80);
                i += len - 1;
            }
        }
    }
    /* dates: parse -> format -> parse round trip */
    int64_t t;
    if (px_http_date_parse(buf, n, &t) == 0) {
        char d[PX_HTTP_DATE_LEN];
        if (px_http_date_format(d, t) == PX_HTTP_DATE_LEN) {
            int64_t t2;
            FZ_ASSERT(px_http_date_parse(d, sizeof d, &t2) == 0 && t2 == t);
        }
    }
    size_t ml;
    const char *m = px_mime_type(buf, n, &ml);
    FZ_ASSERT(strlen(m) == ml);
    /* px_path_clean: shape and idempotence, no decoding */
    if (n + 1 <= sizeof out) {
        ptrdiff_t k = px_path_clean(out, sizeof out, buf, n);
        FZ_ASSERT(k == -1 || k > 0);
        if (k > 0) {
            char again[1024];
            FZ_ASSERT(out[0] == '/' && (size_t)k <= n + 1);
            ptrdiff_t k2 = px_path_clean(again, sizeof again, out, (size_t)k);
            FZ_ASSERT(k2 == k && memcmp(again, out, (size_t)k) == 0);
        }
    }
    (void)px_host_valid(buf, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) return 0;
    unsigned sel = data[0];
    const char *buf = (const char *)data + 1;
    size_t n = size - 1;
    /* copy into an exactly-sized heap block so ASan catches any over-read */
    char *copy = (char *)malloc(n ? n : 1);
    if (!copy) return 0;
    memcpy(copy, buf, n);
    fz_parser(copy, n, sel);
    fz_chunked(copy, n, sel);
    fz_range(copy, n, sel);
    fz_body(copy, n, sel);
    fz_util(copy, n);
    free(copy);
    return 0;
}
