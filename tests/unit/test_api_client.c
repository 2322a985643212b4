/*
 * api-socket/client.c: api_client_fault(), the CLI's view of a 400 whose body
 * is {"fault_message": ...} as api_response_error() writes it.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "../../api-socket/client.h"
#include "../../api-socket/server.h"

static const char *client_fault(const char *body, char *buf, size_t size)
{
	struct api_client_resp r = { .status = 400, .body = (char *)body };
	return api_client_fault(&r, buf, size);
}

Test(api_client, fault_extracts_the_fault_message)
{
	char buf[128];
	cr_expect_str_eq(
	    client_fault("{\"fault_message\": \"drive 'x' does not exist\"}", buf, sizeof(buf)),
	    "drive 'x' does not exist");
	cr_expect_str_eq(
	    client_fault("{\"fault_message\": \"a \\\"q\\\" \\u00e9\\n\"}", buf, sizeof(buf)),
	    "a \"q\" \xc3\xa9\n", "escapes are decoded");
}

Test(api_client, fault_round_trips_what_api_response_error_writes)
{
	struct api_response r = { 0 };
	const char *msg = "field 'vcpu_count' must be an integer, not \"2\"\t(tab)";
	api_response_error(&r, "%s", msg);
	char buf[256];
	cr_expect_str_eq(client_fault(r.body, buf, sizeof(buf)), msg);
	api_response_fini(&r);
}

Test(api_client, fault_falls_back_to_the_raw_body)
{
	static const char *const bodies[] = {
		"not json at all",
		"{\"error\": \"x\"}",
		"{\"fault_message\": 5}",
		"[\"fault_message\"]",
		"{\"fault_message\": \"unterminated",
		"",
	};
	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		char buf[128];
		cr_expect_str_eq(client_fault(bodies[i], buf, sizeof(buf)), bodies[i], "case %zu",
				 i);
	}
	char buf[8] = "zzzzzzz";
	cr_expect_str_eq(client_fault(NULL, buf, sizeof(buf)), "", "no body: empty");
}

Test(api_client, fault_truncates_to_the_buffer)
{
	char buf[6];
	const char *out = client_fault("{\"fault_message\": \"0123456789\"}", buf, sizeof(buf));
	cr_expect_eq(out, buf, "the answer lives in the caller's buffer");
	cr_expect_str_eq(buf, "01234");
	cr_expect_str_eq(client_fault("raw body text", buf, sizeof(buf)), "raw b");
}
