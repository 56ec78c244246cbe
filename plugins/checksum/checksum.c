/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * checksum: SHA-256 of a file, or of every regular file in a directory tree.
 *
 * Entry "sha256" (synchronous, runs in a worker thread). Its args are
 * {"path": "<file or directory>"} or the path as a bare JSON string.
 *
 * A file gives {"path": ..., "sha256": "<hex>", "size": n}. A directory is
 * walked recursively without following symbolic links; its regular files
 * are hashed in the order of their relative paths (byte-wise) and give
 * {"path": ..., "files": [{"path": "<relative>", "sha256": ..., "size": ...},
 * ...], "total_size": n}. Progress is reported after each file (files done
 * over files in all, with the file's relative path), and cancellation is
 * honoured between chunks.
 */

#include <jupiter/jupiter-plugin.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#define CHUNK_SIZE (256 * 1024)

static gboolean
set_cancelled_error (GError    **error,
                     const char *path)
{
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED,
               "Checksum of “%s” was cancelled", path);
  return FALSE;
}

static gboolean
set_errno_error (GError    **error,
                 int         saved_errno,
                 const char *what,
                 const char *path)
{
  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
               "Could not %s “%s”: %s", what, path, g_strerror (saved_errno));
  return FALSE;
}

/* Hashes the regular file @path into @hex and @size. @buffer holds
 * CHUNK_SIZE bytes. With @nofollow, a symbolic link is refused (the tree
 * walk saw a regular file; this keeps it from being swapped for a link). */
static gboolean
hash_file (JupiterJobContext *context,
           const char        *path,
           gboolean           nofollow,
           guint8            *buffer,
           char             **hex,
           guint64           *size,
           GError           **error)
{
  g_autoptr(GChecksum) checksum = g_checksum_new (G_CHECKSUM_SHA256);
  struct stat st;
  guint64 total = 0;
  /* O_NONBLOCK: a FIFO must not block the open; it is refused below. */
  int flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | (nofollow ? O_NOFOLLOW : 0);
  int fd;

  fd = g_open (path, flags, 0);
  if (fd < 0)
    return set_errno_error (error, errno, "open", path);

  if (fstat (fd, &st) != 0)
    {
      int saved_errno = errno;

      g_close (fd, NULL);
      return set_errno_error (error, saved_errno, "examine", path);
    }
  if (!S_ISREG (st.st_mode))
    {
      g_close (fd, NULL);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_REGULAR_FILE,
                   "Could not hash “%s”: not a regular file", path);
      return FALSE;
    }

  for (;;)
    {
      gssize n;

      if (jupiter_job_context_is_cancelled (context))
        {
          g_close (fd, NULL);
          return set_cancelled_error (error, path);
        }

      n = read (fd, buffer, CHUNK_SIZE);
      if (n < 0)
        {
          int saved_errno = errno;

          if (saved_errno == EINTR)
            continue;
          g_close (fd, NULL);
          return set_errno_error (error, saved_errno, "read", path);
        }
      if (n == 0)
        break;
      g_checksum_update (checksum, buffer, n);
      total += n;
    }

  g_close (fd, NULL);
  *hex = g_strdup (g_checksum_get_string (checksum));
  *size = total;
  return TRUE;
}

/* Appends to @files the relative paths of the regular files below @dir
 * (whose relative path is @rel, "" for the top). Symbolic links and other
 * non-regular entries are skipped, never followed. */
static gboolean
collect_files (JupiterJobContext *context,
               const char        *root,
               const char        *dir,
               const char        *rel,
               GPtrArray         *files,
               GError           **error)
{
  g_autoptr(GDir) gdir = NULL;
  g_autoptr(GError) local_error = NULL;
  const char *name;

  if (jupiter_job_context_is_cancelled (context))
    return set_cancelled_error (error, root);

  gdir = g_dir_open (dir, 0, &local_error);
  if (gdir == NULL)
    {
      /* GDir's message names the directory already. */
      g_set_error (error, G_IO_ERROR, g_io_error_from_file_error (local_error->code),
                   "Could not read the directory tree “%s”: %s", root, local_error->message);
      return FALSE;
    }

  while ((name = g_dir_read_name (gdir)) != NULL)
    {
      g_autofree char *full = g_build_filename (dir, name, NULL);
      g_autofree char *child_rel = *rel ? g_strconcat (rel, "/", name, NULL) : g_strdup (name);
      GStatBuf st;

      if (g_lstat (full, &st) != 0)
        {
          int saved_errno = errno;

          /* Gone between listing and examining: not part of the tree. */
          if (saved_errno == ENOENT)
            continue;
          return set_errno_error (error, saved_errno, "examine", full);
        }

      if (S_ISDIR (st.st_mode))
        {
          if (!collect_files (context, root, full, child_rel, files, error))
            return FALSE;
        }
      else if (S_ISREG (st.st_mode))
        g_ptr_array_add (files, g_steal_pointer (&child_rel));
    }

  return TRUE;
}

static int
compare_paths (gconstpointer a,
               gconstpointer b)
{
  return strcmp (*(const char * const *) a, *(const char * const *) b);
}

static JsonNode *
hash_tree (JupiterJobContext *context,
           const char        *root,
           guint8            *buffer,
           GError           **error)
{
  g_autoptr(GPtrArray) files = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  guint64 total_size = 0;

  if (!collect_files (context, root, root, "", files, error))
    return NULL;
  g_ptr_array_sort (files, compare_paths);

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "path");
  json_builder_add_string_value (builder, root);
  json_builder_set_member_name (builder, "files");
  json_builder_begin_array (builder);

  for (guint i = 0; i < files->len; i++)
    {
      const char *rel = g_ptr_array_index (files, i);
      g_autofree char *full = g_build_filename (root, rel, NULL);
      g_autofree char *hex = NULL;
      guint64 size = 0;

      if (!hash_file (context, full, TRUE, buffer, &hex, &size, error))
        return NULL;
      total_size += size;

      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "path");
      json_builder_add_string_value (builder, rel);
      json_builder_set_member_name (builder, "sha256");
      json_builder_add_string_value (builder, hex);
      json_builder_set_member_name (builder, "size");
      json_builder_add_int_value (builder, (gint64) size);
      json_builder_end_object (builder);

      jupiter_job_context_set_progress (context, (double) (i + 1) / files->len, rel);
    }

  json_builder_end_array (builder);
  json_builder_set_member_name (builder, "total_size");
  json_builder_add_int_value (builder, (gint64) total_size);
  json_builder_end_object (builder);

  if (files->len == 0)
    jupiter_job_context_set_progress (context, 1.0, NULL);

  return json_builder_get_root (builder);
}

static JsonNode *
hash_single (JupiterJobContext *context,
             const char        *path,
             guint8            *buffer,
             GError           **error)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autofree char *hex = NULL;
  g_autofree char *base = NULL;
  guint64 size = 0;

  if (!hash_file (context, path, FALSE, buffer, &hex, &size, error))
    return NULL;

  base = g_path_get_basename (path);
  jupiter_job_context_set_progress (context, 1.0, base);

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "path");
  json_builder_add_string_value (builder, path);
  json_builder_set_member_name (builder, "sha256");
  json_builder_add_string_value (builder, hex);
  json_builder_set_member_name (builder, "size");
  json_builder_add_int_value (builder, (gint64) size);
  json_builder_end_object (builder);

  return json_builder_get_root (builder);
}

/* The path from the args: a JSON string, or an object's "path" string. The
 * args are sealed and shared: they are only read. */
static const char *
get_path_arg (JsonNode *args,
              GError  **error)
{
  JsonNode *node = args;

  if (node != NULL && JSON_NODE_HOLDS_OBJECT (node))
    node = json_object_get_member (json_node_get_object (node), "path");

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_STRING ||
      *json_node_get_string (node) == '\0')
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                           "checksum.sha256 needs a non-empty string \"path\" "
                           "(args {\"path\": \"...\"} or a JSON string)");
      return NULL;
    }

  return json_node_get_string (node);
}

static JsonNode *
checksum_sha256 (JupiterJobContext *context,
                 gpointer           user_data,
                 GError           **error)
{
  g_autofree guint8 *buffer = NULL;
  const char *path;
  GStatBuf st;

  path = get_path_arg (jupiter_job_context_get_args (context), error);
  if (path == NULL)
    return NULL;

  /* The path given is followed if it is a link; links inside a tree are not. */
  if (g_stat (path, &st) != 0)
    {
      set_errno_error (error, errno, "examine", path);
      return NULL;
    }

  buffer = g_malloc (CHUNK_SIZE);
  if (S_ISDIR (st.st_mode))
    return hash_tree (context, path, buffer, error);
  if (S_ISREG (st.st_mode))
    return hash_single (context, path, buffer, error);

  g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_REGULAR_FILE,
               "Could not hash “%s”: neither a regular file nor a directory", path);
  return NULL;
}

static const JupiterPluginEntry checksum_entries[] = {
  JUPITER_PLUGIN_ENTRY ("sha256", "SHA-256 of a file or of every file in a directory tree",
                        checksum_sha256),
};

static const JupiterPluginDescriptor checksum_descriptor = {
  JUPITER_PLUGIN_DESCRIPTOR_HEADER,
  .id = "checksum",
  .name = "Checksum",
  .version = "1.0.0",
  .description = "SHA-256 of files and directory trees",
  .license = "LGPL-2.1-or-later",
  .entries = checksum_entries,
  .n_entries = G_N_ELEMENTS (checksum_entries),
};

JUPITER_PLUGIN_DEFINE (checksum_descriptor)
