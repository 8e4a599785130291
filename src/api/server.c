/* api/server.c: the API's UNIX socket and HTTP server (libmicrohttpd on its own thread). */
#include "api/internal.h"

#include <errno.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/log.h"

/* Pending connections the kernel holds while the server is busy. */
#define API_BACKLOG 64
/* Headers and the like per connection: MHD answers a request larger than this itself. */
#define API_CONNECTION_MEMORY (32u << 10)
/* How long api_destroy() waits for answers on their way (InstanceStart's, when the guest stops at once). */
#define API_DRAIN_MS 1000

/* One request's body, collected up to CONFIG_BODY_MAX bytes, and then only counted. */
struct request {
	char *body;
	size_t len;
	bool too_big;
	bool answered; /* counted in api->answering until MHD has sent it */
};

/* Is a server listening on the socket at path? */
static bool socket_in_use(const struct sockaddr_un *addr)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool used;

	if (fd < 0)
		return true; /* cannot tell: do not take it over */
	used = connect(fd, (const struct sockaddr *)addr, sizeof(*addr)) == 0 ||
	       errno != ECONNREFUSED;
	close(fd);
	return used;
}

static int socket_listen(struct api *api, const char *path, struct err *err)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct stat st;
	int fd;

	if (!path[0] || strlen(path) >= sizeof(addr.sun_path))
		return err_set(err, -ENAMETOOLONG, "--api-sock %s: 1 to %zu bytes", path,
			       sizeof(addr.sun_path) - 1);
	memcpy(addr.sun_path, path, strlen(path) + 1);
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			return err_set(err, -EEXIST, "--api-sock %s: exists and is not a socket", path);
		if (socket_in_use(&addr))
			return err_set(err, -EADDRINUSE, "--api-sock %s: in use by another server",
				       path);
		/* A stale socket: its server is gone. */
		if (unlink(path) < 0 && errno != ENOENT)
			return err_set(err, -errno, "--api-sock %s: %s", path, strerror(errno));
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return err_set(err, -errno, "--api-sock: socket: %s", strerror(errno));
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(fd, API_BACKLOG) < 0 ||
	    stat(path, &st) < 0) {
		int e = errno;

		close(fd);
		return err_set(err, -e, "--api-sock %s: %s", path, strerror(e));
	}
	api->listen_fd = fd;
	api->sock_dev = st.st_dev;
	api->sock_ino = st.st_ino;
	return 0;
}

static enum MHD_Result respond(struct api *api, struct request *req, struct MHD_Connection *conn,
			       unsigned status, char *body)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	resp = MHD_create_response_from_buffer(body ? strlen(body) : 0, body ? body : "",
					       MHD_RESPMEM_MUST_COPY);
	free(body);
	if (!resp)
		return MHD_NO;
	if (status != 204)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	if (ret == MHD_YES && !req->answered) {
		req->answered = true;
		atomic_fetch_add(&api->answering, 1);
	}
	return ret;
}

static enum MHD_Result too_big(struct api *api, struct request *req, struct MHD_Connection *conn,
			       unsigned long long len)
{
	char msg[160];

	snprintf(msg, sizeof(msg),
		 "{\"fault_message\": \"Request payload with size %llu is larger than the limit of %u allowed by server.\"}",
		 len, CONFIG_BODY_MAX);
	return respond(api, req, conn, 400, strdup(msg));
}

/* The first call for a request: its headers. A body declared too large is refused unread. */
static enum MHD_Result request_begin(struct api *api, struct MHD_Connection *conn,
				     void **req_cls)
{
	const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
						     MHD_HTTP_HEADER_CONTENT_LENGTH);
	struct request *req = calloc(1, sizeof(*req));

	if (!req)
		return MHD_NO;
	*req_cls = req;
	if (cl && strtoull(cl, NULL, 10) > CONFIG_BODY_MAX) {
		req->too_big = true;
		return too_big(api, req, conn, strtoull(cl, NULL, 10));
	}
	return MHD_YES;
}

/* Keeps a chunk of body; past CONFIG_BODY_MAX only counts what comes (chunked uploads). */
static void request_feed(struct request *req, const char *data, size_t size)
{
	char *grown;

	if (!req->too_big && req->len + size <= CONFIG_BODY_MAX) {
		grown = realloc(req->body, req->len + size + 1);
		if (grown) {
			memcpy(grown + req->len, data, size);
			req->body = grown;
			req->len += size;
			req->body[req->len] = '\0';
			return;
		}
	}
	req->too_big = true;
	free(req->body);
	req->body = NULL;
	req->len += size;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version,
				  const char *upload_data, size_t *upload_data_size,
				  void **req_cls)
{
	struct api *api = cls;
	struct request *req = *req_cls;
	char *reply = NULL;
	unsigned status;

	(void)version;
	if (!req)
		return request_begin(api, conn, req_cls);
	if (*upload_data_size) {
		request_feed(req, upload_data, *upload_data_size);
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (req->too_big)
		return too_big(api, req, conn, req->len);
	/*
	 * Counted from before it is handled: InstanceStart may boot a guest that
	 * powers off before the 204 is queued, and api_destroy() must still wait
	 * for that answer to go out.
	 */
	if (!req->answered) {
		req->answered = true;
		atomic_fetch_add(&api->answering, 1);
	}
	status = api_handle(api, method, url, req->body, req->len, &reply);
	return respond(api, req, conn, status, reply);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
			 enum MHD_RequestTerminationCode code)
{
	struct request *req = *req_cls;
	struct api *api = cls;

	(void)conn;
	(void)code;
	if (req) {
		if (req->answered)
			atomic_fetch_sub(&api->answering, 1);
		free(req->body);
		free(req);
		*req_cls = NULL;
	}
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[256];

	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	msg[strcspn(msg, "\n")] = '\0';
	log_ratelimited(LOG_DEBUG, "api: http: %s", msg);
}

int api_create(struct api **out, const char *path, const struct vm_config *cfg,
	       struct vm *vm, int console_out_fd, const char *id, const char *version,
	       struct err *err)
{
	struct api *api;
	int rc;

	rc = api_create_detached(&api, cfg, vm, console_out_fd, err);
	if (rc < 0)
		return rc;
	if (id)
		snprintf(api->id, sizeof(api->id), "%s", id);
	snprintf(api->version, sizeof(api->version), "%s", version);
	api->path = strdup(path);
	if (!api->path) {
		rc = err_set(err, -ENOMEM, "api: out of memory");
		goto err_state;
	}
	rc = socket_listen(api, path, err);
	if (rc < 0)
		goto err_path;
	/*
	 * One thread polls every connection: a request is handled whole before
	 * the next, and a client that stalls mid-request only holds its own
	 * connection, until the timeout closes it.
	 */
	api->daemon = MHD_start_daemon(
		MHD_USE_POLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL, on_request, api,
		MHD_OPTION_LISTEN_SOCKET, api->listen_fd,
		MHD_OPTION_CONNECTION_TIMEOUT, API_CONNECTION_TIMEOUT_S,
		MHD_OPTION_CONNECTION_LIMIT, API_CONNECTIONS_MAX,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)API_CONNECTION_MEMORY,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, api,
		MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, api,
		MHD_OPTION_END);
	if (!api->daemon) {
		rc = err_set(err, -EIO, "--api-sock %s: cannot start the HTTP server", path);
		goto err_socket;
	}
	api->listen_fd = -1; /* MHD_stop_daemon() closes it */
	log_info("api: serving on %s", path);
	*out = api;
	return 0;

err_socket:
	close(api->listen_fd);
	unlink(path);
err_path:
	free(api->path);
err_state:
	api_state_destroy(api);
	free(api);
	return rc;
}

void api_destroy(struct api *api)
{
	struct stat st;

	if (!api)
		return;
	for (int ms = 0; api->daemon && atomic_load(&api->answering) > 0 && ms < API_DRAIN_MS; ms++)
		usleep(1000);
	if (api->daemon)
		MHD_stop_daemon(api->daemon);
	if (api->listen_fd >= 0)
		close(api->listen_fd);
	/* Only our own socket: another kite may have replaced a path we left. */
	if (api->path && stat(api->path, &st) == 0 && st.st_dev == api->sock_dev &&
	    st.st_ino == api->sock_ino)
		unlink(api->path);
	free(api->path);
	api_state_destroy(api);
	free(api);
}
