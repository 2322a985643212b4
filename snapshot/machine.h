/* The snapshot's machine section: read (versions 2 and 3) and checked. */
#ifndef MVM_SNAPSHOT_MACHINE_H
#define MVM_SNAPSHOT_MACHINE_H

#include "format.h"
#include "state.h"

struct err;

/* The section, a version 2 one widened (flags 0: the VM had a PIT), every
 * field checked against what this mvm can build. 0 or -errno with e set. */
int snap_machine_get(const struct snap_reader *rd, struct snap_machine *sm, struct err *e);

#endif
