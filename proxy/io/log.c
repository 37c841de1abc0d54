/*
 * proxy/io/log.c: structured logging, one JSON object per line on stderr.
 * Each line is written with a single write(2) so lines from concurrent
 * processes never interleave.  Callers never pass secrets: headers and
 * query strings are not logged.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "io.h"

static enum conf_log_level log_level = CONF_LOG_INFO;
static int log_worker = -1;	/* this process's number, or -1: none */

void
px_log_set_level(enum conf_log_level l)
{
	log_level = l;
}

void
px_log_set_worker(int i)
{
	log_worker = i;
}

int
px_log_enabled(enum conf_log_level l)
{
	return l >= log_level;
}

void
px_log_fields(enum conf_log_level l, json_t *fields)
{
	struct timespec	 ts;
	struct tm	 tm;
	json_t		*o;
	char		 when[40];
	char		*line;
	size_t		 n;

	if (l < log_level) {
		json_decref(fields);
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(when + n, sizeof(when) - n, ".%03ldZ", ts.tv_nsec / 1000000);

	o = json_pack("{s:s, s:s}", "ts", when, "level",
	    conf_log_level_name(l));
	if (o == NULL) {
		json_decref(fields);
		return;
	}
	if (log_worker >= 0)
		json_object_set_new(o, "worker", json_integer(log_worker));
	json_object_update(o, fields);
	json_decref(fields);
	line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER |
	    JSON_ENSURE_ASCII | JSON_REAL_PRECISION(10));
	json_decref(o);
	if (line == NULL)
		return;
	n = strlen(line);
	line[n] = '\n';		/* json_dumps's NUL becomes the newline */
	(void)!write(STDERR_FILENO, line, n + 1);
	free(line);
}

void
px_log(enum conf_log_level l, const char *fmt, ...)
{
	va_list	ap;
	char	msg[1024];

	if (l < log_level)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	px_log_fields(l, json_pack("{s:s}", "msg", msg));
}
