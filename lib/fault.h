/*
 * Test-only fault points: MVM_FAULT=<name> in mvm's environment makes the
 * process kill itself with SIGKILL when it reaches the point of that name,
 * the way a crash or an OOM kill would stop it there. The crash tests
 * (tests/integration/test_snapshot_crash.py) use it to stop a snapshot
 * between two steps; without MVM_FAULT nothing happens. The names are the
 * snapshot steps, e.g. after-state-tmp, after-mem-publish, mid-merge (see the
 * README's snapshot section).
 */
#ifndef MVM_FAULT_H
#define MVM_FAULT_H

/* Read MVM_FAULT once, at startup, before any thread or seccomp filter. */
void fault_init(void);

/* SIGKILL this process when MVM_FAULT names this point. */
void fault_point(const char *name);

#endif
