/* base/err.c: error messages carried up to one reporter. */
#include "base/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int err_set(struct err *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return code;
	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return code;
}

int err_wrap(struct err *err, const char *fmt, ...)
{
	char joined[2 * ERR_MSG_MAX + 2];
	size_t n;
	va_list ap;

	if (!err)
		return -1;
	va_start(ap, fmt);
	vsnprintf(joined, ERR_MSG_MAX, fmt, ap);
	va_end(ap);
	n = strlen(joined);
	joined[n++] = ':';
	joined[n++] = ' ';
	memcpy(joined + n, err->msg, ERR_MSG_MAX);
	joined[sizeof(joined) - 1] = '\0';
	/* A message too long for err->msg keeps its beginning. */
	memcpy(err->msg, joined, ERR_MSG_MAX - 1);
	err->msg[ERR_MSG_MAX - 1] = '\0';
	return err->code;
}
