/* Input and output (SPEC §8): print, CSV, atomic file writes, the loss log.
 * The rules and messages follow runtime/fmt.py, runtime/csvio.py,
 * runtime/fileio.py and runtime/atomic.py. */
#define _GNU_SOURCE 1
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "noma_rt_internal.h"

/* ======================================================================== */
/* print                                                                    */
/* ======================================================================== */

static void put_num(double x) {
    char buf[40];
    noma__fmt_num(buf, sizeof buf, 10, x);
    fputs(buf, stdout);
}

void noma_rt_print_scalar(double x) {
    put_num(x);
    fputc('\n', stdout);
}

static const double *print_nested(const double *p, int64_t rank, const int64_t *dims) {
    fputc('[', stdout);
    for (int64_t i = 0; i < dims[0]; i++) {
        if (i) fputs(", ", stdout);
        if (rank == 1) put_num(*p++);
        else p = print_nested(p, rank - 1, dims + 1);
    }
    fputc(']', stdout);
    return p;
}

void noma_rt_print_tensor(const noma_tensor *a) {
    if (a->rank <= 0) {
        noma_rt_print_scalar(a->data[0]);
        return;
    }
    print_nested(a->data, a->rank, a->dims);
    fputc('\n', stdout);
}

void noma_rt_print_str(const char *s) {
    fputs(s, stdout);
    fputc('\n', stdout);
}

/* ======================================================================== */
/* reading files (runtime/fileio.py)                                        */
/* ======================================================================== */

int noma__open_input(const char *path, const char *kind, int64_t *size, const noma_site *site) {
    /* O_NONBLOCK: opening a FIFO for reading would otherwise wait for a
     * writer; it is rejected below (not a regular file), and cleared for a
     * regular file before anything is read. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        if (errno == ENOENT)
            noma_rt_error(site, "cannot read %s file '%s': no such file", kind, path);
        noma_rt_error(site, "cannot read %s file '%s': %s", kind, path, strerror(errno));
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        noma_rt_error(site, "cannot read %s file '%s': %s", kind, path, strerror(e));
    }
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        noma_rt_error(site, "cannot read %s file '%s': %s", kind, path, strerror(EISDIR));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        noma_rt_error(site, "cannot read %s file '%s': not a regular file", kind, path);
    }
    int flags = fcntl(fd, F_GETFL);
    if (flags != -1 && (flags & O_NONBLOCK)) fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
    *size = (int64_t)st.st_size;
    return fd;
}

/* read up to n bytes; the count read (short only at end of file) or -1 */
int64_t noma__read_fully(int fd, void *buf, int64_t n) {
    int64_t got = 0;
    while (got < n) {
        size_t chunk = (size_t)(n - got) > (1u << 30) ? (1u << 30) : (size_t)(n - got);
        ssize_t r = read(fd, (char *)buf + got, chunk);
        if (r < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        if (r == 0) break;
        got += r;
    }
    return got;
}

static char *read_all(const char *path, const char *kind, size_t *len, const noma_site *site) {
    int64_t size;
    int fd = noma__open_input(path, kind, &size, site);
    size_t cap = size > 0 ? (size_t)size + 1 : 4096;
    char *buf = malloc(cap);
    if (!buf) {
        close(fd);
        noma__oom(site);
    }
    size_t n = 0;
    for (;;) {
        if (n + 1 >= cap) {
            char *p = realloc(buf, cap * 2);
            if (!p) {
                free(buf);
                close(fd);
                noma__oom(site);
            }
            buf = p;
            cap *= 2;
        }
        int64_t r = noma__read_fully(fd, buf + n, (int64_t)(cap - 1 - n));
        if (r < 0) {
            int e = errno;
            free(buf);
            close(fd);
            noma_rt_error(site, "cannot read %s file '%s': %s", kind, path, strerror(e));
        }
        n += (size_t)r;
        if (n + 1 < cap) break;  /* end of file before the buffer filled */
    }
    close(fd);
    buf[n] = 0;
    *len = n;
    return buf;
}

/* ======================================================================== */
/* UTF-8 (as Python decodes with errors="replace")                          */
/* ======================================================================== */

size_t noma__u8_char(const unsigned char *p, size_t n, int *valid) {
    unsigned c = p[0];
    *valid = 1;
    if (c < 0x80) return 1;
    int need;
    unsigned lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) need = 1;
    else if (c >= 0xE0 && c <= 0xEF) {
        need = 2;
        if (c == 0xE0) lo = 0xA0;
        else if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 3;
        if (c == 0xF0) lo = 0x90;
        else if (c == 0xF4) hi = 0x8F;
    } else {
        *valid = 0;
        return 1;
    }
    size_t i = 1;
    for (int k = 0; k < need; k++, i++) {
        if (i >= n || p[i] < lo || p[i] > hi) {
            *valid = 0;
            return i;
        }
        lo = 0x80;
        hi = 0xBF;
    }
    return i;
}

/* characters in p[0..n) */
static int64_t u8_count(const char *p, size_t n) {
    int64_t count = 0;
    int valid;
    for (size_t i = 0; i < n; count++) i += noma__u8_char((const unsigned char *)p + i, n - i, &valid);
    return count;
}

/* ======================================================================== */
/* CSV (runtime/csvio.py)                                                   */
/* ======================================================================== */

static inline int is_space(char c) { return c == ' ' || c == '\t' || c == '\r'; }
static inline int is_digit(char c) { return c >= '0' && c <= '9'; }

static int ieq(const char *s, size_t n, const char *word) {
    size_t m = strlen(word);
    if (n != m) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
        if (c != word[i]) return 0;
    }
    return 1;
}

/* [+-]?((digits.?digits*|.digits)([eE][+-]?digits)?|inf|infinity|nan), case-insensitive */
static int is_number(const char *s, size_t n) {
    size_t i = 0;
    if (i < n && (s[i] == '+' || s[i] == '-')) i++;
    if (ieq(s + i, n - i, "inf") || ieq(s + i, n - i, "infinity") || ieq(s + i, n - i, "nan"))
        return 1;
    if (i < n && is_digit(s[i])) {
        while (i < n && is_digit(s[i])) i++;
        if (i < n && s[i] == '.') i++;
        while (i < n && is_digit(s[i])) i++;
    } else if (i < n && s[i] == '.') {
        i++;
        if (!(i < n && is_digit(s[i]))) return 0;
        while (i < n && is_digit(s[i])) i++;
    } else {
        return 0;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-')) i++;
        if (!(i < n && is_digit(s[i]))) return 0;
        while (i < n && is_digit(s[i])) i++;
    }
    return i == n;
}

/* the code point of a valid UTF-8 sequence of k bytes */
static uint32_t u8_decode(const unsigned char *p, size_t k) {
    if (k == 1) return p[0];
    uint32_t cp = p[0] & (0x7Fu >> k);
    for (size_t i = 1; i < k; i++) cp = (cp << 6) | (p[i] & 0x3Fu);
    return cp;
}

/* Code points Python's str.isprintable() rejects (Unicode 14, Python 3.11):
 * controls, separators other than the space, format characters, surrogates,
 * private use, noncharacters and unassigned planes.  Other unassigned code
 * points (whose set changes with the Unicode version) are shown as they are. */
static const uint32_t NOT_PRINTABLE[][2] = {
    {0x0, 0x1F}, {0x7F, 0xA0}, {0xAD, 0xAD}, {0x600, 0x605}, {0x61C, 0x61C},
    {0x6DD, 0x6DD}, {0x70F, 0x70F}, {0x890, 0x891}, {0x8E2, 0x8E2}, {0x1680, 0x1680},
    {0x180E, 0x180E}, {0x2000, 0x200F}, {0x2028, 0x202F}, {0x205F, 0x2064},
    {0x2066, 0x206F}, {0x3000, 0x3000}, {0xD800, 0xF8FF}, {0xFDD0, 0xFDEF},
    {0xFEFF, 0xFEFF}, {0xFFF9, 0xFFFB}, {0x110BD, 0x110BD}, {0x110CD, 0x110CD},
    {0x13430, 0x13438}, {0x1BCA0, 0x1BCA3}, {0x1D173, 0x1D17A}, {0x40000, 0xDFFFF},
    {0xE0000, 0xE00FF}, {0xE01F0, 0x10FFFF},
};

static int printable(uint32_t cp) {
    if ((cp & 0xFFFE) == 0xFFFE) return 0;  /* U+xFFFE, U+xFFFF: noncharacters */
    for (size_t i = 0; i < sizeof NOT_PRINTABLE / sizeof NOT_PRINTABLE[0]; i++)
        if (cp >= NOT_PRINTABLE[i][0] && cp <= NOT_PRINTABLE[i][1]) return 0;
    return 1;
}

/* one character as Python's ascii() escapes it (without the quotes) */
static void escape_char(noma__sb *sb, uint32_t cp) {
    if (cp == '\t') noma__sb_str(sb, "\\t");
    else if (cp == '\n') noma__sb_str(sb, "\\n");
    else if (cp == '\r') noma__sb_str(sb, "\\r");
    else if (cp < 0x100) noma__sb_printf(sb, "\\x%02x", (unsigned)cp);
    else if (cp < 0x10000) noma__sb_printf(sb, "\\u%04x", (unsigned)cp);
    else noma__sb_printf(sb, "\\U%08x", (unsigned)cp);
}

/* the field as csvio._shorten shows it: invalid UTF-8 as U+FFFD, at most 40
 * characters, the characters Python does not print (NUL, controls, ...)
 * escaped as ascii() writes them */
static void shorten(noma__sb *sb, const char *s, size_t n) {
    int64_t chars = 0;
    size_t i = 0;
    while (i < n) {
        if (chars == 40) {
            noma__sb_str(sb, "...");
            return;
        }
        int valid;
        size_t k = noma__u8_char((const unsigned char *)s + i, n - i, &valid);
        if (!valid) noma__sb_str(sb, "\xEF\xBF\xBD");
        else {
            uint32_t cp = u8_decode((const unsigned char *)s + i, k);
            if (printable(cp)) noma__sb_add(sb, s + i, k);
            else escape_char(sb, cp);
        }
        i += k;
        chars++;
    }
}

typedef struct {
    double *v;
    int64_t n, cap;
} dvec;

static void dvec_push(dvec *d, double x, const noma_site *site) {
    if (d->n == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 256;
        d->v = noma__xrealloc(d->v, (size_t)d->cap * sizeof(double), site);
    }
    d->v[d->n++] = x;
}

static char *csv_text;  /* freed if an error unwinds (next load) */
static dvec csv_vals;

noma_tensor *noma_rt_load_csv(noma_tensor *out, const char *path, const noma_site *site) {
    free(csv_text);
    free(csv_vals.v);
    csv_text = NULL;
    csv_vals = (dvec){0};
    size_t len;
    char *text = csv_text = read_all(path, "CSV", &len, site);
    size_t pos = 0;
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) pos = 3;
    int64_t rows = 0, cols = -1, lineno = 0;
    char numbuf[64];
    while (pos <= len) {
        lineno++;
        const char *line = text + pos;
        const char *nl = memchr(line, '\n', len - pos);
        size_t llen = nl ? (size_t)(nl - line) : len - pos;
        pos += llen + 1;
        const char *hash = memchr(line, '#', llen);
        size_t dlen = hash ? (size_t)(hash - line) : llen;
        size_t k = 0;
        while (k < dlen && is_space(line[k])) k++;
        if (k == dlen) continue;  /* blank or comment-only */
        int64_t count = 0, col = 1;
        size_t fstart = 0;
        for (;;) {
            const char *comma = memchr(line + fstart, ',', dlen - fstart);
            size_t fend = comma ? (size_t)(comma - line) : dlen;
            const char *field = line + fstart;
            size_t flen = fend - fstart;
            size_t a = 0, b = flen;
            while (a < b && is_space(field[a])) a++;
            while (b > a && is_space(field[b - 1])) b--;
            int64_t where = col + (int64_t)a;
            if (a == b)
                noma_rt_error(site, "missing number in %s:%lld:%lld", path, (long long)lineno,
                              (long long)where);
            if (!is_number(field + a, b - a)) {
                noma__sb sb = {0};
                shorten(&sb, field + a, b - a);
                noma_rt_error(site, "bad number '%s' in %s:%lld:%lld", noma__sb_cstr(&sb), path,
                              (long long)lineno, (long long)where);
            }
            double x;
            if (b - a < sizeof numbuf) {
                memcpy(numbuf, field + a, b - a);
                numbuf[b - a] = 0;
                x = strtod(numbuf, NULL);
            } else {
                char *big = noma__xmalloc(b - a + 1, site);
                memcpy(big, field + a, b - a);
                big[b - a] = 0;
                x = strtod(big, NULL);
                free(big);
            }
            dvec_push(&csv_vals, x, site);
            count++;
            col += u8_count(field, flen) + 1;
            if (!comma) break;
            fstart = fend + 1;
        }
        if (cols >= 0 && count != cols)
            noma_rt_error(site, "row has %lld values, expected %lld in %s:%lld:1", (long long)count,
                          (long long)cols, path, (long long)lineno);
        cols = count;
        rows++;
    }
    free(csv_text);
    csv_text = NULL;
    if (rows == 0) noma_rt_error(site, "CSV file '%s' has no data rows", path);
    int64_t dims[2] = {rows, cols};
    double *o = noma__ensure(out, rows * cols, site);
    memcpy(o, csv_vals.v, (size_t)(rows * cols) * sizeof(double));
    noma__set_shape(out, 2, dims);
    free(csv_vals.v);
    csv_vals = (dvec){0};
    return out;
}

void noma_rt_save_csv(const noma_tensor *a, const char *path, const noma_site *site) {
    if (a->rank > 2)
        noma_rt_error(site, "save_csv needs a scalar, 1-D or 2-D tensor, got rank %lld ('%s')",
                      (long long)a->rank, path);
    int64_t rows = a->rank == 2 ? a->dims[0] : 1;
    int64_t cols = a->rank == 2 ? a->dims[1] : noma__numel(a);
    noma__sb sb = {0};
    char num[40];
    const double *p = a->data;
    for (int64_t r = 0; r < rows; r++) {
        for (int64_t c = 0; c < cols; c++) {
            if (c) noma__sb_add(&sb, ",", 1);
            int k = noma__fmt_num(num, sizeof num, 17, *p++);
            noma__sb_add(&sb, num, (size_t)k);
        }
        noma__sb_add(&sb, "\n", 1);
    }
    noma__chunk chunk = {sb.p, sb.len};
    noma__atomic_write(path, &chunk, 1, &sb, site);
    noma__sb_free(&sb);
}

/* ======================================================================== */
/* atomic writes (runtime/atomic.py)                                        */
/* ======================================================================== */

/* normpath(abspath(name)) */
static void abs_norm(noma__sb *out, const char *name) {
    noma__sb full = {0};
    if (name[0] != '/') {
        char cwd[PATH_MAX];
        if (getcwd(cwd, sizeof cwd)) noma__sb_str(&full, cwd);
        noma__sb_add(&full, "/", 1);
    }
    noma__sb_str(&full, name);
    const char *s = noma__sb_cstr(&full);
    /* components */
    size_t *starts = malloc(sizeof(size_t) * (full.len + 1));
    size_t depth = 0;
    noma__sb_add(out, "", 0);
    out->len = 0;
    size_t i = 0;
    while (s[i]) {
        while (s[i] == '/') i++;
        if (!s[i]) break;
        size_t j = i;
        while (s[j] && s[j] != '/') j++;
        size_t n = j - i;
        if (n == 1 && s[i] == '.') {
        } else if (n == 2 && s[i] == '.' && s[i + 1] == '.') {
            if (depth) out->len = starts[--depth];
        } else if (starts) {
            starts[depth++] = out->len;
            noma__sb_add(out, "/", 1);
            noma__sb_add(out, s + i, n);
        }
        i = j;
    }
    if (out->len == 0) noma__sb_add(out, "/", 1);
    noma__sb_cstr(out);
    free(starts);
    noma__sb_free(&full);
}

static mode_t mode_for(const char *name) {
    struct stat st;
    if (stat(name, &st) == 0 && S_ISREG(st.st_mode)) return st.st_mode & 07777;
    mode_t u = umask(0);
    umask(u);
    return 0666 & ~u;
}

static int write_all(int fd, const char *p, size_t n) {
    while (n) {
        ssize_t w = write(fd, p, n > (1u << 30) ? (1u << 30) : n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

void noma__atomic_write(const char *name, const noma__chunk *chunks, int nchunks,
                        noma__sb *owned, const noma_site *site) {
    if (!name[0]) {
        noma__sb_free(owned);
        noma_rt_error(site, "cannot write file: the path is empty");
    }
    noma__sb folder = {0};
    abs_norm(&folder, name);
    /* dirname */
    char *slash = strrchr(folder.p, '/');
    if (slash == folder.p) folder.len = 1;
    else folder.len = (size_t)(slash - folder.p);
    folder.p[folder.len] = 0;
    struct stat st;
    if (stat(folder.p, &st) != 0 || !S_ISDIR(st.st_mode)) {
        noma__sb_free(owned);  /* `folder` leaks on this error path: the run ends */
        noma_rt_error(site, "cannot write '%s': folder '%s' does not exist", name, folder.p);
    }
    /* base name of the path as given */
    size_t nlen = strlen(name);
    while (nlen > 1 && name[nlen - 1] == '/') nlen--;
    size_t b = nlen;
    while (b > 0 && name[b - 1] != '/') b--;
    noma__sb tmp = {0};
    noma__sb_str(&tmp, folder.p);
    if (folder.len > 1) noma__sb_add(&tmp, "/", 1);
    noma__sb_add(&tmp, ".", 1);
    noma__sb_add(&tmp, name + b, nlen - b);
    noma__sb_str(&tmp, ".tmpXXXXXX");
    int err = 0;
    int fd = mkstemp(tmp.p);
    if (fd < 0) {
        err = errno;
    } else {
        for (int i = 0; i < nchunks && !err; i++)
            if (write_all(fd, chunks[i].p, chunks[i].n) != 0) err = errno;
        if (!err && fsync(fd) != 0 && errno != EINVAL && errno != EROFS) err = errno;
        if (!err && fchmod(fd, mode_for(name)) != 0) err = errno;
        if (close(fd) != 0 && !err) err = errno;
        if (!err && rename(tmp.p, name) != 0) err = errno;
        if (err) unlink(tmp.p);
    }
    noma__sb_free(&tmp);
    if (err) {
        noma__sb_free(&folder);
        noma__sb_free(owned);
        noma_rt_error(site, "cannot write '%s': %s", name, strerror(err));
    }
    int dfd = open(folder.p, O_RDONLY | O_CLOEXEC);
    if (dfd >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
    noma__sb_free(&folder);
}

/* ======================================================================== */
/* the loss log (NOMA_LOSS_LOG) and the progress line (NOMA_PROGRESS)       */
/* ======================================================================== */

static FILE *loss_file;
static char *loss_path;
static int loss_failed;

/* NOMA_LOSS_LOG and NOMA_PROGRESS, read once per run (getenv costs more than
 * a training step of a tiny model); `watching`: either is on, the one test
 * noma_rt_loss_log makes per iteration when both are off */
static const char *loss_env;
static int progress_on;
volatile sig_atomic_t noma__progress_visible;
static int watching;
static int loss_env_read;

static void read_watch_env(void) {
    loss_env = getenv("NOMA_LOSS_LOG");
    if (loss_env && !loss_env[0]) loss_env = NULL;
    const char *p = getenv("NOMA_PROGRESS");
    progress_on = p && p[0] && strcmp(p, "0") != 0;
    watching = loss_env != NULL || progress_on;
    loss_env_read = 1;
}

/* The progress line, as noma/backend/train_monitor.py writes it: once a loop
 * has run for PROGRESS_INTERVAL seconds, "\roptimize loop K at FILE:L:C:
 * iteration I, loss %.8g" on stderr, rewritten in place at most every
 * PROGRESS_INTERVAL seconds; when the loop ends (noma_rt_end_loop, an error,
 * the max_iterations warning, the end of the run) it is written a last time
 * and ended with a newline. Loops shorter than the interval show nothing. */
#define PROGRESS_INTERVAL 0.1

static struct {
    int running;          /* a loop recorded an iteration and has not ended */
    int shown;            /* its line was written */
    int width;            /* characters of the line last written (without \r) */
    double loop, iteration, loss;
    const noma_site *site;
    double started, shown_at;  /* seconds, PROGRESS_CLOCK */
} progress;

/* read at every iteration while --progress is on: the coarse clock (a few ms
 * resolution) costs a few ns where the precise one costs about 20 */
#ifdef CLOCK_MONOTONIC_COARSE
#define PROGRESS_CLOCK CLOCK_MONOTONIC_COARSE
#else
#define PROGRESS_CLOCK CLOCK_MONOTONIC
#endif

static double monotonic_s(void) {
    struct timespec ts;
    clock_gettime(PROGRESS_CLOCK, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void progress_show(double now) {
    char loss[40];
    if (isnan(progress.loss)) snprintf(loss, sizeof loss, "nan");  /* not "-nan" */
    else snprintf(loss, sizeof loss, "%.8g", progress.loss);
    const noma_site *site = progress.site;
    int n;
    if (site && site->file)
        n = fprintf(stderr, "\roptimize loop %.0f at %s:%lld:%lld: iteration %.0f, loss %s",
                    progress.loop, site->file, (long long)site->line, (long long)site->col,
                    progress.iteration, loss);
    else
        n = fprintf(stderr, "\roptimize loop %.0f: iteration %.0f, loss %s", progress.loop,
                    progress.iteration, loss);
    int width = n > 0 ? n - 1 : 0;
    if (progress.width > width) fprintf(stderr, "%*s", progress.width - width, "");
    fflush(stderr);
    progress.width = width;
    progress.shown = 1;
    progress.shown_at = now;
    noma__progress_visible = 1;
}

void noma__progress_end(void) {
    if (!progress.running) return;
    progress.running = 0;
    if (progress.shown) {
        progress_show(monotonic_s());
        fputc('\n', stderr);
        fflush(stderr);
    }
    progress.shown = 0;
    noma__progress_visible = 0;
}

static void progress_record(double loop, double iteration, double loss, const noma_site *site) {
    double now = monotonic_s();
    if (!progress.running || loop != progress.loop) {  /* a new loop */
        noma__progress_end();
        progress.running = 1;
        progress.shown = 0;
        progress.width = 0;
        progress.loop = loop;
        progress.site = site;
        progress.started = now;
    }
    progress.iteration = iteration;
    progress.loss = loss;
    if (now - (progress.shown ? progress.shown_at : progress.started) >= PROGRESS_INTERVAL)
        progress_show(now);
}

void noma_rt_end_loop(void) {
    if (NOMA_UNLIKELY(progress.running)) noma__progress_end();
}

void noma__loss_log_flush(void) {
    loss_env_read = 0;
    noma__progress_end();
    /* closed, not only flushed: the next run may name the same path for a new
     * file (the driver renames FILE.tmp to FILE after each run) */
    if (loss_file) fclose(loss_file);
    loss_file = NULL;
    free(loss_path);
    loss_path = NULL;
    loss_failed = 0;
}

void noma__loss_log_reset(void) {
    loss_env_read = 0;
    progress.running = 0;
    progress.shown = 0;
}

static void loss_log_row(const char *path, double loop, double iteration, double loss) {
    if (!loss_path || strcmp(loss_path, path) != 0) {
        if (loss_file) fclose(loss_file);
        loss_file = NULL;
        free(loss_path);
        loss_path = strdup(path);
        loss_failed = 0;
        if (!loss_path) return;
        loss_file = fopen(path, "a");
        if (!loss_file) {
            loss_failed = 1;
            fflush(stdout);
            fprintf(stderr, "warning: cannot write the loss log '%s': %s\n", path,
                    strerror(errno));
            return;
        }
        if (fseek(loss_file, 0, SEEK_END) == 0 && ftell(loss_file) == 0) fputs("loop,iteration,loss\n", loss_file);
    }
    if (loss_failed || !loss_file) return;
    char a[40], b[40], c[40];
    noma__fmt_num(a, sizeof a, 17, loop);
    noma__fmt_num(b, sizeof b, 17, iteration);
    noma__fmt_num(c, sizeof c, 17, loss);
    fprintf(loss_file, "%s,%s,%s\n", a, b, c);
}

void noma_rt_loss_log(double loop, double iteration, double loss, const noma_site *site) {
    if (NOMA_UNLIKELY(!loss_env_read)) read_watch_env();
    if (NOMA_LIKELY(!watching)) return;
    if (loss_env) loss_log_row(loss_env, loop, iteration, loss);
    if (progress_on) progress_record(loop, iteration, loss, site);
}
