/*
 * log.c - diagnostics log lines: "2026-11-23T13:30:15.123Z level message".
 *
 * Writes one line with one write(2) so lines from several processes sharing a
 * stderr do not interleave.  Never blocks on anything but that write.
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static enum sc_log_level min_level = SC_LOG_INFO;
static const char *names[] = {"debug", "info", "warn", "error"};

void
sc_log_set_level(enum sc_log_level level)
{
    min_level = level;
}

int
sc_log_parse_level(const char *s, enum sc_log_level *out)
{
    for (int i = 0; i < 4; i++) {
        if (strcmp(s, names[i]) == 0) {
            *out = (enum sc_log_level)i;
            return 0;
        }
    }
    return -1;
}

static void
vlog(enum sc_log_level level, const char *fmt, va_list ap)
{
    char line[2048];
    struct timespec ts;
    struct tm tm;
    size_t n;
    int r;

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
    r = snprintf(line + n, sizeof(line) - n, ".%03ldZ %s ", ts.tv_nsec / 1000000, names[level]);
    if (r > 0)
        n += (size_t)r;
    r = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
    if (r > 0)
        n += (size_t)r;
    if (n > sizeof(line) - 2)
        n = sizeof(line) - 2;
    /* One line per event: fold any newline a message carries. */
    for (size_t i = 0; i < n; i++)
        if (line[i] == '\n' || line[i] == '\r')
            line[i] = ' ';
    line[n++] = '\n';
    if (write(STDERR_FILENO, line, n) < 0) {
        /* nothing sensible left to do */
    }
}

void
sc_log(enum sc_log_level level, const char *fmt, ...)
{
    va_list ap;

    if (level < min_level)
        return;
    va_start(ap, fmt);
    vlog(level, fmt, ap);
    va_end(ap);
}

void
sc_fatal(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vlog(SC_LOG_ERROR, fmt, ap);
    va_end(ap);
    exit(1);
}
