/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * wire_addr.h - socket addresses as the IKE code uses them: the path a
 * datagram took (our address and port, the peer's), one received
 * datagram, and small helpers to print, compare and parse addresses.
 */
#ifndef IXDP_IKE_WIRE_ADDR_H
#define IXDP_IKE_WIRE_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* ---- addresses ----------------------------------------------------------- */

struct ike_path {
	struct sockaddr_storage local;	/* our address and port */
	struct sockaddr_storage peer;	/* theirs */
};

struct ike_dgram {
	const uint8_t *buf;		/* the IKE message, non-ESP marker removed */
	size_t len;
	struct ike_path path;		/* local: where it arrived */
};

#define ADDR_STR_MAX 64	/* "ffff:...:ffff" and a NUL */

/* "10.0.0.1", "fd00::1" */
const char *addr_str(const struct sockaddr_storage *ss, char *buf, size_t len);
/* "10.0.0.1:500", "[fd00::1]:4500" */
const char *addr_port_str(const struct sockaddr_storage *ss, char *buf,
			  size_t len);
uint16_t addr_port(const struct sockaddr_storage *ss);
void addr_set_port(struct sockaddr_storage *ss, uint16_t port);
/* The 4 or 16 address bytes; *len 0 for another family. */
const uint8_t *addr_bytes(const struct sockaddr_storage *ss, size_t *len);
bool addr_equal(const struct sockaddr_storage *a,
		const struct sockaddr_storage *b);		/* address only */
bool addr_port_equal(const struct sockaddr_storage *a,
		     const struct sockaddr_storage *b);	/* and port */
/* Parse "10.0.0.1" or "fd00::1" (no port); -1 when it is neither. */
int addr_parse(const char *text, uint16_t port, struct sockaddr_storage *ss);
socklen_t addr_len(const struct sockaddr_storage *ss);

#endif /* IXDP_IKE_WIRE_ADDR_H */
