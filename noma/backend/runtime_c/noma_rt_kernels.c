/* Tensor kernels: element-wise ops with NumPy broadcasting, reductions, linear
 * algebra, shapes and indexing, resize, and the RNG (SPEC §4, §5, §7, §9). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "noma_rt_internal.h"
#include "noma_rt_simd.h"

typedef noma__v4d v4d;
typedef noma__v4i v4i;

/* ======================================================================== */
/* scalar semantics (identical to the numpy interpreter)                    */
/* ======================================================================== */

static inline double op_min(double x, double y) { return (x < y || x != x) ? x : y; }
static inline double op_max(double x, double y) { return (x > y || x != x) ? x : y; }
static inline double op_sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }
/* NaN stays NaN (numpy's maximum(x, 0), PyTorch's relu); relu(-0) is +0. */
static inline double op_relu(double x) { return x <= 0.0 ? 0.0 : x; }
static inline double op_not(double x) { return x == 0.0 ? 1.0 : 0.0; }
/* x ** y: numpy's fast paths for the exponents 2, 0.5, -1, 1 and 0, taken
 * element by element whatever the shapes (numpy takes them only for one
 * broadcast exponent; the interpreter and compiled code do as here): they
 * differ from pow at (-inf) ** 0.5 (nan, not inf) and (-0) ** 0.5 (-0) */
static inline double op_pow(double x, double y) {
    if (y == 2.0) return x * x;
    if (y == 0.5) return sqrt(x);
    if (y == -1.0) return 1.0 / x;
    if (y == 1.0) return x;
    if (y == 0.0) return 1.0;
    return pow(x, y);
}

double noma_rt_scalar_unary(int64_t op, double x) {
    switch (op) {
    case NOMA_NEG: return -x;
    case NOMA_NOT: return op_not(x);
    case NOMA_SIGMOID: return op_sigmoid(x);
    case NOMA_RELU: return op_relu(x);
    case NOMA_TANH: return tanh(x);
    case NOMA_EXP: return exp(x);
    case NOMA_LOG: return log(x);
    case NOMA_SQRT: return sqrt(x);
    case NOMA_SIN: return sin(x);
    case NOMA_COS: return cos(x);
    case NOMA_TAN: return tan(x);
    case NOMA_ABS: return fabs(x);
    case NOMA_FLOOR: return floor(x);
    case NOMA_CEIL: return ceil(x);
    case NOMA_TRUNC: return trunc(x);
    default: noma_rt_error(NULL, "unknown unary operation %lld", (long long)op);
    }
}

double noma_rt_scalar_binary(int64_t op, double x, double y) {
    switch (op) {
    case NOMA_ADD: return x + y;
    case NOMA_SUB: return x - y;
    case NOMA_MUL: return x * y;
    case NOMA_DIV: return x / y;
    case NOMA_REM: return fmod(x, y);
    case NOMA_POW: return op_pow(x, y);
    case NOMA_MIN: return op_min(x, y);
    case NOMA_MAX: return op_max(x, y);
    case NOMA_LT: return x < y ? 1.0 : 0.0;
    case NOMA_LE: return x <= y ? 1.0 : 0.0;
    case NOMA_GT: return x > y ? 1.0 : 0.0;
    case NOMA_GE: return x >= y ? 1.0 : 0.0;
    case NOMA_EQ: return x == y ? 1.0 : 0.0;
    case NOMA_NE: return x != y ? 1.0 : 0.0;
    default: noma_rt_error(NULL, "unknown binary operation %lld", (long long)op);
    }
}

/* ======================================================================== */
/* element-wise rows: the op is switched on outside the loops               */
/* ======================================================================== */

/* o[i] = f(a[i*sa], b[i*sb]) for strides sa, sb in {0, 1} */
#define BIN_LOOPS(EXPR)                                                       \
    do {                                                                      \
        if (sa && sb) {                                                       \
            for (int64_t i = 0; i < n; i++) {                                 \
                const double x = a[i], y = b[i];                              \
                o[i] = (EXPR);                                                \
            }                                                                 \
        } else if (sb) {                                                      \
            const double x = a[0];                                            \
            for (int64_t i = 0; i < n; i++) {                                 \
                const double y = b[i];                                        \
                o[i] = (EXPR);                                                \
            }                                                                 \
        } else if (sa) {                                                      \
            const double y = b[0];                                            \
            for (int64_t i = 0; i < n; i++) {                                 \
                const double x = a[i];                                        \
                o[i] = (EXPR);                                                \
            }                                                                 \
        } else {                                                              \
            const double x = a[0], y = b[0];                                  \
            const double r = (EXPR);                                          \
            for (int64_t i = 0; i < n; i++) o[i] = r;                         \
        }                                                                     \
    } while (0)

/* op_pow element by element, reusing the previous result while the operands
 * repeat (Adam's bias corrections: a scalar base and a tensor of step counts
 * that are mostly equal); the same value as calling op_pow again */
static void pow_row(double *restrict o, const double *restrict a, int64_t sa,
                    const double *restrict b, int64_t sb, int64_t n) {
    uint64_t px = 0, py = 0;
    double pr = 0.0;
    int have = 0;
    for (int64_t i = 0; i < n; i++) {
        const double x = a[i * sa], y = b[i * sb];
        uint64_t bx, by;
        memcpy(&bx, &x, sizeof bx);
        memcpy(&by, &y, sizeof by);
        if (!have || bx != px || by != py) {
            pr = op_pow(x, y);
            px = bx;
            py = by;
            have = 1;
        }
        o[i] = pr;
    }
}

static void bin_row(int64_t op, double *restrict o, const double *restrict a, int64_t sa,
                    const double *restrict b, int64_t sb, int64_t n, const noma_site *site) {
    switch (op) {
    case NOMA_ADD: BIN_LOOPS(x + y); break;
    case NOMA_SUB: BIN_LOOPS(x - y); break;
    case NOMA_MUL: BIN_LOOPS(x * y); break;
    case NOMA_DIV: BIN_LOOPS(x / y); break;
    case NOMA_REM: BIN_LOOPS(fmod(x, y)); break;
    case NOMA_POW:
        /* op_pow's fast paths, hoisted for one broadcast exponent */
        if (!sb && b[0] == 2.0) BIN_LOOPS(((void)y, x * x));
        else if (!sb && b[0] == 0.5) BIN_LOOPS(((void)y, sqrt(x)));
        else if (!sb && b[0] == -1.0) BIN_LOOPS(((void)y, 1.0 / x));
        else if (!sb && b[0] == 1.0) BIN_LOOPS(((void)y, x));
        else if (!sb && b[0] == 0.0) BIN_LOOPS(((void)y, (void)x, 1.0));
        else pow_row(o, a, sa, b, sb, n);
        break;
    case NOMA_MIN: BIN_LOOPS(op_min(x, y)); break;
    case NOMA_MAX: BIN_LOOPS(op_max(x, y)); break;
    case NOMA_LT: BIN_LOOPS(x < y ? 1.0 : 0.0); break;
    case NOMA_LE: BIN_LOOPS(x <= y ? 1.0 : 0.0); break;
    case NOMA_GT: BIN_LOOPS(x > y ? 1.0 : 0.0); break;
    case NOMA_GE: BIN_LOOPS(x >= y ? 1.0 : 0.0); break;
    case NOMA_EQ: BIN_LOOPS(x == y ? 1.0 : 0.0); break;
    case NOMA_NE: BIN_LOOPS(x != y ? 1.0 : 0.0); break;
    default: noma_rt_error(site, "unknown binary operation %lld", (long long)op);
    }
}

#define UN_LOOP(EXPR)                                                         \
    do {                                                                      \
        for (int64_t i = 0; i < n; i++) {                                     \
            const double x = a[i];                                            \
            o[i] = (EXPR);                                                    \
        }                                                                     \
    } while (0)

static void un_row(int64_t op, double *restrict o, const double *restrict a, int64_t n) {
    switch (op) {
    case NOMA_NEG: UN_LOOP(-x); break;
    case NOMA_NOT: UN_LOOP(op_not(x)); break;
    case NOMA_SIGMOID: noma__vsigmoid(o, a, n); break;
    case NOMA_RELU: UN_LOOP(op_relu(x)); break;
    case NOMA_TANH: noma__vtanh(o, a, n); break;
    case NOMA_EXP: noma__vexp(o, a, n); break;
    case NOMA_LOG: UN_LOOP(log(x)); break;
    case NOMA_SQRT: UN_LOOP(sqrt(x)); break;
    case NOMA_SIN: UN_LOOP(sin(x)); break;
    case NOMA_COS: UN_LOOP(cos(x)); break;
    case NOMA_TAN: UN_LOOP(tan(x)); break;
    case NOMA_ABS: UN_LOOP(fabs(x)); break;
    case NOMA_FLOOR: UN_LOOP(floor(x)); break;
    case NOMA_CEIL: UN_LOOP(ceil(x)); break;
    case NOMA_TRUNC: UN_LOOP(trunc(x)); break;
    default: noma_rt_error(NULL, "unknown unary operation %lld", (long long)op);
    }
}

/* ======================================================================== */
/* broadcasting                                                             */
/* ======================================================================== */

static inline int same_shape(const noma_tensor *a, const noma_tensor *b) {
    if (a->rank != b->rank) return 0;
    for (int64_t i = 0; i < a->rank; i++)
        if (a->dims[i] != b->dims[i]) return 0;
    return 1;
}

/* NumPy broadcasting of two shapes; 0 when incompatible */
static int broadcast2(int64_t ra, const int64_t *da, int64_t rb, const int64_t *db, int64_t *rr,
                      int64_t *dr) {
    int64_t r = ra > rb ? ra : rb;
    for (int64_t i = 0; i < r; i++) {
        int64_t x = i >= r - ra ? da[i - (r - ra)] : 1;
        int64_t y = i >= r - rb ? db[i - (r - rb)] : 1;
        if (x == y || y == 1) dr[i] = x;
        else if (x == 1) dr[i] = y;
        else return 0;
    }
    *rr = r;
    return 1;
}

/* the shape of several operands broadcast together (interp_values.broadcast_shapes) */
static void broadcast_all(int count, const noma_tensor *const *ops, int64_t *rank, int64_t *dims,
                          const noma_site *site) {
    int64_t r = 0, d[NOMA_MAX_RANK] = {0};
    for (int k = 0; k < count; k++) {
        const noma_tensor *t = ops[k];
        if (t->rank == 0) continue;
        int same = t->rank == r;
        for (int64_t i = 0; same && i < r; i++) same = t->dims[i] == d[i];
        if (same) continue;
        int64_t nr, nd[NOMA_MAX_RANK];
        if (!broadcast2(r, d, t->rank, t->dims, &nr, nd)) {
            char s1[NOMA__SHAPE_BUF], s2[NOMA__SHAPE_BUF];
            noma_rt_error(site, "shapes %s and %s cannot be broadcast", noma__fmt_shape(s1, r, d),
                          noma__fmt_shape(s2, t->rank, t->dims));
        }
        r = nr;
        memcpy(d, nd, sizeof d);
    }
    noma__check_elements(r, d, site);  /* [1e5, 1] + [1, 1e5] */
    *rank = r;
    memcpy(dims, d, sizeof d);
}

/* the result shape right-aligned in 4 dims */
static void pad4(int64_t rank, const int64_t *dims, int64_t *d4) {
    for (int i = 0; i < 4; i++) d4[i] = 1;
    for (int64_t i = 0; i < rank; i++) d4[4 - rank + i] = dims[i];
}

/* element strides of operand t inside the padded result shape D (0 where broadcast) */
static void strides4(const noma_tensor *t, const int64_t *D, int64_t *s) {
    int64_t d[4];
    pad4(t->rank, t->dims, d);
    int64_t stride = 1;
    for (int i = 3; i >= 0; i--) {
        (void)D;
        s[i] = d[i] == 1 ? 0 : stride;  /* a size-1 axis is broadcast (or has index 0 only) */
        stride *= d[i];
    }
}

/* element-wise ops on this many elements or more run on several threads
 * (they are memory bound: two cores move more than one) */
#define PARALLEL_BINARY_MIN 65536

/* rows of a binary op: row r of the result (D[3] elements) combines a at
 * offset(r, sa) and b at offset(r, sb), r = (i0 * D[1] + i1) * D[2] + i2 */
typedef struct {
    int64_t op;
    double *o;
    const double *a, *b;
    const int64_t *D, *sa, *sb;
    int64_t rows, chunk;
} bin_job;

static void bin_rows(const bin_job *j, int64_t lo, int64_t hi) {
    if (lo >= hi) return;
    const int64_t *D = j->D, *sa = j->sa, *sb = j->sb;
    int64_t i2 = lo % D[2], i1 = (lo / D[2]) % D[1], i0 = lo / (D[2] * D[1]);
    for (int64_t r = lo; r < hi; r++) {
        const double *pa = j->a + i0 * sa[0] + i1 * sa[1] + i2 * sa[2];
        const double *pb = j->b + i0 * sb[0] + i1 * sb[1] + i2 * sb[2];
        bin_row(j->op, j->o + r * D[3], pa, sa[3], pb, sb[3], D[3], NULL);
        if (++i2 == D[2]) {
            i2 = 0;
            if (++i1 == D[1]) {
                i1 = 0;
                i0++;
            }
        }
    }
}

static void bin_part(void *arg, int part, int thread) {
    (void)thread;
    const bin_job *j = arg;
    int64_t lo = part * j->chunk, hi = lo + j->chunk < j->rows ? lo + j->chunk : j->rows;
    bin_rows(j, lo, hi);
}

/* rows x D[3] elements; in parallel when large (the values do not depend on the split) */
static void bin_run(int64_t op, double *o, const double *a, const double *b, const int64_t *D,
                    const int64_t *sa, const int64_t *sb, const noma_site *site) {
    const int64_t rows = D[0] * D[1] * D[2], n = rows * D[3];
    if (NOMA_UNLIKELY(op < NOMA_ADD || op > NOMA_NE))
        noma_rt_error(site, "unknown binary operation %lld", (long long)op);
    bin_job j = {.op = op, .o = o, .a = a, .b = b, .D = D, .sa = sa, .sb = sb, .rows = rows};
    int threads = n >= PARALLEL_BINARY_MIN ? noma__num_threads() : 1;
    if (threads > 1) {
        int64_t parts = 4 * threads;
        j.chunk = (rows + parts - 1) / parts;
        parts = (rows + j.chunk - 1) / j.chunk;
        if (parts > 1) {
            noma__parallel((int)parts, threads, bin_part, &j);
            return;
        }
    }
    bin_rows(&j, 0, rows);
}

/* a contiguous operand of n elements (stride 1) or a single value (stride 0),
 * as rows of up to 4096 elements so that large ones can be split */
static void bin_flat(int64_t op, double *o, const double *a, int64_t sa, const double *b,
                     int64_t sb, int64_t n, const noma_site *site) {
    if (n < PARALLEL_BINARY_MIN) {
        bin_row(op, o, a, sa, b, sb, n, site);
        return;
    }
    enum { ROW = 4096 };
    if (n % ROW) {  /* the tail first, then whole rows */
        int64_t tail = n % ROW, head = n - tail;
        bin_row(op, o + head, a + head * sa, sa, b + head * sb, sb, tail, site);
        n = head;
    }
    const int64_t D[4] = {1, 1, n / ROW, ROW};
    const int64_t A[4] = {0, 0, ROW * sa, sa}, B[4] = {0, 0, ROW * sb, sb};
    bin_run(op, o, a, b, D, A, B, site);
}

noma_tensor *noma_rt_binary(int64_t op, noma_tensor *out, const noma_tensor *a,
                            const noma_tensor *b, const noma_site *site) {
    /* fast paths: same shape, or one operand a single value covering no new axes */
    if (same_shape(a, b)) {
        int64_t n = noma__numel(a);
        double *o = noma__ensure(out, n, site);
        noma__set_shape(out, a->rank, a->dims);
        bin_flat(op, o, a->data, 1, b->data, 1, n, site);
        return out;
    }
    if (b->rank <= a->rank && noma__numel(b) == 1) {
        int64_t n = noma__numel(a);
        double *o = noma__ensure(out, n, site);
        noma__set_shape(out, a->rank, a->dims);
        bin_flat(op, o, a->data, 1, b->data, 0, n, site);
        return out;
    }
    if (a->rank <= b->rank && noma__numel(a) == 1) {
        int64_t n = noma__numel(b);
        double *o = noma__ensure(out, n, site);
        noma__set_shape(out, b->rank, b->dims);
        bin_flat(op, o, a->data, 0, b->data, 1, n, site);
        return out;
    }
    const noma_tensor *ops[2] = {a, b};
    int64_t rank, dims[NOMA_MAX_RANK];
    broadcast_all(2, ops, &rank, dims, site);
    int64_t D[4], sa[4], sb[4];
    pad4(rank, dims, D);
    strides4(a, D, sa);
    strides4(b, D, sb);
    int64_t n = D[0] * D[1] * D[2] * D[3];
    double *o = noma__ensure(out, n, site);
    noma__set_shape(out, rank, dims);
    bin_run(op, o, a->data, b->data, D, sa, sb, site);
    return out;
}

typedef struct {
    int64_t op, n, chunk;
    double *o;
    const double *a;
} unary_job;

static void unary_part(void *arg, int part, int thread) {
    (void)thread;
    const unary_job *j = arg;
    int64_t lo = part * j->chunk, len = j->n - lo < j->chunk ? j->n - lo : j->chunk;
    un_row(j->op, j->o + lo, j->a + lo, len);
}

/* exp, tanh and sigmoid of this many elements or more run on several threads */
#define PARALLEL_UNARY_MIN 32768

noma_tensor *noma_rt_unary(int64_t op, noma_tensor *out, const noma_tensor *a) {
    int64_t n = noma__numel(a);
    double *o = noma__ensure(out, n, NULL);
    noma__set_shape(out, a->rank, a->dims);
    if (n >= PARALLEL_UNARY_MIN && (op == NOMA_TANH || op == NOMA_EXP || op == NOMA_SIGMOID)) {
        int threads = noma__num_threads();
        if (threads > 1) {
            /* element-wise: the split (whole vectors of 4) changes nothing */
            unary_job j = {.op = op, .n = n, .o = o, .a = a->data};
            int parts = 4 * threads;
            j.chunk = ((n + parts - 1) / parts + 3) / 4 * 4;
            parts = (int)((n + j.chunk - 1) / j.chunk);
            noma__parallel(parts, threads, unary_part, &j);
            return out;
        }
    }
    un_row(op, o, a->data, n);
    return out;
}

noma_tensor *noma_rt_select(noma_tensor *out, const noma_tensor *c, const noma_tensor *a,
                            const noma_tensor *b, const noma_site *site) {
    const noma_tensor *ops[3] = {c, a, b};
    int64_t rank, dims[NOMA_MAX_RANK];
    broadcast_all(3, ops, &rank, dims, site);
    int64_t D[4], sc[4], sa[4], sb[4];
    pad4(rank, dims, D);
    strides4(c, D, sc);
    strides4(a, D, sa);
    strides4(b, D, sb);
    int64_t n = D[0] * D[1] * D[2] * D[3];
    double *restrict o = noma__ensure(out, n, site);
    noma__set_shape(out, rank, dims);
    if (same_shape(c, a) && same_shape(a, b)) {
        const double *restrict pc = c->data, *restrict pa = a->data, *restrict pb = b->data;
        for (int64_t i = 0; i < n; i++) o[i] = pc[i] != 0.0 ? pa[i] : pb[i];
        return out;
    }
    for (int64_t i0 = 0; i0 < D[0]; i0++)
        for (int64_t i1 = 0; i1 < D[1]; i1++)
            for (int64_t i2 = 0; i2 < D[2]; i2++) {
                const double *pc = c->data + i0 * sc[0] + i1 * sc[1] + i2 * sc[2];
                const double *pa = a->data + i0 * sa[0] + i1 * sa[1] + i2 * sa[2];
                const double *pb = b->data + i0 * sb[0] + i1 * sb[1] + i2 * sb[2];
                int64_t s3c = sc[3], s3a = sa[3], s3b = sb[3];
                for (int64_t i = 0; i < D[3]; i++)
                    o[i] = pc[i * s3c] != 0.0 ? pa[i * s3a] : pb[i * s3b];
                o += D[3];
            }
    return out;
}

noma_tensor *noma_rt_broadcast_like(noma_tensor *out, const noma_tensor *a,
                                    const noma_tensor *like, const noma_site *site) {
    int ok = a->rank <= like->rank;
    for (int64_t i = 0; ok && i < a->rank; i++) {
        int64_t x = a->dims[i], y = like->dims[like->rank - a->rank + i];
        ok = x == y || x == 1;
    }
    if (!ok) {
        char s1[NOMA__SHAPE_BUF], s2[NOMA__SHAPE_BUF];
        noma_rt_error(site, "shapes %s and %s cannot be broadcast",
                      noma__fmt_shape(s1, a->rank, a->dims),
                      noma__fmt_shape(s2, like->rank, like->dims));
    }
    int64_t D[4], sa[4];
    pad4(like->rank, like->dims, D);
    strides4(a, D, sa);
    int64_t n = D[0] * D[1] * D[2] * D[3];
    double *restrict o = noma__ensure(out, n, site);
    noma__set_shape(out, like->rank, like->dims);
    if (noma__numel(a) == 1) {
        double v = a->data[0];
        for (int64_t i = 0; i < n; i++) o[i] = v;
        return out;
    }
    for (int64_t i0 = 0; i0 < D[0]; i0++)
        for (int64_t i1 = 0; i1 < D[1]; i1++)
            for (int64_t i2 = 0; i2 < D[2]; i2++) {
                const double *restrict pa = a->data + i0 * sa[0] + i1 * sa[1] + i2 * sa[2];
                if (sa[3]) memcpy(o, pa, (size_t)D[3] * sizeof(double));
                else
                    for (int64_t i = 0; i < D[3]; i++) o[i] = pa[0];
                o += D[3];
            }
    return out;
}

/* ======================================================================== */
/* reductions                                                               */
/* ======================================================================== */

/* numpy's pairwise summation (contiguous) */
static double pairwise(const double *a, int64_t n) {
    if (n < 8) {
        double res = 0.0;
        for (int64_t i = 0; i < n; i++) res += a[i];
        return res;
    }
    if (n <= 128) {
        double r[8];
        for (int j = 0; j < 8; j++) r[j] = a[j];
        int64_t i;
        for (i = 8; i < n - (n % 8); i += 8)
            for (int j = 0; j < 8; j++) r[j] += a[i + j];
        double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for (; i < n; i++) res += a[i];
        return res;
    }
    int64_t n2 = n / 2;
    n2 -= n2 % 8;
    return pairwise(a, n2) + pairwise(a + n2, n - n2);
}

static inline double sum_of(const double *a, int64_t n) { return 0.0 + pairwise(a, n); }

double noma_rt_reduce_all(int64_t op, const noma_tensor *a) {
    if (a->rank == 0) return a->data[0];
    int64_t n = noma__numel(a);
    double s = sum_of(a->data, n);
    return op == NOMA_MEAN ? s / (double)n : s;
}

static void check_axis(int64_t axis, int64_t rank, const noma_site *site) {
    if (axis < 0 || axis >= rank)
        noma_rt_error(site, "axis %lld out of range for a tensor of rank %lld", (long long)axis,
                      (long long)rank);
}

noma_tensor *noma_rt_reduce_axis(int64_t op, noma_tensor *out, const noma_tensor *a,
                                 int64_t axis, int64_t keepdims, const noma_site *site) {
    if (a->rank == 0) return noma__copy(out, a, site);
    check_axis(axis, a->rank, site);
    int64_t outer = 1, len = a->dims[axis], inner = 1;
    for (int64_t i = 0; i < axis; i++) outer *= a->dims[i];
    for (int64_t i = axis + 1; i < a->rank; i++) inner *= a->dims[i];
    int64_t dims[NOMA_MAX_RANK], rank = 0;
    for (int64_t i = 0; i < a->rank; i++) {
        if (i != axis) dims[rank++] = a->dims[i];
        else if (keepdims) dims[rank++] = 1;
    }
    double *restrict o = noma__ensure(out, outer * inner, site);
    noma__set_shape(out, rank, dims);
    const double *restrict x = a->data;
    if (inner == 1) {
        for (int64_t i = 0; i < outer; i++) o[i] = sum_of(x + i * len, len);
    } else {
        for (int64_t i = 0; i < outer; i++) {
            double *restrict row = o + i * inner;
            for (int64_t j = 0; j < inner; j++) row[j] = 0.0;
            for (int64_t l = 0; l < len; l++) {
                const double *restrict src = x + (i * len + l) * inner;
                for (int64_t j = 0; j < inner; j++) row[j] += src[j];
            }
        }
    }
    if (op == NOMA_MEAN) {
        double d = (double)len;
        for (int64_t i = 0; i < outer * inner; i++) o[i] /= d;
    }
    return out;
}

noma_tensor *noma_rt_reduce_like(noma_tensor *out, const noma_tensor *a,
                                 const noma_tensor *like, const noma_site *site) {
    if (same_shape(a, like)) return noma__copy(out, a, site);
    int64_t lead = a->rank - like->rank;
    int ok = lead >= 0;
    for (int64_t i = 0; ok && i < like->rank; i++) {
        int64_t td = like->dims[i], ad = a->dims[lead + i];
        ok = td == ad || td == 1;
    }
    if (!ok) {
        char s1[NOMA__SHAPE_BUF], s2[NOMA__SHAPE_BUF];
        noma_rt_error(site, "cannot reduce shape %s to %s", noma__fmt_shape(s1, a->rank, a->dims),
                      noma__fmt_shape(s2, like->rank, like->dims));
    }
    int64_t m = noma__numel(like);
    double *restrict o = noma__ensure(out, m, site);
    noma__set_shape(out, like->rank, like->dims);
    if (m == 1) {
        o[0] = sum_of(a->data, noma__numel(a));
        return out;
    }
    for (int64_t i = 0; i < m; i++) o[i] = 0.0;
    /* target strides for each of a's (padded) axes: 0 where reduced */
    int64_t A[4], so[4];
    pad4(a->rank, a->dims, A);
    int64_t stride = 1;
    for (int i = 3; i >= 0; i--) {
        int64_t k = i - (4 - a->rank);  /* axis of a */
        int64_t t = (k >= lead) ? like->dims[k - lead] : 1;
        so[i] = (t == 1) ? 0 : stride;
        stride *= t;
    }
    const double *x = a->data;
    for (int64_t i0 = 0; i0 < A[0]; i0++)
        for (int64_t i1 = 0; i1 < A[1]; i1++)
            for (int64_t i2 = 0; i2 < A[2]; i2++) {
                double *restrict po = o + i0 * so[0] + i1 * so[1] + i2 * so[2];
                if (so[3]) {
                    for (int64_t j = 0; j < A[3]; j++) po[j] += x[j];
                } else {
                    po[0] += sum_of(x, A[3]);
                }
                x += A[3];
            }
    return out;
}

/* ======================================================================== */
/* linear algebra                                                           */
/* ======================================================================== */

double noma_rt_dot(const noma_tensor *a, const noma_tensor *b, const noma_site *site) {
    if (a->rank != 1 || b->rank != 1 || a->dims[0] != b->dims[0]) {
        char s1[NOMA__SHAPE_BUF], s2[NOMA__SHAPE_BUF];
        noma_rt_error(site,
                      "dot: shapes %s and %s do not match (expected two 1-D tensors of the "
                      "same length)",
                      noma__fmt_shape(s1, a->rank, a->dims), noma__fmt_shape(s2, b->rank, b->dims));
    }
    int64_t n = a->dims[0];
    const double *restrict x = a->data, *restrict y = b->data;
    double s[4] = {0.0, 0.0, 0.0, 0.0};
    int64_t i = 0;
    for (; i + 4 <= n; i += 4)
        for (int j = 0; j < 4; j++) s[j] += x[i + j] * y[i + j];
    double r = (s[0] + s[1]) + (s[2] + s[3]);
    for (; i < n; i++) r += x[i] * y[i];
    return r;
}

/* o (c x r) = x (r x c) transposed: 32 x 32 tiles (both sides stay in L1),
 * made of 4 x 4 blocks moved with vector shuffles */
enum { TB = 32 };

/* rows [lo, hi) of x (lo a multiple of TB) */
static void transpose_rows(double *restrict o, const double *restrict x, int64_t r, int64_t c,
                           int64_t lo, int64_t hi) {
    for (int64_t i0 = lo; i0 < hi; i0 += TB) {
        const int64_t i1 = i0 + TB < r ? i0 + TB : r;
        const int64_t i4 = i0 + (i1 - i0) / 4 * 4;
        for (int64_t j0 = 0; j0 < c; j0 += TB) {
            const int64_t j1 = j0 + TB < c ? j0 + TB : c;
            const int64_t j4 = j0 + (j1 - j0) / 4 * 4;
            for (int64_t i = i0; i < i4; i += 4) {
                for (int64_t j = j0; j < j4; j += 4) {
                    const v4d r0 = *(const v4d *)(x + i * c + j);
                    const v4d r1 = *(const v4d *)(x + (i + 1) * c + j);
                    const v4d r2 = *(const v4d *)(x + (i + 2) * c + j);
                    const v4d r3 = *(const v4d *)(x + (i + 3) * c + j);
                    const v4d t0 = __builtin_shuffle(r0, r1, (v4i){0, 4, 2, 6});
                    const v4d t1 = __builtin_shuffle(r0, r1, (v4i){1, 5, 3, 7});
                    const v4d t2 = __builtin_shuffle(r2, r3, (v4i){0, 4, 2, 6});
                    const v4d t3 = __builtin_shuffle(r2, r3, (v4i){1, 5, 3, 7});
                    *(v4d *)(o + j * r + i) = __builtin_shuffle(t0, t2, (v4i){0, 1, 4, 5});
                    *(v4d *)(o + (j + 1) * r + i) = __builtin_shuffle(t1, t3, (v4i){0, 1, 4, 5});
                    *(v4d *)(o + (j + 2) * r + i) = __builtin_shuffle(t0, t2, (v4i){2, 3, 6, 7});
                    *(v4d *)(o + (j + 3) * r + i) = __builtin_shuffle(t1, t3, (v4i){2, 3, 6, 7});
                }
                for (int64_t j = j4; j < j1; j++)
                    for (int64_t ii = i; ii < i + 4; ii++) o[j * r + ii] = x[ii * c + j];
            }
            for (int64_t i = i4; i < i1; i++)
                for (int64_t j = j0; j < j1; j++) o[j * r + i] = x[i * c + j];
        }
    }
}

typedef struct {
    double *o;
    const double *x;
    int64_t r, c, rows;
} transpose_job;

static void transpose_part(void *arg, int part, int thread) {
    (void)thread;
    const transpose_job *j = arg;
    int64_t lo = part * j->rows, hi = lo + j->rows < j->r ? lo + j->rows : j->r;
    transpose_rows(j->o, j->x, j->r, j->c, lo, hi);
}

/* transposes of this many elements or more run on several threads */
#define PARALLEL_TRANSPOSE_MIN 65536

void noma__transpose(double *restrict o, const double *restrict x, int64_t r, int64_t c) {
    int threads = r * c >= PARALLEL_TRANSPOSE_MIN && r >= 2 * TB ? noma__num_threads() : 1;
    if (threads > 1) {
        transpose_job j = {.o = o, .x = x, .r = r, .c = c};
        int64_t parts = 4 * threads;
        j.rows = ((r + parts - 1) / parts + TB - 1) / TB * TB;
        parts = (r + j.rows - 1) / j.rows;
        noma__parallel((int)parts, threads, transpose_part, &j);
        return;
    }
    transpose_rows(o, x, r, c, 0, r);
}

noma_tensor *noma_rt_transpose(noma_tensor *out, const noma_tensor *a, const noma_site *site) {
    if (a->rank != 2) {
        char s1[NOMA__SHAPE_BUF];
        noma_rt_error(site, "transpose needs a 2-D tensor, got shape %s",
                      noma__fmt_shape(s1, a->rank, a->dims));
    }
    int64_t r = a->dims[0], c = a->dims[1];
    int64_t dims[2] = {c, r};
    double *restrict o = noma__ensure(out, r * c, site);
    noma__set_shape(out, 2, dims);
    noma__transpose(o, a->data, r, c);
    return out;
}

static double *scratch;  /* kept between calls */
static int64_t scratch_cap;

static double *softmax_scratch(int64_t n) {
    if (scratch_cap < n) {
        free(scratch);
        scratch = NULL;
        scratch_cap = 0;
        scratch = noma__xmalloc((size_t)n * sizeof(double), NULL);
        scratch_cap = n;
    }
    return scratch;
}

noma_tensor *noma_rt_softmax(noma_tensor *out, const noma_tensor *a, int64_t log_) {
    int64_t n = noma__numel(a);
    int64_t last = a->rank == 0 ? 1 : a->dims[a->rank - 1];
    double *restrict o = noma__ensure(out, n, NULL);
    noma__set_shape(out, a->rank, a->dims);
    if (last == 0) return out;
    const double *restrict x = a->data;
    const int64_t rows = n / last;
    /* o = x - max of the row (NaN if the row has one), then exp of all at once */
    for (int64_t r = 0; r < rows; r++) {
        const double *restrict xr = x + r * last;
        double *restrict orow = o + r * last;
        double m = -INFINITY;
        for (int64_t j = 0; j < last; j++)
            if (xr[j] > m || isnan(xr[j])) {
                m = xr[j];
                if (isnan(m)) break;
            }
        for (int64_t j = 0; j < last; j++) orow[j] = xr[j] - m;
    }
    if (log_) {
        /* (x - m) - log(sum exp(x - m)); the exps go to scratch memory */
        double *restrict e = softmax_scratch(n);
        noma__vexp(e, o, n);
        for (int64_t r = 0; r < rows; r++) {
            double *restrict orow = o + r * last;
            const double ls = log(sum_of(e + r * last, last));
            for (int64_t j = 0; j < last; j++) orow[j] = orow[j] - ls;
        }
    } else {
        noma__vexp(o, o, n);
        for (int64_t r = 0; r < rows; r++) {
            double *restrict orow = o + r * last;
            const double s = sum_of(orow, last);
            for (int64_t j = 0; j < last; j++) orow[j] = orow[j] / s;
        }
    }
    return out;
}

/* ======================================================================== */
/* shapes and indexing                                                      */
/* ======================================================================== */

double noma_rt_dim(const noma_tensor *a, int64_t axis, const noma_site *site) {
    check_axis(axis, a->rank, site);
    return (double)a->dims[axis];
}

double noma_rt_numel(const noma_tensor *a) { return (double)noma__numel(a); }

noma_tensor *noma_rt_index(noma_tensor *out, const noma_tensor *a, int64_t n, const double *idx,
                           const noma_site *site) {
    int64_t off = noma__offset(a, n, idx, site);
    int64_t len = 1;
    for (int64_t k = n; k < a->rank; k++) len *= a->dims[k];
    double *o = noma__ensure(out, len, site);
    memcpy(o, a->data + off, (size_t)len * sizeof(double));
    noma__set_shape(out, a->rank - n, a->dims + n);
    return out;
}

double noma_rt_index_scalar(const noma_tensor *a, int64_t n, const double *idx,
                            const noma_site *site) {
    int64_t off = noma__offset(a, n, idx, site);
    if (NOMA_UNLIKELY(n != a->rank)) {
        char s1[NOMA__SHAPE_BUF];
        noma_rt_error(site, "expected a scalar, got a tensor of shape %s",
                      noma__fmt_shape(s1, a->rank - n, a->dims + n));
    }
    return a->data[off];
}

static int64_t slice_bound(double v, int64_t n, const noma_site *site) {
    if (isnan(v)) noma_rt_error(site, "batch size must be >= 1, got nan"); /* only a NaN size */
    if (v < 0.0) v = 0.0;
    if (v > (double)n) v = (double)n;
    return (int64_t)v;
}

noma_tensor *noma_rt_slice(noma_tensor *out, const noma_tensor *a, double start, double stop,
                           const noma_site *site) {
    if (a->rank == 0) noma_rt_error(site, "cannot slice a scalar");
    int64_t n = a->dims[0];
    int64_t lo = slice_bound(start, n, site), hi = slice_bound(stop, n, site);
    if (hi <= lo && lo < n) /* `batch` blocks [start, start + size): size < 1 would loop forever */
        noma_rt_error(site, "batch size must be >= 1, got %.10g", trunc(stop) - trunc(start));
    if (hi < lo) hi = lo;
    int64_t row = 1;
    for (int64_t k = 1; k < a->rank; k++) row *= a->dims[k];
    double *o = noma__ensure(out, (hi - lo) * row, site);
    memcpy(o, a->data + lo * row, (size_t)((hi - lo) * row) * sizeof(double));
    noma__set_shape(out, a->rank, a->dims);
    out->dims[0] = hi - lo;
    return out;
}

/* ======================================================================== */
/* resize (SPEC §7, runtime/resize.py)                                      */
/* ======================================================================== */

void noma__check_resize(const noma_tensor *a, int64_t rank, const double *dims, int64_t policy,
                        int64_t *new_dims, const noma_site *site) {
    if (a->rank == 0) noma_rt_error(site, "cannot realloc a scalar");
    if (policy != NOMA_ZEROS && policy != NOMA_NORMAL && policy != NOMA_UNIFORM)
        noma_rt_error(site, "unknown init policy %lld (zeros, normal or uniform)",
                      (long long)policy);
    if (rank != a->rank)
        noma_rt_error(site,
                      "realloc cannot change the rank: the tensor has rank %lld, the new shape "
                      "has %lld dimensions",
                      (long long)a->rank, (long long)rank);
    noma__check_dims(rank, dims, new_dims, site);
}

static inline double fresh_value(int64_t policy, double p0, double w) {
    if (policy == NOMA_NORMAL) return noma__normal(p0, w);
    if (policy == NOMA_UNIFORM) return p0 + w * noma__uniform();
    return 0.0;
}

void noma__resize_into(double *dst, const int64_t *new_dims, const noma_tensor *old,
                       int64_t policy, double p0, double p1) {
    int64_t rank = old->rank;
    int64_t N[4], O[4], so[4];
    pad4(rank, new_dims, N);
    pad4(rank, old->dims, O);
    int64_t stride = 1;
    for (int i = 3; i >= 0; i--) {
        so[i] = stride;
        stride *= O[i];
    }
    /* normal: (mean, std); uniform: a + (b - a) * u as rng.uniform_values */
    double w = policy == NOMA_UNIFORM ? p1 - p0 : p1;
    double *o = dst;
    for (int64_t i0 = 0; i0 < N[0]; i0++)
        for (int64_t i1 = 0; i1 < N[1]; i1++)
            for (int64_t i2 = 0; i2 < N[2]; i2++) {
                int inside = i0 < O[0] && i1 < O[1] && i2 < O[2];
                int64_t keep = inside ? (O[3] < N[3] ? O[3] : N[3]) : 0;
                if (keep) memcpy(o, old->data + i0 * so[0] + i1 * so[1] + i2 * so[2],
                                 (size_t)keep * sizeof(double));
                if (policy == NOMA_ZEROS) {
                    memset(o + keep, 0, (size_t)(N[3] - keep) * sizeof(double));
                } else {
                    for (int64_t j = keep; j < N[3]; j++) o[j] = fresh_value(policy, p0, w);
                }
                o += N[3];
            }
}

noma_tensor *noma_rt_resize(noma_tensor *out, const noma_tensor *a, int64_t rank,
                            const double *dims, int64_t policy, double p0, double p1,
                            const noma_site *site) {
    int64_t d[NOMA_MAX_RANK];
    noma__check_resize(a, rank, dims, policy, d, site);
    int64_t n = 1;
    for (int64_t i = 0; i < rank; i++) n *= d[i];
    double *o = noma__ensure(out, n, site);
    noma__resize_into(o, d, a, policy, p0, p1);
    noma__set_shape(out, rank, d);
    return out;
}

/* ======================================================================== */
/* RNG (SPEC §9, runtime/rng.py)                                            */
/* ======================================================================== */

uint64_t noma__rng_state;

#define NOMA_TWO_PI (2.0 * 3.141592653589793)

double noma__normal(double m, double s) {
    double u1 = noma__uniform();
    double u2 = noma__uniform();
    /* evaluated left to right as in Python: m + ((s * r) * c) */
    return m + s * sqrt(-2.0 * log(1.0 - u1)) * cos(NOMA_TWO_PI * u2);
}

/* |x| (an integer-valued double >= 0) modulo 2^64 */
static uint64_t mod_2_64(double x) {
    double r = fmod(x, 0x1p64);  /* exact */
    if (r >= 0x1p63) return (uint64_t)(r - 0x1p63) + (UINT64_C(1) << 63);
    return (uint64_t)r;
}

void noma_rt_seed(double n, const noma_site *site) {
    if (!isfinite(n)) {
        const char *what = isnan(n) ? "nan" : (n > 0 ? "inf" : "-inf");
        noma_rt_error(site, "seed must be a finite number, got %s", what);
    }
    double t = trunc(n);
    if (t >= 0) noma__rng_state = mod_2_64(t);
    else noma__rng_state = (uint64_t)0 - mod_2_64(-t);
}

double noma_rt_random(int64_t dist, double a, double b) {
    if (dist == NOMA_DIST_NORMAL) return noma__normal(a, b);
    return a + (b - a) * noma__uniform();
}

noma_tensor *noma_rt_random_tensor(noma_tensor *out, int64_t dist, double a, double b,
                                   int64_t rank, const double *dims, const noma_site *site) {
    int64_t d[NOMA_MAX_RANK];
    noma__check_dims(rank, dims, d, site);
    int64_t n = 1;
    for (int64_t i = 0; i < rank; i++) n *= d[i];
    double *restrict o = noma__ensure(out, n, site);
    noma__set_shape(out, rank, d);
    if (dist == NOMA_DIST_NORMAL) {
        for (int64_t i = 0; i < n; i++) o[i] = noma__normal(a, b);
    } else {
        double w = b - a;
        for (int64_t i = 0; i < n; i++) o[i] = a + w * noma__uniform();
    }
    return out;
}
