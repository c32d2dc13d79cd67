/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * daemon_show.h - the daemon's answers in JSON for the control socket
 * (include/ixdp_control.h), built from what the sa/ layer reports.
 */
#ifndef IXDP_IKE_DAEMON_SHOW_H
#define IXDP_IKE_DAEMON_SHOW_H

#include "sa/sa_engine.h"

struct json_object;

/* `show sa`: one object per CHILD SA of every IKE SA appended to arr
 * (a json-c array). */
void child_sas_json(struct daemon *d, struct json_object *arr);

#endif /* IXDP_IKE_DAEMON_SHOW_H */
