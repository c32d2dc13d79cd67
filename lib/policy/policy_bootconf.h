/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * policy_bootconf.h - the persistent configuration set with `ipsec-xdp set config`
 * (docs/behaviour.md §5, §7), kept in CONFDIR/config (default /etc/ipsec-xdp/config).
 *
 * File format, one `key = value` per line, `#` comments:
 *   bootmode = permit | block | stateful     (absent: see bootconf_effective_mode)
 *   bootexemptions = TCP:0:3389:inbound ICMP:0:0:inbound   (or: none)
 *   ipsecexempt = 0..3                       (default 3)
 *   ikelogging = 0..2                        (default 0)
 *   strongcrlcheck = 0..2                    (default 0)
 *   policysource = https://HOST/PATH | none  (a central policy, docs/behaviour.md §8)
 *   policysourcekey = /ABSOLUTE/key.pem | none  (its signer's public key)
 *   policysourceca = /ABSOLUTE/ca.pem | none    (the server's CA; none: the
 *                                               system's CA store)
 *   loadinterfaces = none | all | IFACE[,IFACE...]  (default none: which
 *                    interfaces ipsec-xdpd gives the loaded dataplane when
 *                    they appear; all: every one but loopback and xfrm
 *                    interfaces, dataplane_autoload.h)
 * A policysource needs a policysourcekey: each refuses what would leave
 * the other missing.
 *   policy-applied-once = yes|no             (read for upgrades only: now
 *                                            STATEDIR's, policy_state.h)
 */
#ifndef IXDP_BOOTCONF_H
#define IXDP_BOOTCONF_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#include "ipsec_xdp.h"

#define IXDP_CONFDIR_DEFAULT "/etc/ipsec-xdp"
#define BOOTCONF_URL_MAX  512	/* with its NUL */
#define BOOTCONF_PATH_MAX 256	/* with its NUL */
#define BOOTCONF_LOADIF_MAX 16	/* interfaces named by loadinterfaces */
#define BOOTCONF_IFNAME_MAX 16	/* IFNAMSIZ: an interface name with its NUL */

/* loadinterfaces: none (the default), all, or the interfaces named */
enum bootconf_loadifs { BOOTCONF_LOAD_NONE = 0, BOOTCONF_LOAD_ALL, BOOTCONF_LOAD_LIST };

struct bootconf {
	bool bootmode_set;          /* false: no mode configured */
	enum ixdp_bootmode bootmode;
	struct ixdp_boot_exempt exempt[IXDP_MAX_BOOT_EXEMPT];
	size_t nexempt;
	int ipsecexempt;            /* 0..3 */
	int ikelogging;             /* 0..2 */
	int strongcrlcheck;         /* 0..2 */
	bool policy_applied_once;   /* from STATEDIR (policy_state.h) */
	bool applied_once_in_config; /* the old key, not yet carried over */
	char policysource[BOOTCONF_URL_MAX];     /* "": none */
	char policysourcekey[BOOTCONF_PATH_MAX]; /* "": none */
	char policysourceca[BOOTCONF_PATH_MAX];  /* "": the system's CAs */
	enum bootconf_loadifs loadifs;
	char loadif[BOOTCONF_LOADIF_MAX][BOOTCONF_IFNAME_MAX]; /* LOAD_LIST */
	size_t nloadif;
};

void bootconf_defaults(struct bootconf *c);

/* Read CONFDIR/config; a missing file gives the defaults.  -1 + errbuf on a
 * malformed file ("config:3: ..."). */
int bootconf_load(const char *confdir, struct bootconf *c, char *errbuf,
		  size_t errlen);

/* Write atomically (temp file + rename), mode 0644. */
int bootconf_save(const char *confdir, const struct bootconf *c,
		  char *errbuf, size_t errlen);

/*
 * Parse a bootexemptions list: entries separated by spaces or commas, each
 * PROTOCOL:SRCPORT:DSTPORT:DIRECTION (protocol tcp/udp/icmp/icmpv6/number/any,
 * ports 0-65535 or any, direction inbound/outbound/both) or the short form
 * PROTOCOL:DIRECTION; "none" clears.  Case-insensitive.  Returns the count
 * or -1 with errbuf naming the bad entry and why.
 */
int bootexempt_parse(const char *text, struct ixdp_boot_exempt *out,
		     size_t max, char *errbuf, size_t errlen);

/* "TCP:0:3389:inbound" */
void bootexempt_format(const struct ixdp_boot_exempt *e, char *buf, size_t len);

int bootmode_parse(const char *s, enum ixdp_bootmode *out);
const char *bootmode_name(enum ixdp_bootmode m);

/* With no mode configured: permit until a policy was applied once, then
 * stateful (so a newcomer on SSH is not locked out). */
enum ixdp_bootmode bootconf_effective_mode(const struct bootconf *c);

/* Set one key as a line `key = value` of the file would (the names
 * above); -1 + why on an unknown key or a bad value. */
int bootconf_set_key(struct bootconf *c, const char *key, const char *value,
		     char *why, size_t len);

/* Is url one a policysource may be: https://, printable ASCII without
 * spaces or '#', shorter than BOOTCONF_URL_MAX?  -1 + why otherwise. */
int bootconf_check_url(const char *url, char *why, size_t len);

/* loadinterfaces as written in the file: "none", "all" or "eth0,usb0". */
void bootconf_loadifs_format(const struct bootconf *c, char *buf, size_t len);

/* Does loadinterfaces name `ifname` (LOAD_LIST only; "all" is decided
 * with the interface's kind, dataplane_autoload.h)? */
bool bootconf_loadifs_names(const struct bootconf *c, const char *ifname);

/* Confdir from $IPSEC_XDP_CONFDIR or the default. */
const char *ixdp_confdir(void);

#endif /* IXDP_BOOTCONF_H */
