/* http_util.h -- small nogil HTTP helpers.  Header-only C99, no malloc, no
 * mutable globals, thread-safe.  All writers take (dst, cap, src, n).
 *
 *   ptrdiff_t px_percent_decode(char *dst, size_t cap, const char *src, size_t n, int plus_space)
 *       %XX (either case) decoded; a '%' not followed by two hex digits -> -1;
 *       %00 or a raw NUL byte -> -1 (NUL never produced).  plus_space: '+' -> ' ' (query/form data).
 *       Returns decoded length, -1 invalid, -2 dst too small (cap >= n always suffices).
 *   ptrdiff_t px_path_clean(char *dst, size_t cap, const char *src, size_t n)
 *       The cleaning half of px_path_normalize on already decoded bytes (no %
 *       decoding): a result always starting with '/'; -1 escapes root or has NUL.
 *   int px_path_is_clean(p, n)       1: a raw path that normalizes to itself
 *   int px_path_has_dotfile(p, n)    1: a segment starts with '.'
 *   ptrdiff_t px_path_normalize(char *dst, size_t cap, const char *src, size_t n)
 *       Percent-decodes src (a raw path starting with '/'), then collapses repeated
 *       '/', drops "." segments and resolves ".." segments.  Normalization runs on
 *       the DECODED bytes, so %2e%2e is "..", and %2F acts as a separator (as nginx).
 *       A ".." that would climb above the root -> -1.  A trailing '/' (also from a
 *       final "." or "..") is kept; an empty result is "/".  Returns length, -1
 *       invalid (bad %, %00 / NUL, not starting with '/', escapes root), -2 cap < n.
 *   const char *px_mime_type(const char *path, size_t n, size_t *len_out)
 *       Content-Type from the extension after the last '.' of the last segment
 *       (case-insensitive; a leading-dot name like ".html" has none); text/ types carry "; charset=utf-8"; unknown ->
 *       "application/octet-stream".  Returns a static NUL-terminated string.
 *   int px_http_date_format(char *out, int64_t t)
 *       IMF-fixdate, exactly PX_HTTP_DATE_LEN (29) bytes, no NUL.  Returns 29, or
 *       -1 if the year is outside 0000..9999.
 *   int px_http_date_parse(const char *s, size_t n, int64_t *t)
 *       IMF-fixdate, RFC 850 ("Sunday, 06-Nov-94 08:49:37 GMT", yy < 70 -> 20yy,
 *       else 19yy) and asctime ("Sun Nov  6 08:49:37 1994").  Day names must be
 *       valid but need not match the date.  Returns 0 ok, -1 invalid.
 *   size_t px_json_escape(char *dst, size_t cap, const char *src, size_t n)
 *       JSON string body (no surrounding quotes): escapes '"' '\\', \b \f \n \r \t,
 *       other C0 controls as \u00XX; valid UTF-8 passes through; each maximal
 *       invalid subpart (overlongs, surrogates, > U+10FFFF, truncated) becomes
 *       U+FFFD.  Returns the bytes the full output needs; only complete units that
 *       fit are written, so if the return value is <= cap the output is complete,
 *       otherwise dst holds a valid prefix -- retry with a bigger buffer.
 *   size_t px_write_u64(char *dst, uint64_t v) / px_write_i64(char *dst, int64_t v)
 *       Decimal, no NUL; dst needs PX_INT_MAXLEN (20) bytes.  Return length.
 */
#ifndef PX_HTTP_UTIL_H
#define PX_HTTP_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define PX_HTTP_DATE_LEN 29
#define PX_INT_MAXLEN 20

/* ---- percent decoding / path normalization ------------------------------ */

static inline int px__uhex(unsigned char c)
{
    if ((unsigned)(c - '0') < 10u) return c - '0';
    c |= 0x20;
    if ((unsigned)(c - 'a') < 6u) return c - 'a' + 10;
    return -1;
}

static inline ptrdiff_t px_percent_decode(char *dst, size_t cap, const char *src, size_t n,
                                          int plus_space)
{
    if (cap < n) {
        /* exact requirement may be smaller; compute it cheaply */
        size_t need = 0;
        for (size_t i = 0; i < n; i++, need++)
            if (src[i] == '%') i += 2;
        if (cap < need) return -2;
    }
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        char c = src[i];
        if (c == '%') {
            if (n - i < 3) return -1;
            int h = px__uhex((unsigned char)src[i + 1]), l = px__uhex((unsigned char)src[i + 2]);
            if ((h | l) < 0 || (h | l) == 0) return -1;
            c = (char)(h << 4 | l);
            i += 2;
        } else if (c == '+' && plus_space) {
            c = ' ';
        } else if (c == 0) {
            return -1;
        }
        dst[w++] = c;
    }
    return (ptrdiff_t)w;
}

/* Clean an already decoded path in place-compatible fashion (dst may equal src):
 * collapse '/', drop ".", resolve ".." (above the root -> -1), NUL -> -1.  src need
 * not start with '/': the result always does.  cap >= n + 1 always suffices. */
static inline ptrdiff_t px_path_clean(char *dst, size_t cap, const char *src, size_t n)
{
    size_t i = 0, w = 0;
    int trailing = 0;
    if (cap < n + 1 && !(n && src[0] == '/' && cap >= n)) return -2;
    if (memchr(src, 0, n)) return -1;
    while (i < n) {
        while (i < n && src[i] == '/') i++;
        size_t s = i;
        while (i < n && src[i] != '/') i++;
        size_t sl = i - s;
        if (sl == 0) { trailing = 1; break; }
        if (src[s] == '.' && (sl == 1 || (sl == 2 && src[s + 1] == '.'))) {
            if (sl == 2) {
                if (w == 0) return -1;                 /* would escape the root */
                while (dst[w - 1] != '/') w--;
                w--;
            }
            trailing = (i == n);
            continue;
        }
        dst[w++] = '/';
        memmove(dst + w, src + s, sl);
        w += sl;
        trailing = 0;
    }
    if (trailing || w == 0) dst[w++] = '/';
    return (ptrdiff_t)w;
}

static inline ptrdiff_t px_path_normalize(char *dst, size_t cap, const char *src, size_t n)
{
    if (cap < n) return -2;
    ptrdiff_t dl = px_percent_decode(dst, cap, src, n, 0);
    if (dl < 0) return dl;
    if (dl == 0 || dst[0] != '/') return -1;
    return px_path_clean(dst, cap, dst, (size_t)dl);
}

/* a[0..n) == b[0..n), for the short strings of route paths: word compares (the
 * last one overlapping) instead of a call to memcmp. */
static inline int px_mem_eq(const char *a, const char *b, size_t n)
{
    uint64_t x, y;
    uint32_t u, v;
    if (n >= 8) {
        for (; n > 8; n -= 8, a += 8, b += 8) {
            memcpy(&x, a, 8); memcpy(&y, b, 8);
            if (x != y) return 0;
        }
        memcpy(&x, a + n - 8, 8); memcpy(&y, b + n - 8, 8);
        return x == y;
    }
    if (n >= 4) {
        memcpy(&u, a, 4); memcpy(&v, b, 4);
        if (u != v) return 0;
        memcpy(&u, a + n - 4, 4); memcpy(&v, b + n - 4, 4);
        return u == v;
    }
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i]) return 0;
    return 1;
}

/* 1 when a raw path needs no decoding or cleaning: no '%', no "//", no "/." */
static inline int px_path_is_clean(const char *p, size_t n)
{
    /* 1: '%' or NUL (never clean); 2: '/' (clean unless "//" or "/.") */
    static const unsigned char cls[256] = {
        1, ['%'] = 1, ['/'] = 2,
    };
    if (n == 0 || p[0] != '/') return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = cls[(unsigned char)p[i]];
        if (!c) continue;
        if (c == 1) return 0;
        if (i + 1 < n && (p[i + 1] == '/' || p[i + 1] == '.')) return 0;
    }
    return 1;
}

/* 1 when a clean path has a segment starting with '.' (a dotfile or dot-directory) */
static inline int px_path_has_dotfile(const char *p, size_t n)
{
    for (size_t i = 0; i + 1 < n; i++)
        if (p[i] == '/' && p[i + 1] == '.') return 1;
    return n && p[0] == '.';
}

/* ---- Content-Type from extension ----------------------------------------- */

static inline const char *px_mime_type(const char *path, size_t n, size_t *len_out)
{
    static const struct { const char ext[12]; unsigned char elen; const char *type; } tab[] = {
        {"html", 4, "text/html; charset=utf-8"}, {"htm", 3, "text/html; charset=utf-8"},
        {"css", 3, "text/css; charset=utf-8"}, {"js", 2, "text/javascript; charset=utf-8"},
        {"mjs", 3, "text/javascript; charset=utf-8"}, {"json", 4, "application/json"},
        {"map", 3, "application/json"}, {"txt", 3, "text/plain; charset=utf-8"},
        {"csv", 3, "text/csv; charset=utf-8"}, {"tsv", 3, "text/tab-separated-values; charset=utf-8"},
        {"md", 2, "text/markdown; charset=utf-8"}, {"xml", 3, "text/xml; charset=utf-8"},
        {"ics", 3, "text/calendar; charset=utf-8"}, {"c", 1, "text/x-c; charset=utf-8"},
        {"h", 1, "text/x-c; charset=utf-8"}, {"webmanifest", 11, "application/manifest+json"},
        {"svg", 3, "image/svg+xml"}, {"png", 3, "image/png"}, {"apng", 4, "image/apng"},
        {"jpg", 3, "image/jpeg"}, {"jpeg", 4, "image/jpeg"}, {"gif", 3, "image/gif"},
        {"webp", 4, "image/webp"}, {"avif", 4, "image/avif"}, {"ico", 3, "image/x-icon"},
        {"bmp", 3, "image/bmp"}, {"tif", 3, "image/tiff"}, {"tiff", 4, "image/tiff"},
        {"wasm", 4, "application/wasm"}, {"pdf", 3, "application/pdf"},
        {"zip", 3, "application/zip"}, {"gz", 2, "application/gzip"}, {"tgz", 3, "application/gzip"},
        {"bz2", 3, "application/x-bzip2"}, {"xz", 2, "application/x-xz"}, {"zst", 3, "application/zstd"},
        {"7z", 2, "application/x-7z-compressed"}, {"tar", 3, "application/x-tar"},
        {"rtf", 3, "application/rtf"}, {"epub", 4, "application/epub+zip"},
        {"mp3", 3, "audio/mpeg"}, {"ogg", 3, "audio/ogg"}, {"oga", 3, "audio/ogg"},
        {"opus", 4, "audio/ogg"}, {"wav", 3, "audio/wav"}, {"flac", 4, "audio/flac"},
        {"m4a", 3, "audio/mp4"}, {"aac", 3, "audio/aac"}, {"mid", 3, "audio/midi"},
        {"mp4", 3, "video/mp4"}, {"m4v", 3, "video/mp4"}, {"webm", 4, "video/webm"},
        {"ogv", 3, "video/ogg"}, {"mov", 3, "video/quicktime"}, {"mkv", 3, "video/x-matroska"},
        {"avi", 3, "video/x-msvideo"}, {"mpeg", 4, "video/mpeg"}, {"ts", 2, "video/mp2t"},
        {"woff", 4, "font/woff"}, {"woff2", 5, "font/woff2"}, {"ttf", 3, "font/ttf"},
        {"otf", 3, "font/otf"}, {"eot", 3, "application/vnd.ms-fontobject"},
    };
    static const char dflt[] = "application/octet-stream";
    size_t i = n;
    while (i > 0 && path[i - 1] != '.' && path[i - 1] != '/') i--;
    if (i > 1 && path[i - 1] == '.' && path[i - 2] != '/' && n - i >= 1 && n - i <= 11) {
        char e[11];
        size_t el = n - i;
        for (size_t k = 0; k < el; k++) {
            unsigned char c = (unsigned char)path[i + k];
            e[k] = (char)((unsigned)(c - 'A') < 26u ? (c | 0x20) : c);
        }
        for (size_t k = 0; k < sizeof tab / sizeof tab[0]; k++)
            if (tab[k].elen == el && !memcmp(tab[k].ext, e, el)) {
                if (len_out) *len_out = strlen(tab[k].type);
                return tab[k].type;
            }
    }
    if (len_out) *len_out = sizeof dflt - 1;
    return dflt;
}

/* ---- integers ---------------------------------------------------------------- */

static inline size_t px_write_u64(char *dst, uint64_t v)
{
    static const char d2[] =
        "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
        "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
        "8081828384858687888990919293949596979899";
    /* the length first, then the digits straight into dst, back to front (no copy) */
    size_t len = 1;
    for (uint64_t t = v; t >= 10; t /= 10) len++;
    char *p = dst + len;
    while (v >= 100) {
        unsigned k = (unsigned)(v % 100) * 2;
        v /= 100;
        *--p = d2[k + 1];
        *--p = d2[k];
    }
    if (v >= 10) {
        *--p = d2[v * 2 + 1];
        *--p = d2[v * 2];
    } else {
        *--p = (char)('0' + v);
    }
    return len;
}

static inline size_t px_write_i64(char *dst, int64_t v)
{
    if (v >= 0) return px_write_u64(dst, (uint64_t)v);
    dst[0] = '-';
    return 1 + px_write_u64(dst + 1, (uint64_t)0 - (uint64_t)v);
}

/* ---- HTTP dates ---------------------------------------------------------------- */

static const char px__wday[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char px__mon[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

/* days since 1970-01-01 for a proleptic Gregorian date (H. Hinnant's algorithm) */
static inline int64_t px__days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static inline int px_http_date_format(char *out, int64_t t)
{
    /* 0000-01-01 .. 9999-12-31T23:59:59 */
    if (t < -62167219200LL || t > 253402300799LL) return -1;
    int64_t days = t / 86400, secs = t % 86400;
    if (secs < 0) { secs += 86400; days--; }
    unsigned wd = (unsigned)(((days % 7) + 11) % 7);      /* 1970-01-01 was a Thursday */
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = (int64_t)yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    unsigned d = doy - (153 * mp + 2) / 5 + 1;
    unsigned m = mp < 10 ? mp + 3 : mp - 9;
    y += m <= 2;
    unsigned hh = (unsigned)(secs / 3600), mm = (unsigned)(secs / 60 % 60), ss = (unsigned)(secs % 60);
    unsigned yy = (unsigned)y;
    memcpy(out, px__wday[wd], 3);
    out[3] = ','; out[4] = ' ';
    out[5] = (char)('0' + d / 10); out[6] = (char)('0' + d % 10);
    out[7] = ' ';
    memcpy(out + 8, px__mon[m - 1], 3);
    out[11] = ' ';
    out[12] = (char)('0' + yy / 1000); out[13] = (char)('0' + yy / 100 % 10);
    out[14] = (char)('0' + yy / 10 % 10); out[15] = (char)('0' + yy % 10);
    out[16] = ' ';
    out[17] = (char)('0' + hh / 10); out[18] = (char)('0' + hh % 10); out[19] = ':';
    out[20] = (char)('0' + mm / 10); out[21] = (char)('0' + mm % 10); out[22] = ':';
    out[23] = (char)('0' + ss / 10); out[24] = (char)('0' + ss % 10);
    memcpy(out + 25, " GMT", 4);
    return PX_HTTP_DATE_LEN;
}

static inline int px__dig(const char *s, size_t k, unsigned *v)
{
    unsigned x = 0;
    for (size_t i = 0; i < k; i++) {
        if ((unsigned)(s[i] - '0') >= 10u) return -1;
        x = x * 10 + (unsigned)(s[i] - '0');
    }
    *v = x;
    return 0;
}

static inline int px__month(const char *s)
{
    for (int i = 0; i < 12; i++)
        if (!memcmp(s, px__mon[i], 3)) return i + 1;
    return 0;
}

static inline int px__wday_ok(const char *s, size_t n, int full)
{
    static const char *const fulls[7] = {"Sunday", "Monday", "Tuesday", "Wednesday",
                                         "Thursday", "Friday", "Saturday"};
    for (int i = 0; i < 7; i++) {
        if (full) {
            if (strlen(fulls[i]) == n && !memcmp(s, fulls[i], n)) return 1;
        } else if (n == 3 && !memcmp(s, px__wday[i], 3)) {
            return 1;
        }
    }
    return 0;
}

/* "hh:mm:ss" */
static inline int px__hms(const char *s, unsigned *h, unsigned *m, unsigned *sec)
{
    if (s[2] != ':' || s[5] != ':' || px__dig(s, 2, h) || px__dig(s + 3, 2, m) ||
        px__dig(s + 6, 2, sec))
        return -1;
    return (*h > 23 || *m > 59 || *sec > 60) ? -1 : 0;
}

static inline int px_http_date_parse(const char *s, size_t n, int64_t *t)
{
    unsigned d, y, hh, mm, ss;
    int mon;
    if (n == 29 && s[3] == ',') {                       /* Sun, 06 Nov 1994 08:49:37 GMT */
        if (!px__wday_ok(s, 3, 0) || s[4] != ' ' || s[7] != ' ' || s[11] != ' ' || s[16] != ' ' ||
            memcmp(s + 25, " GMT", 4) || px__dig(s + 5, 2, &d) || px__dig(s + 12, 4, &y) ||
            !(mon = px__month(s + 8)) || px__hms(s + 17, &hh, &mm, &ss))
            return -1;
    } else if (n == 24 && s[3] == ' ') {                /* Sun Nov  6 08:49:37 1994 */
        if (!px__wday_ok(s, 3, 0) || s[7] != ' ' || s[10] != ' ' || s[19] != ' ' ||
            !(mon = px__month(s + 4)) || px__hms(s + 11, &hh, &mm, &ss) || px__dig(s + 20, 4, &y))
            return -1;
        if (s[8] == ' ') { if (px__dig(s + 9, 1, &d)) return -1; }
        else if (px__dig(s + 8, 2, &d)) return -1;
    } else {                                            /* Sunday, 06-Nov-94 08:49:37 GMT */
        const char *c = (const char *)memchr(s, ',', n < 10 ? n : 10);
        if (!c) return -1;
        size_t wl = (size_t)(c - s);
        if (n != wl + 24 || !px__wday_ok(s, wl, 1)) return -1;
        const char *p = c + 1;
        if (p[0] != ' ' || p[3] != '-' || p[7] != '-' || p[10] != ' ' || memcmp(p + 19, " GMT", 4) ||
            px__dig(p + 1, 2, &d) || !(mon = px__month(p + 4)) || px__dig(p + 8, 2, &y) ||
            px__hms(p + 11, &hh, &mm, &ss))
            return -1;
        y += y < 70 ? 2000 : 1900;
    }
    static const unsigned char mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (d < 1 || d > mdays[mon - 1]) return -1;
    if (mon == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))) return -1;
    *t = px__days_from_civil((int64_t)y, (unsigned)mon, d) * 86400 + hh * 3600 + mm * 60 + ss;
    return 0;
}

/* ---- JSON string escaping ------------------------------------------------------ */

/* 0: copy as is; 1: needs escaping (controls, '"', '\\'); 2: non-ASCII */
static const unsigned char px__jcls[256] = {
    1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1, 1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,
    0,0,1,0,0,0,0,0,0,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
    0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,0,0,0,0,0,1,0,0,0,
    0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
    2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2, 2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,
    2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2, 2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,
    2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2, 2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,
    2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2, 2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,
};

static inline size_t px_json_escape(char *dst, size_t cap, const char *src, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)src;
    size_t o = 0, i = 0;
    int full = 0;
#define PX__JPUT(buf, k)                                              \
    do {                                                              \
        if (!full && o + (k) <= cap) memcpy(dst + o, (buf), (k));     \
        else full = 1;                                                \
        o += (k);                                                     \
    } while (0)
    while (i < n) {
        size_t r = i;
        while (r < n && !px__jcls[s[r]]) r++;
        if (r > i) {                         /* plain ASCII run: bytewise units */
            size_t k = r - i;
            if (!full) {
                size_t room = cap - o;
                if (k <= room) memcpy(dst + o, s + i, k);
                else { if (room) memcpy(dst + o, s + i, room); full = 1; }
            }
            o += k;
            i = r;
            if (i == n) break;
        }
        unsigned char c = s[i];
        if (c < 0x80) {
            char e[6] = {'\\', 0, 0, 0, 0, 0};
            size_t k = 2;
            switch (c) {
            case '"': e[1] = '"'; break;
            case '\\': e[1] = '\\'; break;
            case '\b': e[1] = 'b'; break;
            case '\f': e[1] = 'f'; break;
            case '\n': e[1] = 'n'; break;
            case '\r': e[1] = 'r'; break;
            case '\t': e[1] = 't'; break;
            default:
                e[1] = 'u'; e[2] = '0'; e[3] = '0'; e[4] = hex[c >> 4]; e[5] = hex[c & 15];
                k = 6;
            }
            PX__JPUT(e, k);
            i++;
            continue;
        }
        /* UTF-8 sequence: need continuation count and the allowed 2nd-byte range */
        size_t need;
        unsigned char lo = 0x80, hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF) need = 1;
        else if (c >= 0xE0 && c <= 0xEF) {
            need = 2;
            if (c == 0xE0) lo = 0xA0;
            else if (c == 0xED) hi = 0x9F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3;
            if (c == 0xF0) lo = 0x90;
            else if (c == 0xF4) hi = 0x8F;
        } else need = 0;
        size_t k = 1;
        if (need) {
            if (i + 1 < n && s[i + 1] >= lo && s[i + 1] <= hi) {
                k = 2;
                while (k <= need && i + k < n && (s[i + k] & 0xC0) == 0x80) k++;
            }
        }
        if (need && k == need + 1) PX__JPUT(s + i, k);
        else PX__JPUT("\xEF\xBF\xBD", 3);
        i += k;
    }
#undef PX__JPUT
    return o;
}

#endif /* PX_HTTP_UTIL_H */
