/* The wire's handle (capture.c) and the live capture underneath it: a packet socket with a BPF
 * filter on Linux (linux_capture.c), none elsewhere (capture_none.c: Windows, the other POSIX
 * systems, a NETLAB_FORCE_PORTABLE_POSIX build, where opening a live capture fails with
 * NL_ENOTSUP). CMake compiles one of the two. Not installed, not part of the API. */
#ifndef NETLAB_CAPTURE_INT_H
#define NETLAB_CAPTURE_INT_H

#include "internal.h"
#include "netlab/capture.h"

#define NL__CAP_FLOWS   64 /* connections followed at once */
#define NL__CAP_PENDING 64 /* unacknowledged segments remembered per direction */
#define NL__CAP_RCVBUF  (4 << 20)

/* A segment (data, SYN or FIN) waiting for the ACK that covers its end. */
typedef struct nl__cap_pending {
    uint64_t index;
    uint32_t end; /* sequence number just after it */
} nl__cap_pending;

/* One direction of a connection: 0 = client -> server, 1 = server -> client. */
typedef struct nl__cap_dir {
    int based; /* base (initial sequence number) known */
    uint32_t base;
    int wscale; /* from its SYN, -1 none or not seen */
    int syn_seen;
    nl__cap_pending pend[NL__CAP_PENDING];
    int npend;
} nl__cap_dir;

typedef struct nl__cap_flow {
    int used;
    uint64_t last; /* index of its latest packet, to reuse the oldest slot */
    nl_endpoint client;
    int hs_done; /* the handshake's third packet was seen */
    nl__cap_dir d[2];
} nl__cap_flow;

struct nl_capture {
    int fd;       /* -1 offline */
    int vnet;     /* each packet read starts with a struct virtio_net_hdr */
    int link_len; /* then a link-layer header of this many bytes (Ethernet), or none */
    int return_eintr; /* NL_CAPTURE_RETURN_EINTR: a signal ends a read with NL_EINTR */
    uint16_t port;
    uint64_t index;
    nl_capture_counts st;
    nl__cap_flow flows[NL__CAP_FLOWS];
    unsigned char buf[65536 + 256];
};

/* Open c's packet socket on ifname for c->port (c->fd, vnet, link_len set); 0 or NL_E*. */
int nl__cap_open_socket(nl_capture *c, const char *ifname);
/* Close c's packet socket, if any. */
void nl__cap_close_socket(nl_capture *c);
/* Add the kernel's received / dropped counters since the last call to c->st; 0 or NL_E*. */
int nl__cap_kernel_counts(nl_capture *c);

#endif /* NETLAB_CAPTURE_INT_H */
