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

#include <stdbool.h>
#include <stddef.h>
#include <time.h>
#include "compile/compiler.h"

#define HOSTINFO_RESOLV_CONF          "/etc/resolv.conf"
/* systemd-resolved's list of the servers it really forwards to */
#define HOSTINFO_RESOLVED_CONF        "/run/systemd/resolve/resolv.conf"
#define HOSTINFO_DHCLIENT_LEASES      "/var/lib/dhcp/dhclient*.leases"
#define HOSTINFO_DHCLIENT_LEASES_ALT  "/var/lib/dhclient/dhclient*.leases"
#define HOSTINFO_NETWORKD_LEASES      "/run/systemd/netif/leases"

/* "10.0.0.1", "fe80::1" (a "%zone" suffix is ignored). 0 or -1. */
int ip_addr_parse(const char *s, struct ip_addr *out);

/* 127.0.0.0/8 or ::1: never seen on the wire. */
bool ip_addr_is_loopback(const struct ip_addr *a);

/* Append a unless already present. 0, or -1 on ENOMEM. */
int ip_addr_list_add(struct ip_addr **v, size_t *n, const struct ip_addr *a);

/* The `nameserver` lines of a resolv.conf(5) file, loopback servers left
 * out (they are a local stub resolver, not a DNS server on the network). */
int hostinfo_read_resolv_conf(const char *path, struct host_info *h,
			      char *errbuf, size_t errlen);

/* The server identifier of the newest unexpired lease of one dhclient
 * lease file (`option dhcp-server-identifier A;`). */
int hostinfo_read_dhclient_lease(const char *path, time_t now,
				 struct host_info *h, char *errbuf,
				 size_t errlen);

/* Every dhclient lease file matching a glob(3) pattern. */
int hostinfo_read_dhclient_leases(const char *pattern, time_t now,
				  struct host_info *h, char *errbuf,
				  size_t errlen);

/* SERVER_ADDRESS= of one systemd-networkd lease file. */
int hostinfo_read_networkd_lease(const char *path, struct host_info *h,
				 char *errbuf, size_t errlen);

/* Every lease file of a systemd-networkd lease directory. */
int hostinfo_read_networkd_leases(const char *dir, struct host_info *h,
				  char *errbuf, size_t errlen);

#endif /* IXDP_HOSTINFO_H */
