# Outbound connections (included into pxcy/runtime.pyx): Transport.connect opens a
# non-blocking TCP connection from the asking connection's worker; the new
# connection runs the `client=` protocol of the Server (t.origin(), t.token() name
# who asked and why) and the asking connection hears connect_done(t, token, handle),
# handle 0 and t.error() on failure. A connecting record is an ordinary Conn with
# `connecting` set and `made` 0: it has no callbacks until it is up, and the one
# close path frees it without connection_lost if it never was. `connect_timeout`
# bounds the connect with the record's own timer (the kernel would retry SYNs for
# about two minutes): connect_done then reports ETIMEDOUT.

cdef int resolve_host(Core* core, const char* host, int port, sockaddr_storage* ss,
                      socklen_t* sl) noexcept nogil:
    """A numeric IPv4/IPv6 address, or a name resolved before serving (resolve=)."""
    cdef int i
    memset(ss, 0, sizeof(sockaddr_storage))
    if inet_pton(AF_INET, host, &(<sockaddr_in*>ss).sin_addr) == 1:
        ss.ss_family = AF_INET
        (<sockaddr_in*>ss).sin_port = htons(<unsigned short>port)
        sl[0] = sizeof(sockaddr_in)
        return 0
    if inet_pton(AF_INET6, host, &(<sockaddr_in6*>ss).sin6_addr) == 1:
        ss.ss_family = AF_INET6
        (<sockaddr_in6*>ss).sin6_port = htons(<unsigned short>port)
        sl[0] = sizeof(sockaddr_in6)
        return 0
    for i in range(core.nhosts):
        if strcmp(core.hosts[i].name, host) == 0:
            memcpy(ss, &core.hosts[i].addr, core.hosts[i].len)
            sl[0] = core.hosts[i].len
            if ss.ss_family == AF_INET:
                (<sockaddr_in*>ss).sin_port = htons(<unsigned short>port)
            else:
                (<sockaddr_in6*>ss).sin6_port = htons(<unsigned short>port)
            return 0
    return -1


cdef int conn_connect(Worker* w, Conn* o, const char* host, int port, uint64_t token) noexcept nogil:
    """Start an outbound connection for o. -1 (o.err) when it cannot even start;
    otherwise o hears connect_done later, whatever happens."""
    cdef Core* core = w.core
    cdef sockaddr_storage ss
    cdef socklen_t sl = 0
    cdef int fd, one = 1, r
    cdef uint64_t oh
    cdef Conn* c
    cdef epoll_event ev
    if core.client_proto == NULL:
        o.err = ENOPROTOOPT        # Server(..., client=ClientProtocol) was not given
        return -1
    if port <= 0 or port > 65535 or host == NULL or resolve_host(core, host, port, &ss, &sl) < 0:
        o.err = EINVAL             # not numeric and not in resolve=
        return -1
    oh = conn_handle(w, o)
    if oh == 0:
        return -1
    if pxcy_add_int(core.active, 1) > w.cfg.max_connections:
        pxcy_add_int(core.active, -1)
        o.err = EMFILE
        return -1
    fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)
    if fd < 0:
        o.err = errno
        pxcy_add_int(core.active, -1)
        return -1
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one))
    c = conn_new(w, fd)
    if c == NULL:
        c_close(fd)
        pxcy_add_int(core.active, -1)
        o.err = ENOMEM
        return -1
    memcpy(conn_proto(c), core.client_proto, core.client_size)
    c.origin = oh
    c.token = token
    c.connecting = 1
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET
    ev.data.ptr = c
    if epoll_ctl(w.epfd, EPOLL_CTL_ADD, fd, &ev) < 0:
        o.err = errno
        conn_free(w, c)
        return -1
    pxcy_stat_add(&w.stats.connects, 1)
    if w.cfg.connect_timeout_ms:
        # the connection's timer (rt/connection.pyx) ends the connect at this deadline
        c.deadline = w.now + w.cfg.connect_timeout_ms
        conn_timer_need(w, c, c.deadline)
    r = connect(fd, <sockaddr*>&ss, sl)
    if r < 0 and errno != EINPROGRESS:
        c.err = errno               # reported from the ready list, like a late failure
        c.connecting = 2
        ready_push(w, c)
    return 0


cdef void conn_connect_event(Worker* w, Conn* c, uint32_t ev) noexcept nogil:
    """An epoll event for a connecting record: up (EPOLLOUT, SO_ERROR 0) or failed."""
    cdef int err = 0
    cdef socklen_t sl = sizeof(err)
    if not (ev & (EPOLLOUT | EPOLLERR | EPOLLHUP)):
        return
    if getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &sl) < 0:
        err = errno
    if err == 0 and (ev & (EPOLLERR | EPOLLHUP)) and not (ev & EPOLLOUT):
        err = ECONNREFUSED
    conn_connected(w, c, err)


cdef void conn_connected(Worker* w, Conn* c, int err) noexcept nogil:
    """The connect finished: connection_made on the new connection, then
    connect_done(token, handle | 0) on the one that asked (if it is still there)."""
    cdef uint64_t h = 0
    cdef uint64_t token = c.token
    cdef uint64_t origin = c.origin
    cdef Conn* o
    cdef int ret
    c.connecting = 0
    c.deadline = 0                  # the connect timeout is over (its timer re-checks lazily)
    if err == 0:
        c.made = 1
        if conn_after(w, c, (<Protocol>conn_proto(c)).connection_made(<Transport>bind(w, c))) < 0:
            err = ECONNABORTED      # its own connection_made dropped it (c is gone)
        else:
            h = conn_handle(w, c)
            c.want |= W_READ        # bytes may have come with the connect (edge-triggered)
            ready_push(w, c)
    else:
        conn_free(w, c)             # never made: no connection_lost (frees its timer)
    if err != 0:
        pxcy_stat_add(&w.stats.connect_errors, 1)
    o = handle_lookup(w, origin)
    if o != NULL and conn_callbacks_allowed(o):
        o.err = err
        ret = (<Protocol>conn_proto(o)).connect_done(<Transport>bind(w, o), token, h)
        pxcy_stat_add(&w.stats.callbacks, 1)
        conn_after(w, o, ret)
