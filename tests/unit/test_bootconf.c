// SPDX-License-Identifier: GPL-2.0-only
/*
 * test_bootconf.c - boot exemptions (parse, format), boot modes, and the
 * config file (load, save, errors), and the state kept in STATEDIR
 * (policy-applied-once, and its upgrade from the config file), in a
 * temporary directory.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "testutil.h"

#include "policy/policy_bootconf.h"
#include "policy/policy_state.h"

/* ---- helpers ------------------------------------------------------------- */

struct tmpdir {
	char path[64];
};

static void tmpdir_make(struct tmpdir *t)
{
	snprintf(t->path, sizeof(t->path), "/tmp/ixdp-bootconf.XXXXXX");
	assert_non_null(mkdtemp(t->path));
}

static void write_file(const char *dir, const char *name, const char *text)
{
	write_test_file(dir, name, text, 0644);
}

static int parse(const char *text, struct ixdp_boot_exempt *out, char *err)
{
	return bootexempt_parse(text, out, IXDP_MAX_BOOT_EXEMPT, err, 256);
}

/* Parse one entry and return its canonical form. */
static const char *canon(const char *text)
{
	static char buf[64];
	struct ixdp_boot_exempt e[IXDP_MAX_BOOT_EXEMPT];
	char err[256];

	if (parse(text, e, err) != 1)
		fail_msg("\"%s\": %s", text, err);
	bootexempt_format(&e[0], buf, sizeof(buf));
	return buf;
}

/* The entry must be refused with a message containing each given part. */
static void assert_refused(const char *text, const char *part1, const char *part2)
{
	struct ixdp_boot_exempt e[IXDP_MAX_BOOT_EXEMPT];
	char err[256] = "";

	assert_int_equal(parse(text, e, err), -1);
	if (!strstr(err, part1) || (part2 && !strstr(err, part2)))
		fail_msg("\"%s\": message \"%s\" lacks \"%s\"/\"%s\"", text, err,
			 part1, part2 ? part2 : "");
}

static void assert_conf_equal(const struct bootconf *a, const struct bootconf *b)
{
	assert_int_equal(a->bootmode_set, b->bootmode_set);
	if (a->bootmode_set)
		assert_int_equal(a->bootmode, b->bootmode);
	assert_int_equal(a->nexempt, b->nexempt);
	for (size_t i = 0; i < a->nexempt; i++) {
		assert_int_equal(a->exempt[i].proto, b->exempt[i].proto);
		assert_int_equal(a->exempt[i].dirs, b->exempt[i].dirs);
		assert_int_equal(a->exempt[i].sport, b->exempt[i].sport);
		assert_int_equal(a->exempt[i].dport, b->exempt[i].dport);
	}
	assert_int_equal(a->ipsecexempt, b->ipsecexempt);
	assert_int_equal(a->ikelogging, b->ikelogging);
	assert_int_equal(a->strongcrlcheck, b->strongcrlcheck);
	assert_int_equal(a->policy_applied_once, b->policy_applied_once);
	assert_int_equal(a->loadifs, b->loadifs);
	assert_int_equal(a->nloadif, b->nloadif);
	for (size_t i = 0; i < a->nloadif; i++)
		assert_string_equal(a->loadif[i], b->loadif[i]);
}

/* ---- boot exemptions ---------------------------------------------------------- */

static void test_exempt_forms(void **state)
{
	assert_string_equal(canon("TCP:0:3389:inbound"), "TCP:0:3389:inbound");
	assert_string_equal(canon("udp:any:53:outbound"), "UDP:0:53:outbound");
	assert_string_equal(canon("ICMP:0:0:inbound"), "ICMP:0:0:inbound");
	assert_string_equal(canon("ICMP:inbound"), "ICMP:0:0:inbound");
	assert_string_equal(canon("icmpv6:out"), "ICMPV6:0:0:outbound");
	assert_string_equal(canon("50:0:0:both"), "50:0:0:both");
	assert_string_equal(canon("6:1024:22:IN"), "TCP:1024:22:inbound");
	assert_string_equal(canon("any:both"), "ANY:0:0:both");
	assert_string_equal(canon("0:any:any:in"), "ANY:0:0:inbound");
	assert_string_equal(canon("Sctp:0:65535:in"), "SCTP:0:65535:inbound");
	assert_string_equal(canon("255:out"), "255:0:0:outbound");
	/* any protocol with a port: the protocols that have ports */
	assert_string_equal(canon("any:0:53:in"), "ANY:0:53:inbound");
}

static void test_exempt_fields(void **state)
{
	struct ixdp_boot_exempt e[IXDP_MAX_BOOT_EXEMPT];
	char err[256];

	assert_int_equal(parse("tcp:1:2:in", e, err), 1);
	assert_int_equal(e[0].proto, 6);
	assert_int_equal(e[0].sport, 1);
	assert_int_equal(e[0].dport, 2);
	assert_int_equal(e[0].dirs, IXDP_EXEMPT_IN);
	assert_int_equal(parse("udp:0:0:both", e, err), 1);
	assert_int_equal(e[0].proto, 17);
	assert_int_equal(e[0].dirs, IXDP_EXEMPT_IN | IXDP_EXEMPT_OUT);
}

static void test_exempt_lists(void **state)
{
	struct ixdp_boot_exempt e[IXDP_MAX_BOOT_EXEMPT];
	char err[256];

	assert_int_equal(parse("TCP:0:3389:inbound ICMP:0:0:inbound", e, err), 2);
	assert_int_equal(parse("TCP:0:22:in,UDP:0:53:out , 50:both\n", e, err), 3);
	assert_int_equal(e[2].proto, 50);
	assert_int_equal(parse("none", e, err), 0);
	assert_int_equal(parse("  NONE ", e, err), 0);
	/* duplicates merge, their directions joined */
	assert_int_equal(parse("TCP:0:22:in tcp:any:22:inbound TCP:0:22:out", e, err), 1);
	assert_int_equal(e[0].dirs, IXDP_EXEMPT_IN | IXDP_EXEMPT_OUT);
}

static void test_exempt_errors(void **state)
{
	assert_refused("TCP:0:3389", "\"TCP:0:3389\"", "PROTOCOL:SRCPORT:DSTPORT:DIRECTION");
	assert_refused("TCP:0:1:2:in", "\"TCP:0:1:2:in\"", "PROTOCOL:DIRECTION");
	assert_refused("TCP", "\"TCP\"", "expected");
	assert_refused("FOO:in", "\"FOO:in\"", "protocol \"FOO\"");
	assert_refused("256:in", "protocol \"256\"", "0-255");
	assert_refused("-1:in", "protocol \"-1\"", NULL);
	assert_refused("TCP:0:70000:in", "destination port \"70000\"", "0-65535 or any");
	assert_refused("TCP:x:1:in", "source port \"x\"", NULL);
	assert_refused("TCP:+5:1:in", "source port \"+5\"", NULL);
	assert_refused("TCP:0:22:sideways", "direction \"sideways\"",
		       "inbound, outbound or both");
	assert_refused("ICMP:0:8:inbound", "\"ICMP:0:8:inbound\"", "has no ports");
	assert_refused("50:1:0:in", "has no ports", NULL);
	assert_refused("TCP:0:22:in TCP:0:23:bad", "\"TCP:0:23:bad\"", "direction");
	assert_refused("none TCP:0:22:in", "none", "cannot be combined");
	assert_refused("", "none", NULL);
	assert_refused(" , ", "none", NULL);
}

static void test_exempt_limit(void **state)
{
	struct ixdp_boot_exempt e[IXDP_MAX_BOOT_EXEMPT];
	char text[4096] = "", err[256];
	size_t used = 0;

	for (int i = 1; i <= IXDP_MAX_BOOT_EXEMPT + 1; i++)
		used += (size_t)snprintf(text + used, sizeof(text) - used,
					 "TCP:0:%d:in ", i);
	assert_refused(text, "too many", "64");
	/* exactly the limit is fine, and so are duplicates beyond it */
	text[strlen(text) - strlen("TCP:0:65:in ")] = '\0';
	strcat(text, " TCP:0:1:out");
	assert_int_equal(parse(text, e, err), IXDP_MAX_BOOT_EXEMPT);
	/* a smaller array is respected */
	assert_int_equal(bootexempt_parse("TCP:0:1:in TCP:0:2:in", e, 1, err,
					  sizeof(err)), -1);
}

/* Every protocol and direction survives format -> parse. */
static void test_exempt_format_round_trip(void **state)
{
	static const uint8_t dirs[] = {
		IXDP_EXEMPT_IN, IXDP_EXEMPT_OUT, IXDP_EXEMPT_IN | IXDP_EXEMPT_OUT,
	};

	for (int proto = 0; proto <= 255; proto++) {
		for (size_t d = 0; d < 3; d++) {
			bool ports = proto == 0 || proto == 6 || proto == 17 ||
				     proto == 132 || proto == 136;
			struct ixdp_boot_exempt in = {
				.proto = (uint8_t)proto, .dirs = dirs[d],
				.sport = ports ? 1000 : 0, .dport = ports ? 65535 : 0,
			}, out[IXDP_MAX_BOOT_EXEMPT];
			char buf[64], err[256];

			bootexempt_format(&in, buf, sizeof(buf));
			if (parse(buf, out, err) != 1)
				fail_msg("\"%s\": %s", buf, err);
			assert_memory_equal(&in, &out[0], sizeof(in));
		}
	}
}

/* ---- modes ----------------------------------------------------------------------- */

static void test_bootmodes(void **state)
{
	enum ixdp_bootmode m;
	struct bootconf c;

	assert_int_equal(bootmode_parse("permit", &m), 0);
	assert_int_equal(m, IXDP_BOOT_PERMIT);
	assert_int_equal(bootmode_parse("BLOCK", &m), 0);
	assert_int_equal(m, IXDP_BOOT_BLOCK);
	assert_int_equal(bootmode_parse("Stateful", &m), 0);
	assert_int_equal(m, IXDP_BOOT_STATEFUL);
	assert_int_equal(bootmode_parse("open", &m), -1);
	assert_int_equal(bootmode_parse("", &m), -1);
	assert_string_equal(bootmode_name(IXDP_BOOT_PERMIT), "permit");
	assert_string_equal(bootmode_name(IXDP_BOOT_BLOCK), "block");
	assert_string_equal(bootmode_name(IXDP_BOOT_STATEFUL), "stateful");
	assert_string_equal(bootmode_name((enum ixdp_bootmode)9), "unknown");

	bootconf_defaults(&c);
	assert_false(c.bootmode_set);
	assert_int_equal(c.ipsecexempt, 3);
	assert_int_equal(c.nexempt, 0);
	assert_int_equal(bootconf_effective_mode(&c), IXDP_BOOT_PERMIT);
	c.policy_applied_once = true;
	assert_int_equal(bootconf_effective_mode(&c), IXDP_BOOT_STATEFUL);
	c.bootmode_set = true;
	c.bootmode = IXDP_BOOT_BLOCK;
	assert_int_equal(bootconf_effective_mode(&c), IXDP_BOOT_BLOCK);
	c.bootmode = IXDP_BOOT_PERMIT;
	assert_int_equal(bootconf_effective_mode(&c), IXDP_BOOT_PERMIT);
}

static void test_confdir_env(void **state)
{
	unsetenv("IPSEC_XDP_CONFDIR");
	assert_string_equal(ixdp_confdir(), IXDP_CONFDIR_DEFAULT);
	setenv("IPSEC_XDP_CONFDIR", "/tmp/elsewhere", 1);
	assert_string_equal(ixdp_confdir(), "/tmp/elsewhere");
	setenv("IPSEC_XDP_CONFDIR", "", 1);
	assert_string_equal(ixdp_confdir(), IXDP_CONFDIR_DEFAULT);
	unsetenv("IPSEC_XDP_CONFDIR");
}

/* ---- the config file ---------------------------------------------------------------- */

static void test_load_missing_gives_defaults(void **state)
{
	struct tmpdir t;
	struct bootconf c, d;
	char err[256];

	tmpdir_make(&t);
	memset(&c, 0xaa, sizeof(c));
	assert_int_equal(bootconf_load(t.path, &c, err, sizeof(err)), 0);
	bootconf_defaults(&d);
	assert_conf_equal(&c, &d);
	remove_tree(t.path);
}

static void test_save_load_round_trip(void **state)
{
	struct tmpdir t;
	struct bootconf c, back;
	char dir[128], path[160], err[256];
	struct stat st;

	tmpdir_make(&t);
	snprintf(dir, sizeof(dir), "%s/etc/ipsec-xdp", t.path);
	bootconf_defaults(&c);
	c.bootmode_set = true;
	c.bootmode = IXDP_BOOT_BLOCK;
	assert_int_equal(bootexempt_parse("TCP:0:3389:in ICMP:in 50:both UDP:67:68:out",
					  c.exempt, IXDP_MAX_BOOT_EXEMPT, err,
					  sizeof(err)), 4);
	c.nexempt = 4;
	c.ipsecexempt = 1;
	c.ikelogging = 2;
	c.strongcrlcheck = 1;
	if (bootconf_save(dir, &c, err, sizeof(err)))
		fail_msg("save: %s", err);

	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0755);
	snprintf(path, sizeof(path), "%s/config", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);
	if (bootconf_load(dir, &back, err, sizeof(err)))
		fail_msg("load: %s", err);
	assert_conf_equal(&c, &back);

	/* no mode, no exemptions: both come back as such */
	bootconf_defaults(&c);
	assert_int_equal(bootconf_save(dir, &c, err, sizeof(err)), 0);
	assert_int_equal(bootconf_load(dir, &back, err, sizeof(err)), 0);
	assert_conf_equal(&c, &back);

	/* only the config file is left: no temporary files */
	DIR *d = opendir(dir);
	struct dirent *e;
	int files = 0;
	assert_non_null(d);
	while ((e = readdir(d)))
		files += e->d_name[0] != '.' || strlen(e->d_name) > 2;
	closedir(d);
	assert_int_equal(files, 1);
	remove_tree(t.path);
}

static void test_load_hand_written(void **state)
{
	struct tmpdir t;
	struct bootconf c;
	char err[256];

	tmpdir_make(&t);
	write_file(t.path, "config",
		   "# written by hand\n"
		   "\n"
		   "  bootmode=stateful   # after the first policy\n"
		   "bootexemptions = TCP:0:22:inbound, UDP:any:53:outbound\n"
		   "ipsecexempt =0\n"
		   "\tikelogging = 1\n"
		   "policy-applied-once = YES\n");
	if (bootconf_load(t.path, &c, err, sizeof(err)))
		fail_msg("%s", err);
	assert_true(c.bootmode_set);
	assert_int_equal(c.bootmode, IXDP_BOOT_STATEFUL);
	assert_int_equal(c.nexempt, 2);
	assert_int_equal(c.exempt[1].dport, 53);
	assert_int_equal(c.ipsecexempt, 0);
	assert_int_equal(c.ikelogging, 1);
	assert_int_equal(c.strongcrlcheck, 0);
	assert_true(c.policy_applied_once);
	remove_tree(t.path);
}

/* A malformed file is refused with its line number; c stays the defaults. */
static void assert_config_refused(const char *text, const char *where,
				  const char *what)
{
	struct tmpdir t;
	struct bootconf c, d;
	char err[512] = "";

	tmpdir_make(&t);
	write_file(t.path, "config", text);
	assert_int_equal(bootconf_load(t.path, &c, err, sizeof(err)), -1);
	if (!strstr(err, where) || !strstr(err, what))
		fail_msg("message \"%s\" lacks \"%s\" / \"%s\"", err, where, what);
	bootconf_defaults(&d);
	assert_conf_equal(&c, &d);
	remove_tree(t.path);
}

static void test_load_errors(void **state)
{
	assert_config_refused("# x\nipsecexempt = 1\nbootmode = sideways\n",
			      "config:3: ", "bootmode \"sideways\"");
	assert_config_refused("colour = blue\n", "config:1: ", "unknown key \"colour\"");
	assert_config_refused("\nbootmode\n", "config:2: ", "key = value");
	assert_config_refused("ipsecexempt = 4\n", "config:1: ", "0-3");
	assert_config_refused("ikelogging = -1\n", "config:1: ", "0-2");
	assert_config_refused("strongcrlcheck = 2x\n", "config:1: ", "strongcrlcheck");
	assert_config_refused("policy-applied-once = maybe\n", "config:1: ", "yes or no");
	assert_config_refused("bootexemptions = TCP:0:22\n", "config:1: ",
			      "\"TCP:0:22\"");
	assert_config_refused("bootmode = block\nbootmode = permit\n", "config:2: ",
			      "already set on line 1");
}

/* loadinterfaces: the three forms, set, formatted, saved and read back;
 * a bad value leaves the one in force. */
static void test_loadinterfaces(void **state)
{
	static const char *const bad[] = {
		"", ",", "eth0,", ",eth0", "eth0,,eth1", "all,eth0", "eth0,none",
		"a/b", "eth0:1", "a b", "..", "sixteen-chars-xx", "eth0,eth0",
		"i1,i2,i3,i4,i5,i6,i7,i8,i9,i10,i11,i12,i13,i14,i15,i16,i17",
	};
	struct tmpdir t;
	struct bootconf c, back;
	char err[256], buf[300];

	bootconf_defaults(&c);
	assert_int_equal(c.loadifs, BOOTCONF_LOAD_NONE);
	bootconf_loadifs_format(&c, buf, sizeof(buf));
	assert_string_equal(buf, "none");
	assert_int_equal(bootconf_set_key(&c, "loadinterfaces", "ALL", err, sizeof(err)), 0);
	assert_int_equal(c.loadifs, BOOTCONF_LOAD_ALL);
	bootconf_loadifs_format(&c, buf, sizeof(buf));
	assert_string_equal(buf, "all");
	assert_false(bootconf_loadifs_names(&c, "eth0"));
	assert_int_equal(bootconf_set_key(&c, "loadinterfaces", "eth0,usb0,wg-home", err,
					  sizeof(err)), 0);
	assert_int_equal(c.loadifs, BOOTCONF_LOAD_LIST);
	assert_int_equal(c.nloadif, 3);
	assert_true(bootconf_loadifs_names(&c, "usb0"));
	assert_false(bootconf_loadifs_names(&c, "usb"));
	bootconf_loadifs_format(&c, buf, sizeof(buf));
	assert_string_equal(buf, "eth0,usb0,wg-home");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		if (bootconf_set_key(&c, "loadinterfaces", bad[i], err, sizeof(err)) != -1 ||
		    !strstr(err, "loadinterfaces"))
			fail_msg("\"%s\" not refused: \"%s\"", bad[i], err);
		assert_int_equal(c.loadifs, BOOTCONF_LOAD_LIST);
		assert_int_equal(c.nloadif, 3);
	}
	tmpdir_make(&t);
	assert_int_equal(bootconf_save(t.path, &c, err, sizeof(err)), 0);
	assert_int_equal(bootconf_load(t.path, &back, err, sizeof(err)), 0);
	assert_conf_equal(&c, &back);
	assert_int_equal(bootconf_set_key(&c, "loadinterfaces", "none", err, sizeof(err)), 0);
	assert_int_equal(c.nloadif, 0);
	assert_int_equal(bootconf_save(t.path, &c, err, sizeof(err)), 0);
	assert_int_equal(bootconf_load(t.path, &back, err, sizeof(err)), 0);
	assert_int_equal(back.loadifs, BOOTCONF_LOAD_NONE);
	remove_tree(t.path);
	assert_config_refused("loadinterfaces = all,eth0\n", "config:1: ", "stands alone");
}

static void test_save_errors(void **state)
{
	struct tmpdir t;
	struct bootconf c;
	char dir[128], err[256] = "";

	tmpdir_make(&t);
	bootconf_defaults(&c);
	c.ipsecexempt = 7;
	assert_int_equal(bootconf_save(t.path, &c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "ipsecexempt"));

	/* the directory's place is taken by a file */
	bootconf_defaults(&c);
	write_file(t.path, "file", "x");
	snprintf(dir, sizeof(dir), "%s/file", t.path);
	assert_int_equal(bootconf_save(dir, &c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "file"));
	snprintf(dir, sizeof(dir), "%s/file/sub", t.path);
	assert_int_equal(bootconf_save(dir, &c, err, sizeof(err)), -1);
	remove_tree(t.path);
}

/* ---- the state in STATEDIR ------------------------------------------------------- */

static bool file_has(const char *path, const char *text)
{
	char buf[2048];
	size_t n;
	FILE *fp = fopen(path, "r");

	assert_non_null(fp);
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	return strstr(buf, text) != NULL;
}

static void test_statedir_env(void **state)
{
	unsetenv("IPSEC_XDP_STATEDIR");
	unsetenv("IPSEC_XDP_CONFDIR");
	assert_string_equal(ixdp_statedir(), IXDP_STATEDIR_DEFAULT);
	assert_string_equal(ixdp_statedir(), "/var/lib/ipsec-xdp");
	/* a configuration directory of its own keeps its state beside it */
	setenv("IPSEC_XDP_CONFDIR", "/tmp/conf", 1);
	assert_string_equal(ixdp_statedir(), "/tmp/conf/state");
	setenv("IPSEC_XDP_STATEDIR", "/tmp/st", 1);
	assert_string_equal(ixdp_statedir(), "/tmp/st");
	setenv("IPSEC_XDP_STATEDIR", "", 1);
	assert_string_equal(ixdp_statedir(), "/tmp/conf/state");
	unsetenv("IPSEC_XDP_STATEDIR");
	unsetenv("IPSEC_XDP_CONFDIR");
}

/* Applying a policy marks STATEDIR (made if missing), never the config. */
static void test_state_applied_once(void **state)
{
	struct tmpdir t;
	struct bootconf c;
	char sdir[128], conf[160], file[192], err[256];

	tmpdir_make(&t);
	snprintf(sdir, sizeof(sdir), "%s/var/lib/ipsec-xdp", t.path);
	snprintf(file, sizeof(file), "%s/policy-applied-once", sdir);
	snprintf(conf, sizeof(conf), "%s/config", t.path);
	bootconf_defaults(&c);
	assert_int_equal(state_load(sdir, &c, err, sizeof(err)), 0);
	assert_false(c.policy_applied_once);
	assert_int_equal(bootconf_effective_mode(&c), IXDP_BOOT_PERMIT);
	assert_int_not_equal(access(sdir, F_OK), 0); /* reading made nothing */

	assert_int_equal(state_mark_applied_once(sdir, err, sizeof(err)), 0);
	assert_int_equal(access(file, F_OK), 0);
	assert_int_equal(bootconf_load(t.path, &c, err, sizeof(err)), 0);
	assert_int_equal(state_load(sdir, &c, err, sizeof(err)), 0);
	assert_true(c.policy_applied_once);
	assert_int_equal(bootconf_effective_mode(&c), IXDP_BOOT_STATEFUL);
	assert_int_equal(bootconf_save(t.path, &c, err, sizeof(err)), 0);
	assert_false(file_has(conf, "policy-applied-once"));
	remove_tree(t.path);
}

/* An upgrade: the old key in CONFDIR/config is carried over to STATEDIR
 * once, then the next save drops it. */
static void test_state_upgrade(void **state)
{
	struct tmpdir t;
	struct bootconf c;
	char sdir[128], conf[160], file[192], err[256];

	tmpdir_make(&t);
	snprintf(sdir, sizeof(sdir), "%s/state", t.path);
	snprintf(file, sizeof(file), "%s/policy-applied-once", sdir);
	snprintf(conf, sizeof(conf), "%s/config", t.path);
	write_file(t.path, "config", "ipsecexempt = 2\npolicy-applied-once = yes\n");
	assert_int_equal(bootconf_load(t.path, &c, err, sizeof(err)), 0);
	assert_true(c.applied_once_in_config);
	assert_int_equal(state_load(sdir, &c, err, sizeof(err)), 0);
	assert_true(c.policy_applied_once);
	assert_false(c.applied_once_in_config);
	assert_int_equal(access(file, F_OK), 0);
	assert_int_equal(bootconf_save(t.path, &c, err, sizeof(err)), 0);
	assert_false(file_has(conf, "policy-applied-once"));
	assert_true(file_has(conf, "ipsecexempt = 2"));
	/* read again: still applied once, from STATEDIR alone */
	assert_int_equal(bootconf_load(t.path, &c, err, sizeof(err)), 0);
	assert_false(c.policy_applied_once);
	assert_int_equal(state_load(sdir, &c, err, sizeof(err)), 0);
	assert_true(c.policy_applied_once);
	remove_tree(t.path);
}

/* A STATEDIR that cannot be made: the state is still read right, the
 * error says why, and the config keeps the old key (nothing is lost). */
static void test_state_upgrade_blocked(void **state)
{
	struct tmpdir t;
	struct bootconf c;
	char sdir[128], conf[160], err[256] = "";

	tmpdir_make(&t);
	write_file(t.path, "blocker", "a file where a directory should be");
	snprintf(sdir, sizeof(sdir), "%s/blocker/state", t.path);
	snprintf(conf, sizeof(conf), "%s/config", t.path);
	write_file(t.path, "config", "policy-applied-once = yes\n");
	assert_int_equal(bootconf_load(t.path, &c, err, sizeof(err)), 0);
	assert_int_equal(state_load(sdir, &c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not yet moved"));
	assert_true(c.policy_applied_once);
	assert_true(c.applied_once_in_config);
	assert_int_equal(bootconf_effective_mode(&c), IXDP_BOOT_STATEFUL);
	assert_int_equal(bootconf_save(t.path, &c, err, sizeof(err)), 0);
	assert_true(file_has(conf, "policy-applied-once = yes"));
	assert_int_equal(state_mark_applied_once(sdir, err, sizeof(err)), -1);
	remove_tree(t.path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exempt_forms),
		cmocka_unit_test(test_exempt_fields),
		cmocka_unit_test(test_exempt_lists),
		cmocka_unit_test(test_exempt_errors),
		cmocka_unit_test(test_exempt_limit),
		cmocka_unit_test(test_exempt_format_round_trip),
		cmocka_unit_test(test_bootmodes),
		cmocka_unit_test(test_confdir_env),
		cmocka_unit_test(test_load_missing_gives_defaults),
		cmocka_unit_test(test_save_load_round_trip),
		cmocka_unit_test(test_load_hand_written),
		cmocka_unit_test(test_load_errors),
		cmocka_unit_test(test_save_errors),
		cmocka_unit_test(test_loadinterfaces),
		cmocka_unit_test(test_statedir_env),
		cmocka_unit_test(test_state_applied_once),
		cmocka_unit_test(test_state_upgrade),
		cmocka_unit_test(test_state_upgrade_blocked),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
