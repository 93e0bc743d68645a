/*
 * Replays a fuzz target's corpus (every file under the directory given) as a
 * regular test, so crashes found once stay fixed in every sanitizer build,
 * with gcc too. With -Dfuzz=true the targets link libFuzzer instead.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(int argc, char **argv)
{
	int n = 0;
	DIR *d;
	struct dirent *de;

	if (argc < 2 || !(d = opendir(argv[1]))) {
		fprintf(stderr, "usage: %s CORPUS-DIR (cannot open it)\n", argv[0]);
		return 1;
	}
	while ((de = readdir(d))) {
		char path[4096];
		FILE *f;
		uint8_t *buf;
		long len;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", argv[1], de->d_name);
		if (!(f = fopen(path, "rb")))
			continue;
		fseek(f, 0, SEEK_END);
		len = ftell(f);
		fseek(f, 0, SEEK_SET);
		buf = malloc(len > 0 ? (size_t)len : 1);
		if (len > 0 && fread(buf, 1, (size_t)len, f) != (size_t)len)
			len = 0;
		fclose(f);
		LLVMFuzzerTestOneInput(buf, (size_t)(len > 0 ? len : 0));
		free(buf);
		n++;
	}
	closedir(d);
	if (n == 0) {
		fprintf(stderr, "corpus %s is empty\n", argv[1]);
		return 1;
	}
	fprintf(stderr, "replayed %d inputs\n", n);
	return 0;
}
