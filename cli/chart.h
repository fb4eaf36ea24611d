/*
 * chart.h - usage drawn in the terminal: a table with one bar per bucket
 * (`sendcap usage`) and a sparkline (`key show`).
 *
 * Pure functions: counts and a width in, text out.  No I/O, no locale, no
 * terminal queries (the caller asks the terminal and the environment), so
 * tests compare the rendered lines with known counts.
 */
#ifndef SC_CLI_CHART_H
#define SC_CLI_CHART_H

#include <stddef.h>

struct cli_chart_row {
    const char *label; /* the bucket, e.g. "2026-11-23 13:00" (ASCII) */
    long long sent;    /* emails */
    long long denied;  /* calls refused */
    long long capped;  /* ... of which by a cap (daily, monthly, recipient, rate) */
    long long errors;  /* calls that failed (Redis, Resend) */
};

/*
 * The table: a header line (label_hdr, SENT, DENIED, CAPPED, ERRORS), then
 * one line per row with a bar of its emails sent, scaled so the largest
 * fills what width leaves after the columns (Unicode block eighths, or '#'
 * cells with ascii).  No line is wider than width unless the columns alone
 * are; a bar that would have no room is left out.  A nonzero count always
 * shows at least the smallest mark.  Returns a new string of '\n'-ended
 * lines (caller frees), or NULL on allocation failure.
 */
char *cli_chart_render(const struct cli_chart_row *rows, size_t n, const char *label_hdr, int width,
                       int ascii);

/* One character per value (n of them), the largest value the tallest:
 * "▁▂▃▄▅▆▇█" (or ".:-=+*#@" with ascii) by eighths of the largest, rounded
 * up so any nonzero value shows; a zero is a space.  A new string (caller
 * frees), or NULL. */
char *cli_chart_sparkline(const long long *v, size_t n, int ascii);

/* Whether text must be ASCII: the first set of LC_ALL, LC_CTYPE, LANG (as
 * the C library picks the character set) does not name UTF-8, or none is
 * set.  Pass the variables' values (NULL when unset). */
int cli_chart_need_ascii(const char *lc_all, const char *lc_ctype, const char *lang);

#endif
