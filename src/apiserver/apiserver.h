/*
 * The API server's internals, shared by the files of src/apiserver/: the
 * server state, the parsed form of a request's path, and the entry points
 * each file provides. Nothing outside src/apiserver includes this; the
 * public face of the apiserver is `minik8s apiserver` (src/server.c).
 *
 * A request flows:  http.c -> apiserver_handle() [route, auth]
 *   -> discovery.c (/api, /apis, /openapi, /version, ...)
 *   -> handlers.c (decode, admission: defaults, allocate; validate; store)
 *   -> watch.c (list + watch streams, filtered per watcher)
 */
#ifndef MINIK8S_APISERVER_APISERVER_H
#define MINIK8S_APISERVER_APISERVER_H

#include "apiserver/kinds.h"
#include "apiserver/storage.h"
#include "core/flags.h"
#include "core/http.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

struct apiserver_config {
	char *data_dir;
	int secure_port;
	char *bind_address;
	char *advertise_address;        /* the address put in the kubernetes Endpoints */
	char *service_cluster_ip_range; /* "10.96.0.0/12" */
	char *service_node_port_range;  /* "30000-32767" */
	struct flag_list tls_sans;      /* extra SANs for the serving certificate */
	int64_t event_ttl_ms;
	int64_t default_unreachable_toleration_s;
	int64_t default_not_ready_toleration_s;
	int64_t watch_bookmark_interval_ms;
	int watch_cache_size;          /* --watch-cache-size: events kept to resume watches (0: default) */
	bool insecure_plain_http;       /* tests and benchmarks of the HTTP layer only */
};

/* An identity established from a bearer token. */
struct identity {
	char user[300];    /* "admin", "system:node:<name>", "system:bootstrap" */
	bool admin;        /* may do anything */
	bool bootstrap;    /* the join secret: may only call /minik8s/v1/join */
	char node[254];    /* a node's credential: its node name, else "" */
};

struct allocator;
struct httpc;
struct log_op;

struct apiserver {
	uv_loop_t *loop;
	struct apiserver_config cfg;
	struct store *store;
	struct http_server *http;
	SSL_CTX *tls;
	struct auth *auth;
	struct allocator *cluster_ips;
	struct allocator *node_ports;
	uv_timer_t housekeeping;
	uv_timer_t trim;           /* gives freed heap back to the system (apiserver.c) */
	struct watch_hub *watches;
	char *ca_pem;
	size_t ca_pem_len;
	struct httpc *kubelets;    /* client for pods/log (logs.c), made on first use */
	struct log_op *log_ops;    /* log requests passed on to kubelets */
	char self_address[64];     /* ip of this apiserver for default/kubernetes */
	bool ready;                /* bootstrap objects are in place */
	bool stopping;
};

/* The parts of a resource path:
 *   /api/v1/namespaces/default/pods/web-1/status
 *   /apis/apps/v1/deployments  (all namespaces) */
struct api_path {
	const struct kind *kind;
	char group[64];
	char version[16];
	char resource[64];
	char namespace[254];   /* "" when absent */
	char name[254];        /* "" for a collection */
	char subresource[32];  /* "" when absent */
	bool has_namespace;
};

/* Starts everything on loop: pki, storage, bootstrap objects, the HTTPS
 * listener. Returns 0 or -1 with a message logged. */
int apiserver_start(struct apiserver *as, uv_loop_t *loop);
/* Stops listening, ends watches, closes the store; cb runs when done. */
void apiserver_stop(struct apiserver *as, void (*cb)(void *data), void *data);

/* The HTTP handler (apiserver.c). */
void apiserver_handle(struct http_request *req, void *data);

/* Responses (handlers.c), beside core/http.h's http_respond_json and
 * http_respond_status. A 404 NotFound Status for `<resource>.<group> "name" not found`. */
void respond_not_found(struct http_request *req, const struct kind *k, const char *name);

/* A request's labelSelector and fieldSelector (handlers.c). */
struct filter {
	const struct kind *k;
	struct label_selector *labels;
	struct field_selector *fields;
};
/* Parses them from the query; on error answers 400 and returns -1. */
int filter_init(struct filter *f, const struct kind *k, struct http_request *req);
bool filter_matches(const struct filter *f, struct store_obj *o);
void filter_release(struct filter *f);

/* Resource requests (handlers.c). */
void handle_resource(struct apiserver *as, struct http_request *req, const struct api_path *p,
		     const struct identity *who);

/* Watch (watch.c): streams events for p's collection with the request's
 * selectors and resourceVersion. */
void handle_watch(struct apiserver *as, struct http_request *req, const struct api_path *p);
/* Ends every watch stream (at shutdown). */
void watch_hub_close(struct apiserver *as);

/* Discovery and OpenAPI (discovery.c). Returns true if it answered. */
bool handle_discovery(struct apiserver *as, struct http_request *req);

/* Tables (table.c). */
bool request_wants_table(const struct http_request *req);
/* A meta.k8s.io/v1 Table of objs (array, borrowed). New reference. */
json_t *table_new(const struct kind *k, const json_t *objs, const struct http_request *req);

/* Storage keys (handlers.c): "/registry/pods/default/web-1", and the
 * prefix for a collection ("/registry/pods/default/" or "/registry/pods/"). */
char *storage_key(const struct kind *k, const char *ns, const char *name);
char *storage_prefix(const struct kind *k, const char *ns);

/* Admission (admission.c): fills server-set fields on create (uid,
 * creationTimestamp, generation, name from generateName) and the kind's
 * defaults; Pods get default tolerations. */
void admit_create(struct apiserver *as, const struct kind *k, json_t *obj);
/* Allocates a Service's ClusterIP and NodePorts (create) or keeps them
 * (update, old != NULL). 0, or -1 with a 422 already sent on req. */
int admit_service(struct apiserver *as, struct http_request *req, json_t *svc, const json_t *old);
/* Frees what a deleted or failed Service held. */
void release_service(struct apiserver *as, const json_t *svc);
/* Frees the ClusterIPs and NodePorts svc holds that keep (may be NULL) does not. */
void release_service_delta(struct apiserver *as, const json_t *svc, const json_t *keep);

/* Allocators (allocator.c). */
struct allocator *allocator_new_cidr(const char *cidr);          /* NULL on a bad CIDR */
struct allocator *allocator_new_range(const char *range);        /* "30000-32767" */
void allocator_free(struct allocator *a);
/* Allocates a specific value ("10.96.0.10", "30080"): 0, -EEXIST if taken, -EINVAL outside. */
int allocator_take(struct allocator *a, const char *value);
/* Allocates any free value into buf: 0 or -ENOSPC. */
int allocator_next(struct allocator *a, char *buf, size_t len);
void allocator_release(struct allocator *a, const char *value);
/* Whether value lies in the allocator's range. */
bool allocator_contains(const struct allocator *a, const char *value);
const char *allocator_describe(const struct allocator *a);

/* Authentication (auth.c). */
struct auth *auth_new(const char *data_dir);
void auth_free(struct auth *a);
/* Fills who from the request's bearer token; false when missing or unknown. */
bool auth_authenticate(struct auth *a, const struct http_request *req, struct identity *who);
const char *auth_admin_token(const struct auth *a);
const char *auth_node_token(const struct auth *a);
/* GET pods/<name>/log: passed on to the pod's kubelet (logs.c). */
void handle_pod_log(struct apiserver *as, struct http_request *req, const struct api_path *p);
/* Ends every log stream and closes the kubelet client; cb(data) when done. */
void pod_logs_close(struct apiserver *as, void (*cb)(void *data), void *data);

/* A short Secret value (a token), base64-decoded from data.<field>: a
 * new string, or NULL when absent or malformed. */
char *secret_data_string(const json_t *secret, const char *field);

/* The token the apiserver shows kubelets (their port accepts only it). */
const char *auth_kubelet_client_token(const struct auth *a);
/* Node credentials: token -> node name, loaded from the node-credential
 * Secrets in kube-system at start and added to as nodes join. */
void auth_set_node_token(struct auth *a, const char *node, const char *token);
void auth_load_node_tokens(struct auth *a, struct store *s);

/* Node join (join.c): POST /minik8s/v1/join with the join secret. */
void handle_join(struct apiserver *as, struct http_request *req, const struct identity *who);
/* The Secret that holds a node's credential. */
#define NODE_CREDENTIAL_PREFIX "minik8s-node-"

/* Authorization (authz.c): what a node's credential may do. 0 to go on, or
 * -1 after answering 403. Admins are never asked. */
int authorize_node(struct apiserver *as, struct http_request *req, const struct api_path *p,
		   const struct identity *who);

#endif
