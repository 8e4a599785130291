/*
 * fuzz/fuzz_config.c: libFuzzer target: the JSON config file parser and the
 * validator on hostile files. Whatever the bytes, config_json_parse fills the
 * configuration or names what is wrong, every string it leaves is
 * NUL-terminated within its field, and it never reads past the input (its
 * own allocation, so ASan sees).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "config/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct vm_config cfg;
	struct err err = { 0 };
	char *text = malloc(size ? size : 1);

	if (!text)
		return 0;
	memcpy(text, data, size);
	/* What kite ignores is logged; thousands of runs need no warnings. */
	log_set_level(LOG_ERROR);
	config_init(&cfg);
	if (config_json_parse(&cfg, text, size, &err) == 0) {
		config_validate(&cfg, &err);
		if (strlen(cfg.cmdline) >= sizeof(cfg.cmdline) || cfg.nr_drives > VM_MAX_DISKS)
			abort();
		for (unsigned i = 0; i < cfg.nr_drives; i++)
			if (strlen(cfg.drives[i].drive_id) > CONFIG_DRIVE_ID_MAX)
				abort();
	} else if (!err.msg[0]) {
		abort(); /* an error must say what is wrong */
	}
	free(text);
	return 0;
}
