/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Files for the host's suites (test-host, test-host-cli): each test works
 * in a private directory, on private copies of the built plugins (a
 * library loads once per process, and the loader refuses a second load). */

char *host_test_copy_built  (const char *dir,
                             const char *subdir,
                             const char *file,
                             const char *as);
char *host_test_write_file  (const char *dir,
                             const char *name,
                             const char *text);
char *host_test_read_file   (const char *path);
void  host_test_remove_tree (const char *path);

G_END_DECLS
