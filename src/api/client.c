/* api/client.c: one HTTP request to the API's UNIX socket, with libcurl, for `kite ctl`. */
#include "api/api.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* What a reply may be: the largest thing the API says is the full VM configuration. */
#define CLIENT_REPLY_MAX (1u << 20)
#define CLIENT_TIMEOUT_S 30L

struct reply {
	char *text;
	size_t len;
	bool too_big;
};

static size_t on_data(char *data, size_t size, size_t n, void *opaque)
{
	struct reply *r = opaque;
	size_t len = size * n;
	char *grown;

	if (r->len + len > CLIENT_REPLY_MAX) {
		r->too_big = true;
		return 0; /* curl stops with CURLE_WRITE_ERROR */
	}
	grown = realloc(r->text, r->len + len + 1);
	if (!grown)
		return 0;
	memcpy(grown + r->len, data, len);
	r->text = grown;
	r->len += len;
	r->text[r->len] = '\0';
	return len;
}

unsigned api_client_request(const char *path, const char *method, const char *url,
			    const char *body, char **reply, struct err *err)
{
	struct reply r = { 0 };
	struct curl_slist *headers = NULL;
	char full[512];
	long status = 0;
	CURLcode rc;
	CURL *curl;

	*reply = NULL;
	if (curl_global_init(CURL_GLOBAL_NOTHING) != CURLE_OK)
		return err_set(err, -EIO, "curl: cannot initialise"), 0;
	curl = curl_easy_init();
	if (!curl) {
		curl_global_cleanup();
		return err_set(err, -ENOMEM, "curl: out of memory"), 0;
	}
	/* The host part is not used on a UNIX socket; Firecracker's clients say localhost. */
	snprintf(full, sizeof(full), "http://localhost%s%s", url[0] == '/' ? "" : "/", url);
	headers = curl_slist_append(headers, "Accept: application/json");
	headers = curl_slist_append(headers, "Content-Type: application/json");
	curl_easy_setopt(curl, CURLOPT_UNIX_SOCKET_PATH, path);
	curl_easy_setopt(curl, CURLOPT_URL, full);
	curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT, CLIENT_TIMEOUT_S);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &r);
	if (body) {
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	}
	rc = curl_easy_perform(curl);
	if (rc == CURLE_OK)
		curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	else if (r.too_big)
		err_set(err, -EFBIG, "%s: the answer is larger than %u bytes", path,
			CLIENT_REPLY_MAX);
	else
		err_set(err, -EIO, "%s: %s", path, curl_easy_strerror(rc));
	curl_slist_free_all(headers);
	curl_easy_cleanup(curl);
	curl_global_cleanup();
	if (rc != CURLE_OK) {
		free(r.text);
		return 0;
	}
	*reply = r.text ? r.text : strdup("");
	return (unsigned)status;
}
