/* core/glob.c: repository globs for policy rules. */
#include <fnmatch.h>

#include "core.h"

int
core_glob_match(const char *pattern, const char *name)
{
	/* no FNM_PATHNAME: a star also matches across slashes */
	return fnmatch(pattern, name, 0) == 0;
}
