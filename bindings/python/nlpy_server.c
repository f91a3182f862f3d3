/* The C side of netlab.EchoServer; see nlpy_server.h for why the box exists. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "nlpy_server.h"

struct nlpy_server {
    pthread_mutex_t mu;  /* guards everything below                          */
    pthread_cond_t idle; /* signalled when a run returns                     */
    nl_tcp_server *srv;  /* NULL once closed                                 */
    int family;          /* NL_AF_INET or NL_AF_INET6                        */
    int running;         /* a thread is in nl_tcp_server_run()               */
    int closing;         /* close() was called                               */
};

nlpy_rc nlpy_server_open(nlpy_server **out, int family, const char *host, int port,
                         unsigned scope_id, int idle_timeout_ms, long max_queued,
                         int max_connections)
{
    nl_tcp_server_config cfg;
    nl_endpoint ep;
    nlpy_server *v;
    int rc;

    *out = NULL;
    if ((rc = nlpy_endpoint(&ep, family, host, port, scope_id)) < 0)
        return rc;
    if (max_queued < 0)
        return NL_EINVAL;
    memset(&cfg, 0, sizeof cfg);
    cfg.idle_timeout_ms = idle_timeout_ms;
    cfg.max_queued = (size_t)max_queued;
    cfg.max_connections = max_connections;
    v = calloc(1, sizeof *v);
    if (v == NULL)
        return NL_ENOMEM;
    if ((rc = nl_tcp_server_open(&v->srv, &ep, &cfg)) < 0) {
        free(v);
        return rc;
    }
    pthread_mutex_init(&v->mu, NULL);
    pthread_cond_init(&v->idle, NULL);
    v->family = family;
    *out = v;
    return 0;
}

nlpy_rc nlpy_server_close(nlpy_server *v)
{
    pthread_mutex_lock(&v->mu);
    if (!v->closing) {
        v->closing = 1;
        if (v->running)
            (void)nl_tcp_server_stop(v->srv);
        while (v->running)
            pthread_cond_wait(&v->idle, &v->mu);
        nl_tcp_server_close(v->srv);
        v->srv = NULL;
    }
    pthread_mutex_unlock(&v->mu);
    return 0;
}

void nlpy_server_free(nlpy_server *v)
{
    if (v == NULL)
        return;
    (void)nlpy_server_close(v);
    pthread_cond_destroy(&v->idle);
    pthread_mutex_destroy(&v->mu);
    free(v);
}

nlpy_rc nlpy_server_run(nlpy_server *v)
{
    int rc;

    pthread_mutex_lock(&v->mu);
    rc = v->closing ? NL_EBADF : v->running ? NL_EBUSY : 0;
    if (rc == 0)
        v->running = 1;
    pthread_mutex_unlock(&v->mu);
    if (rc < 0)
        return rc;
    rc = nl_tcp_server_run(v->srv);
    pthread_mutex_lock(&v->mu);
    v->running = 0;
    pthread_cond_broadcast(&v->idle);
    pthread_mutex_unlock(&v->mu);
    return rc;
}

nlpy_rc nlpy_server_stop(nlpy_server *v)
{
    int rc = 0;

    /* Under the mutex so that it cannot meet close(); run does not hold it while serving. */
    pthread_mutex_lock(&v->mu);
    if (!v->closing)
        rc = nl_tcp_server_stop(v->srv);
    pthread_mutex_unlock(&v->mu);
    return rc;
}

nlpy_rc nlpy_server_local(nlpy_server *v, nlpy_addr *out)
{
    int rc;

    memset(out, 0, sizeof *out);
    out->sock_family = v->family;
    pthread_mutex_lock(&v->mu);
    rc = v->closing ? NL_EBADF : nl_tcp_server_local(v->srv, &out->ep);
    pthread_mutex_unlock(&v->mu);
    return rc;
}

nlpy_rc nlpy_server_stats(nlpy_server *v, nl_tcp_server_stats *out)
{
    int rc;

    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&v->mu);
    rc = v->closing ? NL_EBADF : v->running ? NL_EBUSY : nl_tcp_server_stats_get(v->srv, out);
    pthread_mutex_unlock(&v->mu);
    return rc;
}
