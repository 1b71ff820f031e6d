# cython: language_level=3
"""The Linux and libc calls the runtime makes, mirrored 1:1 (private to pxcy.runtime)."""
from libc.stdint cimport uint32_t, uint64_t

cdef extern from "pxcy/includes/atomics.h" nogil:
    int pxcy_load_int(int* p)
    void pxcy_store_int(int* p, int v)
    int pxcy_add_int(int* p, int v)
    uint64_t pxcy_load_u64(uint64_t* p)
    void pxcy_store_u64(uint64_t* p, uint64_t v)
    void pxcy_stat_add(uint64_t* p, uint64_t v)
    void pxcy_stat_max(uint64_t* p, uint64_t v)
    size_t pxcy_load_size(size_t* p)
    # the same single-writer store for a size_t (generic macro)
    void pxcy_size_add "pxcy_stat_add"(size_t* p, size_t v)

cdef extern from "<signal.h>" nogil:
    ctypedef struct sigset_t:
        pass
    enum:
        SIG_BLOCK, SIG_SETMASK
        SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGABRT, SIGSYS
    int sigfillset(sigset_t* s)
    int sigdelset(sigset_t* s, int sig)
    int pthread_sigmask(int how, const sigset_t* s, sigset_t* old)
    ctypedef void (*sighandler_t)(int) noexcept nogil
    sighandler_t SIG_DFL
    sighandler_t signal(int sig, sighandler_t handler)

cdef extern from "<unistd.h>" nogil:
    ctypedef int pid_t
    pid_t fork()
    void _exit(int status)

cdef extern from "<sys/wait.h>" nogil:
    pid_t waitpid(pid_t pid, int* status, int options)
    bint WIFEXITED(int status)
    int WEXITSTATUS(int status)

cdef extern from "<sys/resource.h>" nogil:
    ctypedef unsigned long rlim_t
    struct rlimit:
        rlim_t rlim_cur
        rlim_t rlim_max
    enum: RLIMIT_CORE
    int setrlimit(int resource, const rlimit* rlim)

cdef extern from "<pthread.h>" nogil:
    ctypedef unsigned long pthread_t
    ctypedef struct pthread_attr_t:
        pass
    int pthread_create(pthread_t*, const pthread_attr_t*, void* (*)(void*) noexcept nogil, void*)
    int pthread_join(pthread_t, void**)

cdef extern from "<stdlib.h>" nogil:
    int posix_memalign(void** p, size_t align, size_t n)

cdef extern from "<sys/epoll.h>" nogil:
    ctypedef union epoll_data_t:
        void* ptr
        int fd
        uint64_t u64
    struct epoll_event:
        uint32_t events
        epoll_data_t data
    enum:
        EPOLLIN, EPOLLOUT, EPOLLERR, EPOLLHUP, EPOLLRDHUP, EPOLLET, EPOLLEXCLUSIVE
        EPOLL_CTL_ADD, EPOLL_CTL_DEL, EPOLL_CLOEXEC
    int epoll_create1(int flags)
    int epoll_ctl(int epfd, int op, int fd, epoll_event* ev)
    int epoll_wait(int epfd, epoll_event* events, int maxevents, int timeout)

cdef extern from "<sys/eventfd.h>" nogil:
    enum: EFD_NONBLOCK, EFD_CLOEXEC
    int eventfd(unsigned int initval, int flags)

cdef extern from "<sys/uio.h>" nogil:
    struct iovec:
        void* iov_base
        size_t iov_len

cdef extern from "<sys/socket.h>" nogil:
    ctypedef unsigned int socklen_t
    struct sockaddr:
        pass
    struct sockaddr_storage:
        unsigned short ss_family
    struct msghdr:
        void* msg_name
        socklen_t msg_namelen
        iovec* msg_iov
        size_t msg_iovlen
        void* msg_control
        size_t msg_controllen
        int msg_flags
    enum:
        SOCK_NONBLOCK, SOCK_CLOEXEC, SHUT_WR, MSG_MORE, MSG_NOSIGNAL
        AF_INET, AF_INET6, AF_UNIX
    int accept4(int fd, sockaddr* addr, socklen_t* len, int flags)
    int shutdown(int fd, int how)
    ssize_t sendmsg(int fd, const msghdr* msg, int flags)
    int setsockopt(int fd, int level, int optname, const void* optval, socklen_t optlen)
    int getpeername(int fd, sockaddr* addr, socklen_t* len)

cdef extern from "<netinet/in.h>" nogil:
    enum: IPPROTO_TCP
    struct in_addr:
        pass
    struct in6_addr:
        pass
    struct sockaddr_in:
        unsigned short sin_port
        in_addr sin_addr
    struct sockaddr_in6:
        unsigned short sin6_port
        in6_addr sin6_addr
    unsigned short ntohs(unsigned short)

cdef extern from "<netinet/tcp.h>" nogil:
    enum: TCP_NODELAY

cdef extern from "<arpa/inet.h>" nogil:
    const char* inet_ntop(int af, const void* src, char* dst, socklen_t size)

cdef extern from "<sys/sendfile.h>" nogil:
    ssize_t c_sendfile "sendfile"(int out_fd, int in_fd, long* offset, size_t count)

cdef extern from "<sys/stat.h>" nogil:
    struct struct_stat "stat":
        long st_size
    int fstat(int fd, struct_stat* st)

cdef extern from "<time.h>" nogil:
    struct timespec:
        long tv_sec
        long tv_nsec
    enum: CLOCK_MONOTONIC
    int clock_gettime(int clk, timespec* ts)

cdef extern from "<stdio.h>" nogil:
    int snprintf(char* buf, size_t n, const char* fmt, ...)

# outbound connections (rt/connect.pyx) and the Python thread pool's queue (rt/defer.pyx)
cdef extern from "<sys/socket.h>" nogil:
    enum: SOCK_STREAM, SOL_SOCKET, SO_ERROR
    int socket(int domain, int type, int protocol)
    int connect(int fd, const sockaddr* addr, socklen_t len)
    int getsockopt(int fd, int level, int optname, void* optval, socklen_t* optlen)

cdef extern from "<arpa/inet.h>" nogil:
    int inet_pton(int af, const char* src, void* dst)
    unsigned short htons(unsigned short)

cdef extern from "<pthread.h>" nogil:
    ctypedef struct pthread_mutex_t:
        pass
    ctypedef struct pthread_cond_t:
        pass
    int pthread_mutex_init(pthread_mutex_t* m, const void* attr)
    int pthread_mutex_destroy(pthread_mutex_t* m)
    int pthread_mutex_lock(pthread_mutex_t* m)
    int pthread_mutex_unlock(pthread_mutex_t* m)
    int pthread_cond_init(pthread_cond_t* c, const void* attr)
    int pthread_cond_destroy(pthread_cond_t* c)
    int pthread_cond_wait(pthread_cond_t* c, pthread_mutex_t* m)
    int pthread_cond_broadcast(pthread_cond_t* c)
    int pthread_cond_signal(pthread_cond_t* c)

cdef extern from "pxcy/includes/atomics.h" nogil:
    void* pxcy_xchg_ptr(void** p, void* v)
    bint pxcy_cas_ptr(void** p, void** expected, void* v)
    void* pxcy_load_ptr(void** p)

cdef extern from "pxcy/includes/syscalls.h" nogil:
    # recv, send, sendmsg, epoll_wait without the cancellation-point bookkeeping (see the header)
    ssize_t pxcy_sys_recv(int fd, void* buf, size_t n)
    ssize_t pxcy_sys_send(int fd, const void* buf, size_t n, int flags)
    ssize_t pxcy_sys_sendmsg(int fd, const msghdr* m, int flags)
    int pxcy_sys_epoll_wait(int epfd, epoll_event* ev, int maxevents, int timeout)

