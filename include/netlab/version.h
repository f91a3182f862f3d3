/* libnetlab: version and the export macro shared by every public header. */
#ifndef NETLAB_VERSION_H
#define NETLAB_VERSION_H

#define NL_VERSION_MAJOR 0
#define NL_VERSION_MINOR 1
#define NL_VERSION_PATCH 0
#define NL_VERSION_STRING "0.1.0"

/* The library is built with hidden visibility; only what carries NL_EXTERN is exported. */
#if defined(__GNUC__) || defined(__clang__)
#define NL_EXTERN __attribute__((visibility("default")))
#else
#define NL_EXTERN
#endif

#ifdef __cplusplus
extern "C" {
#endif

/** The library's version as "MAJOR.MINOR.PATCH"; static, never NULL. Thread-safe. */
NL_EXTERN const char *nl_version(void);

#ifdef __cplusplus
}
#endif
#endif /* NETLAB_VERSION_H */
