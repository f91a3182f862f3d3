/* The C side of the Python binding: socket objects as Python sees them, over nl_udp/nl_tcp.
 *
 * Not part of libnetlab's API. SWIG wraps these functions (netlab.i) into the private module
 * netlab._netlab; netlab/__init__.py builds the socket-like surface on top.
 *
 * Why a box around the library's handles: a Python socket can be closed by one thread while
 * another is blocked in recvfrom() on it (the two-thread chat does exactly that to quit). The
 * library's handles must be used by one thread at a time and nl_*_close() frees them, so the
 * box counts the calls in flight and closes the handle only when the last one has left: the
 * handle is freed exactly once and never while in use. Every function runs without the GIL
 * (SWIG -threads), hence the mutex.
 *
 * Return values follow the library: >= 0 success (or a count), negative NL_E* code on error;
 * netlab.i turns the codes into Python exceptions. The handles are opened with
 * nl_opts.return_eintr: a signal ends a blocking call with NL_EINTR, and the caller (Python)
 * runs its handlers and calls again (PEP 475).
 */
#ifndef NLPY_H
#define NLPY_H

#include <stddef.h>

#include "netlab.h"

/** 0 or a negative NL_E* code. Python sees None (or the out-values) or an exception. */
typedef int nlpy_rc;
/** A byte count or a negative NL_E* code. */
typedef long nlpy_count;

/** A socket object. Owned by its Python wrapper; freed by nlpy_free(). */
typedef struct nlpy_sock nlpy_sock;

/** An address as Python sees it: the endpoint plus the family of the socket it came from, so
 *  an IPv4 peer of an AF_INET6 socket is shown in its mapped form, as the stdlib shows it. */
typedef struct nlpy_addr {
    nl_endpoint ep;
    int sock_family;
} nlpy_addr;

/** Socket types, equal to the system's SOCK_STREAM and SOCK_DGRAM. */
#define NLPY_SOCK_STREAM 1
#define NLPY_SOCK_DGRAM 2

/** Open a socket at once, as Python's socket() does: nl_udp_open() or nl_tcp_open().
 *  @return 0; NL_EAFNOSUPPORT; NL_EPROTOTYPE (not SOCK_STREAM/SOCK_DGRAM); NL_ENOMEM; ... */
nlpy_rc nlpy_open(nlpy_sock **out, int family, int type);

/** Free the box, closing the handle if close() was never called. NULL is a no-op. Called by
 *  the wrapper's destructor only, i.e. when no call can be in flight. */
void nlpy_free(nlpy_sock *s);

/** Close: no new calls are accepted (NL_EBADF), the handle is closed now or, when calls are in
 *  flight, shut down now (to wake them) and closed when the last one leaves. A second close is
 *  a no-op returning 0. @return 0 or the close() error. */
nlpy_rc nlpy_close(nlpy_sock *s);

/** The descriptor, -1 once closed. */
int nlpy_fileno(nlpy_sock *s);
/** NL_AF_INET or NL_AF_INET6 (valid after close too). */
int nlpy_family(nlpy_sock *s);
/** NLPY_SOCK_STREAM or NLPY_SOCK_DGRAM (valid after close too). */
int nlpy_type(nlpy_sock *s);

/** Make an endpoint from a host and port for a socket of the given family (a name is
 *  resolved; IPv4-only for AF_INET, IPv6 for AF_INET6 as the stdlib does). Blocks in the
 *  resolver for names. @return 0, NL_EBADPORT, NL_EBADADDR or an NL_EAI_* code. */
nlpy_rc nlpy_endpoint(nl_endpoint *out, int family, const char *host, int port,
                      unsigned scope_id);

/** Bind to host:port (see nlpy_endpoint()); the library's bind errors. */
nlpy_rc nlpy_bind(nlpy_sock *s, const char *host, int port, unsigned scope_id);
/** Listen (TCP); NL_ENOTSUP for a UDP socket, as listen(2) says (EOPNOTSUPP). */
nlpy_rc nlpy_listen(nlpy_sock *s, int backlog);
/** Accept one connection within timeout_ms. */
nlpy_rc nlpy_accept(nlpy_sock *s, int timeout_ms, nlpy_sock **conn, nlpy_addr *peer);
/** Connect within timeout_ms. TCP: on NL_ETIMEDOUT the handshake goes on (see
 *  nlpy_connect_wait); NL_EINPROGRESS for timeout 0. UDP: records the peer. */
nlpy_rc nlpy_connect(nlpy_sock *s, const char *host, int port, unsigned scope_id,
                     int timeout_ms);
/** Wait at most timeout_ms for a TCP handshake started by nlpy_connect() to be decided.
 *  @return 0 connected; NL_ETIMEDOUT still going; NL_EINTR a signal interrupted the wait (the
 *  handshake goes on); or the handshake's error (NL_ECONNREFUSED, ...). */
nlpy_rc nlpy_connect_wait(nlpy_sock *s, int timeout_ms);

/** Receive up to cap bytes into buf. TCP: 0 when the peer closed. UDP: a datagram larger than
 *  cap is cut to cap bytes silently, as recv() does. Sender into from when not NULL (UDP; for
 *  TCP from->ep stays unset). */
nlpy_count nlpy_recv(nlpy_sock *s, void *buf, size_t cap, nlpy_addr *from, int timeout_ms);
/** Send once (TCP: maybe partially; UDP: one datagram to the connected peer). */
nlpy_count nlpy_send(nlpy_sock *s, const void *buf, size_t len, int timeout_ms);
/** Send everything within timeout_ms. Returns len when done; the count sent so far (< len)
 *  when the time ran out or a signal came after some progress; otherwise the error. */
nlpy_count nlpy_sendall(nlpy_sock *s, const void *buf, size_t len, int timeout_ms);
/** Send one datagram to host:port (UDP). A TCP socket takes no destination: connected, it
 *  sends as nlpy_send() does (Linux ignores the address, as the stdlib's sendto() then does);
 *  not connected, NL_EPIPE. */
nlpy_count nlpy_sendto(nlpy_sock *s, const void *buf, size_t len, const char *host, int port,
                       unsigned scope_id, int timeout_ms);

/** nlpy_sendto() with the destination already made (by nlpy_endpoint()). */
nlpy_count nlpy_sendto_ep(nlpy_sock *s, const void *buf, size_t len, const nl_endpoint *ep,
                          int timeout_ms);

/** Set or clear the descriptor's O_NONBLOCK, as the stdlib does when the time-out mode changes
 *  (blocking: clear, so a blocking call waits in one system call; time-out or non-blocking:
 *  set). The library's calls work either way: they pass MSG_DONTWAIT and poll when they have
 *  a time-out. @return 0 or the fcntl() error. */
nlpy_rc nlpy_set_nonblocking(nlpy_sock *s, int on);

/** Shut down NL_SHUT_RD, NL_SHUT_WR or NL_SHUT_RDWR; for UDP, whatever shutdown(2) says. */
nlpy_rc nlpy_shutdown(nlpy_sock *s, int how);
/** The local address (unbound: the wildcard and port 0). */
nlpy_rc nlpy_getsockname(nlpy_sock *s, nlpy_addr *out);
/** The peer's address; NL_ENOTCONN when not connected. */
nlpy_rc nlpy_getpeername(nlpy_sock *s, nlpy_addr *out);

/* Socket options: plain setsockopt()/getsockopt() on the handle's descriptor, errors as the
 * kernel gives them (NL_ENOPROTOOPT, NL_EINVAL, ...). */
nlpy_rc nlpy_setsockopt_int(nlpy_sock *s, int level, int name, int value);
nlpy_rc nlpy_setsockopt_buf(nlpy_sock *s, int level, int name, const void *buf, size_t len);
nlpy_rc nlpy_getsockopt_int(nlpy_sock *s, int level, int name, int *value);
/** Read an option's raw bytes into buf; returns the length the kernel gave. */
nlpy_count nlpy_getsockopt_buf(nlpy_sock *s, int level, int name, void *buf, size_t cap);

/* ---- Batch UDP (netlab extras: socket.recvmmsg / socket.sendmmsg) ---- */

/** What nlpy_recv_batch() received, owned by the caller: nlpy_rbatch_free() releases it.
 *  msgs[i].buf points into one allocation of count x bufsize bytes. */
typedef struct nlpy_rbatch {
    nl_udp_msg *msgs;
    char *arena;
    int sock_family; /* to show the senders' addresses as the stdlib would */
} nlpy_rbatch;

/** Receive up to count datagrams of at most bufsize bytes each (longer ones are cut to bufsize
 *  silently, as recvfrom() does) with nl_udp_recv_batch(): waits up to timeout_ms for the
 *  first, then takes what is already queued. @return the number received (0 for count 0, or
 *  when receiving was shut down); NL_ENOTSUP for a stream socket; NL_EINVAL for a negative
 *  count or bufsize; NL_ENOMEM; or the errors of nl_udp_recv_batch(). */
nlpy_count nlpy_recv_batch(nlpy_sock *s, nlpy_rbatch *b, long count, long bufsize,
                           int timeout_ms);
/** nlpy_recv_batch() into the caller's msgs[0..count-1] (buf and cap set; the caller owns
 *  them and keeps them until the call returns): the socket's C fast path (nlpy_sock.c) reuses
 *  one set of buffers per socket. @return as nlpy_recv_batch() (no NL_ENOMEM). */
nlpy_count nlpy_recv_msgs(nlpy_sock *s, nl_udp_msg *msgs, long count, int timeout_ms);
/** Release what nlpy_recv_batch() put into b. */
void nlpy_rbatch_free(nlpy_rbatch *b);

/** One datagram to send: its bytes (held by the caller) and its destination (host NULL: the
 *  connected peer). */
typedef struct nlpy_sitem {
    const void *buf;
    size_t len;
    const char *host;
    int port;
    unsigned scope_id;
} nlpy_sitem;

/** Send items[0..count-1] with nl_udp_send_batch(), each destination made by nlpy_endpoint()
 *  (a host equal to the previous item's is not looked up again). When a destination is bad,
 *  the items before it are sent and their number returned; its error comes when it is first.
 *  @return the number sent (>= 1, or 0 for count 0); NL_ENOTSUP for a stream socket; or the
 *  errors of nlpy_endpoint() and nl_udp_send_batch(). */
nlpy_count nlpy_send_batch(nlpy_sock *s, const nlpy_sitem *items, size_t count, int timeout_ms);

/* ---- Descriptors ---- */

/** Make a socket object of a descriptor opened elsewhere (Python's socket(fileno=fd)): its type
 *  and family are read from the kernel; nl_tcp_adopt() / nl_udp_adopt() take it over. On
 *  failure the descriptor stays the caller's. NL_EINVAL for another socket type, the library's
 *  errors (NL_EBADF, NL_ENOTSOCK, NL_EAFNOSUPPORT, ...) otherwise. */
nlpy_rc nlpy_adopt(nlpy_sock **out, int fd);
/** Give up the descriptor without closing it (Python's detach()): returns it, and the socket
 *  object is closed from then on; -1 when it was closed already; NL_EBUSY while another thread
 *  is in a call on it. */
nlpy_rc nlpy_detach(nlpy_sock *s);

#endif /* NLPY_H */
