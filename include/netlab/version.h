/** @file
 * libnetlab: version and the export macro shared by every public header. */
#ifndef NETLAB_VERSION_H
#define NETLAB_VERSION_H

#define NL_VERSION_MAJOR 0          /**< incompatible API changes bump this */
#define NL_VERSION_MINOR 1          /**< compatible additions bump this */
#define NL_VERSION_PATCH 0          /**< fixes bump this */
/** The three numbers as text. (Kept alone on its line: CMake and tests read it.) */
#define NL_VERSION_STRING "0.1.0"

#include <stdint.h>

/** Marks a public function: the library is built with hidden visibility and exports only these.
 * On Windows: exported from the DLL while it is built (NETLAB_BUILDING), imported from it by
 * its users, and plain for users of the static library, who define NETLAB_STATIC (the CMake
 * target netlab::netlab_static and `pkg-config --static` do that for them). */
#if defined(_WIN32) && defined(NETLAB_BUILDING)
#define NL_EXTERN __declspec(dllexport)
#elif defined(_WIN32) && !defined(NETLAB_STATIC)
#define NL_EXTERN __declspec(dllimport)
#elif defined(__GNUC__) || defined(__clang__)
#define NL_EXTERN __attribute__((visibility("default")))
#else
#define NL_EXTERN
#endif

/** The operating system's socket type, where a function hands out or takes a socket: a file
 * descriptor (int) on POSIX systems, a Winsock SOCKET (an unsigned pointer-sized handle) on
 * Windows. */
#ifdef _WIN32
typedef uintptr_t nl_socket_t;
#else
typedef int nl_socket_t;
#endif

#ifdef __cplusplus
extern "C" {
#endif

/**
 * The version of the library actually linked, which may differ from NL_VERSION_STRING.
 * @return "MAJOR.MINOR.PATCH", a static string, never NULL. Thread-safe.
 */
NL_EXTERN const char *nl_version(void);

#ifdef __cplusplus
}
#endif
#endif /* NETLAB_VERSION_H */
