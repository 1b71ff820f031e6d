# The prototype check and snapshot (included into pxcy/runtime.pyx).
#
# Every connection's `self` is a memcpy of one instance, made without the GIL, and
# never reaches Python code. That is only sound for a class whose instances are
# plain C data, so the class is judged level by level up to Protocol from what
# its type object shows: no __dict__ or __weakref__ slot, no Python-object member
# or traverse slot (object fields), and, from the state Cython's generated
# pickling reads field by field off a fresh instance, no object or memoryview
# field (this also catches @cython.no_gc object fields). A __cinit__ that sets a
# field shows as a fresh instance (tp_new, with the GIL) that is not all zeros;
# a class that means it (HttpProtocol's shared, read-only route table) says so
# with `pxcy_cinit_shared = True` in its body.
# The pickling probe runs in a forked child: Cython pickles a char* field as bytes,
# so a fresh instance's NULL char* crashes it (PyBytes_FromString(NULL)); such a
# class is accepted, as one whose pointers cannot be pickled at all.
# Limits: Cython gives every subclass in another module its own tp_dealloc, so a
# bare __dealloc__ cannot be told from the type (the copies never run it: only
# what __cinit__ would set up matters, and that is checked); and a class with
# pointer fields has no pickling state to read, so a memoryview next to a pointer
# is not seen.
# The copy source is a snapshot taken at start().

cdef extern from "structmember.h":
    ctypedef struct PyMemberDef:
        const char* name
        int type
    enum:
        T_OBJECT, T_OBJECT_EX

cdef extern from "Python.h":
    ctypedef struct PyTypeObjectLayout "PyTypeObject":
        void* tp_traverse
        Py_ssize_t tp_weaklistoffset
        Py_ssize_t tp_dictoffset
        Py_ssize_t tp_basicsize
        PyMemberDef* tp_members

REFUSED = ("a connection's self is copied from the prototype without the GIL, so a "
           "Protocol class may hold only C-typed fields (numbers, pxcy_bytes, C arrays, "
           "pointers to global data) and define no __cinit__/__dealloc__; keep Python "
           "objects and memoryviews in module globals set up before the server starts")


cdef str _layout_problem(type cls):
    """What makes instances of cls unsafe to copy without the GIL, or None."""
    cdef PyTypeObjectLayout* t
    cdef PyMemberDef* m
    for klass in cls.__mro__:
        if klass is Protocol:
            break
        name = f"{klass.__module__}.{klass.__qualname__}"
        t = <PyTypeObjectLayout*>klass
        if t.tp_dictoffset:
            return f"{name} has a __dict__ (a Python class, or a cdef class with __dict__)"
        if t.tp_weaklistoffset:
            return f"{name} has a __weakref__ field"
        m = t.tp_members
        while m != NULL and m.name != NULL:
            if m.type == T_OBJECT or m.type == T_OBJECT_EX:
                return f"{name} has a Python-object field '{m.name.decode()}'"
            m += 1
        if t.tp_traverse != NULL:
            return f"{name} has a Python-object field"
    return None


cdef int _pickled_fields(object fresh):
    """0: plain fields (or nothing to read), 1: a memoryview field, 2: an object field."""
    try:
        red = fresh.__reduce_cython__()
    except AttributeError as e:
        return 1 if "emoryview" in str(e) else 0
    except Exception:
        return 0                    # pointer fields: not picklable, nothing to read
    try:
        state = red[1][2]
    except Exception:
        return 0
    if isinstance(state, tuple):
        for v in state:
            if v is None or not isinstance(v, (int, float, complex, bytes, list, dict, tuple)):
                return 2
    return 0


cdef str _fields_problem(type cls, object fresh):
    """Cython's pickling reads every field of a fresh instance: an object field
    reads as None, an unset memoryview raises. Run in a child process (see above)."""
    cdef int status = 0
    cdef int code = 0
    cdef rlimit no_core
    name = f"{cls.__module__}.{cls.__qualname__}"
    if not hasattr(fresh, "__reduce_cython__"):
        return None
    cdef pid_t pid = fork()
    if pid == 0:                    # the child: this thread only, the GIL held; never returns
        signal(SIGSEGV, SIG_DFL)    # (not faulthandler's report of an expected crash)
        signal(SIGBUS, SIG_DFL)
        no_core.rlim_cur = no_core.rlim_max = 0
        setrlimit(RLIMIT_CORE, &no_core)
        try:
            code = _pickled_fields(fresh)
        except BaseException:
            code = 0
        _exit(code)
    if pid < 0:
        return None                 # cannot fork: accept, as for unpicklable fields
    while waitpid(pid, &status, 0) < 0:
        if errno != EINTR:
            return None
    code = WEXITSTATUS(status) if WIFEXITED(status) else 0   # crashed: a NULL char* field
    if code == 1:
        return f"{name} has a memoryview field"
    if code == 2:
        return f"{name} has a Python-object field"
    return None


cdef str _cinit_problem(type cls):
    """A fresh instance must be zero past the header and vtable pointer: a
    __cinit__ that sets a field (a malloc'd pointer, say) would be shared by
    every connection's copy."""
    cdef PyTypeObjectLayout* t = <PyTypeObjectLayout*>cls
    cdef size_t start = sizeof(PyObject) + sizeof(void*)
    cdef const unsigned char* p
    cdef Py_ssize_t i
    name = f"{cls.__module__}.{cls.__qualname__}"
    try:
        fresh = cls.__new__(cls)
    except Exception as e:
        return f"{name} defines __cinit__ ({type(e).__name__}: {e})"
    problem = _fields_problem(cls, fresh)
    if problem:
        return problem
    p = <const unsigned char*><PyObject*>fresh
    if not getattr(cls, "pxcy_cinit_shared", False):
        for i in range(start, t.tp_basicsize):
            if p[i]:
                return (f"{name} defines __cinit__, which sets a field (every connection's copy "
                        "would share it; if that is meant, e.g. a read-only table, declare "
                        "pxcy_cinit_shared = True in the class body)")
    return None


cdef object check_protocol(object protocol):
    """The prototype instance for `protocol` (a Protocol subclass or instance);
    TypeError (one line, naming the class and what is wrong) for a refused one."""
    if isinstance(protocol, type):
        if not issubclass(protocol, Protocol):
            raise TypeError(f"{protocol.__module__}.{protocol.__qualname__} is not a pxcy.runtime.Protocol subclass")
    elif not isinstance(protocol, Protocol):
        raise TypeError(f"{protocol!r} is not a pxcy.runtime.Protocol subclass or instance")
    cls = protocol if isinstance(protocol, type) else type(protocol)
    problem = _layout_problem(cls) or _cinit_problem(cls)
    if problem:
        raise TypeError(f"{problem}: {REFUSED}")
    if isinstance(protocol, type):
        protocol = protocol()
    return protocol


cdef char* snapshot_prototype(object proto) except NULL:
    """A private copy of the prototype's bytes, taken with the GIL: connections are
    copied from it, so the main thread changing the prototype (its refcount, a
    `cdef public` field) while serving changes nothing they see."""
    cdef size_t n = Py_TYPE(proto).tp_basicsize
    cdef char* s = <char*>malloc(n)
    if s == NULL:
        raise MemoryError()
    memcpy(s, <void*><PyObject*>proto, n)
    return s
