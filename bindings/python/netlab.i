/* SWIG interface of the private extension netlab._netlab.
 *
 * Thin on purpose: the functions of nlpy.h, their negative NL_E* codes turned into the standard
 * library's exception classes (%exception below), buffers passed without copies, and socket
 * handles as owned objects. netlab/__init__.py gives the socket-like surface on top.
 *
 * Built with -builtin (no generated Python proxy layer: one extension module, less per-call
 * work) and -threads (every wrapped call releases the GIL while it runs, so one thread can
 * block in recvfrom() while the others go on).
 */
%module(package="netlab") netlab

%{
#include <errno.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <netinet/udp.h>
#include <string.h>
#include <sys/socket.h>

#include "nlpy.h"
#include "nlpy_chat.h"
#include "nlpy_server.h"
#include "nlpy_capture.h"

/* netlab.gaierror and netlab.herror, created at import; see %init. */
static PyObject *nlpy_gaierror;
static PyObject *nlpy_herror;

/* A resolver code of the library as the system's EAI_* value, which is what the stdlib's
 * gaierror carries in errno (socket.EAI_NONAME == -2, ...). */
static int nlpy_eai(long code)
{
    switch (code) {
    case NL_EBADADDR: /* not an address and not a name: getaddrinfo() says "not known" */
    case NL_EAI_NONAME:
        return EAI_NONAME;
    case NL_EAI_AGAIN:
        return EAI_AGAIN;
    case NL_EAI_FAIL:
        return EAI_FAIL;
    case NL_EAI_FAMILY:
        /* The library says FAMILY for "an address of the other family"; glibc (and so the
         * stdlib) says ADDRFAMILY for that. */
#ifdef EAI_ADDRFAMILY
        return EAI_ADDRFAMILY;
#else
        return EAI_FAMILY;
#endif
    case NL_EAI_NODATA:
#ifdef EAI_NODATA
        return EAI_NODATA;
#else
        return EAI_NONAME;
#endif
    case NL_EAI_MEMORY:
        return EAI_MEMORY;
    case NL_EAI_SERVICE:
        return EAI_SERVICE;
    default:
        return EAI_FAIL;
    }
}

/* Raise the Python exception for a negative NL_E* code, as the stdlib would raise it: an
 * OSError built from (errno, strerror), which Python turns into the matching subclass
 * (ConnectionRefusedError, TimeoutError, BlockingIOError, BrokenPipeError, ...). */
static void nlpy_raise(long code)
{
    PyObject *cls = PyExc_OSError, *args;

    if (code == NL_EBADPORT) {
        PyErr_SetString(PyExc_OverflowError, "port must be 0-65535.");
        return;
    }
    if (code == NL_EBADADDR || (code > NL_EAI_SYSTEM && code <= NL_EAI_OTHER)) {
        int eai = nlpy_eai(code);
        args = Py_BuildValue("(is)", eai, gai_strerror(eai));
        cls = nlpy_gaierror;
    } else if (code == NL_ECLOSED) {
        args = Py_BuildValue("(is)", EBADF, strerror(EBADF));
    } else if (code == NL_ETRUNC) {
        args = Py_BuildValue("(is)", EMSGSIZE, strerror(EMSGSIZE));
    } else if (code <= NL_EAI_OTHER) {
        /* The library's own codes keep their value and message: there is no errno for them. */
        args = Py_BuildValue("(ls)", code, nl_strerror((int)code));
    } else {
        /* The library's timeouts are its own, so they read like the stdlib's ("timed out"),
         * not like a kernel's TCP time-out ("Connection timed out"). */
        int e = (int)-code;
        args = Py_BuildValue("(is)", e, e == ETIMEDOUT ? "timed out" : strerror(e));
    }
    if (args != NULL) {
        PyErr_SetObject(cls, args);
        Py_DECREF(args);
    }
}

/* An address as the stdlib shows it: ('ip', port) for AF_INET, ('ip', port, flowinfo,
 * scope_id) for AF_INET6, IPv4 peers of an AF_INET6 socket as '::ffff:a.b.c.d'; None when the
 * endpoint is unset (recvfrom() on a stream socket). */
static PyObject *nlpy_addr_to_py(const nlpy_addr *a)
{
    char host[NL_ENDPOINT_STRLEN];
    nl_endpoint ep = a->ep;

    if (ep.family == 0)
        Py_RETURN_NONE;
    if (a->sock_family == NL_AF_INET6 && ep.family == NL_AF_INET) {
        memmove(ep.addr + 12, ep.addr, 4);
        memset(ep.addr, 0, 10);
        ep.addr[10] = ep.addr[11] = 0xff;
        ep.family = NL_AF_INET6;
    }
    ep.scope_id = 0; /* the zone goes in the tuple, not in the text */
    if (nl_endpoint_format_addr(&ep, host, sizeof host) < 0) {
        PyErr_SetString(PyExc_SystemError, "netlab: unprintable address");
        return NULL;
    }
    if (ep.family == NL_AF_INET6)
        return Py_BuildValue("(siII)", host, (int)ep.port, 0u, (unsigned)a->ep.scope_id);
    return Py_BuildValue("(si)", host, (int)ep.port);
}

/* The Python-visible variants of nlpy_recv(): with or without the sender, into new bytes or
 * into the caller's buffer. */
static nlpy_count nlpy_recv_bytes(nlpy_sock *s, void *out_buf, size_t out_cap, int timeout_ms)
{
    return nlpy_recv(s, out_buf, out_cap, NULL, timeout_ms);
}
static nlpy_count nlpy_recvfrom_bytes(nlpy_sock *s, void *out_buf, size_t out_cap,
                                      nlpy_addr *addr_out, int timeout_ms)
{
    return nlpy_recv(s, out_buf, out_cap, addr_out, timeout_ms);
}
static nlpy_count nlpy_recv_into(nlpy_sock *s, void *into_buf, size_t into_cap, int timeout_ms)
{
    return nlpy_recv(s, into_buf, into_cap, NULL, timeout_ms);
}
static nlpy_count nlpy_recvfrom_into(nlpy_sock *s, void *into_buf, size_t into_cap,
                                     nlpy_addr *addr_out, int timeout_ms)
{
    return nlpy_recv(s, into_buf, into_cap, addr_out, timeout_ms);
}
/* ---- Batch UDP: the list of (bytes, address) built here, with the GIL, in one pass ---- */

/* The received datagrams as [(bytes, address), ...]. Consecutive datagrams from the same
 * sender share one address tuple (tuples are immutable, so nobody can tell), which saves
 * building a tuple and a str per datagram in the common case of one busy sender. */
static PyObject *nlpy_rbatch_to_py(const nlpy_rbatch *b, long n)
{
    PyObject *list = PyList_New(n), *addr = NULL;
    const nl_endpoint *prev = NULL;

    if (list == NULL)
        return NULL;
    for (long i = 0; i < n; i++) {
        const nl_udp_msg *m = &b->msgs[i];
        PyObject *data, *item;

        if (prev == NULL || nl_endpoint_compare(prev, &m->peer) != 0) {
            nlpy_addr a;
            Py_XDECREF(addr);
            a.ep = m->peer;
            a.sock_family = b->sock_family;
            if ((addr = nlpy_addr_to_py(&a)) == NULL)
                goto fail;
            prev = &m->peer;
        }
        if ((data = PyBytes_FromStringAndSize(m->buf, (Py_ssize_t)m->len)) == NULL)
            goto fail;
        if ((item = PyTuple_New(2)) == NULL) {
            Py_DECREF(data);
            goto fail;
        }
        Py_INCREF(addr);
        PyTuple_SET_ITEM(item, 0, data);
        PyTuple_SET_ITEM(item, 1, addr);
        PyList_SET_ITEM(list, i, item);
    }
    Py_XDECREF(addr);
    return list;
fail:
    Py_XDECREF(addr);
    Py_DECREF(list);
    return NULL;
}

/* The datagrams to send, converted with the GIL: the items array for nlpy_send_batch(), the
 * buffers held and the host strings referenced until the call has returned (the list itself
 * may change meanwhile: we keep what we took from it). */
typedef struct nlpy_sbatch {
    nlpy_sitem *items;
    Py_buffer *views;
    PyObject **hosts;
    size_t count; /* items converted so far, hence to release */
} nlpy_sbatch;

static void nlpy_sbatch_release(nlpy_sbatch *b)
{
    for (size_t i = 0; i < b->count; i++) {
        PyBuffer_Release(&b->views[i]);
        Py_XDECREF(b->hosts[i]);
    }
    PyMem_Free(b->items);
    PyMem_Free(b->views);
    PyMem_Free(b->hosts);
    memset(b, 0, sizeof *b);
}

/* One (data, address) item; address None means the connected peer. Checks as sendto() does:
 * a bytes-like object, a tuple of the socket family's size, a str host, a port 0-65535. */
static int nlpy_sitem_from_py(PyObject *obj, int family, nlpy_sitem *it, Py_buffer *view,
                              PyObject **host_ref)
{
    PyObject *data, *addr, *host;
    long port;
    unsigned long scope = 0;
    Py_ssize_t n;

    if (!PyTuple_Check(obj) || PyTuple_GET_SIZE(obj) != 2) {
        PyErr_SetString(PyExc_TypeError, "sendmmsg() items must be (data, address) tuples");
        return -1;
    }
    data = PyTuple_GET_ITEM(obj, 0);
    addr = PyTuple_GET_ITEM(obj, 1);
    if (PyUnicode_Check(data)) {
        PyErr_SetString(PyExc_TypeError, "a bytes-like object is required, not 'str'");
        return -1;
    }
    if (addr != Py_None) {
        n = PyTuple_Check(addr) ? PyTuple_GET_SIZE(addr) : -1;
        if (family == NL_AF_INET6 ? n < 2 || n > 4 : n != 2) {
            PyErr_SetString(PyExc_TypeError, family == NL_AF_INET6
                ? "AF_INET6 address must be a tuple (host, port[, flowinfo[, scopeid]])"
                : "AF_INET address must be a pair (host, port)");
            return -1;
        }
        host = PyTuple_GET_ITEM(addr, 0);
        if (!PyUnicode_Check(host)) {
            PyErr_Format(PyExc_TypeError, "str expected as host, not %s",
                         Py_TYPE(host)->tp_name);
            return -1;
        }
        port = PyLong_AsLong(PyTuple_GET_ITEM(addr, 1));
        if (port == -1 && PyErr_Occurred())
            return -1;
        if (port < 0 || port > 65535) {
            PyErr_SetString(PyExc_OverflowError, "sendmmsg(): port must be 0-65535.");
            return -1;
        }
        if (n == 4) {
            scope = PyLong_AsUnsignedLong(PyTuple_GET_ITEM(addr, 3));
            if (scope == (unsigned long)-1 && PyErr_Occurred())
                return -1;
            if (scope > 0xffffffffUL) {
                PyErr_SetString(PyExc_OverflowError, "scope_id must be 0-4294967295");
                return -1;
            }
        }
        if ((it->host = PyUnicode_AsUTF8(host)) == NULL)
            return -1;
        it->port = (int)port;
        it->scope_id = (unsigned)scope;
        Py_INCREF(host);
        *host_ref = host;
    } else {
        it->host = NULL;
        *host_ref = NULL;
    }
    if (PyObject_GetBuffer(data, view, PyBUF_SIMPLE) < 0) {
        Py_XDECREF(*host_ref);
        *host_ref = NULL;
        return -1;
    }
    it->buf = view->buf;
    it->len = (size_t)view->len;
    return 0;
}

static int nlpy_sbatch_from_py(PyObject *seq, int family, nlpy_sbatch *b)
{
    PyObject *fast = PySequence_Fast(seq, "sendmmsg() takes a sequence of (data, address)");
    Py_ssize_t n;

    memset(b, 0, sizeof *b);
    if (fast == NULL)
        return -1;
    n = PySequence_Fast_GET_SIZE(fast);
    b->items = PyMem_Malloc((size_t)(n ? n : 1) * sizeof *b->items);
    b->views = PyMem_Malloc((size_t)(n ? n : 1) * sizeof *b->views);
    b->hosts = PyMem_Malloc((size_t)(n ? n : 1) * sizeof *b->hosts);
    if (b->items == NULL || b->views == NULL || b->hosts == NULL) {
        PyErr_NoMemory();
        goto fail;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        if (nlpy_sitem_from_py(PySequence_Fast_GET_ITEM(fast, i), family, &b->items[i],
                               &b->views[i], &b->hosts[i]) < 0)
            goto fail;
        b->count++;
    }
    Py_DECREF(fast);
    return 0;
fail:
    Py_DECREF(fast);
    nlpy_sbatch_release(b);
    return -1;
}

/* ---- Chat events and counters ---- */

/* The events of one step as [(type, code, msg_id, data, peer), ...]: data is bytes (None when
 * the event has none), peer an address tuple (None when unknown). netlab/chat.py decodes the
 * text and makes the event objects. */
static PyObject *nlpy_chat_events_to_py(const nlpy_chat_events *ev)
{
    PyObject *list = PyList_New(ev->n);

    if (list == NULL)
        return NULL;
    for (int i = 0; i < ev->n; i++) {
        const nlpy_chat_ev *e = &ev->ev[i];
        nlpy_addr a;
        PyObject *data, *peer, *item;

        a.ep = e->peer;
        a.sock_family = ev->sock_family;
        if ((peer = nlpy_addr_to_py(&a)) == NULL)
            goto fail;
        if (e->data != NULL)
            data = PyBytes_FromStringAndSize(e->data, (Py_ssize_t)e->len);
        else
            data = Py_NewRef(Py_None);
        if (data == NULL) {
            Py_DECREF(peer);
            goto fail;
        }
        item = Py_BuildValue("(iiKNN)", e->type, e->code, (unsigned long long)e->msg_id,
                             data, peer);
        if (item == NULL)
            goto fail;
        PyList_SET_ITEM(list, i, item);
    }
    return list;
fail:
    Py_DECREF(list);
    return NULL;
}

static PyObject *nlpy_chat_stats_to_py(const nl_chat_stats *st)
{
    PyObject *d = PyDict_New(), *v;

    if (d == NULL)
        return NULL;
#define NLPY_PUT(f)                                                                         \
    if ((v = PyLong_FromUnsignedLongLong((unsigned long long)st->f)) == NULL ||            \
        PyDict_SetItemString(d, #f, v) < 0) {                                              \
        Py_XDECREF(v);                                                                     \
        Py_DECREF(d);                                                                      \
        return NULL;                                                                       \
    }                                                                                      \
    Py_DECREF(v);
    NLPY_CHAT_STATS(NLPY_PUT)
    return d;
}

static PyObject *nlpy_server_stats_to_py(const nl_tcp_server_stats *st)
{
    PyObject *d = PyDict_New(), *v;

    if (d == NULL)
        return NULL;
    NLPY_SERVER_STATS(NLPY_PUT)
    return d;
}

static PyObject *nlpy_capture_stats_to_py(const nl_capture_counts *st)
{
    PyObject *d = PyDict_New(), *v;

    if (d == NULL)
        return NULL;
    NLPY_CAPTURE_STATS(NLPY_PUT)
#undef NLPY_PUT
    return d;
}

%}

%init %{
    /* The stdlib's resolver exceptions: OSError subclasses with errno = an EAI_* code. */
    nlpy_gaierror = PyErr_NewException("netlab.gaierror", PyExc_OSError, NULL);
    nlpy_herror = PyErr_NewException("netlab.herror", PyExc_OSError, NULL);
    if (nlpy_gaierror == NULL || nlpy_herror == NULL)
        return NULL;
    Py_INCREF(nlpy_gaierror);
    Py_INCREF(nlpy_herror);
    if (PyModule_AddObject(m, "gaierror", nlpy_gaierror) < 0 ||
        PyModule_AddObject(m, "herror", nlpy_herror) < 0)
        return NULL;
%}

/* ---- The socket handle ------------------------------------------------------------------ */

%nodefaultctor nlpy_sock;
typedef struct nlpy_sock {} nlpy_sock;
%extend nlpy_sock {
    ~nlpy_sock() {
        nlpy_free($self);
    }
}

/* ---- Return values ---------------------------------------------------------------------- */

typedef int nlpy_rc;
typedef long nlpy_count;

/* A failed call never returns: the code becomes an exception. Success returns None (or the
 * out-values below) for nlpy_rc, the count for nlpy_count. */
%exception {
    $action
    if (result < 0) {
        nlpy_raise((long)result);
        SWIG_fail;
    }
}
%typemap(out) nlpy_rc "$result = SWIG_Py_Void();"
%typemap(out) nlpy_count "$result = PyLong_FromLong($1);"

/* ---- Buffers ---------------------------------------------------------------------------- */

/* Input: any bytes-like object (bytes, bytearray, memoryview, array, ...), held for the whole
 * call (the GIL is released meanwhile, and a held buffer cannot be resized under us). A str is
 * refused with the stdlib's TypeError: "a bytes-like object is required, not 'str'". */
%typemap(in) (const void *in_buf, size_t in_len) (Py_buffer view, int got = 0) {
    if (PyObject_GetBuffer($input, &view, PyBUF_SIMPLE) < 0)
        SWIG_fail;
    got = 1;
    $1 = view.buf;
    $2 = (size_t)view.len;
}
%typemap(freearg) (const void *in_buf, size_t in_len) {
    if (got$argnum)
        PyBuffer_Release(&view$argnum);
}

/* Output: the Python argument is a size; a bytes object of that size is made, filled without
 * the GIL, cut to the count received and returned. */
%typemap(in) (void *out_buf, size_t out_cap) (PyObject *bytes = NULL) {
    Py_ssize_t n = PyNumber_AsSsize_t($input, PyExc_OverflowError);
    if (n == -1 && PyErr_Occurred())
        SWIG_fail;
    if (n < 0) {
        PyErr_SetString(PyExc_ValueError, "negative buffersize");
        SWIG_fail;
    }
    bytes = PyBytes_FromStringAndSize(NULL, n);
    if (bytes == NULL)
        SWIG_fail;
    $1 = PyBytes_AS_STRING(bytes);
    $2 = (size_t)n;
}
%typemap(argout) (void *out_buf, size_t out_cap) {
    if ((size_t)result != $2 && _PyBytes_Resize(&bytes$argnum, (Py_ssize_t)result) < 0)
        SWIG_fail; /* _PyBytes_Resize freed it and set the exception */
    Py_DECREF($result);
    $result = bytes$argnum;
    bytes$argnum = NULL;
}
%typemap(freearg) (void *out_buf, size_t out_cap) {
    Py_XDECREF(bytes$argnum);
}

/* Into: a writable bytes-like object (bytearray, memoryview, array, ...). */
%typemap(in) (void *into_buf, size_t into_cap) (Py_buffer view, int got = 0) {
    if (PyObject_GetBuffer($input, &view, PyBUF_WRITABLE) < 0)
        SWIG_fail;
    got = 1;
    $1 = view.buf;
    $2 = (size_t)view.len;
}
%typemap(freearg) (void *into_buf, size_t into_cap) {
    if (got$argnum)
        PyBuffer_Release(&view$argnum);
}

/* ---- Out-values ------------------------------------------------------------------------- */

/* A new socket: an owned object whose destructor (nlpy_free) runs exactly once, when Python
 * drops the last reference. */
%typemap(in, numinputs=0) nlpy_sock **new_sock (nlpy_sock *tmp = NULL) {
    $1 = &tmp;
}
%typemap(argout) nlpy_sock **new_sock {
    $result = SWIG_Python_AppendOutput($result,
                                       SWIG_NewPointerObj(*$1, $*1_descriptor, SWIG_POINTER_OWN));
}

%typemap(in, numinputs=0) nlpy_addr *addr_out (nlpy_addr tmp) {
    memset(&tmp, 0, sizeof tmp);
    $1 = &tmp;
}
%typemap(argout) nlpy_addr *addr_out {
    PyObject *addr = nlpy_addr_to_py($1);
    if (addr == NULL)
        SWIG_fail;
    $result = SWIG_Python_AppendOutput($result, addr);
}

%typemap(in, numinputs=0) int *int_out (int tmp = 0) {
    $1 = &tmp;
}
%typemap(argout) int *int_out {
    $result = SWIG_Python_AppendOutput($result, PyLong_FromLong(*$1));
}

/* ---- Functions -------------------------------------------------------------------------- */

%rename(open_socket) nlpy_open;
nlpy_rc nlpy_open(nlpy_sock **new_sock, int family, int type);
%rename(close) nlpy_close;
nlpy_rc nlpy_close(nlpy_sock *s);

/* Never fail, never block: no exception check, no GIL release. */
%noexception;
%nothread;
%rename(fileno) nlpy_fileno;
int nlpy_fileno(nlpy_sock *s);
%rename(family) nlpy_family;
int nlpy_family(nlpy_sock *s);
%rename(socktype) nlpy_type;
int nlpy_type(nlpy_sock *s);
%thread;
%exception {
    $action
    if (result < 0) {
        nlpy_raise((long)result);
        SWIG_fail;
    }
}

%rename(bind) nlpy_bind;
nlpy_rc nlpy_bind(nlpy_sock *s, const char *host, int port, unsigned scope_id);
%rename(listen) nlpy_listen;
nlpy_rc nlpy_listen(nlpy_sock *s, int backlog);
%rename(accept) nlpy_accept;
nlpy_rc nlpy_accept(nlpy_sock *s, int timeout_ms, nlpy_sock **new_sock, nlpy_addr *addr_out);
%rename(connect) nlpy_connect;
nlpy_rc nlpy_connect(nlpy_sock *s, const char *host, int port, unsigned scope_id,
                     int timeout_ms);
%rename(connect_wait) nlpy_connect_wait;
nlpy_rc nlpy_connect_wait(nlpy_sock *s, int timeout_ms);

%rename(recv) nlpy_recv_bytes;
nlpy_count nlpy_recv_bytes(nlpy_sock *s, void *out_buf, size_t out_cap, int timeout_ms);
%rename(recvfrom) nlpy_recvfrom_bytes;
nlpy_count nlpy_recvfrom_bytes(nlpy_sock *s, void *out_buf, size_t out_cap,
                               nlpy_addr *addr_out, int timeout_ms);
%rename(recv_into) nlpy_recv_into;
nlpy_count nlpy_recv_into(nlpy_sock *s, void *into_buf, size_t into_cap, int timeout_ms);
%rename(recvfrom_into) nlpy_recvfrom_into;
nlpy_count nlpy_recvfrom_into(nlpy_sock *s, void *into_buf, size_t into_cap,
                              nlpy_addr *addr_out, int timeout_ms);

%rename(send) nlpy_send;
nlpy_count nlpy_send(nlpy_sock *s, const void *in_buf, size_t in_len, int timeout_ms);
%rename(sendall) nlpy_sendall;
nlpy_count nlpy_sendall(nlpy_sock *s, const void *in_buf, size_t in_len, int timeout_ms);
%rename(sendto) nlpy_sendto;
nlpy_count nlpy_sendto(nlpy_sock *s, const void *in_buf, size_t in_len, const char *host,
                       int port, unsigned scope_id, int timeout_ms);

%rename(shutdown) nlpy_shutdown;
nlpy_rc nlpy_shutdown(nlpy_sock *s, int how);
%rename(getsockname) nlpy_getsockname;
nlpy_rc nlpy_getsockname(nlpy_sock *s, nlpy_addr *addr_out);
%rename(getpeername) nlpy_getpeername;
nlpy_rc nlpy_getpeername(nlpy_sock *s, nlpy_addr *addr_out);

%rename(setsockopt_int) nlpy_setsockopt_int;
nlpy_rc nlpy_setsockopt_int(nlpy_sock *s, int level, int name, int value);
%rename(setsockopt_buf) nlpy_setsockopt_buf;
nlpy_rc nlpy_setsockopt_buf(nlpy_sock *s, int level, int name, const void *in_buf,
                            size_t in_len);
%rename(getsockopt_int) nlpy_getsockopt_int;
nlpy_rc nlpy_getsockopt_int(nlpy_sock *s, int level, int name, int *int_out);
%rename(getsockopt_buf) nlpy_getsockopt_buf;
nlpy_count nlpy_getsockopt_buf(nlpy_sock *s, int level, int name, void *out_buf,
                               size_t out_cap);

/* ---- Batch UDP (netlab extras) ---------------------------------------------------------- */

%typemap(in, numinputs=0) nlpy_rbatch *rbatch_out (nlpy_rbatch tmp) {
    memset(&tmp, 0, sizeof tmp);
    $1 = &tmp;
}
%typemap(argout) nlpy_rbatch *rbatch_out {
    PyObject *list = nlpy_rbatch_to_py($1, (long)result);
    if (list == NULL)
        SWIG_fail;
    Py_DECREF($result);
    $result = list;
}
%typemap(freearg) nlpy_rbatch *rbatch_out {
    nlpy_rbatch_free($1);
}
%rename(recvmmsg) nlpy_recv_batch;
nlpy_count nlpy_recv_batch(nlpy_sock *s, nlpy_rbatch *rbatch_out, long count, long bufsize,
                           int timeout_ms);

/* The list is converted before the call (arg1, the socket, is converted first: its family
 * decides the address tuples' shape), held during it, released after it. */
%typemap(in) (const nlpy_sitem *items, size_t count) (nlpy_sbatch b) {
    memset(&b, 0, sizeof b);
    if (nlpy_sbatch_from_py($input, nlpy_family(arg1), &b) < 0)
        SWIG_fail;
    $1 = b.items;
    $2 = b.count;
}
%typemap(freearg) (const nlpy_sitem *items, size_t count) {
    nlpy_sbatch_release(&b$argnum);
}
%rename(sendmmsg) nlpy_send_batch;
nlpy_count nlpy_send_batch(nlpy_sock *s, const nlpy_sitem *items, size_t count, int timeout_ms);

/* ---- The chat session ------------------------------------------------------------------- */

%nodefaultctor nlpy_chat;
typedef struct nlpy_chat {} nlpy_chat;
/* The destructor returns nothing to check. */
%exception ~nlpy_chat "$action";
%extend nlpy_chat {
    ~nlpy_chat() {
        nlpy_chat_free($self);
    }
}
%typemap(in, numinputs=0) nlpy_chat **new_chat (nlpy_chat *tmp = NULL) {
    $1 = &tmp;
}
%typemap(argout) nlpy_chat **new_chat {
    $result = SWIG_Python_AppendOutput($result,
                                       SWIG_NewPointerObj(*$1, $*1_descriptor, SWIG_POINTER_OWN));
}
%typemap(in, numinputs=0) nlpy_chat_events *events_out (nlpy_chat_events tmp) {
    memset(&tmp, 0, sizeof tmp);
    $1 = &tmp;
}
%typemap(argout) nlpy_chat_events *events_out {
    PyObject *list = nlpy_chat_events_to_py($1);
    if (list == NULL)
        SWIG_fail;
    Py_DECREF($result);
    $result = list;
}
%typemap(freearg) nlpy_chat_events *events_out {
    nlpy_chat_events_free($1);
}
%typemap(in, numinputs=0) nl_chat_stats *chat_stats_out (nl_chat_stats tmp) {
    $1 = &tmp;
}
%typemap(argout) nl_chat_stats *chat_stats_out {
    PyObject *d = nlpy_chat_stats_to_py($1);
    if (d == NULL)
        SWIG_fail;
    $result = SWIG_Python_AppendOutput($result, d);
}

%rename(chat_open) nlpy_chat_open;
nlpy_rc nlpy_chat_open(nlpy_chat **new_chat, int family, int plain, const char *bind_host,
                       int bind_port, unsigned bind_scope, const char *peer_host, int peer_port,
                       unsigned peer_scope, const void *in_buf, size_t in_len, const char *name,
                       int keepalive_ms, int peer_lost_ms, int leave_timeout_ms);
%rename(chat_close) nlpy_chat_close;
nlpy_rc nlpy_chat_close(nlpy_chat *c);
%rename(chat_step) nlpy_chat_step;
nlpy_count nlpy_chat_step(nlpy_chat *c, nlpy_chat_events *events_out, int timeout_ms);
%rename(chat_send) nlpy_chat_send;
nlpy_count nlpy_chat_send(nlpy_chat *c, const void *in_buf, size_t in_len);
%rename(chat_leave) nlpy_chat_leave;
nlpy_rc nlpy_chat_leave(nlpy_chat *c);
%rename(chat_status) nlpy_chat_status;
nlpy_rc nlpy_chat_status(nlpy_chat *c, int *int_out);
%rename(chat_stats) nlpy_chat_stats;
nlpy_rc nlpy_chat_stats(nlpy_chat *c, nl_chat_stats *chat_stats_out);
%rename(chat_local) nlpy_chat_local;
nlpy_rc nlpy_chat_local(nlpy_chat *c, nlpy_addr *addr_out);
%rename(chat_peer) nlpy_chat_peer;
nlpy_rc nlpy_chat_peer(nlpy_chat *c, nlpy_addr *addr_out);

%include "room.i"

/* ---- The echo server -------------------------------------------------------------------- */

%nodefaultctor nlpy_server;
typedef struct nlpy_server {} nlpy_server;
/* The destructor returns nothing to check. */
%exception ~nlpy_server "$action";
%extend nlpy_server {
    ~nlpy_server() {
        nlpy_server_free($self);
    }
}
%typemap(in, numinputs=0) nlpy_server **new_server (nlpy_server *tmp = NULL) {
    $1 = &tmp;
}
%typemap(argout) nlpy_server **new_server {
    $result = SWIG_Python_AppendOutput($result,
                                       SWIG_NewPointerObj(*$1, $*1_descriptor, SWIG_POINTER_OWN));
}
%typemap(in, numinputs=0) nl_tcp_server_stats *server_stats_out (nl_tcp_server_stats tmp) {
    $1 = &tmp;
}
%typemap(argout) nl_tcp_server_stats *server_stats_out {
    PyObject *d = nlpy_server_stats_to_py($1);
    if (d == NULL)
        SWIG_fail;
    $result = SWIG_Python_AppendOutput($result, d);
}

%rename(server_open) nlpy_server_open;
nlpy_rc nlpy_server_open(nlpy_server **new_server, int family, const char *host, int port,
                         unsigned scope_id, int idle_timeout_ms, long max_queued,
                         int max_connections);
%rename(server_run) nlpy_server_run;
nlpy_rc nlpy_server_run(nlpy_server *v);
%rename(server_stop) nlpy_server_stop;
nlpy_rc nlpy_server_stop(nlpy_server *v);
%rename(server_close) nlpy_server_close;
nlpy_rc nlpy_server_close(nlpy_server *v);
%rename(server_local) nlpy_server_local;
nlpy_rc nlpy_server_local(nlpy_server *v, nlpy_addr *addr_out);
%rename(server_stats) nlpy_server_stats;
nlpy_rc nlpy_server_stats(nlpy_server *v, nl_tcp_server_stats *server_stats_out);

/* ---- The wire (capture) ----------------------------------------------------------------- */

%nodefaultctor nlpy_capture;
typedef struct nlpy_capture {} nlpy_capture;
%exception ~nlpy_capture "$action";
%extend nlpy_capture {
    ~nlpy_capture() {
        nlpy_capture_free($self);
    }
}
%typemap(in, numinputs=0) nlpy_capture **new_capture (nlpy_capture *tmp = NULL) {
    $1 = &tmp;
}
%typemap(argout) nlpy_capture **new_capture {
    $result = SWIG_Python_AppendOutput($result,
                                       SWIG_NewPointerObj(*$1, $*1_descriptor, SWIG_POINTER_OWN));
}
/* 64 decoded packets are some 8 KiB: on the heap, not on a thread's stack. */
%typemap(in, numinputs=0) nlpy_packets *packets_out {
    $1 = PyMem_Malloc(sizeof *$1);
    if ($1 == NULL) {
        PyErr_NoMemory();
        SWIG_fail;
    }
}
%typemap(argout) nlpy_packets *packets_out {
    PyObject *l = nlpy_packets_to_py($1);
    if (l == NULL)
        SWIG_fail;
    $result = SWIG_Python_AppendOutput($result, l);
}
%typemap(freearg) nlpy_packets *packets_out {
    PyMem_Free($1);
}
%typemap(in, numinputs=0) nl_capture_counts *capture_stats_out (nl_capture_counts tmp) {
    $1 = &tmp;
}
%typemap(argout) nl_capture_counts *capture_stats_out {
    PyObject *d = nlpy_capture_stats_to_py($1);
    if (d == NULL)
        SWIG_fail;
    $result = SWIG_Python_AppendOutput($result, d);
}

%rename(capture_open) nlpy_capture_open;
nlpy_rc nlpy_capture_open(nlpy_capture **new_capture, const char *ifname, int port, int offline);
%rename(capture_close) nlpy_capture_close;
nlpy_rc nlpy_capture_close(nlpy_capture *c);
%rename(capture_read) nlpy_capture_read;
nlpy_rc nlpy_capture_read(nlpy_capture *c, int timeout_ms, nlpy_packets *packets_out);
%rename(capture_feed) nlpy_capture_feed;
nlpy_rc nlpy_capture_feed(nlpy_capture *c, const void *in_buf, size_t in_len,
                          nlpy_packets *packets_out);
%rename(capture_stats) nlpy_capture_stats;
nlpy_rc nlpy_capture_stats(nlpy_capture *c, nl_capture_counts *capture_stats_out);
%rename(capture_fileno) nlpy_capture_fileno;
%typemap(out) nlpy_rc nlpy_capture_fileno "$result = PyLong_FromLong($1);";
nlpy_rc nlpy_capture_fileno(nlpy_capture *c);

/* Never fail, never block. */
%noexception;
%nothread;
%rename(chat_fileno) nlpy_chat_fileno;
int nlpy_chat_fileno(nlpy_chat *c);
%rename(chat_next_timeout) nlpy_chat_next_timeout;
int nlpy_chat_next_timeout(nlpy_chat *c);
%rename(err_name) nl_err_name;
const char *nl_err_name(int code);
%rename(strerror) nl_strerror;
const char *nl_strerror(int code);
%thread;

/* ---- Constants, from the system's headers ----------------------------------------------- */

%constant int AF_UNSPEC = AF_UNSPEC;
%constant int AF_INET = AF_INET;
%constant int AF_INET6 = AF_INET6;
%constant int SOCK_STREAM = SOCK_STREAM;
%constant int SOCK_DGRAM = SOCK_DGRAM;
%constant int SOL_SOCKET = SOL_SOCKET;
%constant int SO_REUSEADDR = SO_REUSEADDR;
%constant int SO_REUSEPORT = SO_REUSEPORT;
%constant int SO_BROADCAST = SO_BROADCAST;
%constant int SO_KEEPALIVE = SO_KEEPALIVE;
%constant int SO_LINGER = SO_LINGER;
%constant int SO_RCVBUF = SO_RCVBUF;
%constant int SO_SNDBUF = SO_SNDBUF;
%constant int SO_RCVLOWAT = SO_RCVLOWAT;
%constant int SO_ERROR = SO_ERROR;
%constant int SO_TYPE = SO_TYPE;
%constant int SO_ACCEPTCONN = SO_ACCEPTCONN;
%constant int SO_DOMAIN = SO_DOMAIN;
%constant int SO_PROTOCOL = SO_PROTOCOL;
%constant int SO_RCVTIMEO = SO_RCVTIMEO;
%constant int SO_SNDTIMEO = SO_SNDTIMEO;
%constant int IPPROTO_IP = IPPROTO_IP;
%constant int IPPROTO_TCP = IPPROTO_TCP;
%constant int IPPROTO_UDP = IPPROTO_UDP;
%constant int IPPROTO_IPV6 = IPPROTO_IPV6;
%constant int IP_TTL = IP_TTL;
%constant int IP_TOS = IP_TOS;
%constant int IPV6_V6ONLY = IPV6_V6ONLY;
%constant int TCP_NODELAY = TCP_NODELAY;
%constant int TCP_KEEPIDLE = TCP_KEEPIDLE;
%constant int TCP_KEEPINTVL = TCP_KEEPINTVL;
%constant int TCP_KEEPCNT = TCP_KEEPCNT;
%constant int SHUT_RD = SHUT_RD;
%constant int SHUT_WR = SHUT_WR;
%constant int SHUT_RDWR = SHUT_RDWR;
%constant int SOMAXCONN = SOMAXCONN;
%constant int EAI_NONAME = EAI_NONAME;
%constant int EAI_AGAIN = EAI_AGAIN;
%constant int EAI_FAIL = EAI_FAIL;
%constant int EAI_FAMILY = EAI_FAMILY;
%constant int EAI_SERVICE = EAI_SERVICE;
%constant int INADDR_ANY = INADDR_ANY;
%constant int INADDR_LOOPBACK = INADDR_LOOPBACK;
%constant const char *VERSION = NL_VERSION_STRING;
%constant int CHAT_EV_PEER_JOINED = NL_CHAT_EV_PEER_JOINED;
%constant int CHAT_EV_MESSAGE = NL_CHAT_EV_MESSAGE;
%constant int CHAT_EV_DELIVERED = NL_CHAT_EV_DELIVERED;
%constant int CHAT_EV_PEER_LEFT = NL_CHAT_EV_PEER_LEFT;
%constant int CHAT_EV_PEER_LOST = NL_CHAT_EV_PEER_LOST;
%constant int CHAT_EV_ERROR = NL_CHAT_EV_ERROR;
%constant int CHAT_EV_CLOSED = NL_CHAT_EV_CLOSED;
%constant int CHAT_EV_WARNING = NL_CHAT_EV_WARNING;
%constant int CHAT_MSG_MAX = NL_CHAT_MSG_MAX;
%constant int CHAT_PLAIN_MAX = NL_CHAT_PLAIN_MAX;
%constant int CHAT_KEY_BYTES = NL_CHAT_KEY_BYTES;
%constant int CHAT_NAME_MAX = NL_CHAT_NAME_MAX;
%constant int NL_EAGAIN = NL_EAGAIN;
%constant int NL_EPEERLOST = NL_EPEERLOST;
%constant int UDP_BATCH_MAX = NL_UDP_BATCH_MAX;

/* ---- Descriptors: socket(fileno=...), detach() ------------------------------------------ */

%exception {
    $action
    if (result < 0) {
        nlpy_raise((long)result);
        SWIG_fail;
    }
}
%rename(adopt) nlpy_adopt;
nlpy_rc nlpy_adopt(nlpy_sock **new_sock, int fd);
/* -1 (closed) is an answer, not an error: netlab/__init__.py reads the result. */
%noexception;
%nothread;
%rename(detach) nlpy_detach;
int nlpy_detach(nlpy_sock *s);
%thread;

/* ---- The resolver and address conversions (netlab/_resolve.py) ------------------------- */

%{
/* getaddrinfo(): [(family, type, proto, canonname, sockaddr), ...] from nl_resolve(), the
 * resolver running without the GIL. */
static PyObject *nlpy_getaddrinfo(const char *host, const char *service, int family,
                                  int socktype, int protocol, int flags)
{
    nl_resolve_hints hints = {family, socktype, protocol, flags};
    char canon[1025];
    nl_resolved *res = NULL;
    PyObject *list = NULL;
    int n, cap = 16;

    for (;;) {
        nl_resolved *more = PyMem_Realloc(res, (size_t)cap * sizeof *res);
        if (more == NULL) {
            PyMem_Free(res);
            return PyErr_NoMemory();
        }
        res = more;
        Py_BEGIN_ALLOW_THREADS
        n = nl_resolve(host, service, &hints, res, (size_t)cap, canon, sizeof canon);
        Py_END_ALLOW_THREADS
        if (n <= cap)
            break;
        cap = n; /* more answers than room: ask again with room for all */
    }
    if (n < 0) {
        PyMem_Free(res);
        nlpy_raise(n);
        return NULL;
    }
    if ((list = PyList_New(n)) == NULL)
        goto out;
    for (int i = 0; i < n; i++) {
        nlpy_addr a;
        PyObject *addr, *item;

        a.ep = res[i].ep;
        a.sock_family = res[i].ep.family;
        if ((addr = nlpy_addr_to_py(&a)) == NULL) {
            Py_CLEAR(list);
            goto out;
        }
        item = Py_BuildValue("(iiisN)", res[i].ep.family, res[i].socktype, res[i].protocol,
                             i == 0 ? canon : "", addr);
        if (item == NULL) {
            Py_CLEAR(list);
            goto out;
        }
        PyList_SET_ITEM(list, i, item);
    }
out:
    PyMem_Free(res);
    return list;
}

/* getnameinfo(): (host, service) of a numeric address and port, via nl_endpoint_name(). */
static PyObject *nlpy_getnameinfo(const char *host, int port, unsigned flowinfo,
                                  unsigned scope_id, int want_family, int flags)
{
    char name[1025], serv[32];
    nl_endpoint ep;
    int rc;

    (void)flowinfo;
    rc = nl_endpoint_from_host(&ep, host, port,
                               want_family == NL_AF_INET6 ? NL_RESOLVE_IPV6 : NL_RESOLVE_IPV4);
    if (rc < 0) {
        nlpy_raise(rc);
        return NULL;
    }
    if (ep.family == NL_AF_INET6)
        ep.scope_id = scope_id;
    Py_BEGIN_ALLOW_THREADS
    rc = nl_endpoint_name(&ep, name, sizeof name, serv, sizeof serv, flags);
    Py_END_ALLOW_THREADS
    if (rc < 0) {
        nlpy_raise(rc);
        return NULL;
    }
    return Py_BuildValue("(ss)", name, serv);
}

/* inet_pton() / inet_ntop() / inet_aton() of the system, as the stdlib calls them. */
static PyObject *nlpy_inet_pton(int family, const char *text)
{
    unsigned char buf[16];
    int rc;

    if (family != AF_INET && family != AF_INET6) {
        errno = EAFNOSUPPORT;
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    rc = inet_pton(family, text, buf);
    if (rc <= 0) {
        PyErr_SetString(PyExc_OSError, "illegal IP address string passed to inet_pton");
        return NULL;
    }
    return PyBytes_FromStringAndSize((const char *)buf, family == AF_INET ? 4 : 16);
}

static PyObject *nlpy_inet_ntop(int family, const void *in_buf, size_t in_len)
{
    char text[INET6_ADDRSTRLEN];

    if (family != AF_INET && family != AF_INET6) {
        PyErr_SetString(PyExc_ValueError, "unknown address family");
        return NULL;
    }
    if (in_len != (family == AF_INET ? 4u : 16u)) {
        PyErr_SetString(PyExc_ValueError, family == AF_INET
                        ? "invalid length of packed IP address string"
                        : "invalid length of packed IP address string");
        return NULL;
    }
    if (inet_ntop(family, in_buf, text, sizeof text) == NULL)
        return PyErr_SetFromErrno(PyExc_OSError);
    return PyUnicode_FromString(text);
}

static PyObject *nlpy_inet_aton(const char *text)
{
    struct in_addr a;

    if (inet_aton(text, &a) == 0) {
        PyErr_SetString(PyExc_OSError, "illegal IP address string passed to inet_aton");
        return NULL;
    }
    return PyBytes_FromStringAndSize((const char *)&a, 4);
}
%}

%noexception;
%nothread;
%rename(getaddrinfo) nlpy_getaddrinfo;
PyObject *nlpy_getaddrinfo(const char *host, const char *service, int family, int socktype,
                           int protocol, int flags);
%rename(getnameinfo) nlpy_getnameinfo;
PyObject *nlpy_getnameinfo(const char *host, int port, unsigned flowinfo, unsigned scope_id,
                           int want_family, int flags);
%rename(inet_pton) nlpy_inet_pton;
PyObject *nlpy_inet_pton(int family, const char *text);
%rename(inet_ntop) nlpy_inet_ntop;
PyObject *nlpy_inet_ntop(int family, const void *in_buf, size_t in_len);
%rename(inet_aton) nlpy_inet_aton;
PyObject *nlpy_inet_aton(const char *text);
%thread;

%constant int AI_PASSIVE = AI_PASSIVE;
%constant int AI_CANONNAME = AI_CANONNAME;
%constant int AI_NUMERICHOST = AI_NUMERICHOST;
%constant int AI_NUMERICSERV = AI_NUMERICSERV;
%constant int AI_V4MAPPED = AI_V4MAPPED;
%constant int AI_ALL = AI_ALL;
%constant int AI_ADDRCONFIG = AI_ADDRCONFIG;
%constant int NI_NUMERICHOST = NI_NUMERICHOST;
%constant int NI_NUMERICSERV = NI_NUMERICSERV;
%constant int NI_NOFQDN = NI_NOFQDN;
%constant int NI_NAMEREQD = NI_NAMEREQD;
%constant int NI_DGRAM = NI_DGRAM;
%constant int NI_MAXHOST = NI_MAXHOST;
%constant int NI_MAXSERV = NI_MAXSERV;
%constant int SOCK_RAW = SOCK_RAW;
%constant int EAI_NODATA = EAI_NODATA;
%constant int EAI_ADDRFAMILY = EAI_ADDRFAMILY;
%constant int EAI_MEMORY = EAI_MEMORY;
%constant int EAI_SYSTEM = EAI_SYSTEM;
%constant int EAI_BADFLAGS = EAI_BADFLAGS;
%constant int EAI_SOCKTYPE = EAI_SOCKTYPE;
%constant int EAI_OVERFLOW = EAI_OVERFLOW;

/* ---- The stdlib's enums: every AF_*, SOCK_*, MSG_* the system headers name (netlab/__init__.py
   builds AddressFamily, SocketKind and MsgFlag from these, as the stdlib does from _socket) */
%constant int AF_UNIX = AF_UNIX;
%constant int AF_AX25 = AF_AX25;
%constant int AF_IPX = AF_IPX;
%constant int AF_APPLETALK = AF_APPLETALK;
%constant int AF_NETROM = AF_NETROM;
%constant int AF_BRIDGE = AF_BRIDGE;
%constant int AF_ATMPVC = AF_ATMPVC;
%constant int AF_X25 = AF_X25;
%constant int AF_ROSE = AF_ROSE;
%constant int AF_NETBEUI = AF_NETBEUI;
%constant int AF_SECURITY = AF_SECURITY;
%constant int AF_KEY = AF_KEY;
%constant int AF_NETLINK = AF_NETLINK;
%constant int AF_ROUTE = AF_ROUTE;
%constant int AF_PACKET = AF_PACKET;
%constant int AF_ASH = AF_ASH;
%constant int AF_ECONET = AF_ECONET;
%constant int AF_ATMSVC = AF_ATMSVC;
%constant int AF_RDS = AF_RDS;
%constant int AF_SNA = AF_SNA;
%constant int AF_IRDA = AF_IRDA;
%constant int AF_PPPOX = AF_PPPOX;
%constant int AF_WANPIPE = AF_WANPIPE;
%constant int AF_LLC = AF_LLC;
%constant int AF_CAN = AF_CAN;
%constant int AF_TIPC = AF_TIPC;
%constant int AF_BLUETOOTH = AF_BLUETOOTH;
%constant int AF_ALG = AF_ALG;
%constant int AF_VSOCK = AF_VSOCK;
%constant int AF_QIPCRTR = AF_QIPCRTR;
%constant int SOCK_RDM = SOCK_RDM;
%constant int SOCK_SEQPACKET = SOCK_SEQPACKET;
%constant int SOCK_NONBLOCK = SOCK_NONBLOCK;
%constant int SOCK_CLOEXEC = SOCK_CLOEXEC;
%constant int MSG_OOB = MSG_OOB;
%constant int MSG_PEEK = MSG_PEEK;
%constant int MSG_DONTROUTE = MSG_DONTROUTE;
%constant int MSG_CTRUNC = MSG_CTRUNC;
%constant int MSG_TRUNC = MSG_TRUNC;
%constant int MSG_DONTWAIT = MSG_DONTWAIT;
%constant int MSG_EOR = MSG_EOR;
%constant int MSG_WAITALL = MSG_WAITALL;
%constant int MSG_CONFIRM = MSG_CONFIRM;
%constant int MSG_ERRQUEUE = MSG_ERRQUEUE;
%constant int MSG_NOSIGNAL = MSG_NOSIGNAL;
%constant int MSG_MORE = MSG_MORE;
%constant int MSG_FASTOPEN = MSG_FASTOPEN;
%constant int MSG_CMSG_CLOEXEC = MSG_CMSG_CLOEXEC;
%constant int SOL_TCP = SOL_TCP;
%constant int SOL_UDP = SOL_UDP;
%constant int SOL_IP = SOL_IP;

/* ---- Network interfaces and the host name (netlab/_resolve.py) ------------------------- */

%{
#include <net/if.h>
#include <unistd.h>

/* if_nameindex(): [(index, name), ...]. */
static PyObject *nlpy_if_nameindex(void)
{
    struct if_nameindex *ni = if_nameindex(), *p;
    PyObject *list;

    if (ni == NULL)
        return PyErr_SetFromErrno(PyExc_OSError);
    if ((list = PyList_New(0)) == NULL)
        goto out;
    for (p = ni; p->if_index != 0 && p->if_name != NULL; p++) {
        PyObject *item = Py_BuildValue("(Is)", p->if_index, p->if_name);
        if (item == NULL || PyList_Append(list, item) < 0) {
            Py_XDECREF(item);
            Py_CLEAR(list);
            goto out;
        }
        Py_DECREF(item);
    }
out:
    if_freenameindex(ni);
    return list;
}

/* if_nametoindex(): 0 when there is no such interface (the caller raises). */
static unsigned long nlpy_if_nametoindex(const char *name)
{
    return if_nametoindex(name);
}

static PyObject *nlpy_if_indextoname(unsigned long index)
{
    char name[IF_NAMESIZE + 1];

    if (index > 0xffffffffUL) {
        PyErr_SetString(PyExc_OverflowError, "index too big");
        return NULL;
    }
    if (if_indextoname((unsigned)index, name) == NULL)
        return PyErr_SetFromErrno(PyExc_OSError);
    return PyUnicode_FromString(name);
}

static PyObject *nlpy_sethostname(const void *in_buf, size_t in_len)
{
    if (sethostname(in_buf, in_len) < 0)
        return PyErr_SetFromErrno(PyExc_OSError);
    Py_RETURN_NONE;
}
%}

%noexception;
%nothread;
%rename(if_nameindex) nlpy_if_nameindex;
PyObject *nlpy_if_nameindex(void);
%rename(if_nametoindex) nlpy_if_nametoindex;
unsigned long nlpy_if_nametoindex(const char *name);
%rename(if_indextoname) nlpy_if_indextoname;
PyObject *nlpy_if_indextoname(unsigned long index);
%rename(sethostname) nlpy_sethostname;
PyObject *nlpy_sethostname(const void *in_buf, size_t in_len);
%thread;
/* ---- The C base of netlab.socket (nlpy_sock.c) -------------------------------------------- */

/* nlpy_sock.c is plain C with no SWIG in it; it borrows these conversions, which live here. */
%{
#include "nlpy_sock.h"

static nlpy_sock *nlpy_handle_ptr(PyObject *obj)
{
    void *p = NULL;

    if (!SWIG_IsOK(SWIG_ConvertPtr(obj, &p, SWIGTYPE_p_nlpy_sock, 0)) || p == NULL) {
        PyErr_SetString(PyExc_TypeError, "netlab: not a socket handle");
        return NULL;
    }
    return (nlpy_sock *)p;
}

static PyObject *nlpy_handle_obj(nlpy_sock *s)
{
    return SWIG_InternalNewPointerObj(s, SWIGTYPE_p_nlpy_sock, SWIG_POINTER_OWN);
}
%}

%init %{
    {
        const nlpy_hooks hooks = {nlpy_raise, nlpy_addr_to_py, nlpy_handle_ptr, nlpy_handle_obj};
        if (nlpy_sock_add_type(m, &hooks) < 0)
            return NULL;
    }
%}
