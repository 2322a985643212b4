/* The VM configuration as JSON, in Firecracker's shapes (GET /vm/config, /machine-config). */
#ifndef MVM_CONFIG_OUT_H
#define MVM_CONFIG_OUT_H

#include "config.h"
#include "strbuf.h"

void config_machine_json(const struct machine_cfg *m, struct strbuf *b);
void config_drive_json(const struct drive_cfg *d, struct strbuf *b);
void config_rate_limiter_json(const struct rate_limiter_cfg *rl, struct strbuf *b);
void config_net_json(const struct net_cfg *n, struct strbuf *b);
void config_balloon_json(const struct balloon_cfg *bc, struct strbuf *b);
void config_vm_json(const struct vm_config *c, struct strbuf *b);

#endif
