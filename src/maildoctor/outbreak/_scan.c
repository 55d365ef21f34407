/* Optional C accelerator of maildoctor.outbreak.fastscan.scan_block.
 *
 * It recognises exactly the lines fastscan._LINE matches (same grammar, hand-written: one pass,
 * no regex engine, no tuple per line) and does the commonest updates of the Aggregate itself:
 * a delivery of a message whose arrival listed its recipients, Completed, mail from the internet
 * to local users, a deferral of a known message. Every other relevant line goes to the Python
 * callback `slow(ts, pid, mid, flag, rest, lineno, line_start, line_end)`, which runs the same
 * Aggregate methods as the pure-Python path. tests/unit/outbreak checks both give the same
 * aggregate. Without a compiler the package falls back to the pure-Python path.
 */
#define _GNU_SOURCE
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

enum { F_NONE, F_ARR, F_DEL, F_ADD, F_COPY, F_FAIL, F_DEFER, F_DONE, F_CWD, F_COUNT };

/* Stats list layout of maildoctor.outbreak.aggregate */
#define RCPTS 1
#define DELIVERED 3
#define DEFERRED 5

typedef struct {
    const char *ts;
    const char *pid;
    Py_ssize_t pidlen;
    const char *mid;
    Py_ssize_t midlen;
    const char *rest;
    Py_ssize_t restlen;
} Line;

static inline int dig(char c) { return c >= '0' && c <= '9'; }
static inline int aln(char c) { return dig(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

/* The grammar of fastscan._LINE at the start of one line [p, e). Returns the F_* kind. */
static int parse_line(const char *p, const char *e, Line *L)
{
    static const char pat[] = "dddd-dd-dd dd:dd:dd";
    const char *q, *r, *s, *t;
    if (e - p < 24)
        return F_NONE;
    for (int i = 0; i < 19; i++) {
        if (pat[i] == 'd' ? !dig(p[i]) : p[i] != pat[i])
            return F_NONE;
    }
    L->ts = p;
    q = p + 19;
    while (q < e && (*q == '.' || dig(*q)))
        q++;
    if (e - q >= 6 && q[0] == ' ' && (q[1] == '+' || q[1] == '-') && dig(q[2]) && dig(q[3]) && dig(q[4]) &&
        dig(q[5]))
        q += 6;
    L->pid = NULL;
    L->pidlen = 0;
    if (e - q >= 2 && q[0] == ' ' && q[1] == '[') {
        s = r = q + 2;
        while (r < e && dig(*r))
            r++;
        if (r > s) {
            t = r;
            if (t + 1 < e && *t == ':' && dig(t[1])) {
                t++;
                while (t < e && dig(*t))
                    t++;
            }
            if (t < e && *t == ']') {
                L->pid = s;
                L->pidlen = r - s;
                q = t + 1;
            }
        }
    }
    if (q >= e || *q != ' ')
        return F_NONE;
    q++;
    /* message id: [0-9A-Za-z]{6}-[0-9A-Za-z]{6,11}-[0-9A-Za-z]{2,4} then a space and the flag */
    r = q;
    if (e - r > 7) {
        int ok = 1;
        for (int i = 0; i < 6; i++)
            ok &= aln(r[i]);
        if (ok && r[6] == '-') {
            s = t = r + 7;
            while (t < e && aln(*t))
                t++;
            if (t - s >= 6 && t - s <= 11 && t < e && *t == '-') {
                s = ++t;
                while (t < e && aln(*t))
                    t++;
                if (t - s >= 2 && t - s <= 4 && t < e && *t == ' ') {
                    int kind = F_NONE;
                    Py_ssize_t flen = 2;
                    L->mid = r;
                    L->midlen = t - r;
                    t++;
                    if (e - t >= 2) {
                        char a = t[0], b = t[1];
                        if (a == '<' && b == '=')
                            kind = F_ARR;
                        else if (a == '=' && b == '>')
                            kind = F_DEL;
                        else if (a == '-' && b == '>')
                            kind = F_ADD;
                        else if (a == '>' && b == '>')
                            kind = F_COPY;
                        else if (a == '*' && b == '*')
                            kind = F_FAIL;
                        else if (a == '=' && b == '=')
                            kind = F_DEFER;
                        else if (e - t >= 9 && memcmp(t, "Completed", 9) == 0) {
                            kind = F_DONE;
                            flen = 9;
                        }
                    }
                    if (kind != F_NONE) {
                        L->rest = t + flen;
                        L->restlen = e - L->rest;
                        return kind;
                    }
                }
            }
        }
    }
    if (e - q >= 4 && memcmp(q, "cwd=", 4) == 0) {
        L->mid = q;
        L->midlen = 0;
        L->rest = q + 4;
        L->restlen = e - L->rest;
        return F_CWD;
    }
    return F_NONE;
}

static Py_ssize_t find(const char *h, Py_ssize_t n, Py_ssize_t from, const char *needle, Py_ssize_t m)
{
    if (from < 0 || from > n)
        return -1;
    const char *f = m == 1 ? memchr(h + from, needle[0], (size_t)(n - from))
                           : memmem(h + from, (size_t)(n - from), needle, (size_t)m);
    return f ? f - h : -1;
}

static int startswith(const char *s, Py_ssize_t n, const char *prefix)
{
    Py_ssize_t m = (Py_ssize_t)strlen(prefix);
    return n >= m && memcmp(s, prefix, (size_t)m) == 0;
}

/* aggregate.is_internal_ip */
static int is_internal_ip(const char *ip, Py_ssize_t n)
{
    if (memchr(ip, ':', (size_t)n)) {
        char low[64];
        if (n >= (Py_ssize_t)sizeof(low)) {
            /* longer than any prefix/literal we compare with: only the prefixes can match */
            n = sizeof(low) - 1;
        }
        for (Py_ssize_t i = 0; i < n; i++)
            low[i] = (ip[i] >= 'A' && ip[i] <= 'Z') ? (char)(ip[i] + 32) : ip[i];
        if ((n == 3 && memcmp(low, "::1", 3) == 0) || (n == 15 && memcmp(low, "0:0:0:0:0:0:0:1", 15) == 0))
            return 1;
        return startswith(low, n, "fc") || startswith(low, n, "fd") || startswith(low, n, "::ffff:127.") ||
               startswith(low, n, "::ffff:10.");
    }
    if (startswith(ip, n, "127.") || startswith(ip, n, "10.") || startswith(ip, n, "192.168."))
        return 1;
    if (n >= 7 && memcmp(ip, "172.", 4) == 0 && dig(ip[4]) && dig(ip[5]) && ip[6] == '.') {
        int v = (ip[4] - '0') * 10 + (ip[5] - '0');
        return v >= 16 && v <= 31;
    }
    return 0;
}

/* Python's int(bytes) of an all-digit field */
static PyObject *digits_to_int(const char *s, Py_ssize_t n)
{
    if (n <= 18) {
        long long v = 0;
        for (Py_ssize_t i = 0; i < n; i++)
            v = v * 10 + (s[i] - '0');
        return PyLong_FromLongLong(v);
    }
    PyObject *b = PyBytes_FromStringAndSize(s, n);
    if (!b)
        return NULL;
    PyObject *v = PyLong_FromString(PyBytes_AS_STRING(b), NULL, 10);
    Py_DECREF(b);
    return v;
}

static int list_add(PyObject *lst, Py_ssize_t i, PyObject *by)
{
    PyObject *old = PyList_GET_ITEM(lst, i);
    PyObject *v = PyNumber_Add(old, by);
    if (!v)
        return -1;
    PyList_SET_ITEM(lst, i, v);
    Py_DECREF(old);
    return 0;
}

static int dict_incr(PyObject *d, PyObject *key, PyObject *one)
{
    PyObject *old = PyDict_GetItemWithError(d, key);
    if (!old) {
        if (PyErr_Occurred())
            return -1;
        return PyDict_SetItem(d, key, one);
    }
    PyObject *v = PyNumber_Add(old, one);
    if (!v)
        return -1;
    int rc = PyDict_SetItem(d, key, v);
    Py_DECREF(v);
    return rc;
}

static int is_stats(PyObject *st) { return PyList_CheckExact(st) && PyList_GET_SIZE(st) > DEFERRED; }

/* Counts of the current time bucket not yet added to the Aggregate's dicts: an int object per
 * line would cost more than the rest of the line. Added when the bucket changes and at the end. */
typedef struct {
    long long done, arr_n, arr_size;
} Pending;

static int flush(Pending *P, PyObject *bucket, PyObject *arrivals, PyObject *completions)
{
    if (P->done && completions) {
        PyObject *v = PyLong_FromLongLong(P->done);
        int bad = !v || dict_incr(completions, bucket, v);
        Py_XDECREF(v);
        if (bad)
            return -1;
        P->done = 0;
    }
    if (P->arr_n) {
        PyObject *arr = PyDict_GetItemWithError(arrivals, bucket);
        if (!arr || !PyList_CheckExact(arr) || PyList_GET_SIZE(arr) != 2) {
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_TypeError, "arrivals rows must be [messages, bytes] lists");
            return -1;
        }
        PyObject *n = PyLong_FromLongLong(P->arr_n), *z = PyLong_FromLongLong(P->arr_size);
        int bad = !n || !z || list_add(arr, 0, n) || list_add(arr, 1, z);
        Py_XDECREF(n);
        Py_XDECREF(z);
        if (bad)
            return -1;
    }
    P->arr_n = P->arr_size = 0;
    return 0;
}

/* Message ids as bytes objects, one per message rather than one per line: a message's lines are
 * close together, and a dict finds the very same key object without comparing bytes. */
#define MIDCACHE 4096
static unsigned int fnv(const char *s, Py_ssize_t n)
{
    unsigned int h = 2166136261u;
    for (Py_ssize_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

static PyObject *mid_get(PyObject **cache, const char *s, Py_ssize_t n, unsigned int h)
{
    PyObject **slot = &cache[h & (MIDCACHE - 1)], *o = *slot;
    if (o && PyBytes_GET_SIZE(o) == n && memcmp(PyBytes_AS_STRING(o), s, (size_t)n) == 0) {
        Py_INCREF(o);
        return o;
    }
    if (!(o = PyBytes_FromStringAndSize(s, n)))
        return NULL;
    Py_XSETREF(*slot, o);
    Py_INCREF(o);
    return o;
}

/* Which ids may be in Aggregate.deferred_ids: a bit per id hash, set for what the set held when
 * the block started and for every id added since (bits are never cleared: a false "maybe" only
 * costs a set lookup). Most messages are never deferred; their Completed skips the set. */
#define DBITS (1u << 18)
#define DBIT(h) (((h) >> 7) & (DBITS - 1))

static int seed_deferred(unsigned char *bits, PyObject *deferred)
{
    PyObject *it = PyObject_GetIter(deferred), *key;
    if (!it)
        return -1;
    while ((key = PyIter_Next(it))) {
        unsigned int h = PyBytes_Check(key) ? fnv(PyBytes_AS_STRING(key), PyBytes_GET_SIZE(key)) : 0;
        if (!PyBytes_Check(key))
            memset(bits, 0xff, DBITS / 8); /* not an id: no filtering */
        bits[DBIT(h) >> 3] |= (unsigned char)(1u << (DBIT(h) & 7));
        Py_DECREF(key);
    }
    Py_DECREF(it);
    return PyErr_Occurred() ? -1 : 0;
}

/* The `<=` line of mail from the internet to a local user, as scan_block's inline test.
 * Returns 1 when handled, 0 when the slow path must take it, -1 on error. */
static int inbound_arrival(const Line *L, PyObject *mid, PyObject *bucket, PyObject *arrivals, PyObject *inflight,
                           PyObject *inbound, PyObject *one, Pending *P)
{
    const char *r = L->rest;
    Py_ssize_t n = L->restlen;
    Py_ssize_t h = find(r, n, 0, " H=", 3);
    if (h <= 0 || startswith(r, n, " <>") || find(r, n, 0, " A=", 3) >= 0)
        return 0;
    Py_ssize_t lb = find(r, n, h, "[", 1);
    Py_ssize_t rb = lb >= 0 ? find(r, n, lb, "]", 1) : -1;
    if (!(0 < lb && lb < rb) || is_internal_ip(r + lb + 1, rb - lb - 1))
        return 0;
    Py_ssize_t i = find(r, n, 0, " S=", 3);
    long long small = 0;
    int is_small = 1;
    PyObject *size = NULL;
    if (i > 0) {
        Py_ssize_t end = find(r, n, i + 3, " ", 1);
        Py_ssize_t stop = end > 0 ? end : n;
        Py_ssize_t k = i + 3, ok = stop > k;
        for (Py_ssize_t j = k; j < stop && ok; j++)
            ok = dig(r[j]);
        if (ok && stop - k <= 15) {
            for (Py_ssize_t j = k; j < stop; j++)
                small = small * 10 + (r[j] - '0');
        } else if (ok) {
            is_small = 0;
            if (!(size = digits_to_int(r + k, stop - k)))
                return -1;
        }
    }
    int rc = -1;
    PyObject *arr = PyDict_GetItemWithError(arrivals, bucket);
    if (is_small) {
        /* counted in P; the row must exist now, so the dict keeps its order of first arrival */
        if (!arr) {
            if (PyErr_Occurred())
                return -1;
            PyObject *zero = PyLong_FromLong(0);
            PyObject *lst = zero ? PyList_New(2) : NULL;
            if (!lst) {
                Py_XDECREF(zero);
                return -1;
            }
            Py_INCREF(zero);
            PyList_SET_ITEM(lst, 0, zero);
            PyList_SET_ITEM(lst, 1, zero);
            int bad = PyDict_SetItem(arrivals, bucket, lst);
            Py_DECREF(lst);
            if (bad)
                return -1;
        }
        if (P->arr_size > (1LL << 60) && flush(P, bucket, arrivals, NULL))
            return -1;
        P->arr_n++;
        P->arr_size += small;
        return PyDict_SetItem(inflight, mid, inbound) ? -1 : 1;
    }
    if (!arr) {
        if (PyErr_Occurred())
            goto done;
        PyObject *lst = PyList_New(2);
        if (!lst)
            goto done;
        Py_INCREF(one);
        Py_INCREF(size);
        PyList_SET_ITEM(lst, 0, one);
        PyList_SET_ITEM(lst, 1, size);
        int bad = PyDict_SetItem(arrivals, bucket, lst);
        Py_DECREF(lst);
        if (bad)
            goto done;
    } else {
        if (!PyList_CheckExact(arr) || PyList_GET_SIZE(arr) != 2) {
            PyErr_SetString(PyExc_TypeError, "arrivals rows must be [messages, bytes] lists");
            goto done;
        }
        if (list_add(arr, 0, one) || list_add(arr, 1, size))
            goto done;
    }
    if (PyDict_SetItem(inflight, mid, inbound))
        goto done;
    rc = 1;
done:
    Py_DECREF(size);
    return rc;
}

/* Stats list layout of maildoctor.outbreak.aggregate (checked against it by the Python side) */
#define MSGS 0
#define BYTES 2
#define FIRST 6
#define LAST 7
#define HIST 8
#define DOMAINS 9
#define EVIDENCE 10
#define FAIL_EVIDENCE 11
#define IPS 12
#define NSTATS 13
#define FAILED 4

typedef struct {
    PyObject *agg, *sigs, *inflight, *cwd_by_pid, *new_stats, *path, *start, *one, *unknown, *last_cwd_name;
    PyObject *inbound, *bounce_in, *backscatter;
    Py_ssize_t domain_cap, ip_cap, evidence_cap, bucket_chars, ip_table_cap;
} Ctx;

/* bytes.find(needle, from, to) for a non-empty needle */
static Py_ssize_t findb(const char *h, Py_ssize_t n, Py_ssize_t from, Py_ssize_t to, const char *needle)
{
    Py_ssize_t m = (Py_ssize_t)strlen(needle);
    if (to > n)
        to = n;
    if (from < 0 || to - from < m)
        return -1;
    return find(h, to, from, needle, m); /* searching [from, to) is searching a buffer that ends at to */
}

static Py_ssize_t rfindb(const char *h, Py_ssize_t n, const char *needle)
{
    Py_ssize_t m = (Py_ssize_t)strlen(needle);
    for (Py_ssize_t i = n - m; i >= 0; i--) {
        if (h[i] == needle[0] && memcmp(h + i, needle, (size_t)m) == 0)
            return i;
    }
    return -1;
}

static PyObject *lower_bytes(const char *s, Py_ssize_t n)
{
    PyObject *b = PyBytes_FromStringAndSize(NULL, n);
    if (!b)
        return NULL;
    char *d = PyBytes_AS_STRING(b);
    for (Py_ssize_t i = 0; i < n; i++)
        d[i] = (s[i] >= 'A' && s[i] <= 'Z') ? (char)(s[i] + 32) : s[i];
    return b;
}

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\x0b' || c == '\x0c'; }

/* The next whitespace-separated word of r[*i..n): its start in *a, *i just after it; 0 at the end
 * (Python's str.split() words: the recipient list of a `<=` line). */
static int next_word(const char *r, Py_ssize_t n, Py_ssize_t *i, Py_ssize_t *a)
{
    while (*i < n && is_space(r[*i]))
        (*i)++;
    if (*i >= n)
        return 0;
    *a = *i;
    while (*i < n && !is_space(r[*i]))
        (*i)++;
    return 1;
}

/* fastscan.parse_arrival_fields, as offsets into rest (-1: None). */
typedef struct {
    Py_ssize_t sender_a, sender_b, ip_a, ip_b, user_a, user_b, auth_a, auth_b, rcpt_a;
    int ip_unknown;
    PyObject *size;
} Fields;

static int arrival_fields(const char *r, Py_ssize_t n, Fields *F)
{
    Py_ssize_t sp = findb(r, n, 1, n, " ");
    F->sender_a = n >= 1 ? 1 : n;
    F->sender_b = sp < 0 ? n : sp;
    if (F->sender_b < F->sender_a)
        F->sender_b = F->sender_a;
    Py_ssize_t cut = findb(r, n, 0, n, " id=");
    if (cut < 0) {
        cut = findb(r, n, 0, n, " T=\"");
        if (cut < 0)
            cut = n;
    }
    F->ip_a = F->user_a = F->auth_a = -1;
    F->ip_b = F->user_b = F->auth_b = -1;
    F->ip_unknown = 0;
    Py_ssize_t h = findb(r, n, 0, cut, " H=");
    if (h >= 0) {
        Py_ssize_t lb = findb(r, n, h, cut, "[");
        Py_ssize_t rb = lb >= 0 ? findb(r, n, lb, cut, "]") : -1;
        if (rb > lb && lb >= 0) {
            F->ip_a = lb + 1;
            F->ip_b = rb;
        } else {
            F->ip_unknown = 1;
            F->ip_a = F->ip_b = 0;
        }
        Py_ssize_t i = findb(r, n, h, cut, " A=");
        if (i >= 0) {
            Py_ssize_t colon = findb(r, n, i, cut, ":");
            Py_ssize_t end = findb(r, n, i + 3, cut, " ");
            if (end < 0)
                end = cut;
            Py_ssize_t a = (0 <= colon && colon < end) ? colon + 1 : i + 3;
            if (end > a) {
                F->auth_a = a;
                F->auth_b = end;
            }
        }
    } else {
        Py_ssize_t i = findb(r, n, 0, cut, " U=");
        if (i >= 0) {
            Py_ssize_t end = findb(r, n, i + 3, cut, " ");
            F->user_a = i + 3 < cut ? i + 3 : cut;
            F->user_b = end < 0 ? cut : end;
            if (F->user_b < F->user_a)
                F->user_b = F->user_a;
        }
    }
    F->size = NULL;
    Py_ssize_t i = findb(r, n, 0, cut, " S=");
    if (i >= 0) {
        Py_ssize_t end = findb(r, n, i + 3, cut, " ");
        Py_ssize_t stop = end < 0 ? cut : end, k = i + 3;
        int ok = stop > k;
        for (Py_ssize_t j = k; j < stop && ok; j++)
            ok = dig(r[j]);
        if (ok)
            F->size = digits_to_int(r + k, stop - k);
    }
    if (!F->size)
        F->size = PyLong_FromLong(0);
    if (!F->size)
        return -1;
    F->rcpt_a = -1;
    Py_ssize_t f = rfindb(r, n, " for ");
    if (f >= cut || (f >= 0 && cut == n)) {
        if (!memchr(r + f + 5, '"', (size_t)(n - f - 5)))
            F->rcpt_a = f + 5;
    }
    return 0;
}

static PyObject *slice(const char *r, Py_ssize_t a, Py_ssize_t b) { return PyBytes_FromStringAndSize(r + a, b - a); }

/* Aggregate.on_cwd */
static int on_cwd(Ctx *C, const Line *L, PyObject *ts, PyObject *pid)
{
    const char *sp = memchr(L->rest, ' ', (size_t)L->restlen);
    Py_ssize_t n = sp ? sp - L->rest : L->restlen;
    if (startswith(L->rest, n, "/var/spool/exim"))
        return 0;
    PyObject *path = PyBytes_FromStringAndSize(L->rest, n);
    if (!path)
        return -1;
    PyObject *cwd = PyTuple_Pack(3, ts, path, pid);
    Py_DECREF(path);
    if (!cwd)
        return -1;
    int rc = PyObject_SetAttr(C->agg, C->last_cwd_name, cwd);
    if (!rc && PyBytes_GET_SIZE(pid)) {
        if (PyDict_GET_SIZE(C->cwd_by_pid) > 10000)
            PyDict_Clear(C->cwd_by_pid);
        rc = PyDict_SetItem(C->cwd_by_pid, pid, cwd);
    }
    Py_DECREF(cwd);
    return rc;
}

static int list_set(PyObject *lst, Py_ssize_t i, PyObject *v)
{
    Py_INCREF(v);
    return PyList_SetItem(lst, i, v);
}

static int dict_add(PyObject *d, PyObject *key, PyObject *by)
{
    PyObject *old = PyDict_GetItemWithError(d, key);
    if (!old)
        return PyErr_Occurred() ? -1 : PyDict_SetItem(d, key, by);
    PyObject *v = PyNumber_Add(old, by);
    if (!v)
        return -1;
    int rc = PyDict_SetItem(d, key, v);
    Py_DECREF(v);
    return rc;
}

/* Aggregate._count_ip for an IP already in the table (a new one goes through Python: table cap) */
static int count_ip(Ctx *C, PyObject *ip, PyObject *ts, PyObject *bucket)
{
    static PyObject *name = NULL;
    if (!name && !(name = PyUnicode_InternFromString("client_ips")))
        return -1;
    PyObject *table = PyObject_GetAttr(C->agg, name);
    if (!table)
        return -1;
    PyObject *row = PyDict_Check(table) ? PyDict_GetItemWithError(table, ip) : NULL;
    if (!row && !PyErr_Occurred() && PyDict_Check(table) && PyDict_GET_SIZE(table) < C->ip_table_cap) {
        /* a new row [messages, first, last, histogram or None]; at the cap, Python trims the table */
        PyObject *fresh = PyList_New(4);
        if (!fresh) {
            Py_DECREF(table);
            return -1;
        }
        Py_INCREF(C->one);
        Py_INCREF(ts);
        Py_INCREF(ts);
        Py_INCREF(Py_None);
        PyList_SET_ITEM(fresh, 0, C->one);
        PyList_SET_ITEM(fresh, 1, ts);
        PyList_SET_ITEM(fresh, 2, ts);
        PyList_SET_ITEM(fresh, 3, Py_None);
        int bad = PyDict_SetItem(table, ip, fresh);
        Py_DECREF(fresh);
        Py_DECREF(table);
        return bad;
    }
    Py_DECREF(table);
    if (!row || !PyList_CheckExact(row) || PyList_GET_SIZE(row) != 4) {
        if (PyErr_Occurred())
            return -1;
        PyObject *r = PyObject_CallMethod(C->agg, "_count_ip", "OOO", ip, ts, bucket);
        Py_XDECREF(r);
        return r ? 0 : -1;
    }
    if (list_add(row, 0, C->one) || list_set(row, 2, ts))
        return -1;
    PyObject *hist = PyList_GET_ITEM(row, 3);
    if (hist == Py_None) {
        PyObject *first = PyList_GET_ITEM(row, 1);
        if (!PyBytes_Check(first))
            return -1;
        Py_ssize_t k = PyBytes_GET_SIZE(first) < C->bucket_chars ? PyBytes_GET_SIZE(first) : C->bucket_chars;
        PyObject *key = PyBytes_FromStringAndSize(PyBytes_AS_STRING(first), k);
        if (!key)
            return -1;
        hist = PyDict_New();
        int bad = !hist || PyDict_SetItem(hist, key, C->one);
        Py_DECREF(key);
        if (bad || PyList_SetItem(row, 3, hist)) /* steals hist */
            return -1;
    }
    return dict_add(hist, bucket, C->one);
}

/* Aggregate.on_arrival for mail that counts toward a sending source (authenticated, local or
 * relayed for an internal host). 1: handled, 0: leave it to the slow path, -1: error. */
static int outgoing_arrival(Ctx *C, const Line *L, PyObject *mid, PyObject *bucket, PyObject *arrivals,
                            PyObject *pid, Py_ssize_t lineno, const char *line, Py_ssize_t linelen)
{
    const char *r = L->rest;
    Py_ssize_t n = L->restlen;
    Fields F;
    int rc = -1;
    PyObject *ts = NULL, *ip = NULL, *user = NULL, *auth = NULL, *sender = NULL, *sig = NULL, *script = NULL;
    if (arrival_fields(r, n, &F))
        return -1;
    Py_ssize_t slen = F.sender_b - F.sender_a;
    int has_ip = F.ip_a >= 0, has_auth = F.auth_a >= 0;
    int bounce = slen == 0 || (slen == 2 && memcmp(r + F.sender_a, "<>", 2) == 0);
    /* from the internet to a local user (b"unknown" is not an internal address either) */
    int inbound =
        has_ip && !has_auth && (F.ip_unknown || !is_internal_ip(r + F.ip_a, F.ip_b - F.ip_a));
    if (!(ts = PyBytes_FromStringAndSize(L->ts, 19)))
        goto done;
    /* all mail counts toward the arrival rate */
    PyObject *arr = PyDict_GetItemWithError(arrivals, bucket);
    if (!arr) {
        if (PyErr_Occurred())
            goto done;
        PyObject *lst = PyList_New(2);
        if (!lst)
            goto done;
        Py_INCREF(C->one);
        Py_INCREF(F.size);
        PyList_SET_ITEM(lst, 0, C->one);
        PyList_SET_ITEM(lst, 1, F.size);
        int bad = PyDict_SetItem(arrivals, bucket, lst);
        Py_DECREF(lst);
        if (bad)
            goto done;
    } else if (!PyList_CheckExact(arr) || PyList_GET_SIZE(arr) != 2 || list_add(arr, 0, C->one) ||
               list_add(arr, 1, F.size)) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_TypeError, "arrivals rows must be [messages, bytes] lists");
        goto done;
    }
    if (!has_ip) {
        /* the cwd= line of the same process (or the same minute) names the script */
        PyObject *cwd = NULL;
        if (PyBytes_GET_SIZE(pid)) {
            cwd = PyDict_GetItemWithError(C->cwd_by_pid, pid);
            if (cwd) {
                Py_INCREF(cwd);
                if (PyDict_DelItem(C->cwd_by_pid, pid)) {
                    Py_DECREF(cwd);
                    goto done;
                }
            } else if (PyErr_Occurred()) {
                goto done;
            }
        }
        PyObject *last = PyObject_GetAttr(C->agg, C->last_cwd_name);
        if (!last) {
            Py_XDECREF(cwd);
            goto done;
        }
        if (!cwd && last != Py_None && PyTuple_Check(last) && PyTuple_GET_SIZE(last) == 3) {
            PyObject *lts = PyTuple_GET_ITEM(last, 0);
            if (PyBytes_Check(lts) && PyBytes_GET_SIZE(lts) >= 16 && memcmp(PyBytes_AS_STRING(lts), L->ts, 16) == 0) {
                cwd = last;
                Py_INCREF(cwd);
            }
        }
        if (cwd) {
            if (!PyTuple_Check(cwd) || PyTuple_GET_SIZE(cwd) != 3) {
                PyErr_SetString(PyExc_TypeError, "cwd entries must be (ts, path, pid) tuples");
                Py_DECREF(cwd);
                Py_DECREF(last);
                goto done;
            }
            script = PyTuple_GET_ITEM(cwd, 1);
            Py_INCREF(script);
            PyObject *cpid = PyTuple_GET_ITEM(cwd, 2);
            int bad = 0;
            if (PyObject_IsTrue(cpid) == 1) {
                PyObject *gone = PyDict_GetItemWithError(C->cwd_by_pid, cpid);
                if (gone)
                    bad = PyDict_DelItem(C->cwd_by_pid, cpid);
                else
                    bad = PyErr_Occurred() != NULL;
            }
            if (!bad && last == cwd)
                bad = PyObject_SetAttr(C->agg, C->last_cwd_name, Py_None);
            Py_DECREF(cwd);
            if (bad) {
                Py_DECREF(last);
                goto done;
            }
        }
        Py_DECREF(last);
        if (F.user_a >= 0 && !(user = slice(r, F.user_a, F.user_b)))
            goto done;
    }
    if (bounce) {
        /* bounces from outside: their recipients are our backscatter */
        PyObject *sink = has_ip && !has_auth ? C->bounce_in : C->inbound;
        if (sink == C->bounce_in && F.rcpt_a >= 0) {
            Py_ssize_t i = F.rcpt_a, count = 0;
            Py_ssize_t a;
            while (next_word(r, n, &i, &a)) {
                PyObject *key = lower_bytes(r + a, i - a);
                if (!key || dict_add(C->backscatter, key, C->one)) {
                    Py_XDECREF(key);
                    goto done;
                }
                Py_DECREF(key);
                count++;
            }
            if (count)
                sink = C->inbound; /* counted here, not again on delivery */
        }
        rc = PyDict_SetItem(C->inflight, mid, sink) ? -1 : 1;
        goto done;
    }
    if (inbound) {
        rc = PyDict_SetItem(C->inflight, mid, C->inbound) ? -1 : 1;
        goto done;
    }
    if (has_ip && !(ip = F.ip_unknown ? (Py_INCREF(C->unknown), C->unknown) : slice(r, F.ip_a, F.ip_b)))
        goto done;
    if (has_auth && !(auth = slice(r, F.auth_a, F.auth_b)))
        goto done;
    if (!(sender = lower_bytes(r + F.sender_a, slen)))
        goto done;
    sig = PyTuple_Pack(5, script ? script : Py_None, (!has_ip && user) ? user : Py_None, auth ? auth : Py_None,
                       (has_ip && !auth) ? ip : Py_None, sender);
    if (!sig)
        goto done;
    PyObject *st = PyDict_GetItemWithError(C->sigs, sig);
    if (!st) {
        if (PyErr_Occurred())
            goto done;
        PyObject *fresh = PyObject_CallNoArgs(C->new_stats);
        if (!fresh)
            goto done;
        int bad = PyDict_SetItem(C->sigs, sig, fresh);
        Py_DECREF(fresh);
        if (bad)
            goto done;
        st = fresh; /* borrowed from sigs */
        if (!PyList_CheckExact(st) || PyList_GET_SIZE(st) != NSTATS) {
            PyErr_SetString(PyExc_TypeError, "new_stats() does not have the layout _scan.c knows");
            goto done;
        }
        if (list_set(st, FIRST, ts))
            goto done;
    }
    if (!PyList_CheckExact(st) || PyList_GET_SIZE(st) != NSTATS) {
        PyErr_SetString(PyExc_TypeError, "stats lists must have the layout _scan.c knows");
        goto done;
    }
    if (has_auth && has_ip) {
        if (count_ip(C, ip, ts, bucket))
            goto done;
        PyObject *ips = PyList_GET_ITEM(st, IPS);
        int has = PyDict_Contains(ips, ip);
        if (has < 0 || ((has || PyDict_GET_SIZE(ips) < C->ip_cap) && dict_add(ips, ip, C->one)))
            goto done;
    }
    if (list_add(st, MSGS, C->one) || list_add(st, BYTES, F.size) || list_set(st, LAST, ts) ||
        dict_add(PyList_GET_ITEM(st, HIST), bucket, C->one))
        goto done;
    if (F.rcpt_a >= 0) {
        PyObject *doms = PyList_GET_ITEM(st, DOMAINS);
        int room = PySet_GET_SIZE(doms) < C->domain_cap;
        Py_ssize_t count = 0, i = F.rcpt_a;
        Py_ssize_t a;
        while (next_word(r, n, &i, &a)) {
            count++;
            if (room) {
                Py_ssize_t at = a - 1;
                for (Py_ssize_t j = i - 1; j >= a; j--) {
                    if (r[j] == '@') {
                        at = j;
                        break;
                    }
                }
                PyObject *d = lower_bytes(r + at + 1, i - at - 1);
                if (!d || PySet_Add(doms, d)) {
                    Py_XDECREF(d);
                    goto done;
                }
                Py_DECREF(d);
            }
        }
        if (count) {
            PyObject *c = PyLong_FromSsize_t(count);
            if (!c || list_add(st, RCPTS, c)) {
                Py_XDECREF(c);
                goto done;
            }
            Py_DECREF(c);
        }
    }
    if (PyDict_SetItem(C->inflight, mid, st))
        goto done;
    PyObject *ev = PyList_GET_ITEM(st, EVIDENCE);
    if (PyList_Check(ev) && PyList_GET_SIZE(ev) < C->evidence_cap) {
        PyObject *text = PyUnicode_DecodeUTF8(line, linelen, "replace");
        PyObject *ref = text ? Py_BuildValue("(OOnO)", C->path, C->start, lineno, text) : NULL;
        Py_XDECREF(text);
        if (!ref || PyList_Append(ev, ref)) {
            Py_XDECREF(ref);
            goto done;
        }
        Py_DECREF(ref);
    }
    rc = 1;
done:
    Py_XDECREF(F.size);
    Py_XDECREF(ts);
    Py_XDECREF(ip);
    Py_XDECREF(user);
    Py_XDECREF(auth);
    Py_XDECREF(sender);
    Py_XDECREF(sig);
    Py_XDECREF(script);
    return rc;
}

static PyObject *get_attr(PyObject *o, const char *name, PyTypeObject *type)
{
    PyObject *v = PyObject_GetAttrString(o, name);
    if (v && type && !PyObject_TypeCheck(v, type)) {
        PyErr_Format(PyExc_TypeError, "Aggregate.%s has an unexpected type", name);
        Py_CLEAR(v);
    }
    return v;
}

static PyObject *scan(PyObject *self, PyObject *args)
{
    PyObject *agg, *slow, *path, *start, *filter = Py_None;
    Py_buffer buf;
    Py_ssize_t lines_before;
    (void)self;
    if (!PyArg_ParseTuple(args, "Oy*nOOO|O", &agg, &buf, &lines_before, &slow, &path, &start, &filter))
        return NULL;
    if (filter != Py_None && (!PyByteArray_CheckExact(filter) || PyByteArray_GET_SIZE(filter) != DBITS / 8)) {
        PyBuffer_Release(&buf);
        PyErr_SetString(PyExc_ValueError, "deferred filter must be a bytearray of DEFERRED_FILTER_BYTES");
        return NULL;
    }
    Ctx C = {agg, NULL, NULL, NULL, NULL, path, start, NULL, NULL, NULL, NULL, NULL, NULL, 0, 0, 0, 0, 0};
    PyObject *aggmod = NULL, *inflight = NULL, *inbound = NULL, *bounce_in = NULL, *deferred = NULL, *completions = NULL,
             *arrivals = NULL, *bc = NULL, *one = NULL, *bucket = NULL, *result = NULL, *empty = NULL;
    PyObject *flags[F_COUNT] = {NULL};
    static const char *flag_text[F_COUNT] = {"", "<=", "=>", "->", ">>", "**", "==", "Completed", ""};
    Py_ssize_t bucket_chars, newlines = 0;
    Pending P = {0, 0, 0};
    PyObject **mids = PyMem_Calloc(MIDCACHE, sizeof(PyObject *));
    unsigned char *own = filter == Py_None ? PyMem_Calloc(DBITS / 8, 1) : NULL;
    unsigned char *dbits = own ? own : (unsigned char *)PyByteArray_AS_STRING(filter);
    if (!mids || (filter == Py_None && !own)) {
        PyMem_Free(mids);
        PyMem_Free(own);
        PyBuffer_Release(&buf);
        return PyErr_NoMemory();
    }
    if (!(inflight = get_attr(agg, "inflight", &PyDict_Type)) || !(inbound = get_attr(agg, "inbound", NULL)) ||
        !(bounce_in = get_attr(agg, "bounce_in", NULL)) || !(deferred = get_attr(agg, "deferred_ids", &PySet_Type)) ||
        !(completions = get_attr(agg, "completions", &PyDict_Type)) ||
        !(arrivals = get_attr(agg, "arrivals", &PyDict_Type)) || !(bc = get_attr(agg, "bucket_chars", &PyLong_Type)))
        goto error;
    bucket_chars = PyLong_AsSsize_t(bc);
    if (bucket_chars == -1 && PyErr_Occurred())
        goto error;
    if (bucket_chars < 0 || bucket_chars > 19)
        bucket_chars = 19;
    if (!(one = PyLong_FromLong(1)) || !(empty = PyBytes_FromStringAndSize("", 0)))
        goto error;
    if (!(aggmod = PyImport_ImportModule("maildoctor.outbreak.aggregate")) ||
        !(C.new_stats = PyObject_GetAttrString(aggmod, "new_stats")) ||
        !(C.sigs = get_attr(agg, "sigs", &PyDict_Type)) ||
        !(C.cwd_by_pid = get_attr(agg, "_cwd_by_pid", &PyDict_Type)) ||
        !(C.unknown = PyBytes_FromString("unknown")) || !(C.last_cwd_name = PyUnicode_InternFromString("_last_cwd")))
        goto error;
    {
        static const char *names[] = {"DOMAIN_CAP", "IP_CAP", "EVIDENCE_PER_SIG", "IP_TABLE_CAP"};
        Py_ssize_t *slots[] = {&C.domain_cap, &C.ip_cap, &C.evidence_cap, &C.ip_table_cap};
        for (int k = 0; k < 4; k++) {
            PyObject *v = PyObject_GetAttrString(aggmod, names[k]);
            *slots[k] = v ? PyLong_AsSsize_t(v) : -1;
            Py_XDECREF(v);
            if (*slots[k] == -1 && PyErr_Occurred())
                goto error;
        }
    }
    C.inflight = inflight;
    C.inbound = inbound;
    C.bounce_in = bounce_in;
    if (!(C.backscatter = get_attr(agg, "backscatter", &PyDict_Type)))
        goto error;
    if (own && seed_deferred(dbits, deferred))
        goto error;
    C.one = one;
    C.bucket_chars = bucket_chars;
    for (int k = 0; k < F_COUNT; k++) {
        if (!(flags[k] = PyBytes_FromString(flag_text[k])))
            goto error;
    }

    const char *base = buf.buf, *end = base + buf.len, *p = base;
    Py_ssize_t lineno = lines_before;
    while (p < end) {
        const char *e = memchr(p, '\n', (size_t)(end - p)), *next;
        if (e) {
            next = e + 1;
            newlines++;
        } else {
            e = next = end;
        }
        lineno++;
        Line L;
        int kind = parse_line(p, e, &L);
        const char *line = p;
        p = next;
        if (kind == F_NONE || kind == F_COPY)
            continue;
        PyObject *mid = NULL;
        int handled = 0;
        unsigned int mh = 0;
        if (kind != F_CWD) {
            mh = fnv(L.mid, L.midlen);
            if (!(mid = mid_get(mids, L.mid, L.midlen, mh)))
                goto error;
        }
        if (kind == F_ARR || kind == F_DONE) {
            /* hour (or minute) bucket, reused while the log stays in the same one */
            if (!bucket || memcmp(PyBytes_AS_STRING(bucket), L.ts, (size_t)bucket_chars) != 0) {
                if (bucket && flush(&P, bucket, arrivals, completions)) {
                    Py_DECREF(mid);
                    goto error;
                }
                Py_XDECREF(bucket);
                if (!(bucket = PyBytes_FromStringAndSize(L.ts, bucket_chars))) {
                    Py_DECREF(mid);
                    goto error;
                }
            }
        }
        if (kind == F_DEL || kind == F_DEFER || kind == F_FAIL) {
            PyObject *st = PyDict_GetItemWithError(inflight, mid);
            if (!st && PyErr_Occurred()) {
                Py_DECREF(mid);
                goto error;
            }
            if (st == inbound) {
                handled = 1;
            } else if (st && kind == F_DEL && is_stats(st)) {
                int rc = PyObject_IsTrue(PyList_GET_ITEM(st, RCPTS));
                if (rc < 0 || (rc && list_add(st, DELIVERED, one))) {
                    Py_DECREF(mid);
                    goto error;
                }
                handled = rc;
            } else if (st && kind == F_FAIL && st != bounce_in && PyList_CheckExact(st) &&
                       PyList_GET_SIZE(st) == NSTATS) {
                /* a failure of an outgoing message whose arrival listed its recipients */
                int rc = PyObject_IsTrue(PyList_GET_ITEM(st, RCPTS));
                if (rc < 0 || (rc && list_add(st, FAILED, one))) {
                    Py_DECREF(mid);
                    goto error;
                }
                PyObject *ev = PyList_GET_ITEM(st, FAIL_EVIDENCE);
                if (rc && PyList_Check(ev) && PyList_GET_SIZE(ev) < C.evidence_cap) {
                    PyObject *text = PyUnicode_DecodeUTF8(line, e - line, "replace");
                    PyObject *ref = text ? Py_BuildValue("(OOnO)", path, start, lineno, text) : NULL;
                    Py_XDECREF(text);
                    if (!ref || PyList_Append(ev, ref)) {
                        Py_XDECREF(ref);
                        Py_DECREF(mid);
                        goto error;
                    }
                    Py_DECREF(ref);
                }
                handled = rc;
            } else if (st && kind == F_DEFER) {
                handled = 1;
                if (st != bounce_in) {
                    int maybe = (dbits[DBIT(mh) >> 3] >> (DBIT(mh) & 7)) & 1;
                    int has = maybe ? PySet_Contains(deferred, mid) : 0;
                    dbits[DBIT(mh) >> 3] |= (unsigned char)(1u << (DBIT(mh) & 7));
                    if (has < 0 || (!has && (PySet_Add(deferred, mid) || !is_stats(st) ||
                                             list_add(st, DEFERRED, one)))) {
                        if (!PyErr_Occurred())
                            PyErr_SetString(PyExc_TypeError, "inflight values must be stats lists");
                        Py_DECREF(mid);
                        goto error;
                    }
                }
            }
        } else if (kind == F_DONE) {
            P.done++;
            PyObject *st = PyDict_GetItemWithError(inflight, mid);
            if (st) {
                handled = 1;
                if (PyDict_DelItem(inflight, mid)) {
                    Py_DECREF(mid);
                    goto error;
                }
                if (PySet_GET_SIZE(deferred) && ((dbits[DBIT(mh) >> 3] >> (DBIT(mh) & 7)) & 1) &&
                    PySet_Discard(deferred, mid) < 0) {
                    Py_DECREF(mid);
                    goto error;
                }
            } else if (PyErr_Occurred()) {
                Py_DECREF(mid);
                goto error;
            }
            /* not in flight: the slow path records the orphan (and discards the deferral) */
        } else if (kind == F_ARR) {
            handled = inbound_arrival(&L, mid, bucket, arrivals, inflight, inbound, one, &P);
            if (!handled) {
                PyObject *pid = L.pid ? PyBytes_FromStringAndSize(L.pid, L.pidlen) : (Py_INCREF(empty), empty);
                handled = pid ? outgoing_arrival(&C, &L, mid, bucket, arrivals, pid, lineno, line, e - line) : -1;
                Py_XDECREF(pid);
            }
            if (handled < 0) {
                Py_DECREF(mid);
                goto error;
            }
        } else if (kind == F_CWD) {
            PyObject *ts = PyBytes_FromStringAndSize(L.ts, 19);
            PyObject *pid = L.pid ? PyBytes_FromStringAndSize(L.pid, L.pidlen) : (Py_INCREF(empty), empty);
            int bad = !ts || !pid || on_cwd(&C, &L, ts, pid);
            Py_XDECREF(ts);
            Py_XDECREF(pid);
            if (bad)
                goto error;
            handled = 1;
        }
        if (!handled) {
            PyObject *ts = PyBytes_FromStringAndSize(L.ts, 19);
            PyObject *pid = L.pid ? PyBytes_FromStringAndSize(L.pid, L.pidlen) : (Py_INCREF(empty), empty);
            PyObject *rest = PyBytes_FromStringAndSize(L.rest, L.restlen);
            PyObject *r = NULL;
            if (ts && pid && rest) {
                r = PyObject_CallFunction(slow, "OOOOOnnn", ts, pid, mid ? mid : empty, flags[kind], rest, lineno,
                                          (Py_ssize_t)(line - base), (Py_ssize_t)(e - base));
            }
            Py_XDECREF(ts);
            Py_XDECREF(pid);
            Py_XDECREF(rest);
            if (!r) {
                Py_XDECREF(mid);
                goto error;
            }
            Py_DECREF(r);
        }
        Py_XDECREF(mid);
    }
    if (bucket && flush(&P, bucket, arrivals, completions))
        goto error;
    result = PyLong_FromSsize_t(newlines);
error:
    for (int k = 0; k < MIDCACHE; k++)
        Py_XDECREF(mids[k]);
    PyMem_Free(mids);
    PyMem_Free(own);
    for (int k = 0; k < F_COUNT; k++)
        Py_XDECREF(flags[k]);
    Py_XDECREF(inflight);
    Py_XDECREF(inbound);
    Py_XDECREF(bounce_in);
    Py_XDECREF(deferred);
    Py_XDECREF(completions);
    Py_XDECREF(arrivals);
    Py_XDECREF(bc);
    Py_XDECREF(one);
    Py_XDECREF(empty);
    Py_XDECREF(bucket);
    Py_XDECREF(aggmod);
    Py_XDECREF(C.new_stats);
    Py_XDECREF(C.sigs);
    Py_XDECREF(C.cwd_by_pid);
    Py_XDECREF(C.unknown);
    Py_XDECREF(C.last_cwd_name);
    Py_XDECREF(C.backscatter);
    PyBuffer_Release(&buf);
    return result;
}

static PyMethodDef methods[] = {
    {"scan", scan, METH_VARARGS,
     "scan(aggregate, block, lines_before, slow, path, start, deferred_filter=None) -> newlines: feed the "
     "relevant lines of a block of whole lines to the aggregate. deferred_filter: a bytearray the caller "
     "keeps for one aggregate from when its deferred_ids was empty (else the set is read each call)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_scan", NULL, -1, methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__scan(void)
{
    PyObject *m = PyModule_Create(&module);
    if (m && PyModule_AddIntConstant(m, "DEFERRED_FILTER_BYTES", DBITS / 8)) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
