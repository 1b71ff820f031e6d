/* http_body.h -- incremental request-body framing with size limits (RFC 9112 sec. 6).
 * Header-only C99, no malloc; the state is a small struct kept per connection, so
 * a body arriving over many reads is scanned once, whatever the read sizes.
 *
 *   int px_body_start(px_body *b, int64_t content_length, int chunked,
 *                     uint64_t max_decoded, uint64_t max_wire)
 *       content_length < 0 and !chunked: no body.  0: ok; -413: a Content-Length
 *       above max_decoded (answer before reading any of it).
 *   ptrdiff_t px_body_feed(px_body *b, const char *in, size_t n, px_slice *data)
 *       Consumes body bytes from in[0..n) and returns how many (>= 0), with at most
 *       one data slice (*data, zero-copy, inside the consumed bytes; n == 0 when
 *       none): call it in a loop until px_body_done() or the input is used up.  It
 *       never consumes past the body, so a pipelined request stays untouched.
 *       -400: malformed chunked coding; -413: the decoded size passed max_decoded,
 *       or the wire size (chunk sizes, extensions, CRLFs and trailers included)
 *       passed max_wire.  Limits of 0 mean none.
 *   int px_body_done(const px_body *b)
 *   b->decoded, b->wire: bytes so far (data; data + framing)
 */
#ifndef PX_HTTP_BODY_H
#define PX_HTTP_BODY_H

#include <stddef.h>
#include <stdint.h>
#include "http_parse.h"

enum { PX_BODY_NONE = 0, PX_BODY_LENGTH = 1, PX_BODY_CHUNKED = 2 };

typedef struct {
    int mode;
    int done;
    uint64_t remaining;        /* PX_BODY_LENGTH: bytes left */
    uint64_t decoded, wire;
    uint64_t max_decoded, max_wire;
    px_chunked ch;
} px_body;

static inline int px_body_start(px_body *b, int64_t content_length, int chunked,
                                uint64_t max_decoded, uint64_t max_wire)
{
    b->decoded = b->wire = 0;
    b->max_decoded = max_decoded;
    b->max_wire = max_wire;
    b->remaining = 0;
    px_chunked_init(&b->ch);
    if (chunked) {
        b->mode = PX_BODY_CHUNKED;
        b->done = 0;
    } else if (content_length > 0) {
        b->mode = PX_BODY_LENGTH;
        b->remaining = (uint64_t)content_length;
        b->done = 0;
        if (max_decoded && (uint64_t)content_length > max_decoded) return -413;
    } else {
        b->mode = PX_BODY_NONE;
        b->done = 1;
    }
    return 0;
}

static inline int px_body_done(const px_body *b) { return b->done; }

static inline ptrdiff_t px_body_feed(px_body *b, const char *in, size_t n, px_slice *data)
{
    data->p = NULL;
    data->n = 0;
    if (b->done || n == 0) return 0;
    if (b->mode == PX_BODY_LENGTH) {
        size_t k = b->remaining < (uint64_t)n ? (size_t)b->remaining : n;
        data->p = in;
        data->n = k;
        b->remaining -= k;
        b->decoded += k;
        b->wire += k;
        if (!b->remaining) b->done = 1;
        return (ptrdiff_t)k;
    }
    /* chunked: cap the input so the wire limit is reported, not overrun */
    size_t lim = n;
    if (b->max_wire) {
        if (b->wire >= b->max_wire) return -413;
        uint64_t room = b->max_wire - b->wire;
        if (room < (uint64_t)lim) lim = (size_t)room;
    }
    ptrdiff_t used = px_chunked_decode(&b->ch, in, lim, data);
    if (used < 0) return used;
    b->wire += (uint64_t)used;
    b->decoded = b->ch.total;
    if (b->max_decoded && b->decoded > b->max_decoded) return -413;
    if (px_chunked_done(&b->ch)) b->done = 1;
    else if (lim < n && (size_t)used == lim && data->n == 0) return -413;
    return used;
}

#endif /* PX_HTTP_BODY_H */
