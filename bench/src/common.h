/* Helpers shared by the benchmark programs: clocks, CPU pinning, percentiles, argument
 * parsing. Benchmarks are programs, not library code: they print and exit freely. */
#ifndef NLB_COMMON_H
#define NLB_COMMON_H

#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static inline int64_t nlb_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* CPU time (user + system) used by this process so far. */
static inline int64_t nlb_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Pin the calling process to one CPU; -1 leaves it alone. */
static inline void nlb_pin(int cpu)
{
    cpu_set_t set;

    if (cpu < 0)
        return;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof set, &set) < 0) {
        perror("sched_setaffinity");
        exit(1);
    }
}

static int nlb_cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* The p-th percentile (0..100) of n samples; sorts them. */
static inline int64_t nlb_pct(int64_t *v, size_t n, double p)
{
    size_t i;
    if (n == 0)
        return 0;
    qsort(v, n, sizeof *v, nlb_cmp_i64);
    i = (size_t)(p / 100.0 * (double)(n - 1) + 0.5);
    return v[i < n ? i : n - 1];
}

/* "--name value" lookup in argv; def when absent. */
static inline const char *nlb_arg(int argc, char **argv, const char *name, const char *def)
{
    int i;
    for (i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], name) == 0)
            return argv[i + 1];
    return def;
}

static inline long nlb_argl(int argc, char **argv, const char *name, long def)
{
    const char *v = nlb_arg(argc, argv, name, NULL);
    return v ? strtol(v, NULL, 0) : def;
}

static inline void nlb_raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

#define NLB_DIE(...)                                                                               \
    do {                                                                                           \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fprintf(stderr, " (%s)\n", strerror(errno));                                               \
        exit(1);                                                                                   \
    } while (0)

#endif
