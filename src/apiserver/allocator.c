/*
 * Allocators for Service ClusterIPs (from --service-cluster-ip-range) and
 * NodePorts (from --service-node-port-range): a bitmap over the range. The
 * bitmap lives only in memory; at start the apiserver rebuilds it from the
 * stored Services, so it can never disagree with what is stored.
 */
#include "apiserver/apiserver.h"
#include "core/util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct allocator {
	bool is_ip;
	uint32_t base;   /* first address or port of the range */
	uint32_t size;   /* number of values */
	uint32_t next;   /* where the next search starts */
	uint64_t *bits;
	char describe[64];
};

static bool bit_get(const struct allocator *a, uint32_t i)
{
	return a->bits[i / 64] >> (i % 64) & 1;
}

static void bit_set(struct allocator *a, uint32_t i, bool v)
{
	if (v)
		a->bits[i / 64] |= 1ULL << (i % 64);
	else
		a->bits[i / 64] &= ~(1ULL << (i % 64));
}

static struct allocator *allocator_alloc(uint32_t base, uint32_t size, bool is_ip)
{
	struct allocator *a = xcalloc(1, sizeof(*a));

	a->is_ip = is_ip;
	a->base = base;
	a->size = size;
	a->bits = xcalloc((size + 63) / 64, sizeof(uint64_t));
	return a;
}

struct allocator *allocator_new_cidr(const char *cidr)
{
	char addr[64];
	const char *slash = strchr(cidr, '/');
	struct in_addr in;
	struct allocator *a;
	int prefix;

	if (!slash || (size_t)(slash - cidr) >= sizeof(addr))
		return NULL;
	memcpy(addr, cidr, (size_t)(slash - cidr));
	addr[slash - cidr] = '\0';
	prefix = atoi(slash + 1);
	if (inet_pton(AF_INET, addr, &in) != 1 || prefix < 8 || prefix > 30)
		return NULL;
	uint32_t size = 1u << (32 - prefix);
	uint32_t base = ntohl(in.s_addr) & ~(size - 1);
	a = allocator_alloc(base, size, true);
	/* The network and broadcast addresses are never handed out. */
	bit_set(a, 0, true);
	bit_set(a, size - 1, true);
	snprintf(a->describe, sizeof(a->describe), "%s", cidr);
	return a;
}

struct allocator *allocator_new_range(const char *range)
{
	unsigned lo, hi;
	struct allocator *a;
	char tail;

	if (sscanf(range, "%u-%u%c", &lo, &hi, &tail) != 2 || lo < 1 || hi > 65535 || lo > hi)
		return NULL;
	a = allocator_alloc(lo, hi - lo + 1, false);
	snprintf(a->describe, sizeof(a->describe), "%u-%u", lo, hi);
	return a;
}

void allocator_free(struct allocator *a)
{
	if (!a)
		return;
	free(a->bits);
	free(a);
}

const char *allocator_describe(const struct allocator *a)
{
	return a->describe;
}

/* Index of value in the range, or -1. */
static int64_t index_of(const struct allocator *a, const char *value)
{
	uint32_t v;

	if (a->is_ip) {
		struct in_addr in;
		if (inet_pton(AF_INET, value, &in) != 1)
			return -1;
		v = ntohl(in.s_addr);
	} else {
		char *end;
		unsigned long p = strtoul(value, &end, 10);
		if (*end || end == value || p > 65535)
			return -1;
		v = (uint32_t)p;
	}
	if (v < a->base || v - a->base >= a->size)
		return -1;
	return v - a->base;
}

static void format_value(const struct allocator *a, uint32_t i, char *buf, size_t len)
{
	if (a->is_ip) {
		struct in_addr in = { .s_addr = htonl(a->base + i) };
		inet_ntop(AF_INET, &in, buf, (socklen_t)len);
	} else {
		snprintf(buf, len, "%u", a->base + i);
	}
}

bool allocator_contains(const struct allocator *a, const char *value)
{
	return index_of(a, value) >= 0;
}

int allocator_take(struct allocator *a, const char *value)
{
	int64_t i = index_of(a, value);

	if (i < 0)
		return -EINVAL;
	if (bit_get(a, (uint32_t)i))
		return -EEXIST;
	bit_set(a, (uint32_t)i, true);
	return 0;
}

int allocator_next(struct allocator *a, char *buf, size_t len)
{
	/* Sequential from where the last search ended: addresses are easy to
	 * follow in a classroom, and a freed one is not reused at once. IPs
	 * skip the first 16 of the range, kept for addresses chosen by hand
	 * (10.96.0.1 for kubernetes, 10.96.0.10 for DNS), as Kubernetes keeps a
	 * static band. */
	uint32_t start = a->is_ip && a->size > 64 ? 16 : 0;

	for (uint32_t n = 0; n < a->size; n++) {
		uint32_t i = a->next + n;
		if (i >= a->size)
			i = start + (i - a->size) % (a->size - start);
		if (i < start)
			i = start;
		if (!bit_get(a, i)) {
			bit_set(a, i, true);
			a->next = i + 1 < a->size ? i + 1 : start;
			format_value(a, i, buf, len);
			return 0;
		}
	}
	return -ENOSPC;
}

void allocator_release(struct allocator *a, const char *value)
{
	int64_t i = index_of(a, value);

	if (i <= 0 && a->is_ip)
		return; /* the network address stays reserved */
	if (i >= 0 && !(a->is_ip && (uint32_t)i == a->size - 1))
		bit_set(a, (uint32_t)i, false);
}
