/*
 * Logging as key=value lines on stderr: `I 19:02:03.123 apiserver] request
 * verb=GET path=/api/v1/pods code=200`. Levels are checked before any
 * formatting happens; tracing can be switched on per component by name
 * (MINIK8S_TRACE=apiserver,scheduler or --v=4).
 */
#ifndef MINIK8S_CORE_LOG_H
#define MINIK8S_CORE_LOG_H

#include <stdbool.h>
#include "util.h"

enum log_level { LOG_ERROR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3, LOG_TRACE = 4 };

extern int log_max_level;

/* Sets the global level ("error", "warn", "info", "debug", "trace" or 0..4). */
int log_set_level(const char *level);
/* Comma-separated component names whose trace lines are printed. */
void log_set_trace(const char *components);
bool log_trace_enabled(const char *component);
/* Names the current thread's component ("apiserver", "scheduler", ...). */
void log_set_component(const char *component);
/* The same, and names the thread itself after it (cut to 15 characters), so
 * `top -H`, `ps -L` and perf tell the components of `minik8s server` apart.
 * Only for threads we start: the main thread's name is the process's. */
void log_name_thread(const char *component);
const char *log_component(void);

void log_write(enum log_level level, const char *fmt, ...) PRINTF_LIKE(2, 3);

#define LOG_AT(lvl, ...)                                \
	do {                                            \
		if ((lvl) <= log_max_level)             \
			log_write((lvl), __VA_ARGS__);  \
	} while (0)
#define log_error(...) LOG_AT(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) LOG_AT(LOG_WARN, __VA_ARGS__)
#define log_info(...) LOG_AT(LOG_INFO, __VA_ARGS__)
#define log_debug(...) LOG_AT(LOG_DEBUG, __VA_ARGS__)
#define log_trace(...)                                                  \
	do {                                                            \
		if (log_max_level >= LOG_TRACE || log_trace_enabled(log_component())) \
			log_write(LOG_TRACE, __VA_ARGS__);              \
	} while (0)

#endif
