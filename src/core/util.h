/*
 * Small helpers every part of minik8s uses: allocation that never returns
 * NULL, a growable string buffer (git's strbuf, shrunk), error reporting that
 * returns a code, and time formatting in Kubernetes' RFC 3339 form.
 */
#ifndef MINIK8S_CORE_UTIL_H
#define MINIK8S_CORE_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#if defined(__GNUC__)
#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#define NORETURN __attribute__((noreturn))
#else
#define PRINTF_LIKE(f, a)
#define NORETURN
#endif

/* Allocation: on failure these print a message and abort. Out of memory in a
 * teaching cluster is not something to limp through. */
void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) PRINTF_LIKE(1, 2);

/*
 * A growable, always NUL-terminated byte buffer. Embed it and call
 * strbuf_init(); buf is never NULL after init. strbuf_detach() hands the
 * memory to the caller and leaves the strbuf empty and reusable.
 */
struct strbuf {
	char *buf;
	size_t len;
	size_t alloc;
};

void strbuf_init(struct strbuf *sb, size_t hint);
void strbuf_release(struct strbuf *sb);
char *strbuf_detach(struct strbuf *sb, size_t *len);
void strbuf_grow(struct strbuf *sb, size_t extra);
void strbuf_add(struct strbuf *sb, const void *data, size_t len);
void strbuf_adds(struct strbuf *sb, const char *s);
void strbuf_addc(struct strbuf *sb, char c);
void strbuf_addf(struct strbuf *sb, const char *fmt, ...) PRINTF_LIKE(2, 3);
void strbuf_vaddf(struct strbuf *sb, const char *fmt, va_list ap);
void strbuf_reset(struct strbuf *sb);

/*
 * error() logs "error: <message>" at error level and returns -1, so that
 * `return error("cannot open '%s': %s", path, strerror(errno));` reports and
 * propagates in one line. Messages are lowercase and say what to do next.
 */
int error(const char *fmt, ...) PRINTF_LIKE(1, 2);
NORETURN void die(const char *fmt, ...) PRINTF_LIKE(1, 2);

/* Kubernetes timestamps: "2026-12-03T19:01:48Z" (seconds, UTC). The buffer
 * must hold at least 21 bytes. */
#define TIME_RFC3339_LEN 21
void time_format_rfc3339(time_t t, char *buf);
/* Parses the form above (and with fractional seconds or a numeric offset).
 * Returns 0 and sets *out, or -1. */
int time_parse_rfc3339(const char *s, time_t *out);
/* "5s", "3m", "2d", as kubectl's AGE column prints durations. */
void duration_short(int64_t seconds, char *buf, size_t len);
/* Monotonic milliseconds, for timeouts and measurements. */
uint64_t now_ms(void);

/* Edit (Levenshtein) distance between two strings, for "did you mean" hints;
 * the _nocase form takes ASCII letters of either case as equal. */
int str_distance(const char *a, const char *b);
int str_distance_nocase(const char *a, const char *b);

bool str_has_prefix(const char *s, const char *prefix);
bool str_has_suffix(const char *s, const char *suffix);

/* Reads a whole file into a NUL-terminated buffer. Returns 0 or -errno. */
int read_file(const char *path, char **out, size_t *len);
/* Writes a file atomically (temp file, fsync, rename) with the given mode. */
int write_file_atomic(const char *path, const void *data, size_t len, unsigned mode);
/* mkdir -p with the given mode for each created directory. Returns 0 or -errno. */
int mkdir_p(const char *path, unsigned mode);

#endif
