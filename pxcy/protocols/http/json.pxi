# The JSON writer's memory: the connection's transient heap (includes/http_json.h).

cdef void* json_alloc(void* t, size_t n) noexcept nogil:
    return (<Transport><PyObject*>t).alloc(n)
