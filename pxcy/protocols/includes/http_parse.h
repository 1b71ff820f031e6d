/* http_parse.h -- zero-copy, incremental HTTP/1.1 request-head parser and
 * chunked body decoder (RFC 9112).  Header-only C99, no malloc, no mutable
 * global state except the run-time SIMD level; safe to call from nogil code.
 *
 * API
 *   px_slice                       { const char *p; size_t n; } into caller's buffer
 *   px_limits / PX_LIMITS_DEFAULT  max_request_line (8192), max_header_bytes (16384),
 *                                  max_headers (PX_MAX_HEADERS, default 64), require_host (0)
 *   void px_request_reset(px_request *r)        call once before parsing a new head
 *   int  px_parse_request(buf, len, r, lim)     lim may be NULL (defaults)
 *        > 0  bytes of the complete head, through the blank line (includes any
 *             skipped leading CRLFs); body / next pipelined request starts there
 *          0  incomplete: call again with the same r and a longer buffer holding the
 *             same bytes (only the new bytes are scanned: O(total) for 1-byte reads)
 *        < 0  -(HTTP status) to answer before closing: -400, -414, -431, -501, -505
 *        After a non-zero return r's scan state is reset, so r can be reused at once.
 *   const px_slice *px_header_get(r, name, n)   first value, case-insensitive name, or NULL
 *   void px_chunked_init(px_chunked *c)
 *   ptrdiff_t px_chunked_decode(c, in, n, px_slice *data)   see below
 *   int  px_chunked_done(const px_chunked *c)
 *   int  px_simd_level(void) / px_simd_set_level(int)        0 scalar, 1 SSE2, 2 AVX2
 *
 * Policies (strict RFC 9112):
 *  - Line endings must be CRLF.  A bare LF anywhere in the head is 400 (RFC 9112
 *    sec. 2.2 makes accepting it optional; refusing it closes smuggling gaps).  A bare CR is 400.
 *  - Leading empty lines (CRLF) before the request line are skipped; they count
 *    against max_request_line (more than that -> 400).  Leading SP/HTAB -> 400.
 *  - Request line: token SP request-target SP "HTTP/" DIGIT "." DIGIT, single SP.
 *    Method: any token (method_id PX_METHOD_OTHER for unknown ones; the app decides
 *    405/501); non-token -> 400.  Versions 1.0/1.1 only; other well-formed
 *    versions -> 505; malformed -> 400.  Request line > max_request_line -> 414.
 *  - request-target: bytes 0x21-0x7E only ('#' and non-ASCII -> 400).  Forms:
 *    origin ("/p?q"), absolute ("http://h/p?q": path/query taken from it, path "/"
 *    when empty; host is the target's authority, RFC 9112 3.2.2), "*" (OPTIONS only),
 *    authority-form (CONNECT only; path empty).  query.p == NULL when there is no '?'.
 *  - Header fields: name = token immediately followed by ':' (space before colon,
 *    empty name, obs-fold / line starting with SP or HTAB -> 400).  Value chars:
 *    HTAB, SP, VCHAR, obs-text (0x80-0xFF); other CTLs incl. NUL and DEL -> 400.
 *    OWS trimmed.  Header block (after the request line, through the final CRLF)
 *    > max_header_bytes or more than max_headers fields -> 431.
 *  - Content-Length: 1*DIGIT <= 2^63-1; a list / repeated fields of identical
 *    values is accepted, differing or invalid -> 400.  content_length = -1 if absent.
 *  - Transfer-Encoding: the coding list (all TE fields) must end in "chunked" and
 *    contain it once, else 400; other codings before chunked -> 501.  TE together
 *    with Content-Length -> 400; TE in an HTTP/1.0 request -> 400.
 *  - keep_alive: HTTP/1.1 default on, "Connection: close" off; HTTP/1.0 on only with
 *    "Connection: keep-alive" (close wins).  upgrade set for "Connection: upgrade".
 *  - expect_continue: "Expect: 100-continue" in HTTP/1.1 (ignored in 1.0).
 *  - Host: more than one, or not uri-host [":" port] (px_host_valid) -> 400.  Missing Host in HTTP/1.1 passes (host.p == NULL)
 *    unless lim->require_host, then 400.  host/if_none_match/if_modified_since/
 *    range/if_range are the first occurrence's value (.p == NULL when absent).
 *
 * Chunked decoder: px_chunked_decode consumes from in[0..n) and returns the number
 * of bytes consumed (>= 0) or -400.  It stops right after a data run, so each call
 * yields at most one data slice (*data, zero-copy, inside the consumed bytes;
 * data->n == 0 when none).  Call it in a loop until the input is used up or
 * px_chunked_done(); once done it consumes nothing more, so bytes of a pipelined
 * request are left untouched.  Chunk extensions are skipped (no CTLs allowed);
 * trailer fields are checked for CTLs and discarded.  Chunk size >= 2^63, a size
 * line > PX_CHUNK_LINE_MAX or trailers > PX_CHUNK_TRAILER_MAX bytes -> -400.
 * c->total counts decoded data bytes (enforce a body limit with it).
 */
#ifndef PX_HTTP_PARSE_H
#define PX_HTTP_PARSE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifndef PX_MAX_HEADERS
#define PX_MAX_HEADERS 64
#endif
#ifndef PX_CHUNK_LINE_MAX
#define PX_CHUNK_LINE_MAX 4096
#endif
#ifndef PX_CHUNK_TRAILER_MAX
#define PX_CHUNK_TRAILER_MAX 16384
#endif

#if (defined(__x86_64__) || defined(__i386__)) && defined(__SSE2__) && \
    (defined(__GNUC__) || defined(__clang__)) && !defined(PX_NO_SIMD)
#define PX__X86_SIMD 1
#include <immintrin.h>
#else
#define PX__X86_SIMD 0
#endif

#ifndef PX_SLICE_DEFINED
#define PX_SLICE_DEFINED
typedef struct { const char *p; size_t n; } px_slice;
#endif

typedef struct { px_slice name, value; } px_header;

enum px_method {
    PX_METHOD_OTHER = 0, PX_METHOD_GET, PX_METHOD_HEAD, PX_METHOD_POST, PX_METHOD_PUT,
    PX_METHOD_DELETE, PX_METHOD_OPTIONS, PX_METHOD_PATCH
};

typedef struct {
    size_t max_request_line;   /* bytes, excluding CRLF */
    size_t max_header_bytes;   /* header block incl. the final CRLF */
    size_t max_headers;        /* clamped to PX_MAX_HEADERS */
    int require_host;          /* 1: HTTP/1.1 without Host -> 400 */
} px_limits;

#define PX_LIMITS_DEFAULT {8192, 16384, PX_MAX_HEADERS, 0}

typedef struct {
    px_slice method;
    int method_id;             /* enum px_method */
    int minor_version;         /* 0 or 1 */
    px_slice target;           /* raw request-target */
    px_slice path;             /* raw (still percent-encoded), before '?' */
    px_slice query;            /* after '?', without it; .p == NULL if no '?' */
    size_t num_headers;
    px_header headers[PX_MAX_HEADERS];
    int64_t content_length;    /* -1 if absent (or chunked) */
    unsigned char chunked, keep_alive, expect_continue, upgrade;
    unsigned char path_clean;  /* 1: path needs no decoding or cleaning (px__path_clean) */
    px_slice host, if_none_match, if_modified_since, range, if_range;
    /* private incremental scan state; zeroed by px_request_reset */
    size_t _pos, _line, _start, _rl_end, _nlines;
} px_request;

static inline void px_request_reset(px_request *r)
{
    r->_pos = r->_line = r->_start = r->_rl_end = r->_nlines = 0;
}

/* The incremental scan state alone (40 bytes), to keep per connection while the
 * px_request itself is shared: save after a 0 return, restore before the next call
 * (with the same bytes at the front of the longer buffer). */
typedef struct { size_t pos, line, start, rl_end, nlines; } px_scan;

static inline void px_scan_save(const px_request *r, px_scan *s)
{
    s->pos = r->_pos; s->line = r->_line; s->start = r->_start;
    s->rl_end = r->_rl_end; s->nlines = r->_nlines;
}

static inline void px_scan_restore(px_request *r, const px_scan *s)
{
    r->_pos = s->pos; r->_line = s->line; r->_start = s->start;
    r->_rl_end = s->rl_end; r->_nlines = s->nlines;
}


/* ---- character classes ------------------------------------------------ */

static const unsigned char px__tchar[256] = {
    0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
    0,1,0,1,1,1,1,1,0,0,1,1,0,1,1,0, 1,1,1,1,1,1,1,1,1,1,0,0,0,0,0,0,
    0,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1, 1,1,1,1,1,1,1,1,1,1,1,0,0,0,1,1,
    1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1, 1,1,1,1,1,1,1,1,1,1,1,0,1,0,1,0,
    0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
    0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
    0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
    0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
};

/* 1 = allowed in a field value: HTAB, SP, VCHAR, obs-text */
static const unsigned char px__fvchar[256] = {
    0,0,0,0,0,0,0,0,0,1,0,0,0,0,0,0, 0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
    1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1, 1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,
    1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1, 1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,
    1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1, 1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,0,
    1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1, 1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,
    1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1, 1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,
    1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1, 1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,
    1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1, 1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,
};

static inline int px__hexval(unsigned char c)
{
    if ((unsigned)(c - '0') < 10u) return c - '0';
    c |= 0x20;
    if ((unsigned)(c - 'a') < 6u) return c - 'a' + 10;
    return -1;
}

/* a is a run of token chars, lit is lowercase letters/digits/'-': for token
 * chars (c | 0x20) == lit is an exact case-insensitive match. */
static inline int px__tok_ieq(const char *a, const char *lit, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)(a[i] | 0x20) != (unsigned char)lit[i]) return 0;
    return 1;
}

/* ---- run-time SIMD selection ------------------------------------------- */

static inline int *px__simd_slot(void)
{
    static int level = -1;     /* -1 undetected; written idempotently */
    return &level;
}

static inline int px__simd_detect(void)
{
#if PX__X86_SIMD
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2")) return 2;
    return 1;
#else
    return 0;
#endif
}

static inline int px_simd_level(void)
{
    int l = __atomic_load_n(px__simd_slot(), __ATOMIC_RELAXED);
    if (l < 0) {
        l = px__simd_detect();
        __atomic_store_n(px__simd_slot(), l, __ATOMIC_RELAXED);
    }
    return l;
}

/* Force a level (tests/benchmarks); clamped to what the CPU supports.
 * Returns the level in effect. */
static inline int px_simd_set_level(int level)
{
    int max = px__simd_detect();
    if (level < 0 || level > max) level = max;
    __atomic_store_n(px__simd_slot(), level, __ATOMIC_RELAXED);
    return level;
}

/* ---- scanners: return the first byte in [p,end) outside the class, or end.
 * value class: px__fvchar;  target class: 0x21..0x7E. */

static inline const char *px__scan_value_scalar(const char *p, const char *end)
{
    while (end - p >= 4) {
        if (!px__fvchar[(unsigned char)p[0]]) return p;
        if (!px__fvchar[(unsigned char)p[1]]) return p + 1;
        if (!px__fvchar[(unsigned char)p[2]]) return p + 2;
        if (!px__fvchar[(unsigned char)p[3]]) return p + 3;
        p += 4;
    }
    while (p < end && px__fvchar[(unsigned char)*p]) p++;
    return p;
}

/* target class: 0x21..0x7E except '#' (a fragment is never sent: 400).  *q: the
 * first '?' before the returned byte, when *q was NULL on entry. */
static inline const char *px__scan_target_scalar(const char *p, const char *end, const char **q)
{
    while (p < end && (unsigned char)(*p - 0x21) < 0x5Eu && *p != '#') {
        if (*p == '?' && !*q) *q = p;
        p++;
    }
    return p;
}

#if PX__X86_SIMD
/* bad = (b <= 0x1F && b != 0x09) || b == 0x7F */
static inline const char *px__scan_value_sse2(const char *p, const char *end)
{
    const __m128i c1f = _mm_set1_epi8(0x1F), tab = _mm_set1_epi8(0x09),
                  del = _mm_set1_epi8(0x7F);
    while (end - p >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
        __m128i ctl = _mm_cmpeq_epi8(_mm_min_epu8(v, c1f), v);
        ctl = _mm_andnot_si128(_mm_cmpeq_epi8(v, tab), ctl);
        unsigned m = (unsigned)_mm_movemask_epi8(_mm_or_si128(ctl, _mm_cmpeq_epi8(v, del)));
        if (m) return p + __builtin_ctz(m);
        p += 16;
    }
    return p;
}

/* first '?' among the bits of mq below the first bad byte (bit ctz(m)) */
static inline const char *px__first_q(const char *p, unsigned m, unsigned mq)
{
    if (m) mq &= (1u << __builtin_ctz(m)) - 1u;
    return mq ? p + __builtin_ctz(mq) : NULL;
}

/* bad = (b - 0x21) as unsigned > 0x5D, or b == '#' */
static inline const char *px__scan_target_sse2(const char *p, const char *end, const char **q)
{
    const __m128i off = _mm_set1_epi8(0x21), lim = _mm_set1_epi8(0x5D),
                  hash = _mm_set1_epi8('#'), qm = _mm_set1_epi8('?');
    while (end - p >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
        __m128i x = _mm_sub_epi8(v, off);
        unsigned m = ((unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_min_epu8(x, lim), x)) ^ 0xFFFFu) |
                     (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, hash));
        if (!*q) *q = px__first_q(p, m, (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, qm)));
        if (m) return p + __builtin_ctz(m);
        p += 16;
    }
    return p;
}

__attribute__((target("avx2")))
static inline const char *px__scan_value_avx2(const char *p, const char *end)
{
    const __m256i c1f = _mm256_set1_epi8(0x1F), tab = _mm256_set1_epi8(0x09),
                  del = _mm256_set1_epi8(0x7F);
    while (end - p >= 32) {
        __m256i v = _mm256_loadu_si256((const __m256i *)(const void *)p);
        __m256i ctl = _mm256_cmpeq_epi8(_mm256_min_epu8(v, c1f), v);
        ctl = _mm256_andnot_si256(_mm256_cmpeq_epi8(v, tab), ctl);
        unsigned m = (unsigned)_mm256_movemask_epi8(_mm256_or_si256(ctl, _mm256_cmpeq_epi8(v, del)));
        if (m) return p + __builtin_ctz(m);
        p += 32;
    }
    return px__scan_value_sse2(p, end);
}

__attribute__((target("avx2")))
static inline const char *px__scan_target_avx2(const char *p, const char *end, const char **q)
{
    const __m256i off = _mm256_set1_epi8(0x21), lim = _mm256_set1_epi8(0x5D),
                  hash = _mm256_set1_epi8('#'), qm = _mm256_set1_epi8('?');
    while (end - p >= 32) {
        __m256i v = _mm256_loadu_si256((const __m256i *)(const void *)p);
        __m256i x = _mm256_sub_epi8(v, off);
        unsigned m = ~(unsigned)_mm256_movemask_epi8(_mm256_cmpeq_epi8(_mm256_min_epu8(x, lim), x)) |
                     (unsigned)_mm256_movemask_epi8(_mm256_cmpeq_epi8(v, hash));
        if (!*q) *q = px__first_q(p, m, (unsigned)_mm256_movemask_epi8(_mm256_cmpeq_epi8(v, qm)));
        if (m) return p + __builtin_ctz(m);
        p += 32;
    }
    return px__scan_target_sse2(p, end, q);
}
#endif

static inline const char *px__scan_value(const char *p, const char *end, int lvl)
{
#if PX__X86_SIMD
    if (lvl >= 2) p = px__scan_value_avx2(p, end);
    else if (lvl == 1) p = px__scan_value_sse2(p, end);
#else
    (void)lvl;
#endif
    return px__scan_value_scalar(p, end);
}

/* px__scan_value for a short value: one SSE2 window inline (baseline x86-64, so it
 * inlines where the AVX2 scanner cannot), the general scan past it. */
static inline const char *px__scan_value_short(const char *p, const char *end, int lvl)
{
#if PX__X86_SIMD
    if (lvl >= 1 && end - p >= 16) {
        const __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
        __m128i ctl = _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x1F)), v);
        ctl = _mm_andnot_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8(0x09)), ctl);
        const unsigned m = (unsigned)_mm_movemask_epi8(_mm_or_si128(ctl, _mm_cmpeq_epi8(v, _mm_set1_epi8(0x7F))));
        if (m) return p + __builtin_ctz(m);
        p += 16;
    }
#endif
    return px__scan_value(p, end, lvl);
}

/* The first byte in [p,end) outside the target class, or end (*q: the first '?'
 * before it, or NULL). */
static inline const char *px__scan_target(const char *p, const char *end, int lvl, const char **q)
{
    *q = NULL;
#if PX__X86_SIMD
    if (lvl >= 2) p = px__scan_target_avx2(p, end, q);
    else if (lvl == 1) p = px__scan_target_sse2(p, end, q);
#else
    (void)lvl;
#endif
    return px__scan_target_scalar(p, end, q);
}

/* 1 when the raw path p[0..n) needs no decoding or cleaning: it starts with '/' and has
 * no '%', NUL, "//" or "/." (http_util.h's px_path_is_clean, which it must equal).
 * Bytes up to lim may be read: with SIMD, 16-byte windows stepping by 15, so that each
 * window also sees the byte after its last position ("//" across windows). */
static inline int px__path_clean(const char *p, size_t n, const char *lim, int lvl)
{
    if (n == 0 || p[0] != '/') return 0;
#if PX__X86_SIMD
    if (lvl >= 1) {
        const __m128i pct = _mm_set1_epi8('%'), sl = _mm_set1_epi8('/'), dot = _mm_set1_epi8('.'),
                      zero = _mm_setzero_si128();
        size_t off = 0;
        while (off < n && lim - (p + off) >= 16) {
            __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + off));
            unsigned valid = n - off >= 16 ? 0xFFFFu : (1u << (n - off)) - 1u;
            unsigned ms = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, sl)) & valid;
            unsigned md = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, dot)) & valid;
            unsigned mp = (unsigned)_mm_movemask_epi8(
                _mm_or_si128(_mm_cmpeq_epi8(v, pct), _mm_cmpeq_epi8(v, zero))) & valid;
            /* position 15's successor is the next window's position 0: judged there */
            if (mp | (ms & ((ms | md) >> 1))) return 0;
            off += 15;
        }
        if (off >= n) return 1;
        p += off; n -= off;     /* the tail, scalar (p[0] is a byte already judged) */
        for (size_t i = 0; i < n; i++) {
            unsigned char c = (unsigned char)p[i];
            if (c == '%' || c == 0) return 0;
            if (c == '/' && i + 1 < n && (p[i + 1] == '/' || p[i + 1] == '.')) return 0;
        }
        return 1;
    }
#else
    (void)lim; (void)lvl;
#endif
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '%' || c == 0) return 0;
        if (c == '/' && i + 1 < n && (p[i + 1] == '/' || p[i + 1] == '.')) return 0;
    }
    return 1;
}

/* Host = uri-host [ ":" port ] (RFC 9110 sec. 7.2, RFC 3986 sec. 3.2.2): an
 * IP-literal in brackets, or reg-name / IPv4 chars (unreserved, pct-encoded,
 * sub-delims); port digits.  Empty is valid (a target without authority). */
/* reg-name / IPv4 characters: unreserved and sub-delims ('%' handled apart) */
static const unsigned char px__hostchar[256] = {
    0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
    0,1,0,0,1,0,1,1,1,1,1,1,1,1,1,0, 1,1,1,1,1,1,1,1,1,1,0,1,0,1,0,0,
    0,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1, 1,1,1,1,1,1,1,1,1,1,1,0,0,0,0,1,
    0,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1, 1,1,1,1,1,1,1,1,1,1,1,0,0,0,1,0,
    0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
    0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
    0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
    0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
};

static inline int px_host_valid(const char *p, size_t n)
{
    size_t i = 0;
    if (n && p[0] == '[') {
        for (i = 1; i < n && p[i] != ']'; i++) {
            unsigned char c = (unsigned char)p[i];
            if (!(((unsigned)((c | 0x20) - 'a') < 26u) || (unsigned)(c - '0') < 10u || c == ':' ||
                  c == '.'))
                return 0;
        }
        if (i >= n || i == 1) return 0;
        i++;
    } else {
        for (; i < n; i++) {
            unsigned char c = (unsigned char)p[i];
            if (px__hostchar[c]) continue;
            if (c == ':') break;
            if (c != '%' || n - i < 3 || px__hexval((unsigned char)p[i + 1]) < 0 ||
                px__hexval((unsigned char)p[i + 2]) < 0)
                return 0;
            i += 2;
        }
    }
    if (i == n) return 1;
    if (p[i] != ':') return 0;
    for (i++; i < n; i++)
        if ((unsigned)(p[i] - '0') >= 10u) return 0;
    return 1;
}

/* px_host_valid with bytes up to lim readable: a host of up to 16 bytes is judged with
 * one 16-byte window that classifies the reg-name / IPv4 characters and the port
 * digits at once; a longer one, an IP-literal, a '%' or anything unusual goes to
 * px_host_valid, which it must equal (tests/c/test_http.c). */
static inline int px__host_valid_lim(const char *p, size_t n, const char *lim, int lvl)
{
#if PX__X86_SIMD
    if (lvl >= 1 && lim - p >= 16 && n <= 16) {
        const __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
#define PX__IN(x, a, w) _mm_cmpeq_epi8(_mm_min_epu8(_mm_sub_epi8((x), _mm_set1_epi8((char)(a))), \
                                                    _mm_set1_epi8((char)(w))),                 \
                                       _mm_sub_epi8((x), _mm_set1_epi8((char)(a))))
#define PX__EQ(x, c) _mm_cmpeq_epi8((x), _mm_set1_epi8((char)(c)))
        const __m128i dig = PX__IN(v, '0', 9);
        __m128i hc = _mm_or_si128(PX__IN(_mm_or_si128(v, _mm_set1_epi8(0x20)), 'a', 25), dig);
        hc = _mm_or_si128(hc, PX__IN(v, '&', 8));                      /* &'()*+,-. */
        hc = _mm_or_si128(hc, _mm_or_si128(PX__EQ(v, '!'), PX__EQ(v, '$')));
        hc = _mm_or_si128(hc, _mm_or_si128(PX__EQ(v, ';'), PX__EQ(v, '=')));
        hc = _mm_or_si128(hc, _mm_or_si128(PX__EQ(v, '_'), PX__EQ(v, '~')));
#undef PX__IN
#undef PX__EQ
        const unsigned valid = n == 16 ? 0xFFFFu : (1u << n) - 1u;
        const unsigned bad = ~(unsigned)_mm_movemask_epi8(hc) & valid;
        if (!bad) return 1;                                /* reg-name or IPv4, no port */
        const unsigned i = (unsigned)__builtin_ctz(bad);
        if (p[i] != ':') return px_host_valid(p, n);      /* '[', '%' or invalid */
        const unsigned port = valid & ~((2u << i) - 1u);  /* after the ':': digits only */
        return ((unsigned)_mm_movemask_epi8(dig) & port) == port;
    }
#else
    (void)lim; (void)lvl;
#endif
    return px_host_valid(p, n);
}

/* ---- full parse of a complete head ------------------------------------- */

/* Content-Length value: 1#(1*DIGIT) all equal.  Returns value or -1. */
static inline int64_t px__parse_cl(const char *p, const char *e)
{
    int64_t v = -1;
    for (;;) {
        while (p < e && (*p == ' ' || *p == '\t')) p++;
        if (p == e || (unsigned)(*p - '0') >= 10u) return -1;
        int64_t x = 0;
        while (p < e && (unsigned)(*p - '0') < 10u) {
            int d = *p++ - '0';
            if (x > (INT64_MAX - d) / 10) return -1;
            x = x * 10 + d;
        }
        if (v >= 0 && x != v) return -1;
        v = x;
        while (p < e && (*p == ' ' || *p == '\t')) p++;
        if (p == e) return v;
        if (*p++ != ',') return -1;
    }
}

/* Walk a comma list; calls are inlined by the compiler.  Returns elements via
 * (b, n) one at a time: *pp is advanced.  Returns 0 at end, 1 with an element. */
static inline int px__list_next(const char **pp, const char *e, const char **b, size_t *n)
{
    const char *p = *pp;
    for (;;) {
        while (p < e && (*p == ' ' || *p == '\t' || *p == ',')) p++;
        if (p == e) { *pp = p; return 0; }
        const char *s = p;
        while (p < e && *p != ',') p++;
        const char *t = p;
        while (t > s && (t[-1] == ' ' || t[-1] == '\t')) t--;
        *b = s; *n = (size_t)(t - s); *pp = p;
        return 1;
    }
}

static inline int px__ci_eq(const char *a, size_t n, const char *lit, size_t ln)
{
    if (n != ln) return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)a[i];
        if ((unsigned)(c - 'A') < 26u) c |= 0x20;
        if (c != (unsigned char)lit[i]) return 0;
    }
    return 1;
}

static const char px__slash[] = "/";

static inline int px__method_id(const char *m0, size_t mlen)
{
    switch (mlen) {
    case 3:
        if (!memcmp(m0, "GET", 3)) return PX_METHOD_GET;
        if (!memcmp(m0, "PUT", 3)) return PX_METHOD_PUT;
        break;
    case 4:
        if (!memcmp(m0, "HEAD", 4)) return PX_METHOD_HEAD;
        if (!memcmp(m0, "POST", 4)) return PX_METHOD_POST;
        break;
    case 5: if (!memcmp(m0, "PATCH", 5)) return PX_METHOD_PATCH; break;
    case 6: if (!memcmp(m0, "DELETE", 6)) return PX_METHOD_DELETE; break;
    case 7: if (!memcmp(m0, "OPTIONS", 7)) return PX_METHOD_OPTIONS; break;
    default: break;
    }
    return PX_METHOD_OTHER;
}

/* path and query of the target's [pathp, te); qmark: the target scan's first '?'.
 * clean: px__path_clean's verdict when the caller has it, else -1 (then it is judged
 * here, reading up to lim). */
static inline void px__set_path(px_request *r, const char *qmark, const char *pathp,
                                const char *te, const char *lim, int lvl, int clean)
{
    const char *q = qmark && qmark >= pathp ? qmark : NULL;   /* (a '?' in the scheme: none) */
    if (!q && qmark) q = (const char *)memchr(pathp, '?', (size_t)(te - pathp));
    const char *pe = q ? q : te;
    if (pe == pathp) { r->path.p = px__slash; r->path.n = 1; }
    else { r->path.p = pathp; r->path.n = (size_t)(pe - pathp); }
    if (q) { r->query.p = q + 1; r->query.n = (size_t)(te - q - 1); }
    r->path_clean = (unsigned char)(clean >= 0 ? clean : px__path_clean(r->path.p, r->path.n,
                                                  pe == pathp ? px__slash + 1 : lim, lvl));
}

/* What the header fields said, while they are read (both parse paths). The
 * slices (host, if_none_match, ...) go straight into the px_request. */
typedef struct {
    int64_t cl;
    int te_seen, te_chunked, te_last_chunked, te_other;
    int conn_close, conn_ka, upgrade, expect;
} px__fields;

static inline void px__fields_init(px__fields *f, px_request *r)
{
    f->cl = -1;
    f->te_seen = f->te_chunked = f->te_last_chunked = f->te_other = 0;
    f->conn_close = f->conn_ka = f->upgrade = f->expect = 0;
    r->host.p = r->if_none_match.p = r->if_modified_since.p = r->range.p = r->if_range.p = NULL;
    r->host.n = r->if_none_match.n = r->if_modified_since.n = r->range.n = r->if_range.n = 0;
}

/* One header field, name [n0, +nlen), trimmed value [v0, v1): 0 or -(status). */
static inline int px__field(px_request *r, px__fields *f, const char *n0, size_t nlen,
                            const char *v0, const char *v1)
{
    px_slice v = {v0, (size_t)(v1 - v0)};
    switch (nlen) {
    case 4:
        if (px__tok_ieq(n0, "host", 4)) {
            if (r->host.p) return -400;
            r->host = v;
        }
        break;
    case 5:
        if (px__tok_ieq(n0, "range", 5) && !r->range.p) r->range = v;
        break;
    case 6:
        if (px__tok_ieq(n0, "expect", 6) && px__ci_eq(v0, v.n, "100-continue", 12))
            f->expect = 1;
        break;
    case 8:
        if (px__tok_ieq(n0, "if-range", 8) && !r->if_range.p) r->if_range = v;
        break;
    case 10:
        if (px__tok_ieq(n0, "connection", 10)) {
            const char *lp = v0, *b; size_t bn;
            while (px__list_next(&lp, v1, &b, &bn)) {
                if (px__ci_eq(b, bn, "close", 5)) f->conn_close = 1;
                else if (px__ci_eq(b, bn, "keep-alive", 10)) f->conn_ka = 1;
                else if (px__ci_eq(b, bn, "upgrade", 7)) f->upgrade = 1;
            }
        }
        break;
    case 13:
        if (px__tok_ieq(n0, "if-none-match", 13) && !r->if_none_match.p) r->if_none_match = v;
        break;
    case 14:
        if (px__tok_ieq(n0, "content-length", 14)) {
            int64_t x = px__parse_cl(v0, v1);
            if (x < 0 || (f->cl >= 0 && x != f->cl)) return -400;
            f->cl = x;
        }
        break;
    case 17:
        if (px__tok_ieq(n0, "transfer-encoding", 17)) {
            const char *lp = v0, *b; size_t bn;
            f->te_seen = 1;
            int any = 0;
            while (px__list_next(&lp, v1, &b, &bn)) {
                any = 1;
                if (px__ci_eq(b, bn, "chunked", 7)) {
                    if (f->te_chunked) return -400;   /* chunked applied twice */
                    f->te_chunked = f->te_last_chunked = 1;
                } else {
                    size_t k = 0;
                    while (k < bn && px__tchar[(unsigned char)b[k]]) k++;
                    if (k == 0) return -400;
                    f->te_last_chunked = 0;
                    f->te_other = 1;
                }
            }
            if (!any) return -400;
        } else if (px__tok_ieq(n0, "if-modified-since", 17) && !r->if_modified_since.p) {
            r->if_modified_since = v;
        }
        break;
    default:
        break;
    }
    return 0;
}

/* After the last field: framing, Host, connection flags. [auth0, auth1): an
 * absolute-form target's authority (auth0 NULL: none); bytes below `readable` may be
 * read. 0 or -(status). */
static inline int px__fields_done(px_request *r, const px__fields *f, int minor,
                                  const px_limits *lim, const char *auth0, const char *auth1,
                                  const char *readable, int lvl)
{
    r->chunked = 0;
    if (f->te_seen) {
        if (f->cl >= 0 || minor == 0 || !f->te_last_chunked) return -400;
        if (f->te_other) return -501;
        r->chunked = 1;
    }
    if (minor == 1 && !r->host.p && lim->require_host) return -400;
    if (r->host.p && !px__host_valid_lim(r->host.p, r->host.n, readable, lvl)) return -400;
    if (auth0) {
        /* RFC 9112 3.2.2: the target's authority replaces the Host header */
        const char *at = auth1;
        while (at > auth0 && at[-1] != '@') at--;
        if (at > auth0) return -400;                      /* userinfo: not in http(s) URIs */
        if (auth1 == auth0 || *auth0 == ':') return -400; /* empty host (RFC 9110 4.2.1) */
        if (!px_host_valid(auth0, (size_t)(auth1 - auth0))) return -400;
        r->host.p = auth0; r->host.n = (size_t)(auth1 - auth0);
    }
    r->content_length = f->cl;
    r->keep_alive = (unsigned char)(f->conn_close ? 0 : (minor == 1 ? 1 : f->conn_ka));
    r->upgrade = (unsigned char)f->upgrade;
    r->expect_continue = (unsigned char)(minor == 1 && f->expect);
    return 0;
}

/* The full parse of a head the pre-scan found complete: [start, end) with the request
 * line ending at rl_end. */
static inline int px__parse_head(const char *buf, size_t start, size_t rl_end, size_t end,
                                 px_request *r, const px_limits *lim)
{
    const int lvl = px_simd_level();
    int minor, k;
    const char *p = buf + start, *rle = buf + rl_end;

    /* method */
    const char *m0 = p;
    int mid = PX_METHOD_OTHER;
    size_t mlen;
    if (memcmp(p, "GET ", 4) == 0) {     /* the common case: one 4-byte compare */
        p += 3;
        mlen = 3;
        mid = PX_METHOD_GET;
        goto method_done;
    }
    while (px__tchar[(unsigned char)*p]) p++;
    if (p == m0 || *p != ' ') return -400;
    mlen = (size_t)(p - m0);
    mid = px__method_id(m0, mlen);
method_done:
    r->method.p = m0; r->method.n = mlen;
    r->method_id = mid;
    p++;

    /* request-target; the scan may read past the request line (its CR stops it):
     * the whole head is in the buffer, so wide windows fit short targets too */
    const char *t0 = p, *qmark;
    p = px__scan_target(p, buf + end, lvl, &qmark);
    if (p == t0 || *p != ' ') return -400;          /* also '#': no fragments */
    size_t tlen = (size_t)(p - t0);
    r->target.p = t0; r->target.n = tlen;
    const char *pathp = t0, *te = p, *auth0 = NULL, *auth1 = NULL;
    r->query.p = NULL; r->query.n = 0;
    if (*t0 == '/') {
        /* origin-form */
    } else if (tlen == 1 && *t0 == '*') {
        if (mid != PX_METHOD_OPTIONS) return -400;
    } else if (mlen == 7 && !memcmp(m0, "CONNECT", 7)) {
        /* authority-form: no path */
        r->path.p = t0 + tlen; r->path.n = 0;
        r->path_clean = 0;
        goto version;
    } else {
        /* absolute-form: scheme "://" authority [path-abempty] ["?" query] */
        const char *s = t0;
        if ((unsigned)((*s | 0x20) - 'a') >= 26u) return -400;
        while (s < te && ((unsigned)((*s | 0x20) - 'a') < 26u || (unsigned)(*s - '0') < 10u ||
                          *s == '+' || *s == '-' || *s == '.')) s++;
        if (te - s < 3 || s[0] != ':' || s[1] != '/' || s[2] != '/') return -400;
        s += 3;
        auth0 = s;
        while (s < te && *s != '/' && *s != '?') s++;
        auth1 = s;
        pathp = s;
    }
    px__set_path(r, qmark, pathp, te, buf + end, lvl, -1);
version:
    p++;
    if (rle - p == 8 && memcmp(p, "HTTP/1.1", 8) == 0) {
        r->minor_version = 1;
        minor = 1;
        goto version_done;
    }
    if (rle - p != 8 || memcmp(p, "HTTP/", 5) || (unsigned)(p[5] - '0') >= 10u || p[6] != '.' ||
        (unsigned)(p[7] - '0') >= 10u)
        return -400;
    if (p[5] != '1' || (p[7] != '0' && p[7] != '1')) return -505;
    minor = p[7] - '0';
    r->minor_version = minor;
version_done:;

    /* header fields */
    const char *e = buf + end;
    size_t maxh = lim->max_headers < PX_MAX_HEADERS ? lim->max_headers : PX_MAX_HEADERS;
    size_t nh = 0;
    px__fields f;
    px__fields_init(&f, r);
    p = rle + 2;
    for (;;) {
        if (*p == '\r') break;               /* pre-scan guarantees this is the end */
        if (nh >= maxh) return -431;
        const char *n0 = p;
        while (px__tchar[(unsigned char)*p]) p++;
        if (p == n0 || *p != ':') return -400;
        size_t nlen = (size_t)(p - n0);
        p++;
        while (*p == ' ' || *p == '\t') p++;
        const char *v0 = p;
        p = px__scan_value(p, e, lvl);
        if (*p != '\r' || p[1] != '\n') return -400;
        const char *v1 = p;
        while (v1 > v0 && (v1[-1] == ' ' || v1[-1] == '\t')) v1--;
        px_header *h = &r->headers[nh++];
        h->name.p = n0; h->name.n = nlen;
        h->value.p = v0; h->value.n = (size_t)(v1 - v0);
        p += 2;
        if ((k = px__field(r, &f, n0, nlen, v0, v1)) < 0) return k;
    }
    if (p + 2 != e) return -400;   /* unreachable given the pre-scan; defensive */
    r->num_headers = nh;
    if ((k = px__fields_done(r, &f, minor, lim, auth0, auth1, e, lvl)) < 0) return k;
    return (int)end;
}

#if PX__X86_SIMD
/* An origin-form target (p[0] == '/') that ends inside one 32-byte window, p[0..32)
 * readable: the target scan, the first '?' and px__path_clean's verdict from the same
 * vector compares. Returns the byte that ends the target, or NULL when the window
 * holds none (a longer target: the caller scans it the general way). */
__attribute__((target("avx2")))
static inline const char *px__target_window_avx2(const char *p, const char **q, int *clean)
{
    const __m256i v = _mm256_loadu_si256((const __m256i *)(const void *)p);
    const __m256i x = _mm256_sub_epi8(v, _mm256_set1_epi8(0x21));
    const unsigned bad =
        ~(unsigned)_mm256_movemask_epi8(_mm256_cmpeq_epi8(_mm256_min_epu8(x, _mm256_set1_epi8(0x5D)), x)) |
        (unsigned)_mm256_movemask_epi8(_mm256_cmpeq_epi8(v, _mm256_set1_epi8('#')));
    if (!bad) return NULL;
    const unsigned stop = (unsigned)__builtin_ctz(bad);            /* >= 1: p[0] is '/' */
    const unsigned mq = (unsigned)_mm256_movemask_epi8(_mm256_cmpeq_epi8(v, _mm256_set1_epi8('?'))) &
                        ((1u << stop) - 1u);
    const unsigned pend = mq ? (unsigned)__builtin_ctz(mq) : stop;  /* path: [0, pend) */
    const unsigned in = (1u << pend) - 1u;
    const unsigned ms = (unsigned)_mm256_movemask_epi8(_mm256_cmpeq_epi8(v, _mm256_set1_epi8('/'))) & in;
    const unsigned md = (unsigned)_mm256_movemask_epi8(_mm256_cmpeq_epi8(v, _mm256_set1_epi8('.'))) & in;
    const unsigned mp = (unsigned)_mm256_movemask_epi8(_mm256_cmpeq_epi8(v, _mm256_set1_epi8('%'))) & in;
    *clean = !(mp | (ms & ((ms | md) >> 1)));     /* no '%', "//" or "/." (px__path_clean) */
    *q = mq ? p + pend : NULL;
    return p + stop;
}
#endif

/* One pass over a complete, ordinary head (the request line first in buf, an
 * origin-form target, HTTP/1.0 or 1.1, within the limits): its length. Anything
 * else -- an incomplete head, leading empty lines, another target form, any error
 * -- returns 0 and is judged by the pre-scan path, so both paths give one result
 * for every input (fuzz_http.c compares them). Every byte of a head it accepts is
 * checked here as the pre-scan would: each line ends in CRLF, and no LF or CR
 * appears elsewhere (the method, target, name and value classes exclude both). */
static inline int px__parse_fast(const char *buf, size_t len, px_request *r, const px_limits *lim)
{
    const int lvl = px_simd_level();
    const char *p = buf, *end = buf + len;
    size_t mlen;
    int mid, minor;
    if (len < 16) return 0;
    if (memcmp(p, "GET ", 4) == 0) {
        p += 3;
        mlen = 3;
        mid = PX_METHOD_GET;
    } else {
        while (p < end && px__tchar[(unsigned char)*p]) p++;
        if (p == end || p == buf || *p != ' ') return 0;
        mlen = (size_t)(p - buf);
        mid = px__method_id(buf, mlen);
    }
    r->method.p = buf; r->method.n = mlen;
    r->method_id = mid;
    const char *t0 = ++p, *qmark;
    if (p == end || *p != '/') return 0;             /* origin-form only */
    int clean = -1;            /* the path's verdict, when the target window gave it */
#if PX__X86_SIMD
    if (!(lvl >= 2 && end - p >= 32 && (p = px__target_window_avx2(t0, &qmark, &clean)) != NULL))
#endif
        p = px__scan_target(t0, end, lvl, &qmark);
    if (end - p < 13 || *p != ' ') return 0;        /* " HTTP/1.x\r\n\r\n" */
    r->target.p = t0; r->target.n = (size_t)(p - t0);
    r->query.p = NULL; r->query.n = 0;
    px__set_path(r, qmark, t0, p, end, lvl, clean);
    p++;
    if (memcmp(p, "HTTP/1.", 7) != 0 || (p[7] != '1' && p[7] != '0') || p[8] != '\r' ||
        p[9] != '\n')
        return 0;
    minor = p[7] - '0';
    r->minor_version = minor;
    const size_t rl_end = (size_t)(p + 8 - buf);
    if (rl_end > lim->max_request_line) return 0;
    p += 10;

    size_t maxh = lim->max_headers < PX_MAX_HEADERS ? lim->max_headers : PX_MAX_HEADERS;
    size_t nh = 0;
    px__fields f;
    px__fields_init(&f, r);
    for (;;) {
        if (end - p < 2) return 0;
        if (*p == '\r') {
            if (p[1] != '\n') return 0;
            p += 2;
            break;
        }
        if (nh >= maxh) return 0;
        const char *n0 = p;
        size_t nlen;
        int host = end - p >= 6 && memcmp(p, "Host: ", 6) == 0;   /* in every request */
        if (host) {
            p += 6;
            nlen = 4;
        } else {
            while (p < end && px__tchar[(unsigned char)*p]) p++;
            if (p == end || p == n0 || *p != ':') return 0;
            nlen = (size_t)(p - n0);
            p++;
        }
        while (p < end && (*p == ' ' || *p == '\t')) p++;
        const char *v0 = p;
        p = px__scan_value_short(p, end, lvl);
        if (end - p < 2 || p[0] != '\r' || p[1] != '\n') return 0;
        const char *v1 = p;
        while (v1 > v0 && (v1[-1] == ' ' || v1[-1] == '\t')) v1--;
        px_header *h = &r->headers[nh++];
        h->name.p = n0; h->name.n = nlen;
        h->value.p = v0; h->value.n = (size_t)(v1 - v0);
        p += 2;
        if (host) {                                  /* px__field's case 4, inline */
            if (r->host.p) return 0;
            r->host = h->value;
        } else if (px__field(r, &f, n0, nlen, v0, v1) < 0) {
            return 0;
        }
    }
    if ((size_t)(p - buf) - (rl_end + 2) > lim->max_header_bytes) return 0;
    r->num_headers = nh;
    if (px__fields_done(r, &f, minor, lim, NULL, NULL, end, lvl) < 0) return 0;
    return (int)(p - buf);
}

/* ---- incremental driver ------------------------------------------------- */

/* The next '\n' in [buf + pos, buf + len), or NULL.  With SIMD one 16-byte window's
 * bitmask (*wb, *wm; *wb == NULL: none yet) serves every line ending inside it, so
 * a short head costs a few vector compares instead of a memchr call per line. */
static inline const char *px__next_lf(const char *buf, size_t len, size_t pos, int lvl,
                                      const char **wb, unsigned *wm)
{
    const char *p = buf + pos, *end = buf + len;
#if PX__X86_SIMD
    if (lvl >= 1) {
        if (*wb && p < *wb + 16) {
            unsigned m = *wm & (~0u << (unsigned)(p - *wb));
            if (m) return *wb + __builtin_ctz(m);
            p = *wb + 16;
        }
        const __m128i nl = _mm_set1_epi8('\n');
        while (end - p >= 16) {
            unsigned m = (unsigned)_mm_movemask_epi8(
                _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(const void *)p), nl));
            if (m) { *wb = p; *wm = m; return p + __builtin_ctz(m); }
            p += 16;
        }
        *wb = NULL;
        for (; p < end; p++)
            if (*p == '\n') return p;
        return NULL;
    }
#else
    (void)lvl; (void)wb; (void)wm;
#endif
    return p < end ? (const char *)memchr(p, '\n', (size_t)(end - p)) : NULL;
}

static inline int px__parse_ret(px_request *r, int rc)
{
    px_request_reset(r);
    return rc;
}

/* The incremental path: a pre-scan finds the head's end (only bytes after the previous
 * call's position), then px__parse_head parses it. */
static inline int px__parse_scan(const char *buf, size_t len, px_request *r, const px_limits *lim)
{
    const size_t max_rl = lim->max_request_line < SIZE_MAX / 4 ? lim->max_request_line : SIZE_MAX / 4;
    const size_t max_hdr = lim->max_header_bytes;
    size_t maxh = lim->max_headers < PX_MAX_HEADERS ? lim->max_headers : PX_MAX_HEADERS;
    size_t pos = r->_pos, line = r->_line, start = r->_start, rl_end = r->_rl_end,
           nl = r->_nlines;
    if (pos > len) pos = line = start = rl_end = nl = 0;
    if (len > (size_t)INT32_MAX) len = (size_t)INT32_MAX;   /* return value is int */

    /* Pre-scan: find the end of the head, checking CRLF framing and limits.
     * Only bytes after the previous call's position are examined. */
    const int lvl = px_simd_level();
    size_t he;
    const char *wb = NULL;
    unsigned wm = 0;
    for (;;) {
        const char *q = px__next_lf(buf, len, pos, lvl, &wb, &wm);
        if (!q) break;
        size_t i = (size_t)(q - buf);
        /* limits first, so that a split feed reports the same error as one-shot */
        if (rl_end == 0) {
            if (i - line > max_rl + 1) return px__parse_ret(r, -414);
        } else if (i + 1 - (rl_end + 2) > max_hdr) {
            return px__parse_ret(r, -431);
        }
        if (i == line || buf[i - 1] != '\r') return px__parse_ret(r, -400);   /* bare LF */
        if (rl_end == 0) {
            if (i - 1 == line) {                   /* empty line before request line */
                line = start = pos = i + 1;
                if (start > max_rl) return px__parse_ret(r, -400);
                continue;
            }
            if (i - 1 - line > max_rl) return px__parse_ret(r, -414);
            rl_end = i - 1;
        } else {
            if (i - 1 == line) {
                he = i + 1;
                goto head;
            }
            if (++nl > maxh) return px__parse_ret(r, -431);
        }
        line = pos = i + 1;
    }
    pos = len;
    if (rl_end == 0) {
        if (len - line > max_rl + 1) return px__parse_ret(r, -414);
    } else if (len - (rl_end + 2) > max_hdr) {
        return px__parse_ret(r, -431);
    }
    r->_pos = pos; r->_line = line; r->_start = start; r->_rl_end = rl_end; r->_nlines = nl;
    return 0;
head:
    return px__parse_ret(r, px__parse_head(buf, start, rl_end, he, r, lim));
}

static inline int px_parse_request(const char *buf, size_t len, px_request *r, const px_limits *lim)
{
    static const px_limits dflt = PX_LIMITS_DEFAULT;
    if (!lim) lim = &dflt;
    if (r->_pos == 0 && len <= (size_t)INT32_MAX) {   /* nothing scanned yet: one pass */
        int k = px__parse_fast(buf, len, r, lim);
        if (k > 0) return k;
    }
    return px__parse_scan(buf, len, r, lim);
}

static inline const px_slice *px_header_get(const px_request *r, const char *name, size_t n)
{
    for (size_t i = 0; i < r->num_headers; i++) {
        const px_header *h = &r->headers[i];
        if (h->name.n != n) continue;
        size_t k = 0;
        for (; k < n; k++) {
            unsigned char a = (unsigned char)h->name.p[k], b = (unsigned char)name[k];
            if (a == b) continue;
            if ((a | 0x20) != (b | 0x20) || (unsigned)((a | 0x20) - 'a') >= 26u) break;
        }
        if (k == n) return &h->value;
    }
    return NULL;
}

/* ---- chunked transfer coding ------------------------------------------- */

enum {
    PX__CH_SIZE0 = 0, PX__CH_SIZE, PX__CH_SIZE_WS, PX__CH_EXT, PX__CH_SIZE_LF, PX__CH_DATA,
    PX__CH_DATA_CR, PX__CH_DATA_LF, PX__CH_TRL_START, PX__CH_TRL_LINE, PX__CH_TRL_LF,
    PX__CH_END_LF, PX__CH_DONE
};

typedef struct {
    uint64_t remaining;   /* data bytes left in the current chunk */
    uint64_t total;       /* data bytes decoded so far */
    uint32_t line;        /* bytes in the current chunk-size line */
    uint32_t trailer;     /* trailer section bytes so far */
    int state;
} px_chunked;

static inline void px_chunked_init(px_chunked *c)
{
    c->remaining = c->total = 0;
    c->line = c->trailer = 0;
    c->state = PX__CH_SIZE0;
}

static inline int px_chunked_done(const px_chunked *c) { return c->state == PX__CH_DONE; }

static inline ptrdiff_t px_chunked_decode(px_chunked *c, const char *in, size_t n, px_slice *data)
{
    size_t i = 0;
    int st = c->state;
    data->p = NULL; data->n = 0;
    while (i < n) {
        unsigned char ch = (unsigned char)in[i];
        switch (st) {
        case PX__CH_SIZE0: {
            int h = px__hexval(ch);
            if (h < 0) return -400;
            c->remaining = (uint64_t)h; c->line = 1; st = PX__CH_SIZE; i++;
            break;
        }
        case PX__CH_SIZE: {
            int h = px__hexval(ch);
            if (h < 0) { st = PX__CH_SIZE_WS; continue; }
            if (c->remaining >> 59) return -400;        /* would reach 2^63 */
            c->remaining = (c->remaining << 4) | (uint64_t)h;
            if (++c->line > PX_CHUNK_LINE_MAX) return -400;
            i++;
            break;
        }
        case PX__CH_SIZE_WS:               /* BWS before ';' or CRLF */
            if (ch == '\r') st = PX__CH_SIZE_LF;
            else if (ch == ';') st = PX__CH_EXT;
            else if (ch != ' ' && ch != '\t') return -400;
            if (++c->line > PX_CHUNK_LINE_MAX) return -400;
            i++;
            break;
        case PX__CH_EXT:
            if (ch == '\r') st = PX__CH_SIZE_LF;
            else if (!px__fvchar[ch]) return -400;
            if (++c->line > PX_CHUNK_LINE_MAX) return -400;
            i++;
            break;
        case PX__CH_SIZE_LF:
            if (ch != '\n') return -400;
            i++;
            st = c->remaining ? PX__CH_DATA : PX__CH_TRL_START;
            break;
        case PX__CH_DATA: {
            size_t avail = n - i;
            size_t k = c->remaining < (uint64_t)avail ? (size_t)c->remaining : avail;
            data->p = in + i; data->n = k;
            i += k;
            c->remaining -= k;
            c->total += k;
            if (!c->remaining) st = PX__CH_DATA_CR;
            c->state = st;
            return (ptrdiff_t)i;
        }
        case PX__CH_DATA_CR:
            if (ch != '\r') return -400;
            st = PX__CH_DATA_LF; i++;
            break;
        case PX__CH_DATA_LF:
            if (ch != '\n') return -400;
            st = PX__CH_SIZE0; i++;
            break;
        case PX__CH_TRL_START:
            if (++c->trailer > PX_CHUNK_TRAILER_MAX) return -400;
            if (ch == '\r') st = PX__CH_END_LF;
            else if (px__tchar[ch]) st = PX__CH_TRL_LINE;
            else return -400;
            i++;
            break;
        case PX__CH_TRL_LINE:
            if (++c->trailer > PX_CHUNK_TRAILER_MAX) return -400;
            if (ch == '\r') st = PX__CH_TRL_LF;
            else if (!px__fvchar[ch]) return -400;
            i++;
            break;
        case PX__CH_TRL_LF:
            if (ch != '\n') return -400;
            st = PX__CH_TRL_START; i++;
            break;
        case PX__CH_END_LF:
            if (ch != '\n') return -400;
            c->state = PX__CH_DONE;
            return (ptrdiff_t)(i + 1);
        default: /* DONE */
            c->state = st;
            return (ptrdiff_t)i;
        }
    }
    c->state = st;
    return (ptrdiff_t)i;
}

#endif /* PX_HTTP_PARSE_H */
