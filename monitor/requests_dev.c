/*
 * Device requests of every type, on the vmm thread: before boot they edit the
 * config; after boot they reach the device through its type's patch and
 * routes (which take the transport's lock themselves).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/err.h"
#include "../lib/log.h"
#include "../lib/strbuf.h"
#include "monitor.h"
#include "request.h"

/* A single device's "no such": "no balloon device is configured". */
static int missing(const struct device_type *t, const char *id, struct err *e)
{
	if (t->id_field)
		return err_inval(e, "%s '%s' does not exist (PUT %s/%s before boot)", t->id_field,
				 id, t->path, id);
	/* Firecracker's sentence for the balloon, which clients match on. */
	if (!strcmp(t->path, "/balloon"))
		return err_inval(e, "No balloon device found. (PUT /balloon before boot)");
	return err_inval(e, "no %s is configured (PUT %s before boot)", t->noun, t->path);
}

static struct vm_device *device_of(struct monitor *m, const void *cfg)
{
	for (int i = 0; m->vm_built && i < m->vm.nr_devs; i++)
		if (m->vm.devs[i].cfg == cfg)
			return &m->vm.devs[i];
	return NULL;
}

int monitor_device_request(struct monitor *m, struct api_request *req, struct strbuf *out,
			   struct err *e)
{
	const struct route *rt = req->route;
	const struct device_type *t = rt->type;
	const char *id = t->id_field ? req->id : NULL;
	int r;

	if (req->op == API_DEV_PUT) {
		void *cfg = req->dev_body;
		req->dev_body = NULL; /* taken, whatever happens */
		return config_put_device(&m->cfg, t, cfg, true, e);
	}
	struct dev_cfg *dc = config_find_device(&m->cfg, t, id);
	if (!dc)
		return missing(t, id, e);
	if (req->op == API_DEV_GET) {
		t->describe(dc->cfg, out);
		return 0;
	}
	struct vm_device *d = device_of(m, dc->cfg);
	if (req->op == API_DEV_PATCH) {
		if (!d)
			return missing(t, id, e);
		if ((r = t->patch(d->dev, dc->cfg, req->dev_body, e)))
			return r;
		log_info("%s%s%s: updated", t->name, id ? " " : "", id ? id : "");
		return 0;
	}
	return rt->dev_route->handle(d ? d->dev : NULL, dc->cfg, req->dev_body, out, e);
}
