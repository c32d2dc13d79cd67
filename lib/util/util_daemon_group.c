// SPDX-License-Identifier: GPL-2.0-only
/* util_daemon_group.c - see util_daemon_group.h */
#include "util_daemon_group.h"

#include <grp.h>

bool daemon_group(gid_t *gid)
{
	struct group *gr = getgrnam(IXDP_DAEMON_GROUP);

	if (!gr)
		return false;
	*gid = gr->gr_gid;
	return true;
}
