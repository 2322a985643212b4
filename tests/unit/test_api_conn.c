/* api-socket/conn.c: a connection's phase, its deadline, who gives way when full. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "../../api-socket/conn.h"

static void fresh(struct api_client *c, uint64_t now)
{
	memset(c, 0, sizeof(*c));
	http_conn_init(&c->http, 1024);
	c->fd = 3;
	c->since_ms = now;
}

static void feed(struct api_client *c, const char *bytes)
{
	enum http_state st;
	http_conn_feed(&c->http, bytes, strlen(bytes), &st);
	cr_assert_neq(st, HTTP_BAD, "%s", c->http.err_msg);
}

Test(api_conn, phases_follow_the_request_and_restart_the_clock)
{
	struct api_client c;
	fresh(&c, 100);
	conn_update_phase(&c, 150);
	cr_expect_eq(c.phase, CONN_IDLE);
	cr_expect_eq(c.since_ms, 100, "no change, the clock runs on");
	cr_expect_eq(conn_deadline(&c), 100 + API_IDLE_TIMEOUT_MS);

	feed(&c, "PUT /machine-config HTTP/1.1\r\nHo");
	conn_update_phase(&c, 200);
	cr_expect_eq(c.phase, CONN_HEADERS);
	cr_expect_eq(conn_deadline(&c), 200 + API_HEADER_TIMEOUT_MS);

	feed(&c, "st: x\r\nContent-Length: 4\r\n\r\n{");
	conn_update_phase(&c, 300);
	cr_expect_eq(c.phase, CONN_BODY);
	cr_expect_eq(conn_deadline(&c), 300 + API_BODY_TIMEOUT_MS);

	feed(&c, "}  ");
	cr_expect(c.http.complete);
	c.out = strdup("HTTP/1.1 204 No Content\r\n\r\n");
	c.out_len = strlen(c.out);
	conn_update_phase(&c, 400);
	cr_expect_eq(c.phase, CONN_WRITING);
	cr_expect_eq(conn_events(&c), EPOLLOUT, "not read while its answer waits");
	cr_expect_eq(conn_deadline(&c), 400 + API_WRITE_TIMEOUT_MS);

	c.out_off = c.out_len;
	http_conn_next(&c.http);
	conn_update_phase(&c, 500);
	cr_expect_eq(c.phase, CONN_IDLE);
	cr_expect_eq(conn_events(&c), EPOLLIN | EPOLLRDHUP);
	cr_expect_eq(conn_deadline(&c), 500 + API_IDLE_TIMEOUT_MS);
	free(c.out);
	http_conn_fini(&c.http);
}

Test(api_conn, a_trickled_request_keeps_its_first_deadline)
{
	struct api_client c;
	fresh(&c, 0);
	const char *req = "GET / HTTP/1.1\r\nHost: x\r\n";
	for (size_t i = 0; i < strlen(req); i++) {
		char b[2] = { req[i], 0 };
		feed(&c, b);
		conn_update_phase(&c, 1000 * (i + 1));
	}
	cr_expect_eq(c.phase, CONN_HEADERS);
	cr_expect_eq(conn_deadline(&c), 1000 + API_HEADER_TIMEOUT_MS,
		     "a byte a second does not push the deadline");
	http_conn_fini(&c.http);
}

Test(api_conn, the_longest_stuck_gives_way_only_when_all_are_taken)
{
	struct api_client cs[4];
	for (int i = 0; i < 4; i++)
		fresh(&cs[i], 10000 + (uint64_t)i * 100);
	cs[2].since_ms = 5000;
	cr_expect_eq(conn_pick_victim(cs, 4, 20000), 2);
	cs[1].fd = -1;
	cr_expect_eq(conn_pick_victim(cs, 4, 20000), -1, "a free slot: nobody goes");
	cs[1].fd = 3;
	cr_expect_eq(conn_pick_victim(cs, 4, 5000 + API_EVICT_AFTER_MS - 1), -1,
		     "nobody stuck long enough");
	cr_expect_eq(conn_pick_victim(cs, 4, 5000 + API_EVICT_AFTER_MS), 2);
	for (int i = 0; i < 4; i++)
		http_conn_fini(&cs[i].http);
}

Test(api_conn, rate_log_allows_one_line_per_interval_and_counts_the_rest)
{
	struct rate_log r = { 0 };
	unsigned missed = 99;
	cr_expect(rate_log_allow(&r, 0, 10000, &missed));
	cr_expect_eq(missed, 0);
	for (uint64_t t = 1; t < 10; t++)
		cr_expect_not(rate_log_allow(&r, t * 1000, 10000, &missed));
	cr_expect(rate_log_allow(&r, 10001, 10000, &missed));
	cr_expect_eq(missed, 9);
	cr_expect_not(rate_log_allow(&r, 10002, 10000, &missed));
}

Test(api_conn, every_phase_has_a_name)
{
	for (int p = CONN_IDLE; p <= CONN_WRITING; p++)
		cr_expect(strlen(conn_phase_name((enum conn_phase)p)) > 0);
}
