/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * dataplane_pinroot.h - the pin root's checks (dataplane_pinroot.c), for
 * dataplane_attach.c.  dp_pin_root() itself is in dataplane.h.
 */
#ifndef IXDP_LIB_DATAPLANE_PINROOT_H
#define IXDP_LIB_DATAPLANE_PINROOT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* path lies on a BPF file system. */
bool dp_is_bpffs(const char *path);

/* mkdir -p with mode for each directory made: 0 or -1 (errno). */
int dp_mkdir_p(const char *path, mode_t mode);

/* Make sure root lies on a BPF file system whose pins last, mounting one
 * on its parent in the host's mount namespace if there is none: 0, or -1
 * with errbuf saying why and what to do instead. */
int dp_pin_root_prepare(const char *root, char *errbuf, size_t errlen);

/* The pins under root last (the host's mount namespace sees them): 0, or
 * -1 with errbuf saying why and what to do instead. */
int dp_pin_root_check(const char *root, char *errbuf, size_t errlen);

#endif /* IXDP_LIB_DATAPLANE_PINROOT_H */
