/*
 * proxy/io/tls.c: server-side TLS with mbedTLS 2.28, as a bufferevent filter.
 *
 * libevent 2.1 only has an OpenSSL bufferevent, so TLS is a filter whose
 * input side feeds mbedtls_ssl_read and whose output side feeds
 * mbedtls_ssl_write.  mbedTLS's BIO callbacks read from and write to the
 * underlying socket bufferevent's buffers directly; they never block, so a
 * write never comes back partial.  The HTTP layer sees an ordinary
 * bufferevent, plain or TLS alike.  The handshake is time-limited by the
 * server's header timeout, which runs from accept.
 *
 * Backpressure: the underlying socket's write high-water mark stops the
 * output filter, so plaintext waits in the filter's own output buffer, which
 * is what the HTTP layer measures.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/pk.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#include "io.h"

#define TLS_RECORD	16384
#define TLS_UNDER_HIGH	(256 * 1024)	/* ciphertext queued to the socket */

struct px_tls {
	int			 refcnt;
	mbedtls_entropy_context	 entropy;
	mbedtls_ctr_drbg_context drbg;
	mbedtls_ssl_config	 conf;
	mbedtls_x509_crt	 crt;
	mbedtls_pk_context	 pk;
};

struct tls_conn {
	struct px_tls		*ctx;
	mbedtls_ssl_context	 ssl;
	struct bufferevent	*under;
	struct bufferevent	*bev;	/* the filter */
	int			 handshake_done;
	int			 failed;
};

static const char *alpn[] = { "http/1.1", NULL };

static void
tls_err(char *err, size_t errlen, const char *what, const char *path, int rc)
{
	char	buf[128];

	mbedtls_strerror(rc, buf, sizeof(buf));
	snprintf(err, errlen, "%s %s: %s", what, path, buf);
}

struct px_tls *
px_tls_new(const char *cert, const char *key, char *err, size_t errlen)
{
	static const char	 pers[] = "signet tls";
	struct px_tls		*t;
	int			 rc;

	t = calloc(1, sizeof(*t));
	if (t == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	t->refcnt = 1;
	mbedtls_entropy_init(&t->entropy);
	mbedtls_ctr_drbg_init(&t->drbg);
	mbedtls_ssl_config_init(&t->conf);
	mbedtls_x509_crt_init(&t->crt);
	mbedtls_pk_init(&t->pk);

	rc = mbedtls_ctr_drbg_seed(&t->drbg, mbedtls_entropy_func, &t->entropy,
	    (const unsigned char *)pers, sizeof(pers) - 1);
	if (rc != 0) {
		tls_err(err, errlen, "seeding the", "random generator", rc);
		goto fail;
	}
	rc = mbedtls_x509_crt_parse_file(&t->crt, cert);
	if (rc != 0) {
		tls_err(err, errlen, "tls.certificate", cert, rc);
		goto fail;
	}
	rc = mbedtls_pk_parse_keyfile(&t->pk, key, NULL);
	if (rc != 0) {
		tls_err(err, errlen, "tls.key", key, rc);
		goto fail;
	}
	rc = mbedtls_pk_check_pair(&t->crt.pk, &t->pk);
	if (rc != 0) {
		tls_err(err, errlen, "tls.key does not match the certificate",
		    key, rc);
		goto fail;
	}
	rc = mbedtls_ssl_config_defaults(&t->conf, MBEDTLS_SSL_IS_SERVER,
	    MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT);
	if (rc != 0) {
		tls_err(err, errlen, "TLS", "defaults", rc);
		goto fail;
	}
	mbedtls_ssl_conf_rng(&t->conf, mbedtls_ctr_drbg_random, &t->drbg);
	mbedtls_ssl_conf_min_version(&t->conf, MBEDTLS_SSL_MAJOR_VERSION_3,
	    MBEDTLS_SSL_MINOR_VERSION_3);	/* TLS 1.2 and up */
	mbedtls_ssl_conf_alpn_protocols(&t->conf, alpn);
	rc = mbedtls_ssl_conf_own_cert(&t->conf, &t->crt, &t->pk);
	if (rc != 0) {
		tls_err(err, errlen, "tls.certificate", cert, rc);
		goto fail;
	}
	return t;
fail:
	px_tls_unref(t);
	return NULL;
}

struct px_tls *
px_tls_ref(struct px_tls *t)
{
	t->refcnt++;
	return t;
}

void
px_tls_unref(struct px_tls *t)
{
	if (t == NULL || --t->refcnt > 0)
		return;
	mbedtls_pk_free(&t->pk);	/* wipes the key */
	mbedtls_x509_crt_free(&t->crt);
	mbedtls_ssl_config_free(&t->conf);
	mbedtls_ctr_drbg_free(&t->drbg);
	mbedtls_entropy_free(&t->entropy);
	free(t);
}

/* BIO: ciphertext straight into / out of the socket's buffers. */
static int
bio_send(void *arg, const unsigned char *buf, size_t len)
{
	struct tls_conn	*tc = arg;

	if (evbuffer_add(bufferevent_get_output(tc->under), buf, len) == -1)
		return MBEDTLS_ERR_SSL_ALLOC_FAILED;
	return (int)len;
}

static int
bio_recv(void *arg, unsigned char *buf, size_t len)
{
	struct tls_conn	*tc = arg;
	int		 n;

	n = evbuffer_remove(bufferevent_get_input(tc->under), buf, len);
	if (n <= 0)
		return MBEDTLS_ERR_SSL_WANT_READ;
	return n;
}

static void
tls_fail(struct tls_conn *tc, int rc, short what)
{
	char	buf[128];

	if (tc->failed)
		return;
	tc->failed = 1;
	if (rc != 0) {
		mbedtls_strerror(rc, buf, sizeof(buf));
		px_debug("TLS: %s", buf);
	}
	/* the filter's return value is ignored on read: report it so */
	bufferevent_trigger_event(tc->bev, what, 0);
}

static enum bufferevent_filter_result
filter_in(struct evbuffer *src, struct evbuffer *dst, ev_ssize_t limit,
    enum bufferevent_flush_mode mode, void *arg)
{
	struct tls_conn		*tc = arg;
	struct evbuffer_iovec	 v;
	int			 rc, produced = 0;

	(void)src;
	(void)limit;
	(void)mode;
	if (tc->failed)
		return BEV_ERROR;
	if (!tc->handshake_done) {
		rc = mbedtls_ssl_handshake(&tc->ssl);
		if (rc == MBEDTLS_ERR_SSL_WANT_READ ||
		    rc == MBEDTLS_ERR_SSL_WANT_WRITE)
			return BEV_NEED_MORE;
		if (rc != 0) {
			tls_fail(tc, rc, BEV_EVENT_ERROR | BEV_EVENT_READING);
			return BEV_ERROR;
		}
		tc->handshake_done = 1;
		/* plaintext queued before the handshake can go now */
		bufferevent_flush(tc->bev, EV_WRITE, BEV_NORMAL);
	}
	/* Read until mbedTLS wants more: records it holds are not lost. */
	for (;;) {
		if (evbuffer_reserve_space(dst, TLS_RECORD, &v, 1) < 1)
			return BEV_ERROR;
		rc = mbedtls_ssl_read(&tc->ssl, v.iov_base,
		    v.iov_len < TLS_RECORD ? v.iov_len : TLS_RECORD);
		if (rc > 0) {
			v.iov_len = (size_t)rc;
			evbuffer_commit_space(dst, &v, 1);
			produced = 1;
			continue;
		}
		evbuffer_commit_space(dst, &v, 0);
		if (rc == MBEDTLS_ERR_SSL_WANT_READ ||
		    rc == MBEDTLS_ERR_SSL_WANT_WRITE)
			break;
		if (rc == 0 || rc == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY) {
			tls_fail(tc, 0, BEV_EVENT_EOF | BEV_EVENT_READING);
			break;
		}
		tls_fail(tc, rc, BEV_EVENT_ERROR | BEV_EVENT_READING);
		return BEV_ERROR;
	}
	return produced ? BEV_OK : BEV_NEED_MORE;
}

static enum bufferevent_filter_result
filter_out(struct evbuffer *src, struct evbuffer *dst, ev_ssize_t limit,
    enum bufferevent_flush_mode mode, void *arg)
{
	struct tls_conn	*tc = arg;
	unsigned char	*p;
	size_t		 n, done = 0;
	int		 rc;

	(void)dst;
	(void)mode;
	if (tc->failed)
		return BEV_ERROR;
	if (!tc->handshake_done)
		return BEV_NEED_MORE;
	while ((n = evbuffer_get_length(src)) > 0) {
		if (limit > 0 && done >= (size_t)limit)
			break;
		if (n > TLS_RECORD)
			n = TLS_RECORD;
		p = evbuffer_pullup(src, (ev_ssize_t)n);
		rc = mbedtls_ssl_write(&tc->ssl, p, n);
		if (rc < 0) {
			tls_fail(tc, rc, BEV_EVENT_ERROR | BEV_EVENT_WRITING);
			return BEV_ERROR;
		}
		evbuffer_drain(src, (size_t)rc);
		done += (size_t)rc;
	}
	return BEV_OK;
}

static void
tls_conn_free(void *arg)
{
	struct tls_conn	*tc = arg;

	mbedtls_ssl_free(&tc->ssl);
	px_tls_unref(tc->ctx);
	free(tc);
}

struct bufferevent *
px_tls_wrap(struct px_tls *t, struct bufferevent *under)
{
	struct tls_conn	*tc;

	tc = calloc(1, sizeof(*tc));
	if (tc == NULL) {
		bufferevent_free(under);
		return NULL;
	}
	mbedtls_ssl_init(&tc->ssl);
	if (mbedtls_ssl_setup(&tc->ssl, &t->conf) != 0) {
		mbedtls_ssl_free(&tc->ssl);
		free(tc);
		bufferevent_free(under);
		return NULL;
	}
	tc->ctx = px_tls_ref(t);
	tc->under = under;
	mbedtls_ssl_set_bio(&tc->ssl, tc, bio_send, bio_recv, NULL);
	bufferevent_setwatermark(under, EV_WRITE, 0, TLS_UNDER_HIGH);
	tc->bev = bufferevent_filter_new(under, filter_in, filter_out,
	    BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS, tls_conn_free, tc);
	if (tc->bev == NULL) {
		tls_conn_free(tc);
		bufferevent_free(under);
		return NULL;
	}
	return tc->bev;
}
