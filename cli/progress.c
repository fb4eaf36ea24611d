/*
 * progress.c - progress of long call-log reads (`log verify`, `log query`)
 * on stderr, only when stderr is a terminal: records read, rate, and the
 * time left when the total is known.  One line, redrawn in place at most
 * every PROGRESS_EVERY_MS (and after the first page), and erased when the
 * work ends, so what stdout carries and what a pipe or a log file sees are
 * unchanged.
 */
#include <stdio.h>
#include <unistd.h>

#include "cli.h"
#include "common/util.h"
#include "store/audit.h"

#define PROGRESS_EVERY_MS 200

static struct {
    const char *what;
    int64_t t0, last;
    int shown;
} p;

void
cli_progress_format(char *buf, size_t len, const char *what, long done, long total,
                    int64_t elapsed_ms)
{
    long rate = elapsed_ms > 0 ? (long)((int64_t)done * 1000 / elapsed_ms) : 0;

    int n = total >= done ? snprintf(buf, len, "%s: %ld of %ld records", what, done, total)
                          : snprintf(buf, len, "%s: %ld records", what, done);

    if (n < 0 || (size_t)n >= len || rate <= 0)
        return;
    if (total >= done)
        snprintf(buf + n, len - (size_t)n, ", %ld/s, about %lds left", rate,
                 (total - done + rate - 1) / rate);
    else
        snprintf(buf + n, len - (size_t)n, ", %ld/s", rate);
}

static void
on_progress(long done, long total, void *arg)
{
    int64_t now = sc_mono_ms();
    char line[160];

    (void)arg;
    if (done < 0) { /* rows follow on stdout: take the line away first */
        if (p.shown)
            fputs("\r\033[K", stderr);
        p.shown = 0;
        return;
    }
    if (p.shown && now - p.last < PROGRESS_EVERY_MS)
        return;
    cli_progress_format(line, sizeof(line), p.what, done, total, now - p.t0);
    fprintf(stderr, "\r\033[K%s", line); /* redraw the line in place */
    fflush(stderr);
    p.shown = 1;
    p.last = now;
}

void
cli_progress_start(const char *what)
{
    if (!isatty(STDERR_FILENO))
        return;
    p.what = what;
    p.t0 = p.last = sc_mono_ms();
    p.shown = 0;
    store_audit_progress_set(on_progress, NULL);
}

void
cli_progress_end(void)
{
    store_audit_progress_set(NULL, NULL);
    if (p.shown) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
    }
    p.shown = 0;
}
