/* The safetensors format (SPEC §8), as runtime/safetensors_io.py reads and
 * writes it. The header is parsed by a small JSON parser that accepts what
 * Python's json module accepts (NaN/Infinity included, duplicate keys
 * rejected) and is safe on hostile input: bounded nesting, bounded value
 * count, header length checked against the file, offsets checked before any
 * data is touched, and only the referenced part of the data is read. */
#define _GNU_SOURCE 1
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "noma_rt_internal.h"

#define MAX_HEADER (100 * 1024 * 1024)
#define MAX_DEPTH 512
#define MAX_VALUES (1 << 24)
#define MAX_INT_DIGITS 4300 /* Python's int string-conversion limit */
#define METADATA_KEY "__metadata__"

typedef unsigned __int128 u128;
#define U128_MAX (~(u128)0)

/* ======================================================================== */
/* arena                                                                    */
/* ======================================================================== */

typedef struct block {
    struct block *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
} block;

typedef struct {
    block *head;
} arena;

static void arena_free(arena *a) {
    block *b = a->head;
    while (b) {
        block *n = b->next;
        free(b);
        b = n;
    }
    a->head = NULL;
}

/* ======================================================================== */
/* JSON values                                                              */
/* ======================================================================== */

enum { J_NULL, J_BOOL, J_INT, J_FLOAT, J_STR, J_ARR, J_OBJ };

typedef struct jv {
    uint8_t type, neg, big, b;
    size_t n; /* string bytes, int digits, array items, object pairs */
    union {
        struct {
            u128 u;             /* magnitude (when not big) */
            const char *digits; /* the literal's digits (no sign) */
        } i;
        double d;
        const char *s;
        struct jv *items; /* array: n values; object: 2n (key, value) */
    } v;
} jv;

/* ======================================================================== */
/* loader state                                                             */
/* ======================================================================== */

typedef struct {
    int fd;
    int64_t size;
    jmp_buf fail;
    int rc;      /* 1: format problem (msg), 2: read error (errnum) */
    int errnum;
    noma__sb msg;
    arena ar;
    char *header;
    size_t hlen;
    /* parser */
    const char *p, *end;
    size_t values;
    jv *stack;
    size_t sp, scap;
    char *sbuf;
    size_t slen, scap2;
} loader;

static void *aalloc(loader *L, size_t n);

static void bad(loader *L, const char *fmt, ...) NOMA_NORETURN NOMA_PRINTF(2, 3);
static void bad(loader *L, const char *fmt, ...) {
    char small[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    L->msg.len = 0;
    if (n >= 0 && (size_t)n < sizeof small) {
        noma__sb_add(&L->msg, small, (size_t)n);
    } else if (n >= 0) {
        char *big = malloc((size_t)n + 1);
        if (big) {
            va_start(ap, fmt);
            vsnprintf(big, (size_t)n + 1, fmt, ap);
            va_end(ap);
            noma__sb_add(&L->msg, big, (size_t)n);
            free(big);
        } else {
            noma__sb_add(&L->msg, small, strlen(small));
        }
    }
    L->rc = 1;
    longjmp(L->fail, 1);
}

static void *aalloc(loader *L, size_t n) {
    n = (n + 15) & ~(size_t)15;
    block *b = L->ar.head;
    if (!b || b->cap - b->used < n) {
        size_t cap = n > (1u << 20) ? n : (1u << 20);
        b = malloc(sizeof(block) + cap);
        if (!b) bad(L, "header is too large to load (out of memory)");
        b->used = 0;
        b->cap = cap;
        b->next = L->ar.head;
        L->ar.head = b;
    }
    void *p = b->data + b->used;
    b->used += n;
    return p;
}

/* ======================================================================== */
/* JSON parser (the grammar and messages of Python's json module)           */
/* ======================================================================== */

static void jfail(loader *L, const char *what, const char *at) NOMA_NORETURN;
static void jfail(loader *L, const char *what, const char *at) {
    /* Python counts characters: the header is valid UTF-8 here */
    long long pos = 0, line = 1, last_nl = -1;
    for (const char *q = L->header; q < at; q++) {
        unsigned char c = (unsigned char)*q;
        if ((c & 0xC0) == 0x80) continue;
        if (c == '\n') {
            line++;
            last_nl = pos;
        }
        pos++;
    }
    long long col = last_nl < 0 ? pos + 1 : pos - last_nl;
    bad(L, "header is not valid JSON (%s: line %lld column %lld (char %lld))", what, line, col, pos);
}

static void skip_ws(loader *L) {
    while (L->p < L->end && (*L->p == ' ' || *L->p == '\t' || *L->p == '\n' || *L->p == '\r'))
        L->p++;
}

static void push(loader *L, jv v) {
    if (L->sp == L->scap) {
        size_t cap = L->scap ? L->scap * 2 : 256;
        jv *s = realloc(L->stack, cap * sizeof(jv));
        if (!s) bad(L, "header is too large to load (out of memory)");
        L->stack = s;
        L->scap = cap;
    }
    L->stack[L->sp++] = v;
}

static jv *pop_into_arena(loader *L, size_t count) {
    jv *items = aalloc(L, count * sizeof(jv) + 1);
    if (count) memcpy(items, L->stack + L->sp - count, count * sizeof(jv));
    L->sp -= count;
    return items;
}

static void sbuf_add(loader *L, const char *s, size_t n) {
    if (n == 0) return;
    if (L->slen + n > L->scap2) {
        size_t cap = L->scap2 ? L->scap2 : 256;
        while (cap < L->slen + n) cap *= 2;
        char *p = realloc(L->sbuf, cap);
        if (!p) bad(L, "header is too large to load (out of memory)");
        L->sbuf = p;
        L->scap2 = cap;
    }
    memcpy(L->sbuf + L->slen, s, n);
    L->slen += n;
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static int read_u4(const char *p, const char *end) {
    if (end - p < 4) return -1;
    int v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval(p[i]);
        if (h < 0) return -1;
        v = v * 16 + h;
    }
    return v;
}

/* code point as UTF-8; surrogates as 3 bytes ("surrogatepass") */
static size_t put_cp(char *out, unsigned cp) {
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

static jv parse_string(loader *L) {
    const char *start = L->p++;
    const char *run = L->p;
    L->slen = 0;
    int escaped = 0;
    for (;;) {
        if (L->p >= L->end) jfail(L, "Unterminated string starting at", start);
        unsigned char c = (unsigned char)*L->p;
        if (c == '"') break;
        if (c < 0x20) jfail(L, "Invalid control character at", L->p);
        if (c != '\\') {
            L->p++;
            continue;
        }
        /* an escape */
        sbuf_add(L, run, (size_t)(L->p - run));
        escaped = 1;
        const char *bs = L->p;
        if (bs + 1 >= L->end) jfail(L, "Unterminated string starting at", start);
        char e = bs[1];
        char ch;
        switch (e) {
        case '"': ch = '"'; break;
        case '\\': ch = '\\'; break;
        case '/': ch = '/'; break;
        case 'b': ch = '\b'; break;
        case 'f': ch = '\f'; break;
        case 'n': ch = '\n'; break;
        case 'r': ch = '\r'; break;
        case 't': ch = '\t'; break;
        case 'u': {
            int cp = read_u4(bs + 2, L->end);
            if (cp < 0) jfail(L, "Invalid \\uXXXX escape", bs + 1);
            L->p = bs + 6;
            if (cp >= 0xD800 && cp <= 0xDBFF && L->end - L->p >= 6 && L->p[0] == '\\' &&
                L->p[1] == 'u') {
                int lo = read_u4(L->p + 2, L->end);
                if (lo >= 0xDC00 && lo <= 0xDFFF) {
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    L->p += 6;
                }
            }
            char buf[4];
            sbuf_add(L, buf, put_cp(buf, (unsigned)cp));
            run = L->p;
            continue;
        }
        default: jfail(L, "Invalid \\escape", bs);
        }
        sbuf_add(L, &ch, 1);
        L->p = bs + 2;
        run = L->p;
    }
    jv v = {0};
    v.type = J_STR;
    if (!escaped) {
        v.v.s = run;
        v.n = (size_t)(L->p - run);
    } else {
        sbuf_add(L, run, (size_t)(L->p - run));
        char *s = aalloc(L, L->slen + 1);
        memcpy(s, L->sbuf, L->slen);
        s[L->slen] = 0;
        v.v.s = s;
        v.n = L->slen;
    }
    L->p++; /* closing quote */
    return v;
}

static int is_dig(char c) { return c >= '0' && c <= '9'; }

static int lit(loader *L, const char *word) {
    size_t n = strlen(word);
    if ((size_t)(L->end - L->p) >= n && memcmp(L->p, word, n) == 0) {
        L->p += n;
        return 1;
    }
    return 0;
}

static jv parse_number(loader *L) {
    const char *start = L->p;
    jv v = {0};
    if (*L->p == '-') {
        L->p++;
        v.neg = 1;
    }
    const char *digits = L->p;
    if (L->p < L->end && *L->p == '0') L->p++;
    else if (L->p < L->end && *L->p >= '1' && *L->p <= '9')
        while (L->p < L->end && is_dig(*L->p)) L->p++;
    else jfail(L, "Expecting value", start);
    const char *int_end = L->p;
    int is_int = 1;
    if (L->end - L->p >= 2 && L->p[0] == '.' && is_dig(L->p[1])) {
        L->p += 2;
        while (L->p < L->end && is_dig(*L->p)) L->p++;
        is_int = 0;
    }
    if (L->p < L->end && (*L->p == 'e' || *L->p == 'E')) {
        const char *q = L->p + 1;
        if (q < L->end && (*q == '+' || *q == '-')) q++;
        if (q < L->end && is_dig(*q)) {
            while (q < L->end && is_dig(*q)) q++;
            L->p = q;
            is_int = 0;
        }
    }
    if (is_int) {
        size_t nd = (size_t)(int_end - digits);
        if (nd > MAX_INT_DIGITS)
            bad(L,
                "header is not valid JSON (Exceeds the limit (%d digits) for integer string "
                "conversion: value has %zu digits)",
                MAX_INT_DIGITS, nd);
        v.type = J_INT;
        v.v.i.digits = digits;
        v.n = nd;
        u128 u = 0;
        for (const char *q = digits; q < int_end; q++) {
            unsigned d = (unsigned)(*q - '0');
            if (u > (U128_MAX - d) / 10) {
                v.big = 1;
                break;
            }
            u = u * 10 + d;
        }
        v.v.i.u = v.big ? 0 : u;
        if (!v.big && u == 0) v.neg = 0; /* -0 is 0 */
        return v;
    }
    size_t len = (size_t)(L->p - start);
    char small[64];
    char *buf = len < sizeof small ? small : aalloc(L, len + 1);
    memcpy(buf, start, len);
    buf[len] = 0;
    v.type = J_FLOAT;
    v.neg = 0;
    v.v.d = strtod(buf, NULL);
    return v;
}

static void check_duplicates(loader *L, const jv *items, size_t n);

static jv parse_value(loader *L, int depth) {
    skip_ws(L);
    if (L->p >= L->end) jfail(L, "Expecting value", L->p);
    if (++L->values > MAX_VALUES) bad(L, "header has more than %d JSON values", MAX_VALUES);
    jv v = {0};
    char c = *L->p;
    if (c == '"') return parse_string(L);
    if (c == '{' || c == '[') {
        if (depth >= MAX_DEPTH) bad(L, "header is nested too deeply");
        int obj = c == '{';
        const char *open = L->p++;
        (void)open;
        size_t base = L->sp;
        skip_ws(L);
        if (L->p < L->end && *L->p == (obj ? '}' : ']')) {
            L->p++;
        } else {
            for (;;) {
                if (obj) {
                    if (L->p >= L->end || *L->p != '"')
                        jfail(L, "Expecting property name enclosed in double quotes", L->p);
                    push(L, parse_string(L));
                    skip_ws(L);
                    if (L->p >= L->end || *L->p != ':') jfail(L, "Expecting ':' delimiter", L->p);
                    L->p++;
                }
                push(L, parse_value(L, depth + 1));
                skip_ws(L);
                if (L->p < L->end && *L->p == (obj ? '}' : ']')) {
                    L->p++;
                    break;
                }
                if (L->p >= L->end || *L->p != ',') jfail(L, "Expecting ',' delimiter", L->p);
                L->p++;
                if (obj) skip_ws(L);
            }
        }
        size_t count = L->sp - base;
        v.type = obj ? J_OBJ : J_ARR;
        v.n = obj ? count / 2 : count;
        v.v.items = pop_into_arena(L, count);
        if (obj) check_duplicates(L, v.v.items, v.n);
        return v;
    }
    if (lit(L, "null")) {
        v.type = J_NULL;
        return v;
    }
    if (lit(L, "true")) {
        v.type = J_BOOL;
        v.b = 1;
        return v;
    }
    if (lit(L, "false")) {
        v.type = J_BOOL;
        return v;
    }
    if (c == '-' || is_dig(c)) {
        if (c == '-' && lit(L, "-Infinity")) {
            v.type = J_FLOAT;
            v.v.d = -INFINITY;
            return v;
        }
        return parse_number(L);
    }
    if (lit(L, "NaN")) {
        v.type = J_FLOAT;
        v.v.d = NAN;
        return v;
    }
    if (lit(L, "Infinity")) {
        v.type = J_FLOAT;
        v.v.d = INFINITY;
        return v;
    }
    jfail(L, "Expecting value", L->p);
}

/* ---- duplicate keys: the first key (in order) seen before, as Python's hook ---- */

typedef struct {
    const char *s;
    size_t n, index;
} keyref;

static int bytes_cmp(const char *a, size_t an, const char *b, size_t bn) {
    int c = memcmp(a, b, an < bn ? an : bn);
    if (c) return c;
    return an < bn ? -1 : an > bn;
}

static int keyref_cmp(const void *x, const void *y) {
    const keyref *a = x, *b = y;
    int c = bytes_cmp(a->s, a->n, b->s, b->n);
    if (c) return c;
    return a->index < b->index ? -1 : a->index > b->index;
}

static void check_duplicates(loader *L, const jv *items, size_t n) {
    if (n < 2) return;
    keyref *refs = aalloc(L, n * sizeof(keyref));
    for (size_t i = 0; i < n; i++) refs[i] = (keyref){items[2 * i].v.s, items[2 * i].n, i};
    qsort(refs, n, sizeof(keyref), keyref_cmp);
    size_t best = SIZE_MAX;
    for (size_t i = 1; i < n; i++) {
        /* the second occurrence of each key: sorted by index within the key */
        if (bytes_cmp(refs[i].s, refs[i].n, refs[i - 1].s, refs[i - 1].n) == 0 &&
            (i < 2 || bytes_cmp(refs[i - 2].s, refs[i - 2].n, refs[i].s, refs[i].n) != 0))
            if (refs[i].index < best) best = refs[i].index;
    }
    if (best != SIZE_MAX) {
        const jv *k = &items[2 * best];
        bad(L, "duplicate key '%.*s' in header", (int)k->n, k->v.s);
    }
}

/* ======================================================================== */
/* showing JSON values as Python's json.dumps (for messages)                */
/* ======================================================================== */

/* repr(float) */
static void py_float_repr(noma__sb *sb, double x) {
    if (isnan(x)) {
        noma__sb_str(sb, "NaN");
        return;
    }
    if (isinf(x)) {
        noma__sb_str(sb, x > 0 ? "Infinity" : "-Infinity");
        return;
    }
    char tmp[40];
    int p;
    for (p = 1; p <= 17; p++) {
        snprintf(tmp, sizeof tmp, "%.*e", p - 1, x);
        if (strtod(tmp, NULL) == x) break;
    }
    /* tmp: [-]d[.ddd]e[+-]XX */
    const char *q = tmp;
    int neg = *q == '-';
    if (neg) q++;
    char digits[24];
    int nd = 0;
    for (; *q && *q != 'e'; q++)
        if (*q != '.') digits[nd++] = *q;
    int e = atoi(q + 1);
    while (nd > 1 && digits[nd - 1] == '0') nd--;
    if (neg) noma__sb_add(sb, "-", 1);
    if (e >= -4 && e < 16) {
        if (e >= 0) {
            for (int i = 0; i <= e; i++) noma__sb_add(sb, i < nd ? &digits[i] : "0", 1);
            noma__sb_add(sb, ".", 1);
            if (nd > e + 1) noma__sb_add(sb, digits + e + 1, (size_t)(nd - e - 1));
            else noma__sb_add(sb, "0", 1);
        } else {
            noma__sb_str(sb, "0.");
            for (int i = 0; i < -e - 1; i++) noma__sb_add(sb, "0", 1);
            noma__sb_add(sb, digits, (size_t)nd);
        }
    } else {
        noma__sb_add(sb, digits, 1);
        if (nd > 1) {
            noma__sb_add(sb, ".", 1);
            noma__sb_add(sb, digits + 1, (size_t)(nd - 1));
        }
        noma__sb_printf(sb, "e%c%02d", e < 0 ? '-' : '+', e < 0 ? -e : e);
    }
}

static void u128_str(noma__sb *sb, u128 v) {
    char tmp[48];
    int k = 0;
    do {
        tmp[k++] = (char)('0' + (int)(v % 10));
        v /= 10;
    } while (v);
    while (k) noma__sb_add(sb, &tmp[--k], 1);
}

static void int_str(noma__sb *sb, const jv *v) {
    if (v->neg) noma__sb_add(sb, "-", 1);
    if (v->big) noma__sb_add(sb, v->v.i.digits, v->n);
    else u128_str(sb, v->v.i.u);
}

/* a decoded string (generalized UTF-8) as json.dumps writes it (ensure_ascii) */
static void json_string(noma__sb *sb, const char *s, size_t n, size_t limit) {
    noma__sb_add(sb, "\"", 1);
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n && sb->len <= limit) {
        unsigned c = p[i], cp;
        size_t k;
        if (c < 0x80) { cp = c; k = 1; }
        else if (c < 0xE0) { cp = c & 0x1F; k = 2; }
        else if (c < 0xF0) { cp = c & 0x0F; k = 3; }
        else { cp = c & 0x07; k = 4; }
        if (i + k > n) k = n - i;
        for (size_t j = 1; j < k; j++) cp = (cp << 6) | (p[i + j] & 0x3F);
        i += k;
        switch (cp) {
        case '"': noma__sb_str(sb, "\\\""); continue;
        case '\\': noma__sb_str(sb, "\\\\"); continue;
        case '\n': noma__sb_str(sb, "\\n"); continue;
        case '\r': noma__sb_str(sb, "\\r"); continue;
        case '\t': noma__sb_str(sb, "\\t"); continue;
        case '\b': noma__sb_str(sb, "\\b"); continue;
        case '\f': noma__sb_str(sb, "\\f"); continue;
        default: break;
        }
        if (cp >= 0x20 && cp < 0x7F) {
            char ch = (char)cp;
            noma__sb_add(sb, &ch, 1);
        } else if (cp < 0x10000) {
            noma__sb_printf(sb, "\\u%04x", cp);
        } else {
            cp -= 0x10000;
            noma__sb_printf(sb, "\\u%04x\\u%04x", 0xD800 + (cp >> 10), 0xDC00 + (cp & 0x3FF));
        }
    }
    noma__sb_add(sb, "\"", 1);
}

static void show_rec(noma__sb *sb, const jv *v, size_t limit) {
    if (sb->len > limit) return;
    switch (v->type) {
    case J_NULL: noma__sb_str(sb, "null"); break;
    case J_BOOL: noma__sb_str(sb, v->b ? "true" : "false"); break;
    case J_INT: int_str(sb, v); break;
    case J_FLOAT: py_float_repr(sb, v->v.d); break;
    case J_STR: json_string(sb, v->v.s, v->n, limit); break;
    case J_ARR:
        noma__sb_add(sb, "[", 1);
        for (size_t i = 0; i < v->n && sb->len <= limit; i++) {
            if (i) noma__sb_str(sb, ", ");
            show_rec(sb, &v->v.items[i], limit);
        }
        noma__sb_add(sb, "]", 1);
        break;
    case J_OBJ:
        noma__sb_add(sb, "{", 1);
        for (size_t i = 0; i < v->n && sb->len <= limit; i++) {
            if (i) noma__sb_str(sb, ", ");
            show_rec(sb, &v->v.items[2 * i], limit);
            noma__sb_str(sb, ": ");
            show_rec(sb, &v->v.items[2 * i + 1], limit);
        }
        noma__sb_add(sb, "}", 1);
        break;
    }
}

/* _show(x): json.dumps(x), cut to 60 characters + "..." (into L's arena) */
static const char *show(loader *L, const jv *v) {
    noma__sb sb = {0};
    show_rec(&sb, v, 61);
    noma__sb_cstr(&sb);
    if (sb.len > 60) {
        sb.len = 60;
        noma__sb_str(&sb, "...");
    }
    char *out = aalloc(L, sb.len + 1);
    memcpy(out, sb.p, sb.len + 1);
    noma__sb_free(&sb);
    return out;
}

/* ======================================================================== */
/* reading                                                                  */
/* ======================================================================== */

typedef struct {
    const char *key;
    size_t klen;
    int f32;
    int64_t rank;
    int64_t *dims;
    u128 begin, end;
} st_entry;

struct noma_archive {
    char *path;
    int64_t n;
    st_entry *e;
    unsigned char *data;
    char *header;
    arena ar;
};

static const jv *field(const jv *obj, const char *name) {
    size_t n = strlen(name);
    for (size_t i = 0; i < obj->n; i++) {
        const jv *k = &obj->v.items[2 * i];
        if (k->n == n && memcmp(k->v.s, name, n) == 0) return &obj->v.items[2 * i + 1];
    }
    return NULL;
}

static int is_count(const jv *v) { return v->type == J_INT && !v->neg; }

static int cmp_count(const jv *a, const jv *b) {
    if (a->big != b->big) return a->big ? 1 : -1;
    if (!a->big) return a->v.i.u < b->v.i.u ? -1 : a->v.i.u > b->v.i.u;
    if (a->n != b->n) return a->n < b->n ? -1 : 1;
    return memcmp(a->v.i.digits, b->v.i.digits, a->n);
}

static const char *type_name(const jv *v) {
    switch (v->type) {
    case J_NULL: return "NoneType";
    case J_BOOL: return "bool";
    case J_INT: return "int";
    case J_FLOAT: return "float";
    case J_STR: return "str";
    case J_ARR: return "list";
    default: return "dict";
    }
}

static const char *int_text(loader *L, const jv *v) {
    noma__sb sb = {0};
    int_str(&sb, v);
    char *out = aalloc(L, sb.len + 1);
    memcpy(out, noma__sb_cstr(&sb), sb.len + 1);
    noma__sb_free(&sb);
    return out;
}

/* "[2, 3]" as Python prints a list of ints (in full) */
static const char *list_text(loader *L, const jv *list) {
    noma__sb sb = {0};
    noma__sb_add(&sb, "[", 1);
    for (size_t i = 0; i < list->n; i++) {
        if (i) noma__sb_str(&sb, ", ");
        int_str(&sb, &list->v.items[i]);
    }
    noma__sb_add(&sb, "]", 1);
    char *out = aalloc(L, sb.len + 1);
    memcpy(out, sb.p, sb.len + 1);
    noma__sb_free(&sb);
    return out;
}

#define KEY(e) (int)(e)->klen, (e)->key

/* decimal text of prod(shape) * itemsize when it does not fit 128 bits
 * (base-1e9 limbs; absurdly long products are only described) */
static const char *big_product_text(loader *L, const jv *shape, unsigned itemsize) {
    enum { CAP = 600 };
    uint64_t acc[2 * CAP + 2] = {itemsize}, tmp[2 * CAP + 2], d[CAP + 2];
    size_t na = 1;
    for (size_t i = 0; i < shape->n; i++) {
        const jv *v = &shape->v.items[i];
        noma__sb digits = {0};
        int_str(&digits, v);
        noma__sb_cstr(&digits);
        size_t nd = 0;
        for (size_t end = digits.len; end > 0 && nd <= CAP;) {
            size_t start = end >= 9 ? end - 9 : 0;
            uint64_t limb = 0;
            for (size_t k = start; k < end; k++) limb = limb * 10 + (uint64_t)(digits.p[k] - '0');
            d[nd++] = limb;
            end = start;
        }
        noma__sb_free(&digits);
        if (nd + na > CAP) return "a number of more than 5000 digits";
        memset(tmp, 0, sizeof(uint64_t) * (na + nd + 1));
        for (size_t a = 0; a < na; a++) {
            uint64_t carry = 0;
            for (size_t b = 0; b < nd; b++) {
                uint64_t cur = tmp[a + b] + acc[a] * d[b] + carry;
                tmp[a + b] = cur % 1000000000u;
                carry = cur / 1000000000u;
            }
            size_t k = a + nd;
            while (carry) {
                uint64_t cur = tmp[k] + carry;
                tmp[k++] = cur % 1000000000u;
                carry = cur / 1000000000u;
            }
        }
        na = na + nd;
        while (na > 1 && tmp[na - 1] == 0) na--;
        memcpy(acc, tmp, sizeof(uint64_t) * na);
    }
    noma__sb out = {0};
    noma__sb_printf(&out, "%llu", (unsigned long long)acc[na - 1]);
    for (size_t k = na - 1; k-- > 0;) noma__sb_printf(&out, "%09llu", (unsigned long long)acc[k]);
    char *text = aalloc(L, out.len + 1);
    memcpy(text, noma__sb_cstr(&out), out.len + 1);
    noma__sb_free(&out);
    return text;
}

/* _entry: one tensor's header entry */
static void parse_entry(loader *L, const jv *k, const jv *spec, st_entry *e) {
    e->key = k->v.s;
    e->klen = k->n;
    if (spec->type != J_OBJ) bad(L, "entry '%.*s' is not an object", KEY(e));
    static const char *const fields[3] = {"dtype", "shape", "data_offsets"};
    const jv *f[3];
    for (int i = 0; i < 3; i++)
        if (!(f[i] = field(spec, fields[i]))) bad(L, "entry '%.*s' has no '%s'", KEY(e), fields[i]);
    const jv *dtype = f[0], *shape = f[1], *offsets = f[2];
    int f64 = dtype->type == J_STR && dtype->n == 3 && memcmp(dtype->v.s, "F64", 3) == 0;
    int f32 = dtype->type == J_STR && dtype->n == 3 && memcmp(dtype->v.s, "F32", 3) == 0;
    if (!f64 && !f32)
        bad(L, "tensor '%.*s' has unsupported dtype %s (F64 and F32 are read)", KEY(e),
            show(L, dtype));
    int ok = shape->type == J_ARR;
    for (size_t i = 0; ok && i < shape->n; i++) ok = is_count(&shape->v.items[i]);
    if (!ok)
        bad(L, "tensor '%.*s' has a bad shape %s (need non-negative integers)", KEY(e),
            show(L, shape));
    ok = offsets->type == J_ARR && offsets->n == 2 && is_count(&offsets->v.items[0]) &&
         is_count(&offsets->v.items[1]);
    if (!ok) bad(L, "tensor '%.*s' has bad data_offsets %s", KEY(e), show(L, offsets));
    const jv *b = &offsets->v.items[0], *en = &offsets->v.items[1];
    if (cmp_count(b, en) > 0)
        bad(L, "tensor '%.*s' has data_offsets out of order [%s, %s]", KEY(e), int_text(L, b),
            int_text(L, en));
    if (b->big || en->big) /* >= 2^128: far outside any file */
        bad(L, "tensor '%.*s' has data_offsets [%s, %s] outside the data (%lld bytes)", KEY(e),
            int_text(L, b), int_text(L, en), (long long)(L->size - 8 - (int64_t)L->hlen));
    /* want = prod(shape) * itemsize; `huge` when it does not fit 128 bits */
    int huge = 0, zero = 0;
    u128 want = f64 ? 8 : 4;
    for (size_t i = 0; i < shape->n; i++) {
        const jv *d = &shape->v.items[i];
        if (!d->big && d->v.i.u == 0) zero = 1;
        else if (d->big || (want && d->v.i.u > U128_MAX / want)) huge = 1;
        else want *= d->v.i.u;
    }
    if (zero) want = 0, huge = 0;
    u128 have = en->v.i.u - b->v.i.u;
    if (huge || have != want) {
        noma__sb w = {0};
        if (huge) noma__sb_str(&w, big_product_text(L, shape, f64 ? 8 : 4));
        else u128_str(&w, want);
        noma__sb hv = {0};
        u128_str(&hv, have);
        const char *ws = aalloc(L, w.len + 1), *hs = aalloc(L, hv.len + 1);
        memcpy((char *)ws, noma__sb_cstr(&w), w.len + 1);
        memcpy((char *)hs, noma__sb_cstr(&hv), hv.len + 1);
        noma__sb_free(&w);
        noma__sb_free(&hv);
        bad(L, "tensor '%.*s' has %s bytes of data, but %s shape %s needs %s", KEY(e), hs,
            f64 ? "F64" : "F32", list_text(L, shape), ws);
    }
    e->f32 = f32;
    e->begin = b->v.i.u;
    e->end = en->v.i.u;
    /* the dims, when numpy could hold them (checked later, in order, as _tensor does) */
    e->rank = (int64_t)shape->n;
    e->dims = NULL;
    int representable = shape->n <= 64;
    u128 nz = 8;
    for (size_t i = 0; representable && i < shape->n; i++) {
        const jv *d = &shape->v.items[i];
        if (d->big || d->v.i.u > (u128)INT64_MAX) representable = 0;
        else if (d->v.i.u) {
            nz *= d->v.i.u;
            if (nz > (u128)INT64_MAX) representable = 0;
        }
    }
    if (representable) {
        e->dims = aalloc(L, sizeof(int64_t) * (shape->n + 1));
        for (size_t i = 0; i < shape->n; i++) e->dims[i] = (int64_t)shape->v.items[i].v.i.u;
    } else {
        e->rank = -1; /* unsupported shape: reported after the offsets check */
        e->dims = (int64_t *)(void *)show(L, shape);
    }
}

typedef struct {
    u128 b, e;
    const st_entry *entry;
} span;

static int span_cmp(const void *x, const void *y) {
    const span *a = x, *b = y;
    if (a->b != b->b) return a->b < b->b ? -1 : 1;
    if (a->e != b->e) return a->e < b->e ? -1 : 1;
    return bytes_cmp(a->entry->key, a->entry->klen, b->entry->key, b->entry->klen);
}

static int load_impl(loader *L, noma_archive *ar) {
    if (setjmp(L->fail)) return L->rc;
    unsigned char head[8];
    int64_t got = noma__read_fully(L->fd, head, 8);
    if (got < 0) {
        L->errnum = errno;
        return L->rc = 2;
    }
    if (got < 8) bad(L, "file is %lld bytes, shorter than the 8-byte header length", (long long)got);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = (n << 8) | head[i];
    if (n > MAX_HEADER)
        bad(L, "header length %llu is over the limit of %d bytes", (unsigned long long)n,
            MAX_HEADER);
    if ((int64_t)n + 8 > L->size)
        bad(L, "header length %llu is larger than the file (%lld bytes)", (unsigned long long)n,
            (long long)L->size);
    L->header = malloc(n + 1);
    if (!L->header) bad(L, "header is too large to load (out of memory)");
    L->hlen = n;
    got = noma__read_fully(L->fd, L->header, (int64_t)n);
    if (got < 0) {
        L->errnum = errno;
        return L->rc = 2;
    }
    if ((uint64_t)got != n) bad(L, "file changed size while being read");
    L->header[n] = 0;
    /* UTF-8 */
    for (size_t i = 0; i < n;) {
        int valid;
        i += noma__u8_char((const unsigned char *)L->header + i, n - i, &valid);
        if (!valid) bad(L, "header is not valid UTF-8");
    }
    L->p = L->header;
    L->end = L->header + n;
    jv top = parse_value(L, 0);
    skip_ws(L);
    if (L->p != L->end) jfail(L, "Extra data", L->p);
    if (top.type != J_OBJ) bad(L, "header is a JSON %s, not an object", type_name(&top));
    /* entries, in order */
    st_entry *entries = aalloc(L, sizeof(st_entry) * (top.n + 1));
    size_t count = 0;
    for (size_t i = 0; i < top.n; i++) {
        const jv *k = &top.v.items[2 * i];
        if (k->n == strlen(METADATA_KEY) && memcmp(k->v.s, METADATA_KEY, k->n) == 0) continue;
        parse_entry(L, k, &top.v.items[2 * i + 1], &entries[count++]);
    }
    /* tensors may not overlap */
    span *spans = aalloc(L, sizeof(span) * (count + 1));
    size_t ns = 0;
    for (size_t i = 0; i < count; i++)
        if (entries[i].end > entries[i].begin)
            spans[ns++] = (span){entries[i].begin, entries[i].end, &entries[i]};
    qsort(spans, ns, sizeof(span), span_cmp);
    for (size_t i = 1; i < ns; i++)
        if (spans[i].b < spans[i - 1].e)
            bad(L, "tensors '%.*s' and '%.*s' overlap", KEY(spans[i - 1].entry),
                KEY(spans[i].entry));
    /* data: only the part the tensors use is read */
    uint64_t data_len = (uint64_t)L->size - 8 - n, max_end = 0;
    for (size_t i = 0; i < count; i++) {
        const st_entry *e = &entries[i];
        if (e->end > data_len) {
            noma__sb bs = {0}, es = {0};
            u128_str(&bs, e->begin);
            u128_str(&es, e->end);
            char *text = aalloc(L, bs.len + es.len + 4);
            snprintf(text, bs.len + es.len + 4, "%s, %s", noma__sb_cstr(&bs), noma__sb_cstr(&es));
            noma__sb_free(&bs);
            noma__sb_free(&es);
            bad(L, "tensor '%.*s' has data_offsets [%s] outside the data (%llu bytes)", KEY(e),
                text, (unsigned long long)data_len);
        }
        if (e->rank < 0)
            bad(L, "tensor '%.*s' has an unsupported shape %s", KEY(e), (const char *)e->dims);
        if (e->end > max_end) max_end = (uint64_t)e->end;
    }
    unsigned char *data = malloc(max_end ? max_end : 1);
    if (!data) bad(L, "tensor data is too large to load (out of memory)");
    ar->data = data;
    got = noma__read_fully(L->fd, data, (int64_t)max_end);
    if (got < 0) {
        L->errnum = errno;
        return L->rc = 2;
    }
    if ((uint64_t)got != max_end) bad(L, "file changed size while being read");
    ar->n = (int64_t)count;
    ar->e = entries;
    return 0;
}

noma_archive *noma_rt_load_safetensors(const char *path, const noma_site *site) {
    int64_t size;
    int fd = noma__open_input(path, "safetensors", &size, site);
    loader *L = calloc(1, sizeof *L);
    noma_archive *ar = calloc(1, sizeof *ar);
    char *pathcopy = strdup(path);
    if (!L || !ar || !pathcopy) {
        close(fd);
        free(L);
        free(ar);
        free(pathcopy);
        noma__oom(site);
    }
    L->fd = fd;
    L->size = size;
    int rc = load_impl(L, ar);
    close(fd);
    free(L->stack);
    free(L->sbuf);
    if (rc != 0) {
        noma__sb msg = L->msg;
        int errnum = L->errnum;
        arena_free(&L->ar);
        free(L->header);
        free(ar->data);
        free(ar);
        free(L);
        free(pathcopy);
        if (rc == 2) noma_rt_error(site, "cannot read safetensors file '%s': %s", path, strerror(errnum));
        /* `msg` leaks: the run ends */
        noma_rt_error(site, "bad safetensors file '%s': %s", path, noma__sb_cstr(&msg));
    }
    noma__sb_free(&L->msg);
    ar->path = pathcopy;
    ar->header = L->header;
    ar->ar = L->ar;
    free(L);
    return ar;
}

noma_tensor *noma_rt_archive_get(noma_tensor *out, const noma_archive *ar, const char *key,
                                 const noma_site *site) {
    if (ar->n == 0) noma_rt_error(site, "safetensors file '%s' has no tensors", ar->path);
    const st_entry *e = NULL;
    if (!key) {
        e = &ar->e[0];
        for (int64_t i = 1; i < ar->n; i++)
            if (bytes_cmp(ar->e[i].key, ar->e[i].klen, e->key, e->klen) < 0) e = &ar->e[i];
    } else {
        size_t kl = strlen(key);
        for (int64_t i = 0; i < ar->n && !e; i++)
            if (ar->e[i].klen == kl && memcmp(ar->e[i].key, key, kl) == 0) e = &ar->e[i];
        if (!e) noma_rt_error(site, "no tensor '%s' in safetensors file '%s'", key, ar->path);
    }
    int ok = e->rank <= NOMA_MAX_RANK;
    for (int64_t i = 0; ok && i < e->rank; i++) ok = e->dims[i] > 0;
    if (!ok) {
        noma__sb sb = {0};
        noma__sb_add(&sb, "[", 1);
        for (int64_t i = 0; i < e->rank; i++)
            noma__sb_printf(&sb, "%s%lld", i ? ", " : "", (long long)e->dims[i]);
        noma__sb_add(&sb, "]", 1);
        noma_rt_error(site,
                      "tensor '%.*s' in '%s' has shape %s; NOMA tensors have rank 0 to 4 and no "
                      "empty dimension",
                      KEY(e), ar->path, sb.p);
    }
    int64_t n = 1;
    for (int64_t i = 0; i < e->rank; i++) n *= e->dims[i];
    double *o = noma__ensure(out, n, site);
    const unsigned char *src = ar->data + e->begin;
    for (int64_t i = 0; i < n; i++) {
        if (e->f32) {
            uint32_t bits = 0;
            for (int k = 3; k >= 0; k--) bits = (bits << 8) | src[4 * i + k];
            float f;
            memcpy(&f, &bits, 4);
            o[i] = (double)f;
        } else {
            uint64_t bits = 0;
            for (int k = 7; k >= 0; k--) bits = (bits << 8) | src[8 * i + k];
            memcpy(&o[i], &bits, 8);
        }
    }
    noma__set_shape(out, e->rank, e->dims);
    return out;
}

/* ======================================================================== */
/* writing                                                                  */
/* ======================================================================== */

void noma_rt_save_safetensors(int64_t n, const char *const *keys,
                              const noma_tensor *const *values, const char *path,
                              const noma_site *site) {
    for (int64_t i = 0; i < n; i++)
        if (strcmp(keys[i], METADATA_KEY) == 0)
            noma_rt_error(site, "cannot write '%s': the key '%s' is reserved", path, METADATA_KEY);
    /* dict(zip(keys, values)): a repeated key keeps its first place and its last value */
    int64_t *pick = noma__xmalloc(sizeof(int64_t) * (size_t)(n + 1), site);
    int64_t m = 0;
    for (int64_t i = 0; i < n; i++) {
        int64_t seen = -1;
        for (int64_t j = 0; j < m && seen < 0; j++)
            if (strcmp(keys[pick[j]], keys[i]) == 0) seen = j;
        if (seen < 0) pick[m++] = i;
    }
    noma__sb head = {0};
    noma__sb_add(&head, "{", 1);
    uint64_t offset = 0;
    const noma_tensor **vals = noma__xmalloc(sizeof(*vals) * (size_t)(m + 1), site);
    for (int64_t j = 0; j < m; j++) {
        const char *key = keys[pick[j]];
        const noma_tensor *v = values[pick[j]];
        for (int64_t i = pick[j] + 1; i < n; i++)
            if (strcmp(keys[i], key) == 0) v = values[i];
        vals[j] = v;
        if (j) noma__sb_add(&head, ",", 1);
        json_string(&head, key, strlen(key), SIZE_MAX - 1);
        noma__sb_str(&head, ":{\"dtype\":\"F64\",\"shape\":[");
        for (int64_t d = 0; d < v->rank; d++)
            noma__sb_printf(&head, "%s%lld", d ? "," : "", (long long)v->dims[d]);
        uint64_t bytes = (uint64_t)noma__numel(v) * 8;
        noma__sb_printf(&head, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)offset,
                        (unsigned long long)(offset + bytes));
        offset += bytes;
    }
    noma__sb_add(&head, "}", 1);
    while (head.len % 8) noma__sb_add(&head, " ", 1);
    unsigned char len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (unsigned char)((uint64_t)head.len >> (8 * i));
    noma__chunk *chunks = noma__xmalloc(sizeof(noma__chunk) * (size_t)(m + 2), site);
    chunks[0] = (noma__chunk){len8, 8};
    chunks[1] = (noma__chunk){head.p, head.len};
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#error "the NOMA runtime writes safetensors data as little-endian doubles: port me"
#endif
    for (int64_t j = 0; j < m; j++)
        chunks[j + 2] = (noma__chunk){vals[j]->data, (size_t)noma__numel(vals[j]) * 8};
    free(pick);
    free(vals);
    noma__atomic_write(path, chunks, (int)(m + 2), &head, site);
    free(chunks);
    noma__sb_free(&head);
}
