// SPDX-License-Identifier: GPL-2.0-only
/*
 * ctl_cmd_set.c - `set config KEY VALUE`: change the persistent configuration
 * and apply it at once: dataplane keys to a loaded dataplane, the daemon's
 * keys (ikelogging, strongcrlcheck) by asking a running ipsec-xdpd to
 * reload.  The value is validated before anything is written; the file is
 * replaced atomically, by the one writer (lockfile.h).  The message says
 * only what was done: "set" alone when nothing could apply it yet.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"
#include "agent/agent.h"

static int parse_level(const char *key, const char *s, int max, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || end == s || v < 0 || v > max)
		return fail(EXIT_BAD_INPUT, "%s takes a number from 0 to %d, not '%s'", key, max, s);
	*out = (int)v;
	return EXIT_OK;
}

/* bootexemptions may come as one argument or as several. */
static void join_args(int argc, char **argv, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (int i = 0; i < argc && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? " " : "", argv[i]);
}

/* The central policy's keys (docs/behaviour.md §8): ipsec-xdpd polls. */
static bool is_source_key(const char *key)
{
	return !strcmp(key, "policysource") || !strcmp(key, "policysourcekey") ||
	       !strcmp(key, "policysourceca");
}

static int set_value(struct bootconf *conf, const char *key, int argc, char **argv)
{
	struct ixdp_boot_exempt mirrored[2 * IXDP_MAX_BOOT_EXEMPT];
	char err[512], list[4096];
	int n;

	if (!strcmp(key, "bootmode")) {
		if (argc != 1 || bootmode_parse(argv[0], &conf->bootmode))
			return fail(EXIT_BAD_INPUT, "bootmode takes permit, block or stateful");
		conf->bootmode_set = true;
		return EXIT_OK;
	}
	if (!strcmp(key, "bootexemptions")) {
		join_args(argc, argv, list, sizeof(list));
		n = bootexempt_parse(list, conf->exempt, IXDP_MAX_BOOT_EXEMPT, err, sizeof(err));
		if (n < 0)
			return fail(EXIT_BAD_INPUT, "bootexemptions: %s", err);
		conf->nexempt = (size_t)n;
		/* each entry also passes its replies: both count */
		n = bootexempt_mirror(conf->exempt, conf->nexempt, mirrored,
				      2 * IXDP_MAX_BOOT_EXEMPT);
		if (n < 0 || n > IXDP_MAX_BOOT_EXEMPT)
			return fail(EXIT_BAD_INPUT, "bootexemptions: limit exceeded: "
				    "boot exemptions (IXDP_MAX_BOOT_EXEMPT): the %zu "
				    "entries with the reply direction each one passes "
				    "are %d; the limit is %d: remove some, or merge "
				    "entries into one with port 0 (any)",
				    conf->nexempt, n < 0 ? 2 * IXDP_MAX_BOOT_EXEMPT : n,
				    IXDP_MAX_BOOT_EXEMPT);
		return EXIT_OK;
	}
	if (argc != 1)
		return fail(EXIT_USAGE, "%s takes one value", key);
	if (is_source_key(key) || !strcmp(key, "loadinterfaces")) {
		if (bootconf_set_key(conf, key, argv[0], err, sizeof(err)))
			return fail(EXIT_BAD_INPUT, "%s", err);
		return EXIT_OK;
	}
	if (!strcmp(key, "ipsecexempt"))
		return parse_level(key, argv[0], 3, &conf->ipsecexempt);
	if (!strcmp(key, "ikelogging"))
		return parse_level(key, argv[0], 2, &conf->ikelogging);
	if (!strcmp(key, "strongcrlcheck"))
		return parse_level(key, argv[0], 2, &conf->strongcrlcheck);
	return fail(EXIT_USAGE, "unknown key '%s' (bootmode, bootexemptions, ipsecexempt, "
		    "ikelogging, strongcrlcheck, policysource, policysourcekey, "
		    "policysourceca, loadinterfaces)", key);
}

/* The exemptions compiled into the list depend on ipsecexempt: recompile
 * the assigned policy if one is in force.  *done tells whether it was. */
static int reapply_policy(struct ctx *c, struct dp *dp, const struct bootconf *conf,
			  bool *done)
{
	struct compile_diag diag = { 0 };
	char path[PATH_MAX], err[1024];
	struct ixdp_bank bank;
	uint32_t live;
	int ret;

	ctl_policy_path(c, conf, path, sizeof(path));
	if (dp_read_bank(dp, &live, &bank) || !bank.has_policy || access(path, F_OK))
		return EXIT_OK;
	ret = agent_apply(dp, path, conf, &diag, NULL, err, sizeof(err));
	compile_diag_free(&diag);
	if (ret)
		return fail(EXIT_FAIL, "saved, but the policy was not recompiled: %s", err);
	*done = true;
	return EXIT_OK;
}

/* Every note of a change in force starts so. */
#define APPLIED " and applied"

static bool is_boot_key(const char *key)
{
	return !strcmp(key, "bootmode") || !strcmp(key, "bootexemptions");
}

/* Keys only ipsec-xdpd reads (when it starts or reloads; loadinterfaces
 * also at every interface change). */
static bool is_daemon_key(const char *key)
{
	return !strcmp(key, "ikelogging") || !strcmp(key, "strongcrlcheck") ||
	       !strcmp(key, "loadinterfaces") || is_source_key(key);
}

/* Push a dataplane key to a loaded dataplane; *note says what was done. */
static int apply_dataplane(struct ctx *c, const char *key, const struct bootconf *conf,
			   const char **note)
{
	bool recompiled = false;
	char err[512];
	struct dp dp;
	int ret;

	if (!dp_is_loaded(c->root)) {
		*note = " (the dataplane is not loaded: `ipsec-xdp load` applies it)";
		return EXIT_OK;
	}
	if ((ret = open_dataplane(c, &dp)))
		return ret;
	if (is_boot_key(key)) {
		if (agent_apply_boot(&dp, conf, err, sizeof(err)))
			ret = fail(EXIT_FAIL, "saved, but not applied: %s", err);
		*note = APPLIED " to the dataplane";
	} else {
		ret = reapply_policy(c, &dp, conf, &recompiled);
		*note = recompiled ? APPLIED " (the policy in force recompiled)"
			: " (no policy in force: used when one is applied)";
	}
	dp_close(&dp);
	return ret;
}

/* Ask a running ipsec-xdpd to read the configuration again. */
static int apply_daemon(const char *key, const char **note)
{
	struct json_object *reply = NULL;
	char err[700];

	if (!daemon_running()) {
		*note = " (ipsec-xdpd is not running: it takes effect when the daemon starts)";
		return EXIT_OK;
	}
	if (daemon_ask("reload", &reply, err, sizeof(err)))
		return fail(EXIT_FAIL, "%s saved, but ipsec-xdpd did not reload its "
			    "configuration: %s", key, err);
	json_object_put(reply);
	*note = is_source_key(key)
		? " (ipsec-xdpd polls the source now: `ipsec-xdp status` shows the outcome)"
		: !strcmp(key, "loadinterfaces")
		? APPLIED " (ipsec-xdpd reloaded its configuration: it attaches a loaded "
		  "dataplane to the interfaces covered, now and when they appear)"
		: APPLIED " (ipsec-xdpd reloaded its configuration)";
	return EXIT_OK;
}

/* Read, change and save the configuration, and push dataplane keys, as the
 * one writer. */
static int set_locked(struct ctx *c, int argc, char **argv, const char **note)
{
	struct bootconf conf;
	char err[512];
	int ret;

	if ((ret = load_config(c, &conf)))
		return ret;
	if ((ret = set_value(&conf, argv[2], argc - 3, argv + 3)))
		return ret;
	if (is_boot_key(argv[2]))
		warn_if_ssh_cut(&conf);
	if (bootconf_save(c->confdir, &conf, err, sizeof(err)))
		return fail(is_source_key(argv[2]) ? EXIT_BAD_INPUT : EXIT_FAIL, "%s", err);
	return is_daemon_key(argv[2]) ? EXIT_OK : apply_dataplane(c, argv[2], &conf, note);
}

int cmd_set(struct ctx *c, int argc, char **argv)
{
	struct writer_lock lock;
	const char *note = "";
	int ret;

	if (argc < 4 || strcmp(argv[1], "config"))
		return fail(EXIT_USAGE, "usage: ipsec-xdp set config KEY VALUE");
	if ((ret = lock_writers(c, &lock)))
		return ret;
	ret = set_locked(c, argc, argv, &note);
	/* Unlocked before the daemon reloads: its bundle writes take the lock. */
	writer_lock_release(&lock);
	if (ret == EXIT_OK && is_daemon_key(argv[2]))
		ret = apply_daemon(argv[2], &note);
	if (ret != EXIT_OK)
		return ret;
	if (c->json) {
		struct json_object *o = json_object_new_object();
		char msg[200];

		snprintf(msg, sizeof(msg), "%s set%s", argv[2], note);
		json_object_object_add(o, "key", json_object_new_string(argv[2]));
		json_object_object_add(o, "applied", json_object_new_boolean(
					       !strncmp(note, APPLIED, strlen(APPLIED))));
		json_object_object_add(o, "result", json_object_new_string(msg));
		print_json(o);
	} else {
		printf("%s set%s\n", argv[2], note);
	}
	return EXIT_OK;
}
