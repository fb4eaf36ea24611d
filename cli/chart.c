/*
 * chart.c - usage drawn as text: the bar table of `sendcap usage` and the
 * sparkline of `key show`.  See chart.h.  Pure: the width and the character
 * set are arguments; every line is built in memory.
 */
#include "chart.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Block eighths, U+258F (one eighth) to U+2588 (full), as UTF-8. */
static const char *const eighths[9] = {"",       "\u258F", "\u258E", "\u258D", "\u258C",
                                       "\u258B", "\u258A", "\u2589", "\u2588"};
static const char *const levels[8] = {"\u2581", "\u2582", "\u2583", "\u2584",
                                      "\u2585", "\u2586", "\u2587", "\u2588"};
static const char ascii_levels[] = ".:-=+*#@";

static int
digits(long long v)
{
    int d = 1;

    while (v >= 10 || v <= -10) {
        v /= 10;
        d++;
    }
    return d + (v < 0);
}

static void
bar(FILE *f, long long v, long long max, int cells, int ascii)
{
    long long e;

    if (v <= 0 || max <= 0 || cells <= 0)
        return;
    if (ascii) {
        e = (v * cells + max / 2) / max;
        if (e == 0)
            e = 1;
        for (long long i = 0; i < e; i++)
            fputc('#', f);
        return;
    }
    e = (v * cells * 8 + max / 2) / max;
    if (e == 0)
        e = 1;
    for (long long i = 0; i < e / 8; i++)
        fputs(eighths[8], f);
    fputs(eighths[e % 8], f);
}

char *
cli_chart_render(const struct cli_chart_row *rows, size_t n, const char *label_hdr, int width,
                 int ascii)
{
    static const char *const hdr[4] = {"SENT", "DENIED", "CAPPED", "ERRORS"};
    int lw = (int)strlen(label_hdr), w[4], prefix, cells;
    long long max = 0;
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);

    if (f == NULL)
        return NULL;
    for (int c = 0; c < 4; c++)
        w[c] = (int)strlen(hdr[c]);
    for (size_t i = 0; i < n; i++) {
        const long long v[4] = {rows[i].sent, rows[i].denied, rows[i].capped, rows[i].errors};
        if ((int)strlen(rows[i].label) > lw)
            lw = (int)strlen(rows[i].label);
        for (int c = 0; c < 4; c++)
            if (digits(v[c]) > w[c])
                w[c] = digits(v[c]);
        if (rows[i].sent > max)
            max = rows[i].sent;
    }
    /* label, then each column after two spaces, then two spaces and the bar */
    prefix = lw + 2 * 4 + w[0] + w[1] + w[2] + w[3];
    cells = width - prefix - 2;
    if (cells < 1)
        cells = 0;
    fprintf(f, "%-*s", lw, label_hdr);
    for (int c = 0; c < 4; c++)
        fprintf(f, "  %*s", w[c], hdr[c]);
    fputc('\n', f);
    for (size_t i = 0; i < n; i++) {
        const long long v[4] = {rows[i].sent, rows[i].denied, rows[i].capped, rows[i].errors};
        fprintf(f, "%-*s", lw, rows[i].label);
        for (int c = 0; c < 4; c++)
            fprintf(f, "  %*lld", w[c], v[c]);
        if (cells > 0 && rows[i].sent > 0) {
            fputs("  ", f);
            bar(f, rows[i].sent, max, cells, ascii);
        }
        fputc('\n', f);
    }
    if (fclose(f) != 0) {
        free(out);
        return NULL;
    }
    return out;
}

char *
cli_chart_sparkline(const long long *v, size_t n, int ascii)
{
    long long max = 0;
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);

    if (f == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (v[i] > max)
            max = v[i];
    for (size_t i = 0; i < n; i++) {
        int l;
        if (v[i] <= 0) {
            fputc(' ', f);
            continue;
        }
        l = (int)((v[i] * 8 + max - 1) / max); /* 1..8, rounded up */
        if (ascii)
            fputc(ascii_levels[l - 1], f);
        else
            fputs(levels[l - 1], f);
    }
    if (fclose(f) != 0) {
        free(out);
        return NULL;
    }
    return out;
}

static int
names_utf8(const char *s)
{
    for (; *s; s++)
        if (strncasecmp(s, "utf-8", 5) == 0 || strncasecmp(s, "utf8", 4) == 0)
            return 1;
    return 0;
}

int
cli_chart_need_ascii(const char *lc_all, const char *lc_ctype, const char *lang)
{
    const char *const v[3] = {lc_all, lc_ctype, lang};

    for (int i = 0; i < 3; i++)
        if (v[i] != NULL && v[i][0] != '\0')
            return !names_utf8(v[i]);
    return 1;
}
