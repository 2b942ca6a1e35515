/* Program lifetime, error reporting, values, buffers and training checks. */
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "noma_rt_internal.h"

/* ======================================================================== */
/* program lifetime and errors                                              */
/* ======================================================================== */

static jmp_buf *noma__jmp;      /* the innermost running noma_rt_run / test call */
static char *noma__last_error;  /* the last report, heap */

static void run_end(void) {
    fflush(stdout);
    noma__loss_log_flush();
}

/* Programs' output reaches a pipe line by line, as `nomac run --backend interp`
 * does: users watch long runs through `| tee`, tests read the first line. */
static void line_buffered_stdout(void) {
    static int done = 0;
    if (!done) {
        setvbuf(stdout, NULL, _IOLBF, BUFSIZ);
        done = 1;
    }
}

/* Ctrl-C while a program runs, where SIGINT would end the process anyway
 * (its action is the default: an executable, `nomac run` with the JIT):
 * one line "interrupted" on stderr and exit status 130, as `nomac run
 * --backend interp` does.  Only async-signal-safe calls: stdout is
 * line-buffered, so the lines printed before are already out.  A host that
 * handles SIGINT itself (Python embedding the JIT) or ignores it keeps its
 * handler. */
static void on_interrupt(int sig) {
    (void)sig;
    static const char msg[] = "\ninterrupted\n";
    const int skip = noma__progress_visible ? 0 : 1;  /* end a progress line first */
    ssize_t written = write(STDERR_FILENO, msg + skip, sizeof msg - 1 - skip);
    (void)written;
    _exit(NOMA_INTERRUPTED_STATUS);
}

/* install on_interrupt if SIGINT has its default action; 1 if installed */
static int catch_interrupt(struct sigaction *old) {
    if (sigaction(SIGINT, NULL, old) != 0) return 0;
    if ((old->sa_flags & SA_SIGINFO) || old->sa_handler != SIG_DFL) return 0;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_interrupt;
    sigemptyset(&sa.sa_mask);
    return sigaction(SIGINT, &sa, NULL) == 0;
}

int noma_rt_run(void (*entry)(void), uint64_t seed) {
    jmp_buf env;
    jmp_buf *volatile prev = noma__jmp;
    struct sigaction old_int;
    volatile int caught = 0;
    line_buffered_stdout();
    noma__rng_state = seed;
    if (setjmp(env) != 0) {
        noma__jmp = prev;
        run_end();
        if (caught) sigaction(SIGINT, &old_int, NULL);
        return 1;
    }
    noma__jmp = &env;
    noma__loss_log_reset();
    caught = catch_interrupt(&old_int);
    entry();
    noma__jmp = prev;
    run_end();
    if (caught) sigaction(SIGINT, &old_int, NULL);
    return 0;
}

int noma_rt_test_call(const void *fn, int64_t returns_double, const int64_t *iargs,
                      const double *dargs, void *result) {
    typedef int64_t (*ifn)(int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, double, double,
                           double, double, double, double, double, double);
    typedef double (*dfn)(int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, double, double,
                          double, double, double, double, double, double);
    int64_t i[6] = {0};
    double d[8] = {0};
    if (iargs) memcpy(i, iargs, sizeof i);
    if (dargs) memcpy(d, dargs, sizeof d);
    jmp_buf env;
    jmp_buf *volatile prev = noma__jmp;
    if (setjmp(env) != 0) {
        noma__jmp = prev;
        run_end();
        return 1;
    }
    noma__jmp = &env;
    if (returns_double) {
        double r = ((dfn)(uintptr_t)fn)(i[0], i[1], i[2], i[3], i[4], i[5], d[0], d[1], d[2], d[3],
                                        d[4], d[5], d[6], d[7]);
        if (result) memcpy(result, &r, sizeof r);
    } else {
        int64_t r = ((ifn)(uintptr_t)fn)(i[0], i[1], i[2], i[3], i[4], i[5], d[0], d[1], d[2], d[3],
                                         d[4], d[5], d[6], d[7]);
        if (result) memcpy(result, &r, sizeof r);
    }
    noma__jmp = prev;
    run_end();
    return 0;
}

const char *noma_rt_last_error(void) {
    return noma__last_error ? noma__last_error : "";
}

/* line `line` (1-based) of `file`, read from disk, or NULL */
static char *read_source_line(const char *file, int64_t line) {
    if (!file || line < 1) return NULL;
    FILE *f = fopen(file, "rb");
    if (!f) return NULL;
    noma__sb sb = {0};
    int64_t cur = 1;
    int c;
    while ((c = getc(f)) != EOF) {
        if (c == '\n') {
            if (cur == line) break;
            cur++;
            continue;
        }
        if (cur == line) {
            char ch = (char)c;
            noma__sb_add(&sb, &ch, 1);
        }
    }
    fclose(f);
    if (cur != line) {
        noma__sb_free(&sb);
        return NULL;
    }
    noma__sb_cstr(&sb);
    if (sb.len && sb.p[sb.len - 1] == '\r') sb.p[--sb.len] = 0;
    return sb.p;
}

static void report(const noma_site *site, const char *msg) {
    noma__sb sb = {0};
    noma__sb_str(&sb, "error: ");
    noma__sb_str(&sb, msg);
    if (site && site->file) {
        noma__sb_printf(&sb, " at %s:%lld:%lld", site->file, (long long)site->line,
                        (long long)site->col);
        char *owned = NULL;
        const char *text = site->text;
        if (!text) text = owned = read_source_line(site->file, site->line);
        if (text) {
            noma__sb_str(&sb, "\n  ");
            size_t start = sb.len;
            noma__sb_str(&sb, text);
            for (size_t k = start; k < sb.len; k++) {
                if (sb.p[k] == '\t') sb.p[k] = ' ';
                if (sb.p[k] == '\n' || sb.p[k] == '\r') {  /* one line only */
                    sb.len = k;
                    break;
                }
            }
            noma__sb_str(&sb, "\n  ");
            for (int64_t k = 1; k < site->col; k++) noma__sb_add(&sb, " ", 1);
            noma__sb_str(&sb, "^");
        }
        free(owned);
    }
    const char *text = noma__sb_cstr(&sb);
    fflush(stdout);
    fputs(text, stderr);
    fputc('\n', stderr);
    fflush(stderr);
    free(noma__last_error);
    noma__last_error = sb.p;  /* keep it */
}

void noma_rt_error(const noma_site *site, const char *fmt, ...) {
    char small[512];
    char *msg = small;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n >= (int)sizeof small) {
        char *big = malloc((size_t)n + 1);
        if (big) {
            va_start(ap, fmt);
            vsnprintf(big, (size_t)n + 1, fmt, ap);
            va_end(ap);
            msg = big;
        }
    }
    noma__progress_end();  /* the progress line ends before the report */
    report(site, msg);
    if (msg != small) free(msg);
    if (noma__jmp) longjmp(*noma__jmp, 1);
    /* no run to unwind to: nothing sensible is left to do */
    abort();
}

void noma__oom(const noma_site *site) {
    noma_rt_error(site, "out of memory");
}

void *noma__xmalloc(size_t n, const noma_site *site) {
    void *p = malloc(n ? n : 1);
    if (!p) noma__oom(site);
    return p;
}

void *noma__xrealloc(void *p, size_t n, const noma_site *site) {
    void *q = realloc(p, n ? n : 1);
    if (!q) noma__oom(site);
    return q;
}

/* ======================================================================== */
/* small helpers                                                            */
/* ======================================================================== */

double *noma__grow(noma_tensor *out, int64_t n, const noma_site *site) {
    int64_t want = n < 1 ? 1 : n;
    if ((uint64_t)want > SIZE_MAX / sizeof(double))
        noma_rt_error(site, "out of memory: cannot allocate %lld elements", (long long)want);
    /* the old contents are never needed: every kernel overwrites `out` */
    if (out->cap > 0) free(out->data);
    out->data = NULL;
    out->cap = 0;
    double *p = malloc((size_t)want * sizeof(double));
    if (!p) noma_rt_error(site, "out of memory: cannot allocate %lld elements", (long long)want);
    out->data = p;
    out->cap = want;
    return p;
}

noma_tensor *noma__copy(noma_tensor *out, const noma_tensor *a, const noma_site *site) {
    if (out == a) return out;
    int64_t n = noma__numel(a);
    double *o = noma__ensure(out, n, site);
    memcpy(o, a->data, (size_t)n * sizeof(double));
    noma__set_shape(out, a->rank, a->dims);
    return out;
}

const char *noma__fmt_shape(char *buf, int64_t rank, const int64_t *dims) {
    size_t k = 0;
    buf[k++] = '[';
    for (int64_t i = 0; i < rank && i < NOMA_MAX_RANK; i++)
        k += (size_t)snprintf(buf + k, NOMA__SHAPE_BUF - k, "%s%lld", i ? ", " : "",
                              (long long)dims[i]);
    buf[k++] = ']';
    buf[k] = 0;
    return buf;
}

int noma__fmt_num(char *buf, size_t size, int prec, double x) {
    if (isnan(x)) return snprintf(buf, size, "nan");
    return snprintf(buf, size, "%.*g", prec, x);
}

static void fmt_u128(char *buf, unsigned __int128 v) {
    char tmp[48];
    int k = 0;
    do {
        tmp[k++] = (char)('0' + (int)(v % 10));
        v /= 10;
    } while (v);
    for (int i = 0; i < k; i++) buf[i] = tmp[k - 1 - i];
    buf[k] = 0;
}

void noma__check_dims(int64_t rank, const double *in, int64_t *dims, const noma_site *site) {
    if (rank < 1 || rank > NOMA_MAX_RANK)
        noma_rt_error(site, "a tensor needs 1 to %d dimensions, got %lld", NOMA_MAX_RANK,
                      (long long)rank);
    char num[64];
    for (int64_t i = 0; i < rank; i++) {
        double x = in[i];
        if (isnan(x)) noma_rt_error(site, "dimension must be >= 1, got nan");
        if (x < 1) {
            noma__fmt_num(num, sizeof num, 10, x);
            noma_rt_error(site, "dimension must be >= 1, got %s", num);
        }
        if (x >= (double)NOMA_MAX_ELEMENTS + 1) {
            noma__fmt_num(num, sizeof num, 10, x);
            noma_rt_error(site, "tensor too large: dimension %s (limit %lld elements)", num,
                          (long long)NOMA_MAX_ELEMENTS);
        }
        dims[i] = (int64_t)x;
    }
    noma__check_elements(rank, dims, site);
}

void noma__too_many_elements(int64_t rank, const int64_t *dims, const noma_site *site) {
    unsigned __int128 total = 1;
    for (int64_t i = 0; i < rank && i < NOMA_MAX_RANK; i++)
        total *= (unsigned __int128)(dims[i] > 0 ? dims[i] : 0);
    if (NOMA_UNLIKELY(total > (unsigned __int128)NOMA_MAX_ELEMENTS)) {
        char shape[NOMA__SHAPE_BUF], num[64];
        fmt_u128(num, total);
        noma_rt_error(site, "tensor too large: shape %s has %s elements (limit %lld)",
                      noma__fmt_shape(shape, rank, dims), num, (long long)NOMA_MAX_ELEMENTS);
    }
}

int64_t noma__check_index(double x, int64_t size, const noma_site *site) {
    if (isnan(x))
        noma_rt_error(site, "index nan out of range for dimension of size %lld", (long long)size);
    if (!(x > -0x1p62 && x < 0x1p62)) {
        char num[64];
        noma__fmt_num(num, sizeof num, 10, x);
        noma_rt_error(site, "index %s out of range for dimension of size %lld", num,
                      (long long)size);
    }
    int64_t i = (int64_t)x;
    if (i < 0 || i >= size)
        noma_rt_error(site, "index %lld out of range for dimension of size %lld", (long long)i,
                      (long long)size);
    return i;
}

int64_t noma__offset(const noma_tensor *a, int64_t n, const double *idx, const noma_site *site) {
    if (n > a->rank || n < 0) {
        char shape[NOMA__SHAPE_BUF];
        noma_rt_error(site, "%lld indices for a tensor of rank %lld (shape %s)", (long long)n,
                      (long long)a->rank, noma__fmt_shape(shape, a->rank, a->dims));
    }
    int64_t off = 0;
    for (int64_t k = 0; k < n; k++) off = off * a->dims[k] + noma__check_index(idx[k], a->dims[k], site);
    for (int64_t k = n; k < a->rank; k++) off *= a->dims[k];
    return off;
}

/* ---- string builder ---- */

static void sb_reserve(noma__sb *sb, size_t extra) {
    if (sb->len + extra + 1 <= sb->cap) return;
    size_t cap = sb->cap ? sb->cap : 64;
    while (cap < sb->len + extra + 1) cap *= 2;
    char *p = realloc(sb->p, cap);
    if (!p) {
        /* a report must still come out: keep what fits */
        fputs("error: out of memory\n", stderr);
        abort();
    }
    sb->p = p;
    sb->cap = cap;
}

void noma__sb_add(noma__sb *sb, const char *s, size_t n) {
    sb_reserve(sb, n);
    memcpy(sb->p + sb->len, s, n);
    sb->len += n;
    sb->p[sb->len] = 0;
}

void noma__sb_str(noma__sb *sb, const char *s) {
    noma__sb_add(sb, s, strlen(s));
}

void noma__sb_printf(noma__sb *sb, const char *fmt, ...) {
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < sizeof small) {
        noma__sb_add(sb, small, (size_t)n);
        return;
    }
    sb_reserve(sb, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(sb->p + sb->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    sb->len += (size_t)n;
}

void noma__sb_free(noma__sb *sb) {
    if (!sb) return;
    free(sb->p);
    sb->p = NULL;
    sb->len = sb->cap = 0;
}

const char *noma__sb_cstr(noma__sb *sb) {
    sb_reserve(sb, 0);
    sb->p[sb->len] = 0;
    return sb->p;
}

/* ======================================================================== */
/* values                                                                   */
/* ======================================================================== */

noma_tensor *noma_rt_box(noma_tensor *slot, double value) {
    if (slot->cap > 0) {
        slot->data[0] = value;  /* keep the owned storage */
    } else {
        slot->scalar = value;
        slot->data = &slot->scalar;
    }
    slot->rank = 0;
    return slot;
}

noma_tensor *noma_rt_from_elements(noma_tensor *out, int64_t rank, const int64_t *dims,
                                   const double *values) {
    int64_t n = 1;
    for (int64_t i = 0; i < rank; i++) n *= dims[i];
    double *o = noma__ensure(out, n, NULL);
    memcpy(o, values, (size_t)n * sizeof(double));
    noma__set_shape(out, rank, dims);
    return out;
}

noma_tensor *noma_rt_zeros(noma_tensor *out, int64_t rank, const double *dims,
                           const noma_site *site) {
    int64_t d[NOMA_MAX_RANK];
    noma__check_dims(rank, dims, d, site);
    int64_t n = 1;
    for (int64_t i = 0; i < rank; i++) n *= d[i];
    double *o = noma__ensure(out, n, site);
    memset(o, 0, (size_t)n * sizeof(double));
    noma__set_shape(out, rank, d);
    return out;
}

noma_tensor *noma_rt_zeros_like(noma_tensor *out, const noma_tensor *a) {
    int64_t n = noma__numel(a);
    double *o = noma__ensure(out, n, NULL);
    memset(o, 0, (size_t)n * sizeof(double));
    noma__set_shape(out, a->rank, a->dims);
    return out;
}

noma_tensor *noma_rt_cast(noma_tensor *a, int64_t rank, const noma_site *site) {
    if (rank < 0 || a->rank == rank) return a;
    char shape[NOMA__SHAPE_BUF];
    noma__fmt_shape(shape, a->rank, a->dims);
    if (rank == 0) noma_rt_error(site, "expected a scalar, got a tensor of shape %s", shape);
    char want[NOMA__SHAPE_BUF] = "[";
    for (int64_t i = 0; i < rank && i < NOMA_MAX_RANK; i++) strcat(want, i ? ", ?" : "?");
    strcat(want, "]");
    noma_rt_error(site, "expected a tensor of shape %s, got shape %s", want, shape);
}

double noma_rt_to_scalar(const noma_tensor *a, const noma_site *site) {
    if (NOMA_UNLIKELY(noma__numel(a) != 1)) {
        char shape[NOMA__SHAPE_BUF];
        noma_rt_error(site, "expected a single value, got a tensor of shape %s",
                      noma__fmt_shape(shape, a->rank, a->dims));
    }
    return a->data[0];
}

/* ======================================================================== */
/* buffers                                                                  */
/* ======================================================================== */

/* A buffer: its descriptor (what compiled code sees) and the variable's
 * name for messages (NULL: unnamed, as `alloc`ed memory). */
typedef struct noma__buffer {
    noma_tensor t;
    char *name;
} noma__buffer;

static noma_tensor *new_descriptor(void) {
    noma__buffer *b = calloc(1, sizeof *b);
    if (!b) noma__oom(NULL);
    return &b->t;
}

static const char *buf_name(const noma_tensor *buf) {
    return ((const noma__buffer *)(const void *)buf)->name;
}

noma_tensor *noma_rt_buf_name(noma_tensor *buf, const char *name, const noma_tensor *of) {
    noma__buffer *b = (noma__buffer *)(void *)buf;
    const char *base = of ? buf_name(of) : NULL;
    if (!name || !*name || (of && !base)) return buf;  /* no name (a state of `alloc`ed memory) */
    noma__sb sb = {0};
    if (base) {
        noma__sb_str(&sb, base);
        noma__sb_str(&sb, ".");
    }
    noma__sb_str(&sb, name);
    free(b->name);
    b->name = (char *)noma__sb_cstr(&sb);
    return buf;
}

noma_tensor *noma_rt_buf_new(const noma_tensor *init) {
    noma_tensor *t = new_descriptor();
    return noma__copy(t, init, NULL);
}

noma_tensor *noma_rt_buf_new_scalar(double init) {
    noma_tensor *t = new_descriptor();
    noma__ensure(t, 1, NULL)[0] = init;
    t->rank = 0;
    return t;
}

noma_tensor *noma_rt_buf_alloc(int64_t rank, const double *dims, const noma_site *site) {
    if (rank == 0) {
        noma_tensor *t = noma_rt_buf_new_scalar(0.0);
        return t;
    }
    int64_t d[NOMA_MAX_RANK];
    noma__check_dims(rank, dims, d, site);
    noma_tensor *t = new_descriptor();
    int64_t n = 1;
    for (int64_t i = 0; i < rank; i++) n *= d[i];
    memset(noma__ensure(t, n, site), 0, (size_t)n * sizeof(double));
    noma__set_shape(t, rank, d);
    return t;
}

static inline void live(const noma_tensor *buf, const noma_site *site) {
    if (NOMA_UNLIKELY(buf->rank < 0)) {
        const char *name = buf_name(buf);
        if (name) noma_rt_error(site, "use of freed variable '%s'", name);
        noma_rt_error(site, "use of freed variable");
    }
}

noma_tensor *noma_rt_buf_load(noma_tensor *out, const noma_tensor *buf, const noma_site *site) {
    live(buf, site);
    return noma__copy(out, buf, site);
}

double noma_rt_buf_load_scalar(const noma_tensor *buf, const noma_site *site) {
    live(buf, site);
    if (NOMA_UNLIKELY(buf->rank != 0)) {
        char shape[NOMA__SHAPE_BUF];
        noma_rt_error(site, "expected a scalar, got a tensor of shape %s",
                      noma__fmt_shape(shape, buf->rank, buf->dims));
    }
    return buf->data[0];
}

void noma_rt_buf_store(noma_tensor *buf, const noma_tensor *value, const noma_site *site) {
    live(buf, site);
    if (NOMA_UNLIKELY(value->rank != buf->rank)) {
        char shape[NOMA__SHAPE_BUF];
        const char *name = buf_name(buf);
        noma_rt_error(site, "cannot store a value of shape %s into %s%s%s of rank %lld",
                      noma__fmt_shape(shape, value->rank, value->dims),
                      name ? "variable '" : "a variable", name ? name : "", name ? "'" : "",
                      (long long)buf->rank);
    }
    if (value == buf) return;
    int64_t n = noma__numel(value);
    double *o = noma__ensure(buf, n, site);  /* value never aliases the buffer's storage */
    memcpy(o, value->data, (size_t)n * sizeof(double));
    noma__set_shape(buf, value->rank, value->dims);
}

void noma_rt_buf_store_scalar(noma_tensor *buf, double value, const noma_site *site) {
    live(buf, site);
    if (NOMA_UNLIKELY(buf->rank != 0)) {
        const char *name = buf_name(buf);
        noma_rt_error(site, "cannot store a value of shape [] into %s%s%s of rank %lld",
                      name ? "variable '" : "a variable", name ? name : "", name ? "'" : "",
                      (long long)buf->rank);
    }
    buf->data[0] = value;
}

/* target[offset .. offset+slot) = value (a scalar fills it), interp_values.store_into */
static void store_into(double *target, const noma_tensor *t, int64_t n, int64_t off,
                       const noma_tensor *value, const noma_site *site) {
    int64_t slot_rank = t->rank - n;
    const int64_t *slot = t->dims + n;
    int64_t len = 1;
    for (int64_t k = 0; k < slot_rank; k++) len *= slot[k];
    if (value->rank == 0) {
        double v = value->data[0];
        for (int64_t k = 0; k < len; k++) target[off + k] = v;
        return;
    }
    int same = value->rank == slot_rank;
    for (int64_t k = 0; same && k < slot_rank; k++) same = value->dims[k] == slot[k];
    if (!same) {
        char vs[NOMA__SHAPE_BUF], ss[NOMA__SHAPE_BUF];
        noma__fmt_shape(vs, value->rank, value->dims);
        if (slot_rank == 0)
            noma_rt_error(site, "cannot store a value of shape %s into an element", vs);
        noma_rt_error(site, "cannot store a value of shape %s into a row of shape %s", vs,
                      noma__fmt_shape(ss, slot_rank, slot));
    }
    memmove(target + off, value->data, (size_t)len * sizeof(double));
}

void noma_rt_buf_store_element(noma_tensor *buf, const noma_tensor *value, int64_t n,
                               const double *idx, const noma_site *site) {
    live(buf, site);
    int64_t off = noma__offset(buf, n, idx, site);
    store_into(buf->data, buf, n, off, value, site);
}

noma_tensor *noma_rt_insert(noma_tensor *out, const noma_tensor *value, const noma_tensor *dest,
                            int64_t n, const double *idx, const noma_site *site) {
    noma__copy(out, dest, site);
    int64_t off = noma__offset(out, n, idx, site);
    store_into(out->data, out, n, off, value, site);
    return out;
}

void noma_rt_buf_realloc(noma_tensor *buf, int64_t rank, const double *dims, int64_t policy,
                         double p0, double p1, const noma_site *site) {
    live(buf, site);
    int64_t d[NOMA_MAX_RANK];
    noma__check_resize(buf, rank, dims, policy, d, site);
    int64_t n = 1;
    for (int64_t i = 0; i < rank; i++) n *= d[i];
    noma_tensor fresh = {0};
    noma__ensure(&fresh, n, site);
    noma__resize_into(fresh.data, d, buf, policy, p0, p1);
    if (buf->cap > 0) free(buf->data);
    buf->data = fresh.data;
    buf->cap = fresh.cap;
    noma__set_shape(buf, rank, d);
}

void noma_rt_buf_free(noma_tensor *buf, const noma_site *site) {
    live(buf, site);
    if (buf->cap > 0) free(buf->data);
    buf->data = &buf->scalar;
    buf->scalar = 0.0;
    buf->cap = 0;
    buf->rank = -1;
    for (int i = 0; i < NOMA_MAX_RANK; i++) buf->dims[i] = 0;
}

double noma_rt_buf_dim(const noma_tensor *buf, int64_t axis, const noma_site *site) {
    live(buf, site);
    return noma_rt_dim(buf, axis, site);
}

/* ======================================================================== */
/* training                                                                 */
/* ======================================================================== */

static void fmt_count(char *buf, size_t size, double x) {
    if (isfinite(x) && fabs(x) < 0x1p62)
        snprintf(buf, size, "%lld", (long long)x);
    else
        noma__fmt_num(buf, size, 10, x);
}

void noma_rt_check_objective(double loss, double iteration, const noma_site *site) {
    if (NOMA_LIKELY(isfinite(loss))) return;
    char it[64];
    fmt_count(it, sizeof it, iteration);
    noma_rt_error(site, "objective is %s at iteration %s of the optimize loop",
                  isnan(loss) ? "NaN" : "infinite", it);
}

void noma_rt_warn_max_iterations(double count, const noma_site *site) {
    char n[64];
    fmt_count(n, sizeof n, count);
    noma__progress_end();  /* the progress line ends before the warning */
    fflush(stdout);
    if (site && site->file)
        fprintf(stderr, "warning: optimize loop at %s:%lld:%lld reached max_iterations (%s)\n",
                site->file, (long long)site->line, (long long)site->col, n);
    else
        fprintf(stderr, "warning: optimize loop reached max_iterations (%s)\n", n);
    fflush(stderr);
}
