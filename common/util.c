/*
 * util.c - bounded parsing and time helpers.  See util.h.
 */
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int
sc_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out)
{
    char *end;
    long long v;

    if (s == NULL || *s == '\0' || !(isdigit((unsigned char)*s) || *s == '-'))
        return -1;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

int
sc_parse_duration_ms(const char *s, int64_t *out_ms)
{
    const int64_t max_ms = 100LL * 366 * 86400 * 1000;
    int64_t n = 0, unit;
    const char *p = s;

    if (s == NULL || !isdigit((unsigned char)*p))
        return -1;
    while (isdigit((unsigned char)*p)) {
        n = n * 10 + (*p - '0');
        if (n > max_ms)
            return -1;
        p++;
    }
    if (strcmp(p, "ms") == 0)
        unit = 1;
    else if (strcmp(p, "s") == 0)
        unit = 1000;
    else if (strcmp(p, "m") == 0)
        unit = 60 * 1000;
    else if (strcmp(p, "h") == 0)
        unit = 3600 * 1000;
    else if (strcmp(p, "d") == 0)
        unit = 86400 * 1000;
    else
        return -1;
    if (n > max_ms / unit)
        return -1;
    *out_ms = n * unit;
    return 0;
}

static int
digits(const char **pp, int n, int *out)
{
    int v = 0;

    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*pp)[i]))
            return -1;
        v = v * 10 + ((*pp)[i] - '0');
    }
    *pp += n;
    *out = v;
    return 0;
}

int
sc_parse_rfc3339_ms(const char *s, int64_t *out_ms)
{
    struct tm tm;
    int y, mo, d, h, mi, sec, frac_ms = 0, off_h, off_m, sign;
    const char *p = s;
    time_t t;

    if (s == NULL)
        return -1;
    if (digits(&p, 4, &y) || *p++ != '-' || digits(&p, 2, &mo) || *p++ != '-' ||
        digits(&p, 2, &d) || (*p != 'T' && *p != 't' && *p != ' '))
        return -1;
    p++;
    if (digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &mi) || *p++ != ':' ||
        digits(&p, 2, &sec))
        return -1;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
        return -1;
    if (*p == '.') {
        int nd = 0;
        p++;
        if (!isdigit((unsigned char)*p))
            return -1;
        while (isdigit((unsigned char)*p)) {
            if (nd < 3)
                frac_ms = frac_ms * 10 + (*p - '0');
            nd++;
            p++;
        }
        while (nd < 3) {
            frac_ms *= 10;
            nd++;
        }
    }
    if (*p == 'Z' || *p == 'z') {
        off_h = off_m = 0;
        sign = 1;
        p++;
    } else if (*p == '+' || *p == '-') {
        sign = *p == '+' ? 1 : -1;
        p++;
        if (digits(&p, 2, &off_h) || *p++ != ':' || digits(&p, 2, &off_m) || off_h > 23 ||
            off_m > 59)
            return -1;
    } else {
        return -1;
    }
    if (*p != '\0')
        return -1;
    memset(&tm, 0, sizeof(tm));
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    t = timegm(&tm);
    if (t == (time_t)-1)
        return -1;
    t -= sign * (off_h * 3600 + off_m * 60);
    *out_ms = (int64_t)t * 1000 + frac_ms;
    return 0;
}

void
sc_format_time_ms(int64_t ms, char *buf, size_t len)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    size_t n;

    gmtime_r(&t, &tm);
    n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, len - n, ".%03dZ", (int)(ms % 1000));
}

int64_t
sc_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
sc_mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
sc_mono_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t
sc_jitter_ms(int64_t ms, int pct)
{
    int64_t spread = ms * pct / 100;

    if (ms <= 0)
        return 0;
    return ms - spread + random() % (2 * spread + 1);
}

struct timeval
sc_tv_ms(int64_t ms)
{
    struct timeval tv;

    if (ms < 0)
        ms = 0;
    tv.tv_sec = (time_t)(ms / 1000);
    tv.tv_usec = (suseconds_t)((ms % 1000) * 1000);
    return tv;
}

/* Two digits per step, written from the end once the length is known:
 * a send formats ~120 numbers (RESP lengths, record fields), and the
 * digit-at-a-time version with its reversal was ~2 % of sendcapd. */
char *
sc_put_u64(char *o, uint64_t v)
{
    static const char pairs[] = "00010203040506070809101112131415161718192021222324"
                                "25262728293031323334353637383940414243444546474849"
                                "50515253545556575859606162636465666768697071727374"
                                "75767778798081828384858687888990919293949596979899";
    size_t n = 1;
    char *end;

    for (uint64_t t = v; t >= 10; t /= 10)
        n++;
    end = o + n;
    o = end;
    while (v >= 100) {
        const char *d = pairs + 2 * (v % 100);
        v /= 100;
        *--o = d[1];
        *--o = d[0];
    }
    if (v >= 10) {
        *--o = pairs[2 * v + 1];
        *--o = pairs[2 * v];
    } else {
        *--o = (char)('0' + v);
    }
    return end;
}

const char *
sc_fmt_i64(char out[24], int64_t v)
{
    char *o = out;

    if (v < 0) {
        *o++ = '-';
        o = sc_put_u64(o, (uint64_t)0 - (uint64_t)v);
    } else {
        o = sc_put_u64(o, (uint64_t)v);
    }
    *o = '\0';
    return out;
}

size_t
sc_cat(char *dst, size_t cap, ...)
{
    va_list ap;
    const char *s;
    size_t n = 0;

    va_start(ap, cap);
    while ((s = va_arg(ap, const char *)) != NULL) {
        size_t l = strlen(s);
        if (n < cap) {
            size_t c = n + l < cap ? l : cap - 1 - n;
            memcpy(dst + n, s, c);
        }
        n += l;
    }
    va_end(ap);
    if (cap > 0)
        dst[n < cap ? n : cap - 1] = '\0';
    return n;
}

size_t
sc_strlcpy(char *dst, const char *src, size_t len)
{
    size_t n = strlen(src);

    if (len > 0) {
        size_t c = n < len - 1 ? n : len - 1;
        memcpy(dst, src, c);
        dst[c] = '\0';
    }
    return n;
}
