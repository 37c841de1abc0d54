/* Run the fuzz target over files named on the command line (no libFuzzer). */
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
main(int argc, char **argv)
{
	static uint8_t	 buf[1 << 20];
	FILE		*fp;
	size_t		 n;
	int		 i;

	for (i = 1; i < argc; i++) {
		fp = fopen(argv[i], "rb");
		if (fp == NULL) {
			perror(argv[i]);
			return 1;
		}
		n = fread(buf, 1, sizeof(buf), fp);
		fclose(fp);
		LLVMFuzzerTestOneInput(buf, n);
	}
	printf("%d passed, 0 failed\n", argc - 1);
	return 0;
}
