// SPDX-License-Identifier: GPL-2.0-only
/*
 * compile_hostinfo.c - the host's current addresses, for `me`, `dns`, `dhcp` and
 * `gateway` in filters and for the broadcast exemptions (compiler.h):
 *
 *   me       every address of every interface (netlink), loopback left out
 *   gateway  the next hops of the default routes (netlink)
 *   dns      the nameservers of /etc/resolv.conf ($IPSEC_XDP_RESOLV_CONF),
 *            or systemd-resolved's when that has only a local stub
 *   dhcp     the servers of the current DHCP leases (dhclient, dhclient run
 *            by NetworkManager, systemd-networkd)
 *   wins     the WINS (NetBIOS name) servers: those the current dhclient
 *            leases name (DHCP option 44) and Samba's `wins server`
 *            ($IPSEC_XDP_SMB_CONF, or /etc/samba/smb.conf)
 *
 * Every file is read whole up to HOSTINFO_FILE_MAX: a line that does not
 * parse is skipped (as the resolver and the DHCP clients themselves do),
 * a file over the bound is an error, never read in part.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <glob.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <linux/rtnetlink.h>
#include <netlink/netlink.h>
#include <netlink/cache.h>
#include <netlink/route/addr.h>
#include <netlink/route/route.h>
#include <netlink/route/nexthop.h>

#include "compile/compile_hostinfo.h"

/* ---- addresses ------------------------------------------------------------ */

int ip_addr_parse(const char *s, struct ip_addr *out)
{
	char buf[INET6_ADDRSTRLEN + 1];
	size_t len = strcspn(s, "%"); /* a zone index names no address */

	if (len >= sizeof(buf))
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, buf, out->bytes) == 1) {
		out->family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, buf, out->bytes) == 1) {
		out->family = AF_INET6;
		return 0;
	}
	return -1;
}

bool ip_addr_is_loopback(const struct ip_addr *a)
{
	static const uint8_t v6_loopback[16] = { [15] = 1 };

	if (a->family == AF_INET)
		return a->bytes[0] == 127;
	return a->family == AF_INET6 && !memcmp(a->bytes, v6_loopback, 16);
}

static bool ip_addr_equal(const struct ip_addr *a, const struct ip_addr *b)
{
	size_t len = a->family == AF_INET ? 4 : 16;

	return a->family == b->family && !memcmp(a->bytes, b->bytes, len);
}

int ip_addr_list_add(struct ip_addr **v, size_t *n, const struct ip_addr *a)
{
	struct ip_addr *nv;

	for (size_t i = 0; i < *n; i++)
		if (ip_addr_equal(&(*v)[i], a))
			return 0;
	nv = realloc(*v, (*n + 1) * sizeof(*nv));
	if (!nv)
		return -1;
	*v = nv;
	nv[(*n)++] = *a;
	return 0;
}

static int host_prefix_add(struct host_info *h, const struct ip_addr *a,
			   uint8_t plen)
{
	struct host_prefix *v;

	for (size_t i = 0; i < h->nme; i++)
		if (ip_addr_equal(&h->me[i].addr, a))
			return 0;
	v = realloc(h->me, (h->nme + 1) * sizeof(*v));
	if (!v)
		return -1;
	h->me = v;
	v[h->nme].addr = *a;
	v[h->nme].plen = plen;
	h->nme++;
	return 0;
}

void host_info_free(struct host_info *h)
{
	free(h->me);
	free(h->dns);
	free(h->dhcp);
	free(h->gateway);
	free(h->wins);
	memset(h, 0, sizeof(*h));
}

/* ---- text files ---------------------------------------------------------------- */

static char *trim(char *s)
{
	char *end;

	while (*s == ' ' || *s == '\t')
		s++;
	end = s + strlen(s);
	while (end > s && strchr(" \t\r\n", end[-1]))
		*--end = '\0';
	return s;
}

/* Open a file that may be absent: 1 with *fp set, 0 if it does not exist,
 * -1 if it exists but cannot be opened. */
static int open_optional(const char *path, FILE **fp, char *errbuf, size_t errlen)
{
	*fp = fopen(path, "re");
	if (*fp)
		return 1;
	if (errno == ENOENT || errno == ENOTDIR)
		return 0;
	snprintf(errbuf, errlen, "%s: %s", path, strerror(errno));
	return -1;
}

static int oom(char *errbuf, size_t errlen)
{
	snprintf(errbuf, errlen, "out of memory reading the host's addresses");
	return -1;
}

/* Called with each line of a file (NUL-terminated, newline kept); 0, or
 * -1 when out of memory. */
typedef int (*line_fn)(char *line, void *arg);

/*
 * Feed every line of path to fn.  0 (also when path does not exist), or -1
 * with errbuf naming the file: it cannot be read, it holds more than
 * HOSTINFO_FILE_MAX bytes (nothing of it is used then: a file that large
 * is no resolv.conf or lease file), or fn ran out of memory.
 */
static int for_each_line(const char *path, line_fn fn, void *arg,
			 char *errbuf, size_t errlen)
{
	char *line = NULL;
	size_t cap = 0, total = 0;
	ssize_t len;
	FILE *fp;
	int rc = open_optional(path, &fp, errbuf, errlen);

	if (rc <= 0)
		return rc;
	rc = 0;
	while (rc == 0 && (len = getline(&line, &cap, fp)) > 0) {
		total += (size_t)len;
		if (total > HOSTINFO_FILE_MAX) {
			snprintf(errbuf, errlen, "%s: larger than %u bytes, not "
				 "read", path, HOSTINFO_FILE_MAX);
			rc = -1;
		} else if (fn(line, arg)) {
			rc = oom(errbuf, errlen);
		}
	}
	if (rc == 0 && ferror(fp)) {
		snprintf(errbuf, errlen, "%s: read error", path);
		rc = -1;
	}
	free(line);
	fclose(fp);
	return rc;
}

static int resolv_line(char *line, void *arg)
{
	struct host_info *h = arg;
	char *save;
	char *key = strtok_r(line, " \t\r\n", &save);
	char *val = strtok_r(NULL, " \t\r\n", &save);
	struct ip_addr a;

	if (!key || strcmp(key, "nameserver") || !val ||
	    ip_addr_parse(val, &a) || ip_addr_is_loopback(&a))
		return 0;
	return ip_addr_list_add(&h->dns, &h->ndns, &a);
}

int hostinfo_read_resolv_conf(const char *path, struct host_info *h,
			      char *errbuf, size_t errlen)
{
	return for_each_line(path, resolv_line, h, errbuf, errlen);
}

/* ---- dhclient leases ------------------------------------------------------------ */

/* The most WINS servers one lease is read for (DHCP gives two, usually). */
#define LEASE_WINS_MAX 8

/* One `lease { ... }` block as it is read. */
struct dhclient_lease {
	bool open;
	bool has_server;
	bool expired;
	struct ip_addr server;
	struct ip_addr wins[LEASE_WINS_MAX];
	size_t nwins;
};

/*
 * The value of an `expire` statement, after the keyword: "never;",
 * "epoch 1704976496;" or "4 2024/01/11 12:34:56;" (UTC, weekday first).
 * A format not recognised counts as unexpired: better a stale server in a
 * filter than a missing one.
 */
static bool lease_expired(const char *v, time_t now)
{
	struct tm tm = {0};
	long long epoch;
	int wday;

	if (!strncmp(v, "never", 5))
		return false;
	if (sscanf(v, "epoch %lld", &epoch) == 1)
		return epoch < (long long)now;
	if (sscanf(v, "%d %d/%d/%d %d:%d:%d", &wday, &tm.tm_year, &tm.tm_mon,
		   &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 7)
		return false;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return timegm(&tm) < now;
}

static bool starts_with_word(const char *s, const char *word)
{
	size_t n = strlen(word);

	return !strncmp(s, word, n) && (s[n] == ' ' || s[n] == '\t' ||
					s[n] == '{' || s[n] == '\0');
}

/* `option netbios-name-servers A, B;` after the option's name: every
 * address that parses, up to LEASE_WINS_MAX. */
static void lease_wins(struct dhclient_lease *cur, char *v)
{
	char *save = NULL;

	v[strcspn(v, ";")] = '\0';
	for (char *tok = strtok_r(v, ", \t", &save); tok;
	     tok = strtok_r(NULL, ", \t", &save)) {
		struct ip_addr a;

		if (cur->nwins < LEASE_WINS_MAX && ip_addr_parse(tok, &a) == 0)
			cur->wins[cur->nwins++] = a;
	}
}

/* Feed one trimmed line; a closed lease with a live server becomes *best
 * (the file is in time order, so the last one is the newest). */
static void dhclient_lease_line(struct dhclient_lease *cur, char *s, time_t now,
				struct dhclient_lease *best)
{
	static const char server_opt[] = "option dhcp-server-identifier ";
	static const char wins_opt[] = "option netbios-name-servers ";

	if (starts_with_word(s, "lease")) {
		memset(cur, 0, sizeof(*cur));
		cur->open = true;
	} else if (!cur->open) {
		return;
	} else if (!strncmp(s, server_opt, sizeof(server_opt) - 1)) {
		char *v = trim(s + sizeof(server_opt) - 1);

		v[strcspn(v, "; \t")] = '\0';
		cur->has_server = ip_addr_parse(v, &cur->server) == 0;
	} else if (!strncmp(s, wins_opt, sizeof(wins_opt) - 1)) {
		lease_wins(cur, s + sizeof(wins_opt) - 1);
	} else if (starts_with_word(s, "expire")) {
		cur->expired = lease_expired(trim(s + strlen("expire")), now);
	} else if (s[0] == '}') {
		if (cur->has_server && !cur->expired)
			*best = *cur;
		cur->open = false;
	}
}

struct dhclient_file {
	struct dhclient_lease cur, best;
	time_t now;
};

static int dhclient_line(char *line, void *arg)
{
	struct dhclient_file *f = arg;

	dhclient_lease_line(&f->cur, trim(line), f->now, &f->best);
	return 0;
}

int hostinfo_read_dhclient_lease(const char *path, time_t now,
				 struct host_info *h, char *errbuf,
				 size_t errlen)
{
	struct dhclient_file f = { .now = now };

	if (for_each_line(path, dhclient_line, &f, errbuf, errlen))
		return -1;
	if (!f.best.has_server)
		return 0;
	if (ip_addr_list_add(&h->dhcp, &h->ndhcp, &f.best.server))
		return oom(errbuf, errlen);
	for (size_t i = 0; i < f.best.nwins; i++)
		if (ip_addr_list_add(&h->wins, &h->nwins, &f.best.wins[i]))
			return oom(errbuf, errlen);
	return 0;
}

int hostinfo_read_dhclient_leases(const char *pattern, time_t now,
				  struct host_info *h, char *errbuf,
				  size_t errlen)
{
	glob_t g;
	int rc = glob(pattern, 0, NULL, &g);

	if (rc == GLOB_NOSPACE)
		return oom(errbuf, errlen);
	if (rc != 0)
		return 0; /* no match, or no such directory */
	for (size_t i = 0; rc == 0 && i < g.gl_pathc; i++)
		rc = hostinfo_read_dhclient_lease(g.gl_pathv[i], now, h, errbuf,
						  errlen);
	globfree(&g);
	return rc;
}

/* ---- Samba's smb.conf ------------------------------------------------------------- */

struct smb_conf {
	struct host_info *h;
	bool in_global;   /* [global], or before any section */
	bool continued;   /* the last `wins server` line ended in a backslash */
};

/* A parameter name as Samba compares it: case and blanks do not count. */
static bool smb_key_is(const char *key, size_t len, const char *want)
{
	size_t j = 0;

	for (size_t i = 0; i < len; i++) {
		if (key[i] == ' ' || key[i] == '\t')
			continue;
		if (!want[j] || tolower((unsigned char)key[i]) != want[j])
			return false;
		j++;
	}
	return want[j] == '\0';
}

/* The entries of a `wins server` value: "A", "tag:A" (several servers
 * per tag), blank or comma separated.  A name (not an address) is
 * skipped: the dataplane matches addresses, and resolving a name would
 * make the policy depend on a lookup. */
static int smb_wins_values(struct smb_conf *c, char *v)
{
	char *save = NULL;

	for (char *tok = strtok_r(v, ", \t", &save); tok;
	     tok = strtok_r(NULL, ", \t", &save)) {
		char *colon = strchr(tok, ':');
		struct ip_addr a;

		/* "tag:10.0.0.1", "tag:2001:db8::1": a tag has no colon */
		if (ip_addr_parse(tok, &a) && (!colon ||
					       ip_addr_parse(colon + 1, &a)))
			continue;
		if (ip_addr_list_add(&c->h->wins, &c->h->nwins, &a))
			return -1;
	}
	return 0;
}

static int smb_line(char *line, void *arg)
{
	struct smb_conf *c = arg;
	char *s = trim(line), *eq;
	size_t len = strlen(s);
	bool more = len && s[len - 1] == '\\';

	if (more)
		s[len - 1] = '\0';
	if (c->continued) {
		c->continued = more;
		return smb_wins_values(c, s);
	}
	if (s[0] == '#' || s[0] == ';' || s[0] == '\0')
		return 0;
	if (s[0] == '[') {
		c->in_global = !strncasecmp(s, "[global]", 8);
		return 0;
	}
	eq = strchr(s, '=');
	if (!c->in_global || !eq || !smb_key_is(s, (size_t)(eq - s), "winsserver"))
		return 0;
	c->continued = more;
	return smb_wins_values(c, eq + 1);
}

int hostinfo_read_smb_conf(const char *path, struct host_info *h,
			   char *errbuf, size_t errlen)
{
	struct smb_conf c = { .h = h, .in_global = true };

	return for_each_line(path, smb_line, &c, errbuf, errlen);
}

/* ---- systemd-networkd leases ---------------------------------------------------- */

static int networkd_line(char *line, void *arg)
{
	static const char key[] = "SERVER_ADDRESS=";
	struct host_info *h = arg;
	struct ip_addr a;

	if (strncmp(line, key, sizeof(key) - 1) ||
	    ip_addr_parse(trim(line + sizeof(key) - 1), &a))
		return 0;
	return ip_addr_list_add(&h->dhcp, &h->ndhcp, &a);
}

int hostinfo_read_networkd_lease(const char *path, struct host_info *h,
				 char *errbuf, size_t errlen)
{
	return for_each_line(path, networkd_line, h, errbuf, errlen);
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The regular files of dir (no dot files), sorted, as malloc'd paths. */
static int list_dir_files(const char *dir, char ***out, size_t *n,
			  char *errbuf, size_t errlen)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **v = NULL;

	*out = NULL;
	*n = 0;
	if (!d) {
		if (errno == ENOENT || errno == ENOTDIR)
			return 0;
		snprintf(errbuf, errlen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	while ((e = readdir(d))) {
		char **nv;

		if (e->d_name[0] == '.' ||
		    (e->d_type != DT_REG && e->d_type != DT_UNKNOWN))
			continue;
		nv = realloc(v, (*n + 1) * sizeof(*nv));
		if (!nv || asprintf(&nv[*n], "%s/%s", dir, e->d_name) < 0) {
			*out = nv ? nv : v;
			closedir(d);
			return oom(errbuf, errlen);
		}
		v = nv;
		(*n)++;
	}
	closedir(d);
	if (*n)
		qsort(v, *n, sizeof(*v), cmp_names);
	*out = v;
	return 0;
}

static void free_names(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

int hostinfo_read_networkd_leases(const char *dir, struct host_info *h,
				  char *errbuf, size_t errlen)
{
	char **files;
	size_t n;
	int rc = list_dir_files(dir, &files, &n, errbuf, errlen);

	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = hostinfo_read_networkd_lease(files[i], h, errbuf, errlen);
	free_names(files, n);
	return rc;
}

/* ---- netlink -------------------------------------------------------------------- */

static int nl_to_ip(struct nl_addr *na, struct ip_addr *out)
{
	int fam = nl_addr_get_family(na);
	size_t want = fam == AF_INET ? 4 : fam == AF_INET6 ? 16 : 0;

	if (!want || nl_addr_get_len(na) != want)
		return -1;
	memset(out, 0, sizeof(*out));
	out->family = (uint8_t)fam;
	memcpy(out->bytes, nl_addr_get_binary_addr(na), want);
	return 0;
}

static int read_addresses(struct nl_sock *sk, struct host_info *h,
			  char *errbuf, size_t errlen)
{
	struct nl_cache *cache;
	struct nl_object *o;
	int err = rtnl_addr_alloc_cache(sk, &cache);

	if (err < 0) {
		snprintf(errbuf, errlen, "reading the host's addresses: %s",
			 nl_geterror(err));
		return -1;
	}
	for (o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
		struct rtnl_addr *ra = (struct rtnl_addr *)o;
		struct nl_addr *local = rtnl_addr_get_local(ra);
		struct ip_addr a;

		if (!local || nl_to_ip(local, &a) || ip_addr_is_loopback(&a))
			continue;
		if (host_prefix_add(h, &a, (uint8_t)rtnl_addr_get_prefixlen(ra)))
			break;
	}
	nl_cache_free(cache);
	return o ? oom(errbuf, errlen) : 0;
}

static bool is_default_route(struct rtnl_route *r)
{
	struct nl_addr *dst = rtnl_route_get_dst(r);

	return rtnl_route_get_type(r) == RTN_UNICAST &&
	       (!dst || nl_addr_get_prefixlen(dst) == 0);
}

/* The gateways of one route's next hops (a multipath route has several). */
static int add_route_gateways(struct rtnl_route *r, struct host_info *h)
{
	int n = rtnl_route_get_nnexthops(r);

	for (int i = 0; i < n; i++) {
		struct rtnl_nexthop *nh = rtnl_route_nexthop_n(r, i);
		struct nl_addr *gw = nh ? rtnl_route_nh_get_gateway(nh) : NULL;
		struct ip_addr a;

		if (!gw || nl_to_ip(gw, &a))
			continue; /* a device route: no gateway */
		if (ip_addr_list_add(&h->gateway, &h->ngateway, &a))
			return -1;
	}
	return 0;
}

static int read_gateways(struct nl_sock *sk, struct host_info *h,
			 char *errbuf, size_t errlen)
{
	struct nl_cache *cache;
	struct nl_object *o;
	int err = rtnl_route_alloc_cache(sk, AF_UNSPEC, 0, &cache);

	if (err < 0) {
		snprintf(errbuf, errlen, "reading the host's routes: %s",
			 nl_geterror(err));
		return -1;
	}
	for (o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
		struct rtnl_route *r = (struct rtnl_route *)o;

		if (is_default_route(r) && add_route_gateways(r, h))
			break;
	}
	nl_cache_free(cache);
	return o ? oom(errbuf, errlen) : 0;
}

static int read_netlink(struct host_info *h, char *errbuf, size_t errlen)
{
	struct nl_sock *sk = nl_socket_alloc();
	int err, rc;

	if (!sk)
		return oom(errbuf, errlen);
	err = nl_connect(sk, NETLINK_ROUTE);
	if (err < 0) {
		snprintf(errbuf, errlen, "netlink: %s", nl_geterror(err));
		nl_socket_free(sk);
		return -1;
	}
	rc = read_addresses(sk, h, errbuf, errlen);
	if (rc == 0)
		rc = read_gateways(sk, h, errbuf, errlen);
	nl_socket_free(sk);
	return rc;
}

/* ---- all together ---------------------------------------------------------------- */

static int read_dns(struct host_info *h, char *errbuf, size_t errlen)
{
	const char *own = getenv("IPSEC_XDP_RESOLV_CONF");

	if (own && *own)	/* the one source, for tests and other roots */
		return hostinfo_read_resolv_conf(own, h, errbuf, errlen);
	if (hostinfo_read_resolv_conf(HOSTINFO_RESOLV_CONF, h, errbuf, errlen))
		return -1;
	/* Only a local stub resolver (systemd-resolved's 127.0.0.53, say):
	 * the servers on the network are those it forwards to. */
	if (h->ndns == 0)
		return hostinfo_read_resolv_conf(HOSTINFO_RESOLVED_CONF, h,
						 errbuf, errlen);
	return 0;
}

static int read_dhcp(struct host_info *h, char *errbuf, size_t errlen)
{
	time_t now = time(NULL);

	if (hostinfo_read_dhclient_leases(HOSTINFO_DHCLIENT_LEASES, now, h,
					  errbuf, errlen) ||
	    hostinfo_read_dhclient_leases(HOSTINFO_DHCLIENT_LEASES_ALT, now, h,
					  errbuf, errlen) ||
	    hostinfo_read_dhclient_leases(HOSTINFO_NM_DHCLIENT_LEASES, now, h,
					  errbuf, errlen))
		return -1;
	return hostinfo_read_networkd_leases(HOSTINFO_NETWORKD_LEASES, h,
					     errbuf, errlen);
}

/* The WINS servers of the leases were read with them (read_dhcp). */
static const char *smb_conf_path(void)
{
	const char *own = getenv("IPSEC_XDP_SMB_CONF");

	return own && *own ? own : HOSTINFO_SMB_CONF;
}

int host_info_read(struct host_info *h, char *errbuf, size_t errlen)
{
	memset(h, 0, sizeof(*h));
	if (errlen)
		errbuf[0] = '\0';
	if (read_netlink(h, errbuf, errlen) || read_dns(h, errbuf, errlen) ||
	    read_dhcp(h, errbuf, errlen) ||
	    hostinfo_read_smb_conf(smb_conf_path(), h, errbuf, errlen)) {
		host_info_free(h);
		return -1;
	}
	return 0;
}

/* ---- what changed ------------------------------------------------------------------ */

static bool prefix_listed(const struct host_prefix *v, size_t n,
			  const struct host_prefix *p)
{
	for (size_t i = 0; i < n; i++)
		if (ip_addr_equal(&v[i].addr, &p->addr) && v[i].plen == p->plen)
			return true;
	return false;
}

static bool addr_listed(const struct ip_addr *v, size_t n,
			const struct ip_addr *a)
{
	for (size_t i = 0; i < n; i++)
		if (ip_addr_equal(&v[i], a))
			return true;
	return false;
}

static bool same_addrs(const struct ip_addr *a, size_t na,
		       const struct ip_addr *b, size_t nb)
{
	for (size_t i = 0; i < na; i++)
		if (!addr_listed(b, nb, &a[i]))
			return false;
	for (size_t i = 0; i < nb; i++)
		if (!addr_listed(a, na, &b[i]))
			return false;
	return true;
}

bool host_info_equal(const struct host_info *a, const struct host_info *b)
{
	for (size_t i = 0; i < a->nme; i++)
		if (!prefix_listed(b->me, b->nme, &a->me[i]))
			return false;
	for (size_t i = 0; i < b->nme; i++)
		if (!prefix_listed(a->me, a->nme, &b->me[i]))
			return false;
	return same_addrs(a->dns, a->ndns, b->dns, b->ndns) &&
	       same_addrs(a->dhcp, a->ndhcp, b->dhcp, b->ndhcp) &&
	       same_addrs(a->gateway, a->ngateway, b->gateway, b->ngateway) &&
	       same_addrs(a->wins, a->nwins, b->wins, b->nwins);
}

/* Append to buf (always NUL-terminated, "..." once it is full). */
static void append(char *buf, size_t len, const char *text)
{
	size_t used = strlen(buf), n = strlen(text);

	if (used + n + 4 <= len) {
		memcpy(buf + used, text, n + 1);
	} else if (used + 4 <= len && (used < 3 || strcmp(buf + used - 3, "..."))) {
		memcpy(buf + used, "...", 4);
	}
}

static void append_addr(char *buf, size_t len, char sign,
			const struct ip_addr *a, int plen)	/* -1: none */
{
	char ip[INET6_ADDRSTRLEN], item[INET6_ADDRSTRLEN + 16];

	if (!inet_ntop(a->family, a->bytes, ip, sizeof(ip)))
		snprintf(ip, sizeof(ip), "?");
	if (plen >= 0 && plen <= 128)
		snprintf(item, sizeof(item), " %c%s/%d", sign, ip, plen);
	else
		snprintf(item, sizeof(item), " %c%s", sign, ip);
	append(buf, len, item);
}

/* " word +A -B" for one list, nothing when it is the same. */
static void describe_addrs(char *buf, size_t len, const char *word,
			   const struct ip_addr *o, size_t no,
			   const struct ip_addr *n, size_t nn)
{
	if (same_addrs(o, no, n, nn))
		return;
	append(buf, len, *buf ? "; " : "");
	append(buf, len, word);
	for (size_t i = 0; i < nn; i++)
		if (!addr_listed(o, no, &n[i]))
			append_addr(buf, len, '+', &n[i], -1);
	for (size_t i = 0; i < no; i++)
		if (!addr_listed(n, nn, &o[i]))
			append_addr(buf, len, '-', &o[i], -1);
}

void host_info_describe_change(const struct host_info *o,
			       const struct host_info *n, char *buf,
			       size_t len)
{
	bool me_changed = false;

	if (!len)
		return;
	buf[0] = '\0';
	for (size_t i = 0; i < n->nme; i++)
		if (!prefix_listed(o->me, o->nme, &n->me[i])) {
			if (!me_changed)
				append(buf, len, "me");
			me_changed = true;
			append_addr(buf, len, '+', &n->me[i].addr, n->me[i].plen);
		}
	for (size_t i = 0; i < o->nme; i++)
		if (!prefix_listed(n->me, n->nme, &o->me[i])) {
			if (!me_changed)
				append(buf, len, "me");
			me_changed = true;
			append_addr(buf, len, '-', &o->me[i].addr, o->me[i].plen);
		}
	describe_addrs(buf, len, "dns", o->dns, o->ndns, n->dns, n->ndns);
	describe_addrs(buf, len, "dhcp", o->dhcp, o->ndhcp, n->dhcp, n->ndhcp);
	describe_addrs(buf, len, "gateway", o->gateway, o->ngateway,
		       n->gateway, n->ngateway);
	describe_addrs(buf, len, "wins", o->wins, o->nwins, n->wins, n->nwins);
	if (!*buf)
		append(buf, len, "nothing");
}

/* ---- where the sources are ----------------------------------------------------------- */

/* dir and name of path (dir "." when it has no slash). */
static void source_of(const char *path, struct hostinfo_source *src)
{
	const char *slash = strrchr(path, '/');

	if (!slash) {
		snprintf(src->dir, sizeof(src->dir), ".");
		snprintf(src->name, sizeof(src->name), "%s", path);
		return;
	}
	snprintf(src->dir, sizeof(src->dir), "%.*s",
		 slash == path ? 1 : (int)(slash - path), path);
	snprintf(src->name, sizeof(src->name), "%s", slash + 1);
}

size_t hostinfo_sources(struct hostinfo_source *out, size_t max)
{
	static const char *const lease_dirs[] = {
		"/var/lib/dhcp", "/var/lib/dhclient", "/var/lib/NetworkManager",
		HOSTINFO_NETWORKD_LEASES,
	};
	const char *own = getenv("IPSEC_XDP_RESOLV_CONF");
	const char *conf = own && *own ? own : HOSTINFO_RESOLV_CONF;
	char real[PATH_MAX];
	size_t n = 0;

	/* resolv.conf itself, and where it points when it is a link (to
	 * systemd-resolved's stub file, say, which is replaced in place) */
	if (n < max)
		source_of(conf, &out[n++]);
	if (n < max && realpath(conf, real) && strcmp(real, conf))
		source_of(real, &out[n++]);
	if (n < max && !(own && *own))
		source_of(HOSTINFO_RESOLVED_CONF, &out[n++]);
	if (n < max)
		source_of(smb_conf_path(), &out[n++]);
	for (size_t i = 0; i < sizeof(lease_dirs) / sizeof(lease_dirs[0]) &&
	     n < max; i++) {
		snprintf(out[n].dir, sizeof(out[n].dir), "%s", lease_dirs[i]);
		out[n++].name[0] = '\0';
	}
	return n;
}
