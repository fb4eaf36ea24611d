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
static int json_lines;
static const char *names[] = {"debug", "info", "warn", "error"};

void
sc_log_set_level(enum sc_log_level level)
{
    min_level = level;
}

void
sc_log_set_json(int json)
{
    json_lines = json;
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
    char msg[1536], line[2048], ts[40];
    struct timespec ts_now;
    struct tm tm;
    size_t n = 0, m;
    int r;

    clock_gettime(CLOCK_REALTIME, &ts_now);
    gmtime_r(&ts_now.tv_sec, &tm);
    m = strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(ts + m, sizeof(ts) - m, ".%03ldZ", ts_now.tv_nsec / 1000000);
    r = vsnprintf(msg, sizeof(msg), fmt, ap);
    if (r < 0)
        msg[0] = '\0';
    if (json_lines) {
        /* {"time":…,"level":…,"msg":…} with the message JSON-escaped */
        r = snprintf(line, sizeof(line), "{\"time\":\"%s\",\"level\":\"%s\",\"msg\":\"", ts,
                     names[level]);
        n = r > 0 ? (size_t)r : 0;
        for (const char *p = msg; *p && n < sizeof(line) - 8; p++) {
            unsigned char ch = (unsigned char)*p;
            if (ch == '"' || ch == '\\') {
                line[n++] = '\\';
                line[n++] = (char)ch;
            } else if (ch < 0x20) {
                n += (size_t)snprintf(line + n, sizeof(line) - n, "\\u%04x", ch);
            } else {
                line[n++] = (char)ch;
            }
        }
        line[n++] = '"';
        line[n++] = '}';
    } else {
        r = snprintf(line, sizeof(line), "%s %s %s", ts, names[level], msg);
        n = r > 0 ? (size_t)r : 0;
        if (n > sizeof(line) - 2)
            n = sizeof(line) - 2;
        /* One line per event: fold any newline a message carries. */
        for (size_t i = 0; i < n; i++)
            if (line[i] == '\n' || line[i] == '\r')
                line[i] = ' ';
    }
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
