/* Optional C accelerator of maildoctor.logs.scan: needle search and newline counting.
 *
 * find_lines() returns exactly what scan._find_in_part computes for one part of a file (the line
 * starts of the lines containing a needle, with the newlines before each, and the part's newline
 * count), in one pass that does both at once. It compares two bytes of the needle 16 positions at
 * a time (SSE2; 32 with AVX2 when the CPU has it, MAILDOCTOR_NO_AVX2=1 turns that off for tests)
 * and verifies candidates; case-insensitive search folds ASCII letters only, like
 * the translate table of the pure-Python path. The file is read with pread into one small buffer
 * that stays in the CPU cache: faulting in a gigabyte of mapped pages costs more than copying it,
 * and memory stays flat. The GIL is released while scanning, so threads search parts of one file
 * in parallel. tests/unit/logs compares both paths.
 */
#define _GNU_SOURCE /* memmem, memrchr */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>
#include <errno.h>
#include <unistd.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif


static inline unsigned char low(unsigned char c) { return (c >= 'A' && c <= 'Z') ? c + 32 : c; }

static inline int match_at(const unsigned char *h, const unsigned char *n, Py_ssize_t k, int icase)
{
    if (!icase) return memcmp(h, n, (size_t)k) == 0;
    for (Py_ssize_t i = 0; i < k; i++)
        if (low(h[i]) != n[i]) return 0;
    return 1;
}

static inline int popc(unsigned x) { return __builtin_popcount(x); }

static Py_ssize_t count_nl(const char *p, const char *e)
{
    Py_ssize_t n = 0;
#ifdef __SSE2__
    const __m128i nl = _mm_set1_epi8('\n');
    while (e - p >= 16) {
        n += popc((unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)p), nl)));
        p += 16;
    }
#endif
    for (; p < e; p++) n += *p == '\n';
    return n;
}

#define MAXLINE (64 << 10) /* scan.MAX_LINE: longer lines are cut */

typedef struct {
    Py_ssize_t *starts, *before;
    Py_ssize_t n, cap;
    int oom;
    /* with_text: each hit's line (without the newline and trailing CRs) in one arena; tlen -1 means
     * the line was not whole in the read buffer and is read again after the scan */
    int text;
    Py_ssize_t *toff, *tlen;
    char *arena;
    Py_ssize_t alen, acap;
} Hits;

static void *grow(void *p, Py_ssize_t cap, size_t size, int *oom)
{
    void *q = realloc(p, (size_t)cap * size);
    if (!q) *oom = 1;
    return q ? q : p;
}

static void push(Hits *h, Py_ssize_t start, Py_ssize_t before)
{
    if (h->oom) return;
    if (h->n == h->cap) {
        Py_ssize_t cap = h->cap ? h->cap * 2 : 256;
        h->starts = grow(h->starts, cap, sizeof(Py_ssize_t), &h->oom);
        h->before = grow(h->before, cap, sizeof(Py_ssize_t), &h->oom);
        if (h->text) {
            h->toff = grow(h->toff, cap, sizeof(Py_ssize_t), &h->oom);
            h->tlen = grow(h->tlen, cap, sizeof(Py_ssize_t), &h->oom);
        }
        if (h->oom) return;
        h->cap = cap;
    }
    h->starts[h->n] = start;
    h->before[h->n] = before;
    if (h->text) h->tlen[h->n] = -1;
    h->n++;
}

static Py_ssize_t line_len(const char *p, Py_ssize_t room)
{
    Py_ssize_t lim = room < MAXLINE ? room : MAXLINE;
    const char *nl = memchr(p, '\n', (size_t)lim);
    Py_ssize_t k = nl ? nl - p : lim;
    while (k > 0 && p[k - 1] == '\r') k--;
    return k;
}

/* Copy k bytes at p into the arena as the text of hit i. */
static void keep_text(Hits *h, Py_ssize_t i, const char *p, Py_ssize_t k)
{
    if (h->alen + k > h->acap) {
        Py_ssize_t cap = h->acap ? h->acap : 1 << 16;
        while (cap < h->alen + k) cap *= 2;
        h->arena = grow(h->arena, cap, 1, &h->oom);
        if (h->oom) return;
        h->acap = cap;
    }
    memcpy(h->arena + h->alen, p, (size_t)k);
    h->toff[i] = h->alen;
    h->tlen[i] = k;
    h->alen += k;
}

/* Keep the text of the hit just pushed (line start ls, the needle at pos) when the read buffer
 * (L bytes at absolute offset w) holds the whole line, or its first MAXLINE bytes. */
static void capture(Hits *h, const char *buf, Py_ssize_t L, Py_ssize_t w, Py_ssize_t ls, Py_ssize_t pos)
{
    if (!h->text || h->oom || ls < w) return;
    Py_ssize_t room = L - (ls - w);
    const char *p = buf + (ls - w);
    if (room < MAXLINE && !memchr(buf + pos, '\n', (size_t)(L - pos))) return; /* ends in a later read */
    keep_text(h, h->n - 1, p, line_len(p, room));
}

/* Read [w, w + n) of fd into buf; returns the bytes read (fewer only at the end of the file) or -1. */
static Py_ssize_t read_at(int fd, char *buf, Py_ssize_t n, Py_ssize_t w)
{
    Py_ssize_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, buf + got, (size_t)(n - got), (off_t)(w + got));
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return -1;
        if (r == 0) break;
        got += r;
    }
    return got;
}

typedef struct {
    const unsigned char *n;
    Py_ssize_t k;
    int icase;
    Py_ssize_t i0, i1;   /* the two needle positions compared first (its rarest bytes) */
    unsigned char c0, c1, f0, f1;
    Py_ssize_t nl;       /* newlines in [a, position being scanned) */
    Py_ssize_t line;     /* absolute start of the line being scanned */
    Py_ssize_t reported; /* start of the last line reported */
} Search;

/* Scan positions [0, P) of buf (absolute offset w; buf holds L >= P bytes, L - P >= k - 1 unless
 * the end is reached): count newlines, report each line holding a needle start once. */
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_AVX2_PATH 1
/* The SSE2 loop below, 32 positions at a time, for CPUs with AVX2 (checked at run time): the
 * compares cost less per byte, so the scan stays bound by copying the file. Returns where it stopped. */
__attribute__((target("avx2,popcnt"))) static inline uint64_t cand64(const char *q, Py_ssize_t i0, Py_ssize_t i1,
                                                                     __m256i v0, __m256i v1, __m256i m0, __m256i m1)
{
    __m256i a = _mm256_and_si256(
        _mm256_cmpeq_epi8(_mm256_or_si256(_mm256_loadu_si256((const __m256i *)(q + i0)), m0), v0),
        _mm256_cmpeq_epi8(_mm256_or_si256(_mm256_loadu_si256((const __m256i *)(q + i1)), m1), v1));
    __m256i b = _mm256_and_si256(
        _mm256_cmpeq_epi8(_mm256_or_si256(_mm256_loadu_si256((const __m256i *)(q + 32 + i0)), m0), v0),
        _mm256_cmpeq_epi8(_mm256_or_si256(_mm256_loadu_si256((const __m256i *)(q + 32 + i1)), m1), v1));
    return (uint32_t)_mm256_movemask_epi8(a) | (uint64_t)(uint32_t)_mm256_movemask_epi8(b) << 32;
}

/* The candidates of one 64-byte block at buf + p (rare): report each line holding the needle once.
 * nlm: the block's newlines, nl: the newlines before it. */
static void block_hits(Search *S, Hits *h, const char *buf, Py_ssize_t L, Py_ssize_t w, Py_ssize_t p,
                       uint64_t nlm, uint64_t cm, Py_ssize_t nl)
{
    while (cm) {
        int bit = __builtin_ctzll(cm);
        cm &= cm - 1;
        if (!match_at((const unsigned char *)buf + p + bit, S->n, S->k, S->icase)) continue;
        uint64_t below = nlm & ((1ull << bit) - 1);
        Py_ssize_t ls;
        if (below) {
            ls = w + p + (63 - __builtin_clzll(below)) + 1;
        } else { /* the line started before this block: looked for only here, so the loops stay lean */
            const char *back = p ? memrchr(buf, '\n', (size_t)p) : NULL;
            ls = back ? w + (back - buf) + 1 : S->line;
        }
        if (ls != S->reported) {
            Py_ssize_t before = nl;
            for (; below; below &= below - 1) before++;
            push(h, ls, before);
            capture(h, buf, L, w, ls, p + bit);
            S->reported = ls;
        }
    }
}

/* After a wide loop stopped at p: the line being scanned and the newline count. */
static Py_ssize_t wide_done(Search *S, const char *buf, Py_ssize_t w, Py_ssize_t p, Py_ssize_t nl)
{
    if (p) {
        const char *back = memrchr(buf, '\n', (size_t)p);
        if (back) S->line = w + (back - buf) + 1;
    }
    S->nl = nl;
    return p;
}

/* The SSE2 loop below, 64 positions at a time, for CPUs with AVX2 (checked at run time): the
 * compares cost less per byte, so the scan stays bound by copying the file. Returns where it stopped. */
__attribute__((target("avx2,popcnt"))) static Py_ssize_t scan_avx2(Search *S, Hits *h, const char *buf, Py_ssize_t P,
                                                                    Py_ssize_t L, Py_ssize_t w)
{
    Py_ssize_t p = 0, j = S->k - 1, i0 = S->i0, i1 = S->i1, nl = S->nl;
    const __m256i vnl = _mm256_set1_epi8('\n');
    const __m256i v0 = _mm256_set1_epi8((char)S->c0), v1 = _mm256_set1_epi8((char)S->c1);
    const __m256i m0 = _mm256_set1_epi8((char)S->f0), m1 = _mm256_set1_epi8((char)S->f1);
    while (p + 64 <= P && p + 64 + j <= L) {
        const char *q = buf + p;
        uint64_t nlm = (uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(_mm256_loadu_si256((const __m256i *)q), vnl)) |
                       (uint64_t)(uint32_t)_mm256_movemask_epi8(
                           _mm256_cmpeq_epi8(_mm256_loadu_si256((const __m256i *)(q + 32)), vnl)) << 32;
        uint64_t cm = cand64(q, i0, i1, v0, v1, m0, m1);
        if (__builtin_expect(cm != 0, 0)) block_hits(S, h, buf, L, w, p, nlm, cm, nl);
        nl += __builtin_popcountll(nlm);
        p += 64;
    }
    return wide_done(S, buf, w, p, nl);
}

/* The same with AVX-512 (BW): one compare per 64 bytes gives a mask directly. */
__attribute__((target("avx512f,avx512bw,popcnt"))) static Py_ssize_t scan_avx512(Search *S, Hits *h, const char *buf,
                                                                                  Py_ssize_t P, Py_ssize_t L, Py_ssize_t w)
{
    Py_ssize_t p = 0, j = S->k - 1, i0 = S->i0, i1 = S->i1, nl = S->nl;
    const __m512i vnl = _mm512_set1_epi8('\n');
    const __m512i v0 = _mm512_set1_epi8((char)S->c0), v1 = _mm512_set1_epi8((char)S->c1);
    const __m512i m0 = _mm512_set1_epi8((char)S->f0), m1 = _mm512_set1_epi8((char)S->f1);
    while (p + 64 <= P && p + 64 + j <= L) {
        const char *q = buf + p;
        uint64_t nlm = _mm512_cmpeq_epi8_mask(_mm512_loadu_si512((const void *)q), vnl);
        __mmask64 c0 = _mm512_cmpeq_epi8_mask(_mm512_or_si512(_mm512_loadu_si512((const void *)(q + i0)), m0), v0);
        uint64_t cm = _mm512_mask_cmpeq_epi8_mask(c0, _mm512_or_si512(_mm512_loadu_si512((const void *)(q + i1)), m1), v1);
        if (__builtin_expect(cm != 0, 0)) block_hits(S, h, buf, L, w, p, nlm, cm, nl);
        nl += __builtin_popcountll(nlm);
        p += 64;
    }
    return wide_done(S, buf, w, p, nl);
}

/* count_nl with AVX2 and the popcnt instruction (the baseline build calls a library popcount). */
__attribute__((target("avx2,popcnt"))) static Py_ssize_t count_nl_avx2(const char *p, const char *e)
{
    Py_ssize_t n = 0;
    const __m256i nl = _mm256_set1_epi8('\n');
    while (e - p >= 32) {
        n += __builtin_popcount((unsigned)_mm256_movemask_epi8(_mm256_cmpeq_epi8(_mm256_loadu_si256((const __m256i *)p), nl)));
        p += 32;
    }
    for (; p < e; p++) n += *p == '\n';
    return n;
}
static int avx2_ok = -1, avx512_ok = -1;
/* MAILDOCTOR_NO_AVX2=1 (no wide loop) and MAILDOCTOR_NO_AVX512=1 let tests compare the three loops */
static int use_avx2(void)
{
    if (avx2_ok < 0) avx2_ok = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("popcnt") ? 1 : 0;
    return avx2_ok && !getenv("MAILDOCTOR_NO_AVX2");
}
static int use_avx512(void)
{
    if (avx512_ok < 0) avx512_ok = __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("popcnt") ? 1 : 0;
    return avx512_ok && use_avx2() && !getenv("MAILDOCTOR_NO_AVX512");
}
#endif

static void scan_buf(Search *S, Hits *h, const char *buf, Py_ssize_t P, Py_ssize_t L, Py_ssize_t w)
{
    Py_ssize_t p = 0, k = S->k, j = k - 1;
#ifdef HAVE_AVX2_PATH
    if (use_avx512()) p = scan_avx512(S, h, buf, P, L, w);
    else if (use_avx2()) p = scan_avx2(S, h, buf, P, L, w);
#endif
#ifdef __SSE2__
    const __m128i vnl = _mm_set1_epi8('\n');
    const __m128i v0 = _mm_set1_epi8((char)S->c0), v1 = _mm_set1_epi8((char)S->c1);
    const __m128i m0 = _mm_set1_epi8((char)S->f0), m1 = _mm_set1_epi8((char)S->f1);
    while (p + 16 <= P && p + 16 + j <= L) {
        __m128i b = _mm_loadu_si128((const __m128i *)(buf + p));
        __m128i b0 = _mm_loadu_si128((const __m128i *)(buf + p + S->i0));
        __m128i b1 = _mm_loadu_si128((const __m128i *)(buf + p + S->i1));
        unsigned nlm = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(b, vnl));
        unsigned cm = (unsigned)_mm_movemask_epi8(_mm_and_si128(_mm_cmpeq_epi8(_mm_or_si128(b0, m0), v0),
                                                                _mm_cmpeq_epi8(_mm_or_si128(b1, m1), v1)));
        while (cm) {
            int bit = __builtin_ctz(cm);
            cm &= cm - 1;
            if (!match_at((const unsigned char *)buf + p + bit, S->n, k, S->icase)) continue;
            unsigned below = nlm & ((1u << bit) - 1);
            Py_ssize_t ls = below ? w + p + (31 - __builtin_clz(below)) + 1 : S->line;
            if (ls != S->reported) {
                push(h, ls, S->nl + popc(below));
                capture(h, buf, L, w, ls, p + bit);
                S->reported = ls;
            }
        }
        if (nlm) {
            S->line = w + p + (31 - __builtin_clz(nlm)) + 1;
            S->nl += popc(nlm);
        }
        p += 16;
    }
#endif
    for (; p < P; p++) {
        if (p + k <= L && S->line != S->reported && match_at((const unsigned char *)buf + p, S->n, k, S->icase)) {
            push(h, S->line, S->nl);
            capture(h, buf, L, w, S->line, p);
            S->reported = S->line;
        }
        if (buf[p] == '\n') {
            S->nl++;
            S->line = w + p + 1;
        }
    }
}

#define CHUNK (256 << 10)

static inline int is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
static inline int is_alnum(unsigned char c) { return is_digit(c) || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z'); }

/* An Exim message id (16 or 23 characters) at s[0..n): its length, or 0. */
static Py_ssize_t exim_id_at(const unsigned char *s, Py_ssize_t n)
{
    static const char *forms[2] = {"aaaaaa-aaaaaaaaaaa-aaaa", "aaaaaa-aaaaaa-aa"};
    for (int f = 0; f < 2; f++) {
        Py_ssize_t k = (Py_ssize_t)strlen(forms[f]), i = 0;
        if (n < k) continue;
        while (i < k && (forms[f][i] == '-' ? s[i] == '-' : is_alnum(s[i]))) i++;
        if (i == k) return k;
    }
    return 0;
}

/* The message id in an Exim line's prefix, as logs.exim.PREFIX's group 12 gives it:
 * `DATE TIME[.ffffff][ +ZONE][ [PID[:N]]][ ID]( |$)`. Its length (0: none) and offset in *at. */
static Py_ssize_t exim_head_id(const unsigned char *s, Py_ssize_t n, Py_ssize_t *at)
{
    static const char *date = "dddd-dd-dd dd:dd:dd";
    if (n < 19) return 0;
    for (int i = 0; i < 19; i++)
        if (date[i] == 'd' ? !is_digit(s[i]) : s[i] != (unsigned char)date[i]) return 0;
    Py_ssize_t p = 19, q;
    if (p < n && s[p] == '.') {
        for (q = p + 1; q < n && q - p <= 6 && is_digit(s[q]); q++) {}
        if (q > p + 1) p = q;
    }
    if (p + 6 <= n && s[p] == ' ' && (s[p + 1] == '+' || s[p + 1] == '-') && is_digit(s[p + 2]) &&
        is_digit(s[p + 3]) && is_digit(s[p + 4]) && is_digit(s[p + 5]))
        p += 6;
    if (p + 2 < n && s[p] == ' ' && s[p + 1] == '[') {
        for (q = p + 2; q < n && is_digit(s[q]); q++) {}
        if (q > p + 2 && q < n && s[q] == ':') {
            Py_ssize_t r;
            for (r = q + 1; r < n && is_digit(s[r]); r++) {}
            q = r > q + 1 ? r : -1;
        }
        if (q > p + 2 && q < n && s[q] == ']') p = q + 1;
    }
    if (p >= n || s[p] != ' ') return 0;
    Py_ssize_t k = exim_id_at(s + p + 1, n - p - 1);
    if (!k || (p + 1 + k < n && s[p + 1 + k] != ' ')) return 0;
    *at = p + 1;
    return k;
}

/* A Postfix queue id: `]: QUEUEID: ` ending within the first 160 bytes (not NOQUEUE). */
static Py_ssize_t postfix_id(const unsigned char *s, Py_ssize_t n, Py_ssize_t *at)
{
    Py_ssize_t lim = n < 160 ? n : 160;
    for (Py_ssize_t i = 0; i + 3 <= lim; i++) {
        if (s[i] != ']' || s[i + 1] != ':' || s[i + 2] != ' ') continue;
        Py_ssize_t j = i + 3;
        while (j < lim && is_alnum(s[j])) j++;
        Py_ssize_t k = j - (i + 3);
        if (k == 7 && memcmp(s + i + 3, "NOQUEUE", 7) == 0) continue; /* a rejection: no message */
        if (k >= 6 && k <= 20 && j + 2 <= lim && s[j] == ':' && s[j + 1] == ' ') {
            *at = i + 3;
            return k;
        }
    }
    return 0;
}

/* The message id of a line by id_mode (1: Exim prefix, 2: Postfix), or None. */
static PyObject *line_id(const char *line, Py_ssize_t n, int mode)
{
    Py_ssize_t at = 0, k = 0;
    if (mode == 1) k = exim_head_id((const unsigned char *)line, n, &at);
    else if (mode == 2) k = postfix_id((const unsigned char *)line, n, &at);
    if (!k) Py_RETURN_NONE;
    return PyBytes_FromStringAndSize(line + at, k);
}

/* The text of the hits whose line was not whole in a read buffer (buf: MAXLINE bytes). */
static void read_missing(int fd, Hits *h, char *buf, int *err)
{
    for (Py_ssize_t i = 0; h->text && !h->oom && !*err && i < h->n; i++) {
        if (h->tlen[i] >= 0) continue;
        Py_ssize_t L = read_at(fd, buf, MAXLINE, h->starts[i]);
        if (L < 0) { *err = errno; return; }
        keep_text(h, i, buf, line_len(buf, L));
    }
}

static void free_hits(Hits *h)
{
    free(h->starts);
    free(h->before);
    free(h->toff);
    free(h->tlen);
    free(h->arena);
}

static PyObject *py_find_lines(PyObject *self, PyObject *args)
{
    Py_buffer nd;
    int fd, icase, with_text = 0, id_mode = 0;
    Py_ssize_t a, b, i0 = 0, i1 = -1;
    (void)self;
    if (!PyArg_ParseTuple(args, "iy*pnn|nnpi", &fd, &nd, &icase, &a, &b, &i0, &i1, &with_text, &id_mode)) return NULL;
    if (nd.len == 0 || nd.len > CHUNK / 2) {
        PyBuffer_Release(&nd);
        PyErr_SetString(PyExc_ValueError, "needle empty or too long");
        return NULL;
    }
    Search S = {0};
    S.n = nd.buf;
    S.k = nd.len;
    S.icase = icase;
    if (i1 < 0) i1 = S.k - 1;
    if (i0 < 0 || i0 >= S.k) i0 = 0;
    if (i1 >= S.k) i1 = S.k - 1;
    S.i0 = i0;
    S.i1 = i1;
    S.c0 = S.n[i0];
    S.c1 = S.n[i1];
    S.f0 = (icase && S.c0 >= 'a' && S.c0 <= 'z') ? 0x20 : 0;
    S.f1 = (icase && S.c1 >= 'a' && S.c1 <= 'z') ? 0x20 : 0;
    S.line = a;
    S.reported = -1;
    Hits h = {0};
    h.text = with_text;
    int err = 0;
    char *buf = malloc(CHUNK + 16 > MAXLINE ? CHUNK + 16 : MAXLINE);
    if (!buf) {
        PyBuffer_Release(&nd);
        return PyErr_NoMemory();
    }
    Py_BEGIN_ALLOW_THREADS
    Py_ssize_t w = a;
    while (w < b) {
        Py_ssize_t want = b - w < CHUNK ? b - w : CHUNK;
        Py_ssize_t L = read_at(fd, buf, want, w);
        if (L < 0) { err = errno; break; }
        if (L == 0) break;
        int last = w + L >= b || L < want;
        Py_ssize_t P = last ? L : L - (S.k - 1);
        scan_buf(&S, &h, buf, P, L, w);
        if (last) break;
        w += P;
    }
    read_missing(fd, &h, buf, &err);
    Py_END_ALLOW_THREADS
    free(buf);
    PyBuffer_Release(&nd);
    PyObject *out = NULL;
    if (err) {
        errno = err;
        PyErr_SetFromErrno(PyExc_OSError);
        goto done;
    }
    if (h.oom) {
        PyErr_NoMemory();
        goto done;
    }
    out = PyList_New(h.n);
    if (!out) goto done;
    for (Py_ssize_t i = 0; i < h.n; i++) {
        PyObject *t = with_text ? Py_BuildValue("(nny#N)", h.starts[i], h.before[i], h.arena + h.toff[i], h.tlen[i],
                                                line_id(h.arena + h.toff[i], h.tlen[i], id_mode))
                                : Py_BuildValue("(nn)", h.starts[i], h.before[i]);
        if (!t) { Py_CLEAR(out); goto done; }
        PyList_SET_ITEM(out, i, t);
    }
    out = Py_BuildValue("(Nn)", out, S.nl);
done:
    free_hits(&h);
    return out;
}

static PyObject *py_count_newlines(PyObject *self, PyObject *args)
{
    int fd, err = 0;
    Py_ssize_t a, b, n = 0;
    (void)self;
    if (!PyArg_ParseTuple(args, "inn", &fd, &a, &b)) return NULL;
    char *buf = malloc(CHUNK);
    if (!buf) return PyErr_NoMemory();
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t w = a; w < b;) {
        Py_ssize_t L = read_at(fd, buf, b - w < CHUNK ? b - w : CHUNK, w);
        if (L < 0) { err = errno; break; }
        if (L == 0) break;
#ifdef HAVE_AVX2_PATH
        if (use_avx2()) n += count_nl_avx2(buf, buf + L); else
#endif
        n += count_nl(buf, buf + L);
        w += L;
    }
    Py_END_ALLOW_THREADS
    free(buf);
    if (err) {
        errno = err;
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    return PyLong_FromSsize_t(n);
}

/* Many exact needles at once (the ids a trace follows): a SIMD filter on two positions where all
 * the needles have the same byte (an Exim id's '-' and its leading time digits), then each
 * candidate is checked against each needle's first 8 bytes before a full compare. */
typedef struct {
    const char **nd;
    Py_ssize_t *nk;
    uint64_t *pre, *mask;
    Py_ssize_t nn, kmin, kmax, i0, i1;
    Py_ssize_t line, reported;
} Multi;

/* Whether a needle starts at q (room bytes left in the buffer). */
static int multi_match(const Multi *M, const char *q, Py_ssize_t room)
{
    uint64_t head = 0;
    memcpy(&head, q, (size_t)(room < 8 ? room : 8));
    for (Py_ssize_t i = 0; i < M->nn; i++) {
        if ((head & M->mask[i]) != M->pre[i] || M->nk[i] > room) continue;
        if (memcmp(q, M->nd[i], (size_t)M->nk[i]) == 0) return 1;
    }
    return 0;
}

static void multi_push(Multi *M, Hits *h, Py_ssize_t ls)
{
    if (ls != M->reported) {
        push(h, ls, 0);
        M->reported = ls;
    }
}

static void multi_check(Multi *M, Hits *h, const char *buf, Py_ssize_t L, Py_ssize_t w, const char *q, Py_ssize_t ls)
{
    (void)w;
    if (multi_match(M, q, L - (q - buf))) multi_push(M, h, ls);
}

#ifdef HAVE_AVX2_PATH
/* multi_buf's filter 64 positions at a time with AVX-512 (BW); a candidate's line start is looked
 * for only when a needle really starts there. Returns where it stopped. */
__attribute__((target("avx512f,avx512bw"))) static Py_ssize_t multi_avx512(Multi *M, Hits *h, const char *buf,
                                                                           Py_ssize_t P, Py_ssize_t L, Py_ssize_t w)
{
    Py_ssize_t p = 0, i0 = M->i0, i1 = M->i1;
    const __m512i v0 = _mm512_set1_epi8(M->nd[0][i0]), v1 = _mm512_set1_epi8(M->nd[0][i1]);
    while (p + 64 <= P && p + 64 + i1 <= L) {
        __mmask64 c0 = _mm512_cmpeq_epi8_mask(_mm512_loadu_si512((const void *)(buf + p + i0)), v0);
        uint64_t cm = _mm512_mask_cmpeq_epi8_mask(c0, _mm512_loadu_si512((const void *)(buf + p + i1)), v1);
        while (cm) {
            int bit = __builtin_ctzll(cm);
            cm &= cm - 1;
            const char *q = buf + p + bit;
            if (!multi_match(M, q, L - (p + bit))) continue;
            const char *back = memrchr(buf, '\n', (size_t)(p + bit));
            multi_push(M, h, back ? w + (back - buf) + 1 : M->line);
        }
        p += 64;
    }
    const char *back = p ? memrchr(buf, '\n', (size_t)p) : NULL;
    if (back) M->line = w + (back - buf) + 1;
    return p;
}
#endif

/* Positions [0, P) of buf (L bytes, absolute offset w): report each line holding a needle start. */
static void multi_buf(Multi *M, Hits *h, const char *buf, Py_ssize_t P, Py_ssize_t L, Py_ssize_t w)
{
    Py_ssize_t p = 0;
    unsigned char c0 = (unsigned char)M->nd[0][M->i0], c1 = (unsigned char)M->nd[0][M->i1];
#ifdef HAVE_AVX2_PATH
    if (use_avx512()) p = multi_avx512(M, h, buf, P, L, w);
#endif
#ifdef __SSE2__
    const __m128i vnl = _mm_set1_epi8('\n');
    const __m128i v0 = _mm_set1_epi8((char)c0), v1 = _mm_set1_epi8((char)c1);
    while (p + 16 <= P && p + 16 + M->i1 <= L && p + 16 + M->i0 <= L) {
        __m128i b = _mm_loadu_si128((const __m128i *)(buf + p));
        unsigned nlm = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(b, vnl));
        unsigned cm = (unsigned)_mm_movemask_epi8(
            _mm_and_si128(_mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(buf + p + M->i0)), v0),
                          _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(buf + p + M->i1)), v1)));
        while (cm) {
            int bit = __builtin_ctz(cm);
            cm &= cm - 1;
            unsigned below = nlm & ((1u << bit) - 1);
            Py_ssize_t ls = below ? w + p + (31 - __builtin_clz(below)) + 1 : M->line;
            multi_check(M, h, buf, L, w, buf + p + bit, ls);
        }
        if (nlm) M->line = w + p + (31 - __builtin_clz(nlm)) + 1;
        p += 16;
    }
#endif
    for (; p < P; p++) {
        if (p + M->i1 < L && (unsigned char)buf[p + M->i0] == c0 && (unsigned char)buf[p + M->i1] == c1)
            multi_check(M, h, buf, L, w, buf + p, M->line);
        if (buf[p] == '\n') M->line = w + p + 1;
    }
}

static int cmp_ssize(const void *x, const void *y)
{
    Py_ssize_t a = *(const Py_ssize_t *)x, b = *(const Py_ssize_t *)y;
    return a < b ? -1 : a > b;
}

/* find_line_starts(fd, needles, start, end): sorted, distinct starts of the lines in [start, end)
 * holding any of the needles (exact case); start must be a line start or the newline ending one.
 * One read of the range for all the needles (the ids a trace follows). */
static PyObject *py_find_line_starts(PyObject *self, PyObject *args)
{
    PyObject *seq;
    int fd, err = 0;
    Py_ssize_t a, b;
    (void)self;
    if (!PyArg_ParseTuple(args, "iOnn", &fd, &seq, &a, &b)) return NULL;
    PyObject *fast = PySequence_Fast(seq, "needles must be a sequence of bytes");
    if (!fast) return NULL;
    Py_ssize_t nn = PySequence_Fast_GET_SIZE(fast), kmax = 1;
    const char **nd = calloc((size_t)(nn ? nn : 1), sizeof(char *));
    Py_ssize_t *nk = calloc((size_t)(nn ? nn : 1), sizeof(Py_ssize_t));
    char *buf = malloc(CHUNK);
    Hits h = {0};
    PyObject *out = NULL;
    if (!nd || !nk || !buf) { PyErr_NoMemory(); goto done; }
    for (Py_ssize_t i = 0; i < nn; i++) {
        PyObject *o = PySequence_Fast_GET_ITEM(fast, i);
        if (!PyBytes_Check(o) || PyBytes_GET_SIZE(o) == 0 || PyBytes_GET_SIZE(o) > CHUNK / 2) {
            PyErr_SetString(PyExc_ValueError, "needles must be non-empty bytes");
            goto done;
        }
        nd[i] = PyBytes_AS_STRING(o);
        nk[i] = PyBytes_GET_SIZE(o);
        if (nk[i] > kmax) kmax = nk[i];
    }
    /* two positions (below the shortest needle) where every needle has the same byte */
    Multi M = {0};
    uint64_t *pre = calloc((size_t)(nn ? nn : 1), sizeof(uint64_t));
    uint64_t *msk = calloc((size_t)(nn ? nn : 1), sizeof(uint64_t));
    if (!pre || !msk) { free(pre); free(msk); PyErr_NoMemory(); goto done; }
    Py_ssize_t kmin = nn ? nk[0] : 0, i0 = -1, i1 = -1;
    for (Py_ssize_t i = 0; i < nn; i++) {
        if (nk[i] < kmin) kmin = nk[i];
        Py_ssize_t m = nk[i] < 8 ? nk[i] : 8;
        memcpy(&pre[i], nd[i], (size_t)m);
        msk[i] = m == 8 ? ~(uint64_t)0 : (((uint64_t)1 << (8 * m)) - 1);
    }
    for (Py_ssize_t j = 0; j < kmin; j++) {
        Py_ssize_t i = 1;
        while (i < nn && nd[i][j] == nd[0][j]) i++;
        if (i < nn) continue;
        if (i0 < 0) i0 = j;
        i1 = j;
    }
    M.nd = nd; M.nk = nk; M.pre = pre; M.mask = msk; M.nn = nn; M.kmin = kmin; M.kmax = kmax;
    M.i0 = i0; M.i1 = i1; M.line = a; M.reported = -1;
    int use_multi = nn > 1 && i0 >= 0;
    Py_BEGIN_ALLOW_THREADS
    Py_ssize_t w = a, line = a;
    while (nn && w < b) {
        Py_ssize_t want = b - w < CHUNK ? b - w : CHUNK;
        Py_ssize_t L = read_at(fd, buf, want, w);
        if (L < 0) { err = errno; break; }
        if (L == 0) break;
        int last = w + L >= b || L < want;
        Py_ssize_t P = last ? L : L - (kmax - 1);
        if (use_multi) {
            multi_buf(&M, &h, buf, P, L, w);
            if (last) break;
            w += P;
            continue;
        }
        for (Py_ssize_t i = 0; i < nn; i++) {
            const char *q = buf, *lim = buf + (P + nk[i] - 1 < L ? P + nk[i] - 1 : L);
            while ((q = memmem(q, (size_t)(lim - q), nd[i], (size_t)nk[i])) != NULL) {
                const char *nl = memrchr(buf, '\n', (size_t)(q - buf));
                Py_ssize_t ls = nl ? w + (nl - buf) + 1 : line;
                if (!h.n || h.starts[h.n - 1] != ls) push(&h, ls, 0);
                const char *eol = memchr(q, '\n', (size_t)(lim - q));
                if (!eol) break;
                q = eol;
            }
        }
        const char *nl = memrchr(buf, '\n', (size_t)P);
        if (nl) line = w + (nl - buf) + 1;
        if (last) break;
        w += P;
    }
    Py_END_ALLOW_THREADS
    free(pre);
    free(msk);
    if (err) {
        errno = err;
        PyErr_SetFromErrno(PyExc_OSError);
        goto done;
    }
    if (h.oom) { PyErr_NoMemory(); goto done; }
    if (h.n) qsort(h.starts, (size_t)h.n, sizeof(Py_ssize_t), cmp_ssize);
    out = PyList_New(0);
    for (Py_ssize_t i = 0; out && i < h.n; i++) {
        if (i && h.starts[i] == h.starts[i - 1]) continue;
        PyObject *v = PyLong_FromSsize_t(h.starts[i]);
        if (!v || PyList_Append(out, v) < 0) { Py_XDECREF(v); Py_CLEAR(out); break; }
        Py_DECREF(v);
    }
done:
    free_hits(&h);
    free(buf);
    free(nd);
    free(nk);
    Py_DECREF(fast);
    return out;
}

static PyMethodDef methods[] = {
    {"find_lines", py_find_lines, METH_VARARGS,
     "find_lines(fd, needle, ignore_case, start, end, i0=0, i1=-1, with_text=False, id_mode=0) -> ([(line_start, "
     "newlines_before[, line, id])], newlines); i0, i1: the needle positions compared first (say, its rarest "
     "bytes); line: the text without its newline and trailing CRs, cut at 64 KiB; id: the message id of the line "
     "(id_mode 1: in an Exim line's prefix, 2: a Postfix queue id) or None"},
    {"find_line_starts", py_find_line_starts, METH_VARARGS,
     "find_line_starts(fd, needles, start, end) -> sorted starts of the lines holding any needle"},
    {"count_newlines", py_count_newlines, METH_VARARGS, "count_newlines(fd, start, end) -> int"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_find", NULL, -1, methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__find(void) { return PyModule_Create(&module); }
