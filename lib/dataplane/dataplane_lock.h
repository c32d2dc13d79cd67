/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * dataplane_lock.h - one writer at a time.  Whoever changes the stored state (the
 * configuration directory: config, policy.yaml) or the pinned dataplane
 * (the pin root's maps) holds an exclusive flock(2) on that directory
 * itself: no lock file is added to either.  `ipsec-xdp load`, `unload`,
 * `policy apply`, `policy unassign` and `set config` hold both (the
 * configuration directory first, then the pin root when it exists);
 * ipsec-xdpd holds the pin root's around each bundle-map write.
 *
 * Waiting is bounded: the lock is tried (LOCK_NB) every few milliseconds
 * until wait_ms has passed, so a stuck holder never hangs a caller; the
 * error then names the holder (pid and command line, from /proc/locks).
 */
#ifndef IXDP_LOCKFILE_H
#define IXDP_LOCKFILE_H

#include <stdbool.h>
#include <stddef.h>

/* How long `ipsec-xdp` waits: $IPSEC_XDP_LOCK_WAIT seconds (0-3600), else
 * LOCK_WAIT_DEFAULT_S. */
#define LOCK_WAIT_DEFAULT_S 30
unsigned lock_wait_ms(void);

/*
 * Lock directory dir (created, mode 0755, with its parents, when create is
 * true).  Returns the locked descriptor (>= 0); LOCK_NO_DIR when dir does
 * not exist and create is false (nothing to lock); -1 with err naming the
 * directory and, when the wait ran out, who holds it.  A directory removed
 * and made again while we waited is locked afresh (the lock is always on
 * the directory that is at that path when this returns).
 */
#define LOCK_NO_DIR (-2)
int lock_dir(const char *dir, bool create, unsigned wait_ms, char *err,
	     size_t errlen);
/* Release what lock_dir returned (a negative fd is ignored). */
void unlock_dir(int fd);

/* The writers' pair: the configuration directory and the pin root. */
struct writer_lock {
	int conf_fd;
	int root_fd;
};

/* Both, waiting at most wait_ms in all; on failure nothing stays held. */
int writer_lock_acquire(struct writer_lock *l, const char *confdir,
			const char *root, unsigned wait_ms, char *err,
			size_t errlen);
/* Idempotent: safe to call twice, or after a failed acquire. */
void writer_lock_release(struct writer_lock *l);

/* "pid 123 (ipsec-xdp policy apply a.yaml)" for the process holding an
 * flock on dir, or "another process" when it cannot be told. */
void lock_holder(const char *dir, char *buf, size_t len);

#endif /* IXDP_LOCKFILE_H */
