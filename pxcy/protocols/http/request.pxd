# The request being answered (request.pxi).

@cython.final
cdef class Request:
    """The request being answered. Valid during the handler only: slices point into
    the read buffer or the transient heap."""
    cdef px_request* r          # parsed head: method_id, headers[], content_length, ...
    cdef Slice method
    cdef Slice target           # raw request-target
    cdef Slice raw_path         # before '?', still percent-encoded
    cdef Slice query            # after '?', raw (p == NULL: no '?')
    cdef Slice arg              # prefix routes: rest of the decoded, normalized path
    cdef Slice body             # whole body (Content-Length, or de-chunked); a piece for
                                # streaming-body routes
    cdef Slice path             # percent-decoded and normalized: see normalized()
    cdef Slice host             # Host, or the authority of an absolute-form target
    cdef int minor              # HTTP/1.<minor>
    cdef bint body_more         # streaming-body routes: more pieces follow this one
    cdef bint resumed           # streaming response: called again as output drained
                                # (no head: method, minor and arg only)
    cdef PyObject* t            # the Transport (borrowed)

    # a header value by case-insensitive name; .p == NULL when absent
    cdef Slice header(self, const char* name) noexcept nogil
    # a query parameter, percent-decoded ('+' as space) into the transient heap
    # (.p == NULL: absent; a value that is not valid percent-encoding comes back raw)
    cdef Slice query_param(self, const char* name) noexcept nogil
    # decoded, normalized path ('..' cannot climb above '/'); -1 when invalid
    cdef int normalized(self) noexcept nogil
    cdef bint is_head(self) noexcept nogil
