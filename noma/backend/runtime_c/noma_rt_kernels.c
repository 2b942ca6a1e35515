/* Tensor kernels: element-wise ops with NumPy broadcasting, reductions, linear
 * algebra, shapes and indexing, resize, and the RNG (SPEC §4, §5, §7, §9). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "noma_rt_internal.h"

/* ======================================================================== */
/* scalar semantics (identical to the numpy interpreter)                    */
/* ======================================================================== */

static inline double op_min(double x, double y) { return (x < y || x != x) ? x : y; }
static inline double op_max(double x, double y) { return (x > y || x != x) ? x : y; }
static inline double op_sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }
static inline double op_relu(double x) { return x > 0.0 ? x : 0.0; }
static inline double op_not(double x) { return x == 0.0 ? 1.0 : 0.0; }

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
    case NOMA_POW: /* numpy's fast paths for a scalar exponent */
        if (y == 2.0) return x * x;
        if (y == 0.5) return sqrt(x);
        if (y == -1.0) return 1.0 / x;
        if (y == 1.0) return x;
        if (y == 0.0) return 1.0;
        return pow(x, y);
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

static void bin_row(int64_t op, double *restrict o, const double *restrict a, int64_t sa,
                    const double *restrict b, int64_t sb, int64_t n, const noma_site *site) {
    switch (op) {
    case NOMA_ADD: BIN_LOOPS(x + y); break;
    case NOMA_SUB: BIN_LOOPS(x - y); break;
    case NOMA_MUL: BIN_LOOPS(x * y); break;
    case NOMA_DIV: BIN_LOOPS(x / y); break;
    case NOMA_REM: BIN_LOOPS(fmod(x, y)); break;
    case NOMA_POW:
        /* numpy's fast paths for one broadcast exponent (same results as numpy,
         * e.g. (-inf) ** 0.5 is nan, not pow's inf) */
        if (!sb && b[0] == 2.0) BIN_LOOPS(((void)y, x * x));
        else if (!sb && b[0] == 0.5) BIN_LOOPS(((void)y, sqrt(x)));
        else if (!sb && b[0] == -1.0) BIN_LOOPS(((void)y, 1.0 / x));
        else if (!sb && b[0] == 1.0) BIN_LOOPS(((void)y, x));
        else if (!sb && b[0] == 0.0) BIN_LOOPS(((void)y, (void)x, 1.0));
        else BIN_LOOPS(pow(x, y));
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
    case NOMA_SIGMOID: UN_LOOP(op_sigmoid(x)); break;
    case NOMA_RELU: UN_LOOP(op_relu(x)); break;
    case NOMA_TANH: UN_LOOP(tanh(x)); break;
    case NOMA_EXP: UN_LOOP(exp(x)); break;
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

noma_tensor *noma_rt_binary(int64_t op, noma_tensor *out, const noma_tensor *a,
                            const noma_tensor *b, const noma_site *site) {
    /* fast paths: same shape, or one operand a single value covering no new axes */
    if (same_shape(a, b)) {
        int64_t n = noma__numel(a);
        double *o = noma__ensure(out, n, site);
        noma__set_shape(out, a->rank, a->dims);
        bin_row(op, o, a->data, 1, b->data, 1, n, site);
        return out;
    }
    if (b->rank <= a->rank && noma__numel(b) == 1) {
        int64_t n = noma__numel(a);
        double *o = noma__ensure(out, n, site);
        noma__set_shape(out, a->rank, a->dims);
        bin_row(op, o, a->data, 1, b->data, 0, n, site);
        return out;
    }
    if (a->rank <= b->rank && noma__numel(a) == 1) {
        int64_t n = noma__numel(b);
        double *o = noma__ensure(out, n, site);
        noma__set_shape(out, b->rank, b->dims);
        bin_row(op, o, a->data, 0, b->data, 1, n, site);
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
    for (int64_t i0 = 0; i0 < D[0]; i0++)
        for (int64_t i1 = 0; i1 < D[1]; i1++)
            for (int64_t i2 = 0; i2 < D[2]; i2++) {
                const double *pa = a->data + i0 * sa[0] + i1 * sa[1] + i2 * sa[2];
                const double *pb = b->data + i0 * sb[0] + i1 * sb[1] + i2 * sb[2];
                bin_row(op, o, pa, sa[3], pb, sb[3], D[3], site);
                o += D[3];
            }
    return out;
}

noma_tensor *noma_rt_unary(int64_t op, noma_tensor *out, const noma_tensor *a) {
    int64_t n = noma__numel(a);
    double *o = noma__ensure(out, n, NULL);
    noma__set_shape(out, a->rank, a->dims);
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

/* 4 (unaligned) doubles; GCC lowers it to whatever vectors the target has */
typedef double v4d __attribute__((vector_size(32), aligned(8), may_alias));

/* o[r][j0..j0+8) for rows r < R of a row block: acc = o (or 0 at k0 == 0), then
 * acc += A[r][kk] * B[kk][j] for kk in [k0, k1), in increasing kk: every element
 * sums its products in the same order as a plain i-k-j loop */
#define MM_BLOCK(R)                                                                       \
    static inline void mm_block_##R(double *restrict o, const double *restrict A,         \
                                    const double *restrict P, int64_t n, int64_t k,       \
                                    int64_t k0, int64_t k1) {                             \
        v4d acc[R][2];                                                                    \
        for (int r = 0; r < R; r++)                                                       \
            for (int h = 0; h < 2; h++)                                                   \
                acc[r][h] = k0 ? *(const v4d *)(o + r * n + 4 * h) : (v4d){0, 0, 0, 0};   \
        for (int64_t kk = k0; kk < k1; kk++) {                                            \
            const v4d b0 = *(const v4d *)(P + kk * 8), b1 = *(const v4d *)(P + kk * 8 + 4); \
            for (int r = 0; r < R; r++) {                                                 \
                const double x = A[r * k + kk];                                           \
                const v4d av = {x, x, x, x};                                              \
                acc[r][0] += av * b0;                                                     \
                acc[r][1] += av * b1;                                                     \
            }                                                                             \
        }                                                                                 \
        for (int r = 0; r < R; r++)                                                       \
            for (int h = 0; h < 2; h++) *(v4d *)(o + r * n + 4 * h) = acc[r][h];          \
    }
MM_BLOCK(4)
MM_BLOCK(1)

static double *mm_pack;  /* the packed strip of B, kept between calls */
static int64_t mm_pack_cap;

noma_tensor *noma_rt_matmul(noma_tensor *out, const noma_tensor *a, const noma_tensor *b,
                            const noma_site *site) {
    if (a->rank != 2 || b->rank != 2 || a->dims[1] != b->dims[0]) {
        char s1[NOMA__SHAPE_BUF], s2[NOMA__SHAPE_BUF];
        noma_rt_error(site,
                      "matmul: shapes %s and %s do not match (expected [m, k] and [k, n])",
                      noma__fmt_shape(s1, a->rank, a->dims), noma__fmt_shape(s2, b->rank, b->dims));
    }
    int64_t m = a->dims[0], k = a->dims[1], n = b->dims[1];
    int64_t dims[2] = {m, n};
    double *restrict o = noma__ensure(out, m * n, site);
    noma__set_shape(out, 2, dims);
    const double *restrict A = a->data;
    const double *restrict B = b->data;
    if (k == 0 || m == 0 || n == 0) {
        memset(o, 0, (size_t)(m * n) * sizeof(double));
        return out;
    }
    /* strips of 8 columns of B, packed contiguously (no cache-set conflicts
     * between its rows; the last strip zero-padded); 4x8 register blocks over
     * k-blocks whose part of the strip (KB x 8 doubles) stays in L1 while every
     * row block passes. A partial strip goes through a small 8-wide tile. */
    enum { KB = 256 };
    if (mm_pack_cap < 8 * k) {
        free(mm_pack);
        mm_pack = NULL;
        mm_pack_cap = 0;
        mm_pack = noma__xmalloc((size_t)(8 * k) * sizeof(double), site);
        mm_pack_cap = 8 * k;
    }
    double *restrict P = mm_pack;
    for (int64_t j0 = 0; j0 < n; j0 += 8) {
        int64_t w = n - j0 < 8 ? n - j0 : 8;
        for (int64_t kk = 0; kk < k; kk++)
            for (int64_t j = 0; j < 8; j++) P[kk * 8 + j] = j < w ? B[kk * n + j0 + j] : 0.0;
        for (int64_t k0 = 0; k0 < k; k0 += KB) {
            int64_t k1 = k0 + KB < k ? k0 + KB : k;
            int64_t i = 0;
            if (w == 8) {
                for (; i + 4 <= m; i += 4) mm_block_4(o + i * n + j0, A + i * k, P, n, k, k0, k1);
                for (; i < m; i++) mm_block_1(o + i * n + j0, A + i * k, P, n, k, k0, k1);
                continue;
            }
            double tile[4 * 8];
            for (; i < m; i += 4) {
                int64_t rows = m - i < 4 ? m - i : 4;
                for (int64_t r = 0; r < rows; r++)
                    for (int64_t j = 0; j < 8; j++)
                        tile[r * 8 + j] = j < w ? o[(i + r) * n + j0 + j] : 0.0;
                if (rows == 4) mm_block_4(tile, A + i * k, P, 8, k, k0, k1);
                else
                    for (int64_t r = 0; r < rows; r++)
                        mm_block_1(tile + r * 8, A + (i + r) * k, P, 8, k, k0, k1);
                for (int64_t r = 0; r < rows; r++)
                    for (int64_t j = 0; j < w; j++) o[(i + r) * n + j0 + j] = tile[r * 8 + j];
            }
        }
    }
    return out;
}

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
    const double *restrict x = a->data;
    enum { TB = 32 };
    for (int64_t i0 = 0; i0 < r; i0 += TB)
        for (int64_t j0 = 0; j0 < c; j0 += TB) {
            int64_t i1 = i0 + TB < r ? i0 + TB : r, j1 = j0 + TB < c ? j0 + TB : c;
            for (int64_t i = i0; i < i1; i++)
                for (int64_t j = j0; j < j1; j++) o[j * r + i] = x[i * c + j];
        }
    return out;
}

noma_tensor *noma_rt_softmax(noma_tensor *out, const noma_tensor *a, int64_t log_) {
    int64_t n = noma__numel(a);
    int64_t last = a->rank == 0 ? 1 : a->dims[a->rank - 1];
    double *restrict o = noma__ensure(out, n, NULL);
    noma__set_shape(out, a->rank, a->dims);
    if (last == 0) return out;
    const double *restrict x = a->data;
    for (int64_t r = 0; r < n / last; r++) {
        const double *restrict xr = x + r * last;
        double *restrict orow = o + r * last;
        double m = -INFINITY;
        for (int64_t j = 0; j < last; j++)
            if (xr[j] > m || isnan(xr[j])) {
                m = xr[j];
                if (isnan(m)) break;
            }
        for (int64_t j = 0; j < last; j++) orow[j] = exp(xr[j] - m);
        double s = sum_of(orow, last);
        if (log_) {
            double ls = log(s);
            for (int64_t j = 0; j < last; j++) orow[j] = (xr[j] - m) - ls;
        } else {
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
    if (isnan(v)) noma_rt_error(site, "slice bound is nan");
    if (v < 0.0) v = 0.0;
    if (v > (double)n) v = (double)n;
    return (int64_t)v;
}

noma_tensor *noma_rt_slice(noma_tensor *out, const noma_tensor *a, double start, double stop,
                           const noma_site *site) {
    if (a->rank == 0) noma_rt_error(site, "cannot slice a scalar");
    int64_t n = a->dims[0];
    int64_t lo = slice_bound(start, n, site), hi = slice_bound(stop, n, site);
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

void noma_rt_seed(double n) {
    if (!isfinite(n)) {
        const char *what = isnan(n) ? "nan" : (n > 0 ? "inf" : "-inf");
        noma_rt_error(NULL, "seed must be a finite number, got %s", what);
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
