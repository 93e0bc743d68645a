/*
 * The logger behind log.h. One line per call, written with a single write(2)
 * so lines from the component threads of `minik8s server` never interleave.
 */
#include "log.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

int log_max_level = LOG_INFO;
static char *trace_components;
static __thread const char *thread_component = "minik8s";

static const char level_char[] = { 'E', 'W', 'I', 'D', 'T' };

int log_set_level(const char *level)
{
	static const char *names[] = { "error", "warn", "info", "debug", "trace" };

	for (int i = 0; i < (int)ARRAY_SIZE(names); i++) {
		if (!strcmp(level, names[i]) || (level[0] == '0' + i && !level[1])) {
			log_max_level = i;
			return 0;
		}
	}
	return -1;
}

void log_set_trace(const char *components)
{
	free(trace_components);
	trace_components = components && *components ? xasprintf(",%s,", components) : NULL;
}

bool log_trace_enabled(const char *component)
{
	char key[64];

	if (!trace_components)
		return false;
	snprintf(key, sizeof(key), ",%s,", component);
	return strstr(trace_components, key) != NULL;
}

void log_set_component(const char *component)
{
	thread_component = component;
}

void log_name_thread(const char *component)
{
	char name[16];   /* the kernel keeps 15 characters */

	log_set_component(component);
	snprintf(name, sizeof(name), "%s", component);
	pthread_setname_np(pthread_self(), name);
}

const char *log_component(void)
{
	return thread_component;
}

void log_write(enum log_level level, const char *fmt, ...)
{
	struct strbuf sb;
	struct timeval tv;
	struct tm tm;
	va_list ap;

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	strbuf_init(&sb, 160);
	strbuf_addf(&sb, "%c %02d:%02d:%02d.%03d %s] ", level_char[level], tm.tm_hour,
		    tm.tm_min, tm.tm_sec, (int)(tv.tv_usec / 1000), thread_component);
	va_start(ap, fmt);
	strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	strbuf_addc(&sb, '\n');
	if (write(STDERR_FILENO, sb.buf, sb.len) < 0) {
		/* Nowhere left to report it. */
	}
	strbuf_release(&sb);
}
