// SPDX-License-Identifier: GPL-2.0-only
/*
 * policy_value.c - the single values of a policy file: names, text,
 * booleans, bounded numbers, addresses, protocols and ports.
 *
 * Every parser takes the node it reads (for the position in the error) and
 * says what it expected when the value is wrong.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include "policy/policy_internal.h"

#define ADDR_FORMS "any, me, dns, dhcp, gateway, an IPv4 or IPv6 address, " \
	"ADDR/PREFIXLEN, IPv4ADDR/DOTTED-MASK or LOW-HIGH"

static int need_scalar(struct pctx *c, const struct pnode *n, const char *what)
{
	return pexpect(c, n, PN_SCALAR, what);
}

bool name_is_valid(const char *s)
{
	size_t len = strlen(s);

	if (len < 1 || len > POLICY_NAME_MAX)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("_.-", *s))
			return false;
	return true;
}

static int dup_into(struct pctx *c, const struct pnode *n, char **out)
{
	*out = strdup(n->text);
	return *out ? 0 : perr(c, n, "out of memory");
}

int parse_name(struct pctx *c, const struct pnode *n, const char *what, char **out)
{
	if (need_scalar(c, n, what))
		return -1;
	if (!name_is_valid(n->text))
		return perr(c, n, "'%.80s' is not a valid %s; expected 1 to %d of "
			    "A-Z a-z 0-9 _ . -", n->text, what, POLICY_NAME_MAX);
	return dup_into(c, n, out);
}

int parse_text(struct pctx *c, const struct pnode *n, const char *what, char **out)
{
	if (need_scalar(c, n, what))
		return -1;
	return dup_into(c, n, out);
}

int parse_bool(struct pctx *c, const struct pnode *n, const char *what, bool *out)
{
	static const char *const yes[] = { "yes", "true", "on" };
	static const char *const no[] = { "no", "false", "off" };

	if (need_scalar(c, n, what))
		return -1;
	for (size_t i = 0; i < 3; i++) {
		if (!strcasecmp(n->text, yes[i])) {
			*out = true;
			return 0;
		}
		if (!strcasecmp(n->text, no[i])) {
			*out = false;
			return 0;
		}
	}
	return perr(c, n, "'%.60s' is not a boolean; expected yes/no, true/false "
		    "or on/off for %s", n->text, what);
}

/* Decimal digits only, no sign, no spaces: "0x10" or "1e3" are errors. */
static bool decimal_u64(const char *s, uint64_t *out)
{
	uint64_t v = 0;

	if (!*s)
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return false;
		if (v > (UINT64_MAX - 9) / 10)
			return false;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = v;
	return true;
}

int parse_u32(struct pctx *c, const struct pnode *n, const char *what,
	      uint32_t min, uint32_t max, uint32_t *out)
{
	uint64_t v;

	if (need_scalar(c, n, what))
		return -1;
	if (!decimal_u64(n->text, &v) || v < min || v > max)
		return perr(c, n, "'%.60s' is not valid for %s; expected a whole "
			    "number from %u to %u", n->text, what, min, max);
	*out = (uint32_t)v;
	return 0;
}

/* Linux interface names: 1-15 bytes, no '/', ':' or white space. */
int parse_ifname(struct pctx *c, const struct pnode *n, char **out)
{
	const char *s;

	if (need_scalar(c, n, "an interface name"))
		return -1;
	s = n->text;
	if (!*s || strlen(s) > 15 || !strcmp(s, ".") || !strcmp(s, ".."))
		goto bad;
	for (; *s; s++)
		if (!isgraph((unsigned char)*s) || *s == '/' || *s == ':')
			goto bad;
	return dup_into(c, n, out);
bad:
	return perr(c, n, "'%.60s' is not an interface name; expected 1 to 15 "
		    "characters without '/', ':' or spaces, e.g. eth0", n->text);
}

int parse_path(struct pctx *c, const struct pnode *n, const char *what, char **out)
{
	if (need_scalar(c, n, what))
		return -1;
	if (n->text[0] != '/')
		return perr(c, n, "'%.80s' is not an absolute path; expected %s "
			    "starting with '/'", n->text, what);
	return dup_into(c, n, out);
}

/* ---- addresses ------------------------------------------------------------ */

static size_t family_len(uint8_t family)
{
	return family == AF_INET ? 4 : 16;
}

static unsigned family_bits(uint8_t family)
{
	return family == AF_INET ? 32 : 128;
}

static const char *family_name(uint8_t family)
{
	return family == AF_INET ? "IPv4" : "IPv6";
}

static bool ip_from_text(const char *s, struct ip_addr *out)
{
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, s, out->bytes) == 1) {
		out->family = AF_INET;
		return true;
	}
	if (inet_pton(AF_INET6, s, out->bytes) == 1) {
		out->family = AF_INET6;
		return true;
	}
	return false;
}

static void ip_to_text(const struct ip_addr *a, char *buf, size_t len)
{
	if (!inet_ntop(a->family, a->bytes, buf, (socklen_t)len))
		snprintf(buf, len, "?");
}

/* Copy s into buf without surrounding blanks; false if it does not fit. */
static bool trimmed_copy(const char *s, size_t n, char *buf, size_t len)
{
	while (n && isspace((unsigned char)*s)) {
		s++;
		n--;
	}
	while (n && isspace((unsigned char)s[n - 1]))
		n--;
	if (n >= len)
		return false;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return true;
}

int parse_ip(struct pctx *c, const struct pnode *n, const char *what, struct ip_addr *out)
{
	char buf[64];

	if (need_scalar(c, n, what))
		return -1;
	if (!trimmed_copy(n->text, strlen(n->text), buf, sizeof(buf)) ||
	    !ip_from_text(buf, out))
		return perr(c, n, "'%.60s' is not an IP address; expected one IPv4 "
			    "or IPv6 address for %s", n->text, what);
	return 0;
}

static void apply_prefix(struct ip_addr *a, unsigned plen)
{
	for (unsigned i = 0; i < family_len(a->family); i++) {
		unsigned bits = plen > i * 8 ? plen - i * 8 : 0;

		if (bits < 8)
			a->bytes[i] &= (uint8_t)(0xff00u >> bits);
	}
}

/* A netmask is contiguous when it is ones followed only by zeros. */
static bool mask_to_plen(const struct ip_addr *mask, unsigned *plen)
{
	uint32_t m = (uint32_t)mask->bytes[0] << 24 | (uint32_t)mask->bytes[1] << 16 |
		     (uint32_t)mask->bytes[2] << 8 | mask->bytes[3];
	uint32_t inv = ~m;

	if (inv & (inv + 1))
		return false;
	*plen = (unsigned)__builtin_popcount(m);
	return true;
}

static int parse_plen_suffix(struct pctx *c, const struct pnode *n,
			     const struct ip_addr *a, const char *suffix,
			     unsigned *plen)
{
	struct ip_addr mask;
	uint64_t v;

	if (decimal_u64(suffix, &v)) {
		if (v > family_bits(a->family) || strlen(suffix) > 3)
			return perr(c, n, "prefix length /%.10s is out of range; "
				    "expected 0 to %u for an %s address", suffix,
				    family_bits(a->family), family_name(a->family));
		*plen = (unsigned)v;
		return 0;
	}
	if (!ip_from_text(suffix, &mask) || mask.family != AF_INET)
		return perr(c, n, "'/%.60s' is neither a prefix length nor a dotted "
			    "IPv4 netmask; expected e.g. /24 or /255.255.255.0", suffix);
	if (a->family != AF_INET)
		return perr(c, n, "a dotted netmask applies to IPv4 only; write an "
			    "IPv6 prefix as ADDR/PREFIXLEN, e.g. 2001:db8::/32");
	if (!mask_to_plen(&mask, plen))
		return perr(c, n, "%.20s is not a contiguous netmask; expected ones "
			    "followed by zeros, e.g. 255.255.255.0", suffix);
	return 0;
}

static int parse_prefix(struct pctx *c, const struct pnode *n, const char *s,
			struct addr_spec *out)
{
	const char *slash = strchr(s, '/');
	char addr[64], net[INET6_ADDRSTRLEN];
	struct ip_addr masked;
	unsigned plen = 0;

	if (!trimmed_copy(s, (size_t)(slash - s), addr, sizeof(addr)) ||
	    !ip_from_text(addr, &out->addr))
		return perr(c, n, "'%.60s' is not an address; expected " ADDR_FORMS, s);
	if (parse_plen_suffix(c, n, &out->addr, slash + 1, &plen))
		return -1;
	masked = out->addr;
	apply_prefix(&masked, plen);
	if (memcmp(masked.bytes, out->addr.bytes, 16)) {
		ip_to_text(&masked, net, sizeof(net));
		return perr(c, n, "%.60s has host bits set; did you mean %s/%u?",
			    s, net, plen);
	}
	out->kind = ADDR_PREFIX;
	out->plen = (uint8_t)plen;
	return 0;
}

static int parse_range(struct pctx *c, const struct pnode *n, const char *s,
		       struct addr_spec *out)
{
	const char *dash = strchr(s, '-');
	char lo[64], hi[64];

	if (!trimmed_copy(s, (size_t)(dash - s), lo, sizeof(lo)) ||
	    !trimmed_copy(dash + 1, strlen(dash + 1), hi, sizeof(hi)) ||
	    !ip_from_text(lo, &out->addr) || !ip_from_text(hi, &out->hi))
		return perr(c, n, "'%.60s' is not an address range; expected "
			    "LOW-HIGH with two addresses of one family, e.g. "
			    "10.0.0.1-10.0.0.9", s);
	if (out->addr.family != out->hi.family)
		return perr(c, n, "range '%.80s' mixes IPv4 and IPv6; both ends of "
			    "a range must be of one family", s);
	if (memcmp(out->addr.bytes, out->hi.bytes, family_len(out->addr.family)) > 0)
		return perr(c, n, "range '%.80s' has its low end above its high end; "
			    "expected LOW-HIGH with LOW <= HIGH", s);
	out->kind = ADDR_RANGE;
	return 0;
}

static const struct {
	const char *name;
	enum addr_kind kind;
} addr_keywords[] = {
	{ "any", ADDR_ANY }, { "me", ADDR_ME }, { "dns", ADDR_DNS },
	{ "dhcp", ADDR_DHCP }, { "gateway", ADDR_GATEWAY },
	{ "wins", ADDR_WINS },
};

int parse_addr_spec(struct pctx *c, const struct pnode *n, const char *what,
		    struct addr_spec *out)
{
	const char *s;

	if (need_scalar(c, n, what))
		return -1;
	s = n->text;
	memset(out, 0, sizeof(*out));
	/* the keywords are words: an address starts with a digit or ':' */
	for (size_t i = 0; isalpha((unsigned char)*s) &&
			   i < sizeof(addr_keywords) / sizeof(addr_keywords[0]); i++) {
		if (!strcmp(s, addr_keywords[i].name)) {
			out->kind = addr_keywords[i].kind;
			return 0;
		}
	}
	if (strchr(s, '/'))
		return parse_prefix(c, n, s, out);
	if (strchr(s, '-'))
		return parse_range(c, n, s, out);
	if (strlen(s) >= INET6_ADDRSTRLEN || !ip_from_text(s, &out->addr))
		return perr(c, n, "'%.60s' is not an address; expected " ADDR_FORMS, s);
	out->kind = ADDR_PREFIX;
	out->plen = (uint8_t)family_bits(out->addr.family);
	return 0;
}

void format_addr_spec(const struct addr_spec *a, char *buf, size_t len)
{
	char lo[INET6_ADDRSTRLEN], hi[INET6_ADDRSTRLEN];

	switch (a->kind) {
	case ADDR_PREFIX:
		ip_to_text(&a->addr, lo, sizeof(lo));
		if (a->plen == family_bits(a->addr.family))
			snprintf(buf, len, "%s", lo);
		else
			snprintf(buf, len, "%s/%u", lo, a->plen);
		return;
	case ADDR_RANGE:
		ip_to_text(&a->addr, lo, sizeof(lo));
		ip_to_text(&a->hi, hi, sizeof(hi));
		snprintf(buf, len, "%s-%s", lo, hi);
		return;
	default:
		snprintf(buf, len, "%s", addr_kind_name(a->kind));
	}
}

/* ---- protocols and ports ------------------------------------------------------ */

static const struct {
	const char *name;
	int number;
} protocols[] = {
	{ "any", PROTO_ANY }, { "icmp", IPPROTO_ICMP }, { "igmp", IPPROTO_IGMP },
	{ "tcp", IPPROTO_TCP }, { "udp", IPPROTO_UDP }, { "rsvp", 46 },
	{ "gre", IPPROTO_GRE }, { "esp", IPPROTO_ESP }, { "ah", IPPROTO_AH },
	{ "icmpv6", IPPROTO_ICMPV6 }, { "sctp", IPPROTO_SCTP },
	{ "udplite", IPPROTO_UDPLITE },
};

const char *protocol_name(int proto)
{
	for (size_t i = 0; i < sizeof(protocols) / sizeof(protocols[0]); i++)
		if (protocols[i].number == proto)
			return protocols[i].name;
	return NULL;
}

bool proto_has_ports(uint8_t proto)
{
	return proto == IPPROTO_TCP || proto == IPPROTO_UDP ||
	       proto == IPPROTO_SCTP || proto == IPPROTO_UDPLITE;
}

int parse_protocol(struct pctx *c, const struct pnode *n, int *out)
{
	uint64_t v;

	if (need_scalar(c, n, "'protocol'"))
		return -1;
	for (size_t i = 0; i < sizeof(protocols) / sizeof(protocols[0]); i++) {
		if (!strcasecmp(n->text, protocols[i].name)) {
			*out = protocols[i].number;
			return 0;
		}
	}
	if (decimal_u64(n->text, &v) && v <= 255) {
		*out = (int)v;
		return 0;
	}
	return perr(c, n, "'%.60s' is not a protocol; expected any, icmp, icmpv6, "
		    "igmp, tcp, udp, sctp, udplite, rsvp, gre, esp, ah or a number "
		    "from 0 to 255", n->text);
}

static bool port_number(const char *s, uint16_t *out)
{
	char buf[16];
	uint64_t v;

	if (!trimmed_copy(s, strlen(s), buf, sizeof(buf)) ||
	    !decimal_u64(buf, &v) || v > 65535)
		return false;
	*out = (uint16_t)v;
	return true;
}

int parse_port(struct pctx *c, const struct pnode *n, const char *what,
	       struct port_spec *out)
{
	const char *s, *dash;
	char lo[16];

	if (need_scalar(c, n, what))
		return -1;
	s = n->text;
	out->lo = out->hi = 0;
	if (!strcmp(s, "any"))
		return 0;
	dash = strchr(s, '-');
	if (!dash) {
		if (!port_number(s, &out->lo))
			goto bad;
		out->hi = out->lo;
		return 0;
	}
	if (!trimmed_copy(s, (size_t)(dash - s), lo, sizeof(lo)) ||
	    !port_number(lo, &out->lo) || !port_number(dash + 1, &out->hi))
		goto bad;
	if (out->lo > out->hi)
		return perr(c, n, "port range %.40s has its low end above its high "
			    "end; expected LOW-HIGH with LOW <= HIGH", s);
	return 0;
bad:
	return perr(c, n, "'%.60s' is not a port for %s; expected any, 0 (any), "
		    "a port from 1 to 65535 or a range LOW-HIGH", s, what);
}
