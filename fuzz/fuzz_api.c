/*
 * fuzz/fuzz_api.c: libFuzzer target: the API's request handling (api_handle:
 * routing, ids, methods, pre/post-boot rules, every handler's body) on
 * hostile requests, before boot. Input: "METHOD URL\n" then the body. Every
 * request gets a status and, for an error, a JSON fault_message; GET /
 * and GET /vm/config always answer 200 after it.
 *
 * Requests that would touch the host are left out: InstanceStart (it boots
 * whatever kernel the input named) and the logger and metrics files (the
 * fuzzer runs as root in CI, and they open any path for appending).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "base/log.h"
#include "vm/vm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void must_answer(struct api *api, const char *method, const char *url)
{
	char *reply = NULL;

	if (api_handle(api, method, url, NULL, 0, &reply) != 200 || !reply)
		abort();
	free(reply);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct vm_config cfg;
	char method[16], url[256], *reply = NULL;
	const uint8_t *nl = memchr(data, '\n', size);
	const char *sp, *body;
	struct err err = { 0 };
	struct api *api;
	struct vm *vm;
	size_t line, len;
	unsigned status;

	if (!nl)
		return 0;
	line = (size_t)(nl - data);
	sp = memchr(data, ' ', line);
	if (!sp || (size_t)(sp - (const char *)data) >= sizeof(method) ||
	    line - (size_t)(sp - (const char *)data) > sizeof(url))
		return 0;
	memcpy(method, data, (size_t)(sp - (const char *)data));
	method[sp - (const char *)data] = '\0';
	len = line - (size_t)(sp - (const char *)data) - 1;
	memcpy(url, sp + 1, len);
	url[len] = '\0';
	body = (const char *)nl + 1;
	len = size - line - 1;
	if (strstr(url, "logger") || strstr(url, "metrics") ||
	    memmem(body, len, "InstanceStart", strlen("InstanceStart")))
		return 0;

	log_set_level(LOG_OFF);
	config_init(&cfg);
	vm = calloc(1, sizeof(*vm));
	if (!vm || api_create_detached(&api, &cfg, vm, -1, &err) < 0)
		abort();
	status = api_handle(api, method, url, len ? body : NULL, len, &reply);
	if (status < 200 || status > 599)
		abort();
	/* An error answers Firecracker's shape, and the API keeps answering. */
	if (status >= 400 && (!reply || !strstr(reply, "\"fault_message\"")))
		abort();
	free(reply);
	must_answer(api, "GET", "/");
	must_answer(api, "GET", "/vm/config");
	api_destroy(api);
	free(vm);
	return 0;
}
