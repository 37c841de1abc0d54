/* Unit tests: configuration validation names every bad key. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "conf/conf.h"
#include "core/core.h"
#include "unit.h"

static struct conf *
load(const char *json, char *err)
{
	return conf_load_buffer(json, strlen(json), "test.json", err,
	    CONF_ERR_MAX);
}

static void
test_good(void)
{
	char		 err[CONF_ERR_MAX];
	struct conf	*c;

	c = load("{\"listen\": [\"127.0.0.1:5000\", \"[::1]:5001\", \":5002\"],"
	    " \"upstream\": {\"url\": \"http://127.0.0.1:5001/\"},"
	    " \"log\": {\"level\": \"debug\", \"access\": false},"
	    " \"limits\": {\"buffer_bytes\": 65536}}", err);
	CHECK(c != NULL, "good config rejected: %s", err);
	if (c == NULL)
		return;
	CHECK(c->nlisten == 3, "nlisten %d", c->nlisten);
	CHECK(strcmp(c->listen[0].host, "127.0.0.1") == 0 &&
	    strcmp(c->listen[0].port, "5000") == 0, "listen 0");
	CHECK(strcmp(c->listen[1].host, "::1") == 0, "listen v6 %s",
	    c->listen[1].host);
	CHECK(strcmp(c->listen[2].host, "") == 0, "listen any");
	CHECK(strcmp(c->up.url, "http://127.0.0.1:5001") == 0,
	    "trailing slash kept: %s", c->up.url);
	CHECK(c->log_level == CONF_LOG_DEBUG, "level");
	CHECK(c->log_access == 0, "access");
	CHECK(c->buffer_bytes == 65536, "buffer_bytes");
	CHECK(c->splice == CONF_SPLICE_AUTO, "default splice");
	CHECK(c->idle_timeout == 60, "default idle_timeout");
	CHECK(c->up_manifest_put == CONF_MP_DIGEST_THEN_TAG,
	    "default manifest_put");
	/* workers: the online cores by default, 1..64 */
	CHECK(c->workers >= 1 && c->workers <= CONF_WORKERS_MAX &&
	    (sysconf(_SC_NPROCESSORS_ONLN) < 1 ||
	    c->workers == (sysconf(_SC_NPROCESSORS_ONLN) > CONF_WORKERS_MAX ?
	    CONF_WORKERS_MAX : sysconf(_SC_NPROCESSORS_ONLN))),
	    "default workers %ld", c->workers);
	conf_unref(c);

	c = load("{\"listen\": [\"127.0.0.1:1\"], \"upstream\": {\"url\": "
	    "\"http://a\"}, \"workers\": 64}", err);
	CHECK(c != NULL && c->workers == 64, "workers 64: %s", err);
	conf_unref(c);
	c = load("{\"listen\": [\"127.0.0.1:1\"], \"upstream\": {\"url\": "
	    "\"http://a\"}, \"workers\": 1}", err);
	CHECK(c != NULL && c->workers == 1, "workers 1: %s", err);
	conf_unref(c);

	/* splice: auto by default (above), or always, or never */
	c = load("{\"listen\": [\"127.0.0.1:1\"], \"upstream\": {\"url\": "
	    "\"http://a\"}, \"splice\": \"never\"}", err);
	CHECK(c != NULL && c->splice == CONF_SPLICE_NEVER, "splice never: %s",
	    err);
	conf_unref(c);
	c = load("{\"listen\": [\"127.0.0.1:1\"], \"upstream\": {\"url\": "
	    "\"http://a\"}, \"splice\": \"always\"}", err);
	CHECK(c != NULL && c->splice == CONF_SPLICE_ALWAYS, "splice always: %s",
	    err);
	conf_unref(c);

	/* comments are whole lines starting with # or // */
	c = load("# a comment\n{\n  // another\n  \"listen\": [\"127.0.0.1:1\"],"
	    "\n  \"upstream\": {\"url\": \"https://r.example:443\"}\n}\n", err);
	CHECK(c != NULL, "commented config rejected: %s", err);
	conf_unref(c);

	/* registry_auth with a password file (ECR: renewed in place) */
	c = load("{\"listen\": [\"127.0.0.1:1\"], \"upstream\": {\"url\": "
	    "\"http://a\"}, \"registry_auth\": {\"username\": \"AWS\", "
	    "\"password_file\": \"/etc/hostname\"}}", err);
	CHECK(c != NULL && c->reg_password_file != NULL &&
	    c->reg_password_env == NULL, "password_file: %s", err);
	conf_unref(c);
}

static void
test_bad(void)
{
	static const struct { const char *json, *want; } t[] = {
		{ "{", "line 1" },
		{ "[]", "top level must be an object" },
		{ "{\"upstream\": {\"url\": \"http://a\"}}", "listen: required" },
		{ "{\"listen\": [\"127.0.0.1:1\"]}", "upstream.url: required" },
		{ "{\"listen\": [\"127.0.0.1:1\"], \"upstream\": {\"url\": \"http://a\"},"
		    " \"listne\": 1}", "listne: unknown key" },
		{ "{\"listen\": [\"127.0.0.1:1\"], \"upstream\": {\"url\": \"http://a\","
		    " \"insecur\": true}}", "upstream.insecur: unknown key" },
		{ "{\"listen\": \"127.0.0.1:1\", \"upstream\": {\"url\": \"http://a\"}}",
		    "listen: must be an array" },
		{ "{\"listen\": [\"127.0.0.1\"], \"upstream\": {\"url\": \"http://a\"}}",
		    "listen[0]: \"127.0.0.1\": expected" },
		{ "{\"listen\": [\"127.0.0.1:70000\"], \"upstream\": {\"url\": \"http://a\"}}",
		    "listen[0]: \"127.0.0.1:70000\": port must be 1-65535" },
		{ "{\"listen\": [\"127.0.0.1:1\"], \"upstream\": {\"url\": \"ftp://a\"}}",
		    "upstream.url: must start with http:// or https://" },
		{ "{\"listen\": [\"127.0.0.1:1\"], \"upstream\": {\"url\": \"http://a/v2\"}}",
		    "upstream.url: must be scheme://host[:port]" },
		{ "{\"listen\": [\"127.0.0.1:1\"], \"upstream\": {\"url\": \"http://u:p@a\"}}",
		    "upstream.url: must not carry credentials" },
		{ "{\"listen\": [\"127.0.0.1:1\"], \"upstream\": {\"url\": \"http://a\","
		    " \"insecure\": \"yes\"}}", "upstream.insecure: must be true or false" },
		{ "{\"listen\": [\"127.0.0.1:1\"], \"upstream\": {\"url\": \"http://a\","
		    " \"insecure\": true}}", "ca and insecure apply to an https:// url" },
		{ "{\"listen\": [\"127.0.0.1:1\"], \"upstream\": {\"url\": \"https://a\","
		    " \"ca\": \"/nonexistent/ca.pem\"}}", "upstream.ca: /nonexistent/ca.pem: No such file" },
		{ "{\"listen\": [\"127.0.0.1:1\"], \"upstream\": {\"url\": \"http://a\"},"
		    " \"log\": {\"level\": \"loud\"}}", "log.level: \"loud\" is not one of debug|info|warn|error" },
		{ "{\"listen\": [\"127.0.0.1:1\"], \"upstream\": {\"url\": \"http://a\"},"
		    " \"limits\": {\"buffer_bytes\": 10}}", "limits.buffer_bytes: 10 is out of range" },
		{ "{\"listen\": [\"127.0.0.1:1\"], \"upstream\": {\"url\": \"http://a\"},"
		    " \"tls\": {\"certificate\": \"/etc/hostname\"}}", "tls: certificate and key go together" },
		{ "{\"listen\": [\"127.0.0.1:1\"], \"listen\": [\"127.0.0.1:2\"],"
		    " \"upstream\": {\"url\": \"http://a\"}}", "duplicate object key" },
		{ "{\"listen\": [\"127.0.0.1:1\"], \"upstream\": {\"url\": \"\"}}",
		    "upstream.url: must be a non-empty string" },
		{ "{\"listen\": [\"127.0.0.1:1\"], \"upstream\": {\"url\": \"http://a\"},"
		    " \"registry_auth\": {\"username\": \"AWS\", \"password_env\": \"HOME\","
		    " \"password_file\": \"/etc/hostname\"}}",
		    "registry_auth: password_env or password_file, not both" },
		{ "{\"listen\": [\"127.0.0.1:1\"], \"upstream\": {\"url\": \"http://a\"},"
		    " \"registry_auth\": {\"password_file\": \"/etc/hostname\"}}",
		    "registry_auth: username and password_env (or password_file) go together" },
		{ "{\"listen\": [\"127.0.0.1:1\"], \"upstream\": {\"url\": \"http://a\"},"
		    " \"registry_auth\": {\"username\": \"AWS\","
		    " \"password_file\": \"/nonexistent/pw\"}}",
		    "registry_auth.password_file: /nonexistent/pw: No such file" },
		{ "{\"listen\": [\"127.0.0.1:1\"], \"upstream\": {\"url\": \"http://a\","
		    " \"manifest_put\": \"tag\"}}",
		    "upstream.manifest_put: \"tag\" is not one of digest-then-tag|tag-only" },
		{ "{\"listen\": [\"127.0.0.1:1\"], \"upstream\": {\"url\": \"http://a\"},"
		    " \"workers\": 0}", "workers: 0 is out of range" },
		{ "{\"listen\": [\"127.0.0.1:1\"], \"upstream\": {\"url\": \"http://a\"},"
		    " \"workers\": 65}", "workers: 65 is out of range" },
		{ "{\"listen\": [\"127.0.0.1:1\"], \"upstream\": {\"url\": \"http://a\"},"
		    " \"splice\": true}", "splice: must be a string" },
		{ "{\"listen\": [\"127.0.0.1:1\"], \"upstream\": {\"url\": \"http://a\"},"
		    " \"splice\": \"on\"}", "splice: \"on\" is not one of auto|always|never" },
		{ "{\"listen\": [\"127.0.0.1:1\"], \"upstream\": {\"url\": \"http://a\"},"
		    " \"workers\": \"2\"}", "workers: must be an integer" },
	};
	char		 err[CONF_ERR_MAX];
	struct conf	*c;
	size_t		 i;

	for (i = 0; i < sizeof(t) / sizeof(*t); i++) {
		c = load(t[i].json, err);
		CHECK(c == NULL, "case %zu accepted", i);
		CHECK(strstr(err, t[i].want) != NULL,
		    "case %zu: error \"%s\" lacks \"%s\"", i, err, t[i].want);
		conf_unref(c);
	}

	/* every error is reported, not just the first */
	c = load("{\"listen\": [\"x\"], \"upstream\": {\"url\": \"gopher://a\","
	    " \"bogus\": 1}, \"extra\": {}}", err);
	CHECK(c == NULL, "multi-error accepted");
	CHECK(strstr(err, "listen[0]") && strstr(err, "upstream.url") &&
	    strstr(err, "upstream.bogus") && strstr(err, "extra: unknown key"),
	    "not all errors: %s", err);

	/* a parse error names the line */
	c = load("{\n\"listen\": [\"127.0.0.1:1\"],\n\"upstream\": {\"url\": }\n}",
	    err);
	CHECK(c == NULL && strstr(err, "line 3") != NULL, "line: %s", err);
}

static void
test_signing(void)
{
	const struct conf_policy *p;
	char		 err[CONF_ERR_MAX], json[2048];
	const char	*top = getenv("top_srcdir");
	struct conf	*c;

	if (top == NULL)
		top = ".";
	setenv("SIGNET_TEST_PW", "test", 1);
	snprintf(json, sizeof(json),
	    "{\"listen\": [\"127.0.0.1:1\"], \"upstream\": {\"url\": "
	    "\"http://reg.example:5000\", \"media_types\": \"auto\","
	    " \"manifest_put\": \"tag-only\"},"
	    " \"signing\": {\"key\": \"%s/tests/vectors/worked-example/cosign.key\","
	    " \"password_env\": \"SIGNET_TEST_PW\", \"annotations\": {\"b\": \"2\"}},"
	    " \"policies\": [{\"match\": \"team/*\", \"sign\": \"required\","
	    " \"reference_registry\": \"signet.example:443\"},"
	    " {\"match\": \"lab/*\", \"sign\": \"best-effort\", \"annotations\": {\"a\": \"1\"}},"
	    " {\"match\": \"*\", \"sign\": \"off\"}]}", top);
	c = load(json, err);
	CHECK(c != NULL, "signing config: %s", err);
	if (c != NULL) {
		CHECK(c->sign_key != NULL, "key loaded");
		CHECK(c->up_media_types == CONF_MT_AUTO, "media_types");
		CHECK(c->up_manifest_put == CONF_MP_TAG_ONLY, "manifest_put");
		CHECK(strcmp(c->up.hostport, "reg.example:5000") == 0, "hostport");
		p = conf_policy_for(c, "team/app");
		CHECK(p != NULL && p->sign == CONF_SIGN_REQUIRED &&
		    strcmp(p->reference_registry, "signet.example:443") == 0,
		    "team rule");
		p = conf_policy_for(c, "lab/x/y");
		CHECK(p != NULL && p->sign == CONF_SIGN_BEST_EFFORT &&
		    p->annotations != NULL, "lab rule");
		p = conf_policy_for(c, "other");
		CHECK(p != NULL && p->sign == CONF_SIGN_OFF, "catch-all");
		CHECK(c->sig_repo == NULL, "no signature repository");
		conf_unref(c);
	}

	/* the wrong password, named */
	setenv("SIGNET_TEST_PW", "wrong", 1);
	c = load(json, err);
	CHECK(c == NULL && strstr(err, "signing.key:") &&
	    strstr(err, "wrong password"), "wrong password: %s", err);
	unsetenv("SIGNET_TEST_PW");
	c = load(json, err);
	CHECK(c == NULL && strstr(err, "no password") &&
	    strstr(err, "signing.password_env"), "no password: %s", err);

	/* cosign's environment variables */
	setenv("SIGNET_TEST_PW", "test", 1);
	setenv("COSIGN_REPOSITORY", "sigs/store", 1);
	setenv("COSIGN_DOCKER_MEDIA_TYPES", "1", 1);
	c = load(json, err);
	CHECK(c != NULL && c->sig_repo != NULL &&
	    strcmp(c->sig_repo, "sigs/store") == 0 &&
	    c->up_media_types == CONF_MT_DOCKER, "cosign env: %s", err);
	conf_unref(c);
	setenv("COSIGN_REPOSITORY", "Bad Name", 1);
	c = load(json, err);
	CHECK(c == NULL && strstr(err, "COSIGN_REPOSITORY"), "bad env: %s", err);
	unsetenv("COSIGN_REPOSITORY");
	unsetenv("COSIGN_DOCKER_MEDIA_TYPES");

	{
		static const struct { const char *json, *want; } t[] = {
			{ "\"policies\": [{\"match\": \"*\", \"sign\": \"yes\"}]",
			    "policies[0].sign: \"yes\" is not one of off|best-effort|required" },
			{ "\"policies\": [{\"sign\": \"off\"}]", "policies[0].match: required" },
			{ "\"policies\": [{\"match\": \"*\", \"verfy\": \"x\"}]",
			    "policies[0].verfy: unknown key" },
			{ "\"policies\": [{\"match\": \"*\", \"sign\": \"required\"}]",
			    "signing.key: required by a policy that signs" },
			{ "\"policies\": {}", "policies: must be an array of objects" },
			{ "\"policies\": [{\"match\": \"*\", \"annotations\": {\"a\": 1}}]",
			    "policies[0].annotations.a: must be a string" },
			{ "\"policies\": [{\"match\": \"*\", \"reference_registry\": \"a/b\"}]",
			    "policies[0].reference_registry: must be a non-empty string naming a host" },
			{ "\"signature_repository\": \"UP\"", "signature_repository: \"UP\" is not a valid" },
			{ "\"upstream2\": 1", "upstream2: unknown key" },
		};
		size_t	i;

		for (i = 0; i < sizeof(t) / sizeof(*t); i++) {
			snprintf(json, sizeof(json), "{\"listen\": [\"127.0.0.1:1\"],"
			    " \"upstream\": {\"url\": \"http://a\"}, %s}", t[i].json);
			c = load(json, err);
			CHECK(c == NULL && strstr(err, t[i].want) != NULL,
			    "signing case %zu: \"%s\" lacks \"%s\"", i, err,
			    t[i].want);
			conf_unref(c);
		}
	}
}

/*
 * Cached verdicts are keyed by a rule's trust: a change of anything a
 * verdict depends on (here the name signatures must carry) changes it.
 */
static void
test_trust_id(void)
{
	char		 err[CONF_ERR_MAX], json[1024], ids[3][65];
	const char	*top = getenv("top_srcdir");
	const char	*refs[3] = { "", ", \"reference_registry\": \"a.example\"",
			    ", \"reference_registry\": \"b.example\"" };
	struct conf	*c;
	int		 i;

	for (i = 0; i < 3; i++) {
		snprintf(json, sizeof(json), "{\"listen\": [\"127.0.0.1:1\"], "
		    "\"upstream\": {\"url\": \"http://127.0.0.1:2\"}, "
		    "\"policies\": [{\"match\": \"*\", \"verify\": \"enforce\", "
		    "\"keys\": [\"%s/tests/vectors/worked-example/cosign.pub\"]"
		    "%s}]}", top != NULL ? top : ".", refs[i]);
		c = load(json, err);
		CHECK(c != NULL, "trust config %d: %s", i, err);
		if (c == NULL)
			return;
		snprintf(ids[i], sizeof(ids[i]), "%s", c->policies[0].trust_id);
		conf_unref(c);
	}
	CHECK(strcmp(ids[0], ids[1]) != 0 && strcmp(ids[1], ids[2]) != 0 &&
	    strcmp(ids[0], ids[2]) != 0, "reference_registry changes the trust "
	    "id");
}

/* Regular expressions regcomp could grow without bound are refused. */
static void
test_regex_bounds(void)
{
	static const struct {
		const char	*re;
		int		 ok;
	} rows[] = {
		{ "^https://github\\.com/example/.*$", 1 },
		{ "^ci@example\\.(com|org)$", 1 },
		{ "a{1,32}", 1 },
		{ "x++", 0 },
		{ "x*+", 0 },
		{ "(a{100})", 0 },
		{ "a{1,33}", 0 },
		{ "((((((((((a))))))))))", 0 },
		{ "a\\++", 1 },		/* an escaped '+', then one */
		/* nested counts multiply (the review's case) */
		{ "(((((a{32}){32}){32}){32}){32})", 0 },
		{ "((a{10}){10}){11}", 0 },
		{ "((a{10}){10}){10}", 1 },	/* 1,000 copies: the most */
		{ "(a{10}){10}", 1 },
		{ "[a-z+*]+@example\\.com", 1 },	/* inside brackets */
		{ "a{4294967297}", 0 },
	};
	char	why[80];
	size_t	i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		CHECK((core_regex_check(rows[i].re, why, sizeof(why)) == 0) ==
		    rows[i].ok, "regex row %zu: %s", i, rows[i].re);
}

int
main(void)
{
	test_good();
	test_bad();
	test_signing();
	test_trust_id();
	test_regex_bounds();
	return unit_done();
}
