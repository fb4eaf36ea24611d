/*
 * util.h - small helpers every program needs: bounded number parsing,
 * durations, times, bounded string copies.  No I/O, no allocation unless
 * stated.
 */
#ifndef SC_UTIL_H
#define SC_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/time.h>

/* Parse a whole decimal number in [min, max]; 0 or -1 (junk, sign, range). */
int sc_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out);

/* Parse a DURATION: digits then "ms", "s", "m", "h" or "d" ("30s", "7d").
 * Result in milliseconds, at most 100 years.  0 or -1. */
int sc_parse_duration_ms(const char *s, int64_t *out_ms);

/* Parse RFC 3339 ("2026-11-23T13:30:15Z", fractional seconds and numeric
 * offsets allowed) into milliseconds since the epoch.  0 or -1. */
int sc_parse_rfc3339_ms(const char *s, int64_t *out_ms);

/* Format ms since the epoch as "2026-11-23T13:30:15.123Z" (buf >= 32). */
void sc_format_time_ms(int64_t ms, char *buf, size_t len);

/* Wall clock in ms since the epoch; monotonic clock in ms. */
int64_t sc_now_ms(void);
int64_t sc_mono_ms(void);
int64_t sc_mono_us(void);

/* ms spread by up to pct percent either way (random()), so timers of many
 * instances do not fire in step.  ms <= 0 gives 0. */
int64_t sc_jitter_ms(int64_t ms, int pct);

/* ms as a struct timeval, for libevent timers and hiredis timeouts; a
 * negative ms is 0 (fire at once) rather than an invalid timeval. */
struct timeval sc_tv_ms(int64_t ms);

/* Write v in decimal at o (no NUL; at most 20 bytes) and return the end:
 * for hot paths that build protocol text without snprintf. */
char *sc_put_u64(char *o, uint64_t v);

/* v in decimal, NUL-terminated, in out; returns out. */
const char *sc_fmt_i64(char out[24], int64_t v);

/* The NULL-terminated list of strings, concatenated into dst (cut to
 * cap - 1 bytes, always NUL-terminated when cap > 0); returns the length
 * of the whole concatenation, so a result >= cap means it was cut. */
size_t sc_cat(char *dst, size_t cap, ...) __attribute__((sentinel));

/* Copy at most len-1 bytes and NUL-terminate; returns strlen(src) so
 * truncation shows as a result >= len (OpenBSD strlcpy). */
size_t sc_strlcpy(char *dst, const char *src, size_t len);

#endif
