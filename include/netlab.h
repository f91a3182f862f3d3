/** @file
 * libnetlab: the socket library of the course notes, done right.
 *
 * This is the one public entry point: include it and link -lnetlab. Everything under
 * netlab/ is part of the public API; nothing else is.
 *
 *   netlab/error.h     NL_E* codes, nl_strerror(), nl_err_name()
 *   netlab/endpoint.h  nl_endpoint: parse, resolve, format, compare IPv4/IPv6 endpoints
 *   netlab/trace.h     nl_opts and the per-handle system-call trace
 *   netlab/udp.h       nl_udp: datagrams (the course's UDP flow)
 *   netlab/tcp.h       nl_tcp: connections (the course's TCP flow)
 *   netlab/chat.h      nl_chat_session: point-to-point chat over UDP (reliable or plain)
 *   netlab/server.h    nl_tcp_server: one-thread concurrent TCP server, built-in echo
 *   netlab/udp_batch.h nl_udp_recv_batch / nl_udp_send_batch: many datagrams per call
 */
#ifndef NETLAB_H
#define NETLAB_H

#include "netlab/version.h"
#include "netlab/error.h"
#include "netlab/endpoint.h"
#include "netlab/trace.h"
#include "netlab/udp.h"
#include "netlab/tcp.h"
#include "netlab/chat.h"
#include "netlab/chat_room.h"
#include "netlab/udp_batch.h"
#include "netlab/server.h"
#include "netlab/capture.h"

#endif /* NETLAB_H */
