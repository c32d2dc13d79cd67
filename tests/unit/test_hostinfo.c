// SPDX-License-Identifier: GPL-2.0-only
/*
 * test_hostinfo.c - reading the host's addresses: resolv.conf, dhclient and
 * systemd-networkd lease files (from temporary files), and host_info_read
 * on whatever host runs the tests (only properties every host has).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "testutil.h"

#include "compile/compile_hostinfo.h"

/* ---- helpers ------------------------------------------------------------- */

static char tmp[64];

static int make_tmp(void **state)
{
	snprintf(tmp, sizeof(tmp), "/tmp/ixdp-hostinfo.XXXXXX");
	return mkdtemp(tmp) ? 0 : -1;
}


static int remove_tmp(void **state)
{
	remove_tree(tmp);
	return 0;
}

/* Write tmp/name (creating tmp/dir for "dir/name"); returns the path. */
static const char *write_file(const char *name, const char *text)
{
	static char path[512];
	char *slash;
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", tmp, name);
	slash = strrchr(path, '/');
	*slash = '\0';
	mkdir(path, 0755);
	*slash = '/';
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
	return path;
}

static const char *addr_text(const struct ip_addr *a)
{
	static char buf[INET6_ADDRSTRLEN];

	inet_ntop(a->family, a->bytes, buf, sizeof(buf));
	return buf;
}

static void assert_addrs(const struct ip_addr *v, size_t n, const char *expect)
{
	char got[512] = "";

	for (size_t i = 0; i < n; i++) {
		strcat(got, i ? " " : "");
		strcat(got, addr_text(&v[i]));
	}
	assert_string_equal(got, expect);
}

/* Lease files written as dhclient does; `now` is 2024-06-01 00:00:00 UTC. */
#define NOW ((time_t)1717200000)

/* ---- addresses ------------------------------------------------------------ */

static void test_ip_addr_parse(void **state)
{
	struct ip_addr a;

	assert_int_equal(ip_addr_parse("192.0.2.1", &a), 0);
	assert_int_equal(a.family, AF_INET);
	assert_int_equal(a.bytes[3], 1);
	assert_int_equal(ip_addr_parse("2001:db8::1", &a), 0);
	assert_int_equal(a.family, AF_INET6);
	assert_int_equal(a.bytes[15], 1);
	assert_int_equal(ip_addr_parse("fe80::1%eth0", &a), 0);
	assert_int_equal(a.family, AF_INET6);
	assert_int_equal(ip_addr_parse("192.0.2.300", &a), -1);
	assert_int_equal(ip_addr_parse("", &a), -1);
	assert_int_equal(ip_addr_parse("example.org", &a), -1);

	assert_int_equal(ip_addr_parse("127.0.0.53", &a), 0);
	assert_true(ip_addr_is_loopback(&a));
	assert_int_equal(ip_addr_parse("::1", &a), 0);
	assert_true(ip_addr_is_loopback(&a));
	assert_int_equal(ip_addr_parse("128.0.0.1", &a), 0);
	assert_false(ip_addr_is_loopback(&a));
	assert_int_equal(ip_addr_parse("::2", &a), 0);
	assert_false(ip_addr_is_loopback(&a));
}

static void test_ip_addr_list_dedup(void **state)
{
	struct ip_addr *v = NULL, a, b;
	size_t n = 0;

	ip_addr_parse("10.0.0.1", &a);
	ip_addr_parse("10.0.0.2", &b);
	assert_int_equal(ip_addr_list_add(&v, &n, &a), 0);
	assert_int_equal(ip_addr_list_add(&v, &n, &b), 0);
	assert_int_equal(ip_addr_list_add(&v, &n, &a), 0);
	assert_addrs(v, n, "10.0.0.1 10.0.0.2");
	free(v);
}

/* ---- resolv.conf ------------------------------------------------------------ */

static void test_resolv_conf(void **state)
{
	struct host_info h = {0};
	char err[256];
	const char *path = write_file("resolv.conf",
		"# Generated\n"
		"search example.org\n"
		"nameserver 192.0.2.53\n"
		"nameserver\t2001:db8::53 # comment\n"
		"nameserver 127.0.0.53\n"
		"nameserver ::1\n"
		"nameserver fe80::53%eth0\n"
		"nameserver\n"
		"nameserver not-an-address\n"
		"  nameserver 192.0.2.54\n"
		"nameserver 192.0.2.53\n"
		"options edns0\n");

	assert_int_equal(hostinfo_read_resolv_conf(path, &h, err, sizeof(err)), 0);
	assert_addrs(h.dns, h.ndns, "192.0.2.53 2001:db8::53 fe80::53 192.0.2.54");
	host_info_free(&h);
	assert_null(h.dns);
	assert_int_equal(h.ndns, 0);
}

static void test_resolv_conf_absent_or_unreadable(void **state)
{
	struct host_info h = {0};
	char path[128], err[256] = "";

	snprintf(path, sizeof(path), "%s/nonexistent", tmp);
	assert_int_equal(hostinfo_read_resolv_conf(path, &h, err, sizeof(err)), 0);
	assert_int_equal(h.ndns, 0);
	/* a directory opens but cannot be read */
	assert_int_equal(hostinfo_read_resolv_conf(tmp, &h, err, sizeof(err)), -1);
	assert_non_null(strstr(err, tmp));
	host_info_free(&h);
}

/* ---- dhclient leases ---------------------------------------------------------- */

static const char dhclient_leases[] =
	"lease {\n"
	"  interface \"eth0\";\n"
	"  fixed-address 192.0.2.10;\n"
	"  option subnet-mask 255.255.255.0;\n"
	"  option dhcp-server-identifier 192.0.2.1;\n"
	"  option netbios-name-servers 192.0.2.137;\n"
	"  renew 2 2024/01/02 00:00:00;\n"
	"  expire 3 2024/01/03 00:00:00;\n"
	"}\n"
	"lease {\n"
	"  interface \"eth0\";\n"
	"  fixed-address 192.0.2.11;\n"
	"  option dhcp-server-identifier 192.0.2.2;\n"
	"  option netbios-name-servers 192.0.2.138, 192.0.2.139;\n"
	"  expire 1 2024/06/03 12:00:00;\n"
	"}\n"
	"lease {\n"
	"  interface \"eth0\";\n"
	"  fixed-address 192.0.2.12;\n"
	"  expire 1 2024/06/03 12:00:00;\n"
	"}\n";

/* The newest live lease with a server counts; expired and server-less
 * leases do not. */
static void test_dhclient_lease(void **state)
{
	struct host_info h = {0};
	char err[256];
	const char *path = write_file("dhclient.eth0.leases", dhclient_leases);

	assert_int_equal(hostinfo_read_dhclient_lease(path, NOW, &h, err,
						      sizeof(err)), 0);
	assert_addrs(h.dhcp, h.ndhcp, "192.0.2.2");
	/* the WINS servers are the newest live lease's only */
	assert_addrs(h.wins, h.nwins, "192.0.2.138 192.0.2.139");
	host_info_free(&h);
	/* a month later every lease has expired */
	assert_int_equal(hostinfo_read_dhclient_lease(path, NOW + 30 * 86400, &h,
						      err, sizeof(err)), 0);
	assert_int_equal(h.ndhcp, 0);
	assert_int_equal(h.nwins, 0);
	host_info_free(&h);
}

static void test_dhclient_expiry_forms(void **state)
{
	struct host_info h = {0};
	char err[256];
	const char *never = write_file("never.leases",
		"lease {\n  option dhcp-server-identifier 198.51.100.1;\n"
		"  expire never;\n}\n");

	assert_int_equal(hostinfo_read_dhclient_lease(never, NOW, &h, err,
						      sizeof(err)), 0);
	assert_addrs(h.dhcp, h.ndhcp, "198.51.100.1");
	host_info_free(&h);

	const char *epoch = write_file("epoch.leases",
		"lease {\n  option dhcp-server-identifier 198.51.100.2;\n"
		"  expire epoch 1717199999; # just before NOW\n}\n"
		"lease6 {\n  interface \"eth0\";\n  ia-na 1a:2b:3c:4d {\n"
		"    starts 1717190000;\n  }\n"
		"  option dhcp6.server-id 0:1:0:1:2c:3d:4e:5f:0:1:2:3:4:5;\n}\n");
	assert_int_equal(hostinfo_read_dhclient_lease(epoch, NOW, &h, err,
						      sizeof(err)), 0);
	assert_int_equal(h.ndhcp, 0);
	assert_int_equal(hostinfo_read_dhclient_lease(epoch, NOW - 10, &h, err,
						      sizeof(err)), 0);
	assert_addrs(h.dhcp, h.ndhcp, "198.51.100.2");
	host_info_free(&h);
}

static void test_dhclient_glob(void **state)
{
	struct host_info h = {0};
	char pattern[128], err[256];

	write_file("dhcp/dhclient.eth0.leases", dhclient_leases);
	write_file("dhcp/dhclient-wlan0.leases",
		   "lease {\n  option dhcp-server-identifier 203.0.113.1;\n}\n");
	write_file("dhcp/dhclient6.eth0.leases.bak",
		   "lease {\n  option dhcp-server-identifier 203.0.113.9;\n}\n");
	snprintf(pattern, sizeof(pattern), "%s/dhcp/dhclient*.leases", tmp);
	assert_int_equal(hostinfo_read_dhclient_leases(pattern, NOW, &h, err,
						       sizeof(err)), 0);
	assert_addrs(h.dhcp, h.ndhcp, "203.0.113.1 192.0.2.2");
	host_info_free(&h);

	snprintf(pattern, sizeof(pattern), "%s/none/dhclient*.leases", tmp);
	assert_int_equal(hostinfo_read_dhclient_leases(pattern, NOW, &h, err,
						       sizeof(err)), 0);
	assert_int_equal(h.ndhcp, 0);
}

/* ---- systemd-networkd leases ---------------------------------------------------- */

static void test_networkd_leases(void **state)
{
	struct host_info h = {0};
	char dir[128], err[256];

	write_file("leases/2",
		   "# This is private data. Do not parse.\n"
		   "ADDRESS=192.0.2.77\nNETMASK=255.255.255.0\n"
		   "SERVER_ADDRESS=192.0.2.1\nDNS=192.0.2.53\n");
	write_file("leases/3", "ADDRESS=198.51.100.5\nSERVER_ADDRESS=198.51.100.1\n");
	write_file("leases/4", "ADDRESS=198.51.100.6\nSERVER_ADDRESS=192.0.2.1\n");
	write_file("leases/.#3abc", "SERVER_ADDRESS=203.0.113.66\n");
	write_file("leases/5", "SERVER_ADDRESS=garbage\n");
	snprintf(dir, sizeof(dir), "%s/leases", tmp);
	assert_int_equal(hostinfo_read_networkd_leases(dir, &h, err, sizeof(err)), 0);
	assert_addrs(h.dhcp, h.ndhcp, "192.0.2.1 198.51.100.1");
	host_info_free(&h);

	snprintf(dir, sizeof(dir), "%s/no-such-dir", tmp);
	assert_int_equal(hostinfo_read_networkd_leases(dir, &h, err, sizeof(err)), 0);
	assert_int_equal(h.ndhcp, 0);
}

/* ---- bad input ------------------------------------------------------------------ */

/* Write n bytes (NULs and all) to tmp/name. */
static const char *write_bytes(const char *name, const void *data, size_t n)
{
	static char path[512];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", tmp, name);
	fp = fopen(path, "w");
	assert_non_null(fp);
	assert_int_equal(fwrite(data, 1, n, fp), n);
	fclose(fp);
	return path;
}

/* Binary noise, NUL bytes, cut lines and blocks: what parses is used,
 * the rest skipped, never a crash. */
static void test_garbage_is_skipped(void **state)
{
	static const char resolv[] =
		"nameserver\0 192.0.2.1\n"		/* NUL cuts the line */
		"\xff\xfe\x01nameserver 192.0.2.2\n"
		"nameserver 192.0.2.3\0garbage\n"	/* the value ends at NUL */
		"nameserver 192.0.2.4";			/* no final newline */
	static const char lease[] =
		"lease {\n  option dhcp-server-identifier 192.0.2.9;\n"
		"  expire \xff\xff garbage;\n}\n"	/* unknown form: live */
		"lease {\n  option dhcp-server-identifier 192.0.2.10;\n"
		"  expire never;\n";			/* never closed: unused */
	static const char networkd[] = "SERVER_ADDRESS=\0192.0.2.20\n"
		"SERVER_ADDRESS=192.0.2.21\nSERVER_ADDRESS=192.0.2.22/24\n";
	struct host_info h = {0};
	unsigned char noise[4096];
	char err[256], path[512];

	assert_int_equal(hostinfo_read_resolv_conf(write_bytes("r", resolv,
		sizeof(resolv) - 1), &h, err, sizeof(err)), 0);
	assert_addrs(h.dns, h.ndns, "192.0.2.3 192.0.2.4");
	assert_int_equal(hostinfo_read_dhclient_lease(write_bytes("l", lease,
		sizeof(lease) - 1), NOW, &h, err, sizeof(err)), 0);
	assert_addrs(h.dhcp, h.ndhcp, "192.0.2.9");
	assert_int_equal(hostinfo_read_networkd_lease(write_bytes("n", networkd,
		sizeof(networkd) - 1), &h, err, sizeof(err)), 0);
	assert_addrs(h.dhcp, h.ndhcp, "192.0.2.9 192.0.2.21");
	host_info_free(&h);

	srand(7);
	for (size_t i = 0; i < sizeof(noise); i++)
		noise[i] = (unsigned char)rand();
	snprintf(path, sizeof(path), "%s", write_bytes("noise", noise,
						       sizeof(noise)));
	assert_int_equal(hostinfo_read_resolv_conf(path, &h, err, sizeof(err)), 0);
	assert_int_equal(hostinfo_read_dhclient_lease(path, NOW, &h, err,
						      sizeof(err)), 0);
	assert_int_equal(hostinfo_read_networkd_lease(path, &h, err, sizeof(err)), 0);
	host_info_free(&h);
}

/* A file over HOSTINFO_FILE_MAX is an error naming it, and none of it is
 * used (not even the server on its first line); one line that long too. */
static void test_oversized_file_is_refused(void **state)
{
	size_t n = HOSTINFO_FILE_MAX + 100;
	char *big = malloc(n);
	struct host_info h = {0};
	char err[256] = "";
	const char *path;

	assert_non_null(big);
	memset(big, '#', n);
	memcpy(big, "nameserver 192.0.2.1\n", 21);
	big[n - 1] = '\n';
	path = write_bytes("big", big, n);
	assert_int_equal(hostinfo_read_resolv_conf(path, &h, err, sizeof(err)), -1);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "larger than"));
	assert_int_equal(hostinfo_read_dhclient_lease(path, NOW, &h, err,
						      sizeof(err)), -1);
	assert_int_equal(hostinfo_read_networkd_lease(path, &h, err,
						      sizeof(err)), -1);
	assert_int_equal(h.ndhcp, 0);
	host_info_free(&h);

	memset(big, 'x', n);		/* one line, no newline at all */
	path = write_bytes("line", big, n);
	assert_int_equal(hostinfo_read_resolv_conf(path, &h, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "larger than"));
	host_info_free(&h);
	free(big);
}

/* ---- what changed --------------------------------------------------------------- */

static void add_me(struct host_info *h, const char *ip, uint8_t plen)
{
	struct host_prefix *v = realloc(h->me, (h->nme + 1) * sizeof(*v));

	assert_non_null(v);
	h->me = v;
	assert_int_equal(ip_addr_parse(ip, &v[h->nme].addr), 0);
	v[h->nme++].plen = plen;
}

static void add_to(struct ip_addr **v, size_t *n, const char *ip)
{
	struct ip_addr a;

	assert_int_equal(ip_addr_parse(ip, &a), 0);
	assert_int_equal(ip_addr_list_add(v, n, &a), 0);
}

static void test_equal_and_change(void **state)
{
	struct host_info a = {0}, b = {0};
	char what[256];

	add_me(&a, "10.0.0.1", 24);
	add_me(&a, "fd00::1", 64);
	add_to(&a.dns, &a.ndns, "192.0.2.53");
	/* the same sets in another order */
	add_me(&b, "fd00::1", 64);
	add_me(&b, "10.0.0.1", 24);
	add_to(&b.dns, &b.ndns, "192.0.2.53");
	assert_true(host_info_equal(&a, &b));
	host_info_describe_change(&a, &b, what, sizeof(what));
	assert_string_equal(what, "nothing");

	add_me(&b, "10.0.0.9", 24);
	add_to(&b.gateway, &b.ngateway, "10.0.0.254");
	add_to(&b.wins, &b.nwins, "10.0.0.137");
	b.ndns = 0;
	add_to(&b.dns, &b.ndns, "192.0.2.54");
	assert_false(host_info_equal(&a, &b));
	assert_false(host_info_equal(&b, &a));
	host_info_describe_change(&a, &b, what, sizeof(what));
	assert_string_equal(what, "me +10.0.0.9/24; dns +192.0.2.54 -192.0.2.53; "
			    "gateway +10.0.0.254; wins +10.0.0.137");

	/* the prefix length is part of the address */
	b.me[1].plen = 16;
	host_info_describe_change(&a, &b, what, sizeof(what));
	assert_non_null(strstr(what, "me +10.0.0.1/16 +10.0.0.9/24 -10.0.0.1/24"));

	/* a full buffer ends with "..." */
	host_info_describe_change(&a, &b, what, 20);
	assert_int_equal(strlen(what), 18);
	assert_string_equal(what + strlen(what) - 3, "...");
	host_info_free(&a);
	host_info_free(&b);
}

/* ---- Samba's wins server ------------------------------------------------------- */

/* Only [global] counts; case and blanks of the key do not; tags, commas,
 * continuation lines and IPv6 are understood; names are skipped. */
static void test_smb_conf(void **state)
{
	struct host_info h = {0};
	char err[256];
	const char *path = write_file("smb.conf",
		"# wins server = 10.9.9.9\n"
		"[global]\n"
		"   workgroup = WOODGROVE\n"
		"   ; wins server = 10.9.9.8\n"
		"   WINS  Server = 192.0.2.5 mary:192.0.2.6,wins.example \\\n"
		"      2001:db8::5 fred:2001:db8::6\n"
		"   winsserver = 192.0.2.5\n"
		"[homes]\n"
		"   wins server = 10.9.9.7\n");

	assert_int_equal(hostinfo_read_smb_conf(path, &h, err, sizeof(err)), 0);
	assert_addrs(h.wins, h.nwins,
		     "192.0.2.5 192.0.2.6 2001:db8::5 2001:db8::6");
	host_info_free(&h);

	/* no Samba: nothing, no error */
	assert_int_equal(hostinfo_read_smb_conf("/nonexistent/smb.conf", &h,
						err, sizeof(err)), 0);
	assert_int_equal(h.nwins, 0);
}

/* ---- $IPSEC_XDP_RESOLV_CONF ------------------------------------------------------- */

static void test_resolv_conf_from_environment(void **state)
{
	struct hostinfo_source src[8];
	struct host_info h;
	char err[256];
	const char *path = write_file("etc/resolv.conf",
				      "nameserver 198.51.100.53\n");
	size_t n;

	setenv("IPSEC_XDP_RESOLV_CONF", path, 1);
	n = hostinfo_sources(src, 8);
	assert_true(n >= 1);
	assert_string_equal(src[0].name, "resolv.conf");
	assert_non_null(strstr(src[0].dir, "/etc"));
	for (size_t i = 1; i < n; i++)	/* Samba's, then lease directories */
		assert_true(!strcmp(src[i].name, "smb.conf") ||
			    !strcmp(src[i].name, ""));
	if (host_info_read(&h, err, sizeof(err))) {
		unsetenv("IPSEC_XDP_RESOLV_CONF");
		if (strstr(err, "netlink") || strstr(err, "reading the host"))
			skip();
		fail_msg("host_info_read: %s", err);
	}
	unsetenv("IPSEC_XDP_RESOLV_CONF");
	assert_addrs(h.dns, h.ndns, "198.51.100.53");
	host_info_free(&h);

	n = hostinfo_sources(src, 8);	/* the host's own */
	assert_string_equal(src[0].dir, "/etc");
	assert_string_equal(src[0].name, "resolv.conf");
	assert_int_equal(hostinfo_sources(src, 1), 1);
}

/* ---- the running host -------------------------------------------------------------- */

/* Whatever the host, there is no loopback address among the results and
 * every prefix length fits its family. */
static void test_host_info_read(void **state)
{
	struct host_info h;
	char err[256];

	if (host_info_read(&h, err, sizeof(err))) {
		/* netlink can be unavailable in a restricted sandbox */
		if (strstr(err, "netlink") || strstr(err, "reading the host"))
			skip();
		fail_msg("host_info_read: %s", err);
	}
	for (size_t i = 0; i < h.nme; i++) {
		assert_false(ip_addr_is_loopback(&h.me[i].addr));
		assert_true(h.me[i].plen <= (h.me[i].addr.family == AF_INET ? 32 : 128));
	}
	for (size_t i = 0; i < h.ndns; i++)
		assert_false(ip_addr_is_loopback(&h.dns[i]));
	for (size_t i = 0; i < h.ngateway; i++)
		assert_true(h.gateway[i].family == AF_INET ||
			    h.gateway[i].family == AF_INET6);
	host_info_free(&h);
	assert_int_equal(h.nme, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ip_addr_parse),
		cmocka_unit_test(test_ip_addr_list_dedup),
		cmocka_unit_test_setup_teardown(test_resolv_conf, make_tmp, remove_tmp),
		cmocka_unit_test_setup_teardown(test_resolv_conf_absent_or_unreadable,
						make_tmp, remove_tmp),
		cmocka_unit_test_setup_teardown(test_dhclient_lease, make_tmp, remove_tmp),
		cmocka_unit_test_setup_teardown(test_dhclient_expiry_forms, make_tmp,
						remove_tmp),
		cmocka_unit_test_setup_teardown(test_dhclient_glob, make_tmp, remove_tmp),
		cmocka_unit_test_setup_teardown(test_networkd_leases, make_tmp, remove_tmp),
		cmocka_unit_test_setup_teardown(test_garbage_is_skipped, make_tmp,
						remove_tmp),
		cmocka_unit_test_setup_teardown(test_oversized_file_is_refused,
						make_tmp, remove_tmp),
		cmocka_unit_test_setup_teardown(test_smb_conf, make_tmp, remove_tmp),
		cmocka_unit_test(test_equal_and_change),
		cmocka_unit_test_setup_teardown(test_resolv_conf_from_environment,
						make_tmp, remove_tmp),
		cmocka_unit_test(test_host_info_read),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
