# Prometheus text exposition (format 0.0.4) of the runtime's counters (included into
# pxcy/runtime.pyx). Written without the GIL by whichever worker serves /metrics:
# it reads the other workers' counters with relaxed loads (each is written by its
# own worker only), so a scrape never stops or slows the workers.

cdef extern from "<stdio.h>" nogil:
    int snprintf(char* buf, size_t n, const char* fmt, ...)

# (name, help, type, Stats field) of the per-worker series; the field is named, its
# index taken from its address in a template record (no index to keep in step)
cdef struct MetricDef:
    const char* name
    const char* help
    const char* kind
    int index

cdef MetricDef METRICS[18]
cdef int NMETRICS = 0

cdef Stats STATS_TEMPLATE          # only its field addresses are used


cdef void metric_def(const char* name, const char* help, const char* kind, uint64_t* field) noexcept:
    global NMETRICS
    METRICS[NMETRICS].name = name
    METRICS[NMETRICS].help = help
    METRICS[NMETRICS].kind = kind
    METRICS[NMETRICS].index = <int>(field - <uint64_t*>&STATS_TEMPLATE)
    NMETRICS += 1

metric_def("pxcy_connections_accepted_total", "Connections accepted.", "counter", &STATS_TEMPLATE.accepted)
metric_def("pxcy_connections_closed_total", "Connections closed.", "counter", &STATS_TEMPLATE.closed)
metric_def("pxcy_connections_rejected_total", "Connections refused (max_connections).", "counter", &STATS_TEMPLATE.rejected)
metric_def("pxcy_received_bytes_total", "Bytes read from clients.", "counter", &STATS_TEMPLATE.bytes_in)
metric_def("pxcy_sent_bytes_total", "Bytes written to clients (memory and files).", "counter", &STATS_TEMPLATE.bytes_out)
metric_def("pxcy_callbacks_total", "Protocol callbacks run.", "counter", &STATS_TEMPLATE.callbacks)
metric_def("pxcy_reads_total", "read calls.", "counter", &STATS_TEMPLATE.reads)
metric_def("pxcy_writes_total", "sendmsg/sendfile calls.", "counter", &STATS_TEMPLATE.writes)
metric_def("pxcy_requests_total", "Requests answered.", "counter", &STATS_TEMPLATE.requests)
metric_def("pxcy_errors_total", "Callbacks that failed (connection aborted).", "counter", &STATS_TEMPLATE.errors)
metric_def("pxcy_accept_pauses_total", "Accepting paused for lack of descriptors or memory.", "counter", &STATS_TEMPLATE.accept_pauses)
metric_def("pxcy_loop_turns_total", "Event loop iterations.", "counter", &STATS_TEMPLATE.turns)
metric_def("pxcy_idle_timeouts_total", "Connections closed idle.", "counter", &STATS_TEMPLATE.idle_timeouts)
metric_def("pxcy_deadline_timeouts_total", "Connections closed at their deadline.", "counter", &STATS_TEMPLATE.deadline_timeouts)
metric_def("pxcy_write_timeouts_total", "Connections closed because the client stopped reading.", "counter", &STATS_TEMPLATE.write_timeouts)
metric_def("pxcy_timers_fired_total", "Timers fired.", "counter", &STATS_TEMPLATE.timers_fired)
metric_def("pxcy_health_checks_total", "GET /healthz answered.", "counter", &STATS_TEMPLATE.health_checks)
metric_def("pxcy_input_buffer_peak_bytes", "Largest pending input of any connection.", "gauge", &STATS_TEMPLATE.input_peak)

cdef const char* CLASS_NAMES[6]
CLASS_NAMES[0] = "other"
CLASS_NAMES[1] = "1xx"
CLASS_NAMES[2] = "2xx"
CLASS_NAMES[3] = "3xx"
CLASS_NAMES[4] = "4xx"
CLASS_NAMES[5] = "5xx"


cdef inline size_t put_text(char* buf, size_t cap, size_t at, const char* s) noexcept nogil:
    cdef size_t n = strlen(s)
    if at + n < cap:
        memcpy(buf + at, s, n)
    return at + n


cdef inline size_t put_fmt_u64(char* buf, size_t cap, size_t at, const char* name,
                               const char* label, int worker, uint64_t v) noexcept nogil:
    cdef char line[256]
    cdef int k
    if label != NULL:
        k = snprintf(line, sizeof(line), "%s{worker=\"%d\",class=\"%s\"} %llu\n", name, worker,
                     label, <unsigned long long>v)
    elif worker >= 0:
        k = snprintf(line, sizeof(line), "%s{worker=\"%d\"} %llu\n", name, worker, <unsigned long long>v)
    else:
        k = snprintf(line, sizeof(line), "%s %llu\n", name, <unsigned long long>v)
    if k < 0:
        return at
    if at + <size_t>k < cap:
        memcpy(buf + at, line, k)
    return at + k


cdef inline size_t put_head(char* buf, size_t cap, size_t at, const char* name,
                            const char* help, const char* kind) noexcept nogil:
    at = put_text(buf, cap, at, "# HELP ")
    at = put_text(buf, cap, at, name)
    at = put_text(buf, cap, at, " ")
    at = put_text(buf, cap, at, help)
    at = put_text(buf, cap, at, "\n# TYPE ")
    at = put_text(buf, cap, at, name)
    at = put_text(buf, cap, at, " ")
    at = put_text(buf, cap, at, kind)
    return put_text(buf, cap, at, "\n")


cdef size_t metrics_format(Core* core, char* buf, size_t cap) noexcept nogil:
    """Write the exposition into buf (NUL-terminated when it fits); returns the
    length it needs, like snprintf: call again with a larger buffer if >= cap."""
    cdef size_t at = 0
    cdef int i, m, k
    cdef Worker* w
    cdef uint64_t* s
    at = put_head(buf, cap, at, "pxcy_workers", "Worker threads.", "gauge")
    at = put_fmt_u64(buf, cap, at, "pxcy_workers", NULL, -1, core.nworkers)
    at = put_head(buf, cap, at, "pxcy_draining", "1 while the server drains (stop pending).", "gauge")
    at = put_fmt_u64(buf, cap, at, "pxcy_draining", NULL, -1, pxcy_load_int(&core.draining))
    at = put_head(buf, cap, at, "pxcy_connections_open", "Open connections, all workers.", "gauge")
    at = put_fmt_u64(buf, cap, at, "pxcy_connections_open", NULL, -1, <uint64_t>pxcy_load_int(core.active))
    at = put_head(buf, cap, at, "pxcy_worker_connections", "Connections a worker holds.", "gauge")
    for i in range(core.nworkers):
        at = put_fmt_u64(buf, cap, at, "pxcy_worker_connections", NULL, i,
                         pxcy_load_size(&core.workers[i].nconns))
    for m in range(NMETRICS):
        at = put_head(buf, cap, at, METRICS[m].name, METRICS[m].help, METRICS[m].kind)
        for i in range(core.nworkers):
            s = <uint64_t*>&core.workers[i].stats
            at = put_fmt_u64(buf, cap, at, METRICS[m].name, NULL, i, pxcy_load_u64(&s[METRICS[m].index]))
    at = put_head(buf, cap, at, "pxcy_transient_heap_peak_bytes",
                  "Largest transient heap any connection of the worker held.", "gauge")
    for i in range(core.nworkers):
        at = put_fmt_u64(buf, cap, at, "pxcy_transient_heap_peak_bytes", NULL, i,
                         pxcy_load_size(&core.workers[i].tpool.peak))
    at = put_head(buf, cap, at, "pxcy_http_responses_total", "Responses by status class.", "counter")
    for i in range(core.nworkers):
        s = &core.workers[i].stats.responses[0]       # the field itself, not an index
        for k in range(6):
            at = put_fmt_u64(buf, cap, at, "pxcy_http_responses_total", CLASS_NAMES[k], i,
                             pxcy_load_u64(&s[k]))
    if at < cap:
        buf[at] = 0
    elif cap:
        buf[cap - 1] = 0
    return at


def metric_fields():
    """[(series name, index in Stats)] of the per-worker counters: a test checks them
    against the names of stats() (_STAT_ORDER)."""
    return [(METRICS[m].name.decode(), METRICS[m].index) for m in range(NMETRICS)]
