/* api/internal.h: the API's state, shared by its server, handlers and metrics. */
#ifndef KITE_API_INTERNAL_H
#define KITE_API_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>

#include "api/api.h"

struct MHD_Daemon;

struct api {
	/*
	 * Guards everything below that requests change. Requests run one at a
	 * time on the server's thread; main.c's --config-file boot is the other
	 * caller.
	 */
	pthread_mutex_t lock;
	struct vm_config cfg; /* before boot: what requests fill; after: what booted */
	struct vm *vm;	      /* the caller's storage; a machine once started */
	bool started, paused, metrics_set;
	int console_out_fd;
	int started_fd; /* eventfd, written once at boot */
	int log_fd, metrics_fd; /* -1: none */
	char id[64];
	char version[32];
	uint64_t created_ns;
	uint64_t metrics_flushed_ns; /* the last metrics line written (api_tick) */

	_Atomic uint64_t requests, request_fails;
	/* Answers queued and not yet sent: api_destroy() lets them go out. */
	_Atomic int answering;

	/* The server (server.c); NULL and -1 for api_create_detached(). */
	struct MHD_Daemon *daemon;
	int listen_fd;
	char *path;
	dev_t sock_dev;
	ino_t sock_ino;
};

/* api_create_detached()'s state without the server: handlers.c. */
int api_state_init(struct api *api, const struct vm_config *cfg, struct vm *vm,
		   int console_out_fd, struct err *err);
void api_state_destroy(struct api *api);

/* Writes one metrics line to the metrics file, if any; drops it if the reader is slow. */
/* Every 60 s once a metrics file is set, as Firecracker's. */
#define API_METRICS_PERIOD_NS (60ull * 1000000000ull)

void api_metrics_flush(struct api *api);

#endif
