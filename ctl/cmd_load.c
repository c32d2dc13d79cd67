// SPDX-License-Identifier: GPL-2.0-only
/* cmd_load.c - `load`, `unload` and `status`. */
#include <limits.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/if_link.h>
#include <bpf/libbpf.h>

#include "ctl.h"
#include "policy_agent.h"

static int parse_xdp_mode(const char *s, enum dp_xdp_mode *mode)
{
	if (!strcmp(s, "auto"))
		*mode = DP_XDP_AUTO;
	else if (!strcmp(s, "native"))
		*mode = DP_XDP_NATIVE;
	else if (!strcmp(s, "generic"))
		*mode = DP_XDP_GENERIC;
	else
		return -1;
	return 0;
}

/* After attaching: the boot configuration always, the assigned policy if
 * there is one and the dataplane does not enforce a policy yet. */
static int push_config(struct ctx *c, const struct bootconf *conf)
{
	char err[1024], assigned[PATH_MAX];
	struct compile_diag diag = { 0 };
	struct ixdp_bank bank;
	uint32_t live;
	size_t n = 0;
	struct dp dp;
	int ret;

	if ((ret = open_dataplane(c, &dp)))
		return ret;
	if (agent_apply_boot(&dp, conf, err, sizeof(err))) {
		dp_close(&dp);
		return fail(EXIT_FAIL, "cannot set the boot mode: %s", err);
	}
	agent_assigned_path(c->confdir, assigned, sizeof(assigned));
	if (access(assigned, F_OK) || (dp_read_bank(&dp, &live, &bank) == 0 && bank.has_policy)) {
		dp_close(&dp);
		return EXIT_OK;
	}
	ret = agent_apply(&dp, assigned, conf, &diag, &n, err, sizeof(err));
	for (size_t i = 0; i < diag.nwarnings; i++)
		warn_msg("%s", diag.warnings[i]);
	compile_diag_free(&diag);
	dp_close(&dp);
	if (ret)
		return fail(EXIT_BAD_INPUT, "the assigned policy was not applied, the boot "
			    "mode rules: %s", err);
	if (!c->json)
		printf("applied the assigned policy (%zu specific filters)\n", n);
	return EXIT_OK;
}

static int load_locked(struct ctx *c, int argc, char **argv)
{
	enum dp_xdp_mode mode = DP_XDP_AUTO;
	struct json_object *done = json_object_new_array();
	struct bootconf conf;
	char err[512];
	int nifaces = 0, ret;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--xdp-mode")) {
			if (i + 1 >= argc || parse_xdp_mode(argv[++i], &mode))
				return fail(EXIT_USAGE, "--xdp-mode takes auto, native or generic");
		} else if (argv[i][0] == '-') {
			return fail(EXIT_USAGE, "load: unknown option '%s'", argv[i]);
		} else if (!if_nametoindex(argv[i])) {
			return fail(EXIT_USAGE, "load: no interface named '%s'", argv[i]);
		} else {
			nifaces++;
		}
	}
	if (!nifaces)
		return fail(EXIT_USAGE, "usage: ipsec-xdp load IFACE... [--xdp-mode MODE]");
	if ((ret = load_config(c, &conf)))
		return ret;
	warn_if_ssh_cut(&conf);
	libbpf_set_print(NULL);
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--xdp-mode")) {
			i++;
			continue;
		}
		if (dp_load_iface(c->root, argv[i], mode, err, sizeof(err))) {
			json_object_put(done);
			return fail(EXIT_FAIL, "%s", err);
		}
		json_object_array_add(done, json_object_new_string(argv[i]));
		if (!c->json)
			printf("loaded on %s\n", argv[i]);
	}
	ret = push_config(c, &conf);
	if (c->json) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "loaded", done);
		json_object_object_add(o, "bootmode",
			json_object_new_string(bootmode_name(bootconf_effective_mode(&conf))));
		print_json(o);
	} else {
		json_object_put(done);
	}
	return ret;
}

static int unload_locked(struct ctx *c, int argc, char **argv)
{
	char err[512];
	int ret = EXIT_OK;

	if (!dp_is_loaded(c->root))
		return fail(EXIT_NOT_LOADED, "the dataplane is not loaded");
	if (argc < 2) {
		if (dp_unload(c->root, NULL, err, sizeof(err)))
			return fail(EXIT_FAIL, "%s", err);
		if (!c->json)
			printf("unloaded from every interface\n");
		return EXIT_OK;
	}
	for (int i = 1; i < argc; i++) {
		if (dp_unload(c->root, argv[i], err, sizeof(err)))
			ret = fail(EXIT_FAIL, "%s", err);
		else if (!c->json)
			printf("unloaded from %s\n", argv[i]);
	}
	return ret;
}

/* load and unload change the pinned dataplane: as the one writer
 * (lockfile.h). */
int cmd_load(struct ctx *c, int argc, char **argv)
{
	struct writer_lock lock;
	int ret = lock_writers(c, &lock);

	if (ret == EXIT_OK) {
		ret = load_locked(c, argc, argv);
		writer_lock_release(&lock);
	}
	return ret;
}

int cmd_unload(struct ctx *c, int argc, char **argv)
{
	struct writer_lock lock;
	int ret = lock_writers(c, &lock);

	if (ret == EXIT_OK) {
		ret = unload_locked(c, argc, argv);
		writer_lock_release(&lock);
	}
	return ret;
}

static const char *xdp_mode_name(const char *ifname)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	int ifindex = (int)if_nametoindex(ifname);

	if (!ifindex)
		return "gone";
	if (bpf_xdp_query(ifindex, 0, &q))
		return "unknown";
	switch (q.attach_mode) {
	case XDP_ATTACHED_DRV:
		return "native";
	case XDP_ATTACHED_SKB:
		return "generic";
	case XDP_ATTACHED_HW:
		return "offload";
	case XDP_ATTACHED_MULTI:
		return "multi";
	default:
		return "detached";
	}
}

static void print_status_text(char **ifaces, size_t n, const struct ixdp_bank *bank,
			      const struct ixdp_boot *boot, const struct bootconf *conf)
{
	printf("dataplane: loaded\n");
	for (size_t i = 0; i < n; i++)
		printf("  interface %-16s xdp %s\n", ifaces[i], xdp_mode_name(ifaces[i]));
	if (bank->has_policy)
		printf("enforcing: policy (%u specific filters, generation %u)\n",
		       bank->nfilters, bank->generation);
	else
		printf("enforcing: boot mode %s (no policy applied)\n",
		       bootmode_name((enum ixdp_bootmode)boot->mode));
	printf("boot mode: %s%s\n", bootmode_name(bootconf_effective_mode(conf)),
	       conf->bootmode_set ? "" : " (not configured: the default)");
}

int cmd_status(struct ctx *c, int argc, char **argv)
{
	struct ixdp_bank bank;
	struct ixdp_boot boot;
	struct bootconf conf;
	char **ifaces = NULL;
	size_t n = 0;
	uint32_t live;
	struct dp dp;
	int ret;

	if (argc > 1)
		return fail(EXIT_USAGE, "usage: ipsec-xdp status");
	if ((ret = load_config(c, &conf)))
		return ret;
	if (!dp_is_loaded(c->root)) {
		if (c->json) {
			struct json_object *o = json_object_new_object();

			json_object_object_add(o, "loaded", json_object_new_boolean(0));
			print_json(o);
		} else {
			printf("dataplane: not loaded\n");
		}
		return EXIT_NOT_LOADED;
	}
	if ((ret = open_dataplane(c, &dp)))
		return ret;
	if (dp_read_bank(&dp, &live, &bank) || dp_read_boot(&dp, &boot)) {
		dp_close(&dp);
		return fail(EXIT_FAIL, "cannot read the dataplane's state");
	}
	dp_close(&dp);
	dp_list_ifaces(c->root, &ifaces, &n);
	if (c->json) {
		struct json_object *o = json_object_new_object();
		struct json_object *arr = json_object_new_array();

		for (size_t i = 0; i < n; i++) {
			struct json_object *e = json_object_new_object();

			json_object_object_add(e, "name", json_object_new_string(ifaces[i]));
			json_object_object_add(e, "xdp_mode",
					       json_object_new_string(xdp_mode_name(ifaces[i])));
			json_object_array_add(arr, e);
		}
		json_object_object_add(o, "loaded", json_object_new_boolean(1));
		json_object_object_add(o, "interfaces", arr);
		json_object_object_add(o, "policy_applied", json_object_new_boolean(bank.has_policy));
		json_object_object_add(o, "filters", json_object_new_int64(bank.nfilters));
		json_object_object_add(o, "generation", json_object_new_int64(bank.generation));
		json_object_object_add(o, "enforcing", json_object_new_string(
			bank.has_policy ? "policy" : bootmode_name((enum ixdp_bootmode)boot.mode)));
		json_object_object_add(o, "bootmode", json_object_new_string(
			bootmode_name(bootconf_effective_mode(&conf))));
		print_json(o);
	} else {
		print_status_text(ifaces, n, &bank, &boot, &conf);
	}
	for (size_t i = 0; i < n; i++)
		free(ifaces[i]);
	free(ifaces);
	return EXIT_OK;
}
