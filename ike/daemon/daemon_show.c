// SPDX-License-Identifier: GPL-2.0-only
/*
 * daemon_show.c - `show sa` in JSON: every CHILD SA of every IKE SA, from
 * the CHILD SA code's child_get() (sa/sa_child.h).
 */
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <json-c/json.h>

#include "daemon/daemon_show.h"
#include "sa/sa_child.h"
#include "sa/sa_ikesa.h"
#include "kernel/kernel.h"

static void js(struct json_object *o, const char *k, const char *v)
{
	json_object_object_add(o, k, json_object_new_string(v));
}

static void ji(struct json_object *o, const char *k, int64_t v)
{
	json_object_object_add(o, k, json_object_new_int64(v));
}

static struct json_object *child_json(const struct ikesa *sa,
				      const struct child_info *c,
				      uint64_t now)
{
	struct json_object *o = json_object_new_object();
	char buf[128];

	snprintf(buf, sizeof(buf), "%016" PRIx64, sa->ispi);
	js(o, "ike_ispi", buf);
	snprintf(buf, sizeof(buf), "%016" PRIx64, sa->rspi);
	js(o, "ike_rspi", buf);
	js(o, "rule", c->rule);
	js(o, "protocol", c->proto == IPPROTO_AH ? "ah" : "esp");
	js(o, "mode", ikk_mode_name(c->mode));
	snprintf(buf, sizeof(buf), "%08" PRIx32, c->spi_in);
	js(o, "spi_in", buf);
	snprintf(buf, sizeof(buf), "%08" PRIx32, c->spi_out);
	js(o, "spi_out", buf);
	ji(o, "reqid", c->reqid);
	js(o, "encr", c->proto == IPPROTO_AH ? "none"
	   : ike_transform_name(IKEV2_XFORM_ENCR, c->encr));
	ji(o, "encr_key_bits", c->key_bits);
	js(o, "integ", c->integ
	   ? ike_transform_name(IKEV2_XFORM_INTEG, c->integ)
	   : "none");
	json_object_object_add(o, "esn", json_object_new_boolean(0));
	ji(o, "pfs_group", c->pfs_group);
	js(o, "local", c->local);
	js(o, "peer", c->peer);
	js(o, "local_ts", c->local_ts);
	js(o, "remote_ts", c->remote_ts);
	json_object_object_add(o, "udp_encap",
			       json_object_new_boolean(c->encap));
	ji(o, "lifetime_s", c->lifetime_s);
	ji(o, "lifetime_kb", (int64_t)c->lifetime_kb);
	ji(o, "installed", (int64_t)c->installed);
	ji(o, "age_s", (int64_t)((now - c->installed_ms) / 1000));
	return o;
}

static void child_json_one(struct daemon *d, struct ikesa *sa, void *arg)
{
	uint64_t now = daemon_now_ms(d);
	struct child_info c;

	for (size_t i = 0; child_get(sa, i, &c) == 0; i++)
		json_object_array_add(arg, child_json(sa, &c, now));
}

void child_sas_json(struct daemon *d, struct json_object *arr)
{
	ikesa_foreach(d, child_json_one, arr);
}
