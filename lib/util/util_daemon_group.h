/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * util_daemon_group.h - the group of the user ipsec-xdpd's network process
 * runs as with --user (systemd/ipsec-xdp.sysusers): what root's files the
 * daemon needs (the assigned policy, the dataplane's pins) are shared with
 * that group when it exists, and stay root's alone when it does not
 * (ipsec-xdpd(8) SECURITY).
 */
#ifndef IXDP_DAEMON_GROUP_H
#define IXDP_DAEMON_GROUP_H

#include <stdbool.h>
#include <sys/types.h>

#define IXDP_DAEMON_GROUP "ipsec-xdp"

/* true with *gid when the group IXDP_DAEMON_GROUP exists. */
bool daemon_group(gid_t *gid);

#endif /* IXDP_DAEMON_GROUP_H */
