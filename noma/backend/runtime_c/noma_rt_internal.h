/* Internal helpers shared by the runtime's translation units (not part of the ABI).
 *
 * Internal symbols start with `noma__` and are hidden from the shared
 * library's dynamic symbol table.
 */
#ifndef NOMA_RT_INTERNAL_H
#define NOMA_RT_INTERNAL_H

#include <stddef.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>

#include "noma_rt.h"

#if defined(__GNUC__)
#define NOMA_NORETURN __attribute__((noreturn))
#define NOMA_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define NOMA_HIDDEN __attribute__((visibility("hidden")))
#define NOMA_LIKELY(x) __builtin_expect(!!(x), 1)
#define NOMA_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define NOMA_NORETURN
#define NOMA_PRINTF(a, b)
#define NOMA_HIDDEN
#define NOMA_LIKELY(x) (x)
#define NOMA_UNLIKELY(x) (x)
#endif

/* the exit status after Ctrl-C (128 + SIGINT), as noma/cli.py INTERRUPTED_STATUS */
#define NOMA_INTERRUPTED_STATUS 130

/* the element cap of runtime/resize.py (MAX_ELEMENTS) */
#define NOMA_MAX_ELEMENTS (INT64_C(1) << 31)

/* noma_rt_error never returns (it unwinds to noma_rt_run) */
void noma_rt_error(const noma_site *site, const char *fmt, ...) NOMA_NORETURN NOMA_PRINTF(2, 3);

/* ---- tensors ---- */

static inline int64_t noma__numel(const noma_tensor *t) {
    int64_t n = 1;
    for (int64_t i = 0; i < t->rank; i++) n *= t->dims[i];
    return n;
}

NOMA_HIDDEN double *noma__grow(noma_tensor *out, int64_t n, const noma_site *site);

/* out->data with room for n elements (contents unspecified) */
static inline double *noma__ensure(noma_tensor *out, int64_t n, const noma_site *site) {
    if (NOMA_LIKELY(out->cap >= n && out->cap > 0)) return out->data;
    return noma__grow(out, n, site);
}

static inline void noma__set_shape(noma_tensor *out, int64_t rank, const int64_t *dims) {
    out->rank = rank;
    for (int64_t i = 0; i < rank; i++) out->dims[i] = dims[i];
    for (int64_t i = rank; i < NOMA_MAX_RANK; i++) out->dims[i] = 0;
}

/* out := a copy of a (shape and data) */
NOMA_HIDDEN noma_tensor *noma__copy(noma_tensor *out, const noma_tensor *a, const noma_site *site);

/* "[2, 3]" into buf (at least NOMA__SHAPE_BUF bytes) */
#define NOMA__SHAPE_BUF 96
NOMA_HIDDEN const char *noma__fmt_shape(char *buf, int64_t rank, const int64_t *dims);

/* SPEC §5/§7 dimension checks (runtime/resize.py check_dims); fills dims */
NOMA_HIDDEN void noma__check_dims(int64_t rank, const double *in, int64_t *dims,
                                  const noma_site *site);
/* the element cap (NOMA_MAX_ELEMENTS) on a result shape: broadcasting, matmul
 * (runtime/resize.py check_elements); the out-of-line part reports */
NOMA_HIDDEN void noma__too_many_elements(int64_t rank, const int64_t *dims, const noma_site *site);
static inline void noma__check_elements(int64_t rank, const int64_t *dims, const noma_site *site) {
    int64_t total = 1;  /* inline: it runs for every kernel call */
    for (int64_t i = 0; i < rank && i < NOMA_MAX_RANK; i++)
        if (__builtin_mul_overflow(total, dims[i] > 0 ? dims[i] : 0, &total)) {
            noma__too_many_elements(rank, dims, site);
            return;
        }
    if (NOMA_UNLIKELY(total > NOMA_MAX_ELEMENTS)) noma__too_many_elements(rank, dims, site);
}

/* checked index (interp_values.check_index) */
NOMA_HIDDEN int64_t noma__check_index(double x, int64_t size, const noma_site *site);

/* offset of element/sub-tensor a[idx...] (n <= rank), checked */
NOMA_HIDDEN int64_t noma__offset(const noma_tensor *a, int64_t n, const double *idx,
                                 const noma_site *site);

/* resize `old` into `dst` (new storage of `count` elements), SPEC §7 */
NOMA_HIDDEN void noma__resize_into(double *dst, const int64_t *new_dims, const noma_tensor *old,
                                   int64_t policy, double p0, double p1);
NOMA_HIDDEN void noma__check_resize(const noma_tensor *a, int64_t rank, const double *dims,
                                    int64_t policy, int64_t *new_dims, const noma_site *site);

/* ---- threads and linear algebra (noma_rt_gemm.c) ---- */

#define NOMA__MAX_THREADS 8

/* `thread` (0 = the calling thread, < threads) identifies per-thread scratch */
typedef void (*noma__part_fn)(void *arg, int part, int thread);
/* threads a parallel job may use (NOMA_NUM_THREADS, else the available CPUs) */
NOMA_HIDDEN int noma__num_threads(void);
/* run fn(arg, part, thread) for part = 0 .. parts - 1 on up to `threads`
 * threads of the pool (each part once, in any order and on any of them);
 * returns when all are done.  fn must not raise noma_rt_error. */
NOMA_HIDDEN void noma__parallel(int parts, int threads, noma__part_fn fn, void *arg);
/* C[m x n] = A[m x k] @ B[k x n], all row-major and contiguous, C distinct */
/* 1 while a --progress line is on stderr without its newline (read by the
 * SIGINT handler, which then ends the line before "interrupted") */
NOMA_HIDDEN extern volatile sig_atomic_t noma__progress_visible;
NOMA_HIDDEN void noma__gemm(const double *A, const double *B, double *C, int64_t m, int64_t n,
                            int64_t k, const noma_site *site);
/* o (c x r) = x (r x c) transposed, o distinct */
NOMA_HIDDEN void noma__transpose(double *o, const double *x, int64_t r, int64_t c);

/* ---- vectorised elementary functions (noma_rt_vmath.c); o may be a ---- */

NOMA_HIDDEN void noma__vexp(double *o, const double *a, int64_t n);
NOMA_HIDDEN void noma__vtanh(double *o, const double *a, int64_t n);
NOMA_HIDDEN void noma__vsigmoid(double *o, const double *a, int64_t n);

/* ---- RNG ---- */

extern NOMA_HIDDEN uint64_t noma__rng_state;

static inline uint64_t noma__next_u64(void) {
    uint64_t z = (noma__rng_state += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

static inline double noma__uniform(void) {
    return (double)(noma__next_u64() >> 11) * 0x1.0p-53;
}

NOMA_HIDDEN double noma__normal(double m, double s);

/* ---- formatting ---- */

/* C's %.<prec>g, but every NaN prints as "nan" (Python's format) */
NOMA_HIDDEN int noma__fmt_num(char *buf, size_t size, int prec, double x);

/* growable byte string */
typedef struct noma__sb {
    char *p;
    size_t len, cap;
} noma__sb;

NOMA_HIDDEN void noma__sb_add(noma__sb *sb, const char *s, size_t n);
NOMA_HIDDEN void noma__sb_str(noma__sb *sb, const char *s);
NOMA_HIDDEN void noma__sb_printf(noma__sb *sb, const char *fmt, ...) NOMA_PRINTF(2, 3);
NOMA_HIDDEN void noma__sb_free(noma__sb *sb);
/* sb->p as a NUL-terminated string ("" when empty) */
NOMA_HIDDEN const char *noma__sb_cstr(noma__sb *sb);

/* out of memory: unwinds like any other error */
NOMA_HIDDEN void noma__oom(const noma_site *site) NOMA_NORETURN;
NOMA_HIDDEN void *noma__xmalloc(size_t n, const noma_site *site);
NOMA_HIDDEN void *noma__xrealloc(void *p, size_t n, const noma_site *site);

/* ---- files ---- */

typedef struct noma__chunk {
    const void *p;
    size_t n;
} noma__chunk;

/* write the chunks to `name` atomically (temp file in the same folder, fsync,
 * rename); `owned` (may be NULL) is freed before an error unwinds */
NOMA_HIDDEN void noma__atomic_write(const char *name, const noma__chunk *chunks, int nchunks,
                                    noma__sb *owned, const noma_site *site);
/* open a regular file for reading (errors name the path and `kind`) */
NOMA_HIDDEN int noma__open_input(const char *path, const char *kind, int64_t *size,
                                 const noma_site *site);
NOMA_HIDDEN int64_t noma__read_fully(int fd, void *buf, int64_t n);
/* bytes of the next character of p[0..n) as Python's UTF-8 decoder with
 * errors="replace" sees it; *valid = 0 for a replaced (invalid) sequence */
NOMA_HIDDEN size_t noma__u8_char(const unsigned char *p, size_t n, int *valid);

/* end of a run: end the progress line, close the loss log, forget
 * NOMA_LOSS_LOG and NOMA_PROGRESS (read again at the next call) */
NOMA_HIDDEN void noma__loss_log_flush(void);
/* forget NOMA_LOSS_LOG, NOMA_PROGRESS and the running loop (start of a run) */
NOMA_HIDDEN void noma__loss_log_reset(void);
/* end the progress line of the running loop, if one was shown (before an
 * error report or a warning); see noma_rt_end_loop */
NOMA_HIDDEN void noma__progress_end(void);

#endif
