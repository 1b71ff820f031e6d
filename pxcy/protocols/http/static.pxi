# Static files below the root: open (never blocking, never leaving the root),
# conditional requests (RFC 9110 13), precompressed siblings, then ranges.pxi.

cdef extern from *:
    """
    #include <fcntl.h>
    #include <sys/syscall.h>
    #include <unistd.h>
    #ifndef O_PATH
    #define O_PATH 010000000
    #endif
    #ifdef SYS_openat2
    #include <linux/openat2.h>
    #endif
    /* Open rel below root_fd, O_NONBLOCK (a FIFO or device opens at once and is then
       refused by the caller's S_ISREG check instead of blocking the worker); with
       beneath, no path (symlinks included) may leave the root: openat2(RESOLVE_BENEATH),
       or a /proc/self/fd check without it. */
    static int pxcy_open_beneath(int root_fd, const char *root, size_t root_n,
                                 const char *rel, int beneath) {
        const int flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY;
        if (!beneath) return openat(root_fd, rel, flags);
    #ifdef SYS_openat2
        struct open_how how = {0};
        how.flags = flags;
        how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
        long fd = syscall(SYS_openat2, root_fd, rel, &how, sizeof how);
        if (fd >= 0 || errno != ENOSYS) return (int)fd;
    #endif
        int f = openat(root_fd, rel, flags);
        if (f < 0) return f;
        char link[64], real[4096];
        snprintf(link, sizeof link, "/proc/self/fd/%d", f);
        ssize_t k = readlink(link, real, sizeof real);
        if (k < 0 || (size_t)k < root_n || memcmp(real, root, root_n) != 0 ||
            ((size_t)k > root_n && real[root_n] != '/' && root_n > 1)) {
            close(f);
            errno = EXDEV;
            return -1;
        }
        return f;
    }
    static int pxcy_open_dir(const char *path) { return open(path, O_PATH | O_DIRECTORY | O_CLOEXEC); }
    """
    int pxcy_open_beneath(int root_fd, const char* root, size_t root_n, const char* rel, int beneath) nogil
    int pxcy_open_dir(const char* path)


cdef bint etag_list_match(const char* v, size_t n, const char* etag, size_t en, bint strong) noexcept nogil:
    """'*' or a list of entity-tags containing etag: weak comparison for
    If-None-Match, strong for If-Match (RFC 9110 8.8.3.2; a W/ tag never matches
    strongly)."""
    cdef const char* p = v
    cdef const char* end = v + n
    cdef const char* q
    cdef bint weak
    while p < end:
        while p < end and (p[0] == b' ' or p[0] == b'\t' or p[0] == b','):
            p += 1
        if p >= end:
            break
        if p[0] == b'*':
            return True
        weak = False
        if end - p > 2 and p[0] == b'W' and p[1] == b'/':
            p += 2
            weak = True
        if p[0] != b'"':
            return False
        q = <const char*>memchr(p + 1, b'"', end - p - 1)
        if q == NULL:
            return False
        if not (weak and strong) and <size_t>(q - p + 1) == en and memcmp(p, etag, en) == 0:
            return True
        p = q + 1
    return False


cdef int conditionals(Response res, const char* etag, size_t en, int64_t mtime) noexcept nogil:
    """RFC 9110 13.2.2 order: If-Match, else If-Unmodified-Since (412); If-None-Match,
    else If-Modified-Since (304 for GET/HEAD, 412 otherwise). 0: go on."""
    cdef px_request* r = (<Request>res.rq).r
    cdef Slice v = (<Request>res.rq).header("If-Match")
    cdef int64_t t
    cdef bint get = r.method_id == PX_METHOD_GET or r.method_id == PX_METHOD_HEAD
    if v.p != NULL:
        if not etag_list_match(v.p, v.n, etag, en, True):
            return 412
    else:
        v = (<Request>res.rq).header("If-Unmodified-Since")
        if v.p != NULL and px_http_date_parse(v.p, v.n, &t) == 0 and mtime > t:
            return 412
    if r.if_none_match.p != NULL:
        if etag_list_match(r.if_none_match.p, r.if_none_match.n, etag, en, False):
            return 304 if get else 412
    elif r.if_modified_since.p != NULL and get:
        if px_http_date_parse(r.if_modified_since.p, r.if_modified_since.n, &t) == 0 and mtime <= t:
            return 304
    return 0


cdef bint q_nonzero(const char* semi, const char* e) noexcept nogil:
    """The parameters [semi, e) of one Accept-Encoding element give q > 0 (no q: 1)."""
    cdef const char* q
    if semi == NULL:
        return True
    q = <const char*>memchr(semi, b'=', e - semi)
    if q == NULL:
        return True
    q += 1
    while q < e and q[0] == b' ':
        q += 1
    # q=0, q=0.0, q=0.000: refused; anything else accepted
    if q < e and q[0] == b'0':
        q += 1
        if q < e and q[0] == b'.':
            q += 1
        while q < e and q[0] == b'0':
            q += 1
        if q >= e or q[0] == b' ' or q[0] == b'\t':
            return False
    return True


cdef bint accepts_coding(Slice ae, const char* coding, size_t cn) noexcept nogil:
    """Accept-Encoding takes coding with a q-value above 0: its own element decides,
    else a '*' element (RFC 9110 12.5.3: '*' is any coding not listed)."""
    cdef const char* p = ae.p
    cdef const char* end = ae.p + ae.n
    cdef const char* e
    cdef const char* semi
    cdef size_t k
    cdef int star = -1                   # -1: no '*'; else whether '*' has q > 0
    if p == NULL:
        return False
    while p < end:
        while p < end and (p[0] == b' ' or p[0] == b',' or p[0] == b'\t'):
            p += 1
        if p >= end:
            break
        e = <const char*>memchr(p, b',', end - p)
        if e == NULL:
            e = end
        semi = <const char*>memchr(p, b';', e - p)
        k = (semi if semi != NULL else e) - p
        while k and (p[k - 1] == b' ' or p[k - 1] == b'\t'):
            k -= 1
        if k == cn and px_ci_equal(p, coding, cn):
            return q_nonzero(semi, e)
        if k == 1 and p[0] == b'*':
            star = q_nonzero(semi, e)
        p = e + 1
    return star == 1


cdef inline bint px_ci_equal(const char* a, const char* lit, size_t n) noexcept nogil:
    cdef size_t i
    for i in range(n):
        if (a[i] | 0x20) != lit[i]:
            return False
    return True


cdef int open_sibling(HttpConfig* cfg, const char* rel, struct_stat* st) noexcept nogil:
    """A precompressed sibling, open, when it is a regular file below the root; else -1
    (so that the next coding is tried)."""
    cdef int fd = pxcy_open_beneath(cfg.root_fd, cfg.root, cfg.root_n, rel, not cfg.follow_symlinks)
    if fd < 0:
        return -1
    if fstat(fd, st) == 0 and S_ISREG(st.st_mode):
        return fd
    c_close(fd)
    return -1


cdef int static_file(Response res, const char* rel_path, size_t n) noexcept nogil:
    """A file below the root. rel_path is cleaned here ("..", "//", "." resolved
    lexically, never above the root), so handlers may pass req.arg as it is."""
    cdef HttpConfig* cfg = res.cfg
    cdef px_request* r = (<Request>res.rq).r
    cdef char* rel
    cdef ptrdiff_t k
    cdef int fd
    cdef struct_stat st
    cdef size_t qn
    cdef char* p
    cdef const char* q
    cdef bint index
    if cfg == NULL or cfg.root == NULL:
        return res.error(404)
    if r.method_id != PX_METHOD_GET and r.method_id != PX_METHOD_HEAD:
        res.header("Allow", "GET, HEAD")
        return res.error(405)
    rel = <char*>(<Transport>res.t).alloc(n + 16)
    if rel == NULL:
        return -1
    k = px_path_clean(rel, n + 16, rel_path, n)
    if k <= 0:
        return res.error(404 if k == -1 else 500)
    if not cfg.dotfiles and px_path_has_dotfile(rel, k):
        return res.error(404)
    # "/a/b" -> "a/b" below the root; a directory -> its index.html
    memmove(rel, rel + 1, k - 1)
    n = k - 1
    index = n == 0 or rel[n - 1] == b'/'
    if index:
        memcpy(rel + n, b"index.html", 10)
        n += 10
    rel[n] = 0
    fd = open_below_root(res, cfg, rel, &st)
    if fd < 0:
        return fd if fd == -1 else 0
    if S_ISDIR(st.st_mode):
        c_close(fd)
        if index:
            return res.error(403)          # dir/index.html is itself a directory
        if not path_tail_is(<Request>res.rq, rel, n):
            # rel is the handler's own mapping (from a query, say), not the URL path's
            # tail: a redirect to the path + '/' could not reach the directory, so its
            # index is served directly
            memcpy(rel + n, b"/index.html", 12)
            n += 11
            fd = open_below_root(res, cfg, rel, &st)
            if fd < 0:
                return fd if fd == -1 else 0
            if S_ISDIR(st.st_mode):
                c_close(fd)
                return res.error(403)
            return regular_file(res, cfg, fd, &st, rel, n)
        # "/dir" -> "/dir/" (query kept) so that relative links in its index work. With
        # a single leading '/': "//host/../dir" (or "/\\host/..") would make the Location
        # a network-path reference, an open redirect to another host.
        q = (<Request>res.rq).raw_path.p
        qn = (<Request>res.rq).raw_path.n
        while qn and (q[0] == b'/' or q[0] == b'\\'):
            q += 1
            qn -= 1
        p = <char*>(<Transport>res.t).alloc(qn + 3 + (<Request>res.rq).query.n)
        if p == NULL:
            return -1
        p[0] = b'/'
        if qn:
            memcpy(p + 1, q, qn)
        p[qn + 1] = b'/'
        k = qn + 2
        if (<Request>res.rq).query.p != NULL:
            p[k] = b'?'
            memcpy(p + k + 1, (<Request>res.rq).query.p, (<Request>res.rq).query.n)
            k += 1 + (<Request>res.rq).query.n
        res.header_n("Location", p, k)
        return res.error(301)
    return regular_file(res, cfg, fd, &st, rel, n)


cdef inline bint path_tail_is(Request req, const char* rel, size_t n) noexcept nogil:
    """The request's normalized path ends with '/' + the last segment of rel[0..n)
    (a path-derived mapping, /assets/css -> site/css, keeps it; /fq?p=dir does not)."""
    cdef Slice p = req.path
    cdef size_t j = n
    while j > 0 and rel[j - 1] != b'/':
        j -= 1
    return p.p != NULL and p.n > n - j and p.p[p.n - (n - j) - 1] == b'/' \
        and memcmp(p.p + p.n - (n - j), rel + j, n - j) == 0


cdef int open_below_root(Response res, HttpConfig* cfg, const char* rel, struct_stat* st) noexcept nogil:
    """rel opened below the root and stat'ed: the fd, or -2 once an error response was
    queued (-1: it could not be)."""
    cdef int fd = pxcy_open_beneath(cfg.root_fd, cfg.root, cfg.root_n, rel, not cfg.follow_symlinks)
    if fd < 0:
        if errno == ENOENT or errno == ENOTDIR or errno == ENAMETOOLONG:
            return -2 if res.error(404) == 0 else -1
        return -2 if res.error(403) == 0 else -1   # EXDEV: leaves the root; EACCES; ELOOP
    if fstat(fd, st) < 0:
        c_close(fd)
        return -2 if res.error(500) == 0 else -1
    return fd


cdef int regular_file(Response res, HttpConfig* cfg, int fd, struct_stat* stp, const char* rel,
                      size_t n) noexcept nogil:
    """The response for the open file fd (stat'ed into stp): conditionals, a precompressed
    sibling, ranges."""
    cdef struct_stat st = stp[0]
    cdef struct_stat sst
    cdef char* sib
    cdef int sfd, cond
    cdef char etag[80]
    cdef char lm[32]
    cdef int en
    cdef const char* ctype
    cdef const char* coding = NULL
    cdef size_t ctn
    cdef Slice ae
    if not S_ISREG(st.st_mode):
        c_close(fd)
        return res.error(403)              # FIFO, socket, device: never read
    ctype = px_mime_type(rel, n, &ctn)
    if cfg.precompressed:
        res.header("Vary", "Accept-Encoding")
        ae = (<Request>res.rq).header("Accept-Encoding")
        if ae.p != NULL:
            sib = <char*>(<Transport>res.t).alloc(n + 4)
            if sib != NULL:
                memcpy(sib, rel, n)
                if accepts_coding(ae, "br", 2):
                    memcpy(sib + n, b".br", 4)
                    sfd = open_sibling(cfg, sib, &sst)
                    if sfd >= 0:
                        coding = "br"
                if coding == NULL and accepts_coding(ae, "gzip", 4):
                    memcpy(sib + n, b".gz", 4)
                    sfd = open_sibling(cfg, sib, &sst)
                    if sfd >= 0:
                        coding = "gzip"
                if coding != NULL:
                    c_close(fd)
                    fd = sfd
                    st = sst
                    res.header("Content-Encoding", coding)
    res.header("X-Content-Type-Options", "nosniff")
    en = snprintf(etag, sizeof(etag), "\"%lx-%lx-%lx\"", <unsigned long>st.st_mtim.tv_sec,
                  <unsigned long>st.st_mtim.tv_nsec ^ <unsigned long>st.st_ino, <unsigned long>st.st_size)
    px_http_date_format(lm, st.st_mtim.tv_sec)
    res.header_n("ETag", etag, en)
    res.header_n("Last-Modified", lm, PX_HTTP_DATE_LEN)
    cond = conditionals(res, etag, en, st.st_mtim.tv_sec)
    if cond:
        c_close(fd)
        return res.send(cond, NULL, NULL, 0) if cond == 304 else res.error(cond)
    # If-Range by date only with a strong validator: a Last-Modified at least a
    # second before now (RFC 9110 8.8.2.2); otherwise the date never matches.
    return serve_ranged(res, fd, 0, <uint64_t>st.st_size, ctype, True, etag, en,
                        st.st_mtim.tv_sec if st.st_mtim.tv_sec < <int64_t>time(NULL) - 1 else -1)
