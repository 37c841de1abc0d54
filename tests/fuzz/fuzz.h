/*
 * tests/fuzz/fuzz.h: what the fuzz targets share.  Each target is a
 * libFuzzer entry point (LLVMFuzzerTestOneInput) over one parser fed by
 * the network or by files; built with replay.c it replays its corpus in
 * `make check`, built with clang -fsanitize=fuzzer it fuzzes (README).
 * Fixed material (keys, roots) comes from the source tree: $top_srcdir,
 * or the working directory.
 */
#ifndef SIGNET_FUZZ_H
#define SIGNET_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A path under the source tree, in a static buffer. */
static inline const char *
fuzz_path(const char *rel)
{
	static char	 buf[4096];
	const char	*top = getenv("top_srcdir");

	snprintf(buf, sizeof(buf), "%s/%s", top != NULL ? top : ".", rel);
	return buf;
}

/* The input as a NUL-terminated string (inputs may hold NULs: they end
 * it early, as a C string would); free it. */
static inline char *
fuzz_str(const uint8_t *data, size_t size)
{
	char	*s = malloc(size + 1);

	if (s == NULL)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

/* The input cut at its first NUL byte into two strings (the second empty
 * when there is none); free *a only. */
static inline void
fuzz_split(const uint8_t *data, size_t size, char **a, char **b)
{
	size_t	i;

	*a = fuzz_str(data, size);
	for (i = 0; i < size && data[i] != 0; i++)
		;
	*b = i < size ? *a + i + 1 : *a + size;
}

#endif
