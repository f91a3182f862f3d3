/** @file
 * libnetlab: a live view of the packets behind a program (the wire), a teaching aid.
 *
 * The course notes teach TCP's three-way handshake in words: 客户端给服务器发送请求连接包
 * (SYN), 服务器给客户端发送回应+请求连接包 (SYN+ACK), 客户端给服务器发送回应连接包 (ACK), and
 * 三次握手之后TCP传输数据必须回应 (every data segment is acknowledged). A capture shows those
 * packets as they happen: it watches the TCP segments and UDP datagrams of one local port and
 * reports each one with its direction, flags, relative sequence and acknowledgement numbers,
 * payload length and (scaled) window, labelled with the step of the exchange it is, and with
 * the data segment an ACK answers.
 *
 *   nl_capture_open("lo", port) -> start the exchange -> poll nl_capture_fd() and call
 *   nl_capture_read() while it runs -> nl_capture_stats() (drops) -> nl_capture_close()
 *
 * How: a Linux packet socket (AF_PACKET, SOCK_DGRAM, so every interface type yields IP
 * packets) with a classic BPF filter on the port, attached before the socket is bound so that
 * no foreign packet is queued. On a loopback interface every packet passes twice (once going
 * out, once coming in); the outgoing copy is ignored (PACKET_IGNORE_OUTGOING). The kernel
 * queues what it captured until it is read, in a bounded buffer: read while the exchange runs.
 * A packet the kernel had to drop is counted (PACKET_STATISTICS, see nl_capture_stats()), so
 * a missed packet is never silent. A large TCP send leaves as one packet of up to 64 KiB that
 * the interface (or the kernel, just before a card that cannot) cuts into segments of the
 * connection's MSS: segmentation offload. The capture sees that one packet before it is cut,
 * and reports how many segments it stands for (nl_capture_packet.segs, from the packet
 * socket's virtio-net header), which is what the kernel's own counters (TCP_INFO) count.
 *
 * Why not libpcap: the filter is two dozen classic BPF instructions, and the packet socket's
 * own options (ignore outgoing copies, drop counters, the virtio-net header) are what a
 * capture of one's own traffic needs; libpcap would add a dependency to the core library for
 * little more than that.
 *
 * Privilege: a packet socket needs CAP_NET_RAW in the network namespace of the interface.
 * Without it nl_capture_open() fails with NL_EPERM; an unprivileged user has the capability
 * inside a user and network namespace of its own (see netlab-demo --wire).
 *
 * Platforms: live capture exists on Linux only. On Windows, on other POSIX systems and in a
 * build made with NETLAB_FORCE_PORTABLE_POSIX, nl_capture_open() of a live capture,
 * nl_capture_open_for() and nl_capture_interface() fail with NL_ENOTSUP (nl_capture_read()
 * then has no live handle to read); the decoder, offline handles and formatting work
 * everywhere.
 *
 * Decoding is pure: nl_capture_decode() turns one IP packet into an nl_capture_packet, and a
 * handle opened with NL_CAPTURE_OFFLINE follows connections through nl_capture_feed() without
 * a socket, so both are tested with crafted packets and fuzzed.
 *
 * Thread-safety: one handle must be used by one thread at a time; nl_capture_decode(),
 * nl_capture_format() and nl_capture_step_name() are pure and thread-safe.
 */
#ifndef NETLAB_CAPTURE_H
#define NETLAB_CAPTURE_H

#include <stddef.h>
#include <stdint.h>

#include "netlab/endpoint.h"
#include "netlab/version.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A capture of one port's packets. Opaque; nl_capture_open() makes it, nl_capture_close()
 *  frees it. */
typedef struct nl_capture nl_capture;

#define NL_CAPTURE_TCP 6  /**< nl_capture_packet.proto: a TCP segment */
#define NL_CAPTURE_UDP 17 /**< nl_capture_packet.proto: a UDP datagram */

#define NL_CAPTURE_FIN 0x01 /**< TCP flag FIN: the sender has no more data */
#define NL_CAPTURE_SYN 0x02 /**< TCP flag SYN: synchronise sequence numbers (connect) */
#define NL_CAPTURE_RST 0x04 /**< TCP flag RST: reset the connection */
#define NL_CAPTURE_PSH 0x08 /**< TCP flag PSH: push the data to the application */
#define NL_CAPTURE_ACK 0x10 /**< TCP flag ACK: the acknowledgement number is valid */
#define NL_CAPTURE_URG 0x20 /**< TCP flag URG: urgent pointer valid */
#define NL_CAPTURE_ECE 0x40 /**< TCP flag ECE: ECN echo */
#define NL_CAPTURE_CWR 0x80 /**< TCP flag CWR: congestion window reduced */

/** What a packet is in the exchange, as nl_capture_feed() and nl_capture_read() classify it. */
typedef enum nl_capture_step {
    NL_CAPTURE_STEP_OTHER = 0,  /**< none of the below (e.g. a bare ACK of nothing new) */
    NL_CAPTURE_STEP_SYN,        /**< handshake 1: 客户端给服务器发送请求连接包 */
    NL_CAPTURE_STEP_SYN_ACK,    /**< handshake 2: 服务器给客户端发送回应+请求连接包 */
    NL_CAPTURE_STEP_HS_ACK,     /**< handshake 3: 客户端给服务器发送回应连接包 */
    NL_CAPTURE_STEP_DATA,       /**< a segment carrying data, which must be acknowledged */
    NL_CAPTURE_STEP_ACK,        /**< an ACK without data that answers data or a FIN */
    NL_CAPTURE_STEP_FIN,        /**< FIN: the sender closes its direction (may carry data) */
    NL_CAPTURE_STEP_RST,        /**< RST: the connection is reset */
    NL_CAPTURE_STEP_UDP         /**< a UDP datagram: no handshake, no acknowledgement */
} nl_capture_step;

/** One captured packet, decoded. Plain data: copy it freely. */
typedef struct nl_capture_packet {
    uint64_t index;     /**< 1, 2, ...: order in this capture (0 from nl_capture_decode()) */
    int proto;          /**< NL_CAPTURE_TCP or NL_CAPTURE_UDP */
    int to_server;      /**< 1: client -> server (sent to the watched port); 0: the reply */
    nl_endpoint src;    /**< sender's address and port */
    nl_endpoint dst;    /**< receiver's address and port */
    unsigned flags;     /**< TCP: NL_CAPTURE_SYN | NL_CAPTURE_ACK | ...; UDP: 0 */
    uint32_t seq;       /**< TCP: sequence number as on the wire */
    uint32_t ack;       /**< TCP: acknowledgement number as on the wire (0 without ACK) */
    uint32_t rel_seq;   /**< TCP: seq relative to the sender's initial sequence number */
    uint32_t rel_ack;   /**< TCP: ack relative to the receiver's initial sequence number */
    uint32_t len;       /**< payload bytes (TCP segment data, UDP datagram data) */
    uint32_t window;    /**< TCP: receive window in bytes, scaled when the scale is known */
    int window_scaled;  /**< TCP: 1 when window is scaled (both SYNs seen with the option) */
    int wscale;         /**< TCP SYN: its window-scale option (shift count), -1 if absent */
    uint16_t udp_len;   /**< UDP: the length field (8-byte header + data) */
    uint32_t segs;      /**< TCP: segments it stands for on a physical wire: 1, or, for a
                             packet sent with segmentation offload (GSO/TSO: loopback, and
                             most cards, take up to 64 KiB from TCP at once and cut it into
                             MSS-sized segments later), how many it is cut into; UDP: 1 */
    nl_capture_step step; /**< what this packet is in the exchange */
    uint64_t answers;   /**< index of the latest data segment, SYN or FIN in the other
                             direction that this packet's ACK acknowledges in full; 0 none */
} nl_capture_packet;

/** Counters of a capture, since it was opened. */
typedef struct nl_capture_counts {
    uint64_t received; /**< packets the kernel matched to the filter (delivered or dropped) */
    uint64_t drops;    /**< packets the kernel dropped because the buffer was full: missed */
    uint64_t decoded;  /**< packets reported by nl_capture_read() / nl_capture_feed() */
    uint64_t ignored;  /**< packets read but not reported: malformed, or not for the port */
} nl_capture_counts;

/** nl_capture_open() flag: no socket; packets come only through nl_capture_feed(). */
#define NL_CAPTURE_OFFLINE 1
/** nl_capture_open() flag: the capture's nl_opts.return_eintr. nl_capture_read() (and so
 *  nl_capture_drain()) interrupted by a signal while it waits returns NL_EINTR at once instead
 *  of retrying, having reported nothing; pass the time that is left when calling again. */
#define NL_CAPTURE_RETURN_EINTR 2

/** nl_capture_format() style: one readable line, the step labelled in Chinese and English. */
#define NL_CAPTURE_TEXT 0
/** nl_capture_format() style: one JSON object on one line, for tests and tools. */
#define NL_CAPTURE_JSON 1

/**
 * Start capturing the TCP segments and UDP datagrams to or from a local port.
 *
 * The packet socket is bound to the interface only after its filter is attached, so it never
 * holds another port's packets. Its receive buffer is raised to 4 MiB where allowed. On a
 * loopback interface the outgoing copy of every packet is ignored, so each one is seen once.
 *
 * @param out      receives the handle; NULL on failure (never half-built).
 * @param ifname   the interface ("lo", "eth0", ...); NULL means "lo". Ignored when offline.
 * @param port     the local port to watch (a server's port, or a client's own port), 1-65535.
 * @param flags    0, or NL_CAPTURE_OFFLINE for a handle without a socket, or
 *                 NL_CAPTURE_RETURN_EINTR (signals end a waiting read with NL_EINTR).
 * @return 0; NL_EINVAL (NULL out, port 0, unknown flags, no such interface), NL_EPERM
 *         (no CAP_NET_RAW: not root, not in a namespace of one's own), NL_ENOMEM, or the socket()
 *         error (NL_EAFNOSUPPORT where packet sockets are not built in, NL_EMFILE, ...);
 *         NL_ENOTSUP for a live capture where it does not exist (see Platforms above).
 *         The caller owns the handle. Does not block. Thread-safe.
 */
NL_EXTERN int nl_capture_open(nl_capture **out, const char *ifname, uint16_t port, int flags);

/**
 * Stop capturing and free the handle. NULL is a no-op.
 *
 * @param c  the capture; invalid afterwards.
 */
NL_EXTERN void nl_capture_close(nl_capture *c);

/**
 * The descriptor to poll for POLLIN: readable when captured packets wait. For a caller's own
 * event loop; read them with nl_capture_read(c, ..., 0). Owned by the handle: do not close it.
 *
 * @param c  the capture.
 * @return the descriptor (>= 3); NL_EINVAL for NULL or an offline handle.
 */
NL_EXTERN int nl_capture_fd(const nl_capture *c);

/**
 * Read the packets waiting in the capture, decode them and follow their connections.
 *
 * Waits up to timeout_ms for the first packet, then takes every packet already queued, up to
 * max, without waiting more. Packets of other ports, outgoing loopback copies and malformed
 * packets are not reported (see nl_capture_stats().ignored).
 *
 * @param c           the capture.
 * @param pkts        receives the packets, in the order the kernel captured them.
 * @param max         room in pkts (> 0).
 * @param timeout_ms  -1: wait as long as it takes; 0: do not wait; > 0: at most that long.
 * @return the number of packets stored (> 0); NL_EAGAIN (timeout 0, nothing waiting),
 *         NL_ETIMEDOUT (nothing within timeout_ms), NL_EINVAL (NULL arguments, max <= 0,
 *         an offline handle), or a recv() error. EINTR is retried, with the time that is
 *         left, unless the handle was opened with NL_CAPTURE_RETURN_EINTR: then NL_EINTR.
 */
NL_EXTERN int nl_capture_read(nl_capture *c, nl_capture_packet *pkts, int max, int timeout_ms);

/**
 * Decode one packet and follow its connection, without any I/O: what nl_capture_read() does
 * with each packet it receives. The handle remembers, per connection (the client's address and
 * port), both initial sequence numbers, the window scales and the data not yet acknowledged,
 * to fill rel_seq, rel_ack, window, step and answers. It follows up to 64 connections at
 * once; a new SYN from the same client address and port starts its connection afresh.
 *
 * @param c    the capture (offline or not).
 * @param pkt  an IP packet (IPv4 or IPv6, from its IP header on); not kept.
 * @param len  its length in bytes.
 * @param out  receives the decoded packet.
 * @return 1 when the packet is a TCP segment or UDP datagram of the port (out is filled, and
 *         counted as decoded); 0 when it is not for the port or malformed (counted as ignored,
 *         out is unspecified); NL_EINVAL for NULL arguments. Thread-safety: as the handle.
 */
NL_EXTERN int nl_capture_feed(nl_capture *c, const void *pkt, size_t len, nl_capture_packet *out);

/**
 * Decode one IP packet on its own, without following its connection: pure.
 *
 * Fills every field that the packet alone determines: proto, to_server (sent to port), src,
 * dst, flags, seq, ack, len, wscale, udp_len, and window as on the wire (unscaled). rel_seq
 * and rel_ack equal seq and ack, index and answers are 0 and step is what the flags alone say.
 * IPv4 options and fragments (the first fragment only) and IPv6 without extension headers
 * are handled; TCP options are parsed only for the window scale.
 *
 * @param pkt   the IP packet, from its IP header on.
 * @param len   its length.
 * @param port  the watched port: a packet is for it when its source or destination port is.
 * @param out   receives the decoded packet.
 * @return 1 decoded; 0 not TCP or UDP of the port; NL_EPROTO malformed or truncated;
 *         NL_EINVAL NULL arguments. Thread-safe.
 */
NL_EXTERN int nl_capture_decode(const void *pkt, size_t len, uint16_t port,
                                nl_capture_packet *out);

/**
 * The capture's counters: packets the kernel matched, those it dropped (missed: the reader
 * was too slow), and those this handle reported or ignored. Every call asks the kernel for
 * its counters (PACKET_STATISTICS) and adds them up, so call it after the last read to learn
 * whether anything was missed.
 *
 * @param c    the capture.
 * @param out  receives the counters.
 * @return 0; NL_EINVAL for NULL arguments; the getsockopt() error. Thread-safety: as the handle.
 */
NL_EXTERN int nl_capture_stats(nl_capture *c, nl_capture_counts *out);

/** nl_capture_drain() callback: called for each packet, on the calling thread, with the packet
 *  formatted as nl_capture_format() does in the style asked for (valid during the call). */
typedef void (*nl_capture_fn)(const nl_capture_packet *p, const char *line, void *user);

/**
 * Report the packets of a step that just ran: read until no packet has come for quiet_ms
 * (the exchange has settled: a delayed ACK comes within 40-200 ms on Linux), or until max_ms
 * have passed in all, calling fn for each packet in order.
 *
 * @param c         the capture (not offline).
 * @param quiet_ms  how long no packet must come (> 0).
 * @param max_ms    the longest it takes in all (>= quiet_ms).
 * @param style     NL_CAPTURE_TEXT or NL_CAPTURE_JSON: the format of the line passed to fn.
 * @param fn        called for each packet; NULL to just count them.
 * @param user      passed to fn as is.
 * @return the number of packets reported (>= 0); NL_EINVAL for a NULL or offline capture, bad
 *         times or an unknown style; a read error. Blocks up to max_ms. Thread-safety: as the
 *         handle.
 */
NL_EXTERN int nl_capture_drain(nl_capture *c, int quiet_ms, int max_ms, int style,
                               nl_capture_fn fn, void *user);

/**
 * The interface whose packets a program talking to addr would see: "lo" for an address of
 * this machine (127.0.0.1, ::1, any local address, and the wildcard 0.0.0.0 or ::, whose
 * clients on this machine come over loopback), else the interface that the route to addr
 * leaves by. Sends nothing (it asks the routing table through an unconnected UDP socket).
 *
 * @param addr  the peer (for a client) or the bound address (for a server); port ignored.
 * @param buf   receives the interface name.
 * @param size  size of buf (16 is enough: IFNAMSIZ).
 * @return 0; NL_EINVAL for NULL arguments or an unset address; NL_ENOSPC when buf is too
 *         small; NL_ENETUNREACH (no route), NL_EADDRNOTAVAIL (no interface has the source
 *         address), or another system error; NL_ENOTSUP off Linux (see Platforms above).
 *         Thread-safe.
 */
NL_EXTERN int nl_capture_interface(const nl_endpoint *addr, char *buf, size_t size);

/**
 * Capture a program's own traffic: nl_capture_open() on the interface that
 * nl_capture_interface() names for addr, watching addr's port.
 *
 * @param out   receives the handle; NULL on failure.
 * @param addr  the server a client talks to, or the address a server is bound to (port 1-65535).
 * @return 0, or the errors of nl_capture_interface() and nl_capture_open() (NL_EPERM without
 *         CAP_NET_RAW; NL_ENOTSUP off Linux). The caller owns the handle. Thread-safe.
 */
NL_EXTERN int nl_capture_open_for(nl_capture **out, const nl_endpoint *addr);

/**
 * A short, stable name for a step, for machine-readable output: "syn", "syn-ack",
 * "handshake-ack", "data", "ack", "fin", "rst", "udp", "other".
 *
 * @param step  an nl_capture_step.
 * @return a static string, never NULL ("other" for unknown values). Pure, thread-safe.
 */
NL_EXTERN const char *nl_capture_step_name(int step);

/**
 * Format a packet as one line (no newline).
 *
 * NL_CAPTURE_TEXT, for learners, e.g.
 * `#1  client -> server  [SYN]      seq=0 win=65495  ① 客户端给服务器发送请求连接包 (the client
 * asks to connect)`; data segments say that they must be answered and ACKs which segment they
 * answer. NL_CAPTURE_JSON, for tests and tools: `{"i":1,"proto":"tcp","dir":"c2s",
 * "step":"syn","flags":"SYN","seq":0,"ack":0,"len":0,"win":65495,...}`.
 *
 * @param p      the packet.
 * @param style  NL_CAPTURE_TEXT or NL_CAPTURE_JSON.
 * @param buf    receives the line; 512 bytes hold any.
 * @param size   size of buf.
 * @return the length of the whole line (as snprintf: >= size means it was cut; the text is
 *         always NUL-terminated when size > 0); NL_EINVAL for NULL p, NULL buf with size > 0,
 *         or an unknown style. Pure, thread-safe.
 */
NL_EXTERN int nl_capture_format(const nl_capture_packet *p, int style, char *buf, size_t size);

#ifdef __cplusplus
}
#endif
#endif /* NETLAB_CAPTURE_H */
