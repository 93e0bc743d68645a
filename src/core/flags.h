/*
 * Command-line flags, spelled as Kubernetes spells them: `--secure-port 6443`
 * or `--secure-port=6443`, `--disable-agent` for booleans, durations as
 * "10s", "5m", "1h" or plain seconds. Each component declares one table; a
 * command that runs several components (`minik8s server`) parses all their
 * tables at once, so every component's flag works there too.
 */
#ifndef MINIK8S_CORE_FLAGS_H
#define MINIK8S_CORE_FLAGS_H

#include <stdbool.h>
#include <stdint.h>

enum flag_type {
	FLAG_STRING,   /* char **: replaced with a heap copy (never freed: lives as long as the process) */
	FLAG_INT,      /* int * */
	FLAG_INT64,    /* int64_t * */
	FLAG_BOOL,     /* bool *: "--x", "--x=true", "--x=false" */
	FLAG_DURATION, /* int64_t * in milliseconds: "10s", "500ms", "2m", "1h", or seconds */
	FLAG_LIST,     /* struct flag_list *: repeated or comma-separated values append */
};

struct flag_list {
	char **items;
	int n;
};

struct flag {
	const char *name; /* without the leading "--"; NULL ends a table */
	enum flag_type type;
	void *value;
	const char *help;
};

/*
 * Parses argv[1..] against the NULL-terminated array of tables. Arguments that
 * are not flags are moved, in order, to the front of argv after argv[0];
 * their count is returned (so argv[1..n] are the positionals). "--" ends flag
 * parsing. "--help"/"-h" prints `usage` and every flag, then exits 0. An
 * unknown or malformed flag prints an error that names it (and close matches)
 * and returns -1.
 */
int flags_parse(const struct flag *const *tables, const char *usage, int argc, char **argv);

/* Parses "10s", "1m30s", "500ms", "2h", or a bare number of seconds. */
int flags_parse_duration(const char *s, int64_t *ms);

/* Prints the flags of the tables, as `--help` does. */
void flags_print(const struct flag *const *tables);

#endif
