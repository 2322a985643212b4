/*
 * mvm-jailer: the 'drop_privileges' step. The monitor keeps no capability at
 * all (its allowlist is empty), in bubblewrap's order:
 *
 *   1. the bounding set, every capability the kernel knows: this needs
 *      CAP_SETPCAP, so it comes while we are still root;
 *   2. supplementary groups, then gid, then uid (leaving uid 0 already
 *      empties the permitted and effective sets; we do not count on it);
 *   3. effective, permitted, inheritable and ambient sets cleared with libcap;
 *   4. PR_SET_NO_NEW_PRIVS: no later exec can gain anything (setuid files,
 *      file capabilities);
 *   5. a check that all of it holds, and that uid 0 is out of reach.
 */
#include <errno.h>
#include <grp.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "jail.h"

/* PR_CAPBSET_READ fails with EINVAL past the kernel's last capability: no /proc needed. */
static bool cap_known(cap_value_t c)
{
	return prctl(PR_CAPBSET_READ, c, 0, 0, 0) >= 0;
}

static int drop_bounding_set(struct jail *j)
{
	for (cap_value_t c = 0; cap_known(c); c++) {
		if (cap_drop_bound(c))
			return jail_errno(j, "dropping capability %d from the bounding set", c);
	}
	return 0;
}

static int change_ids(struct jail *j)
{
	if (setgroups(0, NULL))
		return jail_errno(j, "setgroups(0)");
	if (setresgid(j->gid, j->gid, j->gid))
		return jail_errno(j, "setresgid(%u)", j->gid);
	if (setresuid(j->uid, j->uid, j->uid))
		return jail_errno(j, "setresuid(%u)", j->uid);
	j->privileges_dropped = true;
	return 0;
}

static int clear_sets(struct jail *j)
{
	cap_t caps = cap_get_proc();
	int r;

	if (!caps)
		return jail_errno(j, "cap_get_proc");
	r = cap_clear(caps) ? -1 : cap_set_proc(caps);
	cap_free(caps);
	if (r)
		return jail_errno(j, "clearing the capability sets");
	/* EINVAL: a kernel before 4.3 has no ambient set, so nothing to clear. */
	if (cap_reset_ambient() && errno != EINVAL)
		return jail_errno(j, "clearing the ambient capabilities");
	return 0;
}

static int check_dropped(struct jail *j)
{
	cap_t now = cap_get_proc(), none = cap_init();
	int same = now && none && cap_compare(now, none) == 0;
	uid_t ru, eu, su;
	gid_t rg, eg, sg;

	cap_free(now);
	cap_free(none);
	if (!same)
		return jail_err(j, -EPERM, "capabilities survived the drop");
	for (cap_value_t c = 0; cap_known(c); c++) {
		if (prctl(PR_CAPBSET_READ, c, 0, 0, 0) != 0)
			return jail_err(j, -EPERM, "capability %d is still in the bounding set", c);
	}
	if (getresuid(&ru, &eu, &su) || getresgid(&rg, &eg, &sg) || ru != j->uid || eu != j->uid ||
	    su != j->uid || rg != j->gid || eg != j->gid || sg != j->gid)
		return jail_err(j, -EPERM, "the uid/gid change did not stick");
	if (setresuid(0, 0, 0) == 0 || errno != EPERM)
		return jail_err(j, -EPERM, "uid 0 is still reachable after the drop");
	if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
		return jail_err(j, -EPERM, "no_new_privs is not set");
	return 0;
}

int jail_drop_privileges(struct jail *j)
{
	int r;

	if ((r = drop_bounding_set(j)) || (r = change_ids(j)) || (r = clear_sets(j)))
		return r;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return jail_errno(j, "prctl(PR_SET_NO_NEW_PRIVS)");
	return check_dropped(j);
}
