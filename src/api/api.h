/*
 * api/api.h: Firecracker's REST API on a UNIX socket (docs/api.md), served
 * on its own thread with libmicrohttpd, and the client `kite ctl` uses.
 */
#ifndef KITE_API_API_H
#define KITE_API_API_H

#include <stdbool.h>
#include <stddef.h>

#include "base/err.h"
#include "config/config.h"

struct vm;
struct api;

/* What GET / and GET /version say. */
#define API_APP_NAME "kite"
#define API_DEFAULT_ID "anonymous-instance"
/* A request that has sent nothing for this long is dropped (a slow or half-closed client). */
#define API_CONNECTION_TIMEOUT_S 5u
/* Clients served at once; more wait in the socket's backlog. */
#define API_CONNECTIONS_MAX 64u

/*
 * Serves the API on the UNIX socket path, which it creates: a path that
 * exists and has a listener is refused (-EADDRINUSE), a stale socket with
 * none is replaced, anything else there is refused. cfg is the
 * configuration other flags made, which requests change until the VM boots
 * into vm (storage the caller owns and keeps until api_destroy(); the API
 * builds the machine in it on InstanceStart). Guest console output goes to
 * console_out_fd. id and version are what GET / reports.
 */
int api_create(struct api **out, const char *path, const struct vm_config *cfg,
	       struct vm *vm, int console_out_fd, const char *id, const char *version,
	       struct err *err);

/*
 * Boots the VM as InstanceStart does (builder_vm_create, vm_start), under the
 * API's lock; -EBUSY when it has booted already. For --config-file.
 */
int api_instance_start(struct api *api, struct err *err);

/* An fd that becomes readable once the VM has booted (poll it with the signals). */
int api_started_fd(const struct api *api);
bool api_is_started(struct api *api);

/*
 * Stops serving (waits for a request in progress), closes and removes the
 * socket, closes the log and metrics files. The caller then destroys the VM.
 */
void api_destroy(struct api *api);

/*
 * Writes a metrics line when 60 s have passed since the last one (the main
 * loop calls it); api_tick_ms() says in how many ms it is due, -1 for never
 * (no metrics file). Both take NULL.
 */
void api_tick(struct api *api);
int api_tick_ms(const struct api *api);

/*
 * The metrics line FlushMetrics writes (JSON, no newline), as of now; the
 * caller frees it. Pure formatting, for the API and the unit tests.
 */
char *api_metrics_format(struct api *api);

/*
 * Handles one request as the server does, without a socket: method, url,
 * body (len bytes, NULL for none). Returns the HTTP status; *reply is the
 * JSON body (NULL for none) the caller frees. For the fuzzer and unit tests.
 */
unsigned api_handle(struct api *api, const char *method, const char *url, const char *body,
		    size_t len, char **reply);

/*
 * An API without a socket or a thread, for api_handle(): the same as
 * api_create() otherwise.
 */
int api_create_detached(struct api **out, const struct vm_config *cfg, struct vm *vm,
			int console_out_fd, struct err *err);

/*
 * The client: sends method url with body (NULL: none) to the API on the UNIX
 * socket path and waits for the answer. Returns the HTTP status (0 with err
 * set when no answer came); *reply is what the server said (may be "").
 */
unsigned api_client_request(const char *path, const char *method, const char *url,
			    const char *body, char **reply, struct err *err);

#endif
