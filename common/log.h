/*
 * log.h - diagnostics for operators: one line per event on stderr.
 *
 * This is not the audit trail (store/audit): it may be dropped, filtered or
 * rotated.  It must never carry a secret: callers pass key ids and
 * fingerprints, never a vault key or a real key.
 */
#ifndef SC_LOG_H
#define SC_LOG_H

enum sc_log_level { SC_LOG_DEBUG = 0, SC_LOG_INFO, SC_LOG_WARN, SC_LOG_ERROR };

/* Messages below `level` are dropped. */
void sc_log_set_level(enum sc_log_level level);
/* Plain lines (default) or one JSON object per line:
 * {"time":"…","level":"info","msg":"…"}. */
void sc_log_set_json(int json);
/* Parse "debug|info|warn|error"; returns 0 or -1. */
int sc_log_parse_level(const char *s, enum sc_log_level *out);

void sc_log(enum sc_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Log at ERROR and exit(1).  Only start-up code may call this. */
void sc_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#define sc_debug(...) sc_log(SC_LOG_DEBUG, __VA_ARGS__)
#define sc_info(...) sc_log(SC_LOG_INFO, __VA_ARGS__)
#define sc_warn(...) sc_log(SC_LOG_WARN, __VA_ARGS__)
#define sc_error(...) sc_log(SC_LOG_ERROR, __VA_ARGS__)

#endif
