/*
 * Shared by test_routes.c and test_routes_snapshot.c: route a request into the
 * file's own req/resp and check the 400 body api_route() leaves in resp.
 */
#ifndef MVM_TEST_ROUTES_UTIL_H
#define MVM_TEST_ROUTES_UTIL_H

#include <criterion/criterion.h>
#include <errno.h>
#include <http_parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../monitor/request.h"
#include "../../lib/json.h"

/* PUT /snapshot/load bodies: LOAD(FILE_BACKEND ", \"resume_vm\": true"). */
#define LOAD(extra)  "{\"snapshot_path\": \"/s\"" extra "}"
#define FILE_BACKEND ", \"mem_backend\": {\"backend_type\": \"File\", \"backend_path\": \"/m\"}"

static struct api_request req;
static struct api_response resp;

static void routes_setup(void)
{
	memset(&req, 0, sizeof(req));
	memset(&resp, 0, sizeof(resp));
}

static void routes_teardown(void)
{
	api_request_fini(&req);
	api_response_fini(&resp);
}

/*
 * Route a NUL-terminated body (NULL: none), dropping the previous request first.
 * Not inlined: GCC would otherwise take the NULL test for a hint that the
 * callers' (never NULL) bodies might be NULL in their format strings.
 */
static __attribute__((noinline)) int route(int method, const char *path, const char *body)
{
	api_request_fini(&req);
	api_response_fini(&resp);
	return api_route(method, path, body, body ? strlen(body) : 0, &req, &resp);
}

/*
 * The fault_message of resp: the body must be a JSON object with exactly that
 * one string field. False (with why in msg) when it is not.
 */
static bool fault(char *msg, size_t size)
{
	struct json j;
	struct err e;
	bool ok = false;
	if (!resp.body) {
		snprintf(msg, size, "(no body)");
		return false;
	}
	if (json_parse(&j, resp.body, strlen(resp.body), &e)) {
		snprintf(msg, size, "body is not JSON (%.200s): %s", e.msg, resp.body);
		return false;
	}
	if (j.t[0].type == JSMN_OBJECT && j.t[0].size == 1 && json_key_is(&j, 1, "fault_message"))
		ok = !json_string_buf(&j, 2, "fault_message", msg, size, &e);
	if (!ok)
		snprintf(msg, size, "not a fault body: %s", resp.body);
	json_free(&j);
	return ok;
}

static bool is_zero(const void *p, size_t n)
{
	const unsigned char *c = p;
	for (size_t i = 0; i < n; i++)
		if (c[i])
			return false;
	return true;
}

/* Expect a 400 whose message holds needle1 and needle2 (either may be NULL). */
static void expect_refused(const char *what, int r, const char *needle1, const char *needle2)
{
	char msg[512];
	cr_expect_eq(r, -EINVAL, "%s: accepted (op %d)", what, req.op);
	cr_expect_eq(resp.status, 400, "%s: status %d", what, resp.status);
	if (!fault(msg, sizeof(msg))) {
		cr_expect_fail("%s: %s", what, msg);
		return;
	}
	cr_expect(!needle1 || strstr(msg, needle1), "%s: message '%s' lacks '%s'", what, msg,
		  needle1);
	cr_expect(!needle2 || strstr(msg, needle2), "%s: message '%s' lacks '%s'", what, msg,
		  needle2);
	cr_expect(is_zero(&req, sizeof(req)), "%s: a refused request must hold nothing", what);
}

/* Expect the request to be routed to op with no error body. */
static void expect_routed(const char *what, int r, enum api_op op)
{
	char msg[512] = "";
	if (r)
		fault(msg, sizeof(msg));
	cr_expect_eq(r, 0, "%s: refused: %s", what, msg);
	cr_expect_eq(req.op, op, "%s: op %d, want %d", what, req.op, op);
	cr_expect_null(resp.body, "%s: a routed request has no response yet", what);
}

#define OK(method, path, body, op)                                                   \
	do {                                                                         \
		int r_ = route((method), (path), (body));                            \
		expect_routed(#method " " path, r_, (op));                           \
		cr_assert_eq(r_, 0, "cannot check the fields of a refused request"); \
	} while (0)

#endif
