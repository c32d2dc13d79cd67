/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * policy.h - an IPsec policy as the administrator wrote it (docs/behaviour.md §2).
 *
 * A policy file (format: ipsec-xdp.policy(5)) holds named filter lists,
 * named filter actions, and one or more policies; exactly one policy is
 * assigned.  policy_parse_file() turns the file into a struct policy_file;
 * the compiler (compiler.h) expands the assigned policy into the weighted,
 * ordered list of specific filters.
 */
#ifndef IXDP_POLICY_H
#define IXDP_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Where something was written: for error messages and `show`. */
struct srcpos {
	const char *file;   /* points into policy_file.path */
	unsigned line;      /* 1-based */
	unsigned column;    /* 1-based */
};

/* An error (or warning) that names file, line and column. */
struct policy_error {
	char file[256];
	unsigned line, column;
	char msg[512];
};

/* One IP address: family is AF_INET or AF_INET6; IPv4 in bytes[0..3]. */
struct ip_addr {
	uint8_t family;
	uint8_t bytes[16];
};

enum addr_kind {
	ADDR_ANY = 0,   /* any address of either family */
	ADDR_PREFIX,    /* addr/plen (a single host is plen 32 or 128) */
	ADDR_RANGE,     /* lo..hi inclusive, same family */
	ADDR_ME,        /* the host's own addresses */
	ADDR_DNS,       /* the configured DNS servers */
	ADDR_DHCP,      /* the DHCP servers of the current leases */
	ADDR_GATEWAY,   /* the default gateways */
	ADDR_WINS,      /* the WINS (NetBIOS name) servers */
};

struct addr_spec {
	enum addr_kind kind;
	struct ip_addr addr;   /* ADDR_PREFIX: the network; ADDR_RANGE: low end */
	struct ip_addr hi;     /* ADDR_RANGE: high end */
	uint8_t plen;          /* ADDR_PREFIX */
};

/* Port or port range; lo == hi == 0 means any. */
struct port_spec {
	uint16_t lo, hi;
};

#define PROTO_ANY (-1)

/* Does the protocol carry ports that filters can name? (TCP, UDP, SCTP,
 * UDP-Lite) */
bool proto_has_ports(uint8_t proto);

struct filter_spec {
	struct addr_spec src, dst;
	int proto;              /* PROTO_ANY or 0..255 */
	struct port_spec sport, dport;
	bool mirrored;          /* default true: one filter each way */
	char *description;      /* may be NULL */
	struct srcpos pos;
};

struct filter_list {
	char *name;
	char *description;
	struct filter_spec *filters;
	size_t nfilters;
	struct srcpos pos;
};

/* Transforms (names as in RFC 7296 / swanctl proposals). */
enum xform_encr {
	ENCR_NONE = 0,
	ENCR_AES_GCM_16_128, ENCR_AES_GCM_16_256,
	ENCR_AES_CBC_128, ENCR_AES_CBC_256,
};
enum xform_integ {
	INTEG_NONE = 0,
	INTEG_HMAC_SHA2_256_128, INTEG_HMAC_SHA2_384_192, INTEG_HMAC_SHA2_512_256,
};
enum xform_prf {
	PRF_NONE = 0,
	PRF_HMAC_SHA2_256, PRF_HMAC_SHA2_384, PRF_HMAC_SHA2_512,
};
/* DH groups by their IANA numbers. */
enum dh_group {
	DH_NONE = 0, DH_MODP_2048 = 14, DH_ECP_256 = 19, DH_ECP_384 = 20,
	DH_CURVE25519 = 31,
};

enum secmethod_kind { SM_ESP = 0, SM_AH, SM_AH_ESP };

/* One security method of a negotiate action (a quick-mode offer). */
struct security_method {
	enum secmethod_kind kind;
	enum xform_encr encr;     /* ESP: the cipher (an AEAD needs no integ) */
	enum xform_integ integ;   /* ESP integrity (non-AEAD) */
	enum xform_integ ah;      /* AH integrity (SM_AH, SM_AH_ESP) */
	uint32_t lifetime_s;      /* default 3600 */
	uint64_t lifetime_kb;     /* default 100000 */
	struct srcpos pos;
};

enum filter_action_kind { FA_PERMIT = 0, FA_NEGOTIATE = 1, FA_BLOCK = 2 };

struct filter_action {
	char *name;
	char *description;
	enum filter_action_kind kind;
	struct security_method *methods; /* negotiate: in preference order */
	size_t nmethods;
	bool inpass;            /* accept unsecured, always respond secured */
	bool soft;              /* fall back to clear with non-IPsec peers */
	uint32_t soft_timeout_s;/* default 3 */
	bool pfs;               /* session-key PFS */
	enum dh_group pfs_group;/* default: the IKE proposal's group */
	struct srcpos pos;
};

enum auth_kind { AUTH_PSK = 0, AUTH_CERT };
enum crl_mode { CRL_OFF = 0, CRL_WEAK, CRL_STRONG };

struct auth_method {
	enum auth_kind kind;
	char *psk_id;           /* AUTH_PSK: name of the key in the secrets file */
	char *ca_file;          /* AUTH_CERT: root CA bundle (PEM) */
	enum crl_mode crl;      /* AUTH_CERT */
	struct srcpos pos;
};

/* The numbers are enum ixdp_conn_type's (include/ipsec_xdp.h). */
enum conn_type { CONN_ALL = 0, CONN_LAN, CONN_REMOTE };

/* interfaces: per rule (IXDP_IFGROUP_NAMES) */
#define POLICY_MAX_RULE_IFACES 16

struct rule {
	char *name;
	struct filter_list *filters;   /* points into policy_file.lists */
	struct filter_action *action;  /* points into policy_file.actions */
	struct auth_method *auth;      /* in preference order */
	size_t nauth;
	bool has_tunnel;               /* false: transport mode */
	struct ip_addr tunnel;         /* the tunnel endpoint */
	enum conn_type conn;           /* which interfaces */
	char **interfaces;             /* optional explicit interface names */
	size_t ninterfaces;
	bool active;                   /* default true */
	struct srcpos pos;
};

/* One IKE proposal (main mode security method). */
struct ike_proposal {
	enum xform_encr encr;
	enum xform_integ integ;        /* INTEG_NONE with an AEAD */
	enum xform_prf prf;
	enum dh_group dh;
	struct srcpos pos;
};

struct ike_settings {
	struct ike_proposal *proposals; /* default: aes256gcm16-prfsha256-x25519 */
	size_t nproposals;
	uint32_t lifetime_s;            /* IKE SA lifetime, default 28800 */
	bool master_key_pfs;            /* default false */
	uint32_t qmpermm;               /* CHILD SAs per IKE SA, 0 = unlimited */
};

/* seconds between two reads of the assigned policy by ipsec-xdpd */
#define POLLING_INTERVAL_DEFAULT 180

struct policy {
	char *name;
	char *description;
	uint32_t polling_interval_s;    /* POLLING_INTERVAL_DEFAULT */
	struct srcpos polling_interval_pos; /* line 0: not written */
	struct ike_settings ike;
	bool default_response;          /* default true */
	/* The default response rule's own security methods (never empty
	 * once parsed: the defaults of ipsec-xdp.policy(5)) and
	 * authentication methods (none written: the daemon's choice, the
	 * peer's own PSK id and every negotiate rule's methods). */
	struct security_method *response_methods;
	size_t nresponse_methods;
	struct auth_method *response_auth;
	size_t nresponse_auth;
	struct srcpos response_pos;
	struct rule *rules;
	size_t nrules;
	struct srcpos pos;
};

struct policy_file {
	char *path;
	struct filter_list *lists;
	size_t nlists;
	struct filter_action *actions;
	size_t nactions;
	struct policy *policies;
	size_t npolicies;
	struct policy *assigned;        /* points into policies, never NULL */
};

/*
 * Parse and validate a policy file.  On success returns 0 and sets *out
 * (free with policy_file_free).  On failure returns -1, *out is untouched
 * and err names the file, line and column and what was expected.
 */
int policy_parse_file(const char *path, struct policy_file **out,
		      struct policy_error *err);

/* Same, from a buffer; `name` is used as the file name in errors. */
int policy_parse_buffer(const char *name, const char *buf, size_t len,
			struct policy_file **out, struct policy_error *err);

void policy_file_free(struct policy_file *pf);

/* Names used in the file and in `show` output. */
const char *addr_kind_name(enum addr_kind k);
const char *filter_action_kind_name(enum filter_action_kind k);

/* "file:line:col: msg" into buf. */
void policy_error_format(const struct policy_error *e, char *buf, size_t len);

#endif /* IXDP_POLICY_H */
