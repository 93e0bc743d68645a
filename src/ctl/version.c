/*
 * `minictl version`: the client's version and the server's (from /version),
 * laid out as kubectl's: `Client Version: v1.32.0-minik8s-0.1.0` then
 * `Server Version: v1.32.0`, or both as one JSON or YAML document with -o.
 * The client says which Kubernetes API it follows and which minik8s it is.
 */
#include "commands.h"
#include "core/object.h"
#include "core/util.h"
#include "core/yaml.h"
#include "ctl/ctl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CLIENT_GIT_VERSION MINIK8S_KUBE_VERSION "-minik8s-" MINIK8S_VERSION

static const char usage[] =
	"usage: minictl version [--client] [-o json|yaml]\n\n"
	"Prints the client and server versions. The client follows Kubernetes "
	MINIK8S_KUBE_VERSION "'s API.\n";

/* "2026-12-03T00:00:00Z" from the compiler's __DATE__ ("Dec  3 2026") and __TIME__. */
static void build_date(char *buf, size_t len)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	char mon[4] = "";
	int day = 1, year = 1970;
	const char *m;

	sscanf(__DATE__, "%3s %d %d", mon, &day, &year);
	m = strstr(months, mon);
	snprintf(buf, len, "%04d-%02d-%02dT%sZ", year, m ? (int)(m - months) / 3 + 1 : 1, day, __TIME__);
}

/* A version.Info for this client. New reference. */
static json_t *client_info(void)
{
	char date[32];

	build_date(date, sizeof(date));
	/* Field order as kubectl's, which prints version.Info's struct order. */
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "major", "1", "minor", "32",
			 "gitVersion", CLIENT_GIT_VERSION, "gitCommit", "", "gitTreeState", "clean",
			 "buildDate", date, "goVersion", "minik8s-" MINIK8S_VERSION, "compiler", "gcc",
			 "platform", "linux/amd64");
}

int ctl_version(struct ctl *c, int argc, char **argv)
{
	bool client_only = false;
	char *output = NULL;
	json_t *doc = NULL, *server = NULL;
	int rc = 1, status;
	const struct flag flags[] = {
		{ "client", FLAG_BOOL, &client_only, "print only the client version (no server needed)" },
		{ "output", FLAG_STRING, &output, "json or yaml" },
		{ "o", FLAG_STRING, &output, "short for --output" },
		{ NULL, 0, NULL, NULL },
	};
	const struct flag *const tables[] = { ctl_global_flags(c), flags, NULL };
	int n;

	ctl_expand_short_flags(argc, argv, "o");
	n = flags_parse(tables, usage, argc, argv);
	if (n < 0)
		goto out;
	if (n > 0) {
		fprintf(stderr, "error: unexpected arguments: %s\nSee 'minictl version -h' for help\n", argv[1]);
		goto out;
	}
	if (output && strcmp(output, "json") && strcmp(output, "yaml")) {
		fprintf(stderr, "error: --output must be 'yaml' or 'json'\n");
		goto out;
	}
	doc = json_pack("{s:o}", "clientVersion", client_info());
	if (!output)
		printf("Client Version: %s\n", CLIENT_GIT_VERSION);
	if (!client_only) {
		if (ctl_connect(c) < 0)
			goto out;
		status = ctl_request(c, "GET", "/version", NULL, NULL, NULL, &server);
		if (status < 200 || status >= 300 || !json_is_object(server)) {
			if (status >= 300)
				ctl_print_status(server, status);
			goto out;
		}
		json_object_set(doc, "serverVersion", server);
		if (!output)
			printf("Server Version: %s\n", obj_str(server, "gitVersion") ?: "");
	}
	rc = 0;
out:
	/* With -o, kubectl prints what it got even when the server failed. */
	if (output && doc && (!strcmp(output, "json") || !strcmp(output, "yaml"))) {
		if (!strcmp(output, "json")) {
			char *s = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
			printf("%s\n", s);
			free(s);
		} else {
			json_t *sorted = ctl_json_sorted(doc);
			char *s = yaml_encode(sorted);
			printf("%s\n", s);
			free(s);
			json_decref(sorted);
		}
	}
	json_decref(server);
	json_decref(doc);
	free(output);
	return rc;
}
