/*
 * Test doubles for the controller unit tests: a fake write client that
 * records every request and answers at once (201/200 by default, or what a
 * rule says), a fake clock, and an environment that builds a controller
 * context with fake listers on a real libuv loop and tears it down checking
 * that the loop closes.
 */
#ifndef MINIK8S_TESTS_CONTROLLER_FAKE_H
#define MINIK8S_TESTS_CONTROLLER_FAKE_H

#include "controller/controller.h"

#include <jansson.h>
#include <uv.h>

struct fake_client {
	struct controller_client base;
	json_t *requests;   /* [{method, path, content_type, body}] in order */
	json_t *rules;      /* answers that override the defaults */
	/* Answers wait for fake_client_flush when true (otherwise at once). */
	bool hold;
	struct fake_held *held;
	int seq;            /* for generated names, uids and resourceVersions */
	/* PATCH answers the object from these listers with the patch applied. */
	struct controller_context *ctx;
};

struct fake_client *fake_client_new(void);
void fake_client_free(struct fake_client *fc);

/* Requests whose method matches and whose path contains path_part answer
 * with status (and body, borrowed and copied, may be NULL) the next times
 * times (-1: always). A non-2xx status gets a Status body with message. */
void fake_client_rule(struct fake_client *fc, const char *method, const char *path_part, int status,
		      const json_t *body, const char *message, int times);
/* Answers the requests held now (hold mode); requests their callbacks send
 * wait for the next flush. Returns how many were answered. */
int fake_client_flush(struct fake_client *fc);
/* Forgets recorded requests and rules. */
void fake_client_reset(struct fake_client *fc);

/* Requests recorded with this method (NULL: any) whose path contains
 * path_part (NULL: any); events (paths with "/events") are left out unless
 * path_part names them. */
size_t fake_count(struct fake_client *fc, const char *method, const char *path_part);
/* The i-th such request (borrowed) or NULL. */
json_t *fake_request(struct fake_client *fc, const char *method, const char *path_part, size_t i);
/* Events POSTed with this reason; the i-th one's message (or NULL). */
size_t fake_event_count(struct fake_client *fc, const char *reason);
const char *fake_event_message(struct fake_client *fc, const char *reason, size_t i);
/* Prints the recorded requests (debugging a failing test). */
void fake_dump(struct fake_client *fc);

/* The fake clock every test context uses, in ms since the epoch. */
extern int64_t fake_now_ms;
int64_t fake_clock(void);

struct test_env {
	uv_loop_t loop;
	struct fake_client *fc;
	struct controller_options opts;
	struct controller_context ctx;
	const struct controller_def *def;
	void *state;
	struct controller *c;
};

/* Initializes the loop, fake client, options and context; with def, also
 * runs def->init and sets e->state and e->c. Returns 0 or -1. */
int test_env_init(struct test_env *e, const struct controller_def *def);
/* Stops the controller, frees everything, and checks the loop closes.
 * Returns the number of problems found (0: clean). */
int test_env_release(struct test_env *e);
/* The shared fake lister of a kind. */
struct lister *test_lister(struct test_env *e, const struct kind *k);

/* Builders: small objects with uid and resourceVersion set.
 * json_t *obj = test_obj("Pod", "v1", "default", "web-1", "uid-web-1"); */
json_t *test_obj(const char *kind, const char *api_version, const char *ns, const char *name, const char *uid);
/* Parses JSON text (aborts the test on bad JSON). New reference. */
json_t *test_json(const char *text);

#endif
