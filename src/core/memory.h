/*
 * The memory allocator, seen from the program. Release builds link
 * jemalloc (meson -Dallocator, see meson_options.txt): the apiserver makes
 * and frees a few hundred small blocks for every write (a pod's tree,
 * its text, its watch events), and jemalloc's per-thread caches and size
 * classes do that for a third less of the server's CPU than glibc's malloc
 * (bench/README.md, bench/scheduler). Sanitizer builds keep the C library's
 * malloc, which AddressSanitizer replaces with its own.
 */
#ifndef MINIK8S_CORE_MEMORY_H
#define MINIK8S_CORE_MEMORY_H

/* "jemalloc" or "libc": which allocator this process runs on. */
const char *memory_allocator(void);

/* Hands the pages of freed memory back to the system, so that a process
 * does not stay at its peak size after a burst that will not come back
 * (30,000 pods deleted, a big list answered). A few milliseconds for a few
 * hundred megabytes; servers call it every few seconds. Returns 0, or -1
 * if the allocator refused. */
int memory_release(void);

#endif
