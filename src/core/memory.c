#include "memory.h"

#include <malloc.h>
#include <stddef.h>

/*
 * jemalloc's control interface, if jemalloc is linked in: a weak reference
 * resolves to NULL when it is not, so the same object file serves release
 * builds, sanitizer builds and tests alike, with no #ifdef to keep in step
 * with the build.
 */
extern int mallctl(const char *name, void *oldp, size_t *oldlenp, void *newp, size_t newlen) __attribute__((weak));

/* jemalloc's MALLCTL_ARENAS_ALL: the pseudo-arena that names every arena. */
#define ARENAS_ALL "4096"

const char *memory_allocator(void)
{
	return mallctl ? "jemalloc" : "libc";
}

int memory_release(void)
{
	if (mallctl)
		return mallctl("arena." ARENAS_ALL ".purge", NULL, NULL, NULL, 0) ? -1 : 0;
#ifdef __GLIBC__
	malloc_trim(0);
#endif
	return 0;
}
