/* jailer/cgroup_parse.c: mountinfo lines, controller lists, --cgroup values, paths. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "../../jailer/cgroup_parse.h"
#include "../../jailer/jail.h"

static void expect_mount(const char *line, int version, const char *path, const char *opts)
{
	struct cg_mount m;

	cr_assert_eq(cg_parse_mountinfo(line, &m), 1, "%s", line);
	cr_expect_eq(m.version, version);
	cr_expect_str_eq(m.path, path);
	cr_expect_str_eq(m.opts, opts);
}

Test(jailer_cgroup, mountinfo_v1_v2_and_others)
{
	struct cg_mount m;

	expect_mount("34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime shared:9 - cgroup cgroup "
		     "rw,cpuset\n",
		     1, "/sys/fs/cgroup/cpuset", "rw,cpuset");
	expect_mount("41 31 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw,nsdelegate\n", 2,
		     "/sys/fs/cgroup/unified", "rw,nsdelegate");

	/* Escapes in the mount point are undone; "cpu,cpuacct" is one hierarchy. */
	cr_assert_eq(cg_parse_mountinfo("50 31 0:40 / /mnt/my\\040cg rw - cgroup none "
					"rw,cpu,cpuacct",
					&m),
		     1);
	cr_expect_str_eq(m.path, "/mnt/my cg");
	cr_expect(cg_list_has(m.opts, "cpuacct", ','));
	cr_expect(!cg_list_has(m.opts, "cpuset", ','));

	cr_expect_eq(cg_parse_mountinfo("23 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw\n", &m), 0);
	cr_expect_eq(cg_parse_mountinfo("31 23 0:28 / /sys/fs/cgroup rw - tmpfs tmpfs rw\n", &m),
		     0);
	cr_expect_eq(cg_parse_mountinfo("garbage without separator\n", &m), -EINVAL);
	cr_expect_eq(cg_parse_mountinfo("1 2 - cgroup\n", &m), -EINVAL);
}

Test(jailer_cgroup, v1_mount_binds_a_controller)
{
	cr_expect(cg_v1_binds_controller("rw,cpuset"));
	cr_expect(cg_v1_binds_controller("rw,cpu,cpuacct"));
	cr_expect(cg_v1_binds_controller("rw,net_cls,net_prio"));
	cr_expect(!cg_v1_binds_controller("rw,xattr,name=systemd"));
	cr_expect(!cg_v1_binds_controller("rw,none,name=mvmtest"));
	cr_expect(!cg_v1_binds_controller("rw,release_agent=/x,name=a"));
	cr_expect(!cg_v1_binds_controller(""));
}

Test(jailer_cgroup, lists)
{
	cr_expect(cg_list_has("cpuset cpu io memory\n", "cpu", ' '));
	cr_expect(cg_list_has("cpuset cpu io memory\n", "memory", ' '));
	cr_expect(!cg_list_has("cpuset cpu io memory\n", "cpus", ' '));
	cr_expect(!cg_list_has("cpuset io", "cpu", ' '), "a prefix is not a match");
	cr_expect(!cg_list_has("cpuset", "", ' '));
}

static const char *kv(const char *arg, struct jail_cgroup_kv *out)
{
	memset(out, 0, sizeof(*out));
	out->arg = arg;
	return cg_parse_kv(arg, out);
}

Test(jailer_cgroup, values_of_both_versions)
{
	struct jail_cgroup_kv k;

	cr_assert_null(kv("cpuset.cpus=0-3,7", &k));
	cr_expect_str_eq(k.key, "cpuset.cpus");
	cr_expect_str_eq(k.ctrl, "cpuset");
	cr_expect_str_eq(k.value, "0-3,7");
	cr_assert_null(kv("cpu.max=50000 100000", &k));
	cr_expect_str_eq(k.value, "50000 100000");
	cr_assert_null(kv("memory.limit_in_bytes=268435456", &k));
	cr_assert_null(kv("hugetlb.2MB.limit_in_bytes=0", &k));
	cr_expect_str_eq(k.ctrl, "hugetlb");
	cr_assert_null(kv("net_cls.classid=1048577", &k));
	cr_expect_str_eq(k.ctrl, "net_cls");
	cr_assert_null(kv("io.max=8:0 rbps=1048576", &k), "'=' in a value is fine");
	cr_expect_str_eq(k.value, "8:0 rbps=1048576");
}

Test(jailer_cgroup, bad_values_say_why)
{
	struct jail_cgroup_kv k;
	const char *bad_names[] = {
		"cpuset.cpus",	    /* no '=' */
		"tasks=1",	    /* no controller prefix */
		"cpuset=1",	    /* no file */
		".cpus=1",	    /* empty controller */
		"cpuset.=1",	    /* empty file */
		"cpuset.cpus.=1",   /* trailing dot */
		"cpuset..cpus=1",   /* double dot */
		"../cpuset.cpus=1", /* a path */
		"cpuset/cpus=1",    /* a path */
		"cpuset.cp us=1",   /* space */
		"CPUSET.cpus=1",    /* upper-case controller */
		"=1",
	};
	char longv[5000];

	for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
		const char *why = kv(bad_names[i], &k);
		cr_expect_not_null(why, "%s accepted", bad_names[i]);
		if (why)
			cr_expect(strstr(why, "CONTROLLER.FILE=VALUE"), "%s: %s", bad_names[i],
				  why);
	}
	cr_expect_str_eq(kv("cpuset.cpus=", &k), "the value is empty");
	cr_expect(strstr(kv("cpuset.cpus=0\n1", &k), "control character"));
	memset(longv, '1', sizeof(longv));
	memcpy(longv, "pids.max=", 9);
	longv[sizeof(longv) - 1] = '\0';
	cr_expect(strstr(kv(longv, &k), "longer than"));
}

Test(jailer_cgroup, own_cgroup_lines)
{
	char out[64];

	cr_expect_eq(cg_own_cgroup("3:cpuset:/mvm/x/t1\n", "cpuset", out, sizeof(out)), 1);
	cr_expect_str_eq(out, "mvm/x/t1");
	cr_expect_eq(cg_own_cgroup("1:cpu,cpuacct:/a\n", "cpuacct", out, sizeof(out)), 1);
	cr_expect_str_eq(out, "a");
	cr_expect_eq(cg_own_cgroup("1:cpu,cpuacct:/\n", "cpu", out, sizeof(out)), 1);
	cr_expect_str_eq(out, "");
	cr_expect_eq(cg_own_cgroup("1:cpu,cpuacct:/a\n", "cpuset", out, sizeof(out)), 0);
	cr_expect_eq(cg_own_cgroup("0::/user.slice/x\n", "", out, sizeof(out)), 1);
	cr_expect_str_eq(out, "user.slice/x");
	cr_expect_eq(cg_own_cgroup("0::/x\n", "cpu", out, sizeof(out)), 0);
	cr_expect_eq(cg_own_cgroup("9:name=systemd:/\n", "", out, sizeof(out)), 0);
	cr_expect_eq(cg_own_cgroup("junk\n", "", out, sizeof(out)), -EINVAL);
	cr_expect_eq(cg_own_cgroup("0::/a-path-longer-than-the-buffer-given-to-it\n", "", out, 8),
		     -EINVAL);
}

Test(jailer_cgroup, paths)
{
	char out[16];

	cr_expect_eq(cg_join(out, sizeof(out), "fc/vms", "id1"), 0);
	cr_expect_str_eq(out, "fc/vms/id1");
	cr_expect_eq(cg_join(out, sizeof(out), "", "tasks"), 0);
	cr_expect_str_eq(out, "tasks");
	cr_expect_eq(cg_join(out, sizeof(out), "a-long-parent", "an-id"), -ENAMETOOLONG);
	strcpy(out, "fc/vms/id1");
	cg_dirname(out);
	cr_expect_str_eq(out, "fc/vms");
	cg_dirname(out);
	cr_expect_str_eq(out, "fc");
	cg_dirname(out);
	cr_expect_str_eq(out, "");
}
