/*
 * fuzz/fuzz_api_body.c: libFuzzer target: the API's request bodies
 * (config_json_apply, config_json_parse_choice) on hostile bytes. The first
 * byte picks the endpoint, the rest is the body. A refused body leaves the
 * configuration as it was and says why; an accepted one leaves it valid for
 * that part, and GET /vm/config can always write it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "config/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_apply(enum config_body which, const char *text, size_t len)
{
	static struct vm_config cfg, before;
	struct err err = { 0 };
	char *json;

	config_init(&cfg);
	config_str_set(cfg.kernel_path, sizeof(cfg.kernel_path), "/k");
	config_str_set(cfg.drives[0].drive_id, sizeof(cfg.drives[0].drive_id), "d0");
	config_str_set(cfg.drives[0].path_on_host, sizeof(cfg.drives[0].path_on_host), "/d0");
	cfg.nr_drives = 1;
	before = cfg;
	if (config_json_apply(&cfg, which, "d0", text, len, &err) < 0) {
		if (!err.msg[0] || memcmp(&cfg, &before, sizeof(cfg)))
			abort(); /* an error says why and changes nothing */
		return;
	}
	if (cfg.nr_drives > VM_MAX_DISKS || config_validate_devices(&cfg, &err) < 0)
		abort();
	json = config_json_write(&cfg, CONFIG_JSON_FULL);
	if (!json)
		abort();
	free(json);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const states[] = { "Paused", "Resumed", NULL };
	struct err err = { 0 };
	char *text;
	int choice = -1;

	if (!size)
		return 0;
	text = malloc(size - 1 ? size - 1 : 1);
	if (!text)
		return 0;
	memcpy(text, data + 1, size - 1);
	log_set_level(LOG_ERROR);
	if (data[0] % 9 == 8) {
		if (config_json_parse_choice(text, size - 1, "state", states, &choice, &err) == 0 &&
		    (choice < 0 || choice > 1))
			abort();
	} else {
		check_apply((enum config_body)(data[0] % 8), text, size - 1);
	}
	free(text);
	return 0;
}
