/* The config file (Firecracker's format) and GET /vm/config: the machine, the
 * boot source, logger and metrics, and every device type of the registry. */
#ifndef MVM_CONFIG_FILE_H
#define MVM_CONFIG_FILE_H

#include <stddef.h>

#include "../vmm/config.h"

struct strbuf;

/* A whole config file document. */
int config_parse_file(const char *text, size_t len, struct vm_config *c, struct err *e);
int config_load_file(const char *path, struct vm_config *c, struct err *e);
/* One device section given as JSON text, under its config-file key ("drives"). */
int config_add_device_json(struct vm_config *c, const char *key, const char *json, struct err *e);

/* config_out.c: GET /vm/config and GET /machine-config. */
void config_vm_json(const struct vm_config *c, struct strbuf *b);
/* custom: a PUT /cpu-config template is set (Firecracker then says "None"). */
void config_machine_json(const struct machine_cfg *m, bool custom, struct strbuf *b);

/* mmds_api.c: GET /vm/config's "mmds-config" (null when MMDS is off); the
 * section's parser (API and config file) and its check against the config. */
void mmds_config_json(struct strbuf *b);
struct mmds_cfg;
int mmds_cfg_parse(const struct json *j, int obj, struct mmds_cfg *c, struct err *e);
int mmds_cfg_check(const struct vm_config *vc, const struct mmds_cfg *c, struct err *e);

#endif
