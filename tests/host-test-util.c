/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "host-test-util.h"

#include <glib/gstdio.h>

/* Copies the built file G_TEST_BUILDDIR/@subdir/@file to @dir/@as,
 * executable; returns the copy's path. */
char *
host_test_copy_built (const char *dir,
                      const char *subdir,
                      const char *file,
                      const char *as)
{
  g_autofree char *src = g_test_build_filename (G_TEST_BUILT, subdir, file, NULL);
  g_autofree char *dst = g_build_filename (dir, as, NULL);
  g_autofree char *contents = NULL;
  g_autoptr(GError) error = NULL;
  gsize length;

  g_file_get_contents (src, &contents, &length, &error);
  g_assert_no_error (error);
  g_file_set_contents_full (dst, contents, length, G_FILE_SET_CONTENTS_NONE, 0755, &error);
  g_assert_no_error (error);
  return g_steal_pointer (&dst);
}

char *
host_test_write_file (const char *dir,
                      const char *name,
                      const char *text)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);
  g_autoptr(GError) error = NULL;

  g_file_set_contents (path, text, -1, &error);
  g_assert_no_error (error);
  return g_steal_pointer (&path);
}

char *
host_test_read_file (const char *path)
{
  g_autoptr(GError) error = NULL;
  char *contents = NULL;

  g_file_get_contents (path, &contents, NULL, &error);
  g_assert_no_error (error);
  return contents;
}

void
host_test_remove_tree (const char *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  while (dir && (name = g_dir_read_name (dir)))
    {
      g_autofree char *child = g_build_filename (path, name, NULL);

      if (g_file_test (child, G_FILE_TEST_IS_DIR) && !g_file_test (child, G_FILE_TEST_IS_SYMLINK))
        host_test_remove_tree (child);
      else
        g_unlink (child);
    }
  g_rmdir (path);
}
