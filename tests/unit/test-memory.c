/*
 * Tests for src/core/memory.c: the build links the allocator it says it
 * does, and memory_release gives freed pages back to the system, so a
 * server's size falls after a burst. (Under AddressSanitizer freed memory
 * sits in ASan's quarantine by design; there only the call is checked.)
 */
#include "core/memory.h"
#include "testing.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif

/* Resident set size in KiB, from /proc/self/status. */
static long rss_kib(void)
{
	char line[256];
	long kib = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

int main(void)
{
	enum { BLOCKS = 64 * 1024, SIZE = 1024 }; /* 64 MiB in blocks malloc keeps in its heap */
	static char *blocks[BLOCKS];
	long before, peak, after;

	CHECK_STR(memory_allocator(), MINIK8S_EXPECT_ALLOCATOR);

	before = rss_kib();
	for (int i = 0; i < BLOCKS; i++) {
		blocks[i] = malloc(SIZE);
		memset(blocks[i], i, SIZE);
	}
	peak = rss_kib();
	for (int i = 0; i < BLOCKS; i++)
		free(blocks[i]);
	CHECK_INT(memory_release(), 0);
	after = rss_kib();
	fprintf(stderr, "allocator %s: RSS %ld KiB, %ld with 64 MiB in use, %ld after release\n",
		memory_allocator(), before, peak, after);
	CHECK(peak - before > 48 * 1024);
#ifndef SANITIZED
	CHECK(peak - after > 40 * 1024);
#endif
	return test_done();
}
