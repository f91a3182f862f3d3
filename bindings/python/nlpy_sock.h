/* The C base type of netlab.socket: the per-call hot paths with no Python method layer.
 *
 * Not part of libnetlab's API. netlab._netlab._sock is a hand-written extension type; the
 * Python class netlab.socket derives from it and keeps everything that is not per-call (bind,
 * listen, close, socket options, ...). The base type holds the handle (the SWIG object of an
 * nlpy_sock, as `_h`) and the time-out (`_timeout`), and implements recv, recvfrom, recv_into,
 * recvfrom_into, recvmmsg, send, sendto, sendall, accept, the time-out calls and the connect
 * wait:
 *
 * - a blocking call waits in the kernel in one system call (the handle returns NL_EINTR for a
 *   signal; the call runs the Python signal handlers and goes on, or raises what a handler
 *   raised: PEP 475), with the GIL released only around calls that may wait;
 * - the last sender's address tuple is kept and given again while the sender stays the same,
 *   and the last destination's parsed endpoint is kept while sendto() gets the same address
 *   (the same object, or an equal (str, int[, int, int]) tuple of a numeric host);
 * - the descriptor's O_NONBLOCK follows the time-out mode, as the stdlib's does.
 */
#ifndef NLPY_SOCK_H
#define NLPY_SOCK_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "nlpy.h"

/** What the base type borrows from the SWIG wrapper, which owns these conversions. */
typedef struct nlpy_hooks {
    void (*raise)(long code);                       /**< set the exception for an NL_E* code */
    PyObject *(*addr_to_py)(const nlpy_addr *addr); /**< an address tuple, or None */
    nlpy_sock *(*handle_ptr)(PyObject *obj);        /**< the box in a handle object, or NULL */
    PyObject *(*handle_obj)(nlpy_sock *s);          /**< a new handle object that owns s */
} nlpy_hooks;

/** Add the type `_sock` to the module. @return 0, or -1 with an exception set. */
int nlpy_sock_add_type(PyObject *module, const nlpy_hooks *hooks);

#endif /* NLPY_SOCK_H */
