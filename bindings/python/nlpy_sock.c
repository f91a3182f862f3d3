/* The C base type of netlab.socket; see nlpy_sock.h for what it does and why. */
#include "nlpy_sock.h"

#include <arpa/inet.h>
#include <limits.h>
#include <math.h>
#include <string.h>
#include <structmember.h>
#include <time.h>

static nlpy_hooks hooks;

typedef struct {
    PyObject_HEAD
    PyObject *h_obj;     /* the SWIG handle object (`_h`), owning the box        */
    nlpy_sock *h;        /* the box inside it, NULL until `_h` is set            */
    double timeout;      /* seconds; < 0: None (blocking)                        */
    int fd_nonblock;     /* what O_NONBLOCK was last set to: -1 unknown, 0, 1    */
    nl_endpoint from_ep; /* the last sender ...                                 */
    PyObject *from_obj;  /* ... and its address tuple, or NULL                  */
    PyObject *dst_obj;   /* the last destination given to sendto() ...          */
    nl_endpoint dst_ep;  /* ... and its endpoint                                */
    nl_udp_msg *bmsgs;   /* recvmmsg()'s buffers, kept between calls: bcount     */
    char *barena;        /* ... messages of bsize bytes in barena               */
    long bcount, bsize;
    int bbusy;           /* a recvmmsg() is using them (another thread may call) */
    PyObject *weakrefs;
} pysock;

/* ---- Time-outs ---------------------------------------------------------------------------- */

static int64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* A call's waiting budget. The deadline is read from the clock only when the socket has a
 * time-out, and only once per call: a retry after a signal gets what is left. */
typedef struct {
    double timeout;
    int64_t deadline; /* 0: not started */
} budget;

#define TIMED_OUT INT_MIN

/* The timeout_ms for the next library call: -1 blocking, 0 non-blocking, else what is left
 * (rounded up, so the time-out never ends early); TIMED_OUT when nothing is left. */
static int next_ms(budget *b)
{
    double left_ms;

    if (b->timeout < 0)
        return -1;
    if (b->timeout == 0)
        return 0;
    if (b->deadline == 0) {
        b->deadline = now_ns() + (int64_t)(b->timeout * 1e9);
        left_ms = b->timeout * 1e3;
    } else {
        int64_t left = b->deadline - now_ns();
        if (left <= 0)
            return TIMED_OUT;
        left_ms = (double)left / 1e6;
    }
    left_ms = ceil(left_ms);
    return left_ms < 1 ? 1 : left_ms > INT_MAX ? INT_MAX : (int)left_ms;
}

static void raise_timeout(void)
{
    hooks.raise(NL_ETIMEDOUT);
}

/* Whether a call that timed out in the library should wait again: a time-out longer than a C
 * int of milliseconds (24.8 days) is waited for in pieces. */
static int wait_more(const budget *b, long rc)
{
    return rc == NL_ETIMEDOUT && b->deadline != 0 && now_ns() < b->deadline;
}

/* After NL_EINTR: run the signal handlers. -1 when one raised (the call ends with it). */
static int after_signal(void)
{
    return PyErr_CheckSignals();
}

/* Parse a time-out as the stdlib does: None, or seconds >= 0 (int, float or __float__). */
static int parse_timeout(PyObject *v, double *out)
{
    double t;

    if (v == Py_None) {
        *out = -1;
        return 0;
    }
    if (PyUnicode_Check(v) || (!PyLong_Check(v) && !PyFloat_Check(v) &&
                               (Py_TYPE(v)->tp_as_number == NULL ||
                                Py_TYPE(v)->tp_as_number->nb_float == NULL))) {
        PyErr_SetString(PyExc_TypeError, "Timeout value must be int, float or None");
        return -1;
    }
    t = PyFloat_AsDouble(v);
    if (t == -1 && PyErr_Occurred())
        return -1;
    if (isnan(t)) {
        PyErr_SetString(PyExc_ValueError, "Invalid value NaN (not a number)");
        return -1;
    }
    if (t < 0) {
        PyErr_SetString(PyExc_ValueError, "Timeout value out of range");
        return -1;
    }
    if (t * 1e9 >= 9.2e18) { /* the stdlib keeps time-outs in int64 nanoseconds */
        PyErr_SetString(PyExc_OverflowError, "timestamp too large to convert to C _PyTime_t");
        return -1;
    }
    *out = t;
    return 0;
}

/* The descriptor follows the time-out mode: blocking only when the socket blocks. Returns
 * 0, or the fcntl() error (a closed or foreign-closed descriptor: EBADF), which the time-out
 * calls raise as the stdlib's do (the new mode stays set, as there). */
static int sync_nonblocking(pysock *self, int force)
{
    int want = self->timeout >= 0, rc;

    if (self->h == NULL || (!force && self->fd_nonblock == want))
        return 0;
    rc = nlpy_set_nonblocking(self->h, want);
    self->fd_nonblock = rc == 0 ? want : -1;
    return rc;
}

/* sync_nonblocking() for the time-out calls: -1 with OSError set when it failed. */
static int sync_or_raise(pysock *self)
{
    int rc = sync_nonblocking(self, 0);

    if (rc < 0) {
        hooks.raise(rc);
        return -1;
    }
    return 0;
}

static int set_timeout(pysock *self, PyObject *v)
{
    double t;

    if (parse_timeout(v, &t) < 0)
        return -1;
    self->timeout = t;
    return sync_or_raise(self);
}

static PyObject *get_timeout_obj(pysock *self)
{
    if (self->timeout < 0)
        Py_RETURN_NONE;
    return PyFloat_FromDouble(self->timeout);
}

/* ---- Arguments ---------------------------------------------------------------------------- */

/* Whether the handle exists; a socket whose __init__ failed has none. */
static int have_handle(pysock *self)
{
    if (self->h != NULL)
        return 0;
    hooks.raise(NL_EBADF);
    return -1;
}

/* flags: as `if flags: operator.index(flags) != 0 -> NotImplementedError`. */
static int check_flags(PyObject *flags, const char *caller)
{
    Py_ssize_t f;
    int truth;

    if (flags == NULL)
        return 0;
    truth = PyObject_IsTrue(flags);
    if (truth <= 0)
        return truth;
    f = PyNumber_AsSsize_t(flags, PyExc_OverflowError);
    if (f == -1 && PyErr_Occurred())
        return -1;
    if (f != 0) {
        PyErr_Format(PyExc_NotImplementedError, "netlab: %s() flags are not supported", caller);
        return -1;
    }
    return 0;
}

static int check_nargs(const char *name, Py_ssize_t nargs, Py_ssize_t lo, Py_ssize_t hi)
{
    if (nargs >= lo && nargs <= hi)
        return 0;
    if (lo == hi)
        PyErr_Format(PyExc_TypeError, "%s() takes exactly %zd argument%s (%zd given)", name, lo,
                     lo == 1 ? "" : "s", nargs);
    else
        PyErr_Format(PyExc_TypeError, "%s() takes from %zd to %zd positional arguments but %zd "
                     "were given", name, lo, hi, nargs);
    return -1;
}

/* ---- Addresses ---------------------------------------------------------------------------- */

static int same_ep(const nl_endpoint *a, const nl_endpoint *b)
{
    return a->family == b->family && a->port == b->port && a->scope_id == b->scope_id &&
           memcmp(a->addr, b->addr, a->family == NL_AF_INET ? 4 : 16) == 0;
}

/* The sender's address tuple: the last one again when the sender is the same (tuples are
 * immutable, so nobody can tell), else a new one, kept for next time. */
static PyObject *from_addr(pysock *self, const nlpy_addr *a)
{
    PyObject *obj;

    if (a->ep.family == 0)
        Py_RETURN_NONE;
    if (self->from_obj != NULL && same_ep(&self->from_ep, &a->ep)) {
        Py_INCREF(self->from_obj);
        return self->from_obj;
    }
    if ((obj = hooks.addr_to_py(a)) == NULL)
        return NULL;
    Py_XSETREF(self->from_obj, obj);
    self->from_ep = a->ep;
    Py_INCREF(obj);
    return obj;
}

/* Whether address is, for sendto(), the same as the last destination: the same object, or an
 * equal tuple of a str and ints (which cannot change under us). */
static int same_dst(pysock *self, PyObject *address)
{
    PyObject *last = self->dst_obj;
    Py_ssize_t n;

    if (last == NULL)
        return 0;
    if (address == last)
        return 1;
    if (!PyTuple_CheckExact(address) || (n = PyTuple_GET_SIZE(address)) != PyTuple_GET_SIZE(last))
        return 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *x = PyTuple_GET_ITEM(address, i), *y = PyTuple_GET_ITEM(last, i);
        if (x == y)
            continue;
        if (i == 0) {
            if (!PyUnicode_CheckExact(x) || PyUnicode_Compare(x, y) != 0)
                return 0;
        } else if (!PyLong_CheckExact(x) || PyObject_RichCompareBool(x, y, Py_EQ) != 1) {
            return 0;
        }
    }
    return 1;
}

/* Whether an address may be kept: a tuple of a numeric host and ints. A name is looked up
 * again on every call, as the stdlib does, since what it stands for may change. */
static int cacheable(PyObject *address, const char *host)
{
    unsigned char buf[16];
    struct in_addr v4;

    if (!PyTuple_CheckExact(address) || !PyUnicode_CheckExact(PyTuple_GET_ITEM(address, 0)))
        return 0;
    for (Py_ssize_t i = 1; i < PyTuple_GET_SIZE(address); i++)
        if (!PyLong_CheckExact(PyTuple_GET_ITEM(address, i)))
            return 0;
    /* inet_aton() also takes the short IPv4 forms ("127.1"), which nlpy_endpoint() accepts
     * as the stdlib does; they are numeric too. */
    return inet_pton(AF_INET6, host, buf) == 1 || inet_aton(host, &v4) != 0;
}

/* The destination for sendto(): the kept one, or address checked by the Python class's
 * _address() (the stdlib's checks and messages, in one place) and resolved. */
static int dst_endpoint(pysock *self, PyObject *address, nl_endpoint *ep)
{
    PyObject *parts;
    const char *host;
    unsigned long scope;
    long port;
    int rc;

    if (same_dst(self, address)) {
        *ep = self->dst_ep;
        return 0;
    }
    parts = PyObject_CallMethod((PyObject *)self, "_address", "(Os)", address, "sendto");
    if (parts == NULL)
        return -1;
    if (!PyTuple_Check(parts) || PyTuple_GET_SIZE(parts) != 3 ||
        (host = PyUnicode_AsUTF8(PyTuple_GET_ITEM(parts, 0))) == NULL) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_SystemError, "netlab: _address() gave no (host, port, scope)");
        Py_DECREF(parts);
        return -1;
    }
    port = PyLong_AsLong(PyTuple_GET_ITEM(parts, 1));
    scope = PyLong_AsUnsignedLong(PyTuple_GET_ITEM(parts, 2));
    if (PyErr_Occurred()) {
        Py_DECREF(parts);
        return -1;
    }
    /* A name may block in the resolver. */
    Py_BEGIN_ALLOW_THREADS
    rc = nlpy_endpoint(ep, nlpy_family(self->h), host, (int)port, (unsigned)scope);
    Py_END_ALLOW_THREADS
    if (rc < 0) {
        Py_DECREF(parts);
        hooks.raise(rc);
        return -1;
    }
    if (cacheable(address, host)) {
        Py_INCREF(address);
        Py_XSETREF(self->dst_obj, address);
        self->dst_ep = *ep;
    }
    Py_DECREF(parts);
    return 0;
}

/* ---- Receiving ---------------------------------------------------------------------------- */

/* One library call that may wait: call(h, ctx, timeout_ms), a count or an NL_E* code. */
typedef long (*wait_call)(nlpy_sock *h, void *ctx, int ms);

/* call under time-out t: retried after a signal whose handlers did not raise, the GIL released
 * only when the call may wait. -1 with an exception set on failure. The handle object is held
 * meanwhile, so that the box outlives the call whatever other threads do to the socket
 * object. */
static long wait_loop(pysock *self, double t, wait_call call, void *ctx)
{
    budget b = {t, 0};
    PyObject *hold = self->h_obj;
    nlpy_sock *h = self->h;
    long n;
    int ms;

    Py_INCREF(hold);
    for (;;) {
        if ((ms = next_ms(&b)) == TIMED_OUT) {
            raise_timeout();
            n = -1;
            break;
        }
        if (ms == 0) {
            n = call(h, ctx, 0);
        } else {
            Py_BEGIN_ALLOW_THREADS
            n = call(h, ctx, ms);
            Py_END_ALLOW_THREADS
        }
        if (n >= 0)
            break;
        if (wait_more(&b, n))
            continue;
        if (n != NL_EINTR) {
            hooks.raise(n);
            n = -1;
            break;
        }
        if (after_signal() < 0) {
            n = -1;
            break;
        }
    }
    Py_DECREF(hold);
    return n;
}

typedef struct {
    void *buf;
    size_t cap;
    nlpy_addr *from;
} recv_args;

static long call_recv(nlpy_sock *h, void *ctx, int ms)
{
    recv_args *a = ctx;

    return nlpy_recv(h, a->buf, a->cap, a->from, ms);
}

/* nlpy_recv() under the socket's time-out (wait_loop()). */
static long recv_loop(pysock *self, void *buf, size_t cap, nlpy_addr *from)
{
    recv_args a = {buf, cap, from};

    return wait_loop(self, self->timeout, call_recv, &a);
}

static PyObject *recv_common(pysock *self, PyObject *const *args, Py_ssize_t nargs,
                             const char *name, int want_from)
{
    PyObject *bytes, *addr, *res;
    nlpy_addr from;
    Py_ssize_t size;
    long n;

    if (check_nargs(name, nargs, 1, 2) < 0)
        return NULL;
    size = PyNumber_AsSsize_t(args[0], PyExc_OverflowError);
    if (size == -1 && PyErr_Occurred())
        return NULL;
    if (size < 0) {
        PyErr_Format(PyExc_ValueError, "negative buffersize in %s", name);
        return NULL;
    }
    if (size == 0 && !want_from)
        /* recv(0) asks for nothing: a queued datagram stays queued, as in the stdlib (a
         * recv(2) of 0 bytes would take it off the queue). */
        return PyBytes_FromStringAndSize(NULL, 0);
    if (check_flags(nargs > 1 ? args[1] : NULL, name) < 0 || have_handle(self) < 0)
        return NULL;
    if ((bytes = PyBytes_FromStringAndSize(NULL, size)) == NULL)
        return NULL;
    n = recv_loop(self, PyBytes_AS_STRING(bytes), (size_t)size, want_from ? &from : NULL);
    if (n < 0 || (n != size && _PyBytes_Resize(&bytes, (Py_ssize_t)n) < 0)) {
        Py_XDECREF(bytes);
        return NULL;
    }
    if (!want_from)
        return bytes;
    if ((addr = from_addr(self, &from)) == NULL) {
        Py_DECREF(bytes);
        return NULL;
    }
    res = PyTuple_New(2);
    if (res == NULL) {
        Py_DECREF(bytes);
        Py_DECREF(addr);
        return NULL;
    }
    PyTuple_SET_ITEM(res, 0, bytes);
    PyTuple_SET_ITEM(res, 1, addr);
    return res;
}

static PyObject *sock_recv(pysock *self, PyObject *const *args, Py_ssize_t nargs)
{
    return recv_common(self, args, nargs, "recv", 0);
}

static PyObject *sock_recvfrom(pysock *self, PyObject *const *args, Py_ssize_t nargs)
{
    return recv_common(self, args, nargs, "recvfrom", 1);
}

/* recv_into(buffer, nbytes=0, flags=0) and recvfrom_into(): into a writable buffer. */
static PyObject *into_common(pysock *self, PyObject *const *args, Py_ssize_t nargs,
                             const char *name, int want_from)
{
    Py_buffer view;
    PyObject *addr, *res;
    nlpy_addr from;
    Py_ssize_t want = 0;
    long n;

    if (check_nargs(name, nargs, 1, 3) < 0)
        return NULL;
    if (check_flags(nargs > 2 ? args[2] : NULL, name) < 0)
        return NULL;
    if (PyObject_GetBuffer(args[0], &view, PyBUF_WRITABLE) < 0) {
        PyErr_Clear();
        PyErr_Format(PyExc_TypeError, "%s() argument 'buffer' must be read-write bytes-like "
                     "object, not %.100s", name, Py_TYPE(args[0])->tp_name);
        return NULL;
    }
    if (nargs > 1) {
        want = PyNumber_AsSsize_t(args[1], PyExc_OverflowError);
        if (want == -1 && PyErr_Occurred())
            goto fail;
        if (want < 0) {
            PyErr_Format(PyExc_ValueError, "negative buffersize in %s", name);
            goto fail;
        }
        if (want > view.len) {
            PyErr_SetString(PyExc_ValueError, "buffer too small for requested bytes");
            goto fail;
        }
    }
    if (have_handle(self) < 0)
        goto fail;
    n = recv_loop(self, view.buf, (size_t)(want ? want : view.len), want_from ? &from : NULL);
    PyBuffer_Release(&view);
    if (n < 0)
        return NULL;
    if (!want_from)
        return PyLong_FromLong(n);
    if ((addr = from_addr(self, &from)) == NULL)
        return NULL;
    res = Py_BuildValue("(lN)", n, addr);
    return res;
fail:
    PyBuffer_Release(&view);
    return NULL;
}

static PyObject *sock_recv_into(pysock *self, PyObject *const *args, Py_ssize_t nargs)
{
    return into_common(self, args, nargs, "recv_into", 0);
}

static PyObject *sock_recvfrom_into(pysock *self, PyObject *const *args, Py_ssize_t nargs)
{
    return into_common(self, args, nargs, "recvfrom_into", 1);
}

/* ---- Batches ----------------------------------------------------------------------------- */

/* recvmmsg()'s buffers are kept between calls up to this size (count x bufsize); a larger
 * request, or one while another thread's recvmmsg() uses them, gets buffers of its own. */
#define KEEP_BATCH_BYTES (256 * 1024)

typedef struct {
    nl_udp_msg *msgs;
    long count;
} batch_args;

static long call_recv_msgs(nlpy_sock *h, void *ctx, int ms)
{
    batch_args *a = ctx;

    return nlpy_recv_msgs(h, a->msgs, a->count, ms);
}

/* Buffers for count datagrams of bufsize bytes: the kept ones (grown if need be) when free and
 * small enough, else new ones (*own set: the caller frees them). NULL with MemoryError set. */
static nl_udp_msg *batch_buffers(pysock *self, long count, long bufsize, int *own)
{
    size_t bytes = (size_t)count * (size_t)bufsize;
    nl_udp_msg *msgs;
    char *arena;

    /* What is kept counts the message array too: recvmmsg(10**7, 0) keeps nothing. */
    *own = self->bbusy || bytes + (size_t)count * sizeof *msgs > KEEP_BATCH_BYTES;
    if (!*own && self->bmsgs != NULL && count <= self->bcount && bufsize == self->bsize) {
        self->bbusy = 1;
        return self->bmsgs;
    }
    msgs = PyMem_RawMalloc((size_t)count * sizeof *msgs);
    arena = PyMem_RawMalloc(bytes + 1);
    if (msgs == NULL || arena == NULL) {
        PyMem_RawFree(msgs);
        PyMem_RawFree(arena);
        PyErr_NoMemory();
        return NULL;
    }
    memset(msgs, 0, (size_t)count * sizeof *msgs);
    for (long i = 0; i < count; i++) {
        msgs[i].buf = arena + (size_t)i * (size_t)bufsize;
        msgs[i].cap = (size_t)bufsize;
    }
    if (!*own) {
        PyMem_RawFree(self->barena);
        PyMem_RawFree(self->bmsgs);
        self->bmsgs = msgs;
        self->barena = arena;
        self->bcount = count;
        self->bsize = bufsize;
        self->bbusy = 1;
    }
    return msgs;
}

static void batch_release(pysock *self, nl_udp_msg *msgs, int own)
{
    if (own) {
        PyMem_RawFree(msgs[0].buf); /* the arena: msgs[0].buf is its start */
        PyMem_RawFree(msgs);
    } else {
        self->bbusy = 0;
    }
}

static void batch_free(pysock *self)
{
    if (self->bmsgs != NULL && !self->bbusy) {
        PyMem_RawFree(self->barena);
        PyMem_RawFree(self->bmsgs);
        self->bmsgs = NULL;
        self->barena = NULL;
        self->bcount = 0;
    }
}

/* The received datagrams as [(bytes, address), ...]; a sender's tuple is made once and given
 * again while the sender stays the same (from_addr(): across calls too). */
static PyObject *batch_list(pysock *self, const nl_udp_msg *msgs, long n)
{
    PyObject *list = PyList_New(n);
    nlpy_addr a;

    if (list == NULL)
        return NULL;
    a.sock_family = nlpy_family(self->h);
    for (long i = 0; i < n; i++) {
        PyObject *data, *addr, *item;

        a.ep = msgs[i].peer;
        if ((addr = from_addr(self, &a)) == NULL)
            goto fail;
        if ((data = PyBytes_FromStringAndSize(msgs[i].buf, (Py_ssize_t)msgs[i].len)) == NULL ||
            (item = PyTuple_New(2)) == NULL) {
            Py_XDECREF(data);
            Py_DECREF(addr);
            goto fail;
        }
        PyTuple_SET_ITEM(item, 0, data);
        PyTuple_SET_ITEM(item, 1, addr);
        PyList_SET_ITEM(list, i, item);
    }
    return list;
fail:
    Py_DECREF(list);
    return NULL;
}

/* recvmmsg(count, bufsize, timeout=<the socket's>): the arguments as the stdlib's methods
 * take them (positional or by name). */
static int batch_args_parse(PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames,
                            PyObject *argv[3])
{
    static const char *const names[] = {"count", "bufsize", "timeout"};
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;

    argv[0] = argv[1] = argv[2] = NULL;
    if (nargs > 3) {
        PyErr_Format(PyExc_TypeError, "recvmmsg() takes from 2 to 3 positional arguments but "
                     "%zd were given", nargs);
        return -1;
    }
    for (Py_ssize_t i = 0; i < nargs; i++)
        argv[i] = args[i];
    for (Py_ssize_t i = 0; i < nkw; i++) {
        PyObject *key = PyTuple_GET_ITEM(kwnames, i);
        int j = 0;

        while (j < 3 && PyUnicode_CompareWithASCIIString(key, names[j]) != 0)
            j++;
        if (j == 3) {
            PyErr_Format(PyExc_TypeError, "recvmmsg() got an unexpected keyword argument '%U'",
                         key);
            return -1;
        }
        if (argv[j] != NULL) {
            PyErr_Format(PyExc_TypeError, "recvmmsg() got multiple values for argument '%s'",
                         names[j]);
            return -1;
        }
        argv[j] = args[nargs + i];
    }
    for (int j = 0; j < 2; j++)
        if (argv[j] == NULL) {
            PyErr_Format(PyExc_TypeError, "recvmmsg() missing required argument '%s'",
                         names[j]);
            return -1;
        }
    return 0;
}

static PyObject *sock_recvmmsg(pysock *self, PyObject *const *args, Py_ssize_t nargs,
                               PyObject *kwnames)
{
    PyObject *argv[3], *list;
    double t = self->timeout;
    Py_ssize_t count, bufsize;
    batch_args a;
    int own = 1;
    long n;

    if (batch_args_parse(args, nargs, kwnames, argv) < 0)
        return NULL;
    if ((count = PyNumber_AsSsize_t(argv[0], PyExc_OverflowError)) == -1 && PyErr_Occurred())
        return NULL;
    if ((bufsize = PyNumber_AsSsize_t(argv[1], PyExc_OverflowError)) == -1 && PyErr_Occurred())
        return NULL;
    if (count < 0 || bufsize < 0) {
        PyErr_SetString(PyExc_ValueError, "negative count or buffersize in recvmmsg");
        return NULL;
    }
    if ((argv[2] != NULL && parse_timeout(argv[2], &t) < 0) || have_handle(self) < 0)
        return NULL;
    if (count > LONG_MAX || bufsize > LONG_MAX ||
        (size_t)count > ((size_t)-1 / 2) / sizeof(nl_udp_msg) / ((size_t)bufsize + 1))
        return PyErr_NoMemory();
    a.count = (long)count;
    a.msgs = NULL;
    if (count > 0 && (a.msgs = batch_buffers(self, (long)count, (long)bufsize, &own)) == NULL)
        return NULL;
    n = wait_loop(self, t, call_recv_msgs, &a);
    list = n < 0 ? NULL : batch_list(self, a.msgs, n);
    if (a.msgs != NULL)
        batch_release(self, a.msgs, own);
    return list;
}

/* ---- Sending ------------------------------------------------------------------------------ */

/* One send (to ep, or to the connected peer when ep is NULL) under the time-out. A datagram
 * socket that may wait first tries without waiting and without releasing the GIL: a datagram
 * goes whole or not at all, and nearly always at once (the send buffer is rarely full), so
 * the GIL's release and retaking is saved on nearly every call; only when there is no room
 * does the call wait, with the GIL released. A stream socket waits as asked from the start,
 * so that a blocking send() sends as much as a blocking send(2) does. */
static PyObject *send_loop(pysock *self, const Py_buffer *view, const nl_endpoint *ep)
{
    budget b = {self->timeout, 0};
    PyObject *hold = self->h_obj, *res = NULL;
    nlpy_sock *h = self->h;
    int try_first = b.timeout != 0 && nlpy_type(h) == NLPY_SOCK_DGRAM;
    long n;
    int ms;

    Py_INCREF(hold); /* see recv_loop() */
    for (;;) {
        if (try_first) {
            ms = 0;
        } else if ((ms = next_ms(&b)) == TIMED_OUT) {
            raise_timeout();
            break;
        }
        if (ms == 0) {
            n = ep ? nlpy_sendto_ep(h, view->buf, (size_t)view->len, ep, 0)
                   : nlpy_send(h, view->buf, (size_t)view->len, 0);
        } else {
            Py_BEGIN_ALLOW_THREADS
            n = ep ? nlpy_sendto_ep(h, view->buf, (size_t)view->len, ep, ms)
                   : nlpy_send(h, view->buf, (size_t)view->len, ms);
            Py_END_ALLOW_THREADS
        }
        if (try_first) {
            try_first = 0;
            if (n == NL_EAGAIN)
                continue; /* no room: now wait, without the GIL */
        }
        if (n >= 0) {
            res = PyLong_FromLong(n);
            break;
        }
        if (wait_more(&b, n))
            continue;
        if (n != NL_EINTR) {
            hooks.raise(n);
            break;
        }
        if (after_signal() < 0)
            break;
    }
    Py_DECREF(hold);
    return res;
}

static PyObject *sock_send(pysock *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_buffer view;
    PyObject *res;

    if (check_nargs("send", nargs, 1, 2) < 0 ||
        check_flags(nargs > 1 ? args[1] : NULL, "send") < 0 || have_handle(self) < 0)
        return NULL;
    if (PyObject_GetBuffer(args[0], &view, PyBUF_SIMPLE) < 0)
        return NULL;
    res = send_loop(self, &view, NULL);
    PyBuffer_Release(&view);
    return res;
}

/* sendto(data, address) or sendto(data, flags, address). */
static PyObject *sock_sendto(pysock *self, PyObject *const *args, Py_ssize_t nargs)
{
    PyObject *address, *res;
    nl_endpoint ep;
    Py_buffer view;

    if (nargs < 2 || nargs > 3) {
        PyErr_Format(PyExc_TypeError, "sendto() takes 2 or 3 arguments (%zd given)", nargs);
        return NULL;
    }
    address = args[1];
    if (nargs == 3) {
        /* sendto(data, flags, address): flags must be an int, as in the stdlib. */
        if (!PyLong_Check(args[1])) {
            PyErr_Format(PyExc_TypeError, "'%.100s' object cannot be interpreted as an integer",
                         Py_TYPE(args[1])->tp_name);
            return NULL;
        }
        if (check_flags(args[1], "sendto") < 0)
            return NULL;
        address = args[2];
    }
    if (PyUnicode_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "a bytes-like object is required, not 'str'");
        return NULL;
    }
    if (have_handle(self) < 0 || dst_endpoint(self, address, &ep) < 0)
        return NULL;
    if (PyObject_GetBuffer(args[0], &view, PyBUF_SIMPLE) < 0)
        return NULL;
    res = send_loop(self, &view, &ep);
    PyBuffer_Release(&view);
    return res;
}

/* sendall(data, flags=0): everything, the time-out covering the whole call. */
static PyObject *sock_sendall(pysock *self, PyObject *const *args, Py_ssize_t nargs)
{
    budget b;
    PyObject *hold;
    nlpy_sock *h;
    Py_buffer view;
    size_t done = 0;
    long n;
    int ms;

    if (check_nargs("sendall", nargs, 1, 2) < 0 ||
        check_flags(nargs > 1 ? args[1] : NULL, "sendall") < 0 || have_handle(self) < 0)
        return NULL;
    if (PyObject_GetBuffer(args[0], &view, PyBUF_SIMPLE) < 0)
        return NULL;
    b.timeout = self->timeout;
    b.deadline = 0;
    hold = self->h_obj;
    h = self->h;
    Py_INCREF(hold); /* see recv_loop() */
    for (;;) {
        const char *p = (const char *)view.buf + done;
        size_t left = (size_t)view.len - done;

        if ((ms = next_ms(&b)) == TIMED_OUT) {
            raise_timeout();
            goto fail;
        }
        if (ms == 0) {
            n = nlpy_sendall(h, p, left, 0);
        } else {
            /* One send(2) at a time when the call may wait, as the stdlib's sendall(): a
             * signal that comes after some bytes went makes a blocking send(2) return the
             * count, not EINTR, so only a return to this loop lets the handlers run (and
             * Ctrl-C end a sendall() to a peer that does not read). */
            Py_BEGIN_ALLOW_THREADS
            n = nlpy_send(h, p, left, ms);
            Py_END_ALLOW_THREADS
        }
        if (n == NL_ETIMEDOUT && b.timeout > 0)
            continue; /* no progress in what was left: the deadline decides */
        if (n < 0 && n != NL_EINTR) {
            hooks.raise(n);
            goto fail;
        }
        if (n > 0)
            done += (size_t)n;
        if (done >= (size_t)view.len)
            break;
        /* A signal, or progress cut short: let the handlers run, as the stdlib does between
         * the sends of a sendall(). */
        if (after_signal() < 0)
            goto fail;
        if (n >= 0 && b.timeout == 0) {
            hooks.raise(NL_EAGAIN);
            goto fail;
        }
    }
    PyBuffer_Release(&view);
    Py_DECREF(hold);
    Py_RETURN_NONE;
fail:
    PyBuffer_Release(&view);
    Py_DECREF(hold);
    return NULL;
}

/* ---- Connections -------------------------------------------------------------------------- */

/* accept(): (new socket, address). The socket object is made by the class's _adopt(), so the
 * Python class decides what a new socket holds. */
static PyObject *sock_accept(pysock *self, PyObject *Py_UNUSED(unused))
{
    budget b = {self->timeout, 0};
    nlpy_sock *c = NULL;
    nlpy_addr peer;
    PyObject *hold, *h, *conn, *addr;
    int ms, rc;

    if (have_handle(self) < 0)
        return NULL;
    hold = self->h_obj;
    Py_INCREF(hold); /* see recv_loop() */
    for (;;) {
        if ((ms = next_ms(&b)) == TIMED_OUT) {
            raise_timeout();
            goto fail;
        }
        Py_BEGIN_ALLOW_THREADS
        rc = nlpy_accept(self->h, ms, &c, &peer);
        Py_END_ALLOW_THREADS
        if (rc == 0)
            break;
        if (wait_more(&b, rc))
            continue;
        if (rc != NL_EINTR) {
            hooks.raise(rc);
            goto fail;
        }
        if (after_signal() < 0)
            goto fail;
    }
    if ((h = hooks.handle_obj(c)) == NULL) {
        nlpy_free(c);
        goto fail;
    }
    if ((addr = hooks.addr_to_py(&peer)) == NULL) {
        Py_DECREF(h);
        goto fail;
    }
    conn = PyObject_CallMethod((PyObject *)self, "_adopt", "(Oii)", h, nlpy_family(self->h),
                               nlpy_type(self->h));
    Py_DECREF(h);
    Py_DECREF(hold);
    if (conn == NULL) {
        Py_DECREF(addr);
        return NULL;
    }
    return Py_BuildValue("(NN)", conn, addr);
fail:
    Py_DECREF(hold);
    return NULL;
}

/* _connect(host, port, scope_id): connect under the time-out; a TCP handshake that a signal
 * interrupted is waited for again after the handlers ran (PEP 475). */
static PyObject *sock_connect(pysock *self, PyObject *args)
{
    budget b = {self->timeout, 0};
    const char *host;
    unsigned int scope;
    int port, ms, rc;
    PyObject *hold;

    if (!PyArg_ParseTuple(args, "siI:_connect", &host, &port, &scope) || have_handle(self) < 0)
        return NULL;
    hold = self->h_obj;
    Py_INCREF(hold); /* see recv_loop() */
    ms = next_ms(&b);
    if (ms == 0) {
        rc = nlpy_connect(self->h, host, port, scope, 0);
    } else {
        Py_BEGIN_ALLOW_THREADS
        rc = nlpy_connect(self->h, host, port, scope, ms);
        Py_END_ALLOW_THREADS
    }
    while (rc == NL_EINTR || (rc == NL_ETIMEDOUT && b.timeout < 0)) {
        if (rc == NL_EINTR && after_signal() < 0)
            goto fail;
        if ((ms = next_ms(&b)) == TIMED_OUT) {
            raise_timeout();
            goto fail;
        }
        Py_BEGIN_ALLOW_THREADS
        rc = nlpy_connect_wait(self->h, ms);
        Py_END_ALLOW_THREADS
    }
    Py_DECREF(hold);
    if (rc < 0) {
        hooks.raise(rc);
        return NULL;
    }
    Py_RETURN_NONE;
fail:
    Py_DECREF(hold);
    return NULL;
}

/* ---- Time-out calls ----------------------------------------------------------------------- */

static PyObject *sock_settimeout(pysock *self, PyObject *value)
{
    if (set_timeout(self, value) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *sock_gettimeout(pysock *self, PyObject *Py_UNUSED(unused))
{
    return get_timeout_obj(self);
}

static PyObject *sock_setblocking(pysock *self, PyObject *flag)
{
    int on = PyObject_IsTrue(flag);

    if (on < 0)
        return NULL;
    self->timeout = on ? -1 : 0.0;
    if (sync_or_raise(self) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *sock_getblocking(pysock *self, PyObject *Py_UNUSED(unused))
{
    return PyBool_FromLong(self->timeout != 0.0);
}

/* _sync_blocking(): set O_NONBLOCK as the mode says, whatever it was (after a library call
 * that changes it: listen). */
static PyObject *sock_sync_blocking(pysock *self, PyObject *Py_UNUSED(unused))
{
    (void)sync_nonblocking(self, 1); /* after listen(): a closed socket has failed already */
    Py_RETURN_NONE;
}

/* ---- Attributes and life cycle ------------------------------------------------------------ */

static PyObject *get_h(pysock *self, void *closure)
{
    (void)closure;
    if (self->h_obj == NULL) {
        PyErr_SetString(PyExc_AttributeError, "_h");
        return NULL;
    }
    Py_INCREF(self->h_obj);
    return self->h_obj;
}

static int set_h(pysock *self, PyObject *v, void *closure)
{
    nlpy_sock *h;

    (void)closure;
    if (v == NULL) {
        PyErr_SetString(PyExc_AttributeError, "cannot delete _h");
        return -1;
    }
    if ((h = hooks.handle_ptr(v)) == NULL)
        return -1;
    Py_INCREF(v);
    Py_XSETREF(self->h_obj, v);
    self->h = h;
    self->fd_nonblock = -1;
    Py_CLEAR(self->from_obj);
    Py_CLEAR(self->dst_obj);
    (void)sync_nonblocking(self, 1); /* a fresh handle; a failure shows at the next call */
    return 0;
}

static PyObject *get_timeout_attr(pysock *self, void *closure)
{
    (void)closure;
    return get_timeout_obj(self);
}

static int set_timeout_attr(pysock *self, PyObject *v, void *closure)
{
    (void)closure;
    if (v == NULL) {
        PyErr_SetString(PyExc_AttributeError, "cannot delete _timeout");
        return -1;
    }
    return set_timeout(self, v);
}

static PyObject *sock_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    pysock *self = (pysock *)type->tp_alloc(type, 0);

    (void)args;
    (void)kwds;
    if (self != NULL) {
        self->timeout = -1;
        self->fd_nonblock = -1;
    }
    return (PyObject *)self;
}

static void sock_dealloc(pysock *self)
{
    PyTypeObject *tp = Py_TYPE(self);

    if (self->weakrefs != NULL)
        PyObject_ClearWeakRefs((PyObject *)self);
    Py_CLEAR(self->from_obj);
    Py_CLEAR(self->dst_obj);
    Py_CLEAR(self->h_obj);
    batch_free(self);
    tp->tp_free((PyObject *)self);
}

#define FAST(name, fn, doc) {name, (PyCFunction)(void (*)(void))(fn), METH_FASTCALL, doc}

static PyMethodDef sock_methods[] = {
    FAST("recv", sock_recv, "recv(bufsize[, flags]) -> bytes: up to bufsize bytes; b'' when "
                            "the peer closed (stream sockets)."),
    FAST("recvfrom", sock_recvfrom, "recvfrom(bufsize[, flags]) -> (bytes, address). A longer "
                                    "datagram is cut to bufsize, as the stdlib does."),
    FAST("recv_into", sock_recv_into, "recv_into(buffer[, nbytes[, flags]]) -> count."),
    FAST("recvfrom_into", sock_recvfrom_into,
         "recvfrom_into(buffer[, nbytes[, flags]]) -> (count, address)."),
    FAST("send", sock_send, "send(data[, flags]) -> count sent (stream sockets may send "
                            "fewer)."),
    FAST("sendto", sock_sendto, "sendto(data[, flags], address) -> count: one datagram."),
    {"recvmmsg", (PyCFunction)(void (*)(void))sock_recvmmsg, METH_FASTCALL | METH_KEYWORDS,
     "netlab extra: recvmmsg(count, bufsize, timeout=<the socket's>) -> [(bytes, address), "
     "...]: up to count datagrams in as few system calls as possible (recvmmsg), each as "
     "recvfrom(bufsize) would give it (a longer datagram is cut to bufsize bytes). Waits for "
     "the first datagram as the socket's time-out says (or timeout seconds: None blocks, 0 "
     "never waits), then takes only what is already queued. Datagram sockets only."},
    FAST("sendall", sock_sendall, "sendall(data[, flags]): all of data; the time-out covers "
                                  "the whole call."),
    {"accept", (PyCFunction)sock_accept, METH_NOARGS,
     "accept() -> (socket, address): wait for a connection."},
    {"_connect", (PyCFunction)sock_connect, METH_VARARGS,
     "_connect(host, port, scope_id): connect() after the address checks."},
    {"settimeout", (PyCFunction)sock_settimeout, METH_O,
     "settimeout(t): None blocks; 0 never waits (BlockingIOError); t > 0 waits at most t "
     "seconds (TimeoutError)."},
    {"gettimeout", (PyCFunction)sock_gettimeout, METH_NOARGS,
     "gettimeout() -> the time-out in seconds, or None when blocking."},
    {"setblocking", (PyCFunction)sock_setblocking, METH_O,
     "setblocking(flag): True is settimeout(None), False is settimeout(0.0)."},
    {"getblocking", (PyCFunction)sock_getblocking, METH_NOARGS,
     "getblocking() -> False when the time-out is 0.0, else True."},
    {"_sync_blocking", (PyCFunction)sock_sync_blocking, METH_NOARGS,
     "_sync_blocking(): set the descriptor's O_NONBLOCK as the time-out mode says."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef sock_getset[] = {
    {"_h", (getter)get_h, (setter)set_h, "the handle (netlab._netlab's nlpy_sock)", NULL},
    {"_timeout", (getter)get_timeout_attr, (setter)set_timeout_attr,
     "the time-out: None or seconds", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject sock_type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "netlab._netlab._sock",
    .tp_basicsize = sizeof(pysock),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "The C base of netlab.socket: the per-call methods.",
    .tp_new = sock_new,
    .tp_dealloc = (destructor)sock_dealloc,
    .tp_weaklistoffset = offsetof(pysock, weakrefs),
    .tp_methods = sock_methods,
    .tp_getset = sock_getset,
};

int nlpy_sock_add_type(PyObject *module, const nlpy_hooks *h)
{
    hooks = *h;
    if (PyType_Ready(&sock_type) < 0)
        return -1;
    Py_INCREF(&sock_type);
    if (PyModule_AddObject(module, "_sock", (PyObject *)&sock_type) < 0) {
        Py_DECREF(&sock_type);
        return -1;
    }
    return 0;
}
