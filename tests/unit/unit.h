/* tests/unit/unit.h: a minimal table-driven test harness. */
#ifndef SIGNET_UNIT_H
#define SIGNET_UNIT_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int unit_failed, unit_passed;

#define CHECK(cond, ...) do {						\
	if (cond) {							\
		unit_passed++;						\
	} else {							\
		unit_failed++;						\
		fprintf(stderr, "%s:%d: FAIL: %s: ", __FILE__, __LINE__, #cond); \
		fprintf(stderr, __VA_ARGS__);				\
		fputc('\n', stderr);					\
	}								\
} while (0)

/* Ends the test binary with the plain "N passed, N failed" line. */
static inline int
unit_done(void)
{
	printf("%d passed, %d failed\n", unit_passed, unit_failed);
	return unit_failed ? 1 : 0;
}

/* The whole of dir/rel, NUL-terminated; exits 99 (a hard error) if absent. */
static inline char *
unit_slurp(const char *dir, const char *rel, size_t *len)
{
	char	 path[8192];
	FILE	*fp;
	char	*buf;
	long	 n;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, rel) >=
	    sizeof(path))
		exit(99);
	fp = fopen(path, "rb");
	if (fp == NULL) {
		fprintf(stderr, "cannot open %s\n", path);
		exit(99);
	}
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	rewind(fp);
	buf = malloc((size_t)n + 1);
	if (buf == NULL || fread(buf, 1, (size_t)n, fp) != (size_t)n)
		exit(99);
	buf[n] = '\0';
	fclose(fp);
	if (len != NULL)
		*len = (size_t)n;
	return buf;
}

#endif
