/** @file
 * libnetlab: error codes.
 *
 * Every libnetlab function returns a value >= 0 on success (0, or a byte count) and a negative
 * NL_E* code on failure. Codes that come from the operating system keep their errno meaning:
 * NL_ECONNREFUSED == -ECONNREFUSED, so `strerror(-rc)` works too (on Windows the C runtime's
 * errno values, with Winsock's WSAE* errors folded into them by the library). Codes of the library's own
 * (end of stream, a malformed address, a resolver failure, ...) live far below the errno range.
 *
 * All of it is generated from the tables below, so a code, its name and its message cannot
 * drift apart.
 */
#ifndef NETLAB_ERROR_H
#define NETLAB_ERROR_H

#include <errno.h>

#include "netlab/version.h"

/* The Windows C runtime has no ESHUTDOWN and no EHOSTDOWN (Winsock has WSAESHUTDOWN and
 * WSAEHOSTDOWN): libnetlab gives them values of its own, above the runtime's errno range, so
 * the codes below exist everywhere. */
#if defined(_WIN32) && !defined(ESHUTDOWN)
#define ESHUTDOWN 180 /**< cannot send after socket shutdown (libnetlab's value on Windows) */
#endif
#if defined(_WIN32) && !defined(EHOSTDOWN)
#define EHOSTDOWN 181 /**< host is down (libnetlab's value on Windows) */
#endif

#ifdef __cplusplus
extern "C" {
#endif

/** Operating-system errors a socket program meets, as XX(errno name, message). */
#define NL_ERRNO_MAP(XX)                                                                       \
    XX(EPERM, "operation not permitted")                                                       \
    XX(ENOENT, "no such file or directory")                                                    \
    XX(EINTR, "interrupted system call")                                                       \
    XX(EIO, "i/o error")                                                                       \
    XX(EBADF, "bad file descriptor")                                                           \
    XX(EAGAIN, "resource temporarily unavailable (no data yet)")                               \
    XX(ENOMEM, "not enough memory")                                                            \
    XX(EACCES, "permission denied")                                                            \
    XX(EFAULT, "bad address in system call argument")                                          \
    XX(EBUSY, "resource busy or locked")                                                       \
    XX(EEXIST, "already exists")                                                               \
    XX(EINVAL, "invalid argument")                                                             \
    XX(ENFILE, "file table overflow (system-wide descriptor limit)")                           \
    XX(EMFILE, "too many open files (per-process descriptor limit)")                           \
    XX(ENOSPC, "no space left (buffer too small)")                                             \
    XX(EPIPE, "broken pipe: the peer closed the connection")                                   \
    XX(ENOSYS, "function not implemented")                                                     \
    XX(ENOTSOCK, "socket operation on non-socket")                                             \
    XX(EDESTADDRREQ, "destination address required")                                           \
    XX(EMSGSIZE, "message too long")                                                           \
    XX(EPROTOTYPE, "protocol wrong type for socket")                                           \
    XX(ENOPROTOOPT, "protocol not available")                                                  \
    XX(EPROTONOSUPPORT, "protocol not supported")                                              \
    XX(ENOTSUP, "operation not supported")                                                     \
    XX(EAFNOSUPPORT, "address family not supported")                                           \
    XX(EADDRINUSE, "address already in use")                                                   \
    XX(EADDRNOTAVAIL, "address not available")                                                 \
    XX(ENETDOWN, "network is down")                                                            \
    XX(ENETUNREACH, "network is unreachable")                                                  \
    XX(ECONNABORTED, "connection aborted")                                                     \
    XX(ECONNRESET, "connection reset by peer")                                                 \
    XX(ENOBUFS, "no buffer space available")                                                   \
    XX(EISCONN, "socket is already connected")                                                 \
    XX(ENOTCONN, "socket is not connected")                                                    \
    XX(ESHUTDOWN, "cannot send after socket shutdown")                                         \
    XX(ETIMEDOUT, "timed out")                                                                 \
    XX(ECONNREFUSED, "connection refused")                                                     \
    XX(EHOSTDOWN, "host is down")                                                              \
    XX(EHOSTUNREACH, "host is unreachable")                                                    \
    XX(EALREADY, "operation already in progress")                                              \
    XX(EINPROGRESS, "operation in progress")                                                   \
    XX(EPROTO, "protocol error")                                                               \
    XX(ECANCELED, "operation canceled")

/** The library's own errors, as XX(name, value, message). Resolver (getaddrinfo) failures are
 * kept apart from system errors so "no such host" never turns into a vague EINVAL. */
#define NL_OWN_ERR_MAP(XX)                                                                     \
    XX(EOF, -4095, "end of stream: the peer closed the connection")                            \
    XX(ETRUNC, -4094, "datagram truncated: it was larger than the receive buffer")             \
    XX(EBADADDR, -4093, "malformed address (expected e.g. 127.0.0.1, ::1 or [::1]:9000)")      \
    XX(EBADPORT, -4092, "bad port: expected a number from 0 to 65535")                         \
    XX(ECLOSED, -4091, "the handle is closed")                                                 \
    XX(EPEERLOST, -4090, "the peer stopped answering")                                         \
    XX(EBADFRAME, -4089, "malformed or unauthenticated frame")                                 \
    XX(EAI_NONAME, -3008, "resolver: host name not known")                                     \
    XX(EAI_AGAIN, -3001, "resolver: temporary failure in name resolution")                     \
    XX(EAI_FAIL, -3004, "resolver: non-recoverable failure in name resolution")                \
    XX(EAI_FAMILY, -3005, "resolver: address family not supported for this name")             \
    XX(EAI_NODATA, -3007, "resolver: the name has no address of the requested family")        \
    XX(EAI_MEMORY, -3006, "resolver: out of memory")                                           \
    XX(EAI_SERVICE, -3010, "resolver: service not available for socket type")                 \
    XX(EAI_SYSTEM, -3011, "resolver: system error")                                            \
    XX(EAI_OTHER, -3000, "resolver: unknown failure")

/** The error codes. Success is NL_SUCCESS (0); every error is negative. */
typedef enum nl_errno {
    NL_SUCCESS = 0,
/** @cond INTERNAL */
#define NL__ERRNO_ENUM(name, msg) NL_##name = -(name),
    NL_ERRNO_MAP(NL__ERRNO_ENUM)
#undef NL__ERRNO_ENUM
#define NL__OWN_ENUM(name, value, msg) NL_##name = (value),
    NL_OWN_ERR_MAP(NL__OWN_ENUM)
#undef NL__OWN_ENUM
    /** @endcond */
} nl_errno;

/**
 * Describe an error code in one English sentence fragment.
 *
 * @param code  a value returned by a libnetlab function (0, an NL_E* code, or anything else).
 * @return a static string, never NULL: "success" for 0, "unknown error" for a code the library
 *         does not know. Thread-safe.
 */
NL_EXTERN const char *nl_strerror(int code);

/**
 * Name an error code, e.g. "NL_ECONNREFUSED".
 *
 * @param code  any integer.
 * @return a static string, never NULL: "NL_SUCCESS" for 0, "NL_UNKNOWN" for unknown codes.
 *         Thread-safe.
 */
NL_EXTERN const char *nl_err_name(int code);

#ifdef __cplusplus
}
#endif
#endif /* NETLAB_ERROR_H */
