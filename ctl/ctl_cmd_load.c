// SPDX-License-Identifier: GPL-2.0-only
/* ctl_cmd_load.c - `load`, `unload` and `status`. */
#include <limits.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/if_link.h>
#include <bpf/libbpf.h>

#include "ctl.h"
#include "agent/agent.h"
#include "dataplane/dataplane_autoload.h"
#include "dataplane/dataplane_iface.h"
#include "util/util_daemon_group.h"

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

/*
 * What load enforces: the configuration, whatever pins an earlier run left.
 * The boot mode and exemptions are written; the assigned policy, if there
 * is one, is applied (an atomic swap: the SAs of unchanged rules stay); a
 * policy still in force without an assigned one (CONFDIR/policy.yaml
 * removed) is removed, so the boot mode rules.
 */
struct load_state {
	struct ctx *c;
	const struct bootconf *conf;
	bool policy_failed;     /* the assigned policy did not apply */
	bool stale_removed;     /* a policy nobody assigned was taken away */
	size_t nfilters;
	char policy_err[1024];
};

static int apply_config(struct dp *dp, struct load_state *st, char *err, size_t errlen)
{
	char assigned[PATH_MAX];
	struct compile_diag diag = { 0 };
	struct ixdp_bank bank;
	uint32_t live;

	if (agent_apply_boot(dp, st->conf, err, errlen))
		return -1;
	/* a central policy's cache, when one is in force (ctl_source.c) */
	ctl_policy_path(st->c, st->conf, assigned, sizeof(assigned));
	if (access(assigned, F_OK)) {
		if (dp_read_bank(dp, &live, &bank) || !bank.has_policy)
			return 0;
		st->stale_removed = true;
		return agent_unassign(dp, st->c->confdir, err, errlen);
	}
	st->policy_failed = agent_apply(dp, assigned, st->conf, &diag, &st->nfilters,
					st->policy_err, sizeof(st->policy_err)) != 0;
	for (size_t i = 0; i < diag.nwarnings; i++)
		warn_msg("%s", diag.warnings[i]);
	compile_diag_free(&diag);
	return 0;
}

/* dp_fill_fn: the maps a load creates get the configuration before they
 * go live. */
static int fill_new_maps(const char *root, void *arg, char *err, size_t errlen)
{
	struct dp dp;
	int ret;

	if (dp_open(&dp, root, err, errlen))
		return -1;
	ret = apply_config(&dp, arg, err, errlen);
	dp_close(&dp);
	return ret;
}

/* Pins reused: push the configuration into them. */
static int push_config(struct load_state *st)
{
	char err[1024];
	struct dp dp;
	int ret;

	if ((ret = open_dataplane(st->c, &dp)))
		return ret;
	ret = apply_config(&dp, st, err, sizeof(err));
	dp_close(&dp);
	if (ret)
		return fail(EXIT_FAIL, "cannot set the boot mode or the policy: %s", err);
	return EXIT_OK;
}

/* Say what the pinned maps enforce now (read back from them). */
static int report_enforcing(struct load_state *st, struct json_object *o)
{
	struct ixdp_bank bank;
	struct ixdp_boot boot;
	const char *what;
	uint32_t live;
	struct dp dp;
	int ret;

	if ((ret = open_dataplane(st->c, &dp)))
		return ret;
	ret = dp_read_bank(&dp, &live, &bank) || dp_read_boot(&dp, &boot);
	dp_close(&dp);
	if (ret)
		return fail(EXIT_FAIL, "cannot read the dataplane's state");
	what = bank.has_policy ? "policy" : bootmode_name((enum ixdp_bootmode)boot.mode);
	if (st->stale_removed && !st->c->json)
		printf("removed the policy an earlier load left in force: none is assigned\n");
	if (o) {
		json_object_object_add(o, "enforcing", json_object_new_string(what));
		json_object_object_add(o, "stale_policy_removed",
				       json_object_new_boolean(st->stale_removed));
	} else if (bank.has_policy) {
		printf("enforcing: the assigned policy (%u specific filters)\n", bank.nfilters);
	} else {
		printf("enforcing: boot mode %s (no policy applied)\n", what);
	}
	if (!st->policy_failed)
		return EXIT_OK;
	if (bank.has_policy)
		return fail(EXIT_BAD_INPUT, "the assigned policy was not applied, the policy "
			    "applied before stays in force: %s", st->policy_err);
	return fail(EXIT_BAD_INPUT, "the assigned policy was not applied, the boot mode "
		    "rules: %s", st->policy_err);
}

/* After dp_load_iface: check from the pins that it holds; if not, take
 * away what this command attached. */
static int verify_loaded(struct ctx *c, const char *ifname, const struct dp_load_info *info,
			 bool created)
{
	char err[1024], ignored[512];

	if (dp_verify_iface(c->root, ifname, err, sizeof(err)) == 0)
		return EXIT_OK;
	if (info->attached)
		dp_unload(c->root, ifname, ignored, sizeof(ignored));
	if (created) {
		char **names;
		size_t n;

		if (dp_list_ifaces(c->root, &names, &n) == 0 && n == 0)
			dp_unload(c->root, NULL, ignored, sizeof(ignored));
		for (size_t i = 0; i < n; i++)
			free(names[i]);
		free(names);
	}
	return fail(EXIT_FAIL, "%s: the dataplane does not hold after loading%s: %s", ifname,
		    info->attached ? " (detached again)" : "", err);
}

/* After a replacement of the maps: every interface attached before runs
 * the new programs too. */
static int verify_all(struct ctx *c)
{
	char **names, err[1024];
	size_t n;
	int ret = EXIT_OK;

	if (dp_list_ifaces(c->root, &names, &n))
		return fail(EXIT_FAIL, "cannot read %s/links", c->root);
	for (size_t i = 0; i < n; i++) {
		if (ret == EXIT_OK && dp_verify_iface(c->root, names[i], err, sizeof(err)))
			ret = fail(EXIT_FAIL, "%s: after the maps were replaced: %s", names[i], err);
		free(names[i]);
	}
	free(names);
	return ret;
}

/* The interface's groups (the rules' connection-type and interfaces) as
 * the list in force has them: an apply writes every interface's, this
 * covers an interface that appeared since. */
static int refresh_ifmask(struct ctx *c, const char *ifname)
{
	char err[512];
	struct dp dp;
	int ret;

	if ((ret = open_dataplane(c, &dp)))
		return ret;
	ret = dp_refresh_ifmask(&dp, ifname, err, sizeof(err));
	dp_close(&dp);
	return ret ? fail(EXIT_FAIL, "%s", err) : EXIT_OK;
}

static void say_loaded(struct ctx *c, const char *ifname, const struct dp_load_info *info)
{
	if (info->searchable[0])   /* once: then they are */
		fprintf(stderr, "ipsec-xdp: made %s searchable by all (o+x), so that "
			"the group %s (ipsec-xdpd --user) reaches the pins "
			"(ipsec-xdpd(8) SECURITY)\n", info->searchable, IXDP_DAEMON_GROUP);
	if (info->unshared[0])
		fprintf(stderr, "ipsec-xdp: warning: cannot share %s with the group %s: "
			"ipsec-xdpd --user will not reach the dataplane (ipsec-xdpd(8) "
			"SECURITY)\n", info->unshared, IXDP_DAEMON_GROUP);
	if (c->json)
		return;
	if (info->replaced)
		printf("replaced the pinned maps of ABI version %u by version %d (filled with the "
		       "configuration first; counters and stateful connections start afresh; "
		       "restart ipsec-xdpd if it runs)\n", info->old_abi, IXDP_ABI_VERSION);
	printf("loaded on %s (XDP, TC egress %s)\n", ifname,
	       info->tcx ? "tcx link" : "tc filter");
}

/* What `load` was asked: the interfaces named, or with --all every one but
 * those "all" leaves out (dataplane_autoload.h), which are said. */
struct load_args {
	enum dp_xdp_mode mode;
	bool all;
	char **names;
	size_t n;
	struct json_object *skipped;    /* --all: [{name, reason}] */
};

static void load_args_free(struct load_args *a)
{
	for (size_t i = 0; i < a->n; i++)
		free(a->names[i]);
	free(a->names);
	json_object_put(a->skipped);
}

static int add_load_name(struct load_args *a, const char *name)
{
	char **nv = realloc(a->names, (a->n + 1) * sizeof(*nv));

	if (!nv || !(nv[a->n] = strdup(name))) {
		if (nv)
			a->names = nv;
		return fail(EXIT_FAIL, "out of memory");
	}
	a->names = nv;
	a->n++;
	return EXIT_OK;
}

/* --all: the namespace's interfaces, loopback and xfrm ones left out. */
static int all_ifaces(struct ctx *c, struct load_args *a)
{
	struct dp_netif *v;
	char err[512];
	size_t n;
	int ret = EXIT_OK;

	if (dp_netifs_read(&v, &n, err, sizeof(err)))
		return fail(EXIT_FAIL, "load --all: %s", err);
	a->skipped = json_object_new_array();
	for (size_t i = 0; i < n && ret == EXIT_OK; i++) {
		const char *why = dp_autoload_excluded(&v[i]);
		struct json_object *e;

		if (!why) {
			ret = add_load_name(a, v[i].name);
			continue;
		}
		if (!c->json)
			printf("skipped %s: %s\n", v[i].name, why);
		e = json_object_new_object();
		json_object_object_add(e, "name", json_object_new_string(v[i].name));
		json_object_object_add(e, "reason", json_object_new_string(why));
		json_object_array_add(a->skipped, e);
	}
	free(v);
	if (ret == EXIT_OK && !a->n)
		ret = fail(EXIT_FAIL, "load --all: no interface but loopback and xfrm ones");
	return ret;
}

static int parse_load_args(struct ctx *c, int argc, char **argv, struct load_args *a)
{
	int ret;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--xdp-mode")) {
			if (i + 1 >= argc || parse_xdp_mode(argv[++i], &a->mode))
				return fail(EXIT_USAGE, "--xdp-mode takes auto, native or generic");
		} else if (!strcmp(argv[i], "--all")) {
			a->all = true;
		} else if (argv[i][0] == '-') {
			return fail(EXIT_USAGE, "load: unknown option '%s'", argv[i]);
		} else if (!if_nametoindex(argv[i])) {
			return fail(EXIT_USAGE, "load: no interface named '%s'", argv[i]);
		} else if ((ret = add_load_name(a, argv[i]))) {
			return ret;
		}
	}
	if (a->all && a->n)
		return fail(EXIT_USAGE, "load: --all or interfaces, not both");
	if (!a->all && !a->n)
		return fail(EXIT_USAGE, "usage: ipsec-xdp load IFACE...|--all [--xdp-mode MODE]");
	return a->all ? all_ifaces(c, a) : EXIT_OK;
}

/* --all: loadinterfaces = all, for ipsec-xdpd to follow (the writers'
 * lock is held). */
static int record_all(struct ctx *c, struct bootconf *conf)
{
	char err[512];

	conf->loadifs = BOOTCONF_LOAD_ALL;
	conf->nloadif = 0;
	if (bootconf_save(c->confdir, conf, err, sizeof(err)))
		return fail(EXIT_FAIL, "loaded, but loadinterfaces = all was not recorded: %s",
			    err);
	if (!c->json)
		printf("recorded loadinterfaces = all: ipsec-xdpd attaches the dataplane to "
		       "interfaces that appear\n");
	return EXIT_OK;
}

/* With --all an interface that cannot take the dataplane is said and the
 * others loaded; otherwise the load stops there. */
static int load_one_failed(struct load_args *a, struct json_object *failed, const char *name,
			   const char *err)
{
	struct json_object *e;

	if (!a->all)
		return fail(EXIT_FAIL, "%s", err);
	warn_msg("load --all: %s did not take the dataplane: %s", name, err);
	e = json_object_new_object();
	json_object_object_add(e, "name", json_object_new_string(name));
	json_object_object_add(e, "error", json_object_new_string(err));
	json_object_array_add(failed, e);
	return EXIT_OK;
}

static int load_locked(struct ctx *c, int argc, char **argv)
{
	struct json_object *done = json_object_new_array(), *failed = json_object_new_array();
	struct load_args a = { .mode = DP_XDP_AUTO };
	struct bootconf conf;
	struct load_state st = { .c = c, .conf = &conf };
	struct dp_load_info info = { 0 };
	bool created = false, replaced = false, tcx = false;
	unsigned old_abi = 0;
	char err[1024];
	int ret;

	if ((ret = parse_load_args(c, argc, argv, &a)) || (ret = load_config(c, &conf)))
		goto out;
	warn_if_ssh_cut(&conf);
	libbpf_set_print(NULL);
	for (size_t i = 0; i < a.n; i++) {
		const char *name = a.names[i];

		if (dp_load_iface(c->root, name, a.mode, fill_new_maps, &st, &info, err,
				  sizeof(err))) {
			if ((ret = load_one_failed(&a, failed, name, err)))
				goto out;
			continue;
		}
		created |= info.created;
		replaced |= info.replaced;
		old_abi = info.replaced ? info.old_abi : old_abi;
		if ((ret = verify_loaded(c, name, &info, info.created)) ||
		    (ret = refresh_ifmask(c, name))) {
			if (!a.all)
				goto out;
			load_one_failed(&a, failed, name, "see the error above");
			continue;
		}
		json_object_array_add(done, json_object_new_string(name));
		tcx = info.tcx;
		say_loaded(c, name, &info);
	}
	if (!json_object_array_length(done)) {
		ret = fail(EXIT_FAIL, "load --all: no interface took the dataplane");
		goto out;
	}
	if ((replaced && (ret = verify_all(c))) || (!created && (ret = push_config(&st))) ||
	    (a.all && (ret = record_all(c, &conf))))
		goto out;
	if (c->json) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "loaded", done);
		done = NULL;
		json_object_object_add(o, "egress", json_object_new_string(tcx ? "tcx" : "tc"));
		json_object_object_add(o, "maps", json_object_new_string(
			replaced ? "replaced" : created ? "created" : "reused"));
		if (replaced)
			json_object_object_add(o, "replaced_abi", json_object_new_int64(old_abi));
		json_object_object_add(o, "abi", json_object_new_int64(IXDP_ABI_VERSION));
		json_object_object_add(o, "bootmode",
			json_object_new_string(bootmode_name(bootconf_effective_mode(&conf))));
		if (a.all) {
			json_object_object_add(o, "skipped", json_object_get(a.skipped));
			json_object_object_add(o, "failed", json_object_get(failed));
			json_object_object_add(o, "loadinterfaces", json_object_new_string("all"));
		}
		ret = report_enforcing(&st, o);
		print_json(o);
	} else {
		ret = report_enforcing(&st, NULL);
	}
	if (ret == EXIT_OK && json_object_array_length(failed))
		ret = fail(EXIT_FAIL, "load --all: %zu interface%s did not take the dataplane "
			   "(said above); the others carry it", json_object_array_length(failed),
			   json_object_array_length(failed) == 1 ? "" : "s");
out:
	json_object_put(done);
	json_object_put(failed);
	load_args_free(&a);
	return ret;
}

/* -j: {"all":true,"interfaces":[]} or the interfaces named, once done. */
static void print_unloaded_json(bool all, int argc, char **argv)
{
	struct json_object *o = json_object_new_object();
	struct json_object *arr = json_object_new_array();

	for (int i = 1; !all && i < argc; i++)
		json_object_array_add(arr, json_object_new_string(argv[i]));
	json_object_object_add(o, "all", json_object_new_boolean(all));
	json_object_object_add(o, "interfaces", arr);
	print_json(o);
}

static int unload_locked(struct ctx *c, int argc, char **argv)
{
	char err[512];
	int ret = EXIT_OK;

	if (!dp_is_loaded(c->root))
		return fail(EXIT_NOT_LOADED, "the dataplane is not loaded");
	libbpf_set_print(NULL); /* looking for a tc filter of ours is no error */
	if (argc < 2) {
		if (dp_unload(c->root, NULL, err, sizeof(err)))
			return fail(EXIT_FAIL, "%s", err);
		if (c->json)
			print_unloaded_json(true, argc, argv);
		else
			printf("unloaded from every interface\n");
		return EXIT_OK;
	}
	for (int i = 1; i < argc; i++) {
		if (dp_unload(c->root, argv[i], err, sizeof(err)))
			ret = fail(EXIT_FAIL, "%s", err);
		else if (!c->json)
			printf("unloaded from %s\n", argv[i]);
	}
	if (ret == EXIT_OK && c->json)
		print_unloaded_json(false, argc, argv);
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
			status_agent(c, o);
			source_status(c, &conf, o);
			print_json(o);
		} else {
			printf("dataplane: not loaded\n");
			status_agent(c, NULL);
			source_status(c, &conf, NULL);
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
		status_agent(c, o);
		source_status(c, &conf, o);
		print_json(o);
	} else {
		print_status_text(ifaces, n, &bank, &boot, &conf);
		status_agent(c, NULL);
		source_status(c, &conf, NULL);
	}
	for (size_t i = 0; i < n; i++)
		free(ifaces[i]);
	free(ifaces);
	return EXIT_OK;
}
