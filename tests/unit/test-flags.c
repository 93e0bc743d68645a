/*
 * Tests for src/core/flags.c: both spellings of a flag, booleans, durations,
 * lists, positionals moved to the front, and errors naming the flag.
 */
#include "core/flags.h"
#include "testing.h"

#include <stdlib.h>

static char *str;
static int num;
static int64_t big;
static bool on;
static int64_t dur;
static struct flag_list list;

static const struct flag table[] = {
	{ "data-dir", FLAG_STRING, &str, "a string" },
	{ "secure-port", FLAG_INT, &num, "an int" },
	{ "toleration-seconds", FLAG_INT64, &big, "an int64" },
	{ "disable-agent", FLAG_BOOL, &on, "a bool" },
	{ "grace", FLAG_DURATION, &dur, "a duration" },
	{ "tls-san", FLAG_LIST, &list, "a list" },
	{ "n", FLAG_STRING, &str, "short" },
	{ NULL, 0, NULL, NULL },
};
static const struct flag *const tables[] = { table, NULL };

static void reset(void)
{
	free(str);
	str = NULL;
	num = 0;
	big = 0;
	on = false;
	dur = 0;
	for (int i = 0; i < list.n; i++)
		free(list.items[i]);
	free(list.items);
	list.items = NULL;
	list.n = 0;
}

static int parse(int argc, char **argv)
{
	reset();
	return flags_parse(tables, "usage\n", argc, argv);
}

int main(void)
{
	int64_t ms;

	{
		char *argv[] = { "cmd", "get", "--data-dir", "/x", "pods", "--secure-port=8443", "--disable-agent",
				 "--grace", "1m30s", "--tls-san", "a,b", "--tls-san=c", "--toleration-seconds", "300",
				 NULL };
		CHECK_INT(parse(14, argv), 2);
		CHECK_STR(argv[1], "get");
		CHECK_STR(argv[2], "pods");
		CHECK(argv[3] == NULL);
		CHECK_STR(str, "/x");
		CHECK_INT(num, 8443);
		CHECK_INT(big, 300);
		CHECK(on);
		CHECK_INT(dur, 90000);
		CHECK_INT(list.n, 3);
		CHECK_STR(list.items[2], "c");
	}
	{
		char *argv[] = { "cmd", "-n", "kube-system", "--disable-agent=false", "--", "--not-a-flag", NULL };
		CHECK_INT(parse(6, argv), 1);
		CHECK_STR(str, "kube-system");
		CHECK(!on);
		CHECK_STR(argv[1], "--not-a-flag");
	}
	{
		char *argv[] = { "cmd", "--secure-prt", "1", NULL };
		CHECK_INT(parse(3, argv), -1); /* unknown flag, with a suggestion on stderr */
	}
	{
		char *argv[] = { "cmd", "--secure-port", "many", NULL };
		CHECK_INT(parse(3, argv), -1);
	}
	{
		char *argv[] = { "cmd", "--grace", "soon", NULL };
		CHECK_INT(parse(3, argv), -1);
	}
	{
		char *argv[] = { "cmd", "--data-dir", NULL };
		CHECK_INT(parse(2, argv), -1); /* missing value */
	}
	CHECK_INT(flags_parse_duration("500ms", &ms), 0);
	CHECK_INT(ms, 500);
	CHECK_INT(flags_parse_duration("2h", &ms), 0);
	CHECK_INT(ms, 7200000);
	CHECK_INT(flags_parse_duration("10", &ms), 0);
	CHECK_INT(ms, 10000);
	CHECK_INT(flags_parse_duration("1.5s", &ms), 0);
	CHECK_INT(ms, 1500);
	CHECK_INT(flags_parse_duration("", &ms), -1);
	CHECK_INT(flags_parse_duration("5x", &ms), -1);
	CHECK_INT(flags_parse_duration("-5s", &ms), -1);
	reset();
	return test_done();
}
