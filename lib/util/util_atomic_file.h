/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * util_atomic_file.h - the one way the library writes a stored file (the boot
 * configuration, the assigned policy): the bytes go to a fresh temporary
 * file in the same directory (mkstemp, so concurrent writers never share
 * one), are made durable (fsync), and replace the file by rename(2), after
 * which the directory is synced.  A reader sees the old file or the new
 * one, never a mixture; a failed write leaves the old file and no temporary
 * file behind.
 */
#ifndef IXDP_ATOMIC_FILE_H
#define IXDP_ATOMIC_FILE_H

#include <stddef.h>
#include <sys/types.h>

/* Replace path with len bytes of data, mode `mode` (not subject to the
 * umask).  0, or -1 with err naming the file and the reason. */
int write_file_atomic(const char *path, const void *data, size_t len,
		      mode_t mode, char *err, size_t errlen);
/* The same, the file's group gid (needs CAP_CHOWN or membership). */
int write_file_atomic_group(const char *path, const void *data, size_t len,
			    mode_t mode, gid_t gid, char *err, size_t errlen);

/* Read a whole regular file of at most max bytes into a malloc'd buffer.
 * 0 with *data (NUL-terminated, for convenience) and *len, or -1 and err. */
int read_file_whole(const char *path, size_t max, char **data, size_t *len,
		    char *err, size_t errlen);

/* mkdir -p: dir and its missing parents, mode 0755.  0, or -1 with err
 * (also when dir exists but is not a directory). */
int make_dirs(const char *dir, char *err, size_t errlen);

#endif /* IXDP_ATOMIC_FILE_H */
