// SPDX-License-Identifier: GPL-2.0-only
/*
 * cmd_set.c - `set config KEY VALUE`: change the persistent configuration
 * and apply it at once to a loaded dataplane.  The value is validated
 * before anything is written; the file is replaced atomically.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"
#include "policy_agent.h"

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

static int set_value(struct bootconf *conf, const char *key, int argc, char **argv)
{
	struct ixdp_boot_exempt mirrored[IXDP_MAX_BOOT_EXEMPT];
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
		if (bootexempt_mirror(conf->exempt, conf->nexempt, mirrored,
				      IXDP_MAX_BOOT_EXEMPT) < 0)
			return fail(EXIT_BAD_INPUT, "bootexemptions: at most %d entries with "
				    "their replies", IXDP_MAX_BOOT_EXEMPT);
		return EXIT_OK;
	}
	if (argc != 1)
		return fail(EXIT_USAGE, "%s takes one value", key);
	if (!strcmp(key, "ipsecexempt"))
		return parse_level(key, argv[0], 3, &conf->ipsecexempt);
	if (!strcmp(key, "ikelogging"))
		return parse_level(key, argv[0], 2, &conf->ikelogging);
	if (!strcmp(key, "strongcrlcheck"))
		return parse_level(key, argv[0], 2, &conf->strongcrlcheck);
	return fail(EXIT_USAGE, "unknown key '%s' (bootmode, bootexemptions, ipsecexempt, "
		    "ikelogging, strongcrlcheck)", key);
}

/* The exemptions compiled into the list depend on ipsecexempt: recompile
 * the assigned policy if one is in force. */
static int reapply_policy(struct ctx *c, struct dp *dp, const struct bootconf *conf)
{
	struct compile_diag diag = { 0 };
	char path[PATH_MAX], err[1024];
	struct ixdp_bank bank;
	uint32_t live;
	int ret;

	agent_assigned_path(c->confdir, path, sizeof(path));
	if (dp_read_bank(dp, &live, &bank) || !bank.has_policy || access(path, F_OK))
		return EXIT_OK;
	ret = agent_apply(dp, path, conf, &diag, NULL, err, sizeof(err));
	compile_diag_free(&diag);
	return ret ? fail(EXIT_FAIL, "saved, but the policy was not recompiled: %s", err) : EXIT_OK;
}

static int apply_now(struct ctx *c, const char *key, const struct bootconf *conf)
{
	char err[512];
	struct dp dp;
	int ret;

	if (!dp_is_loaded(c->root))
		return EXIT_OK;
	if ((ret = open_dataplane(c, &dp)))
		return ret;
	if (!strcmp(key, "bootmode") || !strcmp(key, "bootexemptions")) {
		if (agent_apply_boot(&dp, conf, err, sizeof(err)))
			ret = fail(EXIT_FAIL, "saved, but not applied: %s", err);
	} else if (!strcmp(key, "ipsecexempt")) {
		ret = reapply_policy(c, &dp, conf);
	}
	dp_close(&dp);
	return ret;
}

int cmd_set(struct ctx *c, int argc, char **argv)
{
	struct bootconf conf;
	char err[512];
	int ret;

	if (argc < 4 || strcmp(argv[1], "config"))
		return fail(EXIT_USAGE, "usage: ipsec-xdp set config KEY VALUE");
	if ((ret = load_config(c, &conf)))
		return ret;
	if ((ret = set_value(&conf, argv[2], argc - 3, argv + 3)))
		return ret;
	if (!strcmp(argv[2], "bootmode") || !strcmp(argv[2], "bootexemptions"))
		warn_if_ssh_cut(&conf);
	if (bootconf_save(c->confdir, &conf, err, sizeof(err)))
		return fail(EXIT_FAIL, "%s", err);
	ret = apply_now(c, argv[2], &conf);
	if (ret == EXIT_OK && !c->json)
		printf("%s set%s\n", argv[2], dp_is_loaded(c->root) ? " and applied" : "");
	return ret;
}
