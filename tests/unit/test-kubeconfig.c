/*
 * Kubeconfig loading and writing: current-context and chosen contexts, token
 * and tokenFile, certificate-authority-data and a relative CA file,
 * insecure-skip-tls-verify, errors that name the file and what is missing,
 * the search order, and write + reload giving the same configuration with
 * mode 0600.
 */
#include "client/kubeconfig.h"
#include "testing.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[256];

static char *path_in(const char *name)
{
	return xasprintf("%s/%s", dir, name);
}

static void put(const char *name, const char *text)
{
	char *p = path_in(name);

	CHECK_INT(write_file_atomic(p, text, strlen(text), 0600), 0);
	free(p);
}

static const char ca_pem[] =
	"-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n";

static void test_base64(void)
{
	const char *samples[] = { "", "a", "ab", "abc", "abcd", "hello world!", ca_pem };
	char *enc, *dec;
	size_t len;

	for (size_t i = 0; i < ARRAY_SIZE(samples); i++) {
		enc = kubeconfig_base64_encode(samples[i], strlen(samples[i]));
		CHECK_INT(kubeconfig_base64_decode(enc, strlen(enc), &dec, &len), 0);
		CHECK_INT(len, strlen(samples[i]));
		CHECK_STR(dec, samples[i]);
		free(enc);
		free(dec);
	}
	enc = kubeconfig_base64_encode("ab", 2);
	CHECK_STR(enc, "YWI=");
	free(enc);
	/* Whitespace and line breaks are fine, as in wrapped PEM base64. */
	CHECK_INT(kubeconfig_base64_decode("aGVs\nbG8=\n", 10, &dec, &len), 0);
	CHECK_STR(dec, "hello");
	free(dec);
	CHECK_INT(kubeconfig_base64_decode("a$b=", 4, &dec, &len), -1);
	CHECK_INT(kubeconfig_base64_decode("YQ==YQ==", 8, &dec, &len), -1);
	CHECK_INT(kubeconfig_base64_decode("Y", 1, &dec, &len), -1);
}

static void test_load_token_and_context(void)
{
	struct kubeconfig *kc = NULL;
	struct strbuf err;
	char *p = path_in("two-contexts");

	strbuf_init(&err, 128);
	put("two-contexts",
	    "apiVersion: v1\n"
	    "kind: Config\n"
	    "clusters:\n"
	    "- name: dev\n"
	    "  cluster:\n"
	    "    server: https://10.0.0.1:6443/\n"
	    "    insecure-skip-tls-verify: true\n"
	    "- name: prod\n"
	    "  cluster:\n"
	    "    server: https://127.0.0.1:6443\n"
	    "users:\n"
	    "- name: alice\n"
	    "  user:\n"
	    "    token: alice-token\n"
	    "- name: bob\n"
	    "  user:\n"
	    "    tokenFile: bob.token\n"
	    "contexts:\n"
	    "- name: dev-ctx\n"
	    "  context:\n"
	    "    cluster: dev\n"
	    "    user: alice\n"
	    "    namespace: team-a\n"
	    "- name: prod-ctx\n"
	    "  context: {cluster: prod, user: bob}\n"
	    "current-context: dev-ctx\n");
	put("bob.token", "  bob-secret\n");

	CHECK_INT(kubeconfig_load(p, NULL, &kc, &err), 0);
	if (kc) {
		CHECK_STR(kc->path, p);
		CHECK_STR(kc->context, "dev-ctx");
		CHECK_STR(kc->server, "https://10.0.0.1:6443");
		CHECK_STR(kc->token, "alice-token");
		CHECK_STR(kc->namespace, "team-a");
		CHECK(kc->insecure);
		CHECK(kc->ca_pem == NULL);
		kubeconfig_free(kc);
		kc = NULL;
	} else {
		fprintf(stderr, "load failed: %s\n", err.buf);
	}

	/* A chosen context wins over current-context; tokenFile is relative
	 * to the kubeconfig's directory and trimmed. */
	CHECK_INT(kubeconfig_load(p, "prod-ctx", &kc, &err), 0);
	if (kc) {
		CHECK_STR(kc->context, "prod-ctx");
		CHECK_STR(kc->server, "https://127.0.0.1:6443");
		CHECK_STR(kc->token, "bob-secret");
		CHECK(kc->namespace == NULL);
		CHECK(!kc->insecure);
		kubeconfig_free(kc);
		kc = NULL;
	}

	CHECK_INT(kubeconfig_load(p, "nope", &kc, &err), -1);
	CHECK(kc == NULL);
	CHECK(strstr(err.buf, p) != NULL);
	CHECK(strstr(err.buf, "'nope'") != NULL);
	free(p);
	strbuf_release(&err);
}

static void test_load_ca(void)
{
	struct kubeconfig *kc = NULL;
	struct strbuf err;
	char *b64 = kubeconfig_base64_encode(ca_pem, strlen(ca_pem));
	char *text, *p;

	strbuf_init(&err, 128);
	/* certificate-authority-data, and a client certificate pair. */
	text = xasprintf("clusters:\n- name: c\n  cluster:\n    server: https://h:6443\n"
			 "    certificate-authority-data: %s\n"
			 "users:\n- name: u\n  user:\n    client-certificate-data: %s\n"
			 "    client-key-data: a2V5\n"
			 "contexts:\n- name: x\n  context:\n    cluster: c\n    user: u\n"
			 "current-context: x\n", b64, b64);
	put("ca-data", text);
	free(text);
	p = path_in("ca-data");
	CHECK_INT(kubeconfig_load(p, NULL, &kc, &err), 0);
	if (kc) {
		CHECK_STR(kc->ca_pem, ca_pem);
		CHECK_INT(kc->ca_pem_len, strlen(ca_pem));
		CHECK_STR(kc->cert_pem, ca_pem);
		CHECK_STR(kc->key_pem, "key");
		CHECK(kc->token == NULL);
		kubeconfig_free(kc);
		kc = NULL;
	}
	free(p);

	/* certificate-authority as a file relative to the kubeconfig. JSON is YAML too. */
	put("ca.crt", ca_pem);
	put("ca-file",
	    "{\"clusters\":[{\"name\":\"c\",\"cluster\":{\"server\":\"https://h:1\","
	    "\"certificate-authority\":\"ca.crt\"}}],"
	    "\"users\":[{\"name\":\"u\",\"user\":{\"token\":\"t\"}}],"
	    "\"contexts\":[{\"name\":\"x\",\"context\":{\"cluster\":\"c\",\"user\":\"u\"}}],"
	    "\"current-context\":\"x\"}");
	p = path_in("ca-file");
	CHECK_INT(kubeconfig_load(p, NULL, &kc, &err), 0);
	if (kc) {
		CHECK_STR(kc->ca_pem, ca_pem);
		CHECK_STR(kc->token, "t");
		kubeconfig_free(kc);
		kc = NULL;
	} else {
		fprintf(stderr, "load failed: %s\n", err.buf);
	}
	free(p);
	free(b64);
	strbuf_release(&err);
}

/* Loads text as a kubeconfig that must fail; checks the message mentions each needle. */
static void expect_error(const char *name, const char *text, const char *needle1, const char *needle2)
{
	struct kubeconfig *kc = NULL;
	struct strbuf err;
	char *p = path_in(name);

	strbuf_init(&err, 128);
	if (text)
		put(name, text);
	CHECK_INT(kubeconfig_load(p, NULL, &kc, &err), -1);
	CHECK(kc == NULL);
	if (!strstr(err.buf, p) || (needle1 && !strstr(err.buf, needle1)) ||
	    (needle2 && !strstr(err.buf, needle2))) {
		fprintf(stderr, "%s: unexpected message: %s\n", name, err.buf);
		CHECK(0);
	}
	kubeconfig_free(kc);
	free(p);
	strbuf_release(&err);
}

static void test_errors(void)
{
	static const char ctx[] = "contexts:\n- name: x\n  context: {cluster: c, user: u}\ncurrent-context: x\n";
	char *text;
	struct kubeconfig *kc = NULL;

	expect_error("missing", NULL, "No such file", "cannot read kubeconfig");
	expect_error("bad-yaml", "clusters: [\n  - name: {\n", "line", "cannot parse");
	expect_error("not-a-map", "- a\n- b\n", "not a mapping", NULL);
	expect_error("no-current", "clusters: []\n", "current-context", NULL);
	expect_error("no-cluster", ctx, "cluster 'c'", "not defined");
	text = xasprintf("clusters:\n- name: c\n  cluster: {insecure-skip-tls-verify: true}\n%s", ctx);
	expect_error("no-server", text, "has no server", NULL);
	free(text);
	text = xasprintf("clusters:\n- name: c\n  cluster: {server: 'https://h'}\n%s", ctx);
	expect_error("no-user", text, "user 'u'", "not defined");
	free(text);
	text = xasprintf("clusters:\n- name: c\n  cluster: {server: 'https://h', "
			 "certificate-authority-data: '!!notbase64'}\nusers:\n- name: u\n  user: {}\n%s", ctx);
	expect_error("bad-b64", text, "certificate-authority-data", "base64");
	free(text);
	text = xasprintf("clusters:\n- name: c\n  cluster: {server: 'https://h', "
			 "certificate-authority: nowhere.crt}\nusers:\n- name: u\n  user: {}\n%s", ctx);
	expect_error("bad-ca-file", text, "nowhere.crt", "No such file");
	free(text);
	text = xasprintf("clusters:\n- name: c\n  cluster: {server: 'https://h'}\n"
			 "users:\n- name: u\n  user: {tokenFile: /nonexistent/token}\n%s", ctx);
	expect_error("bad-token-file", text, "/nonexistent/token", NULL);
	free(text);

	/* Without a strbuf the error is reported through error() and still -1. */
	CHECK_INT(kubeconfig_load("/nonexistent/kubeconfig", NULL, &kc, NULL), -1);
	CHECK(kc == NULL);
}

static void test_write_roundtrip(void)
{
	struct kubeconfig *kc = kubeconfig_new("https://127.0.0.1:6443/", "abc.def\"quoted\\");
	struct kubeconfig *back = NULL;
	struct strbuf err;
	struct stat st;
	char *p = path_in("sub/dir/config");
	char *text;

	strbuf_init(&err, 128);
	CHECK_STR(kc->server, "https://127.0.0.1:6443");
	kubeconfig_set_ca(kc, ca_pem, strlen(ca_pem));
	kubeconfig_set_namespace(kc, "blog");
	CHECK_INT(kubeconfig_write(kc, p, &err), 0);
	CHECK_INT(stat(p, &st), 0);
	CHECK_INT(st.st_mode & 0777, 0600);

	CHECK_INT(kubeconfig_load(p, NULL, &back, &err), 0);
	if (back) {
		CHECK_STR(back->context, "minik8s");
		CHECK_STR(back->server, kc->server);
		CHECK_STR(back->token, kc->token);
		CHECK_STR(back->namespace, "blog");
		CHECK_INT(back->ca_pem_len, kc->ca_pem_len);
		CHECK_STR(back->ca_pem, ca_pem);
		CHECK(!back->insecure);
		kubeconfig_free(back);
		back = NULL;
	} else {
		fprintf(stderr, "reload failed: %s\n", err.buf);
	}

	/* Overwrite: no CA, insecure, no token (user: {}). */
	kubeconfig_set_ca(kc, NULL, 0);
	kubeconfig_set_token(kc, NULL);
	kubeconfig_set_namespace(kc, NULL);
	kc->insecure = true;
	text = kubeconfig_format(kc);
	CHECK(strstr(text, "user: {}") != NULL);
	CHECK(strstr(text, "current-context: minik8s") != NULL);
	free(text);
	CHECK_INT(kubeconfig_write(kc, p, &err), 0);
	CHECK_INT(kubeconfig_load(p, NULL, &back, &err), 0);
	if (back) {
		CHECK(back->insecure);
		CHECK(back->token == NULL);
		CHECK(back->ca_pem == NULL);
		CHECK(back->namespace == NULL);
		kubeconfig_free(back);
	}
	/* Writing where the directory cannot be made names the directory. */
	CHECK_INT(kubeconfig_write(kc, "/proc/nope/config", &err), -1);
	CHECK(strstr(err.buf, "/proc/nope") != NULL);

	kubeconfig_free(kc);
	free(p);
	strbuf_release(&err);
}

static void test_find(void)
{
	char *p, *a = path_in("two-contexts"), *env;
	char *home = xstrdup(getenv("HOME") ? getenv("HOME") : "");

	p = kubeconfig_find("/explicit/path");
	CHECK_STR(p, "/explicit/path");
	free(p);

	env = xasprintf("/nonexistent/one::%s:/nonexistent/two", a);
	setenv("KUBECONFIG", env, 1);
	p = kubeconfig_find(NULL);
	CHECK_STR(p, a);
	free(p);
	free(env);

	setenv("KUBECONFIG", "/nonexistent/one", 1);
	setenv("HOME", dir, 1);
	p = kubeconfig_find(NULL);
	env = xasprintf("%s/.minik8s/config", dir);
	CHECK_STR(p, env);
	free(env);
	free(p);
	unsetenv("KUBECONFIG");
	p = kubeconfig_default_path();
	CHECK(str_has_prefix(p, dir));
	free(p);

	setenv("HOME", home, 1);
	free(home);
	free(a);
}

static void remove_tree(const char *path)
{
	char *cmd = xasprintf("rm -rf '%s'", path);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", path);
	free(cmd);
}

int main(void)
{
	snprintf(dir, sizeof(dir), "/tmp/test-kubeconfig-XXXXXX");
	if (!mkdtemp(dir))
		SKIP("cannot create a temporary directory");
	test_base64();
	test_load_token_and_context();
	test_load_ca();
	test_errors();
	test_write_roundtrip();
	test_find();
	remove_tree(dir);
	return test_done();
}
