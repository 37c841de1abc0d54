/*
 * proxy/server/metrics.c: /metrics, the counters in the Prometheus text
 * format: requests by method and status class, upstream errors, signatures
 * and verification decisions, connections.
 *
 * Each process counts in its slot; with several workers the slots are one
 * shared mapping made before the fork, each written only by its worker,
 * and /metrics adds them up, so any worker answers for all.  A counter is
 * an aligned 64-bit word its owner alone writes: a reader sees it before
 * or after an increment, never torn (x86-64, aarch64).
 */
#include <sys/mman.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "server.h"

/* Requests by method and status class, for /metrics. */
static const char *const metric_methods[] = { "GET", "HEAD", "PUT", "POST",
    "PATCH", "DELETE", "other" };
#define NMETHODS	(sizeof(metric_methods) / sizeof(*metric_methods))

struct metrics_slot {
	struct px_sign_stats	sign;
	struct px_verify_stats	verify;
	struct px_cascade_stats	cascade;
	uint64_t		requests[NMETHODS][6];	/* 1xx..5xx, other */
	uint64_t		upstream_errors;
	uint64_t		refused_per_addr;
	uint64_t		pulled[2];	/* body bytes: copied, spliced */
	long			conns;			/* a gauge */
};

static struct metrics_slot own_slot;
static struct metrics_slot *slots = &own_slot;	/* all of them */
static int nslots = 1;
static struct metrics_slot *me = &own_slot;	/* this process's */

int
px_metrics_share(int nworkers, char *err, size_t errlen)
{
	void	*p;

	p = mmap(NULL, sizeof(*slots) * (size_t)nworkers, PROT_READ |
	    PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		snprintf(err, errlen, "shared counters: %s", strerror(errno));
		return -1;
	}
	slots = p;	/* zeroed by the kernel; lives until the exit */
	nslots = nworkers;
	return 0;
}

void
px_metrics_attach(int i)
{
	if (i < 0 || i >= nslots)
		return;
	me = &slots[i];
	me->conns = 0;
	me->verify.active = me->verify.waiting = 0;
	px_sign_stats_at(&me->sign);
	px_verify_stats_at(&me->verify);
	px_cascade_stats_at(&me->cascade);
}

void
px_metrics_count(struct px_conn *c)
{
	size_t	m;
	int	cls = c->c_resp_status / 100;

	for (m = 0; m < NMETHODS - 1; m++)
		if (strcmp(c->c_req.method, metric_methods[m]) == 0)
			break;
	me->requests[m][cls >= 1 && cls <= 5 ? cls - 1 : 5]++;
	if (c->c_error != NULL && strncmp(c->c_error, "upstream", 8) == 0)
		me->upstream_errors++;
}

void
px_metrics_conns(int nconns)
{
	me->conns = nconns;
}

void
px_metrics_refused(void)
{
	me->refused_per_addr++;
}

void
px_metrics_pulled(int spliced, uint64_t n)
{
	me->pulled[spliced != 0] += n;
}

/* Every worker's slot added up into t (gauges summed, the one maximum
 * kept). */
static void
metrics_sum(struct metrics_slot *t)
{
	const struct metrics_slot *s;
	const uint64_t	*a;
	uint64_t	*b;
	size_t		 m, k;
	int		 i;

	memset(t, 0, sizeof(*t));
	for (i = 0; i < nslots; i++) {
		s = &slots[i];
		t->sign.signed_ += s->sign.signed_;
		t->sign.present += s->sign.present;
		t->sign.failed += s->sign.failed;
		t->sign.repaired += s->sign.repaired;
		t->sign.lost += s->sign.lost;
		t->sign.rekor_failed += s->sign.rekor_failed;
		t->sign.queue_failed += s->sign.queue_failed;
		t->sign.rekor_forks += s->sign.rekor_forks;
		t->verify.allowed += s->verify.allowed;
		t->verify.denied += s->verify.denied;
		t->verify.warned += s->verify.warned;
		t->verify.indeterminate += s->verify.indeterminate;
		t->verify.cache_hits += s->verify.cache_hits;
		t->verify.cache_misses += s->verify.cache_misses;
		t->verify.blobs_denied += s->verify.blobs_denied;
		t->verify.index_walks += s->verify.index_walks;
		t->verify.sig_objects += s->verify.sig_objects;
		t->verify.log_forks += s->verify.log_forks;
		t->verify.upstream_requests += s->verify.upstream_requests;
		if (s->verify.upstream_requests_max >
		    t->verify.upstream_requests_max)
			t->verify.upstream_requests_max =
			    s->verify.upstream_requests_max;
		t->verify.queued += s->verify.queued;
		t->verify.busy += s->verify.busy;
		t->verify.active += s->verify.active;
		t->verify.waiting += s->verify.waiting;
		for (k = 0; k <= PX_VERIFY_BUCKETS; k++)
			t->verify.hist[k] += s->verify.hist[k];
		t->verify.hist_sum += s->verify.hist_sum;
		t->cascade.deleted += s->cascade.deleted;
		t->cascade.trimmed += s->cascade.trimmed;
		t->cascade.kept += s->cascade.kept;
		t->cascade.failed += s->cascade.failed;
		a = &s->requests[0][0];
		b = &t->requests[0][0];
		for (m = 0; m < NMETHODS * 6; m++)
			b[m] += a[m];
		t->upstream_errors += s->upstream_errors;
		t->refused_per_addr += s->refused_per_addr;
		t->pulled[0] += s->pulled[0];
		t->pulled[1] += s->pulled[1];
		t->conns += s->conns;
	}
}

/* Counters in the Prometheus text format. */
void
px_metrics_reply(struct px_conn *c)
{
	static const char *const classes[] = { "1xx", "2xx", "3xx", "4xx",
	    "5xx", "other" };
	struct metrics_slot	 t;
	const struct px_sign_stats *st = &t.sign;
	const struct px_verify_stats *vs = &t.verify;
	const struct px_cascade_stats *ks = &t.cascade;
	char	buf[16384];
	size_t	m, k;
	int	n;

	metrics_sum(&t);

	n = snprintf(buf, sizeof(buf),
	    "# HELP signet_signatures_total Signatures handled on push, by outcome.\n"
	    "# TYPE signet_signatures_total counter\n"
	    "signet_signatures_total{outcome=\"signed\"} %llu\n"
	    "signet_signatures_total{outcome=\"present\"} %llu\n"
	    "signet_signatures_total{outcome=\"failed\"} %llu\n"
	    "# HELP signet_signature_repairs_total Signatures re-appended after "
	    "a concurrent writer dropped them.\n"
	    "# TYPE signet_signature_repairs_total counter\n"
	    "signet_signature_repairs_total %llu\n"
	    "# HELP signet_signature_losses_total Signatures a concurrent writer "
	    "removed for good.\n"
	    "# TYPE signet_signature_losses_total counter\n"
	    "signet_signature_losses_total %llu\n"
	    "# HELP signet_rekor_upload_failures_total Rekor uploads that "
	    "failed: best-effort ones (signed without a bundle, queued) and "
	    "retries of the queued ones.\n"
	    "# TYPE signet_rekor_upload_failures_total counter\n"
	    "signet_rekor_upload_failures_total{upload=\"best_effort\"} %llu\n"
	    "signet_rekor_upload_failures_total{upload=\"queued_retry\"} %llu\n"
	    "# HELP signet_connections Client connections open.\n"
	    "# TYPE signet_connections gauge\n"
	    "signet_connections %ld\n"
	    "# HELP signet_connections_refused_total Connections refused "
	    "because their address had max_connections_per_address.\n"
	    "# TYPE signet_connections_refused_total counter\n"
	    "signet_connections_refused_total{reason=\"per_address\"} %llu\n",
	    (unsigned long long)st->signed_, (unsigned long long)st->present,
	    (unsigned long long)st->failed, (unsigned long long)st->repaired,
	    (unsigned long long)st->lost,
	    (unsigned long long)st->rekor_failed,
	    (unsigned long long)st->queue_failed, t.conns,
	    (unsigned long long)t.refused_per_addr);
	if (n > 0 && (size_t)n < sizeof(buf))
		snprintf(buf + n, sizeof(buf) - (size_t)n,
		    "# HELP signet_decisions_total Pull verification decisions.\n"
		    "# TYPE signet_decisions_total counter\n"
		    "signet_decisions_total{decision=\"allow\"} %llu\n"
		    "signet_decisions_total{decision=\"deny\"} %llu\n"
		    "signet_decisions_total{decision=\"warn\"} %llu\n"
		    "signet_decisions_total{decision=\"indeterminate\"} %llu\n"
		    "# HELP signet_verify_cache_total Verification cache lookups.\n"
		    "# TYPE signet_verify_cache_total counter\n"
		    "signet_verify_cache_total{result=\"hit\"} %llu\n"
		    "signet_verify_cache_total{result=\"miss\"} %llu\n"
		    "# HELP signet_verifications Verified pulls running and "
		    "waiting for a slot (limits.verifications).\n"
		    "# TYPE signet_verifications gauge\n"
		    "signet_verifications{state=\"running\"} %ld\n"
		    "signet_verifications{state=\"waiting\"} %ld\n"
		    "# HELP signet_verification_waits_total Verified pulls that "
		    "waited, or were refused (503) with the queue full.\n"
		    "# TYPE signet_verification_waits_total counter\n"
		    "signet_verification_waits_total{result=\"waited\"} %llu\n"
		    "signet_verification_waits_total{result=\"refused\"} %llu\n"
		    "# HELP signet_index_walks_total Verified indexes parsed to "
		    "allow their children and blobs.\n"
		    "# TYPE signet_index_walks_total counter\n"
		    "signet_index_walks_total %llu\n"
		    "# HELP signet_signature_objects_total Pulls of signature, "
		    "attestation and SBOM objects, allowed by their content.\n"
		    "# TYPE signet_signature_objects_total counter\n"
		    "signet_signature_objects_total %llu\n"
		    "# HELP signet_verification_upstream_requests_total Requests "
		    "cold verifications sent (lists, payloads, log entries).\n"
		    "# TYPE signet_verification_upstream_requests_total counter\n"
		    "signet_verification_upstream_requests_total %llu\n"
		    "# HELP signet_verification_upstream_requests_max The most one "
		    "verification sent.\n"
		    "# TYPE signet_verification_upstream_requests_max gauge\n"
		    "signet_verification_upstream_requests_max %d\n"
		    "# HELP signet_rekor_log_forks_total Verifications and uploads "
		    "that found a transparency log's history forked (a "
		    "checkpoint gone back, two roots for one size, a failed "
		    "consistency proof).\n"
		    "# TYPE signet_rekor_log_forks_total counter\n"
		    "signet_rekor_log_forks_total %llu\n",
		    (unsigned long long)vs->allowed,
		    (unsigned long long)vs->denied,
		    (unsigned long long)vs->warned,
		    (unsigned long long)vs->indeterminate,
		    (unsigned long long)vs->cache_hits,
		    (unsigned long long)vs->cache_misses,
		    vs->active, vs->waiting,
		    (unsigned long long)vs->queued,
		    (unsigned long long)vs->busy,
		    (unsigned long long)vs->index_walks,
		    (unsigned long long)vs->sig_objects,
		    (unsigned long long)vs->upstream_requests,
		    vs->upstream_requests_max,
		    (unsigned long long)(vs->log_forks + st->rekor_forks));
	n = (int)strlen(buf);
	if ((size_t)n < sizeof(buf))
		n += snprintf(buf + n, sizeof(buf) - (size_t)n,
		    "# HELP signet_requests_total Client requests by method and "
		    "status class.\n# TYPE signet_requests_total counter\n");
	for (m = 0; m < NMETHODS; m++)
		for (k = 0; k < 6; k++) {
			if (t.requests[m][k] == 0 || (size_t)n >= sizeof(buf))
				continue;
			n += snprintf(buf + n, sizeof(buf) - (size_t)n,
			    "signet_requests_total{method=\"%s\",status=\"%s\"}"
			    " %llu\n", metric_methods[m], classes[k],
			    (unsigned long long)t.requests[m][k]);
		}
	if ((size_t)n < sizeof(buf))
		n += snprintf(buf + n, sizeof(buf) - (size_t)n,
		    "# HELP signet_cascade_objects_total Signature objects the "
		    "DELETE cascade looked at, by what it did.\n"
		    "# TYPE signet_cascade_objects_total counter\n"
		    "signet_cascade_objects_total{action=\"deleted\"} %llu\n"
		    "signet_cascade_objects_total{action=\"trimmed\"} %llu\n"
		    "signet_cascade_objects_total{action=\"left_alone\"} %llu\n"
		    "signet_cascade_objects_total{action=\"failed\"} %llu\n",
		    (unsigned long long)ks->deleted,
		    (unsigned long long)ks->trimmed,
		    (unsigned long long)ks->kept,
		    (unsigned long long)ks->failed);
	if ((size_t)n < sizeof(buf))
		n += snprintf(buf + n, sizeof(buf) - (size_t)n,
		    "# HELP signet_upstream_errors_total Requests that failed "
		    "because the upstream did.\n"
		    "# TYPE signet_upstream_errors_total counter\n"
		    "signet_upstream_errors_total %llu\n"
		    "# HELP signet_pulled_bytes_total Body bytes of pulls read "
		    "from the upstream by signet itself, by how they reached the "
		    "client: copied through signet's memory, or spliced through "
		    "a kernel pipe.\n"
		    "# TYPE signet_pulled_bytes_total counter\n"
		    "signet_pulled_bytes_total{path=\"copied\"} %llu\n"
		    "signet_pulled_bytes_total{path=\"spliced\"} %llu\n",
		    (unsigned long long)t.upstream_errors,
		    (unsigned long long)t.pulled[0],
		    (unsigned long long)t.pulled[1]);
	if ((size_t)n < sizeof(buf))
		px_verify_histogram(vs, buf + n, sizeof(buf) - (size_t)n);
	px_conn_reply_text(c, 200, buf);
}
