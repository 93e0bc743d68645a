/*
 * A minimal test harness for tests/unit: CHECK macros that report the file,
 * line and values and count failures, and test_done() that turns the count
 * into the exit code meson reads (0 pass, 1 fail, 77 skip).
 */
#ifndef MINIK8S_TESTING_H
#define MINIK8S_TESTING_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static int test_failures;
static int test_checks;

#define CHECK(cond)                                                                   \
	do {                                                                          \
		test_checks++;                                                        \
		if (!(cond)) {                                                        \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
			test_failures++;                                              \
		}                                                                     \
	} while (0)

#define CHECK_INT(a, b)                                                               \
	do {                                                                          \
		long long _a = (long long)(a), _b = (long long)(b);                   \
		test_checks++;                                                        \
		if (_a != _b) {                                                       \
			fprintf(stderr, "%s:%d: %s == %s failed: %lld != %lld\n", __FILE__, \
				__LINE__, #a, #b, _a, _b);                            \
			test_failures++;                                              \
		}                                                                     \
	} while (0)

#define CHECK_STR(a, b)                                                               \
	do {                                                                          \
		const char *_a = (a), *_b = (b);                                      \
		test_checks++;                                                        \
		if (!_a || !_b || strcmp(_a, _b)) {                                   \
			fprintf(stderr, "%s:%d: %s == %s failed:\n  got:  %s\n  want: %s\n", \
				__FILE__, __LINE__, #a, #b, _a ? _a : "(null)",       \
				_b ? _b : "(null)");                                  \
			test_failures++;                                              \
		}                                                                     \
	} while (0)

#define SKIP(why)                                                                     \
	do {                                                                          \
		fprintf(stderr, "skipped: %s\n", why);                                \
		return 77;                                                            \
	} while (0)

static inline int test_done(void)
{
	if (test_checks == 0) {
		fprintf(stderr, "no checks ran\n");
		return 1;
	}
	fprintf(stderr, "%d checks, %d failed\n", test_checks, test_failures);
	return test_failures ? 1 : 0;
}

#endif
