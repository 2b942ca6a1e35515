/* The `main` of standalone NOMA executables (`nomac build-exe`).
 *
 * The compiler emits `int main(int argc, char **argv)` calling
 * noma_rt_main(argc, argv, noma_entry, default_seed): this parses the
 * command line (`--seed N` or `--seed=N`, N an integer of any size taken
 * modulo 2^64, so a negative seed wraps as two's complement; `--help`) and
 * runs the program with noma_rt_run.  Exit status: 0 ok, 1 user error (reported by the
 * runtime), 2 bad command line, 130 interrupted by Ctrl-C (noma_rt_run's
 * SIGINT handler prints "interrupted").
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "noma_rt.h"

int noma_rt_main(int argc, char **argv, void (*entry)(void), uint64_t default_seed);

static int usage(const char *prog, FILE *out) {
    fprintf(out, "usage: %s [--seed N]\n", prog);
    return out == stdout ? 0 : 2;
}

/* Parse an integer seed (optional sign); 0 on success. */
static int parse_seed(const char *text, uint64_t *seed) {
    const char *digits = text;
    int negative = 0;
    if (*digits == '-' || *digits == '+') {
        negative = *digits == '-';
        digits++;
    }
    if (*digits < '0' || *digits > '9') return -1;
    /* Any number of digits, taken modulo 2^64 like `nomac run --seed`. */
    uint64_t value = 0;
    for (const char *c = digits; *c != '\0'; c++) {
        if (*c < '0' || *c > '9') return -1;
        value = value * 10u + (uint64_t)(*c - '0');
    }
    *seed = negative ? (uint64_t)0 - value : value;
    return 0;
}

static int bad_seed(const char *prog, const char *text) {
    fprintf(stderr, "error: --seed expects an integer, got '%s'\n", text);
    return usage(prog, stderr);
}

int noma_rt_main(int argc, char **argv, void (*entry)(void), uint64_t default_seed) {
    const char *prog = argc > 0 && argv[0] != NULL ? argv[0] : "program";
    uint64_t seed = default_seed;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            return usage(prog, stdout);
        } else if (strcmp(arg, "--seed") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "error: --seed expects a value\n");
                return usage(prog, stderr);
            }
            if (parse_seed(argv[++i], &seed) != 0) return bad_seed(prog, argv[i]);
        } else if (strncmp(arg, "--seed=", 7) == 0) {
            if (parse_seed(arg + 7, &seed) != 0) return bad_seed(prog, arg + 7);
        } else {
            fprintf(stderr, "error: unknown argument '%s'\n", arg);
            return usage(prog, stderr);
        }
    }
    return noma_rt_run(entry, seed);
}
