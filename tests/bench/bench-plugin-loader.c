/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench-plugin-loader: microseconds to load one plugin through
 * JupiterPluginLoader, all checks on, against a bare dlopen() + dlsym() +
 * init of the same kind of file.
 *
 * The template plugin (tests/bench/bench-plugin.c, built by meson, its path
 * given as the first argument) holds the 16-character id "benchplugin00000".
 * The parent copies it N + 1 times into each of two directories of a fresh
 * temporary directory (mode 0700; the copies 0644, owned by this user),
 * patching the id in each copy to "benchplugin%05u" (same length, so the ELF
 * stays valid): distinct ids and distinct inodes, and the bare arm has its
 * own files, since glibc hands back the handle of a file it has already
 * loaded (DESIGN.md, section 10).
 *
 * Each arm runs in a child process of its own (this program re-executed):
 *
 *  - `--arm=loader DIR N`: jupiter_plugin_loader_load_file() of each file,
 *    with the default (safe) settings: O_NOFOLLOW open, fstat() checks of
 *    the file and its directory, dlopen() of /proc/self/fd/N with
 *    RTLD_NOW | RTLD_LOCAL, the descriptor checks, the duplicate-id check
 *    and the plugin's init;
 *  - `--arm=bare DIR N`: dlopen (path, RTLD_NOW | RTLD_LOCAL),
 *    dlsym ("jupiter_plugin_describe"), the describe call with a zeroed host
 *    table whose ABI and size are set, a strcmp() of the descriptor's id
 *    against the expected one (the loader reads the id too), and
 *    init (NULL, &error).
 *
 * Both arms load file 0 first, untimed (first-use costs: GType classes,
 * the loader's own setup), then time files 1..N and print the span. The
 * parent runs the arms alternately, several rounds (a fresh process every
 * time, so every file is loaded once per process), and prints the best and
 * the median per plugin, and the ratio of the bests.
 *
 * The children run with G_SLICE, G_DEBUG, G_MESSAGES_DEBUG and
 * MALLOC_PERTURB_ removed from their environment.
 *
 * Usage: bench-plugin-loader TEMPLATE.so [N]; N also from
 * JUPITER_BENCH_PLUGINS (default 200), rounds from JUPITER_BENCH_REPS
 * (default 11). Exits non-zero only when a plugin fails to load or a count
 * or id is wrong, never because of the figures.
 */

#include "config.h"

#include <jupiter/jupiter.h>

#include "bench-common.h"

#include <glib/gstdio.h>

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_PLUGINS     200
#define DEFAULT_REPS        11
#define TARGET_RATIO        1.2
#define PLACEHOLDER_ID      "benchplugin00000"
#define ID_FORMAT           "benchplugin%05u"
#define MAX_PLUGINS         99999

/* ------------------------------------------------------------------------ */
/* Children                                                                  */

static char *
plugin_id (guint i)
{
  return g_strdup_printf (ID_FORMAT, i);
}

static char *
plugin_path (const char *dir,
             guint       i)
{
  g_autofree char *id = plugin_id (i);
  g_autofree char *file = g_strconcat (id, ".so", NULL);

  return g_build_filename (dir, file, NULL);
}

static gboolean
load_with_loader (JupiterPluginLoader *loader,
                  const char          *path,
                  guint                i)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *id = plugin_id (i);
  JupiterPlugin *plugin;

  plugin = jupiter_plugin_loader_load_file (loader, path, NULL, &error);
  if (plugin == NULL)
    {
      g_printerr ("loader arm: %s\n", error->message);
      return FALSE;
    }
  if (jupiter_plugin_get_state (plugin) != JUPITER_PLUGIN_STATE_LOADED ||
      g_strcmp0 (jupiter_plugin_get_id (plugin), id) != 0)
    {
      g_printerr ("loader arm: %s: loaded as “%s”, want “%s”\n", path,
                  jupiter_plugin_get_id (plugin), id);
      return FALSE;
    }
  return TRUE;
}

static const JupiterHostFuncs bare_host_funcs = {
  .abi_major = JUPITER_SDK_ABI_MAJOR,
  .abi_minor = JUPITER_SDK_ABI_MINOR,
  .struct_size = sizeof (JupiterHostFuncs),
};

static gboolean
load_bare (const char  *path,
           guint        i,
           void       **handle_out)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *id = plugin_id (i);
  JupiterPluginDescribeFunc describe;
  const JupiterPluginDescriptor *desc;
  void *handle;

  handle = dlopen (path, RTLD_NOW | RTLD_LOCAL);
  if (handle == NULL)
    {
      g_printerr ("bare arm: %s: %s\n", path, dlerror ());
      return FALSE;
    }
  describe = (JupiterPluginDescribeFunc) dlsym (handle, JUPITER_PLUGIN_SYMBOL);
  if (describe == NULL)
    {
      g_printerr ("bare arm: %s: no %s\n", path, JUPITER_PLUGIN_SYMBOL);
      return FALSE;
    }
  desc = describe (&bare_host_funcs);
  if (desc == NULL || desc->id == NULL || strcmp (desc->id, id) != 0)
    {
      g_printerr ("bare arm: %s: descriptor id “%s”, want “%s”\n", path,
                  desc && desc->id ? desc->id : "(none)", id);
      return FALSE;
    }
  if (desc->init && !desc->init (NULL, &error))
    {
      g_printerr ("bare arm: %s: init failed: %s\n", path,
                  error ? error->message : "no reason given");
      return FALSE;
    }
  *handle_out = handle;
  return TRUE;
}

static int
run_child (const char *arm,
           const char *dir,
           guint       n_plugins)
{
  g_autoptr(JupiterPluginLoader) loader = NULL;
  g_autoptr(GPtrArray) paths = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GHashTable) handles = g_hash_table_new (NULL, NULL);
  gboolean use_loader;
  gint64 start, end;
  gboolean ok = TRUE;

  if (g_str_equal (arm, "loader"))
    use_loader = TRUE;
  else if (g_str_equal (arm, "bare"))
    use_loader = FALSE;
  else
    {
      g_printerr ("Unknown arm \"%s\"\n", arm);
      return 2;
    }

  /* The paths are built before the clock starts. */
  for (guint i = 0; i <= n_plugins; i++)
    g_ptr_array_add (paths, plugin_path (dir, i));

  /* File 0, untimed: the first-use costs of either arm. */
  if (use_loader)
    {
      loader = jupiter_plugin_loader_new ();
      if (!load_with_loader (loader, paths->pdata[0], 0))
        return EXIT_FAILURE;
    }
  else
    {
      void *handle;

      if (!load_bare (paths->pdata[0], 0, &handle))
        return EXIT_FAILURE;
      g_hash_table_add (handles, handle);
    }

  start = g_get_monotonic_time ();
  if (use_loader)
    {
      for (guint i = 1; i <= n_plugins && ok; i++)
        ok = load_with_loader (loader, paths->pdata[i], i);
    }
  else
    {
      for (guint i = 1; i <= n_plugins && ok; i++)
        {
          void *handle = NULL;

          ok = load_bare (paths->pdata[i], i, &handle);
          /* glibc must not have handed back an earlier file's handle. */
          if (ok && !g_hash_table_add (handles, handle))
            {
              g_printerr ("bare arm: %s: dlopen returned an earlier handle\n",
                          (const char *) paths->pdata[i]);
              ok = FALSE;
            }
        }
    }
  end = g_get_monotonic_time ();

  if (!ok)
    return EXIT_FAILURE;

  if (use_loader)
    {
      g_autoptr(GPtrArray) list = jupiter_plugin_loader_list (loader);

      if (list->len != n_plugins + 1)
        {
          g_printerr ("loader arm: %u plugins listed, want %u\n", list->len, n_plugins + 1);
          return EXIT_FAILURE;
        }
      /* Plugins are never unloaded: a host shuts them down, that is all. */
      jupiter_plugin_loader_shutdown (loader);
    }

  /* The line the parent parses. */
  g_print ("usec=%" G_GINT64_FORMAT " n=%u\n", end - start, n_plugins);
  return EXIT_SUCCESS;
}

/* ------------------------------------------------------------------------ */
/* Parent                                                                    */

static gboolean
write_copies (const char *template_path,
              const char *dir,
              guint       n_plugins)
{
  g_autofree char *contents = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GArray) offsets = g_array_new (FALSE, FALSE, sizeof (gsize));
  gsize length;
  const char *p;

  if (!g_file_get_contents (template_path, &contents, &length, &error))
    {
      g_printerr ("Cannot read the template plugin: %s\n", error->message);
      return FALSE;
    }
  for (p = contents;
       (p = memmem (p, length - (gsize) (p - contents),
                    PLACEHOLDER_ID, strlen (PLACEHOLDER_ID))) != NULL;
       p += strlen (PLACEHOLDER_ID))
    {
      gsize offset = (gsize) (p - contents);

      g_array_append_val (offsets, offset);
    }
  if (offsets->len == 0)
    {
      g_printerr ("%s: the placeholder id \"%s\" is not in the file\n",
                  template_path, PLACEHOLDER_ID);
      return FALSE;
    }

  if (g_mkdir (dir, 0700) != 0)
    {
      g_printerr ("Cannot create %s: %s\n", dir, g_strerror (errno));
      return FALSE;
    }
  for (guint i = 0; i <= n_plugins; i++)
    {
      g_autofree char *id = plugin_id (i);
      g_autofree char *path = plugin_path (dir, i);

      g_assert_cmpuint (strlen (id), ==, strlen (PLACEHOLDER_ID));
      for (guint k = 0; k < offsets->len; k++)
        memcpy (contents + g_array_index (offsets, gsize, k), id, strlen (id));
      if (!g_file_set_contents_full (path, contents, (gssize) length,
                                     G_FILE_SET_CONTENTS_NONE, 0644, &error))
        {
          g_printerr ("Cannot write %s: %s\n", path, error->message);
          return FALSE;
        }
      /* Whatever the umask: the loader refuses group- or world-writable files. */
      if (chmod (path, 0644) != 0)
        {
          g_printerr ("Cannot chmod %s: %s\n", path, g_strerror (errno));
          return FALSE;
        }
    }
  return TRUE;
}

static void
remove_tree (const char *dir,
             guint       n_plugins)
{
  static const char *const arms[] = { "loader", "bare" };

  for (guint a = 0; a < G_N_ELEMENTS (arms); a++)
    {
      g_autofree char *sub = g_build_filename (dir, arms[a], NULL);

      for (guint i = 0; i <= n_plugins; i++)
        {
          g_autofree char *path = plugin_path (sub, i);

          g_unlink (path);
        }
      g_rmdir (sub);
    }
  g_rmdir (dir);
}

static gboolean
run_arm (const char *self_exe,
         const char *arm,
         const char *dir,
         guint       n_plugins,
         gint64     *usec)
{
  g_autofree char *arm_arg = g_strdup_printf ("--arm=%s", arm);
  g_autofree char *n_arg = g_strdup_printf ("%u", n_plugins);
  const char *child_argv[] = { self_exe, arm_arg, dir, n_arg, NULL };
  g_autofree char *out = bench_run_arm (child_argv, arm);
  const char *line;
  guint n_done;

  if (out == NULL)
    return FALSE;

  line = out ? strstr (out, "usec=") : NULL;
  if (line == NULL ||
      sscanf (line, "usec=%" G_GINT64_FORMAT " n=%u", usec, &n_done) != 2 ||
      n_done != n_plugins)
    {
      g_printerr ("The %s arm printed no figures: \"%s\"\n", arm, out ? out : "");
      return FALSE;
    }
  return TRUE;
}



static double
us_per_plugin (gint64 usec,
               guint  n_plugins)
{
  return (double) usec / (double) n_plugins;
}

static guint
parse_count (const char *str,
             const char *what,
             guint       fallback)
{
  return (guint) bench_parse_count (str, what, fallback, MAX_PLUGINS);
}

int
main (int   argc,
      char *argv[])
{
  g_autofree char *self_exe = NULL;
  g_autofree char *tmp = NULL;
  g_autofree char *loader_dir = NULL;
  g_autofree char *bare_dir = NULL;
  g_autofree gint64 *loader_spans = NULL;
  g_autofree gint64 *bare_spans = NULL;
  g_autoptr(GError) error = NULL;
  const char *template_path;
  guint n_plugins, n_reps;
  double loader_best, loader_median, bare_best, bare_median;
  gboolean ok = TRUE;

  setlocale (LC_ALL, "");

  if (argc > 1 && g_str_has_prefix (argv[1], "--arm="))
    {
      if (argc != 4)
        {
          g_printerr ("Usage: %s --arm=loader|bare DIR N\n", argv[0]);
          return 2;
        }
      return run_child (argv[1] + strlen ("--arm="), argv[2],
                        parse_count (argv[3], "plugin count", DEFAULT_PLUGINS));
    }

  if (argc < 2 || argc > 3)
    {
      g_printerr ("Usage: %s TEMPLATE.so [N]\n", argv[0]);
      return 2;
    }
  template_path = argv[1];
  n_plugins = parse_count (g_getenv ("JUPITER_BENCH_PLUGINS"), "JUPITER_BENCH_PLUGINS",
                           DEFAULT_PLUGINS);
  if (argc > 2)
    n_plugins = parse_count (argv[2], "plugin count", n_plugins);
  n_reps = parse_count (g_getenv ("JUPITER_BENCH_REPS"), "JUPITER_BENCH_REPS", DEFAULT_REPS);

  self_exe = g_file_read_link ("/proc/self/exe", NULL);
  if (self_exe == NULL)
    self_exe = g_strdup (argv[0]);

  tmp = g_dir_make_tmp ("jupiter-bench-plugin-loader-XXXXXX", &error);
  if (tmp == NULL)
    {
      g_printerr ("Cannot create a temporary directory: %s\n", error->message);
      return EXIT_FAILURE;
    }
  loader_dir = g_build_filename (tmp, "loader", NULL);
  bare_dir = g_build_filename (tmp, "bare", NULL);

  g_print ("bench-plugin-loader: %u plugins per arm (+1 untimed), %u rounds, "
           "one process per arm and round\n", n_plugins, n_reps);

  if (!write_copies (template_path, loader_dir, n_plugins) ||
      !write_copies (template_path, bare_dir, n_plugins))
    {
      remove_tree (tmp, n_plugins);
      g_printerr ("FAIL\n");
      return EXIT_FAILURE;
    }

  loader_spans = g_new0 (gint64, n_reps);
  bare_spans = g_new0 (gint64, n_reps);

  /* Alternate which arm goes first, so drifting machine load hits both alike. */
  for (guint r = 0; r < n_reps && ok; r++)
    {
      if (r % 2 == 0)
        ok = run_arm (self_exe, "loader", loader_dir, n_plugins, &loader_spans[r]) &&
             run_arm (self_exe, "bare", bare_dir, n_plugins, &bare_spans[r]);
      else
        ok = run_arm (self_exe, "bare", bare_dir, n_plugins, &bare_spans[r]) &&
             run_arm (self_exe, "loader", loader_dir, n_plugins, &loader_spans[r]);
      if (ok)
        g_print ("  round %u: loader %.1f µs/plugin, bare %.1f µs/plugin\n", r + 1,
                 us_per_plugin (loader_spans[r], n_plugins),
                 us_per_plugin (bare_spans[r], n_plugins));
    }

  remove_tree (tmp, n_plugins);
  if (!ok)
    {
      g_printerr ("FAIL\n");
      return EXIT_FAILURE;
    }

  qsort (loader_spans, n_reps, sizeof (gint64), bench_compare_i64);
  qsort (bare_spans, n_reps, sizeof (gint64), bench_compare_i64);
  loader_best = us_per_plugin (loader_spans[0], n_plugins);
  loader_median = us_per_plugin (loader_spans[n_reps / 2], n_plugins);
  bare_best = us_per_plugin (bare_spans[0], n_plugins);
  bare_median = us_per_plugin (bare_spans[n_reps / 2], n_plugins);

  g_print ("loader (all checks): %.1f µs/plugin (best of %u; median %.1f)\n",
           loader_best, n_reps, loader_median);
  g_print ("bare dlopen+dlsym+init: %.1f µs/plugin (best of %u; median %.1f)\n",
           bare_best, n_reps, bare_median);
  g_print ("ratio of the medians: %.2f\n", loader_median / bare_median);
  g_print ("ratio: %.2f (target <= %.1fx bare)\n", loader_best / bare_best, TARGET_RATIO);

  return EXIT_SUCCESS;
}
