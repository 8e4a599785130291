/* base/util.c: size parsing and file helpers. */
#include "base/util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

int parse_uint(const char *text, uint64_t min, uint64_t max, uint64_t *out, struct err *err)
{
	char *end;
	unsigned long long v;

	if (!text || !isdigit((unsigned char)text[0]))
		return err_set(err, -EINVAL, "'%s' is not a number", text ? text : "");
	errno = 0;
	v = strtoull(text, &end, 10);
	if (errno || *end)
		return err_set(err, -EINVAL, "'%s' is not a number", text);
	if (v < min || v > max)
		return err_set(err, -ERANGE, "%llu is out of range %llu..%llu", v,
			       (unsigned long long)min, (unsigned long long)max);
	*out = v;
	return 0;
}

int parse_size(const char *text, uint64_t *bytes, struct err *err)
{
	char *end;
	unsigned long long v;
	unsigned shift = 0;

	if (!text || !isdigit((unsigned char)text[0]))
		return err_set(err, -EINVAL, "'%s' is not a size (try 512M or 2G)", text ? text : "");
	errno = 0;
	v = strtoull(text, &end, 10);
	if (errno)
		return err_set(err, -EINVAL, "'%s' is not a size (try 512M or 2G)", text);
	switch (toupper((unsigned char)*end)) {
	case '\0':
		break;
	case 'K': shift = 10; end++; break;
	case 'M': shift = 20; end++; break;
	case 'G': shift = 30; end++; break;
	case 'T': shift = 40; end++; break;
	default:
		return err_set(err, -EINVAL, "'%s' is not a size (try 512M or 2G)", text);
	}
	if (shift && (!strcasecmp(end, "iB") || !strcasecmp(end, "B")))
		end += strlen(end);
	if (*end)
		return err_set(err, -EINVAL, "'%s' is not a size (try 512M or 2G)", text);
	if (shift && v > (UINT64_MAX >> shift))
		return err_set(err, -ERANGE, "size '%s' is too large", text);
	*bytes = (uint64_t)v << shift;
	return 0;
}

int file_read_all(const char *path, size_t max_len, uint8_t **data, size_t *len,
		  struct err *err)
{
	struct stat st;
	uint8_t *buf;
	size_t got = 0;
	int fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_set(err, -errno, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0) {
		rc = err_set(err, -errno, "%s: %s", path, strerror(errno));
		goto err_close;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = err_set(err, -EINVAL, "%s: not a regular file", path);
		goto err_close;
	}
	if ((uint64_t)st.st_size > max_len) {
		rc = err_set(err, -EFBIG, "%s: %lld bytes is larger than the %zu allowed", path,
			     (long long)st.st_size, max_len);
		goto err_close;
	}
	buf = malloc(st.st_size ? (size_t)st.st_size : 1);
	if (!buf) {
		rc = err_set(err, -ENOMEM, "%s: out of memory", path);
		goto err_close;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = err_set(err, n < 0 ? -errno : -EIO, "%s: read failed", path);
			free(buf);
			goto err_close;
		}
		got += (size_t)n;
	}
	close(fd);
	*data = buf;
	*len = got;
	return 0;

err_close:
	close(fd);
	return rc;
}
