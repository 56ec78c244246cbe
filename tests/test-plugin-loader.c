/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "config.h"

#include <jupiter/jupiter.h>
#include <glib/gstdio.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
  GMainContext        *context;
  JupiterJobManager   *manager;
  JupiterPluginLoader *loader;
  char                *dir;      /* a private temporary directory */
} Fixture;

static char *
zoo (const char *variant)
{
  g_autofree char *file = g_strconcat (variant, ".so", NULL);
  g_autofree char *path = g_test_build_filename (G_TEST_BUILT, "plugins-zoo", file, NULL);

  /* The loader names files by their absolute path. */
  return g_canonicalize_filename (path, NULL);
}

static char *copy_to (Fixture *f, const char *src, const char *name, int mode);

/* A private copy of a zoo plugin: a library is loaded once per process
 * (glibc matches files by inode, and the loader refuses a second load), so
 * every test loads files of its own. */
static char *
zoo_copy (Fixture    *f,
          const char *variant)
{
  g_autofree char *src = zoo (variant);
  g_autofree char *name = g_strconcat (variant, ".so", NULL);

  return copy_to (f, src, name, 0755);
}

static char *
zoo_copy_as (Fixture    *f,
             const char *variant,
             const char *name)
{
  g_autofree char *src = zoo (variant);

  return copy_to (f, src, name, 0755);
}

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  f->context = g_main_context_new ();
  g_main_context_push_thread_default (f->context);
  f->manager = g_object_new (JUPITER_TYPE_JOB_MANAGER, "circuit-breaker-threshold", 3, NULL);
  f->loader = jupiter_plugin_loader_new ();
  f->dir = g_dir_make_tmp ("jupiter-plugins-XXXXXX", &error);
  g_assert_no_error (error);
}

static void
remove_tree (const char *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  g_chmod (path, 0700);
  while (dir && (name = g_dir_read_name (dir)))
    {
      g_autofree char *child = g_build_filename (path, name, NULL);
      struct stat st;

      if (lstat (child, &st) == 0 && S_ISDIR (st.st_mode))
        remove_tree (child);
      else
        g_unlink (child);
    }
  g_rmdir (path);
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  g_assert_true (jupiter_job_manager_shutdown (f->manager, 30 * G_TIME_SPAN_SECOND, NULL));
  jupiter_plugin_loader_shutdown (f->loader);
  g_clear_object (&f->manager);
  g_clear_object (&f->loader);
  remove_tree (f->dir);
  g_free (f->dir);
  g_main_context_pop_thread_default (f->context);
  g_main_context_unref (f->context);
}

static char *
copy_to (Fixture    *f,
         const char *src,
         const char *name,
         int         mode)
{
  g_autofree char *contents = NULL;
  gsize len;
  char *dst = g_build_filename (f->dir, name, NULL);

  g_assert_true (g_file_get_contents (src, &contents, &len, NULL));
  g_assert_true (g_file_set_contents (dst, contents, (gssize) len, NULL));
  g_assert_cmpint (g_chmod (dst, mode), ==, 0);
  return dst;
}

static JupiterJob *
run (Fixture    *f,
     const char *plugin_id,
     const char *entry,
     const char *args_json)
{
  g_autoptr(JsonNode) args = args_json ? json_from_string (args_json, NULL) : NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *id = jupiter_plugin_loader_submit (f->loader, f->manager, plugin_id, entry, args, &error);

  g_assert_no_error (error);
  g_assert_nonnull (id);
  return jupiter_job_manager_wait (f->manager, id, NULL, NULL);
}

/* The good plugin works (beside whatever was refused before). */
static void
assert_good_works (Fixture    *f,
                   const char *plugin_id)
{
  g_autoptr(JupiterJob) job = run (f, plugin_id, "hello", "{\"name\": \"zoo\"}");
  JsonObject *result;

  g_assert_cmpint (jupiter_job_get_status (job), ==, JUPITER_JOB_STATUS_COMPLETED);
  result = json_node_get_object (jupiter_job_get_result (job));
  g_assert_cmpstr (json_object_get_string_member (result, "plugin"), ==, plugin_id);
  g_assert_cmpstr (json_object_get_string_member (result, "hello"), ==, "zoo");
  g_assert_cmpstr (json_object_get_string_member (result, "entry"), ==, "hello");
  g_assert_cmpstr (jupiter_job_get_plugin_id (job), ==, plugin_id);
  g_assert_cmpstr (jupiter_job_get_entry_name (job), ==, "hello");
}

static void
test_good (Fixture       *f,
           gconstpointer  data)
{
  g_autofree char *path = zoo_copy (f, "zoo-good");
  g_autofree char *marker = g_build_filename (f->dir, "shut-down", NULL);
  g_autofree char *config_json = g_strdup_printf ("{\"shutdown_marker\": \"%s\"}", marker);
  g_autoptr(JsonNode) config = json_from_string (config_json, NULL);
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) entries = NULL;
  g_autoptr(JupiterJob) later = NULL;
  JupiterPlugin *plugin;

  plugin = jupiter_plugin_loader_load_file (f->loader, path, config, &error);
  g_assert_no_error (error);
  g_assert_nonnull (plugin);
  g_assert_cmpint (jupiter_plugin_get_state (plugin), ==, JUPITER_PLUGIN_STATE_LOADED);
  g_assert_null (jupiter_plugin_get_error (plugin));
  g_assert_cmpstr (jupiter_plugin_get_id (plugin), ==, "good");
  g_assert_cmpstr (jupiter_plugin_get_name (plugin), ==, "Zoo");
  g_assert_cmpstr (jupiter_plugin_get_version (plugin), ==, "1.0");
  g_assert_cmpstr (jupiter_plugin_get_license (plugin), ==, "LGPL-2.1-or-later");
  g_assert_nonnull (jupiter_plugin_get_description (plugin));
  g_assert_cmpstr (jupiter_plugin_get_path (plugin), ==, path);
  entries = jupiter_plugin_dup_entry_names (plugin);
  g_assert_cmpstrv (entries, ((const char *[]) { "hello", "later", "fail", NULL }));
  g_assert_cmpstr (jupiter_plugin_get_entry_description (plugin, "later"), ==, "Returns later");
  g_assert_true (jupiter_plugin_loader_get (f->loader, "good") == plugin);

  assert_good_works (f, "good");
  later = run (f, "good", "later", NULL);
  g_assert_cmpstr (json_node_get_string (jupiter_job_get_result (later)), ==, "later");

  g_assert_null (jupiter_plugin_loader_submit (f->loader, f->manager, "good", "missing", NULL, &error));
  g_assert_error (error, JUPITER_PLUGIN_ERROR, JUPITER_PLUGIN_ERROR_NO_ENTRY);
  g_assert_nonnull (strstr (error->message, "missing"));
  g_assert_nonnull (strstr (error->message, "hello, later, fail"));
  g_clear_error (&error);
  g_assert_null (jupiter_plugin_loader_submit (f->loader, f->manager, "nobody", "hello", NULL, &error));
  g_assert_error (error, JUPITER_PLUGIN_ERROR, JUPITER_PLUGIN_ERROR_NOT_FOUND);
  g_clear_error (&error);

  /* shutdown runs once, after the jobs; then entries cannot run. */
  g_assert_true (jupiter_job_manager_shutdown (f->manager, 30 * G_TIME_SPAN_SECOND, NULL));
  jupiter_plugin_loader_shutdown (f->loader);
  g_assert_true (g_file_test (marker, G_FILE_TEST_IS_REGULAR));
  g_assert_null (jupiter_plugin_loader_submit (f->loader, f->manager, "good", "hello", NULL, &error));
  g_assert_error (error, JUPITER_PLUGIN_ERROR, JUPITER_PLUGIN_ERROR_NOT_LOADED);
}

typedef struct {
  const char *variant;
  int         code;
  const char *reason;
} Broken;

static const Broken broken[] = {
  { "zoo-no-symbol", JUPITER_PLUGIN_ERROR_NO_DESCRIPTOR, "jupiter_plugin_describe" },
  { "zoo-null-descriptor", JUPITER_PLUGIN_ERROR_NO_DESCRIPTOR, "no descriptor" },
  { "zoo-abi-major-new", JUPITER_PLUGIN_ERROR_ABI, "SDK ABI 2.0" },
  { "zoo-abi-major-old", JUPITER_PLUGIN_ERROR_ABI, "SDK ABI 0.0" },
  { "zoo-abi-minor-new", JUPITER_PLUGIN_ERROR_ABI, "newer" },
  { "zoo-descriptor-small", JUPITER_PLUGIN_ERROR_INVALID, "descriptor is 16 bytes" },
  { "zoo-entry-small", JUPITER_PLUGIN_ERROR_INVALID, "entries are 8 bytes" },
  { "zoo-no-id", JUPITER_PLUGIN_ERROR_INVALID, "no id" },
  { "zoo-no-name", JUPITER_PLUGIN_ERROR_INVALID, "has no name" },
  { "zoo-no-version", JUPITER_PLUGIN_ERROR_INVALID, "has no version" },
  { "zoo-dup-entry", JUPITER_PLUGIN_ERROR_INVALID, "two entries are named" },
  { "zoo-entry-no-func", JUPITER_PLUGIN_ERROR_INVALID, "exactly one function" },
  { "zoo-init-fails", JUPITER_PLUGIN_ERROR_INIT, "the zoo keeper is away" },
  { "zoo-unresolved", JUPITER_PLUGIN_ERROR_LOAD, "zoo_function_nobody_defines" },
};

static void
assert_refused (Fixture    *f,
                const char *path,
                int         code,
                const char *reason)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) all = NULL;
  JupiterPlugin *listed = NULL;

  g_assert_null (jupiter_plugin_loader_load_file (f->loader, path, NULL, &error));
  if (!g_error_matches (error, JUPITER_PLUGIN_ERROR, code))
    g_error ("%s: expected code %d, got: %s", path, code, error ? error->message : "success");
  if (strstr (error->message, path) == NULL || strstr (error->message, reason) == NULL)
    g_error ("%s: the message “%s” should name the file and say “%s”", path, error->message, reason);

  /* Listed, with its reason. */
  all = jupiter_plugin_loader_list (f->loader);
  for (guint i = 0; i < all->len; i++)
    if (g_str_equal (jupiter_plugin_get_path (all->pdata[i]), path))
      listed = all->pdata[i];
  g_assert_nonnull (listed);
  g_assert_cmpint (jupiter_plugin_get_state (listed), ==, JUPITER_PLUGIN_STATE_FAILED);
  g_assert_error ((GError *) jupiter_plugin_get_error (listed), JUPITER_PLUGIN_ERROR, code);
}

static void
test_broken_zoo (Fixture       *f,
                 gconstpointer  data)
{
  g_autofree char *good = zoo_copy (f, "zoo-good");

  for (guint i = 0; i < G_N_ELEMENTS (broken); i++)
    {
      g_autofree char *path = zoo (broken[i].variant);

      g_test_message ("%s", broken[i].variant);
      assert_refused (f, path, broken[i].code, broken[i].reason);
    }
  /* A good plugin loaded beside them all works. */
  g_assert_nonnull (jupiter_plugin_loader_load_file (f->loader, good, NULL, NULL));
  assert_good_works (f, "good");
}

static void
test_unsafe_files (Fixture       *f,
                   gconstpointer  data)
{
  g_autofree char *good = zoo_copy (f, "zoo-good");
  g_autofree char *not_elf = g_build_filename (f->dir, "text.so", NULL);
  g_autofree char *truncated = copy_to (f, good, "truncated.so", 0644);
  g_autofree char *world = copy_to (f, good, "world.so", 0666);
  g_autofree char *group = copy_to (f, good, "group.so", 0664);
  g_autofree char *link = g_build_filename (f->dir, "link.so", NULL);
  g_autofree char *open_dir = g_build_filename (f->dir, "open", NULL);
  g_autofree char *in_open_dir = NULL;
  g_autofree char *missing = g_build_filename (f->dir, "missing.so", NULL);

  g_assert_true (g_file_set_contents (not_elf, "this is not an ELF file\n", -1, NULL));
  g_assert_cmpint (truncate (truncated, 200), ==, 0);
  g_assert_cmpint (symlink (good, link), ==, 0);
  g_assert_cmpint (g_mkdir (open_dir, 0755), ==, 0);
  g_assert_cmpint (g_chmod (open_dir, 0777), ==, 0);
  in_open_dir = g_build_filename (open_dir, "good.so", NULL);
  g_free (copy_to (f, good, "open/good.so", 0644));

  assert_refused (f, not_elf, JUPITER_PLUGIN_ERROR_LOAD, "cannot be loaded");
  assert_refused (f, truncated, JUPITER_PLUGIN_ERROR_LOAD, "cannot be loaded");
  assert_refused (f, world, JUPITER_PLUGIN_ERROR_UNSAFE, "writable by everyone");
  assert_refused (f, group, JUPITER_PLUGIN_ERROR_UNSAFE, "writable by its group");
  assert_refused (f, link, JUPITER_PLUGIN_ERROR_UNSAFE, "symbolic link");
  assert_refused (f, in_open_dir, JUPITER_PLUGIN_ERROR_UNSAFE, "its directory is writable by everyone");
  assert_refused (f, missing, JUPITER_PLUGIN_ERROR_NOT_FOUND, "cannot open");

  g_assert_nonnull (jupiter_plugin_loader_load_file (f->loader, good, NULL, NULL));
  assert_good_works (f, "good");
}

static void
test_allow_unsafe (Fixture       *f,
                   gconstpointer  data)
{
  if (g_test_subprocess ())
    {
      g_autofree char *world = NULL;
      g_autofree char *second = zoo_copy (f, "zoo-second");
      g_autoptr(GError) error = NULL;

      /* The warning is the point here: not fatal in this child. */
      g_log_set_always_fatal (G_LOG_FATAL_MASK);
      world = copy_to (f, second, "world.so", 0666);
      g_object_set (f->loader, "allow-unsafe", TRUE, NULL);
      g_assert_nonnull (jupiter_plugin_loader_load_file (f->loader, world, NULL, &error));
      g_assert_no_error (error);
      assert_good_works (f, "second");
      return;
    }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
  g_test_trap_assert_stderr ("*WARNING*world.so without the ownership and permission checks*");
}

static void
test_duplicate_id (Fixture       *f,
                   gconstpointer  data)
{
  g_autofree char *good = zoo_copy (f, "zoo-good");
  g_autofree char *dup = zoo_copy (f, "zoo-dup-id");
  g_autoptr(GError) error = NULL;

  g_assert_nonnull (jupiter_plugin_loader_load_file (f->loader, good, NULL, NULL));
  assert_refused (f, dup, JUPITER_PLUGIN_ERROR_DUPLICATE, "already provided by");
  /* Another copy: the message names the file that holds the id. */
  {
    g_autofree char *dup2 = zoo_copy_as (f, "zoo-dup-id", "dup2.so");

    g_assert_null (jupiter_plugin_loader_load_file (f->loader, dup2, NULL, &error));
    g_assert_error (error, JUPITER_PLUGIN_ERROR, JUPITER_PLUGIN_ERROR_DUPLICATE);
    g_assert_nonnull (strstr (error->message, good));
    g_clear_error (&error);
  }
  /* The refused library stays loaded: trying it again runs none of it. */
  g_assert_null (jupiter_plugin_loader_load_file (f->loader, dup, NULL, &error));
  g_assert_error (error, JUPITER_PLUGIN_ERROR, JUPITER_PLUGIN_ERROR_DUPLICATE);
  g_assert_nonnull (strstr (error->message, "already loaded in this process"));
  assert_good_works (f, "good");
}

static void
test_two_plugins (Fixture       *f,
                  gconstpointer  data)
{
  g_autofree char *good = zoo_copy (f, "zoo-good");
  g_autofree char *second = zoo_copy (f, "zoo-second");

  g_test_summary ("Two different plugins loaded one after the other are both "
                  "themselves (a reused /proc/self/fd name would hand back the first).");
  g_assert_nonnull (jupiter_plugin_loader_load_file (f->loader, good, NULL, NULL));
  g_assert_nonnull (jupiter_plugin_loader_load_file (f->loader, second, NULL, NULL));
  assert_good_works (f, "good");
  assert_good_works (f, "second");
}

static void
test_discover_and_load_by_id (Fixture       *f,
                              gconstpointer  data)
{
  /* Copied under the names discovery maps to ids; nothing else in f->dir. */
  g_autofree char *good = zoo ("zoo-good");
  g_autofree char *second = zoo ("zoo-second");
  g_autofree char *not_elf = g_build_filename (f->dir, "broken.so", NULL);
  g_autofree char *link = g_build_filename (f->dir, "link.so", NULL);
  const char *path[] = { f->dir, NULL };
  g_autoptr(GPtrArray) all = NULL;
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) search = NULL;
  guint failed = 0;

  g_free (copy_to (f, good, "good.so", 0644));
  g_free (copy_to (f, second, "second.so", 0644));
  g_assert_true (g_file_set_contents (not_elf, "nope", -1, NULL));
  g_free (copy_to (f, good, "writable.so", 0666));
  g_assert_cmpint (symlink (good, link), ==, 0);
  jupiter_plugin_loader_set_search_path (f->loader, path);
  search = jupiter_plugin_loader_get_search_path (f->loader);
  g_assert_cmpstrv (search, path);

  /* Regular *.so files only: the symlink is not tried. */
  g_assert_cmpuint (jupiter_plugin_loader_discover (f->loader), ==, 2);
  all = jupiter_plugin_loader_list (f->loader);
  g_assert_cmpuint (all->len, ==, 4);
  for (guint i = 0; i < all->len; i++)
    failed += jupiter_plugin_get_state (all->pdata[i]) == JUPITER_PLUGIN_STATE_FAILED;
  g_assert_cmpuint (failed, ==, 2);
  assert_good_works (f, "good");
  assert_good_works (f, "second");
  /* Discovering again loads nothing twice and retries no failure, not
   * even one refused before it was opened (the writable file). */
  g_assert_cmpuint (jupiter_plugin_loader_discover (f->loader), ==, 0);
  {
    g_autoptr(GPtrArray) again = jupiter_plugin_loader_list (f->loader);
    g_assert_cmpuint (again->len, ==, 4);
  }
  /* Once fixed (its change time moves), the refused file is tried again:
   * here it is then refused for holding plugin "good", not "writable". */
  {
    g_autofree char *writable = g_build_filename (f->dir, "writable.so", NULL);
    g_autoptr(GPtrArray) fixed = NULL;
    JupiterPlugin *last;

    g_assert_cmpint (g_chmod (writable, 0644), ==, 0);
    g_assert_cmpuint (jupiter_plugin_loader_discover (f->loader), ==, 0);
    fixed = jupiter_plugin_loader_list (f->loader);
    g_assert_cmpuint (fixed->len, ==, 5);
    last = fixed->pdata[4];
    g_assert_cmpstr (jupiter_plugin_get_path (last), ==, writable);
    g_assert_error (jupiter_plugin_get_error (last), JUPITER_PLUGIN_ERROR, JUPITER_PLUGIN_ERROR_INVALID);
  }

  g_assert_null (jupiter_plugin_loader_load (f->loader, "absent", NULL, &error));
  g_assert_error (error, JUPITER_PLUGIN_ERROR, JUPITER_PLUGIN_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, "absent.so"));
}

static void
test_same_library_and_file_name (Fixture       *f,
                                 gconstpointer  data)
{
  g_autofree char *good = zoo_copy (f, "zoo-good");
  g_autofree char *hard = g_build_filename (f->dir, "hard.so", NULL);
  g_autoptr(JupiterPluginLoader) other = jupiter_plugin_loader_new ();
  const char *path[] = { f->dir, NULL };
  g_autoptr(GError) error = NULL;

  g_assert_nonnull (jupiter_plugin_loader_load_file (f->loader, good, NULL, &error));
  g_assert_no_error (error);

  /* The same file through another loader, or under another name (a hard
   * link), would be the loaded copy with its state: refused. */
  g_assert_null (jupiter_plugin_loader_load_file (other, good, NULL, &error));
  g_assert_error (error, JUPITER_PLUGIN_ERROR, JUPITER_PLUGIN_ERROR_DUPLICATE);
  g_assert_nonnull (strstr (error->message, "already loaded in this process"));
  g_assert_nonnull (strstr (error->message, good));
  g_clear_error (&error);
  g_assert_cmpint (link (good, hard), ==, 0);
  g_assert_null (jupiter_plugin_loader_load_file (other, hard, NULL, &error));
  g_assert_error (error, JUPITER_PLUGIN_ERROR, JUPITER_PLUGIN_ERROR_DUPLICATE);
  g_clear_error (&error);
  g_assert_cmpint (g_unlink (hard), ==, 0);

  /* Loaded by id, the file must hold the plugin its name says. */
  g_free (zoo_copy_as (f, "zoo-second", "third.so"));
  jupiter_plugin_loader_set_search_path (other, path);
  g_assert_null (jupiter_plugin_loader_load (other, "third", NULL, &error));
  g_assert_error (error, JUPITER_PLUGIN_ERROR, JUPITER_PLUGIN_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "named for plugin “third” but holds plugin “second”"));
  g_assert_null (jupiter_plugin_loader_get (other, "second"));
  jupiter_plugin_loader_shutdown (other);
  g_clear_error (&error);

  /* After shutdown a loader loads nothing. */
  {
    g_autofree char *late = zoo_copy_as (f, "zoo-second", "late.so");

    g_assert_null (jupiter_plugin_loader_load_file (other, late, NULL, &error));
    g_assert_error (error, JUPITER_PLUGIN_ERROR, JUPITER_PLUGIN_ERROR_NOT_LOADED);
    g_assert_nonnull (strstr (error->message, late));
  }
  assert_good_works (f, "good");
}

/* A library whose load failed after dlopen() stays loaded: no loader runs
 * its code again (here: its init). */
static void
test_failed_library_not_rerun (Fixture       *f,
                               gconstpointer  data)
{
  g_autofree char *bad = zoo_copy (f, "zoo-init-fails");
  g_autoptr(JupiterPluginLoader) other = jupiter_plugin_loader_new ();
  g_autoptr(GError) error = NULL;

  g_assert_null (jupiter_plugin_loader_load_file (f->loader, bad, NULL, &error));
  g_assert_error (error, JUPITER_PLUGIN_ERROR, JUPITER_PLUGIN_ERROR_INIT);
  g_clear_error (&error);
  g_assert_null (jupiter_plugin_loader_load_file (other, bad, NULL, &error));
  g_assert_error (error, JUPITER_PLUGIN_ERROR, JUPITER_PLUGIN_ERROR_DUPLICATE);
  g_assert_nonnull (strstr (error->message, "already loaded in this process"));
  g_clear_error (&error);
  g_assert_null (jupiter_plugin_loader_load_file (f->loader, bad, NULL, &error));
  g_assert_error (error, JUPITER_PLUGIN_ERROR, JUPITER_PLUGIN_ERROR_DUPLICATE);
}

typedef struct {
  JupiterPluginLoader *loader;
  const char          *path;
  JsonNode            *config;
} Load;

static gpointer
load_in_thread (gpointer data)
{
  Load *load = data;
  g_autoptr(GError) error = NULL;
  JupiterPlugin *plugin = jupiter_plugin_loader_load_file (load->loader, load->path, load->config, &error);

  g_assert_no_error (error);
  return plugin;
}

/* While one load is inside the plugin's init, a second load of the same
 * library (through another loader) and of the same id (from another file)
 * are refused at once, and the init ran once. */
static void
test_concurrent_loads (Fixture       *f,
                       gconstpointer  data)
{
  g_autofree char *good = zoo_copy (f, "zoo-good");
  g_autofree char *good_again = zoo_copy_as (f, "zoo-good", "good-again.so");
  g_autofree char *entered = g_build_filename (f->dir, "entered", NULL);
  g_autofree char *gate = g_build_filename (f->dir, "gate", NULL);
  g_autofree char *init_log = g_build_filename (f->dir, "init.log", NULL);
  g_autofree char *config_json = NULL;
  g_autofree char *log = NULL;
  g_autoptr(JsonNode) config = NULL;
  g_autoptr(JupiterPluginLoader) other = jupiter_plugin_loader_new ();
  g_autoptr(GError) error = NULL;
  Load load = { f->loader, good, NULL };
  GThread *thread;
  int fd;

  g_assert_cmpint (mkfifo (entered, 0600), ==, 0);
  g_assert_cmpint (mkfifo (gate, 0600), ==, 0);
  config_json = g_strdup_printf ("{\"entered\": \"%s\", \"gate\": \"%s\", \"init_log\": \"%s\"}",
                                 entered, gate, init_log);
  config = json_from_string (config_json, &error);
  g_assert_no_error (error);
  load.config = config;

  thread = g_thread_new ("load", load_in_thread, &load);
  /* Returns once the thread's init has opened "entered": it is inside. */
  fd = open (entered, O_RDONLY | O_CLOEXEC);
  g_assert_cmpint (fd, >=, 0);
  close (fd);

  g_assert_null (jupiter_plugin_loader_load_file (other, good, config, &error));
  g_assert_error (error, JUPITER_PLUGIN_ERROR, JUPITER_PLUGIN_ERROR_DUPLICATE);
  g_assert_nonnull (strstr (error->message, "already loaded in this process"));
  g_clear_error (&error);
  g_assert_null (jupiter_plugin_loader_load_file (f->loader, good_again, config, &error));
  g_assert_error (error, JUPITER_PLUGIN_ERROR, JUPITER_PLUGIN_ERROR_DUPLICATE);
  g_assert_nonnull (strstr (error->message, "is being loaded from"));
  g_assert_nonnull (strstr (error->message, good));
  g_clear_error (&error);

  /* Let the first init finish. */
  fd = open (gate, O_WRONLY | O_CLOEXEC);
  g_assert_cmpint (fd, >=, 0);
  close (fd);
  g_assert_nonnull (g_thread_join (thread));

  g_assert_true (g_file_get_contents (init_log, &log, NULL, NULL));
  g_assert_cmpstr (log, ==, "i");
  g_assert_nonnull (jupiter_plugin_loader_get (f->loader, "good"));
  assert_good_works (f, "good");
  jupiter_plugin_loader_shutdown (other);
}

static void
test_default_search_path (void)
{
  g_autoptr(JupiterPluginLoader) loader = NULL;
  g_auto(GStrv) path = NULL;

  g_setenv ("JUPITER_PLUGIN_PATH", "/opt/a:/opt/b", TRUE);
  loader = jupiter_plugin_loader_new ();
  path = jupiter_plugin_loader_get_search_path (loader);
  g_assert_cmpuint (g_strv_length (path), ==, 3);
  g_assert_cmpstr (path[0], ==, "/opt/a");
  g_assert_cmpstr (path[1], ==, "/opt/b");
  g_assert_true (g_str_has_suffix (path[2], "jupiter-1/plugins"));
  g_unsetenv ("JUPITER_PLUGIN_PATH");
}

static void
test_breaker (Fixture       *f,
              gconstpointer  data)
{
  g_autofree char *good = zoo_copy (f, "zoo-good");
  g_autofree char *second = zoo_copy (f, "zoo-second");
  g_autoptr(GError) error = NULL;

  g_assert_nonnull (jupiter_plugin_loader_load_file (f->loader, good, NULL, NULL));
  g_assert_nonnull (jupiter_plugin_loader_load_file (f->loader, second, NULL, NULL));
  for (guint i = 0; i < 3; i++)
    {
      g_autoptr(JupiterJob) job = run (f, "good", "fail", NULL);
      g_assert_cmpint (jupiter_job_get_status (job), ==, JUPITER_JOB_STATUS_FAILED);
    }
  g_assert_true (jupiter_job_manager_is_circuit_open (f->manager, "good"));
  g_assert_null (jupiter_plugin_loader_submit (f->loader, f->manager, "good", "hello", NULL, &error));
  g_assert_error (error, JUPITER_JOB_ERROR, JUPITER_JOB_ERROR_CIRCUIT_OPEN);
  /* The other plugin runs on. */
  assert_good_works (f, "second");
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  (void) g_io_error_quark ();

#define ADD(path, func) g_test_add ("/plugin-loader/" path, Fixture, NULL, fixture_setup, func, fixture_teardown)
  ADD ("good", test_good);
  ADD ("broken-zoo", test_broken_zoo);
  ADD ("unsafe-files", test_unsafe_files);
  ADD ("allow-unsafe", test_allow_unsafe);
  ADD ("duplicate-id", test_duplicate_id);
  ADD ("two-plugins", test_two_plugins);
  ADD ("discover-and-load-by-id", test_discover_and_load_by_id);
  ADD ("breaker", test_breaker);
  ADD ("same-library-and-file-name", test_same_library_and_file_name);
  ADD ("failed-library-not-rerun", test_failed_library_not_rerun);
  ADD ("concurrent-loads", test_concurrent_loads);
#undef ADD
  g_test_add_func ("/plugin-loader/default-search-path", test_default_search_path);

  return g_test_run ();
}
