/* Matrix products and the worker-thread pool.
 *
 * Every element of a product is computed the same way whatever the shape,
 * the blocking or the number of threads:
 *
 *     c = 0;  for kk in 0..k-1:  c = fma(a[i][kk], b[kk][j], c)
 *
 * (a fused multiply-add where the target has FMA, else a product and a sum:
 * noma_rt_simd.h), so results are deterministic and independent of the
 * thread count (each element is computed by one thread, in k order).  They
 * agree with numpy's BLAS to rounding (not bit for bit: BLAS sums in another
 * order).  Tiny products skip the packing; others pack KC x NR panels of B
 * and run 6 x 8 register blocks (12 vector accumulators) over them.
 *
 * The pool: worker threads are started on the first parallel call and kept;
 * a job is split into parts that the threads claim one at a time.  Between
 * jobs a worker spins briefly (then yields its core between looks), then
 * sleeps on a condition variable.  After a fork() the child starts fresh (no
 * workers until it needs them).  NOMA_NUM_THREADS caps the thread count
 * (default: the CPUs this process may run on, at most NOMA__MAX_THREADS);
 * NOMA_SPIN_US sets how long an idle worker waits before it sleeps (300).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "noma_rt_internal.h"
#include "noma_rt_simd.h"

/* ======================================================================== */
/* thread pool                                                              */
/* ======================================================================== */

/* A job is `parts` independent parts; the threads allowed to take part
 * claim them one at a time from `job` (generation | threads | parts | next
 * part, one atomic word), so a thread that is descheduled delays nobody but
 * the part it holds. */
#define JOB_GEN_SHIFT 44
#define JOB_THREADS_SHIFT 40
#define JOB_PARTS_SHIFT 20
#define JOB_FIELD ((UINT64_C(1) << 20) - 1)
#define JOB_GEN_MASK ((UINT64_C(1) << 20) - 1)
#define JOB_GEN(v) ((v) >> JOB_GEN_SHIFT)
#define JOB_THREADS(v) (((v) >> JOB_THREADS_SHIFT) & 15)
#define JOB_PARTS(v) (((v) >> JOB_PARTS_SHIFT) & JOB_FIELD)
#define JOB_NEXT(v) ((v) & JOB_FIELD)

static struct {
    int configured;      /* nthreads decided */
    int nthreads;        /* threads a job may use, main thread included */
    int started;         /* workers running */
    uint64_t gen0[NOMA__MAX_THREADS]; /* the generation when the worker was created */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    _Atomic uint64_t job;
    atomic_int done;     /* parts of the current job finished */
    atomic_int sleeping; /* workers waiting on cv */
    noma__part_fn fn;    /* the current job (valid while a part of it is claimed) */
    void *arg;
} pool = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

static inline int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* how long an idle worker waits for the next job before it sleeps: it spins
 * for PAUSE_NS, then yields the CPU between looks (so that on a busy
 * machine it leaves its core to threads with work, ours included) */
static int64_t spin_ns = 300000;
#define PAUSE_NS 20000

/* claim and run parts of job generation `gen` until none is left */
static void run_parts(uint64_t gen, int thread) {
    uint64_t v = atomic_load_explicit(&pool.job, memory_order_acquire);
    if (JOB_GEN(v) != gen || (uint64_t)thread >= JOB_THREADS(v)) return;
    while (JOB_GEN(v) == gen && JOB_NEXT(v) < JOB_PARTS(v)) {
        if (!atomic_compare_exchange_weak_explicit(&pool.job, &v, v + 1, memory_order_acq_rel,
                                                   memory_order_acquire))
            continue;
        /* the job cannot end (nor fn/arg change) before this part is done */
        pool.fn(pool.arg, (int)JOB_NEXT(v), thread);
        atomic_fetch_add_explicit(&pool.done, 1, memory_order_release);
        v = atomic_load_explicit(&pool.job, memory_order_acquire);
    }
}

static void *worker_main(void *p) {
    int id = (int)(intptr_t)p;
    uint64_t seen = pool.gen0[id];  /* jobs posted after that are for this worker */
    for (;;) {
        uint64_t g = JOB_GEN(atomic_load_explicit(&pool.job, memory_order_acquire));
        if (g == seen) {
            const int64_t start = now_ns();
            int64_t t = start;
            for (int spins = 0;; spins++) {
                g = JOB_GEN(atomic_load_explicit(&pool.job, memory_order_acquire));
                if (g != seen) break;
                if (t - start < PAUSE_NS) {
                    cpu_relax();
                    if ((spins & 63) == 63) t = now_ns();
                } else {
                    sched_yield();
                    t = now_ns();
                }
                if (t - start >= spin_ns) break;
            }
            if (g == seen) {
                pthread_mutex_lock(&pool.mu);
                atomic_fetch_add(&pool.sleeping, 1);
                while ((g = JOB_GEN(atomic_load(&pool.job))) == seen)
                    pthread_cond_wait(&pool.cv, &pool.mu);
                atomic_fetch_sub(&pool.sleeping, 1);
                pthread_mutex_unlock(&pool.mu);
            }
        }
        seen = g;
        run_parts(g, id);
    }
    return NULL;
}

static void after_fork_child(void) {
    /* the workers do not exist in the child */
    pool.started = 0;
    pthread_mutex_init(&pool.mu, NULL);
    pthread_cond_init(&pool.cv, NULL);
    atomic_store(&pool.sleeping, 0);
}

static int available_cpus(void) {
#ifdef CPU_COUNT
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        int n = CPU_COUNT(&set);
        if (n > 0) return n;
    }
#endif
    return 1;
}

static void configure(void) {
    if (pool.configured) return;
    int n = available_cpus();
    const char *env = getenv("NOMA_NUM_THREADS");
    if (env && *env) {
        long v = strtol(env, NULL, 10);
        if (v >= 1) n = v > NOMA__MAX_THREADS ? NOMA__MAX_THREADS : (int)v;
    }
    if (n > NOMA__MAX_THREADS) n = NOMA__MAX_THREADS;
    if (n < 1) n = 1;
    pool.nthreads = n;
    const char *spin = getenv("NOMA_SPIN_US");
    if (spin && *spin) spin_ns = strtol(spin, NULL, 10) * 1000;
    pool.configured = 1;
    static int atfork_done;
    if (!atfork_done) {
        pthread_atfork(NULL, NULL, after_fork_child);
        atfork_done = 1;
    }
}

int noma__num_threads(void) {
    configure();
    return pool.nthreads;
}

int64_t noma_rt_set_num_threads(int64_t n) {
    configure();
    int64_t old = pool.nthreads;
    if (n >= 1) pool.nthreads = n > NOMA__MAX_THREADS ? NOMA__MAX_THREADS : (int)n;
    return old;
}

/* start workers until `want` threads (main included) can run; returns how many can */
static int ensure_workers(int want) {
    if (want > NOMA__MAX_THREADS) want = NOMA__MAX_THREADS;
    if (pool.started + 1 >= want) return want;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);  /* workers take no signals */
    /* the parts need little stack: 1 MiB instead of the default 8 (address
     * space matters under a memory limit) */
    pthread_attr_t attr;
    int have_attr = pthread_attr_init(&attr) == 0;
    if (have_attr) pthread_attr_setstacksize(&attr, (size_t)1 << 20);
    while (pool.started + 1 < want) {
        int id = pool.started + 1;
        pthread_t tid;
        pool.gen0[id] = JOB_GEN(atomic_load(&pool.job));
        if (pthread_create(&tid, have_attr ? &attr : NULL, worker_main, (void *)(intptr_t)id) != 0)
            break;
        pthread_detach(tid);
        pool.started++;
    }
    if (have_attr) pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return pool.started + 1 < want ? pool.started + 1 : want;
}

void noma__parallel(int parts, int threads, noma__part_fn fn, void *arg) {
    if (threads > parts) threads = parts;
    if (threads > 1) threads = ensure_workers(threads);
    if (threads <= 1 || parts > (int)JOB_FIELD) {
        for (int part = 0; part < parts; part++) fn(arg, part, 0);
        return;
    }
    pool.fn = fn;
    pool.arg = arg;
    atomic_store(&pool.done, 0);
    uint64_t gen = (JOB_GEN(atomic_load(&pool.job)) + 1) & JOB_GEN_MASK;
    /* seq_cst: pairs with the workers' `sleeping` */
    atomic_store(&pool.job, gen << JOB_GEN_SHIFT | (uint64_t)threads << JOB_THREADS_SHIFT |
                                (uint64_t)parts << JOB_PARTS_SHIFT);
    if (atomic_load(&pool.sleeping) > 0) {
        pthread_mutex_lock(&pool.mu);
        pthread_cond_broadcast(&pool.cv);
        pthread_mutex_unlock(&pool.mu);
    }
    run_parts(gen, 0);
    for (int spins = 0; atomic_load_explicit(&pool.done, memory_order_acquire) < parts; spins++) {
        cpu_relax();
        if (spins > 1000) sched_yield();
    }
}

/* ======================================================================== */
/* GEMM                                                                     */
/* ======================================================================== */

typedef noma__v4d v4d;

enum {
    MR = 6,    /* rows of a register block */
    NR = 8,    /* columns of a register block (a packed panel of B) */
    KC = 256,  /* k-block: a KC x NR panel of B stays in L1 */
    MC = 96,   /* rows of A per pass over the panels (MC x KC in L2) */
    NC = 512,  /* columns of B packed at once */
};

/* c[r][0..4H) (+)= sum over kk < kc of a[r*lda + kk] * b[kk*NR + 0..4H) for r < R;
 * F (first): start from 0 instead of c.  Every variant is its own function
 * with constant R, H, F, so the accumulators live in registers. */
#define DEF_KERNEL(R, H, F)                                                              \
    static void kern_##R##_##H##_##F(int64_t kc, const double *restrict a, int64_t lda,  \
                                     const double *restrict b, double *restrict c,        \
                                     int64_t ldc) {                                       \
        v4d acc[R][H];                                                                    \
        for (int r = 0; r < R; r++)                                                       \
            for (int h = 0; h < H; h++)                                                   \
                acc[r][h] = F ? (v4d){0, 0, 0, 0} : *(const v4d *)(c + r * ldc + 4 * h);  \
        for (int64_t kk = 0; kk < kc; kk++) {                                             \
            v4d bv[H];                                                                    \
            for (int h = 0; h < H; h++) bv[h] = *(const v4d *)(b + kk * NR + 4 * h);      \
            for (int r = 0; r < R; r++) {                                                 \
                const double x = a[r * lda + kk];                                         \
                const v4d av = {x, x, x, x};                                              \
                for (int h = 0; h < H; h++) acc[r][h] = noma__vfma(av, bv[h], acc[r][h]); \
            }                                                                             \
        }                                                                                 \
        for (int r = 0; r < R; r++)                                                       \
            for (int h = 0; h < H; h++) *(v4d *)(c + r * ldc + 4 * h) = acc[r][h];        \
    }
#define DEF_KERNELS(R, H) DEF_KERNEL(R, H, 0) DEF_KERNEL(R, H, 1)

DEF_KERNELS(6, 2)
DEF_KERNELS(5, 2)
DEF_KERNELS(4, 2)
DEF_KERNELS(3, 2)
DEF_KERNELS(2, 2)
DEF_KERNELS(1, 2)
DEF_KERNELS(6, 1)
DEF_KERNELS(5, 1)
DEF_KERNELS(4, 1)
DEF_KERNELS(3, 1)
DEF_KERNELS(2, 1)
DEF_KERNELS(1, 1)

typedef void (*kernel_fn)(int64_t, const double *, int64_t, const double *, double *, int64_t);
/* [first][h - 1][rows] */
static const kernel_fn KERNELS[2][2][MR + 1] = {
    {{NULL, kern_1_1_0, kern_2_1_0, kern_3_1_0, kern_4_1_0, kern_5_1_0, kern_6_1_0},
     {NULL, kern_1_2_0, kern_2_2_0, kern_3_2_0, kern_4_2_0, kern_5_2_0, kern_6_2_0}},
    {{NULL, kern_1_1_1, kern_2_1_1, kern_3_1_1, kern_4_1_1, kern_5_1_1, kern_6_1_1},
     {NULL, kern_1_2_1, kern_2_2_1, kern_3_2_1, kern_4_2_1, kern_5_2_1, kern_6_2_1}},
};

typedef struct {
    const double *A, *B;
    double *C;
    int64_t m, n, k;
    int64_t rows, cols;        /* a part: rows x cols of C (the last ones smaller) */
    int64_t row_parts;
    double *pack[NOMA__MAX_THREADS];
} gemm_job;

/* C[i0:i1, j0:j1] of the product */
static void gemm_region(const gemm_job *g, double *restrict P, int64_t i0, int64_t i1,
                        int64_t j0, int64_t j1) {
    const double *restrict A = g->A, *restrict B = g->B;
    double *restrict C = g->C;
    const int64_t k = g->k, n = g->n;
    for (int64_t jc = j0; jc < j1; jc += NC) {
        const int64_t nc = j1 - jc < NC ? j1 - jc : NC;
        const int64_t panels = (nc + NR - 1) / NR;
        for (int64_t pc = 0; pc < k; pc += KC) {
            const int64_t kc = k - pc < KC ? k - pc : KC;
            const int first = pc == 0;
            /* pack B[pc:pc+kc, jc:jc+nc] as panels of kc x NR (zero padded) */
            for (int64_t p = 0; p < panels; p++) {
                const int64_t w = nc - p * NR < NR ? nc - p * NR : NR;
                double *restrict dst = P + p * kc * NR;
                const double *restrict src = B + pc * n + jc + p * NR;
                if (w == NR) {
                    for (int64_t kk = 0; kk < kc; kk++)
                        for (int j = 0; j < NR; j++) dst[kk * NR + j] = src[kk * n + j];
                } else {
                    for (int64_t kk = 0; kk < kc; kk++)
                        for (int j = 0; j < NR; j++) dst[kk * NR + j] = j < w ? src[kk * n + j] : 0.0;
                }
            }
            for (int64_t ic = i0; ic < i1; ic += MC) {
                const int64_t mc = i1 - ic < MC ? i1 - ic : MC;
                for (int64_t p = 0; p < panels; p++) {
                    const int64_t w = nc - p * NR < NR ? nc - p * NR : NR;
                    const double *restrict bp = P + p * kc * NR;
                    const int h = w > 4 ? 2 : 1;
                    for (int64_t ir = 0; ir < mc; ir += MR) {
                        const int rows = mc - ir < MR ? (int)(mc - ir) : MR;
                        const double *a = A + (ic + ir) * k + pc;
                        double *c = C + (ic + ir) * n + jc + p * NR;
                        if (w == 4 * h) {
                            KERNELS[first][h - 1][rows](kc, a, k, bp, c, n);
                        } else {
                            /* a partial panel: through a tile */
                            double tile[MR * NR];
                            if (!first)
                                for (int r = 0; r < rows; r++)
                                    for (int64_t j = 0; j < w; j++) tile[r * NR + j] = c[r * n + j];
                            KERNELS[first][h - 1][rows](kc, a, k, bp, tile, NR);
                            for (int r = 0; r < rows; r++)
                                for (int64_t j = 0; j < w; j++) c[r * n + j] = tile[r * NR + j];
                        }
                    }
                }
            }
        }
    }
}

static void gemm_part(void *arg, int part, int thread) {
    const gemm_job *g = arg;
    int64_t i0 = (part % g->row_parts) * g->rows, j0 = (part / g->row_parts) * g->cols;
    int64_t i1 = i0 + g->rows < g->m ? i0 + g->rows : g->m;
    int64_t j1 = j0 + g->cols < g->n ? j0 + g->cols : g->n;
    if (i0 < i1 && j0 < j1) gemm_region(g, g->pack[thread], i0, i1, j0, j1);
}

/* per-thread packing buffers, kept between calls */
static double *pack_buf[NOMA__MAX_THREADS];
static int64_t pack_cap[NOMA__MAX_THREADS];

static double *pack_for(int part, int64_t need, const noma_site *site) {
    if (pack_cap[part] < need) {
        free(pack_buf[part]);
        pack_buf[part] = NULL;
        pack_cap[part] = 0;
        void *p = NULL;
        if (posix_memalign(&p, 64, (size_t)need * sizeof(double)) != 0) noma__oom(site);
        pack_buf[part] = p;
        pack_cap[part] = need;
    }
    return pack_buf[part];
}

/* products below this many multiply-adds run on one thread */
#define PARALLEL_MIN_WORK (INT64_C(1) << 19)
/* products below this many multiply-adds skip the blocking */
#define SMALL_WORK 4096

/* tiny products without packing, same arithmetic as the kernels (each
 * element summed from 0 in k order) */
static void gemm_small(const double *restrict A, const double *restrict B, double *restrict C,
                       int64_t m, int64_t n, int64_t k) {
    const int64_t n4 = n / 4 * 4;
    for (int64_t i = 0; i < m && n4 > 0; i++) {
        const double *restrict a = A + i * k;
        double *restrict c = C + i * n;
        int64_t j = 0;
        for (; j + 8 <= n4; j += 8) {
            v4d s0 = {0, 0, 0, 0}, s1 = {0, 0, 0, 0};
            for (int64_t kk = 0; kk < k; kk++) {
                const double x = a[kk];
                const v4d av = {x, x, x, x};
                s0 = noma__vfma(av, *(const v4d *)(B + kk * n + j), s0);
                s1 = noma__vfma(av, *(const v4d *)(B + kk * n + j + 4), s1);
            }
            *(v4d *)(c + j) = s0;
            *(v4d *)(c + j + 4) = s1;
        }
        for (; j < n4; j += 4) {
            v4d s0 = {0, 0, 0, 0};
            for (int64_t kk = 0; kk < k; kk++) {
                const double x = a[kk];
                const v4d av = {x, x, x, x};
                s0 = noma__vfma(av, *(const v4d *)(B + kk * n + j), s0);
            }
            *(v4d *)(c + j) = s0;
        }
    }
    /* the last n % 4 columns: four rows at a time (four independent sums) */
    for (int64_t j = n4; j < n; j++) {
        int64_t i = 0;
        for (; i + 4 <= m; i += 4) {
            const double *restrict a = A + i * k;
            double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
            for (int64_t kk = 0; kk < k; kk++) {
                const double b = B[kk * n + j];
                s0 = noma__fma(a[kk], b, s0);
                s1 = noma__fma(a[k + kk], b, s1);
                s2 = noma__fma(a[2 * k + kk], b, s2);
                s3 = noma__fma(a[3 * k + kk], b, s3);
            }
            C[i * n + j] = s0;
            C[(i + 1) * n + j] = s1;
            C[(i + 2) * n + j] = s2;
            C[(i + 3) * n + j] = s3;
        }
        for (; i < m; i++) {
            const double *restrict a = A + i * k;
            double s = 0.0;
            for (int64_t kk = 0; kk < k; kk++) s = noma__fma(a[kk], B[kk * n + j], s);
            C[i * n + j] = s;
        }
    }
}

void noma__gemm(const double *A, const double *B, double *C, int64_t m, int64_t n, int64_t k,
                const noma_site *site) {
    if (m == 0 || n == 0) return;
    if (k == 0) {
        memset(C, 0, (size_t)(m * n) * sizeof(double));
        return;
    }
    const int64_t work = m * n * k;
    if (work < SMALL_WORK) {
        gemm_small(A, B, C, m, n, k);
        return;
    }
    gemm_job g = {.A = A, .B = B, .C = C, .m = m, .n = n, .k = k};
    int threads = work >= PARALLEL_MIN_WORK ? noma__num_threads() : 1;
    /* parts: about 4 per thread (so a descheduled thread holds up little);
     * columns split first (each part packs only its columns of B), in groups
     * of at least 32; row groups of at least 64 rows (a part packs its
     * columns of B for its rows alone) */
    int64_t cn = 1, cm = 1;
    if (threads > 1) {
        cn = n / 32 < threads ? n / 32 : threads;
        if (cn < 1) cn = 1;
        int64_t want = (4 * threads + cn - 1) / cn;
        cm = m / 64 < want ? m / 64 : want;
        if (cm < 1) cm = 1;
    }
    g.cols = (n + cn - 1) / cn;
    g.cols = (g.cols + NR - 1) / NR * NR;
    g.rows = (m + cm - 1) / cm;
    g.rows = (g.rows + MR - 1) / MR * MR;
    g.row_parts = (m + g.rows - 1) / g.rows;
    int parts = (int)(g.row_parts * ((n + g.cols - 1) / g.cols));
    if (parts < threads) threads = parts;
    int64_t cols = g.cols < NC ? g.cols : NC;
    int64_t kc = k < KC ? k : KC;
    int64_t need = kc * ((cols + NR - 1) / NR * NR);
    for (int t = 0; t < threads; t++) g.pack[t] = pack_for(t, need, site);
    noma__parallel(parts, threads, gemm_part, &g);
}

/* ------------------------------------------------------------------------ */
/* products with transposed operands (noma.tensor.matmul {transpose_lhs/rhs}) */
/* ------------------------------------------------------------------------ */

/* the transposed copies of large operands, kept between calls */
static double *trans_buf[2];
static int64_t trans_cap[2];

static const double *transposed_copy(int which, const double *x, int64_t r, int64_t c,
                                     const noma_site *site) {
    if (trans_cap[which] < r * c) {
        free(trans_buf[which]);
        trans_buf[which] = NULL;
        trans_cap[which] = 0;
        trans_buf[which] = noma__xmalloc((size_t)(r * c) * sizeof(double), site);
        trans_cap[which] = r * c;
    }
    noma__transpose(trans_buf[which], x, r, c);
    return trans_buf[which];
}

/* a tiny product read through strides: element (i, kk) of the left factor is
 * A[i * ai + kk * ak], element (kk, j) of the right one B[kk * bk + j * bj];
 * each element summed from 0 in k order, like noma__gemm.  Wide results
 * accumulate a row of C over kk (independent, and for bj == 1 contiguous,
 * elements: the j loop vectorises); narrow ones keep four sums of a column
 * in registers. */
static void gemm_strided(const double *restrict A, int64_t ai, int64_t ak,
                         const double *restrict B, int64_t bk, int64_t bj, double *restrict C,
                         int64_t m, int64_t n, int64_t k) {
    if (n >= 4) {
        for (int64_t i = 0; i < m; i++) {
            double *restrict c = C + i * n;
            for (int64_t j = 0; j < n; j++) c[j] = 0.0;
            for (int64_t kk = 0; kk < k; kk++) {
                const double a = A[i * ai + kk * ak];
                const double *restrict b = B + kk * bk;
                if (bj == 1) {
                    for (int64_t j = 0; j < n; j++) c[j] = noma__fma(a, b[j], c[j]);
                } else {
                    for (int64_t j = 0; j < n; j++) c[j] = noma__fma(a, b[j * bj], c[j]);
                }
            }
        }
        return;
    }
    for (int64_t j = 0; j < n; j++) {
        const double *restrict b = B + j * bj;
        int64_t i = 0;
        for (; i + 4 <= m; i += 4) {
            const double *restrict a = A + i * ai;
            double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
            for (int64_t kk = 0; kk < k; kk++) {
                const double x = b[kk * bk];
                s0 = noma__fma(a[kk * ak], x, s0);
                s1 = noma__fma(a[ai + kk * ak], x, s1);
                s2 = noma__fma(a[2 * ai + kk * ak], x, s2);
                s3 = noma__fma(a[3 * ai + kk * ak], x, s3);
            }
            C[i * n + j] = s0;
            C[(i + 1) * n + j] = s1;
            C[(i + 2) * n + j] = s2;
            C[(i + 3) * n + j] = s3;
        }
        for (; i < m; i++) {
            double s = 0.0;
            for (int64_t kk = 0; kk < k; kk++) s = noma__fma(A[i * ai + kk * ak], b[kk * bk], s);
            C[i * n + j] = s;
        }
    }
}

noma_tensor *noma_rt_matmul_t(noma_tensor *out, const noma_tensor *a, const noma_tensor *b,
                              int64_t transpose_a, int64_t transpose_b, const noma_site *site) {
    /* the factors' shapes, after their transposes (ranks other than 2 are
     * ruled out by the IR verifier; reported as they are) */
    int64_t da[2] = {a->dims[transpose_a ? 1 : 0], a->dims[transpose_a ? 0 : 1]};
    int64_t db[2] = {b->dims[transpose_b ? 1 : 0], b->dims[transpose_b ? 0 : 1]};
    if (a->rank != 2 || b->rank != 2 || da[1] != db[0]) {
        char s1[NOMA__SHAPE_BUF], s2[NOMA__SHAPE_BUF];
        noma_rt_error(site, "matmul: shapes %s and %s do not match (expected [m, k] and [k, n])",
                      noma__fmt_shape(s1, a->rank, a->rank == 2 ? da : a->dims),
                      noma__fmt_shape(s2, b->rank, b->rank == 2 ? db : b->dims));
    }
    int64_t m = da[0], k = da[1], n = db[1];
    int64_t dims[2] = {m, n};
    noma__check_elements(2, dims, site);  /* [1e5, 1] x [1, 1e5] */
    double *o = noma__ensure(out, m * n, site);
    noma__set_shape(out, 2, dims);
    if ((transpose_a || transpose_b) && m * n * k < SMALL_WORK) {
        gemm_strided(a->data, transpose_a ? 1 : k, transpose_a ? m : 1, b->data,
                     transpose_b ? 1 : n, transpose_b ? k : 1, o, m, n, k);
        return out;
    }
    const double *A = transpose_a ? transposed_copy(0, a->data, k, m, site) : a->data;
    const double *B = transpose_b ? transposed_copy(1, b->data, n, k, site) : b->data;
    noma__gemm(A, B, o, m, n, k, site);
    return out;
}

noma_tensor *noma_rt_matmul(noma_tensor *out, const noma_tensor *a, const noma_tensor *b,
                            const noma_site *site) {
    return noma_rt_matmul_t(out, a, b, 0, 0, site);
}
