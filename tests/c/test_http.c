/* Unit tests for pxcy/protocols/includes/http_{parse,range,util,body,json,log}.h.
 * Build: cc -O1 -Wall -Wextra -Werror -I pxcy/protocols/includes tests/c/test_http.c -lpthread
 * Run:   ./a.out [FILE_OR_DIR...]   extra args: fuzz inputs to replay (corpus, regressions).
 * Exit status 0 on success; every failure is printed with its line number. */
#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/mman.h>
#include <unistd.h>

#include "http_parse.h"
#include "http_range.h"
#include "http_util.h"
#include "http_body.h"
#include "http_json.h"
#include "http_log.h"
#include "../../fuzz/fuzz_http.c"

static int g_fail, g_checks;

#define CHECK(c)                                                               \
    do {                                                                       \
        g_checks++;                                                            \
        if (!(c)) { g_fail++; printf("FAIL line %d: %s\n", __LINE__, #c); }    \
    } while (0)
#define CHECK_INT(a, b)                                                        \
    do {                                                                       \
        long long va_ = (long long)(a), vb_ = (long long)(b);                  \
        g_checks++;                                                            \
        if (va_ != vb_) {                                                      \
            g_fail++;                                                          \
            printf("FAIL line %d: %s == %lld, expected %lld\n", __LINE__, #a, va_, vb_); \
        }                                                                      \
    } while (0)
#define CHECK_SL(sl, str) CHECK_SL_(__LINE__, (sl), (str))
static void CHECK_SL_(int line, px_slice s, const char *str)
{
    g_checks++;
    if (!str) {
        if (s.p) { g_fail++; printf("FAIL line %d: slice should be absent\n", line); }
        return;
    }
    if (!s.p || s.n != strlen(str) || memcmp(s.p, str, s.n)) {
        g_fail++;
        printf("FAIL line %d: slice '%.*s' != '%s'\n", line, s.p ? (int)s.n : 6,
               s.p ? s.p : "(null)", str);
    }
}
#define CHECK_MEM(p, n, str) CHECK_MEM_(__LINE__, (p), (size_t)(n), (str), strlen(str))
static void CHECK_MEM_(int line, const char *p, size_t n, const char *s, size_t sn)
{
    g_checks++;
    if (n != sn || memcmp(p, s, n)) {
        g_fail++;
        printf("FAIL line %d: got '%.*s' (%zu), expected '%s' (%zu)\n", line, (int)n, p, n, s, sn);
    }
}

static px_request R;

static int parse(const char *s)
{
    px_request_reset(&R);
    return px_parse_request(s, strlen(s), &R, NULL);
}

static int parse_lim(const char *s, const px_limits *lim)
{
    px_request_reset(&R);
    return px_parse_request(s, strlen(s), &R, lim);
}

/* one-shot vs byte-at-a-time (same buffer, growing length): first non-zero
 * result must match and the parsed fields must be identical */
static px_request R2;
static int incr_same(const char *s, size_t n, const px_limits *lim, int verbose_line)
{
    px_request_reset(&R);
    int a = px_parse_request(s, n, &R, lim);
    px_request_reset(&R2);
    int b = 0;
    size_t k;
    for (k = 1; k <= n; k++) {
        b = px_parse_request(s, k, &R2, lim);
        if (b) break;
    }
    if (a != b) {
        printf("  incremental mismatch (line %d): one-shot %d, bytewise %d at %zu\n", verbose_line, a, b, k);
        return 0;
    }
    if (a > 0 && ((size_t)a != k || !fz_req_eq(&R, &R2))) {
        printf("  incremental field mismatch (line %d)\n", verbose_line);
        return 0;
    }
    return 1;
}
#define CHECK_INCR(s) CHECK(incr_same((s), strlen(s), NULL, __LINE__))

/* The one-pass path (px__parse_fast) and the pre-scan path (px__parse_scan) give one
 * result for every input: same return, same fields. */
static px_request R3;
static int paths_same(const char *s, size_t n, const px_limits *lim, int line)
{
    px_request_reset(&R);
    int a = px_parse_request(s, n, &R, lim);
    static const px_limits dflt = PX_LIMITS_DEFAULT;
    px_request_reset(&R3);
    int b = px__parse_scan(s, n, &R3, lim ? lim : &dflt);
    if (a != b || (a > 0 && !fz_req_eq(&R, &R3))) {
        printf("  path mismatch (line %d): px_parse_request %d, pre-scan path %d\n", line, a, b);
        return 0;
    }
    return 1;
}

static void test_parse_one_pass(void)
{
    /* ordinary heads take the one-pass path */
    static const char *fast[] = {
        "GET /plaintext HTTP/1.1\r\nHost: localhost:8080\r\n\r\n",
        "GET / HTTP/1.0\r\n\r\n",
        "HEAD /a/b?c=d&e HTTP/1.1\r\nHost: x\r\nAccept: */*\r\nUser-Agent:  wrk \r\n\r\n",
        "POST /up HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello",
        "PUT /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n",
        "GET /%2e%2e/x HTTP/1.1\r\nConnection: close\r\nIf-None-Match: \"e\"\r\nRange: bytes=0-1\r\n"
        "If-Range: \"e\"\r\nIf-Modified-Since: Thu, 01 Jan 2026 00:00:00 GMT\r\n\r\n",
        "BREW /pot HTTP/1.1\r\nX-Empty:\r\n\r\nGET / HTTP/1.1\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: \t spaced \t\r\nhost2: y\r\n\r\n",   /* "Host: " shortcut */
        "GET / HTTP/1.1\r\nHost: \r\n\r\n",
        "GET / HTTP/1.1\r\nhost: x\r\nHosts: y\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof fast / sizeof *fast; i++) {
        size_t n = strlen(fast[i]);
        px_request_reset(&R);
        int k = px__parse_fast(fast[i], n, &R, &(px_limits)PX_LIMITS_DEFAULT);
        CHECK(k > 0);
        CHECK(paths_same(fast[i], n, NULL, __LINE__));
        CHECK(incr_same(fast[i], n, NULL, __LINE__));
    }
    /* everything else is left to the pre-scan path, with the same outcome */
    static const char *slow[] = {
        "\r\nGET / HTTP/1.1\r\n\r\n",                     /* leading empty line */
        "GET http://h/p HTTP/1.1\r\nHost: x\r\n\r\n",       /* absolute-form */
        "OPTIONS * HTTP/1.1\r\n\r\n",
        "CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: x\r\n",                    /* incomplete */
        "GET / HTTP/1.1\r\nHost: x\r\n\r",
        "GET / HTTP/1.1\nHost: x\r\n\r\n",                  /* bare LF */
        "GET / HTTP/1.1\r\nHost: x\n\r\n",
        "GET / HTTP/1.1\r\nHost: x\r\n\n",
        "GET / HTTP/1.1\r\nHost: x\rY\r\n\r\n",             /* bare CR */
        "GET / HTTP/1.1\r\nHost: x\r\n\rX",
        "GET / HTTP/2.0\r\nHost: x\r\n\r\n",                /* 505 */
        "GET / HTTP/1.1 \r\n\r\n",
        "GET  / HTTP/1.1\r\n\r\n",
        "GET / HTTP/1.1\r\n Host: x\r\n\r\n",               /* obs-fold */
        "GET / HTTP/1.1\r\nHost : x\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n",
        "GET / HTTP/1.1\r\nhost: x\r\nHost: y\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: x\r\nHOST: y\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a b\r\n\r\n",
        "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        "POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",   /* 501 */
        "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
        "GET /a#b HTTP/1.1\r\n\r\n",
        "G\x01T / HTTP/1.1\r\n\r\n",
        "GET / HTTP/1.1\r\nX: \x7f\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof slow / sizeof *slow; i++) {
        size_t n = strlen(slow[i]);
        px_request_reset(&R);
        CHECK_INT(px__parse_fast(slow[i], n, &R, &(px_limits)PX_LIMITS_DEFAULT), 0);
        CHECK(paths_same(slow[i], n, NULL, __LINE__));
    }
    /* the limits, at and one past each edge */
    {
        const char *h = "GET /abcdef HTTP/1.1\r\nA: 1\r\nBb: 22\r\nCcc: 333\r\n\r\n";
        size_t n = strlen(h), rl = 20, hdr = n - (rl + 2);
        for (int d = -1; d <= 1; d++) {
            px_limits lim = PX_LIMITS_DEFAULT;
            lim.max_request_line = rl + d;
            CHECK(paths_same(h, n, &lim, __LINE__));
            lim = (px_limits)PX_LIMITS_DEFAULT;
            lim.max_header_bytes = hdr + d;
            CHECK(paths_same(h, n, &lim, __LINE__));
            lim = (px_limits)PX_LIMITS_DEFAULT;
            lim.max_headers = 3 + d;
            CHECK(paths_same(h, n, &lim, __LINE__));
            lim = (px_limits)PX_LIMITS_DEFAULT;
            lim.require_host = 1;
            CHECK(paths_same(h, n, &lim, __LINE__));
        }
        px_limits lim = PX_LIMITS_DEFAULT;
        lim.max_request_line = rl - 1;
        CHECK_INT(parse_lim(h, &lim), -414);
        lim = (px_limits)PX_LIMITS_DEFAULT;
        lim.max_header_bytes = hdr - 1;
        CHECK_INT(parse_lim(h, &lim), -431);
        lim = (px_limits)PX_LIMITS_DEFAULT;
        lim.max_headers = 2;
        CHECK_INT(parse_lim(h, &lim), -431);
    }
    /* targets: every string of up to 6 bytes over "/.%?a" after a '/', and longer ones
     * around the 32-byte window, at every level: same target, path, query, path_clean */
    {
        static const char al[] = "/.%?a";
        char head[160], t[48];
        int max = px_simd_set_level(99), bad = 0;
        for (int lvl = 0; lvl <= max; lvl++) {
            px_simd_set_level(lvl);
            for (size_t len = 0; len <= 6; len++) {
                size_t total = 1;
                for (size_t k = 0; k < len; k++) total *= 5;
                for (size_t code = 0; code < total; code++) {
                    size_t c = code;
                    t[0] = '/';
                    for (size_t k = 0; k < len; k++) { t[1 + k] = al[c % 5]; c /= 5; }
                    int n = snprintf(head, sizeof head, "GET %.*s HTTP/1.1\r\nHost: h\r\n\r\n", (int)len + 1, t);
                    if (!paths_same(head, (size_t)n, NULL, __LINE__)) bad++;
                }
            }
            for (size_t len = 20; len <= 44; len++) {
                for (size_t pos = 1; pos < len; pos += 3) {
                    memset(t, 'a', len);
                    t[0] = '/';
                    t[pos] = (char)"/.%?"[pos % 4];
                    if (pos + 1 < len) t[pos + 1] = (char)"./a."[pos % 4];
                    int n = snprintf(head, sizeof head, "GET %.*s HTTP/1.1\r\nHost: h\r\n\r\n", (int)len, t);
                    if (!paths_same(head, (size_t)n, NULL, __LINE__)) bad++;
                }
            }
        }
        px_simd_set_level(99);
        CHECK_INT(bad, 0);
    }
    /* every prefix of a pipelined pair, at every SIMD level */
    {
        const char *two = "GET /x?y HTTP/1.1\r\nHost: h\r\nAccept: */*\r\n\r\nHEAD / HTTP/1.0\r\n\r\n";
        size_t n = strlen(two);
        int max = px_simd_set_level(99);
        for (int lvl = 0; lvl <= max; lvl++) {
            px_simd_set_level(lvl);
            for (size_t k = 0; k <= n; k++) CHECK(paths_same(two, k, NULL, __LINE__));
        }
        px_simd_set_level(99);
    }
}

/* px__host_valid_lim equals px_host_valid: every string of up to 4 bytes over an
 * alphabet of the classes' edges, and random ones up to 20 bytes, at every level, with
 * tight and loose read bounds. */
static void test_host_valid_levels(void)
{
    static const char alpha[] = "a1:%[].-@~_!=/Z\x80\x00 9`{";
    const size_t na = sizeof alpha - 1;
    char buf[64];
    int max = px_simd_set_level(99), bad = 0;
    unsigned seed = 12345;
    for (int lvl = 0; lvl <= max; lvl++) {
        for (size_t len = 0; len <= 4; len++) {
            size_t total = 1;
            for (size_t k = 0; k < len; k++) total *= na;
            for (size_t code = 0; code < total; code++) {
                size_t c = code;
                memset(buf, 'a', sizeof buf);
                for (size_t k = 0; k < len; k++) { buf[k] = alpha[c % na]; c /= na; }
                int want = px_host_valid(buf, len);
                if (px__host_valid_lim(buf, len, buf + sizeof buf, lvl) != want) bad++;
                if (px__host_valid_lim(buf, len, buf + len, lvl) != want) bad++;
            }
        }
        for (int it = 0; it < 200000; it++) {
            size_t len = (seed = seed * 1103515245u + 12345u) >> 16 & 31;
            if (len > 20) len -= 11;
            for (size_t k = 0; k < len; k++) {
                seed = seed * 1103515245u + 12345u;
                buf[k] = (seed >> 24) % 4 ? "0123456789.:abcz-"[(seed >> 16) % 17] : alpha[(seed >> 16) % na];
            }
            int want = px_host_valid(buf, len);
            if (px__host_valid_lim(buf, len, buf + sizeof buf, lvl) != want) bad++;
        }
    }
    px_simd_set_level(99);
    CHECK_INT(bad, 0);
    {
        static const char h[] = "127.0.0.1:8080\r\n\r\n..";
        for (int lvl = 0; lvl <= max; lvl++) {
            CHECK_INT(px__host_valid_lim(h, 14, h + sizeof h - 1, lvl), 1);
            CHECK_INT(px__host_valid_lim(h, 15, h + sizeof h - 1, lvl), 0);
            static const char sp[] = "ex ample.com:80\r\n\r\n", v6[] = "[::1]:80\r\n\r\n\r\n\r\n..";
            CHECK_INT(px__host_valid_lim(sp, 15, sp + sizeof sp - 1, lvl), 0);
            CHECK_INT(px__host_valid_lim(v6, 8, v6 + sizeof v6 - 1, lvl), 1);
        }
    }
}

/* ------------------------------------------------------------------------ */

static void test_parse_basic(void)
{
    const char *req =
        "GET /index.html?a=1&b=2 HTTP/1.1\r\n"
        "Host: example.com\r\n"
        "User-Agent: test/1.0  \r\n"
        "Accept:*/*\r\n"
        "X-Empty:\r\n"
        "If-None-Match: \"abc\"\r\n"
        "If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
        "Range: bytes=0-99\r\n"
        "If-Range: \"abc\"\r\n"
        "X-Obs: caf\xc3\xa9\tx\r\n"
        "\r\n"
        "BODY";
    int rc = parse(req);
    CHECK_INT(rc, (int)strlen(req) - 4);
    CHECK_SL(R.method, "GET");
    CHECK_INT(R.method_id, PX_METHOD_GET);
    CHECK_SL(R.target, "/index.html?a=1&b=2");
    CHECK_SL(R.path, "/index.html");
    CHECK_SL(R.query, "a=1&b=2");
    CHECK_INT(R.minor_version, 1);
    CHECK_INT(R.num_headers, 9);
    CHECK_SL(R.headers[0].name, "Host");
    CHECK_SL(R.headers[0].value, "example.com");
    CHECK_SL(R.headers[1].value, "test/1.0");
    CHECK_SL(R.headers[2].value, "*/*");
    CHECK_SL(R.headers[3].value, "");
    CHECK_SL(R.headers[8].value, "caf\xc3\xa9\tx");
    CHECK_SL(R.host, "example.com");
    CHECK_SL(R.if_none_match, "\"abc\"");
    CHECK_SL(R.if_modified_since, "Sun, 06 Nov 1994 08:49:37 GMT");
    CHECK_SL(R.range, "bytes=0-99");
    CHECK_SL(R.if_range, "\"abc\"");
    CHECK_INT(R.content_length, -1);
    CHECK_INT(R.chunked, 0);
    CHECK_INT(R.keep_alive, 1);
    CHECK_INT(R.expect_continue, 0);
    const px_slice *v = px_header_get(&R, "user-agent", 10);
    CHECK(v && v->n == 8);
    CHECK(px_header_get(&R, "USER-AGENT", 10) == v);
    CHECK(px_header_get(&R, "user-agen", 9) == NULL);
    CHECK(px_header_get(&R, "x-empty", 7) && px_header_get(&R, "x-empty", 7)->n == 0);
    CHECK(px_header_get(&R, "nope", 4) == NULL);
    CHECK_INCR(req);

    /* methods */
    static const struct { const char *m; int id; } ms[] = {
        {"GET", PX_METHOD_GET}, {"HEAD", PX_METHOD_HEAD}, {"POST", PX_METHOD_POST},
        {"PUT", PX_METHOD_PUT}, {"DELETE", PX_METHOD_DELETE}, {"OPTIONS", PX_METHOD_OPTIONS},
        {"PATCH", PX_METHOD_PATCH}, {"PROPFIND", PX_METHOD_OTHER}, {"get", PX_METHOD_OTHER},
        {"M-SEARCH", PX_METHOD_OTHER}, {"X!#$%&'*+-.^_`|~", PX_METHOD_OTHER},
    };
    for (size_t i = 0; i < sizeof ms / sizeof ms[0]; i++) {
        char b[128];
        snprintf(b, sizeof b, "%s / HTTP/1.1\r\nHost: h\r\n\r\n", ms[i].m);
        CHECK_INT(parse(b), (int)strlen(b));
        CHECK_INT(R.method_id, ms[i].id);
        CHECK_SL(R.method, ms[i].m);
    }

    /* HTTP/1.0 keep-alive rules, Connection lists */
    CHECK(parse("GET / HTTP/1.0\r\n\r\n") > 0 && R.keep_alive == 0 && R.minor_version == 0);
    CHECK(parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n") > 0 && R.keep_alive == 1);
    CHECK(parse("GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n") > 0 && R.keep_alive == 0);
    CHECK(parse("GET / HTTP/1.1\r\nConnection: close\r\n\r\n") > 0 && R.keep_alive == 0);
    CHECK(parse("GET / HTTP/1.1\r\nConnection: foo,  CLOSE ,bar\r\n\r\n") > 0 && R.keep_alive == 0);
    CHECK(parse("GET / HTTP/1.1\r\nConnection: closed\r\n\r\n") > 0 && R.keep_alive == 1);
    CHECK(parse("GET / HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n") > 0 &&
          R.upgrade == 1 && R.keep_alive == 1);
    /* Expect */
    CHECK(parse("PUT /x HTTP/1.1\r\nExpect: 100-Continue\r\nContent-Length: 5\r\n\r\n") > 0 &&
          R.expect_continue == 1 && R.content_length == 5);
    CHECK(parse("PUT /x HTTP/1.0\r\nExpect: 100-continue\r\n\r\n") > 0 && R.expect_continue == 0);
    CHECK(parse("PUT /x HTTP/1.1\r\nExpect: 100-continuex\r\n\r\n") > 0 && R.expect_continue == 0);
    /* target forms */
    CHECK(parse("GET /? HTTP/1.1\r\n\r\n") > 0 && R.query.p && R.query.n == 0);
    CHECK(parse("GET / HTTP/1.1\r\n\r\n") > 0 && R.query.p == NULL && R.host.p == NULL);
    CHECK_INT(parse("GET /a?b?c HTTP/1.1\r\n\r\n"), 23);
    CHECK_SL(R.path, "/a"); CHECK_SL(R.query, "b?c");
    CHECK(parse("GET http://ex.com/p/q?x=1 HTTP/1.1\r\nHost: ex.com\r\n\r\n") > 0);
    CHECK_SL(R.path, "/p/q"); CHECK_SL(R.query, "x=1"); CHECK_SL(R.target, "http://ex.com/p/q?x=1");
    CHECK(parse("GET HTTPS://ex.com HTTP/1.1\r\n\r\n") > 0);
    CHECK_SL(R.path, "/"); CHECK(R.query.p == NULL);
    CHECK(parse("GET http://ex.com?z HTTP/1.1\r\n\r\n") > 0);
    CHECK_SL(R.path, "/"); CHECK_SL(R.query, "z");
    CHECK(parse("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n") > 0);
    CHECK_SL(R.path, "*");
    CHECK_INT(parse("GET * HTTP/1.1\r\n\r\n"), -400);
    CHECK(parse("CONNECT ex.com:443 HTTP/1.1\r\nHost: ex.com:443\r\n\r\n") > 0 && R.path.n == 0);
    CHECK_INT(parse("GET ex.com:443 HTTP/1.1\r\n\r\n"), -400);
    CHECK_INT(parse("GET 1http://x/ HTTP/1.1\r\n\r\n"), -400);
    CHECK_INT(parse("GET http:/x/ HTTP/1.1\r\n\r\n"), -400);
    /* leading CRLFs skipped, counted in the return value */
    CHECK_INT(parse("\r\n\r\nGET / HTTP/1.1\r\n\r\n"), 22);
    CHECK_SL(R.method, "GET");
    /* Content-Length forms */
    CHECK(parse("POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n") > 0 && R.content_length == 0);
    CHECK(parse("POST / HTTP/1.1\r\nContent-Length: 42, 42\r\n\r\n") > 0 && R.content_length == 42);
    CHECK(parse("POST / HTTP/1.1\r\nContent-Length: 42\r\ncontent-length: 42\r\n\r\n") > 0 &&
          R.content_length == 42);
    CHECK(parse("POST / HTTP/1.1\r\nContent-Length: 9223372036854775807\r\n\r\n") > 0 &&
          R.content_length == INT64_MAX);
    CHECK(parse("POST / HTTP/1.1\r\nContent-Length: 007\r\n\r\n") > 0 && R.content_length == 7);
    /* chunked */
    CHECK(parse("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n") > 0 && R.chunked == 1 &&
          R.content_length == -1);
    CHECK(parse("POST / HTTP/1.1\r\nTransfer-Encoding: CHUNKED\r\n\r\n") > 0 && R.chunked == 1);
    CHECK(parse("POST / HTTP/1.1\r\nTransfer-Encoding: ,chunked, \r\n\r\n") > 0 && R.chunked == 1);
    /* header value with many bytes to drive the SIMD paths */
    {
        char b[2048];
        int o = snprintf(b, sizeof b, "GET / HTTP/1.1\r\nCookie: ");
        for (int i = 0; i < 700; i++) b[o++] = (char)('a' + i % 26);
        b[o++] = '\xff';
        o += snprintf(b + o, sizeof b - (size_t)o, "\r\nX: y\r\n\r\n");
        CHECK_INT(parse(b), o);
        CHECK_INT(R.headers[0].value.n, 701);
        CHECK_INCR(b);
    }
}

static void test_parse_errors(void)
{
    static const struct { int line, rc; const char *s; } cases[] = {
        /* request line */
        {__LINE__, -400, " GET / HTTP/1.1\r\n\r\n"},
        {__LINE__, -400, "GET  / HTTP/1.1\r\n\r\n"},
        {__LINE__, -400, "GET /  HTTP/1.1\r\n\r\n"},
        {__LINE__, -400, "GET / HTTP/1.1 \r\n\r\n"},
        {__LINE__, -400, "GET\t/ HTTP/1.1\r\n\r\n"},
        {__LINE__, -400, "GET / http/1.1\r\n\r\n"},
        {__LINE__, -400, "GET / HTTP/1.10\r\n\r\n"},
        {__LINE__, -400, "GET / HTTP/11\r\n\r\n"},
        {__LINE__, -400, "GET / HTTP/a.1\r\n\r\n"},
        {__LINE__, -400, "GET /\r\n\r\n"},
        {__LINE__, -400, "GET\r\n\r\n"},
        {__LINE__, -400, "G(T / HTTP/1.1\r\n\r\n"},
        {__LINE__, -400, "GE@ / HTTP/1.1\r\n\r\n"},
        {__LINE__, -400, "GET /a b HTTP/1.1\r\n\r\n"},
        {__LINE__, -400, "GET /a#frag HTTP/1.1\r\n\r\n"},
        {__LINE__, -400, "GET /caf\xc3\xa9 HTTP/1.1\r\n\r\n"},
        {__LINE__, -400, "GET /a\x7f HTTP/1.1\r\n\r\n"},
        {__LINE__, -400, "GET /a\x01 HTTP/1.1\r\n\r\n"},
        {__LINE__, -400, "GET /\rb HTTP/1.1\r\n\r\n"},
        {__LINE__, -505, "GET / HTTP/2.0\r\n\r\n"},
        {__LINE__, -505, "GET / HTTP/1.2\r\n\r\n"},
        {__LINE__, -505, "GET / HTTP/0.9\r\n\r\n"},
        {__LINE__, -505, "GET / HTTP/3.1\r\n\r\n"},
        /* line endings */
        {__LINE__, -400, "GET / HTTP/1.1\n\n"},
        {__LINE__, -400, "GET / HTTP/1.1\r\nHost: a\n\r\n"},
        {__LINE__, -400, "GET / HTTP/1.1\r\nHost: a\r\n\n"},
        {__LINE__, -400, "\nGET / HTTP/1.1\r\n\r\n"},
        {__LINE__, -400, "GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n"},
        {__LINE__, -400, "GET / HTTP/1.1\r\nHost: a\r\r\n\r\n"},
        {__LINE__, -400, "GET / HTTP/1.1\r\r\n\r\n"},
        /* header syntax */
        {__LINE__, -400, "GET / HTTP/1.1\r\nHost : a\r\n\r\n"},
        {__LINE__, -400, "GET / HTTP/1.1\r\nHost\t: a\r\n\r\n"},
        {__LINE__, -400, "GET / HTTP/1.1\r\n: a\r\n\r\n"},
        {__LINE__, -400, "GET / HTTP/1.1\r\nNoColon\r\n\r\n"},
        {__LINE__, -400, "GET / HTTP/1.1\r\n Host: a\r\n\r\n"},
        {__LINE__, -400, "GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n"},
        {__LINE__, -400, "GET / HTTP/1.1\r\nX: a\r\n\tb\r\n\r\n"},
        {__LINE__, -400, "GET / HTTP/1.1\r\nX(y): a\r\n\r\n"},
        {__LINE__, -400, "GET / HTTP/1.1\r\nX\xc3\xa9: a\r\n\r\n"},
        {__LINE__, -400, "GET / HTTP/1.1\r\nX: a\x7f\r\n\r\n"},
        {__LINE__, -400, "GET / HTTP/1.1\r\nX: a\x1b[0m\r\n\r\n"},
        {__LINE__, -400, "GET / HTTP/1.1\r\nX: \x0b\r\n\r\n"},
        {__LINE__, -400, "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"},
        {__LINE__, -400, "GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n"},
        /* Content-Length */
        {__LINE__, -400, "POST / HTTP/1.1\r\nContent-Length: \r\n\r\n"},
        {__LINE__, -400, "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n"},
        {__LINE__, -400, "POST / HTTP/1.1\r\nContent-Length: +1\r\n\r\n"},
        {__LINE__, -400, "POST / HTTP/1.1\r\nContent-Length: 1a\r\n\r\n"},
        {__LINE__, -400, "POST / HTTP/1.1\r\nContent-Length: 0x10\r\n\r\n"},
        {__LINE__, -400, "POST / HTTP/1.1\r\nContent-Length: 1 2\r\n\r\n"},
        {__LINE__, -400, "POST / HTTP/1.1\r\nContent-Length: 1,2\r\n\r\n"},
        {__LINE__, -400, "POST / HTTP/1.1\r\nContent-Length: 1,\r\n\r\n"},
        {__LINE__, -400, "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"},
        {__LINE__, -400, "POST / HTTP/1.1\r\nContent-Length: 9223372036854775808\r\n\r\n"},
        {__LINE__, -400, "POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n"},
        /* Transfer-Encoding */
        {__LINE__, -400, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n"},
        {__LINE__, -400, "POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"},
        {__LINE__, -400, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n"},
        {__LINE__, -400, "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n"},
        {__LINE__, -400, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"},
        {__LINE__, -400, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked, chunked\r\n\r\n"},
        {__LINE__, -400, "POST / HTTP/1.1\r\nTransfer-Encoding: \r\n\r\n"},
        {__LINE__, -400, "POST / HTTP/1.1\r\nTransfer-Encoding: xchunked\r\n\r\n"},
        {__LINE__, -400, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked;q=1\r\n\r\n"},
        {__LINE__, -400, "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"},
        {__LINE__, -400, "POST / HTTP/1.1\r\nTransfer-Encoding: \"chunked\"\r\n\r\n"},
        {__LINE__, -501, "POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"},
        {__LINE__, -501, "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n"},
        /* incomplete */
        {__LINE__, 0, ""},
        {__LINE__, 0, "\r\n"},
        {__LINE__, 0, "GET / HTTP/1.1"},
        {__LINE__, 0, "GET / HTTP/1.1\r"},
        {__LINE__, 0, "GET / HTTP/1.1\r\n"},
        {__LINE__, 0, "GET / HTTP/1.1\r\nHost: a\r\n"},
        {__LINE__, 0, "GET / HTTP/1.1\r\nHost: a\r\n\r"},
        {__LINE__, 0, "GET / HTTP/1.1\r\nX: \x01"},   /* errors inside a line show once complete */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = parse(cases[i].s);
        g_checks++;
        if (rc != cases[i].rc) {
            g_fail++;
            printf("FAIL line %d: parse -> %d, expected %d\n", cases[i].line, rc, cases[i].rc);
        }
        CHECK(incr_same(cases[i].s, strlen(cases[i].s), NULL, cases[i].line));
    }
    /* NUL bytes (need explicit lengths) */
    {
        static const char a[] = "GET / HTTP/1.1\r\nX: a\0b\r\n\r\n";
        static const char b[] = "GET / HTTP/1.1\r\nX\0: a\r\n\r\n";
        static const char c[] = "GET /\0 HTTP/1.1\r\n\r\n";
        static const char d[] = "G\0T / HTTP/1.1\r\n\r\n";
        const char *v[] = {a, b, c, d};
        size_t l[] = {sizeof a - 1, sizeof b - 1, sizeof c - 1, sizeof d - 1};
        for (int i = 0; i < 4; i++) {
            px_request_reset(&R);
            CHECK_INT(px_parse_request(v[i], l[i], &R, NULL), -400);
            CHECK(incr_same(v[i], l[i], NULL, __LINE__));
        }
    }
    /* require_host */
    {
        px_limits lim = PX_LIMITS_DEFAULT;
        lim.require_host = 1;
        CHECK_INT(parse_lim("GET / HTTP/1.1\r\n\r\n", &lim), -400);
        CHECK(parse_lim("GET / HTTP/1.0\r\n\r\n", &lim) > 0);
        CHECK(parse_lim("GET / HTTP/1.1\r\nHost:\r\n\r\n", &lim) > 0 && R.host.p && R.host.n == 0);
    }
}

static void test_parse_limits(void)
{
    static char b[40000];
    px_limits lim = {100, 200, 4, 0};
    /* request line exactly at the limit passes, one more is 414 */
    {
        int o = snprintf(b, sizeof b, "GET /");
        while (o < 100 - 9) b[o++] = 'a';
        o += snprintf(b + o, sizeof b - (size_t)o, " HTTP/1.1\r\n\r\n");
        CHECK_INT(parse_lim(b, &lim), o);
        CHECK(incr_same(b, strlen(b), &lim, __LINE__));
        memmove(b + 6, b + 5, strlen(b + 5) + 1);
        b[5] = 'a';
        CHECK_INT(parse_lim(b, &lim), -414);
        CHECK(incr_same(b, strlen(b), &lim, __LINE__));
        /* incomplete but already too long */
        memset(b, 'a', 150); memcpy(b, "GET /", 5); b[150] = 0;
        CHECK_INT(parse_lim(b, &lim), -414);
        b[101] = 0;
        CHECK_INT(parse_lim(b, &lim), 0);  /* 101 bytes: could still be 100 + CR */
        b[102] = 'a'; b[102] = 0;
        b[101] = 'a';
        CHECK_INT(parse_lim(b, &lim), -414);
    }
    /* header block */
    {
        int o = snprintf(b, sizeof b, "GET / HTTP/1.1\r\n");
        int hs = o;
        o += snprintf(b + o, sizeof b - (size_t)o, "X: ");
        while (o - hs < 200 - 4) b[o++] = 'v';
        o += snprintf(b + o, sizeof b - (size_t)o, "\r\n\r\n");   /* exactly 200 bytes of block */
        CHECK_INT(o - hs, 200);
        CHECK_INT(parse_lim(b, &lim), o);
        CHECK(incr_same(b, strlen(b), &lim, __LINE__));
        memmove(b + hs + 4, b + hs + 3, strlen(b + hs + 3) + 1);
        CHECK_INT(parse_lim(b, &lim), -431);
        CHECK(incr_same(b, strlen(b), &lim, __LINE__));
    }
    /* header count */
    CHECK(parse_lim("GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n", &lim) > 0);
    CHECK_INT(parse_lim("GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\n\r\n", &lim), -431);
    CHECK_INT(parse_lim("GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\n", &lim), -431);
    /* default limits: 65 headers -> 431, 64 ok */
    {
        int o = snprintf(b, sizeof b, "GET / HTTP/1.1\r\n");
        for (int i = 0; i < 64; i++) o += snprintf(b + o, sizeof b - (size_t)o, "H%d: v\r\n", i);
        strcpy(b + o, "\r\n");
        CHECK_INT(parse(b), o + 2);
        CHECK_INT(R.num_headers, 64);
        o += snprintf(b + o, sizeof b - (size_t)o, "H: v\r\n\r\n");
        CHECK_INT(parse(b), -431);
    }
    /* default: 16 KiB header block */
    {
        int o = snprintf(b, sizeof b, "GET / HTTP/1.1\r\nX: ");
        while (o < 17000) b[o++] = 'x';
        strcpy(b + o, "\r\n\r\n");
        CHECK_INT(parse(b), -431);
        b[o] = 0;
        CHECK_INT(parse(b), -431);   /* incomplete but already over */
    }
    /* too many leading empty lines */
    {
        int o = 0;
        while (o < 300) { b[o++] = '\r'; b[o++] = '\n'; }
        strcpy(b + o, "GET / HTTP/1.1\r\n\r\n");
        CHECK_INT(parse_lim(b, &lim), -400);
        CHECK(parse(b) > 0);
    }
}

static void test_parse_incremental_pipeline(void)
{
    const char *pipe =
        "GET /1 HTTP/1.1\r\nHost: a\r\n\r\n"
        "POST /2 HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc"
        "HEAD /3?x HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
        "GET /4 HTTP/1.1\r\nHost: a\r\n\r\n";
    size_t n = strlen(pipe), off = 0;
    const char *paths[] = {"/1", "/2", "/3", "/4"};
    for (int i = 0; i < 4; i++) {
        px_request_reset(&R);
        int rc = px_parse_request(pipe + off, n - off, &R, NULL);
        CHECK(rc > 0);
        if (rc <= 0) return;
        CHECK_SL(R.path, paths[i]);
        CHECK(incr_same(pipe + off, n - off, NULL, __LINE__));
        off += (size_t)rc;
        if (R.content_length > 0) off += (size_t)R.content_length;
    }
    CHECK_INT(off, n);
    /* the struct is reusable right after a successful parse (state auto-reset) */
    {
        const char *s = "GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n";
        px_request_reset(&R);
        int a = px_parse_request(s, strlen(s), &R, NULL);
        CHECK_INT(a, 19);
        int b = px_parse_request(s + a, strlen(s) - (size_t)a, &R, NULL);
        CHECK_INT(b, 19);
        CHECK_SL(R.path, "/b");
    }
    /* every split point of a realistic request gives identical results */
    {
        const char *s =
            "\r\nPOST /upload/file.bin?x=1 HTTP/1.1\r\nHost: example.com:8080\r\n"
            "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko)\r\n"
            "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"
            "Transfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n";
        size_t len = strlen(s);
        px_request_reset(&R);
        int full = px_parse_request(s, len, &R, NULL);
        CHECK_INT(full, (int)len);
        CHECK(R.chunked && R.expect_continue);
        for (size_t k = 0; k <= len; k++) {
            px_request_reset(&R2);
            int a = px_parse_request(s, k, &R2, NULL);
            int b = px_parse_request(s, len, &R2, NULL);
            g_checks++;
            if (a != (k == len ? full : 0) || (k < len && (b != full || !fz_req_eq(&R, &R2)))) {
                g_fail++;
                printf("FAIL line %d: split at %zu\n", __LINE__, k);
            }
        }
    }
}

/* ------------------------------------------------------------------------ */

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint32_t rnd(void)
{
    rng_state ^= rng_state << 13; rng_state ^= rng_state >> 7; rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}

static void test_simd_parity(void)
{
    int maxl = px_simd_set_level(99);
    printf("simd: max level %d (0 scalar, 1 sse2, 2 avx2)\n", maxl);
    CHECK(px_simd_set_level(0) == 0 && px_simd_level() == 0);
    static char buf[300];
    /* scanners directly, every level, random classes and offsets */
    for (int iter = 0; iter < 20000; iter++) {
        size_t n = rnd() % sizeof buf;
        for (size_t i = 0; i < n; i++) {
            uint32_t x = rnd() % 100;
            buf[i] = x < 85 ? (char)(0x20 + rnd() % 95) : x < 93 ? (char)(0x80 + rnd() % 128)
                                                                 : (char)(rnd() % 33);
            if (x == 99) buf[i] = 0x7f;
        }
        size_t s = n ? rnd() % n : 0;
        const char *q0 = NULL, *q1;
        const char *v0 = px__scan_value_scalar(buf + s, buf + n),
                   *t0 = px__scan_target_scalar(buf + s, buf + n, &q0);
        for (int l = 1; l <= maxl; l++) {
            g_checks += 2;
            if (px__scan_value(buf + s, buf + n, l) != v0 || px__scan_target(buf + s, buf + n, l, &q1) != t0 ||
                q1 != q0) {
                g_fail++;
                printf("FAIL line %d: scanner parity level %d iter %d\n", __LINE__, l, iter);
            }
        }
    }
    /* whole parser on random heads */
    static char req[4096];
    for (int iter = 0; iter < 5000; iter++) {
        int o = snprintf(req, sizeof req, "GET /");
        int tl = (int)(rnd() % 80);
        for (int i = 0; i < tl; i++) req[o++] = rnd() % 200 ? (char)(0x21 + rnd() % 94) : (char)(rnd() % 256);
        o += snprintf(req + o, sizeof req - (size_t)o, " HTTP/1.1\r\n");
        int nh = (int)(rnd() % 6);
        for (int h = 0; h < nh; h++) {
            o += snprintf(req + o, sizeof req - (size_t)o, "X-H%d: ", h);
            int vl = (int)(rnd() % 120);
            for (int i = 0; i < vl; i++) {
                uint32_t x = rnd() % 400;
                req[o++] = x < 380 ? (char)(0x20 + rnd() % 95) : x < 395 ? (char)(0x80 + rnd() % 128)
                                                                        : (char)(rnd() % 32);
            }
            req[o++] = '\r'; req[o++] = '\n';
        }
        req[o++] = '\r'; req[o++] = '\n';
        px_simd_set_level(0);
        px_request_reset(&R);
        int a = px_parse_request(req, (size_t)o, &R, NULL);
        for (int l = 1; l <= maxl; l++) {
            px_simd_set_level(l);
            px_request_reset(&R2);
            int b = px_parse_request(req, (size_t)o, &R2, NULL);
            g_checks++;
            if (a != b || (a > 0 && !fz_req_eq(&R, &R2))) {
                g_fail++;
                printf("FAIL line %d: parser parity level %d iter %d (%d vs %d)\n", __LINE__, l, iter, a, b);
            }
        }
    }
    px_simd_set_level(99);
}

/* The request line's fast paths (GET, HTTP/1.1, one scan for the target's end, '?'
 * and '#') at every SIMD level, with the '?' and '#' inside and past a window. */
static void test_request_line_levels(void)
{
    int maxl = px_simd_set_level(99);
    static const char *pad = "/abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    char req[512];
    for (int l = 0; l <= maxl; l++) {
        px_simd_set_level(l);
        for (int k = 0; k < 60; k++) {          /* path of k+1 bytes, then ?q=1 */
            snprintf(req, sizeof req, "GET %.*s?q=1 HTTP/1.1\r\nHost: x\r\n\r\n", k + 1, pad);
            CHECK_INT(parse(req), (int)strlen(req));
            CHECK(R.path.n == (size_t)k + 1 && R.query.n == 3 && memcmp(R.query.p, "q=1", 3) == 0);
            snprintf(req, sizeof req, "GET %.*s HTTP/1.1\r\nX: a?b#c\r\n\r\n", k + 1, pad);
            CHECK(parse(req) > 0 && R.query.p == NULL && R.path.n == (size_t)k + 1);   /* '?' past it */
            snprintf(req, sizeof req, "GET %.*s#f HTTP/1.1\r\n\r\n", k + 1, pad);
            CHECK_INT(parse(req), -400);
            snprintf(req, sizeof req, "GET %.*s?a#f HTTP/1.1\r\n\r\n", k + 1, pad);
            CHECK_INT(parse(req), -400);
            snprintf(req, sizeof req, "GET http://h.example%.*s?z HTTP/1.1\r\n\r\n", k + 1, pad);
            CHECK(parse(req) > 0 && R.path.n == (size_t)k + 1 && R.query.n == 1 && R.host.n == 9);
        }
        CHECK(parse("GETS / HTTP/1.1\r\n\r\n") > 0 && R.method_id == PX_METHOD_OTHER && R.method.n == 4);
        CHECK(parse("GET / HTTP/1.1\r\n\r\n") > 0 && R.method_id == PX_METHOD_GET && R.method.n == 3 &&
              R.minor_version == 1);
        CHECK_INT(parse("GET  / HTTP/1.1\r\n\r\n"), -400);
        CHECK_INT(parse("GET / HTTP/1.11\r\n\r\n"), -400);
        CHECK(parse("GET / HTTP/1.0\r\n\r\n") > 0 && R.minor_version == 0);
        CHECK_INT(parse("GET / HTTP/2.0\r\n\r\n"), -505);
        /* several heads back to back: each line end found once, in its own head */
        const char *two = "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\n\r\n";
        px_request_reset(&R);
        int a = px_parse_request(two, strlen(two), &R, NULL);
        CHECK_INT(a, 28);
        px_request_reset(&R);
        CHECK_INT(px_parse_request(two + a, strlen(two) - (size_t)a, &R, NULL), 19);
        CHECK_SL(R.path, "/b");
    }
    px_simd_set_level(99);
}

/* ------------------------------------------------------------------------ */

/* decode `in` split into pieces at `split` (0 = one-shot), collecting data */
static int chunk_run(const char *in, size_t n, size_t split, char *out, size_t *outn, size_t *used)
{
    px_chunked c;
    px_chunked_init(&c);
    size_t off = 0, o = 0;
    size_t bounds[2] = {split ? split : n, n};
    for (int part = 0; part < 2 && !px_chunked_done(&c); part++) {
        while (off < bounds[part] && !px_chunked_done(&c)) {
            px_slice d;
            ptrdiff_t k = px_chunked_decode(&c, in + off, bounds[part] - off, &d);
            if (k < 0) return (int)k;
            if (d.n) { memcpy(out + o, d.p, d.n); o += d.n; }
            off += (size_t)k;
        }
    }
    *outn = o;
    *used = off;
    CHECK_INT(c.total, o);
    return px_chunked_done(&c);
}

static void test_chunked(void)
{
    const char *body =
        "4\r\nWiki\r\n5;name=value;x=\"q\"\r\npedia\r\nE  \r\n in\r\n\r\nchunks.\r\n"
        "000A\r\n0123456789\r\n0\r\nTrailer: x\r\nOther: y z\r\n\r\nGET / HTTP/1.1\r\n";
    const char *expect = "Wikipedia in\r\n\r\nchunks.0123456789";
    size_t n = strlen(body), blen = (size_t)(strstr(body, "GET") - body);
    char out[256];
    size_t on, used;
    for (size_t split = 0; split < n; split++) {
        int rc = chunk_run(body, n, split, out, &on, &used);
        g_checks++;
        if (rc != 1 || used != blen || on != strlen(expect) || memcmp(out, expect, on)) {
            g_fail++;
            printf("FAIL line %d: chunked split %zu rc %d used %zu\n", __LINE__, split, rc, used);
        }
    }
    /* byte at a time */
    {
        px_chunked c;
        px_chunked_init(&c);
        size_t o = 0, i = 0;
        while (i < n && !px_chunked_done(&c)) {
            px_slice d;
            ptrdiff_t k = px_chunked_decode(&c, body + i, 1, &d);
            CHECK(k == 1);
            if (k != 1) break;
            if (d.n) out[o++] = d.p[0];
            i++;
        }
        CHECK_INT(i, blen);
        CHECK_MEM(out, o, expect);
        px_slice d;
        CHECK_INT(px_chunked_decode(&c, body + i, n - i, &d), 0);   /* done: consumes nothing */
    }
    /* one data slice per call, zero-copy */
    {
        px_chunked c;
        px_chunked_init(&c);
        px_slice d;
        const char *b = "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
        ptrdiff_t k = px_chunked_decode(&c, b, strlen(b), &d);
        CHECK_INT(k, 6);
        CHECK(d.p == b + 3 && d.n == 3);
        k = px_chunked_decode(&c, b + 6, strlen(b) - 6, &d);
        CHECK_INT(k, 7);
        CHECK(d.p == b + 11 && d.n == 2);
        k = px_chunked_decode(&c, b + 13, strlen(b) - 13, &d);
        CHECK_INT(k, 7);
        CHECK(d.n == 0 && px_chunked_done(&c));
    }
    /* incomplete: not done, no error */
    {
        size_t used2;
        CHECK_INT(chunk_run("5\r\nab", 6, 0, out, &on, &used2), 0);
        CHECK_INT(used2, 6);
        CHECK_INT(chunk_run("0\r\n", 3, 0, out, &on, &used2), 0);
        CHECK_INT(chunk_run("0\r\nX: y\r\n", 9, 0, out, &on, &used2), 0);
    }
    /* max chunk size */
    {
        px_chunked c;
        px_chunked_init(&c);
        px_slice d;
        const char *b = "7fffffffffffffff\r\nxy";
        CHECK_INT(px_chunked_decode(&c, b, strlen(b), &d), (ptrdiff_t)strlen(b));
        CHECK(d.n == 2 && c.remaining == INT64_MAX - 2);
    }
    static const char *bad[] = {
        "\r\n", "x\r\n", "-1\r\n", " 1\r\nx\r\n0\r\n\r\n", "1\nx\r\n0\r\n\r\n", "1\r\nxx\r\n",
        "1\r\nx\n0\r\n\r\n", "1\r\nx\r0\r\n\r\n", "8000000000000000\r\n", "10000000000000000\r\n",
        "ffffffffffffffffff\r\n", "1 x\r\n", "1;a\x01\r\n", "1\r\r\n", "0\r\nX: a\nb\r\n\r\n",
        "0\r\n: x\r\n\r\n", "0\r\n x\r\n\r\n", "0\r\nX: \x7f\r\n\r\n", "0\r\n\r\r", "0\r\n\n",
        "0x1\r\n", "1;\r\n\r\nx", "+1\r\nx\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t l = strlen(bad[i]);
        for (size_t split = 0; split < l; split++) {
            int rc = chunk_run(bad[i], l, split, out, &on, &used);
            g_checks++;
            if (rc != -400) {
                g_fail++;
                printf("FAIL line %d: bad chunked #%zu split %zu -> %d\n", __LINE__, i, split, rc);
                break;
            }
        }
    }
    /* size line length limit */
    {
        static char b[PX_CHUNK_LINE_MAX + 64];
        memset(b, '0', sizeof b);
        b[sizeof b - 1] = 0;
        CHECK_INT(chunk_run(b, strlen(b), 0, out, &on, &used), -400);
    }
}

/* ------------------------------------------------------------------------ */

static void check_range(int line, const char *v, uint64_t len, int rc, const char *expect)
{
    px_range rs[PX_RANGE_MAX];
    size_t cnt = 99;
    int got = px_range_parse(v, strlen(v), len, rs, PX_RANGE_MAX, &cnt);
    char buf[1024];
    size_t o = 0;
    for (size_t i = 0; got == 206 && i < cnt; i++)
        o += (size_t)snprintf(buf + o, sizeof buf - o, "%s%" PRIu64 "-%" PRIu64, i ? "," : "",
                              rs[i].first, rs[i].last);
    buf[o] = 0;
    g_checks++;
    if (got != rc || (rc == 206 && strcmp(buf, expect)) || (rc != 206 && cnt != 0)) {
        g_fail++;
        printf("FAIL line %d: range '%s' len %" PRIu64 " -> %d '%s', expected %d '%s'\n", line, v, len,
               got, buf, rc, expect ? expect : "");
    }
}
#define RANGE(v, len, rc, ex) check_range(__LINE__, v, len, rc, ex)

static void test_range(void)
{
    RANGE("bytes=0-499", 10000, 206, "0-499");
    RANGE("bytes=500-999", 10000, 206, "500-999");
    RANGE("bytes=-500", 10000, 206, "9500-9999");
    RANGE("bytes=9500-", 10000, 206, "9500-9999");
    RANGE("bytes=0-0,-1", 10000, 206, "0-0,9999-9999");
    RANGE("bytes=0-0, -1", 10000, 206, "0-0,9999-9999");
    RANGE("bytes=500-600,601-999", 10000, 206, "500-999");           /* adjacent coalesced */
    RANGE("bytes=500-700,601-999", 10000, 206, "500-999");           /* overlap coalesced */
    RANGE("bytes=9000-9100,0-10,20-30", 10000, 206, "9000-9100,0-10,20-30");  /* request order */
    RANGE("bytes=9000-9100,0-10,5-30", 10000, 206, "0-30,9000-9100");  /* overlap: sorted, coalesced */
    RANGE("bytes=0-10,5-6", 10000, 206, "0-10");
    RANGE("BYTES=0-1", 10, 206, "0-1");
    RANGE("bytes=0-", 10, 206, "0-9");
    RANGE("bytes=0-0", 1, 206, "0-0");
    RANGE("bytes=5-100", 10, 206, "5-9");                            /* clipped to EOF */
    RANGE("bytes=-100", 10, 206, "0-9");                             /* suffix > len = whole */
    RANGE("bytes=-10", 10, 206, "0-9");
    RANGE("bytes=0-18446744073709551615", 10, 206, "0-9");
    RANGE("bytes=0-99999999999999999999999999", 10, 206, "0-9");    /* saturates */
    RANGE("bytes=-99999999999999999999999999", 10, 206, "0-9");
    RANGE("bytes=9223372036854775806-", 9223372036854775807ull, 206,
          "9223372036854775806-9223372036854775806");
    RANGE("bytes=1-2,,, 4-5 ,", 10, 206, "1-2,4-5");
    RANGE("bytes=\t1-2\t,\t4-5", 10, 206, "1-2,4-5");
    RANGE("bytes=20-30,1-2", 10, 206, "1-2");                        /* unsatisfiable one dropped */
    RANGE("bytes=-0,1-2", 10, 206, "1-2");
    /* 416 */
    RANGE("bytes=10-", 10, 416, NULL);
    RANGE("bytes=10-20", 10, 416, NULL);
    RANGE("bytes=-0", 10, 416, NULL);
    RANGE("bytes=0-0", 0, 416, NULL);
    RANGE("bytes=-5", 0, 416, NULL);
    RANGE("bytes=10-20,30-", 10, 416, NULL);
    RANGE("bytes=99999999999999999999-", 10, 416, NULL);
    RANGE("bytes=18446744073709551615-18446744073709551615", 18446744073709551615ull, 416, NULL);
    /* ignored (200) */
    RANGE("", 10, 200, NULL);
    RANGE("bytes", 10, 200, NULL);
    RANGE("bytes=", 10, 200, NULL);
    RANGE("bytes= ", 10, 200, NULL);
    RANGE("bytes=,", 10, 200, NULL);
    RANGE("items=0-1", 10, 200, NULL);
    RANGE("bytes 0-1", 10, 200, NULL);
    RANGE("bytes =0-1", 10, 200, NULL);
    RANGE("bytes= 0-1", 10, 206, "0-1");                             /* OWS inside the list is fine */
    RANGE("bytes=5-1", 10, 200, NULL);                               /* last < first invalid */
    RANGE("bytes=0-1,5-1", 10, 200, NULL);
    RANGE("bytes=a-1", 10, 200, NULL);
    RANGE("bytes=1-a", 10, 200, NULL);
    RANGE("bytes=-", 10, 200, NULL);
    RANGE("bytes=--1", 10, 200, NULL);
    RANGE("bytes=1", 10, 200, NULL);
    RANGE("bytes=1-2-3", 10, 200, NULL);
    RANGE("bytes=1 -2", 10, 200, NULL);
    RANGE("bytes=1- 2", 10, 200, NULL);
    RANGE("bytes=0x1-2", 10, 200, NULL);
    RANGE("bytes=+1-2", 10, 200, NULL);
    RANGE("bytes=1-2;3-4", 10, 200, NULL);
    /* too many specs: 16 ok, 17 -> ignored */
    {
        char b[512];
        int o = snprintf(b, sizeof b, "bytes=");
        for (int i = 0; i < 16; i++) o += snprintf(b + o, sizeof b - (size_t)o, "%s%d-%d", i ? "," : "", i * 10, i * 10 + 1);
        px_range rs[PX_RANGE_MAX];
        size_t cnt;
        CHECK_INT(px_range_parse(b, strlen(b), 1000, rs, PX_RANGE_MAX, &cnt), 206);
        CHECK_INT(cnt, 16);
        snprintf(b + o, sizeof b - (size_t)o, ",500-501");
        CHECK_INT(px_range_parse(b, strlen(b), 1000, rs, PX_RANGE_MAX, &cnt), 200);
        CHECK_INT(cnt, 0);
        CHECK_INT(px_range_parse("bytes=0-1,3-4", 13, 1000, rs, 1, &cnt), 200);
    }
    /* If-Range */
    {
        const char *et = "\"v1\"";
        int64_t lm = 784111777;   /* Sun, 06 Nov 1994 08:49:37 GMT */
        CHECK_INT(px_if_range_match("\"v1\"", 4, et, 4, lm), 1);
        CHECK_INT(px_if_range_match("\"v2\"", 4, et, 4, lm), 0);
        CHECK_INT(px_if_range_match("\"v1", 3, et, 4, lm), 0);
        CHECK_INT(px_if_range_match("W/\"v1\"", 6, et, 4, lm), 0);
        CHECK_INT(px_if_range_match("W/\"v1\"", 6, "W/\"v1\"", 6, lm), 0);
        CHECK_INT(px_if_range_match("\"v1\"", 4, NULL, 0, lm), 0);
        CHECK_INT(px_if_range_match("Sun, 06 Nov 1994 08:49:37 GMT", 29, et, 4, lm), 1);
        CHECK_INT(px_if_range_match("Sun, 06 Nov 1994 08:49:38 GMT", 29, et, 4, lm), 0);
        CHECK_INT(px_if_range_match("Sunday, 06-Nov-94 08:49:37 GMT", 30, et, 4, lm), 1);
        CHECK_INT(px_if_range_match("Sun, 06 Nov 1994 08:49:37 GMT", 29, et, 4, -1), 0);
        CHECK_INT(px_if_range_match("garbage", 7, et, 4, lm), 0);
        CHECK_INT(px_if_range_match("", 0, et, 4, lm), 0);
    }
}

/* ------------------------------------------------------------------------ */

static void check_norm(int line, const char *in, const char *expect)
{
    char out[256];
    ptrdiff_t k = px_path_normalize(out, sizeof out, in, strlen(in));
    g_checks++;
    if (expect == NULL ? k >= 0 : (k < 0 || (size_t)k != strlen(expect) || memcmp(out, expect, (size_t)k))) {
        g_fail++;
        printf("FAIL line %d: normalize '%s' -> %td '%.*s', expected '%s'\n", line, in, k,
               k > 0 ? (int)k : 0, out, expect ? expect : "(error)");
    }
}
#define NORM(in, ex) check_norm(__LINE__, in, ex)

static void test_util(void)
{
    {   /* px_mem_eq == (memcmp == 0): every length to 40, a difference at every position */
        char a[48], b[48];
        int bad = 0;
        for (size_t n = 0; n <= 40; n++) {
            for (size_t i = 0; i < n; i++) a[i] = b[i] = (char)('a' + i % 26);
            if (!px_mem_eq(a, b, n)) bad++;
            for (size_t k = 0; k < n; k++) {
                b[k] ^= 0x20;
                if (px_mem_eq(a, b, n)) bad++;
                b[k] ^= 0x20;
            }
        }
        CHECK_INT(bad, 0);
    }
    /* path normalization */
    NORM("/", "/");
    NORM("/a/b", "/a/b");
    NORM("/a/b/", "/a/b/");
    NORM("//a///b//", "/a/b/");
    NORM("//etc/passwd", "/etc/passwd");
    NORM("/a/./b/.", "/a/b/");
    NORM("/./", "/");
    NORM("/.", "/");
    NORM("/a/..", "/");
    NORM("/a/../b", "/b");
    NORM("/a/b/../../c", "/c");
    NORM("/a/b/../c/./d/", "/a/c/d/");
    NORM("/a/%2e%2e/b", "/b");
    NORM("/a/.%2E/b", "/b");
    NORM("/a/%2e/b", "/a/b");
    NORM("/%41%62c", "/Abc");
    NORM("/a%20b", "/a b");
    NORM("/a+b", "/a+b");
    NORM("/...", "/...");
    NORM("/..a/a..", "/..a/a..");
    NORM("/a/%2Fb", "/a/b");
    NORM("/caf%C3%A9", "/caf\xc3\xa9");
    NORM("/..", NULL);
    NORM("/../", NULL);
    NORM("/../etc/passwd", NULL);
    NORM("/%2e%2e/", NULL);
    NORM("/%2E%2E/etc", NULL);
    NORM("/a/%2E%2E/%2e%2e/", NULL);
    NORM("/a/../../b", NULL);
    NORM("/a/b/../../..", NULL);
    NORM("/a%2F..%2F..%2Fetc", NULL);
    NORM("/a%00", NULL);
    NORM("/a%00b", NULL);
    NORM("/a%", NULL);
    NORM("/a%2", NULL);
    NORM("/a%zz", NULL);
    NORM("/a%g0", NULL);
    NORM("a/b", NULL);
    NORM("", NULL);
    NORM("%2fa", "/a");
    {
        char small[4];
        CHECK_INT(px_path_normalize(small, sizeof small, "/abcdef", 7), -2);
        char d[16];
        CHECK_INT(px_percent_decode(d, sizeof d, "a+b%2B%7e", 9, 1), 5);
        CHECK_MEM(d, 5, "a b+~");
        CHECK_INT(px_percent_decode(d, sizeof d, "a+b", 3, 0), 3);
        CHECK_MEM(d, 3, "a+b");
        CHECK_INT(px_percent_decode(d, 3, "%41%42%43", 9, 0), 3);   /* cap < n but enough */
        CHECK_INT(px_percent_decode(d, 2, "%41%42%43", 9, 0), -2);
        CHECK_INT(px_percent_decode(d, sizeof d, "%00", 3, 0), -1);
    }

    /* mime */
    {
        static const struct { const char *p, *t; } m[] = {
            {"/index.html", "text/html; charset=utf-8"}, {"/a.HTM", "text/html; charset=utf-8"},
            {"a.css", "text/css; charset=utf-8"}, {"x.js", "text/javascript; charset=utf-8"},
            {"x.mjs", "text/javascript; charset=utf-8"}, {"d.json", "application/json"},
            {"r.txt", "text/plain; charset=utf-8"}, {"f.xml", "text/xml; charset=utf-8"},
            {"i.svg", "image/svg+xml"}, {"i.png", "image/png"}, {"i.jpg", "image/jpeg"},
            {"i.JPEG", "image/jpeg"}, {"i.gif", "image/gif"}, {"i.webp", "image/webp"},
            {"favicon.ico", "image/x-icon"}, {"m.wasm", "application/wasm"},
            {"d.pdf", "application/pdf"}, {"a.zip", "application/zip"},
            {"a.tar.gz", "application/gzip"}, {"a.bz2", "application/x-bzip2"},
            {"v.mp4", "video/mp4"}, {"f.woff", "font/woff"}, {"f.woff2", "font/woff2"},
            {"noext", "application/octet-stream"}, {"/dir.html/file", "application/octet-stream"},
            {".html", "application/octet-stream"}, {"x.", "application/octet-stream"},
            {"x.unknown", "application/octet-stream"}, {"x.h", "text/x-c; charset=utf-8"},
            {"a.mp3", "audio/mpeg"}, {"a.webm", "video/webm"}, {"a.AVIF", "image/avif"},
            {"a.csv", "text/csv; charset=utf-8"}, {"a.ttf", "font/ttf"}, {"app.js.map", "application/json"},
            {"a.wasm", "application/wasm"}, {"a.c", "text/x-c; charset=utf-8"}, {"a.z", "application/octet-stream"},
            {"site.webmanifest", "application/manifest+json"}, {"a.verylongextension", "application/octet-stream"},
            {"", "application/octet-stream"}, {"/a/.hidden.css", "text/css; charset=utf-8"},
        };
        for (size_t i = 0; i < sizeof m / sizeof m[0]; i++) {
            size_t l = 0;
            const char *t = px_mime_type(m[i].p, strlen(m[i].p), &l);
            g_checks++;
            if (strcmp(t, m[i].t) || l != strlen(t)) {
                g_fail++;
                printf("FAIL line %d: mime '%s' -> '%s'\n", __LINE__, m[i].p, t);
            }
        }
        CHECK(px_mime_type("a.css", 5, NULL) != NULL);
    }

    /* dates */
    {
        char d[PX_HTTP_DATE_LEN + 1] = {0};
        int64_t t;
        CHECK_INT(px_http_date_format(d, 784111777), 29);
        CHECK_MEM(d, 29, "Sun, 06 Nov 1994 08:49:37 GMT");
        CHECK_INT(px_http_date_format(d, 0), 29);
        CHECK_MEM(d, 29, "Thu, 01 Jan 1970 00:00:00 GMT");
        CHECK_INT(px_http_date_format(d, 951782400), 29);
        CHECK_MEM(d, 29, "Tue, 29 Feb 2000 00:00:00 GMT");
        CHECK_INT(px_http_date_format(d, -1), 29);
        CHECK_MEM(d, 29, "Wed, 31 Dec 1969 23:59:59 GMT");
        CHECK_INT(px_http_date_format(d, 253402300799LL), 29);
        CHECK_MEM(d, 29, "Fri, 31 Dec 9999 23:59:59 GMT");
        CHECK_INT(px_http_date_format(d, 253402300800LL), -1);
        CHECK_INT(px_http_date_format(d, -62167219201LL), -1);
        CHECK_INT(px_http_date_parse("Sun, 06 Nov 1994 08:49:37 GMT", 29, &t), 0);
        CHECK_INT(t, 784111777);
        CHECK_INT(px_http_date_parse("Sunday, 06-Nov-94 08:49:37 GMT", 30, &t), 0);
        CHECK_INT(t, 784111777);
        CHECK_INT(px_http_date_parse("Wednesday, 09-Nov-05 08:49:37 GMT", 33, &t), 0);
        CHECK_INT(t, 1131526177);
        CHECK_INT(px_http_date_parse("Sun Nov  6 08:49:37 1994", 24, &t), 0);
        CHECK_INT(t, 784111777);
        CHECK_INT(px_http_date_parse("Sun Nov 16 08:49:37 1994", 24, &t), 0);
        CHECK_INT(t, 784111777 + 864000);
        static const char *bad[] = {
            "Sun, 06 Nov 1994 08:49:37 UTC", "Sun, 6 Nov 1994 08:49:37 GMT", "Sun, 06 nov 1994 08:49:37 GMT",
            "Sun, 31 Nov 1994 08:49:37 GMT", "Sun, 29 Feb 1900 08:49:37 GMT", "Sun, 00 Nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 24:00:00 GMT", "Sun, 06 Nov 1994 08:60:00 GMT", "Xyz, 06 Nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 08-49-37 GMT", "Sun,06 Nov 1994 08:49:37 GMT ", "Sunday, 06-Nov-1994 08:49:37 GMT",
            "Sun Nov 6 08:49:37 1994", "Sun Nov  6 08:49:37 94", "Funday, 06-Nov-94 08:49:37 GMT", "",
            "Sun, 06 Nov 1994 08:49:37 GMT\r",
        };
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            g_checks++;
            if (px_http_date_parse(bad[i], strlen(bad[i]), &t) == 0) {
                g_fail++;
                printf("FAIL line %d: date '%s' accepted\n", __LINE__, bad[i]);
            }
        }
        CHECK_INT(px_http_date_parse("Sat, 29 Feb 2000 23:59:60 GMT", 29, &t), 0);
        /* round trip over a wide range */
        for (int i = 0; i < 200000; i++) {
            int64_t x = (int64_t)((((uint64_t)rnd() << 32) | rnd()) % 253402300800ull);
            if (i & 1) x -= 62167219200LL * (i % 3 == 0);
            int64_t y;
            if (px_http_date_format(d, x) != 29 || px_http_date_parse(d, 29, &y) || y != x) {
                g_checks++; g_fail++;
                printf("FAIL line %d: date round trip %" PRId64 " '%s'\n", __LINE__, x, d);
                break;
            }
        }
        g_checks++;
    }

    /* JSON */
    {
        char o[256];
        size_t k;
#define JS(in, inl, ex)                                                        \
    do {                                                                       \
        k = px_json_escape(o, sizeof o, in, inl);                              \
        CHECK_MEM(o, k, ex);                                                   \
    } while (0)
        JS("plain text", 10, "plain text");
        JS("", 0, "");
        JS("a\"b\\c", 5, "a\\\"b\\\\c");
        JS("\n\r\t\b\f", 5, "\\n\\r\\t\\b\\f");
        JS("\x01\x1f\x7f/", 4, "\\u0001\\u001f\x7f/");
        JS("a\0b", 3, "a\\u0000b");
        JS("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf \xef\xbf\xbf", 23,
           "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf \xef\xbf\xbf");
        JS("\xff", 1, "\xef\xbf\xbd");
        JS("a\x80z", 3, "a\xef\xbf\xbdz");
        JS("\xc0\xaf", 2, "\xef\xbf\xbd\xef\xbf\xbd");                 /* overlong '/' */
        JS("\xc1\xbf", 2, "\xef\xbf\xbd\xef\xbf\xbd");
        JS("\xe0\x80\xaf", 3, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");  /* overlong */
        JS("\xed\xa0\x80", 3, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");  /* surrogate */
        JS("\xf4\x90\x80\x80", 4, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");  /* > 10FFFF */
        JS("\xf5\x80", 2, "\xef\xbf\xbd\xef\xbf\xbd");
        JS("\xe2\x82", 2, "\xef\xbf\xbd");                              /* truncated: one U+FFFD */
        JS("\xe2\x82z", 3, "\xef\xbf\xbdz");
        JS("\xf0\x9f\x98", 3, "\xef\xbf\xbd");
        JS("\xf0\x9f\x98\"", 4, "\xef\xbf\xbd\\\"");
        JS("\xc3", 1, "\xef\xbf\xbd");
        JS("\xc3\xc3\xa9", 3, "\xef\xbf\xbd\xc3\xa9");
        /* size query and truncation: complete units only */
        CHECK_INT(px_json_escape(NULL, 0, "a\n\xc3\xa9", 4), 5);
        CHECK_INT(px_json_escape(o, 3, "a\nb", 3), 4);
        CHECK_MEM(o, 3, "a\\n");
        memset(o, '#', 8);
        CHECK_INT(px_json_escape(o, 2, "a\nb", 3), 4);
        CHECK_MEM(o, 2, "a#");
        memset(o, '#', 8);
        CHECK_INT(px_json_escape(o, 2, "a\xc3\xa9", 3), 3);
        CHECK_MEM(o, 2, "a#");
        CHECK_INT(px_json_escape(o, 3, "abcdef", 6), 6);
        CHECK_MEM(o, 3, "abc");
#undef JS
    }

    /* integers */
    {
        char b[PX_INT_MAXLEN];
        size_t k;
        k = px_write_u64(b, 0); CHECK_MEM(b, k, "0");
        k = px_write_u64(b, 7); CHECK_MEM(b, k, "7");
        k = px_write_u64(b, 10); CHECK_MEM(b, k, "10");
        k = px_write_u64(b, 99); CHECK_MEM(b, k, "99");
        k = px_write_u64(b, 100); CHECK_MEM(b, k, "100");
        k = px_write_u64(b, 1234567); CHECK_MEM(b, k, "1234567");
        k = px_write_u64(b, UINT64_MAX); CHECK_MEM(b, k, "18446744073709551615");
        k = px_write_i64(b, -1); CHECK_MEM(b, k, "-1");
        k = px_write_i64(b, 42); CHECK_MEM(b, k, "42");
        k = px_write_i64(b, INT64_MAX); CHECK_MEM(b, k, "9223372036854775807");
        k = px_write_i64(b, INT64_MIN); CHECK_MEM(b, k, "-9223372036854775808");
        for (int i = 0; i < 100000; i++) {
            uint64_t v = ((uint64_t)rnd() << 32 | rnd()) >> (rnd() % 64);
            char ref[32];
            snprintf(ref, sizeof ref, "%" PRIu64, v);
            k = px_write_u64(b, v);
            if (k != strlen(ref) || memcmp(b, ref, k)) {
                g_checks++; g_fail++;
                printf("FAIL line %d: u64 %s\n", __LINE__, ref);
                break;
            }
        }
    }
}

/* ------------------------------------------------------------------------ */

static int replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    static unsigned char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    LLVMFuzzerTestOneInput(buf, n);   /* aborts on a violated property */
    return 0;
}

static int replay(const char *path)
{
    struct stat st;
    if (stat(path, &st)) { printf("FAIL: cannot stat %s\n", path); return -1; }
    if (!S_ISDIR(st.st_mode)) return replay_file(path) ? -1 : 1;
    DIR *d = opendir(path);
    if (!d) return -1;
    int count = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", path, e->d_name);
        if (stat(p, &st) == 0 && S_ISREG(st.st_mode)) {
            if (replay_file(p)) { closedir(d); return -1; }
            count++;
        }
    }
    closedir(d);
    return count;
}


static void test_host_and_authority(void)
{
    CHECK(px_host_valid("example.com", 11));
    CHECK(px_host_valid("example.com:8080", 16));
    CHECK(px_host_valid("127.0.0.1:80", 12));
    CHECK(px_host_valid("[::1]:80", 8));
    CHECK(px_host_valid("", 0));
    CHECK(px_host_valid("a%20b", 5));
    CHECK(!px_host_valid("a b", 3));
    CHECK(!px_host_valid("a/b", 3));
    CHECK(!px_host_valid("a:8x", 4));
    CHECK(!px_host_valid("[::1", 4));
    CHECK(!px_host_valid("a@b", 3));
    CHECK(!px_host_valid("a%2", 3));
    CHECK_INT(parse("GET / HTTP/1.1\r\nHost: a b\r\n\r\n"), -400);
    CHECK(parse("GET / HTTP/1.1\r\nHost: x.org:81\r\n\r\n") > 0);
    CHECK_SL(R.host, "x.org:81");
    /* absolute-form: the target's authority wins over Host (RFC 9112 3.2.2) */
    CHECK(parse("GET http://target.example:8080/p?q HTTP/1.1\r\nHost: other\r\n\r\n") > 0);
    CHECK_SL(R.host, "target.example:8080");
    CHECK_SL(R.path, "/p");
    CHECK_INT(parse("GET http://u@target/p HTTP/1.1\r\nHost: other\r\n\r\n"), -400);
    CHECK_INT(parse("GET http://a b/ HTTP/1.1\r\nHost: x\r\n\r\n"), -400);
}

static void test_scan_state(void)
{
    /* the scan state alone carried between calls (per connection), px_request shared */
    const char *req = "GET /abc HTTP/1.1\r\nHost: x\r\nX-Long: 0123456789\r\n\r\n";
    size_t n = strlen(req);
    px_scan sc;
    memset(&sc, 0, sizeof sc);
    int rc = 0;
    for (size_t k = 1; k <= n; k++) {
        px_request_reset(&R);
        px_scan_restore(&R, &sc);
        memset(R.headers, 0xAB, sizeof R.headers);    /* another connection used it */
        rc = px_parse_request(req, k, &R, NULL);
        if (rc) break;
        px_scan_save(&R, &sc);
    }
    CHECK_INT(rc, (int)n);
    CHECK_SL(R.path, "/abc");
    CHECK_INT(R.num_headers, 2);
}

static void test_path_clean(void)
{
    char b[64];
    ptrdiff_t k;
    k = px_path_clean(b, sizeof b, "a/../b", 6); CHECK_MEM(b, k, "/b");
    k = px_path_clean(b, sizeof b, "", 0); CHECK_MEM(b, k, "/");
    k = px_path_clean(b, sizeof b, "x//y/./z/", 9); CHECK_MEM(b, k, "/x/y/z/");
    k = px_path_clean(b, sizeof b, "a%2e%2e", 7); CHECK_MEM(b, k, "/a%2e%2e");   /* no decoding */
    CHECK_INT(px_path_clean(b, sizeof b, "../secret.txt", 13), -1);
    CHECK_INT(px_path_clean(b, sizeof b, "a/../../x", 9), -1);
    CHECK_INT(px_path_clean(b, sizeof b, "a\0b", 3), -1);
    CHECK(px_path_is_clean("/a/b.txt", 8));
    CHECK(!px_path_is_clean("/a/%62", 6));
    CHECK(!px_path_is_clean("/a//b", 5));
    CHECK(!px_path_is_clean("/a/./b", 6));
    CHECK(!px_path_is_clean("/.x", 3));
    CHECK(!px_path_is_clean("/abcdef/.x", 10));
    CHECK(!px_path_is_clean("/abcdefgh/%41", 13));
    CHECK(!px_path_is_clean("/abcdefghijklm//", 16));
    CHECK(px_path_is_clean("/abcdefghijklm/", 15));
    CHECK(px_path_has_dotfile("/a/.git/config", 14));
    CHECK(px_path_has_dotfile("/.env", 5));
    CHECK(!px_path_has_dotfile("/a/b.c", 6));
}

/* the parser's px__path_clean (SIMD windows) equals px_path_is_clean at every level,
 * for every string over a small alphabet up to 6 bytes and random long ones placed
 * at every offset of a 16-byte window, with the readable bound tight or loose */
static void test_path_clean_levels(void)
{
    int maxl = px_simd_set_level(99);
    static const char abc[] = {'/', '.', '%', 'a', '\0'};
    char buf[160];
    unsigned seed = 12345;
    for (int l = 0; l <= maxl; l++) {
        px_simd_set_level(l);
        for (size_t n = 1; n <= 6; n++) {
            size_t total = 1;
            for (size_t i = 0; i < n; i++) total *= 5;
            for (size_t code = 0; code < total; code++) {
                size_t c = code;
                for (size_t i = 0; i < n; i++) { buf[i] = abc[c % 5]; c /= 5; }
                int want = px_path_is_clean(buf, n);
                CHECK_INT(px__path_clean(buf, n, buf + n, l), want);
                CHECK_INT(px__path_clean(buf, n, buf + sizeof buf, l), want);
            }
        }
        for (int it = 0; it < 20000; it++) {
            size_t off = (size_t)(it % 16), n = 1 + (size_t)((seed = seed * 1103515245u + 12345u) >> 16) % 70;
            char *p = buf + off;
            for (size_t i = 0; i < n; i++) {
                seed = seed * 1103515245u + 12345u;
                unsigned r = (seed >> 16) % 40;
                p[i] = r < 5 ? abc[r] : (char)('b' + r % 20);
            }
            p[0] = (seed >> 20) & 1 ? '/' : p[0];
            int want = px_path_is_clean(p, n);
            CHECK_INT(px__path_clean(p, n, p + n, l), want);
            CHECK_INT(px__path_clean(p, n, p + n + (size_t)(it % 20), l), want);
        }
        /* against a no-access page: lim is the last readable byte + 1, so a window
         * loaded past it faults */
        {
            long pg = sysconf(_SC_PAGESIZE);
            char *m = mmap(NULL, (size_t)pg * 2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            CHECK(m != MAP_FAILED);
            if (m != MAP_FAILED) {
                CHECK(mprotect(m + pg, (size_t)pg, PROT_NONE) == 0);
                for (size_t n = 1; n <= 80; n++) {
                    char *p = m + pg - n;
                    for (size_t i = 0; i < n; i++) p[i] = i == 0 ? '/' : "ab/.%c"[(i * 7 + n) % 6];
                    CHECK_INT(px__path_clean(p, n, p + n, l), px_path_is_clean(p, n));
                }
                munmap(m, (size_t)pg * 2);
            }
        }
        /* the request's flag, for each target form */
        CHECK(parse("GET /a/b.txt?x=/../ HTTP/1.1\r\n\r\n") > 0 && R.path_clean == 1);
        CHECK(parse("GET /a/../b HTTP/1.1\r\n\r\n") > 0 && R.path_clean == 0);
        CHECK(parse("GET /abcdefghijklmno/.p HTTP/1.1\r\n\r\n") > 0 && R.path_clean == 0);
        CHECK(parse("GET /abcdefghijklmn/.p HTTP/1.1\r\n\r\n") > 0 && R.path_clean == 0);
        CHECK(parse("GET /abcdefghijklmnopqrstuvwxyz012345/%41 HTTP/1.1\r\n\r\n") > 0 && R.path_clean == 0);
        CHECK(parse("GET http://h.example HTTP/1.1\r\n\r\n") > 0 && R.path_clean == 1);
        CHECK(parse("GET http://h.example//x HTTP/1.1\r\n\r\n") > 0 && R.path_clean == 0);
        CHECK(parse("OPTIONS * HTTP/1.1\r\n\r\n") > 0 && R.path_clean == 0);
        CHECK(parse("CONNECT h.example:443 HTTP/1.1\r\n\r\n") > 0 && R.path_clean == 0);
    }
    px_simd_set_level(99);
}

static void test_body(void)
{
    px_body b;
    px_slice d;
    char out[64];
    size_t on = 0;
    CHECK_INT(px_body_start(&b, 10, 0, 5, 0), -413);
    CHECK_INT(px_body_start(&b, -1, 0, 5, 0), 0);
    CHECK(px_body_done(&b));
    CHECK_INT(px_body_start(&b, 5, 0, 0, 0), 0);
    CHECK_INT(px_body_feed(&b, "abcdefg", 7, &d), 5);         /* stops at the body's end */
    CHECK(px_body_done(&b));
    CHECK_MEM(d.p, d.n, "abcde");
    /* chunked, one byte at a time: every byte seen once, data slices in order */
    const char *w = "3\r\nabc\r\n2;x=y\r\nde\r\n0\r\nT: v\r\n\r\nNEXT";
    CHECK_INT(px_body_start(&b, -1, 1, 100, 1000), 0);
    size_t i = 0, wn = strlen(w);
    while (i < wn && !px_body_done(&b)) {
        ptrdiff_t k = px_body_feed(&b, w + i, 1, &d);
        CHECK(k == 1);
        if (k != 1) break;
        if (d.n) { memcpy(out + on, d.p, d.n); on += d.n; }
        i += 1;
    }
    CHECK(px_body_done(&b));
    CHECK_MEM(out, on, "abcde");
    CHECK_MEM(w + i, wn - i, "NEXT");
    CHECK_INT(b.decoded, 5);
    CHECK_INT(b.wire, wn - 4);
    /* decoded limit */
    CHECK_INT(px_body_start(&b, -1, 1, 4, 0), 0);
    ptrdiff_t k = 0;
    for (i = 0; i < wn && k >= 0; i += (size_t)k) {
        k = px_body_feed(&b, w + i, wn - i, &d);
        if (k == 0) break;
    }
    CHECK_INT(k, -413);
    /* wire limit: 1-byte chunks of a small body: chunk overhead counts */
    char big[6 * 200 + 8];
    size_t bn = 0;
    for (int c = 0; c < 200; c++) { memcpy(big + bn, "1\r\nx\r\n", 6); bn += 6; }
    memcpy(big + bn, "0\r\n\r\n", 5); bn += 5;
    CHECK_INT(px_body_start(&b, -1, 1, 1000, 600), 0);
    for (i = 0, k = 0; i < bn; i += (size_t)k) {
        k = px_body_feed(&b, big + i, bn - i, &d);
        if (k <= 0) break;
    }
    CHECK_INT(k, -413);
    CHECK(b.wire <= 600);
    CHECK_INT(px_body_start(&b, -1, 1, 1000, 2000), 0);
    for (i = 0, k = 0; i < bn && !px_body_done(&b); i += (size_t)k) {
        k = px_body_feed(&b, big + i, bn - i, &d);
        if (k <= 0) break;
    }
    CHECK(px_body_done(&b));
    CHECK_INT(b.decoded, 200);
    CHECK_INT(px_body_start(&b, -1, 1, 0, 0), 0);
    CHECK_INT(px_body_feed(&b, "zz\r\n", 4, &d), -400);
}

static void *t_alloc(void *ctx, size_t n)
{
    (void)ctx;
    static char arena[1 << 16];
    static size_t used;
    if (n > sizeof arena - used) { used = 0; }   /* reuse: tests copy out at once */
    if (n > sizeof arena) return NULL;
    void *p = arena + used;
    used += n;
    return p;
}

static void *t_fail(void *ctx, size_t n) { (void)ctx; (void)n; return NULL; }

static void test_json(void)
{
    px_json j;
    CHECK_INT(px_json_init(&j, t_alloc, NULL, 8), 0);
    px_json_begin_object(&j);
    px_json_key(&j, "a", 1);
    px_json_float(&j, 0.1);
    px_json_key(&j, "b", 1);
    px_json_begin_array(&j);
    px_json_float(&j, 1e308 * 10);      /* inf */
    px_json_float(&j, 1.0 / 3);
    px_json_float(&j, 100.0);
    px_json_float(&j, -2.5e-8);
    px_json_int(&j, INT64_MIN);
    px_json_bool(&j, 1);
    px_json_null(&j);
    px_json_str(&j, "q\"\n\xff", 4);
    px_json_end_array(&j);
    px_json_end_object(&j);
    CHECK(!j.failed);
    CHECK_MEM(j.buf, j.n, "{\"a\":0.1,\"b\":[null,0.3333333333333333,100,-2.5e-08,"
              "-9223372036854775808,true,null,\"q\\\"\\n\xef\xbf\xbd\"]}");
    char f[32];
    double vals[] = {0.1, 0.2 + 0.1, 5e-324, 1.7976931348623157e308, 123456789.125, -0.0};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        int k = px_json_format_double(f, vals[i]);
        CHECK(k > 0 && strtod(f, NULL) == vals[i]);
    }
    px_json_format_double(f, 0.30000000000000004);
    CHECK(!strcmp(f, "0.30000000000000004"));
    /* out of memory: sticky failure */
    CHECK_INT(px_json_init(&j, t_fail, NULL, 8), -1);
    CHECK_INT(px_json_int(&j, 1), -1);
    CHECK(j.failed);
}

static void test_log_format(void)
{
    char b[64];
    CHECK_INT(px_log_clf_time(b, 784111777), 28);
    CHECK_MEM(b, 28, "[06/Nov/1994:08:49:37 +0000]");
    size_t k = px_log_escape(b, "a\"b\\\n\x80", 6);
    CHECK_MEM(b, k, "a\\x22b\\x5C\\x0A\\x80");
    /* a log file written through the buffers, flushed on close */
    char path[] = "/tmp/pxcy-test-log-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);
    px_log *l = px_log_open(path);
    CHECK(l != NULL);
    if (!l) return;
    for (int i = 0; i < 1000; i++) px_log_write(l, i % 3, "line\n", 5);
    px_log_close(l);
    struct stat st;
    CHECK(stat(path, &st) == 0 && st.st_size == 5000);
    unlink(path);
}

int main(int argc, char **argv)
{
    test_parse_basic();
    test_parse_errors();
    test_parse_limits();
    test_parse_one_pass();
    test_host_valid_levels();
    test_parse_incremental_pipeline();
    test_simd_parity();
    test_request_line_levels();
    test_chunked();
    test_range();
    test_util();
    test_host_and_authority();
    test_scan_state();
    test_path_clean();
    test_path_clean_levels();
    test_body();
    test_json();
    test_log_format();
    for (int i = 1; i < argc; i++) {
        int c = replay(argv[i]);
        if (c < 0) g_fail++;
        else printf("replayed %d fuzz input(s) from %s\n", c, argv[i]);
    }
    printf("%d checks, %d failures\n", g_checks, g_fail);
    return g_fail ? 1 : 0;
}
