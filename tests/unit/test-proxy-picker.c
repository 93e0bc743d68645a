/*
 * Unit tests for src/proxy/picker.c: round robin over ready endpoints,
 * retrying the next one within a connection, passing over backends whose
 * connect failed lately, keeping the cursor across endpoint updates, and
 * sessionAffinity ClientIP with its timeout.
 */
#include "core/util.h"
#include "proxy/picker.h"
#include "testing.h"

#include <stdlib.h>

#define IP(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (uint32_t)(d))

static const struct backend_addr three[] = {
	{ IP(10, 244, 0, 1), 80 },
	{ IP(10, 244, 0, 2), 80 },
	{ IP(10, 244, 0, 3), 80 },
};

static uint32_t pick_ip(struct picker *p, uint32_t client, uint64_t now)
{
	struct backend_addr b;

	return picker_pick(p, client, now, NULL, 0, &b) == 0 ? b.ip : 0;
}

static void test_round_robin(void)
{
	struct picker p;
	struct backend_addr b;
	int seen[4] = { 0 };

	picker_init(&p);
	CHECK_INT(picker_pick(&p, 1, 0, NULL, 0, &b), -1); /* no endpoints: nothing */
	picker_set_backends(&p, three, 3);
	for (int i = 0; i < 9; i++)
		seen[pick_ip(&p, IP(192, 168, 0, 1), 0) & 0xff]++;
	CHECK_INT(seen[1], 3);
	CHECK_INT(seen[2], 3);
	CHECK_INT(seen[3], 3);
	/* in order */
	CHECK_INT(pick_ip(&p, 7, 0), IP(10, 244, 0, 1));
	CHECK_INT(pick_ip(&p, 7, 0), IP(10, 244, 0, 2));
	CHECK_INT(pick_ip(&p, 7, 0), IP(10, 244, 0, 3));
	picker_release(&p);
}

/* Within one connection, each backend is tried at most once. */
static void test_tried(void)
{
	struct picker p;
	struct backend_addr tried[3], b;
	size_t n = 0;

	picker_init(&p);
	picker_set_backends(&p, three, 3);
	while (picker_pick(&p, 1, 0, tried, n, &b) == 0) {
		for (size_t i = 0; i < n; i++)
			CHECK(tried[i].ip != b.ip);
		tried[n++] = b;
		CHECK(n <= 3);
		if (n > 3)
			break;
	}
	CHECK_INT(n, 3);
	picker_release(&p);
}

/* A backend whose connect failed is passed over for PICKER_HOLDOFF_MS,
 * unless nothing else is left. */
static void test_holdoff(void)
{
	struct picker p;
	struct backend_addr b, tried[2];

	picker_init(&p);
	picker_set_backends(&p, three, 3);
	picker_failed(&p, three[1], 1000);
	for (int i = 0; i < 6; i++)
		CHECK(pick_ip(&p, 1, 1000 + (uint64_t)i) != three[1].ip);
	/* after the hold-off it is back in the rotation */
	{
		bool back = false;
		for (int i = 0; i < 3; i++)
			back |= pick_ip(&p, 1, 1000 + PICKER_HOLDOFF_MS + 1) == three[1].ip;
		CHECK(back);
	}
	/* every other one tried: the held-off backend still gets its chance */
	picker_failed(&p, three[1], 20000);
	tried[0] = three[0];
	tried[1] = three[2];
	CHECK_INT(picker_pick(&p, 1, 20001, tried, 2, &b), 0);
	CHECK_INT(b.ip, three[1].ip);
	/* an endpoint update keeps the mark of a backend that stays */
	picker_set_backends(&p, three, 3);
	for (int i = 0; i < 4; i++)
		CHECK(pick_ip(&p, 1, 20002) != three[1].ip);
	/* a failure of an address that is not a backend changes nothing */
	picker_failed(&p, (struct backend_addr){ IP(1, 2, 3, 4), 1 }, 20002);
	picker_release(&p);
}

/* Scaling: new endpoints join the rotation, removed ones leave it at once. */
static void test_update(void)
{
	struct picker p;
	int seen[5] = { 0 };
	const struct backend_addr four[] = { three[0], three[1], three[2], { IP(10, 244, 0, 4), 80 } };

	picker_init(&p);
	picker_set_backends(&p, three, 2);
	CHECK_INT(pick_ip(&p, 1, 0), three[0].ip);
	CHECK_INT(pick_ip(&p, 1, 0), three[1].ip);
	picker_set_backends(&p, four, 4);
	for (int i = 0; i < 8; i++)
		seen[pick_ip(&p, 1, 0) & 0xff]++;
	CHECK_INT(seen[1], 2);
	CHECK_INT(seen[4], 2);
	picker_set_backends(&p, four + 3, 1);
	for (int i = 0; i < 3; i++)
		CHECK_INT(pick_ip(&p, 1, 0), four[3].ip);
	picker_set_backends(&p, NULL, 0);
	CHECK_INT(pick_ip(&p, 1, 0), 0);
	picker_release(&p);
}

static void test_affinity(void)
{
	struct picker p;
	uint32_t a = IP(192, 168, 1, 1), b = IP(192, 168, 1, 2), first_a, first_b;
	struct backend_addr got, tried[1];

	picker_init(&p);
	picker_set_backends(&p, three, 3);
	picker_set_affinity(&p, true, 10000);
	first_a = pick_ip(&p, a, 0);
	first_b = pick_ip(&p, b, 0);
	CHECK(first_a != first_b); /* new clients still spread */
	for (int i = 1; i < 10; i++) {
		CHECK_INT(pick_ip(&p, a, (uint64_t)i * 1000), first_a);
		CHECK_INT(pick_ip(&p, b, (uint64_t)i * 1000), first_b);
	}
	CHECK_INT(picker_clients(&p), 2);
	/* idle longer than the timeout: the entry goes */
	picker_expire(&p, 9000 + 10001);
	CHECK_INT(picker_clients(&p), 0);
	/* a failed backend: the client moves on, and stays on the new one */
	first_a = pick_ip(&p, a, 30000);
	picker_failed(&p, (struct backend_addr){ first_a, 80 }, 30000);
	{
		uint32_t moved = pick_ip(&p, a, 30001);
		CHECK(moved != first_a);
		CHECK_INT(pick_ip(&p, a, 30002), moved);
	}
	/* retrying within a connection skips the sticky backend it tried */
	tried[0].ip = pick_ip(&p, b, 40000);
	tried[0].port = 80;
	CHECK_INT(picker_pick(&p, b, 40001, tried, 1, &got), 0);
	CHECK(got.ip != tried[0].ip);
	/* the backend of a client goes away: it gets another */
	first_b = pick_ip(&p, b, 50000);
	{
		struct backend_addr rest[2];
		size_t k = 0;
		for (int i = 0; i < 3; i++)
			if (three[i].ip != first_b)
				rest[k++] = three[i];
		picker_set_backends(&p, rest, 2);
	}
	CHECK(pick_ip(&p, b, 50001) != first_b);
	/* off: round robin again, table emptied */
	picker_set_affinity(&p, false, 0);
	CHECK_INT(picker_clients(&p), 0);
	CHECK(pick_ip(&p, a, 60000) != pick_ip(&p, a, 60000));
	picker_release(&p);
}

int main(void)
{
	test_round_robin();
	test_tried();
	test_holdoff();
	test_update();
	test_affinity();
	return test_done();
}
