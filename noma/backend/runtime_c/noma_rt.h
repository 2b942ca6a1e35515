/* The NOMA native runtime: the one implementation of printing, files, the
 * RNG, tensor kernels and run-time checks shared by the JIT and standalone
 * executables.  Compiled code calls these functions; see docs/runtime-abi.md.
 *
 * Conventions
 * - A tensor is described by a `noma_tensor` (data pointer, capacity, rank,
 *   dims).  Every value-producing op site in compiled code owns one
 *   descriptor (a "slot", a zero-initialised global) and passes it as `out`:
 *   the kernel grows `out->data` when needed (realloc, capacity kept), sets
 *   rank/dims and writes the result.  In the steady state of a loop nothing
 *   is allocated.  Kernels never write into their inputs, and `out` is never
 *   one of the inputs.  Every kernel returns `out`.
 * - A scalar operand of a tensor kernel is boxed into a rank-0 descriptor
 *   with `noma_rt_box` (its data points at the descriptor's `scalar` field).
 * - Dimensions, indices and other integers arrive as doubles (the language
 *   has only f64) and are truncated toward zero by the runtime.
 * - `site` locates the op in the source for error messages.  Any user error
 *   prints "error: <msg> at FILE:LINE:COL", the source line and a caret on
 *   stderr (after flushing stdout) and unwinds to `noma_rt_run`, which
 *   returns 1.
 * - Buffers (`!noma.mem.buffer`) are heap descriptors owned by the runtime:
 *   learnable parameters, their optimizer state and `alloc`ed memory.
 */
#ifndef NOMA_RT_H
#define NOMA_RT_H

#include <stdint.h>

#define NOMA_MAX_RANK 4

typedef struct noma_tensor {
    double *data;       /* rank-0: points at `scalar` (boxed) or the heap */
    int64_t cap;        /* allocated elements of data (0: not owned) */
    int64_t rank;       /* 0..4; -1 once freed */
    int64_t dims[NOMA_MAX_RANK];
    double scalar;      /* storage for boxed scalars */
} noma_tensor;

typedef struct noma_site {
    const char *file;
    int64_t line;
    int64_t col;
    const char *text;   /* the source line, or NULL */
} noma_site;

typedef struct noma_archive noma_archive;  /* a loaded safetensors file */

/* op codes of the generic element-wise kernels */
enum noma_unary {
    NOMA_NEG, NOMA_NOT, NOMA_SIGMOID, NOMA_RELU, NOMA_TANH, NOMA_EXP, NOMA_LOG,
    NOMA_SQRT, NOMA_SIN, NOMA_COS, NOMA_TAN, NOMA_ABS, NOMA_FLOOR, NOMA_CEIL, NOMA_TRUNC
};
enum noma_binary {
    NOMA_ADD, NOMA_SUB, NOMA_MUL, NOMA_DIV, NOMA_REM, NOMA_POW, NOMA_MIN, NOMA_MAX,
    NOMA_LT, NOMA_LE, NOMA_GT, NOMA_GE, NOMA_EQ, NOMA_NE
};
enum noma_reduce { NOMA_SUM, NOMA_MEAN };
enum noma_policy { NOMA_ZEROS, NOMA_NORMAL, NOMA_UNIFORM };
enum noma_dist { NOMA_DIST_UNIFORM, NOMA_DIST_NORMAL };

/* ---- program lifetime ---------------------------------------------------- */
/* 0 ok, 1 user error.  While it runs, a default SIGINT action is replaced by
 * a handler that prints "interrupted" and exits with status 130 (a SIGINT the
 * host handles or ignores is left alone). */
int noma_rt_run(void (*entry)(void), uint64_t seed);
/* main() of a standalone executable: parses `--seed N`, then noma_rt_run */
int noma_rt_main(int argc, char **argv, void (*entry)(void), uint64_t default_seed);
void noma_rt_error(const noma_site *site, const char *fmt, ...);  /* does not return */

/* ---- values -------------------------------------------------------------- */
noma_tensor *noma_rt_box(noma_tensor *slot, double value);
noma_tensor *noma_rt_from_elements(noma_tensor *out, int64_t rank, const int64_t *dims,
                                   const double *values);
noma_tensor *noma_rt_zeros(noma_tensor *out, int64_t rank, const double *dims,
                           const noma_site *site);
noma_tensor *noma_rt_zeros_like(noma_tensor *out, const noma_tensor *a);
noma_tensor *noma_rt_cast(noma_tensor *a, int64_t rank, const noma_site *site); /* rank -1: any */
double noma_rt_to_scalar(const noma_tensor *a, const noma_site *site);

/* ---- element-wise (NumPy broadcasting) ----------------------------------- */
noma_tensor *noma_rt_unary(int64_t op, noma_tensor *out, const noma_tensor *a);
noma_tensor *noma_rt_binary(int64_t op, noma_tensor *out, const noma_tensor *a,
                            const noma_tensor *b, const noma_site *site);
noma_tensor *noma_rt_select(noma_tensor *out, const noma_tensor *c, const noma_tensor *a,
                            const noma_tensor *b, const noma_site *site);
double noma_rt_scalar_unary(int64_t op, double a);
double noma_rt_scalar_binary(int64_t op, double a, double b);

/* ---- reductions and linear algebra --------------------------------------- */
double noma_rt_reduce_all(int64_t op, const noma_tensor *a);
noma_tensor *noma_rt_reduce_axis(int64_t op, noma_tensor *out, const noma_tensor *a,
                                 int64_t axis, int64_t keepdims, const noma_site *site);
noma_tensor *noma_rt_matmul(noma_tensor *out, const noma_tensor *a, const noma_tensor *b,
                            const noma_site *site);
/* a @ b with either factor transposed first (flags 0/1), without a copy for
 * small products */
noma_tensor *noma_rt_matmul_t(noma_tensor *out, const noma_tensor *a, const noma_tensor *b,
                              int64_t transpose_a, int64_t transpose_b, const noma_site *site);
double noma_rt_dot(const noma_tensor *a, const noma_tensor *b, const noma_site *site);
noma_tensor *noma_rt_transpose(noma_tensor *out, const noma_tensor *a, const noma_site *site);
noma_tensor *noma_rt_softmax(noma_tensor *out, const noma_tensor *a, int64_t log);
noma_tensor *noma_rt_broadcast_like(noma_tensor *out, const noma_tensor *a,
                                    const noma_tensor *like, const noma_site *site);
noma_tensor *noma_rt_reduce_like(noma_tensor *out, const noma_tensor *a,
                                 const noma_tensor *like, const noma_site *site);

/* ---- shapes and indexing ------------------------------------------------- */
double noma_rt_dim(const noma_tensor *a, int64_t axis, const noma_site *site);
double noma_rt_numel(const noma_tensor *a);
noma_tensor *noma_rt_index(noma_tensor *out, const noma_tensor *a, int64_t n,
                           const double *idx, const noma_site *site);  /* n < rank */
double noma_rt_index_scalar(const noma_tensor *a, int64_t n, const double *idx,
                            const noma_site *site);                       /* n == rank */
noma_tensor *noma_rt_insert(noma_tensor *out, const noma_tensor *value, const noma_tensor *dest,
                            int64_t n, const double *idx, const noma_site *site);
noma_tensor *noma_rt_slice(noma_tensor *out, const noma_tensor *a, double start, double stop,
                           const noma_site *site);
noma_tensor *noma_rt_resize(noma_tensor *out, const noma_tensor *a, int64_t rank,
                            const double *dims, int64_t policy, double p0, double p1,
                            const noma_site *site);

/* ---- RNG (splitmix64, SPEC §9) --------------------------------------------- */
void noma_rt_seed(double n, const noma_site *site);  /* n must be finite */
double noma_rt_random(int64_t dist, double a, double b);
noma_tensor *noma_rt_random_tensor(noma_tensor *out, int64_t dist, double a, double b,
                                   int64_t rank, const double *dims, const noma_site *site);

/* ---- buffers (noma.mem) ---------------------------------------------------- */
noma_tensor *noma_rt_buf_new(const noma_tensor *init);     /* copy of a value */
noma_tensor *noma_rt_buf_new_scalar(double init);
noma_tensor *noma_rt_buf_alloc(int64_t rank, const double *dims, const noma_site *site);
/* Name a buffer for messages ("use of freed variable 'w'"): `name`, or
 * "<of's name>.<name>" when `of` is not NULL (optimizer state "w.m"; no name
 * when `of` has none).  The name is copied.  Returns buf. */
noma_tensor *noma_rt_buf_name(noma_tensor *buf, const char *name, const noma_tensor *of);
noma_tensor *noma_rt_buf_load(noma_tensor *out, const noma_tensor *buf, const noma_site *site);
double noma_rt_buf_load_scalar(const noma_tensor *buf, const noma_site *site);
void noma_rt_buf_store(noma_tensor *buf, const noma_tensor *value, const noma_site *site);
void noma_rt_buf_store_scalar(noma_tensor *buf, double value, const noma_site *site);
void noma_rt_buf_store_element(noma_tensor *buf, const noma_tensor *value, int64_t n,
                               const double *idx, const noma_site *site);
void noma_rt_buf_realloc(noma_tensor *buf, int64_t rank, const double *dims, int64_t policy,
                         double p0, double p1, const noma_site *site);
void noma_rt_buf_free(noma_tensor *buf, const noma_site *site);
double noma_rt_buf_dim(const noma_tensor *buf, int64_t axis, const noma_site *site);

/* ---- input and output (SPEC §8) -------------------------------------------- */
void noma_rt_print_scalar(double x);
void noma_rt_print_tensor(const noma_tensor *a);
void noma_rt_print_str(const char *s);
noma_tensor *noma_rt_load_csv(noma_tensor *out, const char *path, const noma_site *site);
void noma_rt_save_csv(const noma_tensor *a, const char *path, const noma_site *site);
noma_archive *noma_rt_load_safetensors(const char *path, const noma_site *site);
noma_tensor *noma_rt_archive_get(noma_tensor *out, const noma_archive *ar, const char *key,
                                 const noma_site *site);   /* key NULL: first key */
void noma_rt_save_safetensors(int64_t n, const char *const *keys,
                              const noma_tensor *const *values, const char *path,
                              const noma_site *site);

/* ---- training ------------------------------------------------------------- */
void noma_rt_check_objective(double loss, double iteration, const noma_site *site);
void noma_rt_warn_max_iterations(double count, const noma_site *site);
/* --loss-log and --progress: called with every objective of every optimize
 * loop (`loop` counts loops in start order from 0, `iteration` from 0; `site`
 * is the loop's).  Appends a row to the CSV file NOMA_LOSS_LOG names, and
 * with NOMA_PROGRESS set (not "0") keeps a progress line on stderr for loops
 * running over 0.1 s; both variables are read once per run. */
void noma_rt_loss_log(double loop, double iteration, double loss, const noma_site *site);
/* after each optimize loop: ends its progress line, if one was shown */
void noma_rt_end_loop(void);

/* ---- embedding and tests (not called by compiled code) ------------------- */
/* The last error report noma_rt_error printed (without the trailing newline),
 * "" if none yet. */
const char *noma_rt_last_error(void);
/* Call `fn` like noma_rt_run calls its entry (errors unwind here and give 1),
 * passing the integer/pointer arguments iargs[0..5] and the double arguments
 * dargs[0..7] (the SysV x86-64 / AArch64 convention passes the two kinds in
 * separate registers, so any runtime function with at most 6 integer and 8
 * double parameters can be called; extra arguments are ignored). The result
 * (an integer/pointer, or a double when returns_double) goes to *result when
 * result is not NULL. For tests driving the runtime through ctypes. */
int noma_rt_test_call(const void *fn, int64_t returns_double, const int64_t *iargs,
                      const double *dargs, void *result);

/* Set the number of threads large kernels (matrix products) may use, n >= 1
 * (n < 1 changes nothing); returns the previous setting.  The default is
 * NOMA_NUM_THREADS, else the CPUs available to the process (at most 8).
 * Results do not depend on it. */
int64_t noma_rt_set_num_threads(int64_t n);

#endif
