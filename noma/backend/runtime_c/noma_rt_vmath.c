/* Vectorised exp, tanh and sigmoid over arrays (element-wise kernels and
 * softmax).
 *
 * Four lanes at a time with GCC vector extensions (AVX2/AVX-512 on x86-64,
 * NEON pairs on AArch64); the polynomials use fused multiply-adds where the
 * target has them (noma_rt_simd.h).  Accuracy (measured against mpmath):
 * exp within 1 ulp, tanh within 2.5 ulp, sigmoid within about 2 ulp of the
 * exact result where 1 / (1 + exp(-x)) is itself accurate (numpy's SIMD
 * versions differ from glibc's by up to 1-2 ulp too, so neither matched the
 * reference bit for bit before).  Special values (NaN, infinities, overflow,
 * underflow, signed zeros) as libm: a lane outside the polynomial's range
 * is computed with libm instead, so a lane's result never depends on its
 * neighbours (nor on how an array is split between threads).  The RNG does
 * not use these (it calls libm directly).
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "noma_rt_internal.h"
#include "noma_rt_simd.h"

typedef noma__v4d v4d;
typedef noma__v4i v4i;
#define FMA noma__vfma

#define SPLAT(x) ((v4d){(x), (x), (x), (x)})
#define SPLATI(x) ((v4i){(x), (x), (x), (x)})

static inline v4d vabs(v4d x) { return (v4d)((v4i)x & SPLATI(INT64_MAX)); }
/* m ? a : b for a lane mask m (all ones or zero) */
static inline v4d vsel(v4i m, v4d a, v4d b) { return (v4d)(((v4i)a & m) | ((v4i)b & ~m)); }
static inline int all_set(v4i m) {
#if defined(__AVX__)
    return _mm256_movemask_pd((__m256d)m) == 15;
#else
    return (m[0] & m[1] & m[2] & m[3]) != 0;
#endif
}

/* exp(x) for |x| <= 708 (no overflow, no subnormal result):
 * x = n ln2 + r, |r| <= ln2/2, exp(r) by its Taylor series to r^13
 * (truncation error below 5e-18), scaled by 2^n */
/* exp(x) = 2^n (1 + q): the reduction and the polynomial */
static inline v4d expm1_parts(v4d x, v4d *scale) {
    const v4d shift = SPLAT(0x1.8p52);
    const v4d t = FMA(x, SPLAT(0x1.71547652b82fep0), shift);  /* n + 1.5 * 2^52 */
    const v4d n = t - shift;
    /* Cody-Waite: ln2_hi has 21 trailing zero bits, so n * ln2_hi is exact */
    v4d r = x - n * SPLAT(0x1.62e42fee00000p-1);
    r = FMA(-n, SPLAT(0x1.a39ef35793c76p-33), r);
    /* p = sum of r^i / (i + 2)! for i = 0..11, by Estrin's scheme (a short
     * dependency chain: small arrays are latency bound) */
    const v4d r2 = r * r, r4 = r2 * r2, r8 = r4 * r4;
    const v4d e0 = FMA(r, SPLAT(1.0 / 6.0), SPLAT(0.5));
    const v4d e1 = FMA(r, SPLAT(1.0 / 120.0), SPLAT(1.0 / 24.0));
    const v4d e2 = FMA(r, SPLAT(1.0 / 5040.0), SPLAT(1.0 / 720.0));
    const v4d e3 = FMA(r, SPLAT(1.0 / 362880.0), SPLAT(1.0 / 40320.0));
    const v4d e4 = FMA(r, SPLAT(1.0 / 39916800.0), SPLAT(1.0 / 3628800.0));
    const v4d e5 = FMA(r, SPLAT(1.0 / 6227020800.0), SPLAT(1.0 / 479001600.0));
    const v4d f0 = FMA(r2, e1, e0), f1 = FMA(r2, e3, e2), f2 = FMA(r2, e5, e4);
    const v4d p = FMA(r8, f2, FMA(r4, f1, f0));
    /* 2^n from the integer in t's low bits */
    const v4i k = (v4i)t - (v4i)shift;
    *scale = (v4d)((k + SPLATI(1023)) << 52);
    return FMA(r2, p, r);  /* exp(r) - 1 */
}

/* exp(x) for |x| <= 708 (no overflow, no subnormal result):
 * x = n ln2 + r, |r| <= ln2/2, exp(r) by its Taylor series to r^13
 * (truncation error below 5e-18), scaled by 2^n */
static inline v4d exp_core(v4d x) {
    v4d scale;
    const v4d q = expm1_parts(x, &scale);
    return (SPLAT(1.0) + q) * scale;
}

static inline v4d load_tail(const double *a, int64_t n) {
    v4d x = SPLAT(0.0);
    for (int64_t i = 0; i < n; i++) x[i] = a[i];
    return x;
}

static inline void store_tail(double *o, v4d x, int64_t n) {
    for (int64_t i = 0; i < n; i++) o[i] = x[i];
}

/* the loop over an array: VEC(x) computes 4 lanes; lanes where OK(x) fails
 * (rare: NaN, huge arguments) are computed by SCALAR (libm) instead, so a
 * lane's result never depends on its neighbours; o may be a */
#define VMAP(o, a, n, OK, VEC, SCALAR)                                          \
    do {                                                                        \
        int64_t i_ = 0;                                                         \
        for (; i_ < (n); i_ += 4) {                                             \
            const int64_t rest_ = (n) - i_ < 4 ? (n) - i_ : 4;                  \
            const v4d x_ = rest_ == 4 ? *(const v4d *)((a) + i_) : load_tail((a) + i_, rest_); \
            const v4i ok_ = OK(x_);                                             \
            if (NOMA_LIKELY(all_set(ok_))) {                                    \
                const v4d r_ = VEC(x_);                                         \
                if (rest_ == 4) *(v4d *)((o) + i_) = r_;                        \
                else store_tail((o) + i_, r_, rest_);                           \
            } else {                                                            \
                const v4d r_ = VEC(vsel(ok_, x_, SPLAT(0.0)));                  \
                for (int64_t j_ = 0; j_ < rest_; j_++)                          \
                    (o)[i_ + j_] = ok_[j_] ? r_[j_] : SCALAR(x_[j_]);           \
            }                                                                   \
        }                                                                       \
    } while (0)

/* ---- exp ---- */

static inline v4i exp_ok(v4d x) { return vabs(x) <= SPLAT(708.0); }  /* false for NaN */

void noma__vexp(double *o, const double *a, int64_t n) {
    VMAP(o, a, n, exp_ok, exp_core, exp);
}

/* ---- sigmoid: 1 / (1 + exp(-x)), as the scalar kernel ---- */

static inline v4d sigmoid_vec(v4d x) { return SPLAT(1.0) / (SPLAT(1.0) + exp_core(-x)); }
static inline double sigmoid_scalar(double x) { return 1.0 / (1.0 + exp(-x)); }

void noma__vsigmoid(double *o, const double *a, int64_t n) {
    VMAP(o, a, n, exp_ok, sigmoid_vec, sigmoid_scalar);
}

/* ---- tanh ----
 * sign(x) e / (e + 2) with e = expm1(2|x|) = 2^n q + (2^n - 1) (one rounding,
 * accurate for small |x| too), |x| capped at 22 (tanh is 1 in double
 * precision beyond about 19.1). */

static inline v4i tanh_ok(v4d x) { return x == x; }  /* NaN goes to libm */

static inline v4d tanh_vec(v4d x) {
    const v4d ax = vabs(x);
    const v4d y = vsel(ax < SPLAT(22.0), ax + ax, SPLAT(44.0));
    v4d scale;
    const v4d q = expm1_parts(y, &scale);
    const v4d em1 = FMA(scale, q, scale - SPLAT(1.0));  /* expm1(2|x|) */
    const v4d r = em1 / (em1 + SPLAT(2.0));
    return (v4d)((v4i)r | ((v4i)x & SPLATI(INT64_MIN)));
}

void noma__vtanh(double *o, const double *a, int64_t n) {
    VMAP(o, a, n, tanh_ok, tanh_vec, tanh);
}
