/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * jupiter-run: loads one plugin file and runs one of its entry points as a
 * job.
 *
 *   jupiter-run [--config JSON] [--allow-unsafe] PLUGIN.so ENTRY [ARGS-JSON]
 *
 * It creates a JupiterJobManager and a JupiterPluginLoader, loads the file
 * with all the loader's checks (printing the plugin's id, name, version and
 * entry points), submits ENTRY with ARGS-JSON as the job's args, waits for
 * the job, prints the job as JSON (jupiter_job_to_json()), then shuts the
 * manager down and the plugins after it. Ctrl-C cancels the job.
 *
 * --config passes a JSON value to the plugin's init; --allow-unsafe skips
 * the loader's ownership and permission checks (development only).
 *
 * Exit status: 0 if the job completed; 1 if it failed or was cancelled; 2
 * if it never ran (bad usage, bad JSON, the plugin failed to load, or the
 * entry could not be submitted).
 */

#include <jupiter/jupiter.h>

#include <glib-unix.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define EXIT_NOT_RUN   2
#define SHUTDOWN_GRACE (5 * G_USEC_PER_SEC)

typedef struct {
  JupiterJobManager *manager;
  const char        *job_id;
} Interrupt;

static gboolean
on_sigint (gpointer user_data)
{
  Interrupt *interrupt = user_data;
  g_autoptr(GError) error = NULL;

  g_printerr ("jupiter-run: interrupted, cancelling the job\n");
  if (!jupiter_job_manager_cancel (interrupt->manager, interrupt->job_id, &error))
    g_printerr ("jupiter-run: %s\n", error->message);
  return G_SOURCE_CONTINUE;
}

static JsonNode *
parse_json (const char *what,
            const char *text,
            GError    **error)
{
  g_autoptr(GError) local = NULL;
  JsonNode *node = json_from_string (text, &local);

  if (node == NULL)
    {
      g_set_error (error, local->domain, local->code, "%s: %s", what,
                   local->message ? local->message : "empty");
      return NULL;
    }
  return node;
}

static void
print_plugin (JupiterPlugin *plugin)
{
  g_auto(GStrv) entries = jupiter_plugin_dup_entry_names (plugin);

  printf ("plugin:  %s (%s) %s\n", jupiter_plugin_get_id (plugin),
          jupiter_plugin_get_name (plugin), jupiter_plugin_get_version (plugin));
  if (jupiter_plugin_get_description (plugin) != NULL)
    printf ("         %s\n", jupiter_plugin_get_description (plugin));
  printf ("file:    %s\n", jupiter_plugin_get_path (plugin));
  for (guint i = 0; entries[i] != NULL; i++)
    {
      const char *description = jupiter_plugin_get_entry_description (plugin, entries[i]);

      printf ("%s %s%s%s\n", i == 0 ? "entries:" : "        ", entries[i],
              description ? " — " : "", description ? description : "");
    }
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GOptionContext) option_context = NULL;
  g_autoptr(JupiterJobManager) manager = NULL;
  g_autoptr(JupiterPluginLoader) loader = NULL;
  g_autoptr(JsonNode) config = NULL;
  g_autoptr(JsonNode) args = NULL;
  g_autoptr(JsonNode) json = NULL;
  g_autoptr(JupiterJob) job = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *config_text = NULL;
  g_autofree char *job_id = NULL;
  g_autofree char *text = NULL;
  gboolean allow_unsafe = FALSE;
  JupiterPlugin *plugin;
  JupiterJobStatus status;
  Interrupt interrupt;
  guint sigint_id;
  const GOptionEntry options[] = {
    { "config", 'c', 0, G_OPTION_ARG_STRING, &config_text,
      "JSON passed to the plugin's init", "JSON" },
    { "allow-unsafe", 0, 0, G_OPTION_ARG_NONE, &allow_unsafe,
      "Skip the ownership and permission checks (development only)", NULL },
    { NULL }
  };

  setlocale (LC_ALL, "");

  option_context = g_option_context_new ("PLUGIN.so ENTRY [ARGS-JSON]");
  g_option_context_set_summary (option_context,
                                "Loads a Jupiter plugin and runs one entry point as a job.");
  g_option_context_add_main_entries (option_context, options, NULL);
  if (!g_option_context_parse (option_context, &argc, &argv, &error))
    {
      g_printerr ("jupiter-run: %s\n", error->message);
      return EXIT_NOT_RUN;
    }
  if (argc < 3 || argc > 4)
    {
      g_autofree char *help = g_option_context_get_help (option_context, TRUE, NULL);

      g_printerr ("%s", help);
      return EXIT_NOT_RUN;
    }
  if (config_text != NULL && (config = parse_json ("--config", config_text, &error)) == NULL)
    {
      g_printerr ("jupiter-run: %s\n", error->message);
      return EXIT_NOT_RUN;
    }
  if (argc == 4 && (args = parse_json ("ARGS-JSON", argv[3], &error)) == NULL)
    {
      g_printerr ("jupiter-run: %s\n", error->message);
      return EXIT_NOT_RUN;
    }

  /* The manager belongs to this thread's (the global default) main context,
   * where async entries start and signals are emitted. */
  manager = g_object_new (JUPITER_TYPE_JOB_MANAGER, NULL);
  loader = jupiter_plugin_loader_new ();
  if (allow_unsafe)
    g_object_set (loader, "allow-unsafe", TRUE, NULL);

  plugin = jupiter_plugin_loader_load_file (loader, argv[1], config, &error);
  if (plugin == NULL)
    {
      g_printerr ("jupiter-run: %s\n", error->message);
      return EXIT_NOT_RUN;
    }
  print_plugin (plugin);
  fflush (stdout);

  job_id = jupiter_plugin_loader_submit (loader, manager, jupiter_plugin_get_id (plugin),
                                         argv[2], args, &error);
  if (job_id == NULL)
    {
      g_printerr ("jupiter-run: %s\n", error->message);
      jupiter_job_manager_shutdown (manager, SHUTDOWN_GRACE, NULL);
      jupiter_plugin_loader_shutdown (loader);
      return EXIT_NOT_RUN;
    }

  interrupt.manager = manager;
  interrupt.job_id = job_id;
  sigint_id = g_unix_signal_add (SIGINT, on_sigint, &interrupt);

  /* Iterates the default main context until the job has finished. */
  job = jupiter_job_manager_wait (manager, job_id, NULL, &error);
  g_source_remove (sigint_id);
  if (job == NULL)
    {
      g_printerr ("jupiter-run: %s\n", error->message);
      status = JUPITER_JOB_STATUS_FAILED;
    }
  else
    {
      json = jupiter_job_to_json (job, TRUE);
      text = json_to_string (json, TRUE);
      printf ("%s\n", text);
      status = jupiter_job_get_status (job);
    }

  /* The manager first, so that no thread is inside the plugin any more,
   * then the plugins' shutdown functions. */
  g_clear_error (&error);
  if (!jupiter_job_manager_shutdown (manager, SHUTDOWN_GRACE, &error))
    {
      /* A job function is still running: leave the plugin alone and exit. */
      g_printerr ("jupiter-run: %s\n", error->message);
      fflush (stdout);
      _exit (EXIT_FAILURE);
    }
  jupiter_plugin_loader_shutdown (loader);

  return status == JUPITER_JOB_STATUS_COMPLETED ? EXIT_SUCCESS : EXIT_FAILURE;
}
