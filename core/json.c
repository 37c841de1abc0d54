/*
 * core/json.c: JSON from the network or from files, measured before it is
 * parsed.  A parsed document costs far more than its bytes (jansson spends
 * about 200 bytes on an empty object, so 4 MiB of "{}," is 300 MiB of
 * heap), and parsing it takes the event loop's time: every document signet
 * parses is first counted (values, nesting) in one linear pass that
 * allocates nothing, and refused when it is over the limits of its kind.
 * The limits are far above what real documents reach (signet(8) lists
 * them).
 */
#include <stdio.h>
#include <string.h>

#include "core.h"

const struct core_json_limits core_json_manifest = {
	"manifest", CORE_SIGMAN_MAX, 65536, 32 };
const struct core_json_limits core_json_siglist = {
	"signature list", CORE_SIGMAN_MAX, 16384, 8 };
const struct core_json_limits core_json_payload = {
	"signature payload", CORE_PAYLOAD_MAX, 4096, 16 };
const struct core_json_limits core_json_bundle = {
	"Rekor bundle", CORE_BUNDLE_MAX, 1024, 8 };
const struct core_json_limits core_json_log = {
	"Rekor answer", CORE_LOG_ANSWER_MAX, 8192, 16 };
const struct core_json_limits core_json_small = {
	"document", 1024 * 1024, 65536, 32 };

int
core_json_measure(const char *buf, size_t len, size_t *values, size_t *depth)
{
	size_t	i, n = 1, d = 0, dmax = 0;
	int	in_str = 0;

	for (i = 0; i < len; i++) {
		unsigned char	ch = (unsigned char)buf[i];

		if (in_str) {
			if (ch == '\\')
				i++;		/* the escaped byte */
			else if (ch == '"')
				in_str = 0;
			continue;
		}
		switch (ch) {
		case '"':
			in_str = 1;
			break;
		case '{':
		case '[':
			if (++d > dmax)
				dmax = d;
			break;
		case '}':
		case ']':
			if (d == 0)
				return -1;	/* unbalanced: not JSON */
			d--;
			break;
		case ',':
		case ':':
			n++;		/* every separator starts a value */
			break;
		default:
			break;
		}
	}
	*values = n;
	*depth = dmax;
	return in_str || d != 0 ? -1 : 0;
}

json_t *
core_json_load(const char *buf, size_t len, const struct core_json_limits *l,
    char *err, size_t errlen)
{
	json_error_t	 jerr;
	json_t		*o;
	size_t		 values, depth;

	if (len > l->max_bytes) {
		snprintf(err, errlen, "%s larger than %zu bytes", l->what,
		    l->max_bytes);
		return NULL;
	}
	if (core_json_measure(buf, len, &values, &depth) == -1) {
		snprintf(err, errlen, "%s is not JSON", l->what);
		return NULL;
	}
	if (values > l->max_values) {
		snprintf(err, errlen, "%s has %zu JSON values, more than %zu",
		    l->what, values, l->max_values);
		return NULL;
	}
	if (depth > l->max_depth) {
		snprintf(err, errlen, "%s is nested %zu deep, more than %zu",
		    l->what, depth, l->max_depth);
		return NULL;
	}
	o = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (o == NULL)
		snprintf(err, errlen, "%s is not JSON: %.100s", l->what,
		    jerr.text);
	return o;
}

json_t *
core_json_parse(const char *buf, size_t len, const struct core_json_limits *l)
{
	char	err[160];

	return core_json_load(buf, len, l, err, sizeof(err));
}

void
core_ascii(char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			*s = '?';
}
