/*
 * The Docker Engine API client of the kubelet: JSON requests to the engine
 * over its unix socket (`--docker-host unix:///var/run/docker.sock`), pinned
 * to API version 1.41 (Engine 20.10; later engines still accept it), on top
 * of httpc. Also the pure helpers that read the engine's byte formats: the
 * multiplexed stdout/stderr stream of logs and exec, Docker's timestamps,
 * and a tar writer for importing the pause image.
 *
 *   docker_call("POST", "/containers/create?name=k8s_...", body) -> on_done(result)
 *   docker_stream("GET", "/events?filters=...", on_data) -> on_data ... -> on_done
 */
#ifndef MINIK8S_KUBELET_DOCKER_H
#define MINIK8S_KUBELET_DOCKER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "core/httpc.h"

#define DOCKER_API_VERSION "v1.41"

struct docker;
struct docker_req;

/* A finished call; everything is borrowed for the callback. */
struct docker_result {
	int status;          /* HTTP status, 0 when the engine did not answer */
	json_t *body;        /* the body parsed as JSON, or NULL */
	const char *raw;     /* the body as received, NUL-terminated */
	size_t raw_len;
	/* NULL for a 2xx answer. Otherwise the engine's own message ("No such
	 * container: x") or why it could not be reached. */
	const char *error;
	bool unreachable;    /* the engine did not answer at all */
};

typedef void (*docker_done_fn)(const struct docker_result *r, void *data);

/* host is "unix:///var/run/docker.sock" or a bare socket path. hc is
 * borrowed and must outlive the client (may be NULL until docker_set_client). Returns NULL (logged) for a host
 * that is not a unix socket. */
struct docker *docker_new(struct httpc *hc, const char *host);
/* Sets the HTTP client (for a client made with hc NULL to check the host early). */
void docker_set_client(struct docker *d, struct httpc *hc);
void docker_free(struct docker *d);
const char *docker_socket(const struct docker *d);

/*
 * One request: path is after the version prefix, with its query
 * ("/containers/json?all=1"). body (borrowed, serialized now) may be NULL.
 * timeout_ms 0 means 2 minutes; negative means none. Returns a handle
 * valid until on_done returns, or NULL (then on_done never runs).
 */
struct docker_req *docker_call(struct docker *d, const char *method, const char *path, const json_t *body,
			       long timeout_ms, docker_done_fn on_done, void *data);

/* The same with a raw body (a tar for /images/create?fromSrc=-) and/or a
 * streamed answer: on_data gets the bytes of a 2xx answer as they come. */
struct docker_req *docker_stream(struct docker *d, const char *method, const char *path,
				 const char *content_type, const void *body, size_t body_len, long timeout_ms,
				 httpc_data_fn on_data, docker_done_fn on_done, void *data);

/* Cancels a call that has not ended; its callbacks do not run. */
void docker_cancel(struct docker_req *r);

/* "/containers/json?all=1&filters=..." helpers: appends ?k=v or &k=v with v
 * percent-encoded. */
void docker_query_add(char **path, const char *key, const char *value);

/* ---- byte formats (pure) ------------------------------------------------- */

/*
 * Docker's multiplexed stream (logs and exec of a container without a TTY):
 * frames of an 8-byte header {stream, 0, 0, 0, size (big endian u32)}
 * followed by size bytes. Feed it any slices; out(stream, bytes) runs for
 * each payload piece (a frame may come in several pieces). stream is 1 for
 * stdout, 2 for stderr. A callback returning <0 stops the feed, which then
 * returns that value.
 */
struct docker_demux {
	unsigned char hdr[8];
	size_t hdr_len;
	uint32_t remaining;
	int stream;
};
typedef int (*docker_demux_fn)(int stream, const char *buf, size_t len, void *data);
void docker_demux_init(struct docker_demux *m);
int docker_demux_feed(struct docker_demux *m, const char *buf, size_t len, docker_demux_fn out, void *data);

/*
 * Docker timestamps ("2026-12-03T19:45:33.288967615Z"; "0001-01-01T00:00:00Z"
 * means unset) to milliseconds since the epoch; 0 for unset or malformed.
 */
int64_t docker_time_ms(const char *s);
/* Milliseconds since the epoch as Kubernetes' "2026-12-03T19:45:33Z". */
void docker_format_time(int64_t ms, char *buf, size_t len);

/*
 * A tar archive in memory (ustar), enough to import a one-file image:
 * docker_tar_add(&sb, "pause", data, len, 0755) appends one regular file;
 * docker_tar_end() appends the two zero blocks that end an archive.
 */
struct strbuf;
void docker_tar_add(struct strbuf *sb, const char *name, const void *data, size_t len, unsigned mode);
void docker_tar_end(struct strbuf *sb);

#endif
