/*
 * PUT /cpu-config and cpu templates at the API and in the config file: the
 * route and its 400s, how GET shows templates (as Firecracker), and the
 * config file's "cpu-config" (inline, or a path as Firecracker takes it).
 */
#include <stdio.h>
#include <unistd.h>

#include "../../lib/strbuf.h"
#include "../../monitor/config_file.h"
#include "routes_util.h"

TestSuite(cpu_config_api, .init = routes_setup, .fini = routes_teardown);

#define NO_POPCNT                                                                         \
	"{\"cpuid_modifiers\": [{\"leaf\": \"0x1\", \"subleaf\": \"0x0\", \"flags\": 0, " \
	"\"modifiers\": [{\"register\": \"ecx\", \"bitmap\": "                            \
	"\"0bxxxxxxxx0xxxxxxxxxxxxxxxxxxxxxxx\"}]}]}"

Test(cpu_config_api, put_cpu_config_is_routed_with_its_template_before_boot_only)
{
	expect_routed("PUT /cpu-config", route(HTTP_PUT, "/cpu-config", NO_POPCNT),
		      API_PUT_CPU_CONFIG);
	cr_assert_not_null(req.u.cpu_config);
	cr_expect_eq(req.u.cpu_config->nr_cpuid, 1);
	cr_expect_eq(req.u.cpu_config->cpuid[0].mask, 1u << 23);
	cr_expect_eq(req.u.cpu_config->cpuid[0].value, 0);
	cr_expect_eq(req.route->states, VM_ST_NOT_STARTED, "Firecracker: before boot only");
	cr_expect(req.route->configures);
	cr_expect_str_eq(req.route->metric, "cpu_cfg");
}

Test(cpu_config_api, bad_cpu_config_bodies_get_a_400_naming_the_field)
{
	static const struct {
		const char *body, *field;
	} cases[] = {
		{ "{\"cpuid_modifiers\": [{\"leaf\": \"1\"}]}", "cpuid_modifiers[0].leaf" },
		{ "{\"msr_modifiers\": [{\"addr\": \"0x10a\", \"bitmap\": \"0b2\"}]}",
		  "msr_modifiers[0].bitmap" },
		{ "{\"kvm_capabilities\": [\"x\"]}", "kvm_capabilities[0]" },
		{ "{\"vcpu_features\": []}", "aarch64" },
		{ "[]", "object" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect_refused(cases[i].body, route(HTTP_PUT, "/cpu-config", cases[i].body),
			       cases[i].field, NULL);
	expect_refused("GET", route(HTTP_GET, "/cpu-config", NULL),
		       "Invalid request method and/or path: GET /cpu-config.", NULL);
}

static char *machine_json(enum cpu_template t, bool custom)
{
	struct strbuf b = { 0 };
	struct machine_cfg m = { .vcpu_count = 1, .mem_size_mib = 128, .cpu_template = t };
	config_machine_json(&m, custom, &b);
	return b.s;
}

Test(cpu_config_api, get_shows_static_names_and_none_for_a_custom_template)
{
	static const enum cpu_template fc[] = { CPU_TEMPLATE_C3, CPU_TEMPLATE_T2, CPU_TEMPLATE_T2S,
						CPU_TEMPLATE_T2CL, CPU_TEMPLATE_T2A };
	for (size_t i = 0; i < sizeof(fc) / sizeof(fc[0]); i++) {
		char want[64], *s = machine_json(fc[i], false);
		snprintf(want, sizeof(want), "\"cpu_template\": \"%s\"", cpu_template_name(fc[i]));
		cr_expect(strstr(s, want) != NULL, "%s", s);
		cr_expect(strstr(s, "mvm_cpu_template") == NULL, "%s", s);
		free(s);
	}
	char *s = machine_json(CPU_TEMPLATE_AUTO, true);
	cr_expect(strstr(s, "\"cpu_template\": \"None\"") != NULL, "%s", s);
	free(s);
	s = machine_json(CPU_TEMPLATE_HOST, true);
	cr_expect(strstr(s, "\"cpu_template\": \"None\"") && strstr(s, "\"mvm_cpu_template\""),
		  "%s", s);
	free(s);
}

#define KERNEL "\"boot-source\":{\"kernel_image_path\":\"/k\"}"

static int parse_file(const char *text, struct vm_config *c, struct err *e)
{
	vm_config_init(c);
	return config_parse_file(text, strlen(text), c, e);
}

Test(cpu_config_api, config_file_takes_cpu_config_inline_or_as_a_path)
{
	struct vm_config c;
	struct err e;
	cr_assert_eq(parse_file("{" KERNEL ",\"machine-config\":{\"vcpu_count\":1,\"mem_size_mib\":"
				"128,\"cpu_template\":\"T2A\"},\"cpu-config\":" NO_POPCNT "}",
				&c, &e),
		     0, "%s", e.msg);
	cr_assert_not_null(c.cpu_config);
	cr_expect_eq(c.cpu_config->nr_cpuid, 1);
	cr_expect_eq(c.machine.cpu_template, CPU_TEMPLATE_AUTO, "the custom one wins");
	vm_config_fini(&c);

	char path[] = "/tmp/mvm-cpu-XXXXXX", text[256];
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, NO_POPCNT, strlen(NO_POPCNT)), (ssize_t)strlen(NO_POPCNT));
	close(fd);
	snprintf(text, sizeof(text), "{" KERNEL ",\"cpu-config\":\"%s\"}", path);
	cr_assert_eq(parse_file(text, &c, &e), 0, "%s", e.msg);
	cr_expect(c.cpu_config && c.cpu_config->cpuid[0].reg == CPUID_ECX);
	vm_config_fini(&c);
	unlink(path);

	cr_expect_eq(parse_file(text, &c, &e), -EINVAL, "the file is gone");
	cr_expect(strstr(e.msg, path) != NULL, "%s", e.msg);
	vm_config_fini(&c);
	cr_expect_eq(parse_file("{" KERNEL ",\"cpu-config\":null}", &c, &e), 0);
	cr_expect_null(c.cpu_config);
	vm_config_fini(&c);
	cr_expect_eq(parse_file("{" KERNEL ",\"cpu-config\":{\"msr_modifiers\":1}}", &c, &e),
		     -EINVAL);
	cr_expect(strstr(e.msg, "msr_modifiers") != NULL, "%s", e.msg);
	vm_config_fini(&c);
}
