/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * compile_hostinfo.h - the pieces host_info_read() (compiler.h) is made of, for the
 * tests and for tools that read another root: each reads one source and
 * appends what it finds to a struct host_info, skipping duplicates.
 *
 * A source that does not exist (no file, no directory) adds nothing and is
 * not an error; one that exists but cannot be read is.  All return 0, or -1
 * with errbuf naming the file and the reason.
 */
#ifndef IXDP_HOSTINFO_H
#define IXDP_HOSTINFO_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>
#include "compile/compiler.h"

#define HOSTINFO_RESOLV_CONF          "/etc/resolv.conf"
/* systemd-resolved's list of the servers it really forwards to */
#define HOSTINFO_RESOLVED_CONF        "/run/systemd/resolve/resolv.conf"
#define HOSTINFO_DHCLIENT_LEASES      "/var/lib/dhcp/dhclient*.leases"
#define HOSTINFO_DHCLIENT_LEASES_ALT  "/var/lib/dhclient/dhclient*.leases"
/* NetworkManager's leases when it runs dhclient (dhclient's format); its
 * own internal client keeps no server identifier in a file */
#define HOSTINFO_NM_DHCLIENT_LEASES   "/var/lib/NetworkManager/dhclient*.lease"
#define HOSTINFO_NETWORKD_LEASES      "/run/systemd/netif/leases"
/* Samba's configuration: its [global] `wins server` */
#define HOSTINFO_SMB_CONF             "/etc/samba/smb.conf"

/* The most a resolv.conf or lease file may hold: a larger one is an error,
 * and none of it is used. */
#define HOSTINFO_FILE_MAX (1u << 20)

/* $IPSEC_XDP_RESOLV_CONF, when set, is the one file `dns` is read from
 * (neither /etc/resolv.conf nor systemd-resolved's then), for the tests
 * and for a host whose resolver is configured elsewhere. */

/* "10.0.0.1", "fe80::1" (a "%zone" suffix is ignored). 0 or -1. */
int ip_addr_parse(const char *s, struct ip_addr *out);

/* 127.0.0.0/8 or ::1: never seen on the wire. */
bool ip_addr_is_loopback(const struct ip_addr *a);

/* Append a unless already present. 0, or -1 on ENOMEM. */
int ip_addr_list_add(struct ip_addr **v, size_t *n, const struct ip_addr *a);

/* A line that does not parse is skipped, as the resolver and the DHCP
 * clients skip it; a file over HOSTINFO_FILE_MAX is an error. */

/* The `nameserver` lines of a resolv.conf(5) file, loopback servers left
 * out (they are a local stub resolver, not a DNS server on the network). */
int hostinfo_read_resolv_conf(const char *path, struct host_info *h,
			      char *errbuf, size_t errlen);

/* The server identifier of the newest unexpired lease of one dhclient
 * lease file (`option dhcp-server-identifier A;`), and its WINS servers
 * (`option netbios-name-servers A, B;`). */
int hostinfo_read_dhclient_lease(const char *path, time_t now,
				 struct host_info *h, char *errbuf,
				 size_t errlen);

/* Every dhclient lease file matching a glob(3) pattern. */
int hostinfo_read_dhclient_leases(const char *pattern, time_t now,
				  struct host_info *h, char *errbuf,
				  size_t errlen);

/* The addresses of `wins server` in the [global] section of a Samba
 * smb.conf(5) ("A", "tag:A"; names skipped; $IPSEC_XDP_SMB_CONF, when
 * set, is the file host_info_read() reads instead of /etc/samba/smb.conf). */
int hostinfo_read_smb_conf(const char *path, struct host_info *h,
			   char *errbuf, size_t errlen);

/* SERVER_ADDRESS= of one systemd-networkd lease file. */
int hostinfo_read_networkd_lease(const char *path, struct host_info *h,
				 char *errbuf, size_t errlen);

/* Every lease file of a systemd-networkd lease directory. */
int hostinfo_read_networkd_leases(const char *dir, struct host_info *h,
				  char *errbuf, size_t errlen);

/* Do a and b hold the same addresses (each list as a set; `me` with its
 * prefix lengths)? */
bool host_info_equal(const struct host_info *a, const struct host_info *b);

/* What changed from o to n, for a log line: "me +10.0.0.9/24; dns
 * -192.0.2.53 +192.0.2.54" ("nothing" when equal); cut with "..." when
 * buf is full. */
void host_info_describe_change(const struct host_info *o,
			       const struct host_info *n, char *buf,
			       size_t len);

/* One place host_info_read() reads besides netlink: a directory, and the
 * one file in it that matters ("" : any file of it, a lease directory). */
struct hostinfo_source {
	char dir[PATH_MAX];
	char name[NAME_MAX + 1];
};

/* The places host_info_read() reads today (resolv.conf, and its target
 * when it is a symbolic link; systemd-resolved's file; the lease
 * directories), at most max into out; their number. */
size_t hostinfo_sources(struct hostinfo_source *out, size_t max);

#endif /* IXDP_HOSTINFO_H */
