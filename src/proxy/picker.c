/*
 * The backend picker of picker.h. The cursor walks the backends in the
 * order the Endpoints list them; a pick starts where the last one ended,
 * so n connections spread over n backends even when some were tried and
 * failed. Affinity is a map from client IP to the backend it last got.
 */
#include "proxy/picker.h"
#include "core/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct picker_client {
	struct backend_addr addr;
	uint64_t last_ms;
};

static bool addr_eq(struct backend_addr a, struct backend_addr b)
{
	return a.ip == b.ip && a.port == b.port;
}

static void client_key(uint32_t ip, char *buf, size_t size)
{
	snprintf(buf, size, "%08x", ip);
}

void picker_init(struct picker *p)
{
	memset(p, 0, sizeof(*p));
	pmap_init(&p->clients);
}

static int free_client(const char *key, void *value, void *data)
{
	(void)key;
	(void)data;
	free(value);
	return 0;
}

static void clear_clients(struct picker *p)
{
	pmap_foreach(&p->clients, free_client, NULL);
	pmap_release(&p->clients);
	pmap_init(&p->clients);
}

void picker_release(struct picker *p)
{
	pmap_foreach(&p->clients, free_client, NULL);
	pmap_release(&p->clients);
	free(p->b);
	p->b = NULL;
	p->n = 0;
}

static struct picker_backend *find(const struct picker *p, struct backend_addr a)
{
	for (size_t i = 0; i < p->n; i++)
		if (addr_eq(p->b[i].addr, a))
			return &p->b[i];
	return NULL;
}

static int drop_if_gone(const char *key, void *value, void *data)
{
	struct picker *p = data;
	struct picker_client *c = value;

	if (!find(p, c->addr)) {
		pmap_del(&p->clients, key);
		free(c);
	}
	return 0;
}

void picker_set_backends(struct picker *p, const struct backend_addr *addrs, size_t n)
{
	struct picker_backend *nb = n ? xcalloc(n, sizeof(*nb)) : NULL;

	for (size_t i = 0; i < n; i++) {
		struct picker_backend *old = find(p, addrs[i]);
		nb[i].addr = addrs[i];
		nb[i].down_until_ms = old ? old->down_until_ms : 0;
	}
	free(p->b);
	p->b = nb;
	p->n = n;
	if (p->next >= n)
		p->next = 0;
	pmap_foreach(&p->clients, drop_if_gone, p);
}

void picker_set_affinity(struct picker *p, bool on, uint64_t timeout_ms)
{
	if (!on || timeout_ms == 0) {
		p->affinity = false;
		p->affinity_timeout_ms = 0;
		clear_clients(p);
		return;
	}
	p->affinity = true;
	p->affinity_timeout_ms = timeout_ms;
}

static bool was_tried(struct backend_addr a, const struct backend_addr *tried, size_t ntried)
{
	for (size_t i = 0; i < ntried; i++)
		if (addr_eq(tried[i], a))
			return true;
	return false;
}

int picker_pick(struct picker *p, uint32_t client_ip, uint64_t now_ms, const struct backend_addr *tried,
		size_t ntried, struct backend_addr *out)
{
	struct picker_client *c = NULL;
	char key[16];
	size_t idx = p->n;

	if (p->n == 0)
		return -1;
	if (p->affinity) {
		client_key(client_ip, key, sizeof(key));
		c = pmap_get(&p->clients, key);
		if (c && now_ms - c->last_ms <= p->affinity_timeout_ms) {
			struct picker_backend *b = find(p, c->addr);
			if (b && b->down_until_ms <= now_ms && !was_tried(c->addr, tried, ntried)) {
				c->last_ms = now_ms;
				*out = c->addr;
				return 0;
			}
		}
	}
	/* First pass skips backends that failed lately; the second takes them
	 * anyway, since trying a maybe-dead backend beats refusing outright. */
	for (int pass = 0; pass < 2 && idx == p->n; pass++) {
		for (size_t i = 0; i < p->n; i++) {
			size_t j = (p->next + i) % p->n;
			if (was_tried(p->b[j].addr, tried, ntried))
				continue;
			if (pass == 0 && p->b[j].down_until_ms > now_ms)
				continue;
			idx = j;
			break;
		}
	}
	if (idx == p->n)
		return -1;
	p->next = (idx + 1) % p->n;
	*out = p->b[idx].addr;
	if (p->affinity) {
		if (!c) {
			c = xmalloc(sizeof(*c));
			pmap_put(&p->clients, key, c);
		}
		c->addr = *out;
		c->last_ms = now_ms;
	}
	return 0;
}

void picker_failed(struct picker *p, struct backend_addr addr, uint64_t now_ms)
{
	struct picker_backend *b = find(p, addr);

	if (b)
		b->down_until_ms = now_ms + PICKER_HOLDOFF_MS;
}

struct expire_ctx {
	struct picker *p;
	uint64_t now;
};

static int expire_one(const char *key, void *value, void *data)
{
	struct expire_ctx *x = data;
	struct picker_client *c = value;

	if (x->now - c->last_ms > x->p->affinity_timeout_ms) {
		pmap_del(&x->p->clients, key);
		free(c);
	}
	return 0;
}

void picker_expire(struct picker *p, uint64_t now_ms)
{
	struct expire_ctx x = { p, now_ms };

	if (p->affinity)
		pmap_foreach(&p->clients, expire_one, &x);
}

size_t picker_clients(const struct picker *p)
{
	return p->clients.count;
}
