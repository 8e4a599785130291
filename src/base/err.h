/* base/err.h: an error with a message, carried up to the one place that reports it. */
#ifndef KITE_BASE_ERR_H
#define KITE_BASE_ERR_H

#include <stddef.h>

#define ERR_MSG_MAX 512

/*
 * User-facing paths (CLI, config, images, snapshots) fill a struct err with a
 * human-readable message and return a negative errno. main.c reports it.
 */
struct err {
	int code; /* negative errno, 0 when unset */
	char msg[ERR_MSG_MAX];
};

/* Sets err (if not NULL) to code and a formatted message; returns code. */
int err_set(struct err *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Prefixes the existing message with "context: "; returns err->code. */
int err_wrap(struct err *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
