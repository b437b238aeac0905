/* The commits and file sections of `git log -p -U0` output, and the lines of ordinary hunks, read in C.
 *
 * An optional speed-up of git.py's reader (setup.py builds it when a C compiler is there; without one,
 * lr-ci reads the same output with git.py's Python code, which stays the reference). A history's patch is
 * hundreds of thousands of hunks: read in Python, one hunk at a time, they were about a fifth of a
 * history scan's CPU time.
 *
 * sections(text) -> list of, in order:
 *   (0, header)                    a commit's header line: the bytes after "\x01" (or the text's first line
 *                                  when the text does not start with one), to the newline;
 *   (1, first_line, added, removed) an ordinary file section, read: first_line is the line after "diff --",
 *                                  added the runs of added lines [(first line number, text without the
 *                                  "+"s)], removed the runs of removed lines, each line still after its "-";
 *   (2, start, end)                any other section, text[start:end] from after "diff --": git.py reads it
 *                                  (deleted, binary, combined, no hunks, "\ No newline at end of file",
 *                                  a hunk header this reader does not know).
 * Exactly what git.py's Python reader makes of the same text: tests/test_secrets_sections.py holds them equal.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

/* Where `needle` (n bytes) first is in t[from:to], or -1. */
static Py_ssize_t find(const char *t, Py_ssize_t from, Py_ssize_t to, const char *needle, Py_ssize_t n) {
    if (from < 0) from = 0;
    while (to - from >= n) {
        const char *p = memchr(t + from, needle[0], (size_t)(to - from - n + 1));
        if (p == NULL) return -1;
        if (memcmp(p + 1, needle + 1, (size_t)(n - 1)) == 0) return p - t;
        from = (p - t) + 1;
    }
    return -1;
}

/* Python's t.find(b"\n" + needle, from, to): where the newline is, or -1; by way of the needle's first
 * byte (a memchr of a byte rarer than the newline that ends every line). */
static Py_ssize_t find_line(const char *t, Py_ssize_t from, Py_ssize_t to, const char *needle, Py_ssize_t n) {
    Py_ssize_t at = from + 1;
    for (;;) {
        Py_ssize_t found = find(t, at, to, needle, n);
        if (found < 0) return -1;
        if (t[found - 1] == '\n') return found - 1;
        at = found + 1;
    }
}

static int starts_with(const char *t, Py_ssize_t at, Py_ssize_t end, const char *prefix) {
    Py_ssize_t n = (Py_ssize_t)strlen(prefix);
    return at >= 0 && end - at >= n && memcmp(t + at, prefix, (size_t)n) == 0;
}

/* git.py's _next_commit: where the next "\n\x01" after `at` is (its newline), or -1. */
static Py_ssize_t next_commit(const char *t, Py_ssize_t at, Py_ssize_t size) {
    return find_line(t, at, size, "\x01", 1);
}

/* "@@ -a[,b] +c[,d] @@" and the rest of its line, from `at`, ending before `limit`: the newline's offset, and
 * c (1 when 0) in *first; -1 when the line is not one (git.py's _HUNK_HEADER). */
static Py_ssize_t hunk_header(const char *t, Py_ssize_t at, Py_ssize_t limit, long long *first) {
    Py_ssize_t i = at, digits;
    long long value = 0;
#define EXPECT(c) do { if (i >= limit || t[i] != (c)) return -1; i++; } while (0)
#define NUMBER() do { digits = i; while (i < limit && t[i] >= '0' && t[i] <= '9') i++; if (i == digits) return -1; } while (0)
    EXPECT('@'); EXPECT('@'); EXPECT(' '); EXPECT('-');
    NUMBER();
    if (i < limit && t[i] == ',') { i++; NUMBER(); }
    EXPECT(' '); EXPECT('+');
    NUMBER();
    if (i - digits > 15) return -1; /* git.py reads a number of any length */
    for (Py_ssize_t k = digits; k < i; k++) value = value * 10 + (t[k] - '0');
    if (i < limit && t[i] == ',') { i++; NUMBER(); }
    EXPECT(' '); EXPECT('@'); EXPECT('@');
#undef EXPECT
#undef NUMBER
    const char *newline = memchr(t + i, '\n', (size_t)(limit - i));
    if (newline == NULL) return -1;
    *first = value ? value : 1;
    return newline - t;
}

/* t[from:to] with the "+" after each newline dropped and the trailing newlines stripped: git.py's
 * .replace(b"\n+", b"\n").rstrip(b"\n") of the added lines after the first "+". */
static PyObject *added_text(const char *t, Py_ssize_t from, Py_ssize_t to) {
    PyObject *out = PyBytes_FromStringAndSize(NULL, to - from);
    if (out == NULL) return NULL;
    char *o = PyBytes_AS_STRING(out);
    Py_ssize_t n = 0, i = from;
    while (i < to) {
        const char *newline = memchr(t + i, '\n', (size_t)(to - i));
        Py_ssize_t line_end = newline ? (newline - t) + 1 : to;
        memcpy(o + n, t + i, (size_t)(line_end - i));
        n += line_end - i;
        i = line_end;
        if (newline != NULL && i < to && t[i] == '+') i++;
    }
    while (n > 0 && o[n - 1] == '\n') n--;
    if (n != to - from && _PyBytes_Resize(&out, n) < 0) return NULL;
    return out;
}

static int append_new(PyObject *list, PyObject *item) {
    if (item == NULL) return -1;
    int failed = PyList_Append(list, item);
    Py_DECREF(item);
    return failed;
}

/* git.py's _simple_hunks over t[at:end] (`at`: the first "@@"): 0 read, 1 left to git.py, -1 an error. */
static int simple_hunks(const char *t, Py_ssize_t at, Py_ssize_t end, PyObject *added, PyObject *removed) {
    if (find_line(t, at, end, "\\", 1) >= 0) return 1; /* "\ No newline at end of file" */
    for (;;) {
        Py_ssize_t following = find_line(t, at + 2, end, "@@", 2);
        Py_ssize_t hunk_end = following >= 0 ? following : end;
        long long first = 0;
        Py_ssize_t header_end = hunk_header(t, at, hunk_end, &first);
        if (header_end < 0) return 1;
        Py_ssize_t start = header_end + 1, plus;
        if (start < hunk_end && t[start] == '+') {
            plus = start;
        } else {
            Py_ssize_t newline = find_line(t, start, hunk_end, "+", 1);
            plus = newline >= 0 ? newline + 1 : hunk_end;
        }
        if (plus > start && append_new(removed, PyBytes_FromStringAndSize(t + start, plus - start)) < 0) return -1;
        if (plus < hunk_end) {
            PyObject *text = added_text(t, plus + 1, hunk_end);
            if (text == NULL || append_new(added, Py_BuildValue("(LN)", first, text)) < 0) return -1;
        }
        if (following < 0) return 0;
        at = following + 1;
    }
}

/* One section, text[start:end] from after "diff --", appended to `out`. */
static int section(const char *t, Py_ssize_t start, Py_ssize_t end, PyObject *out) {
    Py_ssize_t hunks_at = find_line(t, start, end, "@@", 2);
    Py_ssize_t head_end = hunks_at >= 0 ? hunks_at : end;
    if (hunks_at >= 0 && starts_with(t, start, head_end, "git ")
        && find_line(t, start, head_end, "deleted file mode ", 18) < 0
        && find_line(t, start, head_end, "Binary files ", 13) < 0) {
        const char *newline = memchr(t + start, '\n', (size_t)(head_end - start));
        Py_ssize_t line_end = newline ? newline - t : head_end;
        PyObject *added = PyList_New(0), *removed = PyList_New(0);
        if (added == NULL || removed == NULL) goto fail;
        int read = simple_hunks(t, hunks_at + 1, end, added, removed);
        if (read < 0) goto fail;
        if (read == 0)
            return append_new(out, Py_BuildValue("(iy#NN)", 1, t + start, line_end - start, added, removed));
        Py_DECREF(added);
        Py_DECREF(removed);
        goto python;
    fail:
        Py_XDECREF(added);
        Py_XDECREF(removed);
        return -1;
    }
python:
    return append_new(out, Py_BuildValue("(inn)", 2, start, end));
}

static PyObject *sections(PyObject *module, PyObject *arg) {
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0) return NULL;
    const char *t = view.buf;
    Py_ssize_t size = view.len, at = 0;
    int first = 1;
    PyObject *out = PyList_New(0);
    if (out == NULL) goto fail;
    for (;;) {
        Py_ssize_t following = next_commit(t, at, size);
        Py_ssize_t block_end = following >= 0 ? following : size, block_start = at, section_start;
        int marked = at < size && t[at] == '\x01';
        if (!first || marked) {
            Py_ssize_t header_start = marked ? at + 1 : at;
            const char *newline = header_start < block_end
                ? memchr(t + header_start, '\n', (size_t)(block_end - header_start)) : NULL;
            Py_ssize_t header_end = newline ? newline - t : block_end;
            block_start = newline ? header_end + 1 : block_end;
            PyObject *header = Py_BuildValue("(iy#)", 0, t + header_start, header_end - header_start);
            if (append_new(out, header) < 0) goto fail;
        }
        if (starts_with(t, block_start, block_end, "diff --")) {
            section_start = block_start + 7;
        } else {
            Py_ssize_t found = find_line(t, block_start, block_end, "diff --", 7);
            section_start = found >= 0 ? found + 8 : -1;
        }
        while (section_start >= 0) {
            Py_ssize_t found = find_line(t, section_start, block_end, "diff --", 7);
            if (section(t, section_start, found >= 0 ? found : block_end, out) < 0) goto fail;
            section_start = found >= 0 ? found + 8 : -1;
        }
        if (following < 0) break;
        at = following + 2;
        first = 0;
    }
    PyBuffer_Release(&view);
    return out;
fail:
    Py_XDECREF(out);
    PyBuffer_Release(&view);
    return NULL;
}

static PyMethodDef methods[] = {
    {"sections", sections, METH_O, "The commits and file sections of git log -p -U0 output (see git.py)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_sections", NULL, -1, methods};

PyMODINIT_FUNC PyInit__sections(void) { return PyModule_Create(&module); }
