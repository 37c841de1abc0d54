/*
 * proxy/server/metrics.c: /metrics, the counters in the Prometheus text
 * format: requests by method and status class, upstream errors, signatures
 * and verification decisions, connections.
 */
#include <stdio.h>
#include <string.h>

#include "server.h"

/* Requests by method and status class, for /metrics. */
static const char *const metric_methods[] = { "GET", "HEAD", "PUT", "POST",
    "PATCH", "DELETE", "other" };
#define NMETHODS	(sizeof(metric_methods) / sizeof(*metric_methods))
static uint64_t request_counts[NMETHODS][6];	/* 1xx..5xx, other */
static uint64_t upstream_errors;

void
px_metrics_count(struct px_conn *c)
{
	size_t	m;
	int	cls = c->c_resp_status / 100;

	for (m = 0; m < NMETHODS - 1; m++)
		if (strcmp(c->c_req.method, metric_methods[m]) == 0)
			break;
	request_counts[m][cls >= 1 && cls <= 5 ? cls - 1 : 5]++;
	if (c->c_error != NULL && strncmp(c->c_error, "upstream", 8) == 0)
		upstream_errors++;
}

/* Counters in the Prometheus text format. */
void
px_metrics_reply(struct px_conn *c)
{
	const struct px_sign_stats *st = px_sign_stats();
	static const char *const classes[] = { "1xx", "2xx", "3xx", "4xx",
	    "5xx", "other" };
	const struct px_verify_stats *vs = px_verify_stats();
	const struct px_cascade_stats *ks = px_cascade_stats();
	char	buf[16384];
	size_t	m, k;
	int	n;

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
	    "# HELP signet_connections Client connections open.\n"
	    "# TYPE signet_connections gauge\n"
	    "signet_connections %d\n"
	    "# HELP signet_connections_refused_total Connections refused "
	    "because their address had max_connections_per_address.\n"
	    "# TYPE signet_connections_refused_total counter\n"
	    "signet_connections_refused_total{reason=\"per_address\"} %llu\n",
	    (unsigned long long)st->signed_, (unsigned long long)st->present,
	    (unsigned long long)st->failed, (unsigned long long)st->repaired,
	    (unsigned long long)st->lost, px_server_nconns(c->c_srv),
	    (unsigned long long)px_server_refused_per_addr(c->c_srv));
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
			if (request_counts[m][k] == 0 || (size_t)n >= sizeof(buf))
				continue;
			n += snprintf(buf + n, sizeof(buf) - (size_t)n,
			    "signet_requests_total{method=\"%s\",status=\"%s\"}"
			    " %llu\n", metric_methods[m], classes[k],
			    (unsigned long long)request_counts[m][k]);
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
		    "signet_upstream_errors_total %llu\n",
		    (unsigned long long)upstream_errors);
	if ((size_t)n < sizeof(buf))
		px_verify_histogram(buf + n, sizeof(buf) - (size_t)n);
	px_conn_reply_text(c, 200, buf);
}
