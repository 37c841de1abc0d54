/* tests/unit/unit.h: a minimal table-driven test harness. */
#ifndef SIGNET_UNIT_H
#define SIGNET_UNIT_H

#include <stdio.h>
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

#endif
