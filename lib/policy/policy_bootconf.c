// SPDX-License-Identifier: GPL-2.0-only
/*
 * policy_bootconf.c - the persistent configuration of `ipsec-xdp set config`
 * (bootconf.h): boot mode, boot exemptions, ipsecexempt, IKE logging, CRL
 * checking, the central policy source, the interfaces loaded on sight.  Kept in CONFDIR/config, one `key = value` per line.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <netinet/in.h>

#include "util/util_atomic_file.h"
#include "policy/policy_bootconf.h"

#define CONFIG_NAME "config"

const char *ixdp_confdir(void)
{
	const char *d = getenv("IPSEC_XDP_CONFDIR");

	return d && *d ? d : IXDP_CONFDIR_DEFAULT;
}

void bootconf_defaults(struct bootconf *c)
{
	memset(c, 0, sizeof(*c));
	c->bootmode_set = false;
	c->bootmode = IXDP_BOOT_STATEFUL; /* only read when bootmode_set */
	c->ipsecexempt = 3;
	c->ikelogging = 0;
	c->strongcrlcheck = 0;
	c->policy_applied_once = false;
	c->applied_once_in_config = false;
}

/* ---- boot mode ------------------------------------------------------------ */

static const char *const bootmode_names[] = {
	[IXDP_BOOT_PERMIT] = "permit",
	[IXDP_BOOT_BLOCK] = "block",
	[IXDP_BOOT_STATEFUL] = "stateful",
};

int bootmode_parse(const char *s, enum ixdp_bootmode *out)
{
	for (int m = IXDP_BOOT_PERMIT; m <= IXDP_BOOT_STATEFUL; m++) {
		if (!strcasecmp(s, bootmode_names[m])) {
			*out = (enum ixdp_bootmode)m;
			return 0;
		}
	}
	return -1;
}

const char *bootmode_name(enum ixdp_bootmode m)
{
	if ((unsigned)m <= IXDP_BOOT_STATEFUL)
		return bootmode_names[m];
	return "unknown";
}

enum ixdp_bootmode bootconf_effective_mode(const struct bootconf *c)
{
	if (c->bootmode_set)
		return c->bootmode;
	return c->policy_applied_once ? IXDP_BOOT_STATEFUL : IXDP_BOOT_PERMIT;
}

/* ---- boot exemptions -------------------------------------------------------- */

static const struct {
	const char *name;   /* canonical, as bootexempt_format prints it */
	uint8_t proto;
} proto_names[] = {
	{ "ANY", 0 },
	{ "ICMP", IPPROTO_ICMP },
	{ "TCP", IPPROTO_TCP },
	{ "UDP", IPPROTO_UDP },
	{ "ICMPV6", IPPROTO_ICMPV6 },
	{ "SCTP", IPPROTO_SCTP },
};

#define NPROTO_NAMES (sizeof(proto_names) / sizeof(proto_names[0]))

/* Protocols whose ports an exemption can name (as in the dataplane). */
static bool proto_has_port_fields(uint8_t proto)
{
	return proto == IPPROTO_TCP || proto == IPPROTO_UDP ||
	       proto == IPPROTO_SCTP || proto == IPPROTO_UDPLITE;
}

/* Decimal 0..max, nothing else. */
static int parse_number(const char *s, unsigned long max, unsigned long *out)
{
	char *end;

	if (!isdigit((unsigned char)s[0]))
		return -1;
	errno = 0;
	*out = strtoul(s, &end, 10);
	return *end || errno || *out > max ? -1 : 0;
}

static int parse_proto(const char *s, uint8_t *out)
{
	unsigned long n;

	for (size_t i = 0; i < NPROTO_NAMES; i++) {
		if (!strcasecmp(s, proto_names[i].name)) {
			*out = proto_names[i].proto;
			return 0;
		}
	}
	if (parse_number(s, 255, &n))
		return -1;
	*out = (uint8_t)n;
	return 0;
}

static int parse_port(const char *s, uint16_t *out)
{
	unsigned long n;

	if (!strcasecmp(s, "any")) {
		*out = 0;
		return 0;
	}
	if (parse_number(s, 65535, &n))
		return -1;
	*out = (uint16_t)n;
	return 0;
}

static int parse_direction(const char *s, uint8_t *out)
{
	if (!strcasecmp(s, "inbound") || !strcasecmp(s, "in"))
		*out = IXDP_EXEMPT_IN;
	else if (!strcasecmp(s, "outbound") || !strcasecmp(s, "out"))
		*out = IXDP_EXEMPT_OUT;
	else if (!strcasecmp(s, "both"))
		*out = IXDP_EXEMPT_IN | IXDP_EXEMPT_OUT;
	else
		return -1;
	return 0;
}

static int entry_error(char *errbuf, size_t errlen, const char *entry,
		       const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int entry_error(char *errbuf, size_t errlen, const char *entry,
		       const char *fmt, ...)
{
	char why[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	snprintf(errbuf, errlen, "boot exemption \"%s\": %s", entry, why);
	return -1;
}

/* Split an entry at ':' into at most 5 fields (5 = too many). */
static size_t split_fields(char *s, char *f[5])
{
	size_t n = 0;

	f[n++] = s;
	for (char *p = s; *p && n < 5; p++) {
		if (*p == ':') {
			*p = '\0';
			f[n++] = p + 1;
		}
	}
	return n;
}

/* One entry: PROTOCOL:SRCPORT:DSTPORT:DIRECTION or PROTOCOL:DIRECTION. */
static int parse_entry(const char *entry, struct ixdp_boot_exempt *e,
		       char *errbuf, size_t errlen)
{
	char buf[128], *f[5];
	size_t n;

	if (strlen(entry) >= sizeof(buf))
		return entry_error(errbuf, errlen, entry, "too long");
	strcpy(buf, entry);
	n = split_fields(buf, f);
	if (n != 2 && n != 4)
		return entry_error(errbuf, errlen, entry, "expected PROTOCOL:SRCPORT:"
				   "DSTPORT:DIRECTION or PROTOCOL:DIRECTION");
	memset(e, 0, sizeof(*e));
	if (parse_proto(f[0], &e->proto))
		return entry_error(errbuf, errlen, entry, "protocol \"%s\": expected "
				   "tcp, udp, icmp, icmpv6, sctp, any or a number "
				   "0-255", f[0]);
	if (n == 4 && parse_port(f[1], &e->sport))
		return entry_error(errbuf, errlen, entry, "source port \"%s\": "
				   "expected 0-65535 or any", f[1]);
	if (n == 4 && parse_port(f[2], &e->dport))
		return entry_error(errbuf, errlen, entry, "destination port \"%s\": "
				   "expected 0-65535 or any", f[2]);
	if (parse_direction(f[n - 1], &e->dirs))
		return entry_error(errbuf, errlen, entry, "direction \"%s\": expected "
				   "inbound, outbound or both", f[n - 1]);
	/* `any` protocol with a port means "any protocol that has ports" */
	if ((e->sport || e->dport) && e->proto && !proto_has_port_fields(e->proto))
		return entry_error(errbuf, errlen, entry, "protocol %s has no ports; "
				   "write 0 or any for them", f[0]);
	return 0;
}

/* Merge e into out[0..n): the same protocol and ports join directions. */
static bool merge_duplicate(struct ixdp_boot_exempt *out, size_t n,
			    const struct ixdp_boot_exempt *e)
{
	for (size_t i = 0; i < n; i++) {
		if (out[i].proto == e->proto && out[i].sport == e->sport &&
		    out[i].dport == e->dport) {
			out[i].dirs |= e->dirs;
			return true;
		}
	}
	return false;
}

static const char separators[] = " \t\r\n,";

/* "none" alone clears; it cannot be mixed with entries. */
static int is_none_list(const char *text, bool *none, char *errbuf, size_t errlen)
{
	size_t entries = 0, nones = 0;

	for (const char *p = text + strspn(text, separators); *p;
	     p += strspn(p, separators)) {
		size_t len = strcspn(p, separators);

		entries++;
		if (len == 4 && !strncasecmp(p, "none", 4))
			nones++;
		p += len;
	}
	*none = nones > 0;
	if (entries == 0) {
		snprintf(errbuf, errlen, "no boot exemptions given; write \"none\" "
			 "to clear the list");
		return -1;
	}
	if (nones && entries > 1) {
		snprintf(errbuf, errlen, "\"none\" clears the boot exemptions and "
			 "cannot be combined with entries");
		return -1;
	}
	return 0;
}

int bootexempt_parse(const char *text, struct ixdp_boot_exempt *out,
		     size_t max, char *errbuf, size_t errlen)
{
	size_t n = 0;
	bool none;

	if (max > IXDP_MAX_BOOT_EXEMPT)
		max = IXDP_MAX_BOOT_EXEMPT;
	if (is_none_list(text, &none, errbuf, errlen))
		return -1;
	if (none)
		return 0;
	for (const char *p = text + strspn(text, separators); *p;
	     p += strspn(p, separators)) {
		size_t len = strcspn(p, separators);
		char entry[128];
		struct ixdp_boot_exempt e;

		snprintf(entry, sizeof(entry), "%.*s", (int)len, p);
		p += len;
		if (len >= sizeof(entry))
			return entry_error(errbuf, errlen, entry, "too long");
		if (parse_entry(entry, &e, errbuf, errlen))
			return -1;
		if (merge_duplicate(out, n, &e))
			continue;
		if (n == max) {
			snprintf(errbuf, errlen, "limit exceeded: too many boot "
				 "exemptions (IXDP_MAX_BOOT_EXEMPT): more than %zu entries; the "
				 "limit is %zu: remove some, or use one entry with "
				 "port 0 (any) for several", max, max);
			return -1;
		}
		out[n++] = e;
	}
	return (int)n;
}

static const char *direction_name(uint8_t dirs)
{
	switch (dirs & (IXDP_EXEMPT_IN | IXDP_EXEMPT_OUT)) {
	case IXDP_EXEMPT_IN:
		return "inbound";
	case IXDP_EXEMPT_OUT:
		return "outbound";
	case IXDP_EXEMPT_IN | IXDP_EXEMPT_OUT:
		return "both";
	}
	return "none";
}

void bootexempt_format(const struct ixdp_boot_exempt *e, char *buf, size_t len)
{
	char proto[8];

	snprintf(proto, sizeof(proto), "%u", e->proto);
	for (size_t i = 0; i < NPROTO_NAMES; i++)
		if (proto_names[i].proto == e->proto)
			snprintf(proto, sizeof(proto), "%s", proto_names[i].name);
	snprintf(buf, len, "%s:%u:%u:%s", proto, e->sport, e->dport,
		 direction_name(e->dirs));
}

/* ---- the config file ------------------------------------------------------------- */

static int parse_level(const char *key, const char *v, int max, int *out,
		       char *why, size_t len)
{
	unsigned long n;

	if (parse_number(v, (unsigned long)max, &n)) {
		snprintf(why, len, "%s \"%s\": expected a number 0-%d", key, v,
			 max);
		return -1;
	}
	*out = (int)n;
	return 0;
}

static int set_bootmode(struct bootconf *c, const char *v, char *why, size_t len)
{
	if (bootmode_parse(v, &c->bootmode)) {
		snprintf(why, len, "bootmode \"%s\": expected permit, block or "
			 "stateful", v);
		return -1;
	}
	c->bootmode_set = true;
	return 0;
}

static int set_exemptions(struct bootconf *c, const char *v, char *why, size_t len)
{
	int n = bootexempt_parse(v, c->exempt, IXDP_MAX_BOOT_EXEMPT, why, len);

	if (n < 0)
		return -1;
	c->nexempt = (size_t)n;
	return 0;
}

static int set_ipsecexempt(struct bootconf *c, const char *v, char *why, size_t len)
{
	return parse_level("ipsecexempt", v, 3, &c->ipsecexempt, why, len);
}

static int set_ikelogging(struct bootconf *c, const char *v, char *why, size_t len)
{
	return parse_level("ikelogging", v, 2, &c->ikelogging, why, len);
}

static int set_strongcrlcheck(struct bootconf *c, const char *v, char *why,
			      size_t len)
{
	return parse_level("strongcrlcheck", v, 2, &c->strongcrlcheck, why,
			   len);
}

static int set_applied_once(struct bootconf *c, const char *v, char *why,
			    size_t len)
{
	if (!strcasecmp(v, "yes"))
		c->policy_applied_once = c->applied_once_in_config = true;
	else if (!strcasecmp(v, "no"))
		c->policy_applied_once = c->applied_once_in_config = false;
	else {
		snprintf(why, len, "policy-applied-once \"%s\": expected yes or "
			 "no", v);
		return -1;
	}
	return 0;
}

int bootconf_check_url(const char *url, char *why, size_t len)
{
	size_t n = strlen(url);

	if (!strncasecmp(url, "http://", 7)) {
		snprintf(why, len, "policysource \"%.100s\": http:// is refused, "
			 "only https:// (the document must come from the server "
			 "its certificate names)", url);
		return -1;
	}
	if (strncasecmp(url, "https://", 8) || n <= 8) {
		snprintf(why, len, "policysource \"%.100s\": expected "
			 "https://HOST/PATH or none", url);
		return -1;
	}
	if (n >= BOOTCONF_URL_MAX) {
		snprintf(why, len, "policysource: longer than %d characters",
			 BOOTCONF_URL_MAX - 1);
		return -1;
	}
	if (memchr(url + 8, '@', strcspn(url + 8, "/?"))) {
		snprintf(why, len, "policysource: credentials in the URL are "
			 "refused (they would be stored and shown)");
		return -1;
	}
	for (const char *p = url; *p; p++)
		if (*p <= ' ' || *p > '~' || *p == '#') {
			snprintf(why, len, "policysource \"%.100s\": a space, a "
				 "control character, '#' or a byte above ASCII",
				 url);
			return -1;
		}
	return 0;
}

static int set_source(struct bootconf *c, const char *v, char *why, size_t len)
{
	if (!strcasecmp(v, "none")) {
		c->policysource[0] = '\0';
		return 0;
	}
	if (bootconf_check_url(v, why, len))
		return -1;
	snprintf(c->policysource, sizeof(c->policysource), "%s", v);
	return 0;
}

/* An absolute path to a file, or none. */
static int set_path(const char *key, char *dst, size_t dstlen, const char *v,
		    char *why, size_t len)
{
	if (!strcasecmp(v, "none")) {
		dst[0] = '\0';
		return 0;
	}
	if (v[0] != '/' || strlen(v) >= dstlen || strpbrk(v, " \t")) {
		snprintf(why, len, "%s \"%.100s\": expected an absolute path "
			 "without spaces, shorter than %zu, or none", key, v,
			 dstlen);
		return -1;
	}
	snprintf(dst, dstlen, "%s", v);
	return 0;
}

static int set_source_key(struct bootconf *c, const char *v, char *why,
			  size_t len)
{
	return set_path("policysourcekey", c->policysourcekey,
			sizeof(c->policysourcekey), v, why, len);
}

static int set_source_ca(struct bootconf *c, const char *v, char *why,
			 size_t len)
{
	return set_path("policysourceca", c->policysourceca,
			sizeof(c->policysourceca), v, why, len);
}

/* ---- loadinterfaces ------------------------------------------------------ */

/* A name the kernel would take for an interface (dev_valid_name): 1..15
 * bytes, not "." or "..", no '/', ':' or white space; "all" and "none"
 * are this key's words. */
static int check_ifname(const char *n, char *why, size_t len)
{
	size_t l = strlen(n);

	if (!l || l >= BOOTCONF_IFNAME_MAX || !strcmp(n, ".") || !strcmp(n, "..")) {
		snprintf(why, len, "loadinterfaces: \"%.40s\" is no interface name "
			 "(1 to %d characters, not . or ..)", n, BOOTCONF_IFNAME_MAX - 1);
		return -1;
	}
	for (const char *p = n; *p; p++)
		if (*p == '/' || *p == ':' || isspace((unsigned char)*p) ||
		    (unsigned char)*p < ' ' || (unsigned char)*p > '~') {
			snprintf(why, len, "loadinterfaces: \"%.40s\" is no interface "
				 "name (no '/', ':', space or control character)", n);
			return -1;
		}
	if (!strcasecmp(n, "all") || !strcasecmp(n, "none")) {
		snprintf(why, len, "loadinterfaces: %s stands alone, not in a list", n);
		return -1;
	}
	return 0;
}

/* none | all | IFACE[,IFACE...]; the value in force changes only when all
 * of it is good. */
static int set_loadifs(struct bootconf *c, const char *v, char *why, size_t len)
{
	char names[BOOTCONF_LOADIF_MAX][BOOTCONF_IFNAME_MAX];
	char copy[BOOTCONF_LOADIF_MAX * BOOTCONF_IFNAME_MAX + 64], *tok, *save;
	size_t n = 0;

	if (!strcasecmp(v, "none") || !strcasecmp(v, "all")) {
		c->loadifs = !strcasecmp(v, "all") ? BOOTCONF_LOAD_ALL : BOOTCONF_LOAD_NONE;
		c->nloadif = 0;
		return 0;
	}
	if (!*v || strlen(v) >= sizeof(copy)) {
		snprintf(why, len, "loadinterfaces: expected none, all or "
			 "IFACE[,IFACE...] (at most %d)", BOOTCONF_LOADIF_MAX);
		return -1;
	}
	snprintf(copy, sizeof(copy), "%s", v);
	if (copy[0] == ',' || copy[strlen(copy) - 1] == ',' || strstr(copy, ",,")) {
		snprintf(why, len, "loadinterfaces \"%.100s\": an empty name in the "
			 "list", v);
		return -1;
	}
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (check_ifname(tok, why, len))
			return -1;
		for (size_t i = 0; i < n; i++)
			if (!strcmp(names[i], tok)) {
				snprintf(why, len, "loadinterfaces: %s is named twice", tok);
				return -1;
			}
		if (n == BOOTCONF_LOADIF_MAX) {
			snprintf(why, len, "loadinterfaces: more than %d interfaces "
				 "(all covers every one)", BOOTCONF_LOADIF_MAX);
			return -1;
		}
		snprintf(names[n++], BOOTCONF_IFNAME_MAX, "%s", tok);
	}
	memcpy(c->loadif, names, sizeof(names));
	c->nloadif = n;
	c->loadifs = BOOTCONF_LOAD_LIST;
	return 0;
}

void bootconf_loadifs_format(const struct bootconf *c, char *buf, size_t len)
{
	size_t used = 0;

	snprintf(buf, len, "%s", c->loadifs == BOOTCONF_LOAD_ALL ? "all" : "none");
	if (c->loadifs != BOOTCONF_LOAD_LIST)
		return;
	buf[0] = '\0';
	for (size_t i = 0; i < c->nloadif && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? "," : "",
					 c->loadif[i]);
}

bool bootconf_loadifs_names(const struct bootconf *c, const char *ifname)
{
	for (size_t i = 0; c->loadifs == BOOTCONF_LOAD_LIST && i < c->nloadif; i++)
		if (!strcmp(c->loadif[i], ifname))
			return true;
	return false;
}

static const struct config_key {
	const char *name;
	int (*set)(struct bootconf *c, const char *v, char *why, size_t len);
} config_keys[] = {
	{ "bootmode", set_bootmode },
	{ "bootexemptions", set_exemptions },
	{ "ipsecexempt", set_ipsecexempt },
	{ "ikelogging", set_ikelogging },
	{ "strongcrlcheck", set_strongcrlcheck },
	{ "policy-applied-once", set_applied_once },
	{ "policysource", set_source },
	{ "policysourcekey", set_source_key },
	{ "policysourceca", set_source_ca },
	{ "loadinterfaces", set_loadifs },
};

#define NCONFIG_KEYS (sizeof(config_keys) / sizeof(config_keys[0]))

static char *trim_space(char *s)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

static const struct config_key *find_key(const char *name)
{
	for (size_t i = 0; i < NCONFIG_KEYS; i++)
		if (!strcmp(config_keys[i].name, name))
			return &config_keys[i];
	return NULL;
}

int bootconf_set_key(struct bootconf *c, const char *key, const char *value,
		     char *why, size_t len)
{
	const struct config_key *k = find_key(key);

	if (!k) {
		snprintf(why, len, "unknown key \"%s\"", key);
		return -1;
	}
	return k->set(c, value, why, len);
}

/*
 * One line: blank, `# comment`, or `key = value`.  seen_at[] holds the line
 * each key was first set on: a key given twice is an error, since only one
 * of the two values could be meant.
 */
static int parse_config_line(struct bootconf *c, char *line, unsigned lineno,
			     unsigned seen_at[NCONFIG_KEYS], char *why, size_t len)
{
	char *eq, *key, *value;
	const struct config_key *k;

	line[strcspn(line, "#")] = '\0';
	line = trim_space(line);
	if (!*line)
		return 0;
	eq = strchr(line, '=');
	if (!eq) {
		snprintf(why, len, "expected `key = value`, got \"%s\"", line);
		return -1;
	}
	*eq = '\0';
	key = trim_space(line);
	value = trim_space(eq + 1);
	k = find_key(key);
	if (!k) {
		snprintf(why, len, "unknown key \"%s\" (expected bootmode, "
			 "bootexemptions, ipsecexempt, ikelogging, "
			 "strongcrlcheck, policysource, policysourcekey, "
			 "policysourceca, loadinterfaces or policy-applied-once)", key);
		return -1;
	}
	if (seen_at[k - config_keys]) {
		snprintf(why, len, "%s is already set on line %u", key,
			 seen_at[k - config_keys]);
		return -1;
	}
	seen_at[k - config_keys] = lineno;
	return k->set(c, value, why, len);
}

static void config_path(const char *confdir, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", confdir, CONFIG_NAME);
}

static int parse_config(FILE *fp, const char *path, struct bootconf *c,
			char *errbuf, size_t errlen)
{
	unsigned seen_at[NCONFIG_KEYS] = {0}, lineno = 0;
	char *line = NULL, why[512];
	size_t cap = 0;
	int rc = 0;

	while (rc == 0 && getline(&line, &cap, fp) > 0) {
		lineno++;
		rc = parse_config_line(c, line, lineno, seen_at, why, sizeof(why));
		if (rc)
			snprintf(errbuf, errlen, "%s:%u: %s", path, lineno, why);
	}
	free(line);
	if (rc == 0 && ferror(fp)) {
		snprintf(errbuf, errlen, "%s: read error", path);
		rc = -1;
	}
	if (rc == 0 && c->policysource[0] && !c->policysourcekey[0]) {
		snprintf(errbuf, errlen, "%s: policysource is set without "
			 "policysourcekey (its signer's public key)", path);
		rc = -1;
	}
	return rc;
}

int bootconf_load(const char *confdir, struct bootconf *c, char *errbuf,
		  size_t errlen)
{
	struct bootconf tmp;
	char path[PATH_MAX];
	FILE *fp;
	int rc;

	bootconf_defaults(c);
	config_path(confdir, path, sizeof(path));
	fp = fopen(path, "re");
	if (!fp) {
		if (errno == ENOENT)
			return 0;
		snprintf(errbuf, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	bootconf_defaults(&tmp);
	rc = parse_config(fp, path, &tmp, errbuf, errlen);
	fclose(fp);
	if (rc == 0)
		*c = tmp;
	return rc;
}

/* Refuse to write what bootconf_load would reject. */
static int check_config(const struct bootconf *c, char *errbuf, size_t errlen)
{
	const char *bad = NULL;

	if (c->bootmode_set && (unsigned)c->bootmode > IXDP_BOOT_STATEFUL)
		bad = "bootmode";
	else if (c->nexempt > IXDP_MAX_BOOT_EXEMPT)
		bad = "bootexemptions (too many)";
	else if (c->ipsecexempt < 0 || c->ipsecexempt > 3)
		bad = "ipsecexempt";
	else if (c->ikelogging < 0 || c->ikelogging > 2)
		bad = "ikelogging";
	else if (c->strongcrlcheck < 0 || c->strongcrlcheck > 2)
		bad = "strongcrlcheck";
	if (!bad && c->policysource[0] && !c->policysourcekey[0]) {
		snprintf(errbuf, errlen, "not saving the configuration: a "
			 "policysource needs a policysourcekey (set the key "
			 "first; remove the source before the key)");
		return -1;
	}
	if (bad)
		snprintf(errbuf, errlen, "not saving the configuration: %s is "
			 "out of range", bad);
	return bad ? -1 : 0;
}

static void write_exemptions(FILE *fp, const struct bootconf *c)
{
	char entry[64];

	fputs("bootexemptions =", fp);
	if (c->nexempt == 0)
		fputs(" none", fp);
	for (size_t i = 0; i < c->nexempt; i++) {
		bootexempt_format(&c->exempt[i], entry, sizeof(entry));
		fprintf(fp, " %s", entry);
	}
	fputc('\n', fp);
}

static void write_config(FILE *fp, const struct bootconf *c)
{
	fputs("# ipsec-xdp configuration, kept by `ipsec-xdp set config`.\n", fp);
	if (c->bootmode_set)
		fprintf(fp, "bootmode = %s\n", bootmode_name(c->bootmode));
	else
		fputs("# bootmode not set: permit until a policy has been "
		      "applied once, then stateful\n", fp);
	write_exemptions(fp, c);
	fprintf(fp, "ipsecexempt = %d\n", c->ipsecexempt);
	fprintf(fp, "ikelogging = %d\n", c->ikelogging);
	fprintf(fp, "strongcrlcheck = %d\n", c->strongcrlcheck);
	/* Kept in STATEDIR now (policy_state.h); the old key stays only
	 * until state_load could carry it over. */
	if (c->applied_once_in_config)
		fputs("policy-applied-once = yes\n", fp);
	if (c->policysourcekey[0])
		fprintf(fp, "policysourcekey = %s\n", c->policysourcekey);
	if (c->policysourceca[0])
		fprintf(fp, "policysourceca = %s\n", c->policysourceca);
	if (c->policysource[0])
		fprintf(fp, "policysource = %s\n", c->policysource);
	if (c->loadifs != BOOTCONF_LOAD_NONE) {
		char ifs[BOOTCONF_LOADIF_MAX * BOOTCONF_IFNAME_MAX];

		bootconf_loadifs_format(c, ifs, sizeof(ifs));
		fprintf(fp, "loadinterfaces = %s\n", ifs);
	}
}

/* The file's text in a malloc'd buffer. */
static int render_config(const struct bootconf *c, char **text, size_t *len,
			 char *errbuf, size_t errlen)
{
	FILE *fp = open_memstream(text, len);

	if (!fp) {
		snprintf(errbuf, errlen, "out of memory");
		return -1;
	}
	write_config(fp, c);
	if (fclose(fp)) {
		free(*text);
		*text = NULL;
		snprintf(errbuf, errlen, "out of memory");
		return -1;
	}
	return 0;
}

int bootconf_save(const char *confdir, const struct bootconf *c,
		  char *errbuf, size_t errlen)
{
	char path[PATH_MAX], *text = NULL;
	size_t len = 0;
	int ret;

	if (check_config(c, errbuf, errlen) || make_dirs(confdir, errbuf, errlen))
		return -1;
	config_path(confdir, path, sizeof(path));
	if (render_config(c, &text, &len, errbuf, errlen))
		return -1;
	ret = write_file_atomic(path, text, len, 0644, errbuf, errlen);
	free(text);
	return ret;
}
