/*
 * The JSON a client or an operator hands mvm: API request bodies, routed by
 * monitor/routes.c (every fixed route and every device type's rows from
 * virtio/registry.c), and the config file (monitor/config_file.c).
 *
 * An input is one line, then the body:
 *   "PUT /drives/rootfs\n{...}"   api_route(PUT, "/drives/rootfs", body)
 *   "CONFIG\n{...}"               config_parse_file(body)
 * Checks: a refusal is a 400 whose body is JSON with a fault_message; a
 * device config the API took describes itself as JSON; a config mvm would
 * boot from (a config file it took, or what a request made of one with a
 * kernel) comes back from GET /vm/config's writer as a config file mvm takes
 * again, written the same way.
 */
#include <http_parser.h>
#include <string.h>

#include "../../api-socket/http.h"
#include "../../lib/json.h"
#include "../../lib/log.h"
#include "../../lib/strbuf.h"
#include "../../monitor/config_file.h"
#include "../../monitor/request.h"
#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_set_level(LOG_OFF);
	FUZZ_CHECK(api_routes_init() == 0, "the route table");
	return 0;
}

/* A 400 whose body is {"fault_message": "..."}. */
static void check_fault(const struct api_response *resp)
{
	struct json j;
	struct err e = { 0 };
	FUZZ_CHECK(resp->status == 400 && resp->body, "status %d", resp->status);
	FUZZ_CHECK(!json_parse(&j, resp->body, strlen(resp->body), &e), "%s: %s", e.msg,
		   resp->body);
	FUZZ_CHECK(j.n == 3 && j.t[0].type == JSMN_OBJECT && json_key_is(&j, 1, "fault_message") &&
		       j.t[2].type == JSMN_STRING && j.t[2].end > j.t[2].start,
		   "not a fault body: %s", resp->body);
	json_free(&j);
}

static int method_of(const char *name)
{
	for (int m = 0; m < 64; m++)
		if (!strcmp(http_method_str((enum http_method)m), name))
			return m;
	return -1;
}

/* GET /vm/config's JSON of c (malloc'd). */
static char *config_json(const struct vm_config *c)
{
	struct strbuf b;
	strbuf_init(&b);
	config_vm_json(c, &b);
	FUZZ_CHECK(!b.oom, "out of memory");
	return strbuf_steal(&b);
}

/* A config mvm would boot from: GET /vm/config shows it as a config file
 * that mvm takes again and shows the same way. */
static void round_trip(const struct vm_config *c)
{
	struct vm_config again;
	struct err e = { 0 };
	char *out = config_json(c);
	vm_config_init(&again);
	FUZZ_CHECK(!config_parse_file(out, strlen(out), &again, &e),
		   "GET /vm/config wrote what mvm refuses as a config file: %s\n%s", e.msg, out);
	char *out2 = config_json(&again);
	FUZZ_CHECK(!strcmp(out, out2), "the config changed on the way round:\n%s\n%s", out, out2);
	free(out);
	free(out2);
	vm_config_fini(&again);
}

/* What the vmm thread does with a request that configures (monitor/requests.c),
 * into a config that has a kernel. */
static void apply(struct api_request *req)
{
	struct vm_config c;
	struct err e = { 0 };
	int r = 0;
	vm_config_init(&c);
	c.boot.kernel_image_path = strdup("/k");
	switch (req->op) {
	case API_PUT_MACHINE: c.machine = req->u.machine.cfg; break;
	case API_PATCH_MACHINE:
		config_machine_apply(&c.machine, &req->u.machine.cfg, req->u.machine.present);
		break;
	case API_PUT_BOOT:
		boot_cfg_fini(&c.boot);
		c.boot = req->u.boot;
		memset(&req->u.boot, 0, sizeof(req->u.boot));
		break;
	case API_DEV_PUT:
		r = config_put_device(&c, req->route->type, req->dev_body, false, &e);
		req->dev_body = NULL; /* taken */
		break;
	default: break;
	}
	if (!r && !config_validate(&c, &e))
		round_trip(&c);
	vm_config_fini(&c);
}

static void api(int method, const char *path, const char *body, size_t len)
{
	struct api_request req;
	struct api_response resp;
	if (api_route(method, path, body, len, &req, &resp)) {
		check_fault(&resp);
		api_response_fini(&resp);
		return;
	}
	const struct route *rt = req.route;
	FUZZ_CHECK(rt && rt->method == method, "routed to %p", (const void *)rt);
	if (req.op == API_DEV_PUT) {
		struct strbuf b;
		strbuf_init(&b);
		rt->type->describe(req.dev_body, &b);
		FUZZ_CHECK(!b.oom && fuzz_is_json(b.s), "%s describes itself as %s", rt->type->name,
			   b.s);
		strbuf_fini(&b);
	}
	apply(&req);
	api_request_fini(&req);
	api_response_fini(&resp);
}

static void config_file(const char *text, size_t len)
{
	struct vm_config c;
	struct err e = { 0 };
	vm_config_init(&c);
	if (config_parse_file(text, len, &c, &e)) {
		struct api_response resp = { 0 };
		FUZZ_CHECK(e.msg[0], "refused without a message");
		api_response_error(&resp, "%s", e.msg);
		check_fault(&resp);
		api_response_fini(&resp);
	} else {
		round_trip(&c);
	}
	vm_config_fini(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr(data, '\n', size);
	char line[HTTP_MAX_URL + 16], *path;
	if (!nl || (size_t)(nl - data) >= sizeof(line) || memchr(data, '\0', (size_t)(nl - data)))
		return 0;
	memcpy(line, data, (size_t)(nl - data));
	line[nl - data] = '\0';
	/* The body in a buffer of its own size: a read past it is caught. */
	size_t len = size - (size_t)(nl + 1 - data);
	char *body = malloc(len ? len : 1);
	if (!body)
		return 0;
	memcpy(body, nl + 1, len);

	if (!strcmp(line, "CONFIG")) {
		config_file(body, len);
	} else if ((path = strchr(line, ' '))) {
		*path++ = '\0';
		int m = method_of(line);
		char *q = strchr(path, '?'); /* http.c leaves the query string out */
		if (q)
			*q = '\0';
		if (m >= 0 && strlen(path) <= HTTP_MAX_URL)
			api(m, path, len ? body : NULL, len);
	}
	free(body);
	return 0;
}
