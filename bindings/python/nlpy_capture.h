/* The C side of netlab.capture.Capture: libnetlab's capture (nl_capture) as Python sees it.
 *
 * Not part of libnetlab's API; netlab.i wraps it, netlab/capture.py builds the class on top.
 *
 * Why a box: a Python program may read on one thread and close (or ask for the counters) on
 * another, while nl_capture handles take one thread at a time. A mutex makes the calls take
 * turns; close() waits for a read in flight, which the Python side keeps short (it reads in
 * slices of at most 200 ms). Every function runs without the GIL (SWIG -threads), except
 * nlpy_packets_to_py(), which makes Python objects.
 */
#ifndef NLPY_CAPTURE_H
#define NLPY_CAPTURE_H

#include <Python.h>

#include "nlpy.h"

/** A capture box. Owned by its Python wrapper; freed by nlpy_capture_free(). */
typedef struct nlpy_capture nlpy_capture;

/** Room for the packets one call returns. */
#define NLPY_CAPTURE_BATCH 64

/** Packets out of a read or a feed. */
typedef struct nlpy_packets {
    int n; /* how many of p are filled */
    nl_capture_packet p[NLPY_CAPTURE_BATCH];
} nlpy_packets;

/** Start capturing port on interface ifname (NULL: "lo"); offline: no socket, feed() only.
 *  @return 0; NL_EBADPORT for a port outside 1-65535; the errors of nl_capture_open(). */
nlpy_rc nlpy_capture_open(nlpy_capture **out, const char *ifname, int port, int offline);
/** Free; destructor only (closes first). */
void nlpy_capture_free(nlpy_capture *c);
/** Stop capturing (waits for a read in flight). A second close is a no-op. @return 0. */
nlpy_rc nlpy_capture_close(nlpy_capture *c);
/** The descriptor to poll. @return it; NL_EBADF after close; NL_EINVAL offline. */
nlpy_rc nlpy_capture_fileno(nlpy_capture *c);
/** Read what is waiting, waiting up to timeout_ms for the first packet.
 *  @return 0 with out filled; NL_ETIMEDOUT, NL_EAGAIN, NL_EBADF after close, or the errors of
 *  nl_capture_read(). */
nlpy_rc nlpy_capture_read(nlpy_capture *c, int timeout_ms, nlpy_packets *out);
/** Decode one IP packet and follow its connection (nl_capture_feed()); out->n is 0 when it is
 *  not for the port. @return 0; NL_EBADF after close. */
nlpy_rc nlpy_capture_feed(nlpy_capture *c, const void *in_buf, size_t in_len, nlpy_packets *out);
/** The counters. @return 0; NL_EBADF after close; the error of nl_capture_stats(). */
nlpy_rc nlpy_capture_stats(nlpy_capture *c, nl_capture_counts *out);

/** The packets as a list of dicts (needs the GIL). NULL with a Python error set on failure. */
PyObject *nlpy_packets_to_py(const nlpy_packets *pk);

/** The counters of nl_capture_counts, by name, for the Python dict (X-macro). */
#define NLPY_CAPTURE_STATS(X) X(received) X(drops) X(decoded) X(ignored)

#endif /* NLPY_CAPTURE_H */
