/* SPDX-License-Identifier: GPL-2.0-only */
/* ctl_policy_view.h - render the assigned policy as written. */
#ifndef IXDP_POLICY_VIEW_H
#define IXDP_POLICY_VIEW_H

#include <json-c/json.h>
#include "ctl.h"
#include "policy/policy.h"

/* Parse CONFDIR/policy.yaml, or fail with an exit code. */
int load_assigned_policy(struct ctx *c, struct policy_file **pf);

void addr_spec_str(const struct addr_spec *a, char *buf, size_t len);
struct json_object *policy_json(const struct policy_file *pf);
struct json_object *configured_filters_json(const struct policy_file *pf);
void print_policy_text(const struct policy_file *pf);
void print_configured_filters(const struct policy_file *pf);

#endif
