/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "config.h"

#include <jupiter/jupiter.h>

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib/gstdio.h>

/* Set in main(): orphaned grandchildren of the exec plugin's commands are
 * reparented to this process, so the test can reap them and prove the group
 * is gone (PID 1 of a container need not reap them). */
static gboolean is_subreaper;

/* ------------------------------------------------------------------------ */
/* Fixture: a fresh main context, a manager owned by it, a loader with the   */
/* three bundled plugins loaded from the build tree, and a temp directory.   */

typedef struct {
  GMainContext        *context;
  JupiterJobManager   *manager;
  JupiterPluginLoader *loader;
  char                *tmpdir;

  /* job-progress records, for the job in @watch_id (any job if NULL) */
  char                *watch_id;
  guint                n_progress;
  double               last_fraction;
  GArray              *fractions;
  GPtrArray           *messages;
  gboolean             cancel_on_progress;
  gboolean             cancel_sent;
} Fixture;

static char *
plugin_path (const char *name)
{
  g_autofree char *file = g_strconcat (name, ".so", NULL);

  return g_test_build_filename (G_TEST_BUILT, "..", "plugins", name, file, NULL);
}

static void
load_plugin (Fixture    *f,
             const char *name,
             const char *config_json)
{
  g_autofree char *built = plugin_path (name);
  g_autofree char *file = g_strconcat (name, ".so", NULL);
  g_autofree char *path = g_build_filename (f->tmpdir, file, NULL);
  g_autofree char *contents = NULL;
  gsize length;
  g_autoptr(JsonNode) config = NULL;
  g_autoptr(GError) error = NULL;
  JupiterPlugin *plugin;

  if (config_json)
    {
      config = json_from_string (config_json, &error);
      g_assert_no_error (error);
    }

  /* A library is loaded once per process: each test loads its own copy. */
  g_assert_true (g_file_get_contents (built, &contents, &length, NULL));
  g_assert_true (g_file_set_contents_full (path, contents, (gssize) length,
                                           G_FILE_SET_CONTENTS_NONE, 0755, NULL));
  plugin = jupiter_plugin_loader_load_file (f->loader, path, config, &error);
  g_assert_no_error (error);
  g_assert_nonnull (plugin);
  g_assert_cmpstr (jupiter_plugin_get_id (plugin), ==, name);
  g_assert_cmpint (jupiter_plugin_get_state (plugin), ==, JUPITER_PLUGIN_STATE_LOADED);
}

static void
on_job_progress (JupiterJobManager *manager,
                 JupiterJob        *job,
                 gpointer           data)
{
  Fixture *f = data;

  if (f->watch_id && g_strcmp0 (jupiter_job_get_id (job), f->watch_id) != 0)
    return;

  f->n_progress++;
  f->last_fraction = jupiter_job_get_progress (job);
  g_array_append_val (f->fractions, f->last_fraction);
  g_ptr_array_add (f->messages, g_strdup (jupiter_job_get_message (job)));

  if (f->cancel_on_progress && !f->cancel_sent)
    {
      g_autoptr(GError) error = NULL;

      f->cancel_sent = TRUE;
      g_assert_true (jupiter_job_manager_cancel (manager, jupiter_job_get_id (job), &error));
      g_assert_no_error (error);
    }
}

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  const char *no_dirs[] = { NULL };

  f->context = g_main_context_new ();
  g_main_context_push_thread_default (f->context);

  /* A low threshold, for /plugins/breaker/opens; the other tests fail at
   * most one job per plugin. */
  f->manager = g_object_new (JUPITER_TYPE_JOB_MANAGER,
                             "circuit-breaker-threshold", 3,
                             NULL);
  g_signal_connect (f->manager, "job-progress", G_CALLBACK (on_job_progress), f);
  f->messages = g_ptr_array_new_with_free_func (g_free);
  f->fractions = g_array_new (FALSE, FALSE, sizeof (double));

  /* Hermetic: only the build tree's files, loaded by path. */
  f->loader = jupiter_plugin_loader_new ();
  jupiter_plugin_loader_set_search_path (f->loader, no_dirs);
  f->tmpdir = g_dir_make_tmp ("jupiter-bundled-XXXXXX", &error);
  g_assert_no_error (error);

  load_plugin (f, "echo", NULL);
  load_plugin (f, "checksum", NULL);
  load_plugin (f, "exec", "{\"allow\": [\"/bin/echo\", \"sh\"]}");
}

static void
remove_tree (const char *path)
{
  GStatBuf st;

  if (g_lstat (path, &st) != 0)
    return;
  if (S_ISDIR (st.st_mode))
    {
      g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
      const char *name;

      while (dir && (name = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *child = g_build_filename (path, name, NULL);

          remove_tree (child);
        }
      g_assert_cmpint (g_rmdir (path), ==, 0);
    }
  else
    g_assert_cmpint (g_unlink (path), ==, 0);
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  /* Every plugin function has returned before the plugins shut down. */
  g_assert_true (jupiter_job_manager_shutdown (f->manager, 60 * G_TIME_SPAN_SECOND, &error));
  g_assert_no_error (error);
  jupiter_plugin_loader_shutdown (f->loader);

  g_clear_object (&f->manager);
  g_clear_object (&f->loader);
  g_clear_pointer (&f->messages, g_ptr_array_unref);
  g_clear_pointer (&f->fractions, g_array_unref);
  g_clear_pointer (&f->watch_id, g_free);

  remove_tree (f->tmpdir);
  g_clear_pointer (&f->tmpdir, g_free);

  g_main_context_pop_thread_default (f->context);
  g_clear_pointer (&f->context, g_main_context_unref);
}

/* ------------------------------------------------------------------------ */
/* Helpers                                                                    */

static char *
submit (Fixture    *f,
        const char *plugin_id,
        const char *entry_name,
        JsonNode   *args)
{
  g_autoptr(GError) error = NULL;
  char *id;

  id = jupiter_plugin_loader_submit (f->loader, f->manager, plugin_id, entry_name, args, &error);
  g_assert_no_error (error);
  g_assert_nonnull (id);
  return id;
}

static JupiterJob *
wait_job (Fixture    *f,
          const char *id)
{
  g_autoptr(GError) error = NULL;
  JupiterJob *job;

  job = jupiter_job_manager_wait (f->manager, id, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (job);
  g_assert_true (jupiter_job_is_finished (job));
  return job;
}

static JupiterJob *
run_job (Fixture    *f,
         const char *plugin_id,
         const char *entry_name,
         JsonNode   *args)
{
  g_autofree char *id = submit (f, plugin_id, entry_name, args);

  return wait_job (f, id);
}

static JsonNode *
parse (const char *json)
{
  g_autoptr(GError) error = NULL;
  JsonNode *node = json_from_string (json, &error);

  g_assert_no_error (error);
  return node;
}

static JsonNode *
path_args (const char *path)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "path");
  json_builder_add_string_value (builder, path);
  json_builder_end_object (builder);
  return json_builder_get_root (builder);
}

static void
assert_completed (JupiterJob *job)
{
  const GError *error = jupiter_job_get_error (job);

  if (error != NULL)
    g_test_message ("job %s failed: %s", jupiter_job_get_id (job), error->message);
  g_assert_cmpint (jupiter_job_get_status (job), ==, JUPITER_JOB_STATUS_COMPLETED);
  g_assert_nonnull (jupiter_job_get_result (job));
}

static void
write_file (const char *path,
            const char *data,
            gsize       len)
{
  g_autoptr(GError) error = NULL;

  g_file_set_contents (path, data, len, &error);
  g_assert_no_error (error);
}

/* ------------------------------------------------------------------------ */
/* echo                                                                       */

static void
test_echo_round_trip (Fixture       *f,
                      gconstpointer  data)
{
  g_autoptr(JsonNode) args = parse ("{\"text\": \"héllo\", \"n\": 42, \"x\": 1.5,"
                                    " \"list\": [true, null, \"a\", {\"deep\": []}]}");
  g_autoptr(JupiterJob) job = run_job (f, "echo", "echo", args);

  assert_completed (job);
  g_assert_true (json_node_equal (jupiter_job_get_result (job), args));
  g_assert_cmpstr (jupiter_job_get_plugin_id (job), ==, "echo");
  g_assert_cmpstr (jupiter_job_get_entry_name (job), ==, "echo");
}

/* ------------------------------------------------------------------------ */
/* checksum                                                                   */

static char *
sha256_hex (const char *data,
            gsize       len)
{
  return g_compute_checksum_for_data (G_CHECKSUM_SHA256, (const guchar *) data, len);
}

static void
test_checksum_file (Fixture       *f,
                    gconstpointer  data)
{
  static const char content[] = "The quick brown fox jumps over the lazy dog\n";
  g_autofree char *path = g_build_filename (f->tmpdir, "fox.txt", NULL);
  g_autofree char *expected = sha256_hex (content, strlen (content));
  g_autoptr(JsonNode) args = NULL;
  g_autoptr(JsonNode) string_args = NULL;
  g_autoptr(JupiterJob) job = NULL;
  g_autoptr(JupiterJob) job2 = NULL;
  JsonObject *result;

  write_file (path, content, strlen (content));

  args = path_args (path);
  f->watch_id = submit (f, "checksum", "sha256", args);
  job = wait_job (f, f->watch_id);
  assert_completed (job);

  result = json_node_get_object (jupiter_job_get_result (job));
  g_assert_cmpstr (json_object_get_string_member (result, "path"), ==, path);
  g_assert_cmpstr (json_object_get_string_member (result, "sha256"), ==, expected);
  g_assert_cmpint (json_object_get_int_member (result, "size"), ==, strlen (content));

  /* Progress was reported, and reached the end. */
  g_assert_cmpuint (f->n_progress, >=, 1);
  g_assert_cmpfloat (f->last_fraction, ==, 1.0);
  g_assert_cmpstr (g_ptr_array_index (f->messages, f->messages->len - 1), ==, "fox.txt");

  /* The path as a bare JSON string, and an empty file. */
  write_file (path, "", 0);
  string_args = json_node_init_string (json_node_alloc (), path);
  job2 = run_job (f, "checksum", "sha256", string_args);
  assert_completed (job2);
  result = json_node_get_object (jupiter_job_get_result (job2));
  g_assert_cmpstr (json_object_get_string_member (result, "sha256"), ==,
                   "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  g_assert_cmpint (json_object_get_int_member (result, "size"), ==, 0);
}

static void
test_checksum_errors (Fixture       *f,
                      gconstpointer  data)
{
  g_autofree char *missing = g_build_filename (f->tmpdir, "no-such-file", NULL);
  g_autoptr(JsonNode) args = path_args (missing);
  g_autoptr(JsonNode) bad_args = parse ("{\"file\": \"x\"}");
  g_autoptr(JupiterJob) job = run_job (f, "checksum", "sha256", args);
  g_autoptr(JupiterJob) job2 = run_job (f, "checksum", "sha256", bad_args);
  const GError *error;

  g_assert_cmpint (jupiter_job_get_status (job), ==, JUPITER_JOB_STATUS_FAILED);
  error = jupiter_job_get_error (job);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, missing));

  g_assert_cmpint (jupiter_job_get_status (job2), ==, JUPITER_JOB_STATUS_FAILED);
  g_assert_error (jupiter_job_get_error (job2), G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);

  /* A FIFO is refused rather than read (which would block the worker). */
  {
    g_autofree char *fifo = g_build_filename (f->tmpdir, "fifo", NULL);
    g_autoptr(JsonNode) fifo_args = path_args (fifo);
    g_autoptr(JupiterJob) job3 = NULL;

    g_assert_cmpint (mkfifo (fifo, 0600), ==, 0);
    job3 = run_job (f, "checksum", "sha256", fifo_args);
    g_assert_cmpint (jupiter_job_get_status (job3), ==, JUPITER_JOB_STATUS_FAILED);
    g_assert_error (jupiter_job_get_error (job3), G_IO_ERROR, G_IO_ERROR_NOT_REGULAR_FILE);
    g_assert_nonnull (strstr (jupiter_job_get_error (job3)->message, fifo));
  }
}

typedef struct {
  const char *rel;
  const char *data;
  gsize       len;
} TreeFile;

static void
test_checksum_tree (Fixture       *f,
                    gconstpointer  data)
{
  /* Listed in the order the plugin must report them (byte-wise by path). */
  static const TreeFile files[] = {
    { "A-upper", "upper case sorts first\n", 23 },
    { "a.txt", "alpha\n", 6 },
    { "b.txt", "bravo bravo\n", 12 },
    { "empty", "", 0 },
    { "sub/c.bin", "\0\1\2\3\377binary\0", 12 },
    { "sub/deeper/d", "delta", 5 },
    { "sub2/e", "echo\n", 5 },
  };
  g_autofree char *root = g_build_filename (f->tmpdir, "tree", NULL);
  g_autoptr(JsonNode) args = NULL;
  g_autoptr(JupiterJob) job = NULL;
  JsonObject *result;
  JsonArray *list;
  gint64 total = 0;
  const char * const dirs[] = { "tree", "tree/sub", "tree/sub/deeper", "tree/sub2", "tree/sub/empty-dir" };

  for (guint i = 0; i < G_N_ELEMENTS (dirs); i++)
    {
      g_autofree char *dir = g_build_filename (f->tmpdir, dirs[i], NULL);

      g_assert_cmpint (g_mkdir (dir, 0755), ==, 0);
    }
  /* Written out of order: the plugin sorts. */
  for (guint i = G_N_ELEMENTS (files); i > 0; i--)
    {
      g_autofree char *path = g_build_filename (root, files[i - 1].rel, NULL);

      write_file (path, files[i - 1].data, files[i - 1].len);
    }
  /* Symbolic links are not followed, to files or directories. */
  {
    g_autofree char *link1 = g_build_filename (root, "link-to-a", NULL);
    g_autofree char *link2 = g_build_filename (root, "sub", "link-to-dir", NULL);
    g_autofree char *link3 = g_build_filename (root, "dangling", NULL);

    g_assert_cmpint (symlink ("a.txt", link1), ==, 0);
    g_assert_cmpint (symlink ("..", link2), ==, 0);
    g_assert_cmpint (symlink ("nowhere", link3), ==, 0);
  }

  args = path_args (root);
  f->watch_id = submit (f, "checksum", "sha256", args);
  job = wait_job (f, f->watch_id);
  assert_completed (job);

  result = json_node_get_object (jupiter_job_get_result (job));
  g_assert_cmpstr (json_object_get_string_member (result, "path"), ==, root);
  list = json_object_get_array_member (result, "files");
  g_assert_cmpuint (json_array_get_length (list), ==, G_N_ELEMENTS (files));

  for (guint i = 0; i < G_N_ELEMENTS (files); i++)
    {
      JsonObject *entry = json_array_get_object_element (list, i);
      g_autofree char *expected = sha256_hex (files[i].data, files[i].len);

      g_assert_cmpstr (json_object_get_string_member (entry, "path"), ==, files[i].rel);
      g_assert_cmpstr (json_object_get_string_member (entry, "sha256"), ==, expected);
      g_assert_cmpint (json_object_get_int_member (entry, "size"), ==, files[i].len);
      total += files[i].len;
    }
  g_assert_cmpint (json_object_get_int_member (result, "total_size"), ==, total);

  /* Progress signals: merged as they may be, each names a file of the tree,
   * never goes backwards, and the last one is the end. */
  g_assert_cmpuint (f->n_progress, >=, 1);
  for (guint i = 0; i < f->messages->len; i++)
    {
      const char *message = g_ptr_array_index (f->messages, i);
      gboolean known = FALSE;

      for (guint j = 0; j < G_N_ELEMENTS (files); j++)
        known |= g_strcmp0 (message, files[j].rel) == 0;
      g_assert_true (known);
      g_assert_cmpfloat (g_array_index (f->fractions, double, i), >, 0.0);
      if (i > 0)
        g_assert_cmpfloat (g_array_index (f->fractions, double, i - 1), <=,
                           g_array_index (f->fractions, double, i));
    }
  g_assert_cmpfloat (f->last_fraction, ==, 1.0);
  g_assert_cmpstr (g_ptr_array_index (f->messages, f->messages->len - 1), ==,
                   files[G_N_ELEMENTS (files) - 1].rel);
}

static void
test_checksum_cancel (Fixture       *f,
                      gconstpointer  data)
{
  /* Big enough that hashing it all takes far longer than delivering one
   * progress signal on an idle main context. */
  const guint n_files = 400;
  const gsize file_size = 256 * 1024;
  g_autofree char *root = g_build_filename (f->tmpdir, "many", NULL);
  g_autofree char *block = g_malloc (file_size);
  g_autoptr(JsonNode) args = NULL;
  g_autoptr(JupiterJob) job = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_cmpint (g_mkdir (root, 0755), ==, 0);
  memset (block, 'x', file_size);
  for (guint i = 0; i < n_files; i++)
    {
      g_autofree char *path = g_strdup_printf ("%s/file-%04u", root, i);

      write_file (path, block, file_size);
    }

  f->cancel_on_progress = TRUE;
  args = path_args (root);
  f->watch_id = submit (f, "checksum", "sha256", args);
  job = wait_job (f, f->watch_id);

  g_assert_true (f->cancel_sent);
  g_assert_cmpint (jupiter_job_get_status (job), ==, JUPITER_JOB_STATUS_CANCELLED);
  g_assert_null (jupiter_job_get_result (job));
  g_assert_cmpfloat (jupiter_job_get_progress (job), <, 1.0);

  /* The function notices and returns: the manager becomes idle. */
  g_assert_true (jupiter_job_manager_wait_idle (f->manager, NULL, &error));
  g_assert_no_error (error);
}

/* ------------------------------------------------------------------------ */
/* exec                                                                       */

static JsonNode *
argv_args (const char * const *argv,
           gint64              stdout_cap)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "argv");
  json_builder_begin_array (builder);
  for (guint i = 0; argv[i]; i++)
    json_builder_add_string_value (builder, argv[i]);
  json_builder_end_array (builder);
  if (stdout_cap >= 0)
    {
      json_builder_set_member_name (builder, "stdout_cap");
      json_builder_add_int_value (builder, stdout_cap);
    }
  json_builder_end_object (builder);
  return json_builder_get_root (builder);
}

static void
test_exec_success (Fixture       *f,
                   gconstpointer  data)
{
  const char *argv[] = { "/bin/echo", "hi", NULL };
  g_autoptr(JsonNode) args = argv_args (argv, -1);
  g_autoptr(JupiterJob) job = run_job (f, "exec", "run", args);
  JsonObject *result;

  assert_completed (job);
  result = json_node_get_object (jupiter_job_get_result (job));
  g_assert_true (json_object_has_member (result, "exit_status"));
  g_assert_false (json_object_has_member (result, "signal"));
  g_assert_cmpint (json_object_get_int_member (result, "exit_status"), ==, 0);
  g_assert_cmpstr (json_object_get_string_member (result, "stdout"), ==, "hi\n");
  g_assert_cmpstr (json_object_get_string_member (result, "stderr"), ==, "");
  g_assert_false (json_object_get_boolean_member (result, "stdout_truncated"));
  g_assert_false (json_object_get_boolean_member (result, "stderr_truncated"));
}

static void
test_exec_exit_status (Fixture       *f,
                       gconstpointer  data)
{
  const char *argv[] = { "sh", "-c", "echo out; echo err >&2; exit 3", NULL };
  const char *argv_signal[] = { "sh", "-c", "kill -TERM $$", NULL };
  g_autoptr(JsonNode) args = argv_args (argv, -1);
  g_autoptr(JsonNode) args_signal = argv_args (argv_signal, -1);
  g_autoptr(JupiterJob) job = run_job (f, "exec", "run", args);
  g_autoptr(JupiterJob) job_signal = run_job (f, "exec", "run", args_signal);
  JsonObject *result;

  /* A non-zero exit is the command's result, not a failure of the job. */
  assert_completed (job);
  result = json_node_get_object (jupiter_job_get_result (job));
  g_assert_cmpint (json_object_get_int_member (result, "exit_status"), ==, 3);
  g_assert_cmpstr (json_object_get_string_member (result, "stdout"), ==, "out\n");
  g_assert_cmpstr (json_object_get_string_member (result, "stderr"), ==, "err\n");

  assert_completed (job_signal);
  result = json_node_get_object (jupiter_job_get_result (job_signal));
  g_assert_false (json_object_has_member (result, "exit_status"));
  g_assert_cmpint (json_object_get_int_member (result, "signal"), ==, SIGTERM);
}

static void
test_exec_not_allowed (Fixture       *f,
                       gconstpointer  data)
{
  /* Only exact argv[0] matches run: "echo" is not "/bin/echo". */
  const char *argv[] = { "/bin/ls", "/", NULL };
  const char *argv2[] = { "echo", "hi", NULL };
  g_autoptr(JsonNode) args = argv_args (argv, -1);
  g_autoptr(JsonNode) args2 = argv_args (argv2, -1);
  g_autoptr(JsonNode) bad_args = parse ("{\"argv\": []}");
  g_autoptr(JupiterJob) job = run_job (f, "exec", "run", args);
  g_autoptr(JupiterJob) job2 = run_job (f, "exec", "run", args2);
  g_autoptr(JupiterJob) job3 = run_job (f, "exec", "run", bad_args);
  const GError *error;

  g_assert_cmpint (jupiter_job_get_status (job), ==, JUPITER_JOB_STATUS_FAILED);
  error = jupiter_job_get_error (job);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED);
  g_assert_nonnull (strstr (error->message, "/bin/ls"));

  g_assert_cmpint (jupiter_job_get_status (job2), ==, JUPITER_JOB_STATUS_FAILED);
  g_assert_error (jupiter_job_get_error (job2), G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED);

  g_assert_cmpint (jupiter_job_get_status (job3), ==, JUPITER_JOB_STATUS_FAILED);
  g_assert_error (jupiter_job_get_error (job3), G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
}

static void
test_exec_cap (Fixture       *f,
               gconstpointer  data)
{
  /* 3 MB through a 64 KiB pipe: the child finishes only if the plugin keeps
   * draining past the cap. */
  const char *argv[] = { "sh", "-c", "head -c 3000000 /dev/zero | tr '\\0' a", NULL };
  g_autoptr(JsonNode) args = argv_args (argv, 1000);
  g_autoptr(JupiterJob) job = run_job (f, "exec", "run", args);
  JsonObject *result;
  const char *out;

  assert_completed (job);
  result = json_node_get_object (jupiter_job_get_result (job));
  g_assert_cmpint (json_object_get_int_member (result, "exit_status"), ==, 0);
  g_assert_true (json_object_get_boolean_member (result, "stdout_truncated"));
  g_assert_false (json_object_get_boolean_member (result, "stderr_truncated"));
  out = json_object_get_string_member (result, "stdout");
  g_assert_cmpuint (strlen (out), ==, 1000);
  g_assert_cmpuint (strspn (out, "a"), ==, 1000);

  /* Caps are bounded: the output buffer's length is a guint. */
  {
    const char *echo[] = { "/bin/echo", "x", NULL };
    g_autoptr(JsonNode) huge = argv_args (echo, G_GINT64_CONSTANT (1) << 32);
    g_autoptr(JupiterJob) refused = run_job (f, "exec", "run", huge);

    g_assert_cmpint (jupiter_job_get_status (refused), ==, JUPITER_JOB_STATUS_FAILED);
    g_assert_error (jupiter_job_get_error (refused), G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
    g_assert_nonnull (strstr (jupiter_job_get_error (refused)->message, "stdout_cap"));
  }
}

/* Whether any process of group @pgid is left, reaping those that were
 * reparented to us. */
static gboolean
group_exists (pid_t pgid)
{
  if (is_subreaper)
    {
      /* Blocks until each killed member has exited; none can be stuck,
       * as SIGKILL went to the whole group. */
      while (waitpid (-pgid, NULL, 0) > 0)
        ;
    }
  return !(kill (-pgid, 0) == -1 && errno == ESRCH);
}

static void
test_exec_timeout_kill (Fixture       *f,
                        gconstpointer  data)
{
  /* The shell leaves a grandchild behind; both must die with the group. */
  const char *argv[] = { "sh", "-c", "echo $$; sleep 300 & sleep 300; wait", NULL };
  g_autoptr(JsonNode) args = argv_args (argv, -1);
  g_autoptr(JupiterJob) job = NULL;
  JupiterJobStats stats;
  const char *message = NULL;
  const char *group;
  pid_t pgid;

  jupiter_job_manager_set_default_timeout (f->manager, 200 * G_TIME_SPAN_MILLISECOND);

  f->watch_id = submit (f, "exec", "run", args);
  job = wait_job (f, f->watch_id);
  g_assert_cmpint (jupiter_job_get_status (job), ==, JUPITER_JOB_STATUS_FAILED);
  g_assert_error (jupiter_job_get_error (job), JUPITER_JOB_ERROR, JUPITER_JOB_ERROR_TIMED_OUT);

  /* The plugin names the group in its first progress report, made before
   * the start function returns, so before any timeout. */
  if (f->messages->len > 0)
    message = g_ptr_array_index (f->messages, 0);
  else
    message = jupiter_job_get_message (job);
  g_assert_nonnull (message);
  group = strstr (message, "process group ");
  g_assert_nonnull (group);
  pgid = (pid_t) g_ascii_strtoll (group + strlen ("process group "), NULL, 10);
  g_assert_cmpint (pgid, >, 1);

  /* The job failed at once; the start function runs on until the group is
   * dead and reaped and both pipes closed. Its last callback runs here. */
  for (;;)
    {
      jupiter_job_manager_get_stats (f->manager, &stats);
      if (stats.overdue == 0)
        break;
      g_main_context_iteration (f->context, TRUE);
    }

  /* No process of the group remains. */
  while (group_exists (pgid))
    g_main_context_iteration (f->context, FALSE);
  g_assert_cmpint (kill (-pgid, 0), ==, -1);
  g_assert_cmpint (errno, ==, ESRCH);
}

/* ------------------------------------------------------------------------ */
/* Circuit breaker                                                            */

static void
test_breaker_opens (Fixture       *f,
                    gconstpointer  data)
{
  const char *argv[] = { "/bin/false", NULL };
  g_autoptr(JsonNode) args = argv_args (argv, -1);
  g_autoptr(JsonNode) echo_args = parse ("{\"still\": \"running\"}");
  g_autoptr(JupiterJob) echo_job = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *id = NULL;
  guint threshold = 0;

  g_object_get (f->manager, "circuit-breaker-threshold", &threshold, NULL);
  g_assert_cmpuint (threshold, ==, 3);

  /* Each run fails (the command is not allowed): the third opens the
   * breaker of plugin "exec". */
  for (guint i = 0; i < threshold; i++)
    {
      g_autoptr(JupiterJob) job = run_job (f, "exec", "run", args);

      g_assert_cmpint (jupiter_job_get_status (job), ==, JUPITER_JOB_STATUS_FAILED);
      g_assert_error (jupiter_job_get_error (job), G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED);
    }
  g_assert_true (jupiter_job_manager_is_circuit_open (f->manager, "exec"));

  id = jupiter_plugin_loader_submit (f->loader, f->manager, "exec", "run", args, &error);
  g_assert_error (error, JUPITER_JOB_ERROR, JUPITER_JOB_ERROR_CIRCUIT_OPEN);
  g_assert_null (id);

  /* The other plugins are not affected. */
  g_assert_false (jupiter_job_manager_is_circuit_open (f->manager, "echo"));
  echo_job = run_job (f, "echo", "echo", echo_args);
  assert_completed (echo_job);
  g_assert_true (json_node_equal (jupiter_job_get_result (echo_job), echo_args));
}

/* ------------------------------------------------------------------------ */

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  is_subreaper = prctl (PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0;

#define ADD(path, func) \
  g_test_add (path, Fixture, NULL, fixture_setup, func, fixture_teardown)

  ADD ("/plugins/echo/round-trip", test_echo_round_trip);
  ADD ("/plugins/checksum/file", test_checksum_file);
  ADD ("/plugins/checksum/errors", test_checksum_errors);
  ADD ("/plugins/checksum/tree", test_checksum_tree);
  ADD ("/plugins/checksum/cancel", test_checksum_cancel);
  ADD ("/plugins/exec/success", test_exec_success);
  ADD ("/plugins/exec/exit-status", test_exec_exit_status);
  ADD ("/plugins/exec/not-allowed", test_exec_not_allowed);
  ADD ("/plugins/exec/cap", test_exec_cap);
  ADD ("/plugins/exec/timeout-kill", test_exec_timeout_kill);
  ADD ("/plugins/breaker/opens", test_breaker_opens);

#undef ADD

  return g_test_run ();
}
