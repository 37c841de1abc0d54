/* Fuzz target: the configuration (conf_load_buffer), all of it. */
#include "fuzz.h"
#include "conf/conf.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conf	*c;
	char		 err[CONF_ERR_MAX];

	err[0] = '\0';
	c = conf_load_buffer((const char *)data, size, "fuzz", err,
	    sizeof(err));
	if (c == NULL && err[0] == '\0')
		__builtin_trap();	/* a refusal names the problem */
	conf_unref(c);
	return 0;
}
