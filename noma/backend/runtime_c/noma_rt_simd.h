/* Four-double vectors (GCC vector extensions) and an explicit fused
 * multiply-add, for the matrix products and the elementary functions.
 *
 * The runtime is compiled with -ffp-contract=off, so `a * b + c` is never
 * fused behind our back (GCC's fusion also depends on tuning heuristics,
 * e.g. it avoids FMA chains on AMD Zen).  Where the target has fast FMA,
 * noma__fma / noma__vfma fuse explicitly and always; elsewhere they are a
 * product and a sum.  The two agree lane by lane, so scalar and vector code
 * paths give the same results. */
#ifndef NOMA_RT_SIMD_H
#define NOMA_RT_SIMD_H

#include <stdint.h>

/* without AVX, GCC warns that passing 32-byte vectors by value changes the
 * ABI: these functions are static and inlined, there is no ABI involved */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

#if defined(__AVX__)
#include <immintrin.h>
#endif

/* 4 doubles / 4 int64, unaligned loads and stores */
typedef double noma__v4d __attribute__((vector_size(32), aligned(8), may_alias));
typedef int64_t noma__v4i __attribute__((vector_size(32), aligned(8), may_alias));

#ifdef __FP_FAST_FMA
#define NOMA__HAVE_FMA 1
static inline double noma__fma(double a, double b, double c) { return __builtin_fma(a, b, c); }
#else
#define NOMA__HAVE_FMA 0
static inline double noma__fma(double a, double b, double c) { return a * b + c; }
#endif

static inline noma__v4d noma__vfma(noma__v4d a, noma__v4d b, noma__v4d c) {
#if defined(__FMA__) && defined(__AVX__)
    return (noma__v4d)_mm256_fmadd_pd((__m256d)a, (__m256d)b, (__m256d)c);
#elif NOMA__HAVE_FMA
    return (noma__v4d){__builtin_fma(a[0], b[0], c[0]), __builtin_fma(a[1], b[1], c[1]),
                       __builtin_fma(a[2], b[2], c[2]), __builtin_fma(a[3], b[3], c[3])};
#else
    return a * b + c;
#endif
}

#endif
