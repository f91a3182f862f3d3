/* The C side of netlab.capture.Capture; see nlpy_capture.h for why the box exists. */
#define PY_SSIZE_T_CLEAN
#include "nlpy_capture.h"

#include <pthread.h>
#include <stdlib.h>

struct nlpy_capture {
    pthread_mutex_t mu; /* one call at a time */
    nl_capture *cap;    /* NULL once closed   */
};

nlpy_rc nlpy_capture_open(nlpy_capture **out, const char *ifname, int port, int offline)
{
    nlpy_capture *c;
    int rc;

    *out = NULL;
    if (port < 1 || port > 65535)
        return NL_EBADPORT;
    if (!(c = calloc(1, sizeof *c)))
        return NL_ENOMEM;
    rc = nl_capture_open(&c->cap, ifname, (uint16_t)port, offline ? NL_CAPTURE_OFFLINE : 0);
    if (rc < 0) {
        free(c);
        return rc;
    }
    pthread_mutex_init(&c->mu, NULL);
    *out = c;
    return 0;
}

nlpy_rc nlpy_capture_close(nlpy_capture *c)
{
    pthread_mutex_lock(&c->mu);
    nl_capture_close(c->cap);
    c->cap = NULL;
    pthread_mutex_unlock(&c->mu);
    return 0;
}

void nlpy_capture_free(nlpy_capture *c)
{
    if (!c)
        return;
    nlpy_capture_close(c);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

nlpy_rc nlpy_capture_fileno(nlpy_capture *c)
{
    pthread_mutex_lock(&c->mu);
    int rc = c->cap ? nl_capture_fd(c->cap) : NL_EBADF;
    pthread_mutex_unlock(&c->mu);
    return rc;
}

nlpy_rc nlpy_capture_read(nlpy_capture *c, int timeout_ms, nlpy_packets *out)
{
    out->n = 0;
    pthread_mutex_lock(&c->mu);
    int rc = c->cap ? nl_capture_read(c->cap, out->p, NLPY_CAPTURE_BATCH, timeout_ms) : NL_EBADF;
    pthread_mutex_unlock(&c->mu);
    if (rc < 0)
        return rc;
    out->n = rc;
    return 0;
}

nlpy_rc nlpy_capture_feed(nlpy_capture *c, const void *in_buf, size_t in_len, nlpy_packets *out)
{
    out->n = 0;
    pthread_mutex_lock(&c->mu);
    int rc = c->cap ? nl_capture_feed(c->cap, in_buf, in_len, out->p) : NL_EBADF;
    pthread_mutex_unlock(&c->mu);
    if (rc < 0)
        return rc;
    out->n = rc;
    return 0;
}

nlpy_rc nlpy_capture_stats(nlpy_capture *c, nl_capture_counts *out)
{
    pthread_mutex_lock(&c->mu);
    int rc = c->cap ? nl_capture_stats(c->cap, out) : NL_EBADF;
    pthread_mutex_unlock(&c->mu);
    return rc;
}

/* (host, port) as Python's socket module shows an IPv4 or IPv6 address (no zone). */
static PyObject *addr_to_py(const nl_endpoint *ep)
{
    char host[NL_ENDPOINT_STRLEN];
    nl_endpoint_format_addr(ep, host, sizeof host);
    return Py_BuildValue("(sI)", host, (unsigned)ep->port);
}

static PyObject *packet_to_py(const nl_capture_packet *p)
{
    char text[512], json[512];
    PyObject *src = addr_to_py(&p->src), *dst = addr_to_py(&p->dst), *d = NULL;

    nl_capture_format(p, NL_CAPTURE_TEXT, text, sizeof text);
    nl_capture_format(p, NL_CAPTURE_JSON, json, sizeof json);
    if (src && dst)
        d = Py_BuildValue(
            "{s:K,s:s,s:O,s:O,s:O,s:I,s:k,s:k,s:k,s:k,s:k,s:k,s:O,s:i,s:I,s:k,s:s,s:K,s:s,s:s}",
            "index", (unsigned long long)p->index, "proto",
            p->proto == NL_CAPTURE_TCP ? "tcp" : "udp", "to_server",
            p->to_server ? Py_True : Py_False, "src", src, "dst", dst, "flags", p->flags, "seq",
            (unsigned long)p->seq, "ack", (unsigned long)p->ack, "rel_seq",
            (unsigned long)p->rel_seq, "rel_ack", (unsigned long)p->rel_ack, "len",
            (unsigned long)p->len, "window", (unsigned long)p->window, "window_scaled",
            p->window_scaled ? Py_True : Py_False, "wscale", p->wscale, "udp_len",
            (unsigned)p->udp_len, "segs", (unsigned long)p->segs, "step",
            nl_capture_step_name(p->step), "answers", (unsigned long long)p->answers, "text", text,
            "json", json);
    Py_XDECREF(src);
    Py_XDECREF(dst);
    return d;
}

PyObject *nlpy_packets_to_py(const nlpy_packets *pk)
{
    PyObject *list = PyList_New(pk->n);

    for (int i = 0; list && i < pk->n; i++) {
        PyObject *d = packet_to_py(&pk->p[i]);
        if (!d) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, i, d);
    }
    return list;
}
