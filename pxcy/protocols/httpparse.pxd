# cython: language_level=3
"""C declarations of the HTTP helpers in includes/ (parser, body framing, Range,
utilities, JSON writer, access log)."""
from libc.stdint cimport int64_t, uint64_t

cdef extern from "pxcy/protocols/includes/http_parse.h" nogil:
    ctypedef struct px_slice:
        const char* p
        size_t n
    ctypedef struct px_header:
        px_slice name
        px_slice value
    ctypedef struct px_limits:
        size_t max_request_line
        size_t max_header_bytes
        size_t max_headers
        int require_host
    enum:
        PX_METHOD_OTHER, PX_METHOD_GET, PX_METHOD_HEAD, PX_METHOD_POST, PX_METHOD_PUT,
        PX_METHOD_DELETE, PX_METHOD_OPTIONS, PX_METHOD_PATCH, PX_MAX_HEADERS
    ctypedef struct px_request:
        px_slice method
        int method_id
        int minor_version
        px_slice target
        px_slice path
        px_slice query
        size_t num_headers
        px_header headers[64]
        int64_t content_length
        unsigned char chunked, keep_alive, expect_continue, upgrade
        unsigned char path_clean
        px_slice host, if_none_match, if_modified_since, range, if_range
    ctypedef struct px_chunked:
        uint64_t remaining
        uint64_t total
    void px_request_reset(px_request* r)
    int px_parse_request(const char* buf, size_t len, px_request* r, const px_limits* lim)
    const px_slice* px_header_get(const px_request* r, const char* name, size_t n)
    void px_chunked_init(px_chunked* c)
    ptrdiff_t px_chunked_decode(px_chunked* c, const char* inp, size_t n, px_slice* data)
    int px_chunked_done(const px_chunked* c)
    ctypedef struct px_scan:
        size_t pos
    void px_scan_save(const px_request* r, px_scan* s)
    void px_scan_restore(px_request* r, const px_scan* s)
    int px_host_valid(const char* p, size_t n)

cdef extern from "pxcy/protocols/includes/http_range.h" nogil:
    enum: PX_RANGE_MAX, PX_RANGE_IGNORE, PX_RANGE_PARTIAL, PX_RANGE_UNSATISFIABLE
    ctypedef struct px_range:
        uint64_t first
        uint64_t last
    int px_range_parse(const char* v, size_t n, uint64_t length, px_range* out, size_t max, size_t* count)
    int px_if_range_match(const char* v, size_t n, const char* etag, size_t etag_n, int64_t last_modified)

cdef extern from "pxcy/protocols/includes/http_util.h" nogil:
    enum: PX_HTTP_DATE_LEN, PX_INT_MAXLEN
    ptrdiff_t px_percent_decode(char* dst, size_t cap, const char* src, size_t n, int plus_space)
    ptrdiff_t px_path_normalize(char* dst, size_t cap, const char* src, size_t n)
    bint px_mem_eq(const char* a, const char* b, size_t n)
    ptrdiff_t px_path_clean(char* dst, size_t cap, const char* src, size_t n)
    int px_path_is_clean(const char* p, size_t n)
    int px_path_has_dotfile(const char* p, size_t n)
    const char* px_mime_type(const char* path, size_t n, size_t* len_out)
    int px_http_date_format(char* out, int64_t t)
    int px_http_date_parse(const char* s, size_t n, int64_t* t)
    size_t px_json_escape(char* dst, size_t cap, const char* src, size_t n)
    size_t px_write_u64(char* dst, uint64_t v)
    size_t px_write_i64(char* dst, int64_t v)

cdef extern from "pxcy/protocols/includes/http_body.h" nogil:
    enum: PX_BODY_NONE, PX_BODY_LENGTH, PX_BODY_CHUNKED
    ctypedef struct px_body:
        int mode
        int done
        uint64_t decoded
        uint64_t wire
    int px_body_start(px_body* b, int64_t content_length, int chunked, uint64_t max_decoded,
                      uint64_t max_wire)
    ptrdiff_t px_body_feed(px_body* b, const char* inp, size_t n, px_slice* data)
    int px_body_done(const px_body* b)

cdef extern from "pxcy/protocols/includes/http_json.h" nogil:
    ctypedef void* (*px_json_alloc)(void* ctx, size_t n) noexcept nogil
    ctypedef struct px_json:
        char* buf
        size_t n
        int failed
    int px_json_init(px_json* j, px_json_alloc alloc, void* ctx, size_t hint)
    int px_json_begin_object(px_json* j)
    int px_json_end_object(px_json* j)
    int px_json_begin_array(px_json* j)
    int px_json_end_array(px_json* j)
    int px_json_key(px_json* j, const char* k, size_t n)
    int px_json_str(px_json* j, const char* s, size_t n)
    int px_json_int(px_json* j, int64_t v)
    int px_json_float(px_json* j, double v)
    int px_json_bool(px_json* j, int v)
    int px_json_null(px_json* j)
    int px_json_raw(px_json* j, const char* s, size_t n)

cdef extern from "pxcy/protocols/includes/http_log.h" nogil:
    ctypedef struct px_log:
        uint64_t dropped
        uint64_t written
    px_log* px_log_open(const char* path)
    void px_log_write(px_log* l, int worker, const char* line, size_t n)
    void px_log_flush(px_log* l)
    void px_log_close(px_log* l)
    size_t px_log_clf_time(char* out, int64_t t)
    size_t px_log_escape(char* dst, const char* s, size_t n)
