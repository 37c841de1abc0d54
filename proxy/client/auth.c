/*
 * proxy/client/auth.c: signet's own credentials, for the one place it writes with
 * them: a signature repository other than the image's (the pushing client's
 * token is scoped to its own repository).  It performs the registry token
 * flow itself: an unauthenticated GET /v2/ gives the challenge; Basic means
 * the credentials go as they are; Bearer means a token from the realm for
 * "repository:<name>:pull,push", cached until shortly before it expires.
 *
 * The password is read from the environment at load and never logged.
 */
#include <sys/stat.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "client.h"

#define AUTH_CACHE_MAX	64
#define TOKEN_TTL_DEFAULT 60	/* seconds, when the realm says nothing */

struct auth_entry {
	char	scope[3 * CORE_NAME_MAX + 96];
	char	up_url[256];
	char	*header;	/* "Bearer ..." or "Basic ..." */
	time_t	expires;
};

static struct auth_entry cache[AUTH_CACHE_MAX];

enum auth_state { AU_PING, AU_TOKEN };

struct px_auth {
	enum auth_state		 a_state;
	struct conf_endpoint	*a_ep;		/* a copy */
	struct px_upstream	*a_up;
	struct px_fetch		*a_fetch;
	char			 a_scope[3 * CORE_NAME_MAX + 96];
	char			*a_basic;	/* "Basic base64(user:pass)" */
	char			*a_identity;	/* or an OAuth2 refresh token
						 * (docker's identitytoken) */
	char			*a_form;	/* the POST of a refresh token
						 * grant, or NULL: a GET */
	char			*a_url;		/* the token request, for a retry */
	int			 a_tries;	/* token requests that failed */
	struct event		*a_timer;	/* the next try */
	px_auth_fn		 a_cb;
	void			*a_arg;
};

/*
 * A token service that resets the connection now and then (Alibaba) or
 * fails for a moment is asked again, at most AUTH_TOKEN_RETRIES times,
 * 0.3 s then 0.9 s later; a 429 was waited for by the fetch already.
 */
#define AUTH_TOKEN_RETRIES	2

static void	send_token_request(struct px_auth *);
static void	on_fetch(struct px_fetch *, void *);

static struct auth_entry *
cache_find(const char *up_url, const char *scope)
{
	int	i;

	for (i = 0; i < AUTH_CACHE_MAX; i++)
		if (cache[i].header != NULL &&
		    strcmp(cache[i].scope, scope) == 0 &&
		    strcmp(cache[i].up_url, up_url) == 0)
			return &cache[i];
	return NULL;
}

static void
cache_put(const char *up_url, const char *scope, const char *header,
    long ttl)
{
	struct auth_entry	*e = cache_find(up_url, scope);
	int			 i, oldest = 0;

	if (e == NULL) {
		for (i = 0; i < AUTH_CACHE_MAX; i++) {
			if (cache[i].header == NULL) {
				oldest = i;
				break;
			}
			if (cache[i].expires < cache[oldest].expires)
				oldest = i;
		}
		e = &cache[oldest];
	}
	px_wipe_free(e->header);
	e->header = strdup(header);
	snprintf(e->scope, sizeof(e->scope), "%s", scope);
	snprintf(e->up_url, sizeof(e->up_url), "%s", up_url);
	/* renew a little early: the token must not expire mid-signature */
	e->expires = time(NULL) + ttl - (ttl >= 10 ? ttl / 10 : 1);
}

int
px_auth_fresh(const char *up_url, const char *scopes)
{
	struct auth_entry	*e = cache_find(up_url, scopes);

	return e != NULL && e->expires > time(NULL);
}

void
px_auth_flush(void)
{
	int	i;

	for (i = 0; i < AUTH_CACHE_MAX; i++) {
		px_wipe_free(cache[i].header);
		cache[i].header = NULL;
	}
}

/*
 * One parameter of a challenge: name="value" (or a token); a malloc'ed
 * copy, or NULL when absent.
 */
static char *
challenge_param(const char *ch, const char *name)
{
	size_t		 n = strlen(name), len;
	const char	*p = ch, *v;

	while ((p = strcasestr(p, name)) != NULL) {
		if ((p == ch || p[-1] == ' ' || p[-1] == ',') && p[n] == '=') {
			v = p + n + 1;
			if (*v == '"') {
				v++;
				len = strcspn(v, "\"");
			} else
				len = strcspn(v, ", ");
			return strndup(v, len);
		}
		p += n;
	}
	return NULL;
}

/*
 * The callback usually frees this job, and with it the fetch and a_basic
 * that header or err may point into: it is handed copies that live until
 * it returns, so it may free the job first and copy afterwards.
 */
static void
auth_finish(struct px_auth *a, const char *header, const char *err)
{
	px_auth_fn	 cb = a->a_cb;
	void		*arg = a->a_arg;
	char		 errbuf[768];	/* a token service's words, cut */
	char		*copy = NULL;

	a->a_cb = NULL;
	if (err == NULL && header != NULL)
		copy = strdup(header);
	if (err != NULL)
		snprintf(errbuf, sizeof(errbuf), "%s", err);
	else if (header != NULL && copy == NULL)
		snprintf(errbuf, sizeof(errbuf), "out of memory");
	cb(arg, copy, err != NULL || (header != NULL && copy == NULL) ?
	    errbuf : NULL);
	px_wipe_free(copy);
}

/* grant_type=refresh_token&service=&scope=&refresh_token=&client_id= */
static char *
refresh_form(struct px_auth *a, const char *service)
{
	char	*es, *esc, *et, *form;

	es = curl_easy_escape(NULL, service != NULL ? service : "", 0);
	esc = curl_easy_escape(NULL, a->a_scope, 0);
	et = curl_easy_escape(NULL, a->a_identity, 0);
	if (es == NULL || esc == NULL || et == NULL || asprintf(&form,
	    "grant_type=refresh_token&service=%s&scope=%s&refresh_token=%s"
	    "&client_id=signet", es, esc, et) == -1)
		form = NULL;
	curl_free(es);
	curl_free(esc);
	if (et != NULL) {
		mbedtls_platform_zeroize(et, strlen(et));
		curl_free(et);
	}
	return form;
}

static void
request_token(struct px_auth *a, const char *challenge)
{
	char	*realm, *service, *url;
	size_t	 n;

	realm = challenge_param(challenge, "realm");
	service = challenge_param(challenge, "service");
	if (realm == NULL || (strncmp(realm, "https://", 8) != 0 &&
	    strncmp(realm, "http://", 7) != 0)) {
		free(realm);
		free(service);
		auth_finish(a, NULL, "the registry's Bearer challenge has no "
		    "usable realm");
		return;
	}
	/* the service is echoed verbatim: some registries need exactly it */
	n = strlen(realm) + (service ? strlen(service) * 3 : 0) +
	    strlen(a->a_scope) * 4 + 32;
	url = malloc(n);
	if (url != NULL) {
		char		*es = service ? curl_easy_escape(NULL, service,
				    0) : NULL;
		const char	*sp = a->a_scope;
		size_t		 at, k;

		at = (size_t)snprintf(url, n, "%s%c%s%s", realm,
		    strchr(realm, '?') ? '&' : '?', es ? "service=" : "",
		    es ? es : "");
		curl_free(es);
		/* one scope= parameter per space-separated scope */
		while (*sp != '\0' && at < n) {
			char	*sc;

			k = strcspn(sp, " ");
			sc = curl_easy_escape(NULL, sp, (int)k);
			at += (size_t)snprintf(url + at, n - at, "%sscope=%s",
			    url[at - 1] == '?' ? "" : "&", sc ? sc : "");
			curl_free(sc);
			sp += k;
			sp += strspn(sp, " ");
		}
	}
	if (url != NULL && a->a_identity != NULL) {
		/* a refresh token is exchanged by a POST to the realm (the
		 * OAuth2 grant docker uses for an identitytoken; ACR) */
		free(a->a_form);
		a->a_form = refresh_form(a, service);
		snprintf(url, n, "%s", realm);
	}
	free(realm);
	free(service);
	free(a->a_url);
	a->a_url = url;
	a->a_state = AU_TOKEN;
	send_token_request(a);
}

static void
send_token_request(struct px_auth *a)
{
	char	err[400];

	px_fetch_free(a->a_fetch);
	if (a->a_identity != NULL)	/* the token is in the form */
		a->a_fetch = a->a_url == NULL || a->a_form == NULL ? NULL :
		    px_fetch_send(a->a_up, a->a_ep, &(struct px_request){
		    .method = "POST", .url = a->a_url,
		    .content_type = "application/x-www-form-urlencoded",
		    .body = a->a_form, .len = strlen(a->a_form),
		    .accept = "application/json" }, on_fetch, a, err,
		    sizeof(err));
	else
		a->a_fetch = a->a_url == NULL ? NULL : px_fetch_send(a->a_up,
		    a->a_ep, &(struct px_request){ .method = "GET",
		    .url = a->a_url, .authorization = a->a_basic,
		    .accept = "application/json" }, on_fetch, a, err,
		    sizeof(err));
	if (a->a_fetch == NULL)
		auth_finish(a, NULL, "cannot start the token request");
}

static void
on_token_retry(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	send_token_request(arg);
}

static void
on_fetch(struct px_fetch *f, void *arg)
{
	struct px_auth	*a = arg;
	const char	*ch, *body, *tok;
	char		*header, reason[700];
	json_t		*o;
	size_t		 len;
	long		 ttl;
	int		 st = px_fetch_status(f);

	if (a->a_state == AU_PING) {
		if (st == 200) {
			auth_finish(a, NULL, NULL);	/* no auth needed */
			return;
		}
		ch = px_fetch_www_authenticate(f);
		if (st != 401 || ch == NULL) {
			auth_finish(a, NULL, st == 0 ? px_fetch_error(f) :
			    "the registry's /v2/ gave no challenge");
			return;
		}
		if (strncasecmp(ch, "basic", 5) == 0) {
			if (a->a_basic == NULL) {
				auth_finish(a, NULL, "the registry asks for "
				    "credentials and none were given");
				return;
			}
			cache_put(a->a_ep->url, a->a_scope, a->a_basic,
			    3600);
			auth_finish(a, a->a_basic, NULL);
			return;
		}
		if (strncasecmp(ch, "bearer", 6) != 0) {
			auth_finish(a, NULL, "unknown authentication scheme "
			    "in the registry's challenge");
			return;
		}
		request_token(a, ch);
		return;
	}
	if ((st == 0 || st >= 500) && a->a_tries < AUTH_TOKEN_RETRIES) {
		struct timeval	tv = { 0, a->a_tries == 0 ? 300000 : 900000 };

		if (a->a_timer == NULL)
			a->a_timer = evtimer_new(px_upstream_base(a->a_up),
			    on_token_retry, a);
		if (a->a_timer != NULL) {
			a->a_tries++;
			px_debug("the token service failed (%s): asking again",
			    px_fetch_reason(f));
			evtimer_add(a->a_timer, &tv);
			return;
		}
	}
	if (st != 200) {
		snprintf(reason, sizeof(reason), "%s: %s", st == 401 ||
		    st == 403 ? "the token service refused the credentials" :
		    "the token service failed", px_fetch_reason(f));
		auth_finish(a, NULL, reason);
		return;
	}
	body = px_fetch_body(f, &len);
	o = core_json_parse(body, len, &core_json_small);
	tok = json_string_value(json_object_get(o, "token"));
	if (tok == NULL)
		tok = json_string_value(json_object_get(o, "access_token"));
	ttl = (long)json_integer_value(json_object_get(o, "expires_in"));
	if (tok == NULL || *tok == '\0' || asprintf(&header, "Bearer %s", tok)
	    == -1) {
		json_decref(o);
		auth_finish(a, NULL, "the token service's answer has no token");
		return;
	}
	json_decref(o);
	cache_put(a->a_ep->url, a->a_scope, header,
	    ttl > 0 ? ttl : TOKEN_TTL_DEFAULT);
	auth_finish(a, header, NULL);
	px_wipe_free(header);
}

static struct px_auth *auth_begin(const struct conf_endpoint *,
	    struct px_upstream *, const char *, const char *, const char *,
	    px_auth_fn, void *, const char **);

struct px_auth *
px_auth_start(const struct conf_endpoint *ep, struct px_upstream *up,
    const char *basic,
    const char *scopes, px_auth_fn cb, void *arg, const char **cached)
{
	return auth_begin(ep, up, basic, NULL, scopes, cb, arg, cached);
}

/* px_auth_start, or with an identity token instead of Basic credentials */
static struct px_auth *
auth_begin(const struct conf_endpoint *ep, struct px_upstream *up,
    const char *basic, const char *identity, const char *scopes,
    px_auth_fn cb, void *arg, const char **cached)
{
	struct auth_entry	*e;
	struct px_auth		*a;
	char			 err[400];

	*cached = NULL;
	if (strlen(scopes) >= sizeof(a->a_scope))
		return NULL;
	e = cache_find(ep->url, scopes);
	/* Basic credentials are their own header: other ones now (a
	 * password renewed) make the cached one worthless */
	if (e != NULL && e->expires > time(NULL) && (basic == NULL ||
	    strncmp(e->header, "Basic ", 6) != 0 ||
	    strcmp(e->header, basic) == 0)) {
		*cached = e->header;
		return NULL;
	}
	a = calloc(1, sizeof(*a));
	if (a == NULL)
		return NULL;
	a->a_ep = conf_endpoint_dup(ep);
	a->a_up = up;
	a->a_cb = cb;
	a->a_arg = arg;
	snprintf(a->a_scope, sizeof(a->a_scope), "%s", scopes);
	a->a_basic = basic != NULL ? strdup(basic) : NULL;
	a->a_identity = identity != NULL ? strdup(identity) : NULL;
	a->a_state = AU_PING;
	if (a->a_ep != NULL && (basic == NULL || a->a_basic != NULL) &&
	    (identity == NULL || a->a_identity != NULL))
		a->a_fetch = px_fetch_send(up, a->a_ep, &(struct px_request){
		    .method = "GET", .target = "/v2/" }, on_fetch, a, err,
		    sizeof(err));
	if (a->a_fetch == NULL) {
		px_auth_free(a);
		return NULL;
	}
	return a;
}

struct px_auth *
px_auth_get(struct conf *cf, struct px_upstream *up, const char *repo,
    px_auth_fn cb, void *arg, const char **cached)
{
	struct px_auth	*a;
	char		 scope[CORE_NAME_MAX + 64];
	char		*basic, *pwf = NULL;
	const char	*pw;

	snprintf(scope, sizeof(scope), "repository:%s:pull,push", repo);
	/* a file is read at each use: ECR's passwords last 12 h, and what
	 * renews them rewrites it */
	if (cf->reg_password_file != NULL) {
		pwf = px_password_file(cf->reg_password_file);
		if (pwf == NULL)
			px_warn("registry_auth.password_file %s: cannot be "
			    "read", cf->reg_password_file);
		pw = pwf;
	} else
		pw = getenv(cf->reg_password_env);
	basic = px_basic_auth(cf->reg_user, pw != NULL ? pw : "");
	px_wipe_free(pwf);
	if (basic == NULL) {
		*cached = NULL;
		return NULL;
	}
	a = px_auth_start(&cf->up, up, basic, scope, cb, arg, cached);
	px_wipe_free(basic);
	return a;
}

void
px_auth_free(struct px_auth *a)
{
	if (a == NULL)
		return;
	px_fetch_free(a->a_fetch);
	if (a->a_timer != NULL)
		event_free(a->a_timer);
	px_wipe_free(a->a_basic);
	px_wipe_free(a->a_identity);
	px_wipe_free(a->a_form);
	free(a->a_url);
	conf_endpoint_free(a->a_ep);
	free(a);
}

/*
 * A command's session with a registry: the credentials it was given, the
 * token flow for its scopes, and the Authorization to send.
 */
static int
session_set(struct px_session *ss, const char *header)
{
	char	*copy = strdup(header);

	if (copy == NULL)
		return -1;
	px_wipe_free(ss->ss_auth);
	ss->ss_auth = copy;
	ss->ss_bearer = strncasecmp(header, "Bearer ", 7) == 0;
	return 0;
}

static void
session_on_auth(void *arg, const char *header, const char *err)
{
	struct px_session	*ss = arg;
	px_session_fn		 cb = ss->ss_cb;

	px_auth_free(ss->ss_job);
	ss->ss_job = NULL;
	if (err == NULL && header != NULL && session_set(ss, header) == -1)
		err = "out of memory";
	cb(ss->ss_arg, err);
}

int
px_session_login(struct px_session *ss, struct px_upstream *up,
    const char *scopes, px_session_fn cb, void *arg)
{
	const char	*cached;

	snprintf(ss->ss_scopes, sizeof(ss->ss_scopes), "%s", scopes);
	ss->ss_cb = cb;
	ss->ss_arg = arg;
	ss->ss_job = auth_begin(ss->ss_ep, up, ss->ss_basic, ss->ss_identity,
	    scopes, session_on_auth, ss, &cached);
	if (ss->ss_job != NULL)
		return 1;
	if (cached == NULL)
		return -1;
	return session_set(ss, cached);
}

/* 1 when both are NULL or equal */
static int
same(const char *a, const char *b)
{
	return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* 1 when the credentials file is not as it was when last read */
static int
credfile_changed(struct px_session *ss)
{
	struct stat	sb;

	if (ss->ss_credfile[0] == '\0' || stat(ss->ss_credfile, &sb) == -1)
		return 0;
	if (sb.st_mtim.tv_sec == ss->ss_credtime.tv_sec &&
	    sb.st_mtim.tv_nsec == ss->ss_credtime.tv_nsec &&
	    sb.st_size == ss->ss_credsize)
		return 0;
	ss->ss_credtime = sb.st_mtim;
	ss->ss_credsize = sb.st_size;
	return 1;
}

int
px_session_stale(struct px_session *ss)
{
	char	*basic, *identity, path[sizeof(ss->ss_credfile)];

	if (credfile_changed(ss)) {
		basic = px_docker_auth_file(ss->ss_registry, path,
		    sizeof(path), &identity);
		if (basic != NULL && (ss->ss_basic == NULL ||
		    strcmp(basic, ss->ss_basic) != 0 || !same(identity,
		    ss->ss_identity)) && session_set(ss, basic) == 0) {
			px_info("the credentials for %s in %s changed: used "
			    "from now on", ss->ss_registry, ss->ss_credfile);
			px_wipe_free(ss->ss_basic);
			ss->ss_basic = basic;
			px_wipe_free(ss->ss_identity);
			ss->ss_identity = identity;
			px_auth_flush();	/* tokens of the old ones */
			return 1;
		}
		px_wipe_free(basic);
		px_wipe_free(identity);
	}
	return ss->ss_bearer && !px_auth_fresh(ss->ss_ep->url, ss->ss_scopes);
}

void
px_session_clear(struct px_session *ss)
{
	px_auth_free(ss->ss_job);
	px_wipe_free(ss->ss_auth);
	px_wipe_free(ss->ss_basic);
	px_wipe_free(ss->ss_identity);
	conf_endpoint_free(ss->ss_ep);
	memset(ss, 0, sizeof(*ss));
}

int
px_session_open(struct px_session *ss, const char *registry, int allow_http,
    const char *user, const char *pass, char *err, size_t errlen)
{
	char	url[300];

	memset(ss, 0, sizeof(*ss));
	snprintf(url, sizeof(url), "%s://%s", allow_http ? "http" : "https",
	    registry);
	ss->ss_ep = conf_endpoint_new(url, NULL, err, errlen);
	if (ss->ss_ep == NULL)
		return -1;
	snprintf(ss->ss_registry, sizeof(ss->ss_registry), "%s", registry);
	ss->ss_basic = user != NULL && pass != NULL ? px_basic_auth(user,
	    pass) : px_docker_auth_file(registry, ss->ss_credfile,
	    sizeof(ss->ss_credfile), &ss->ss_identity);
	(void)credfile_changed(ss);	/* its time and size, for later */
	ss->ss_auth = ss->ss_basic != NULL ? strdup(ss->ss_basic) : NULL;
	if (ss->ss_basic != NULL && ss->ss_auth == NULL) {
		px_session_clear(ss);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}
