/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vsboot: facts about files that are costly to derive (a firmware image's SHA-256, what a QEMU
 * binary says about its machines and version), remembered in the user's cache directory
 * ($XDG_CACHE_HOME/vsboot/NAME.json) and keyed by what changes whenever the file does: device,
 * inode, size, mtime and ctime in nanoseconds. Like libvirt's QEMU capabilities cache, it saves
 * running QEMU at every call; unlike a cache keyed by name, a replaced file is never mistaken
 * for the old one. A cache that cannot be read or written is simply not used. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The value remembered for (path, what) while path is unchanged, or NULL. */
char *vsb_file_cache_get(const char *cache, const char *path, const char *what);
/* Remember value for (path, what) as path is now (best effort, written atomically). */
void vsb_file_cache_put(const char *cache, const char *path, const char *what, const char *value);

G_END_DECLS
