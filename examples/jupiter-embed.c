/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * jupiter-embed: a program that embeds a JupiterHost instead of running
 * jupiter-host. It loads a configuration, connects handlers to the host's,
 * the job manager's and the breaker registry's signals (some of them
 * detailed by plugin id), runs the startup jobs, waits for them and shuts
 * the host down.
 *
 *   jupiter-embed CONFIG [PLUGIN-DIR...]
 *
 * With examples/host.yaml it shows exec's failures through
 * `job-failed::exec` and exec's breaker opening through
 * `breaker-state-changed::exec`; it exits 0 when it saw both, 1 otherwise
 * (so it doubles as a test), 2 on bad usage or configuration. The
 * environment variable JUPITER_EMBED_EXPORT, when set, replaces the
 * configuration's export path.
 */

#include <jupiter/jupiter.h>

#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>

typedef struct {
  GMainLoop *loop;
  guint      waiting;
  guint      exec_failures;
  guint      breaker_openings;
  gboolean   shutdown_failed;
} Embed;

static void
on_plugin_loaded (JupiterHost *host, JupiterPlugin *plugin, gpointer data)
{
  printf ("[plugin ] %s %s loaded from %s\n", jupiter_plugin_get_id (plugin),
          jupiter_plugin_get_version (plugin), jupiter_plugin_get_path (plugin));
}

static void
on_plugin_failed (JupiterHost *host, const char *plugin_id, const GError *error, gpointer data)
{
  printf ("[plugin ] %s FAILED: %s\n", plugin_id, error->message);
}

static void
on_job_started (JupiterJobManager *manager, JupiterJob *job, gpointer data)
{
  printf ("[started] %-20s %s:%s\n", jupiter_job_get_name (job), jupiter_job_get_plugin_id (job),
          jupiter_job_get_entry_name (job));
}

static void
on_job_progress (JupiterJobManager *manager, JupiterJob *job, gpointer data)
{
  printf ("[ %3.0f%%  ] %-20s %s\n", jupiter_job_get_progress (job) * 100.0, jupiter_job_get_name (job),
          jupiter_job_get_message (job) ? jupiter_job_get_message (job) : "");
}

static void
on_job_completed (JupiterJobManager *manager, JupiterJob *job, gpointer data)
{
  g_autofree char *result = json_to_string (jupiter_job_get_result (job), FALSE);

  printf ("[done   ] %-20s in %.1f ms: %.60s%s\n", jupiter_job_get_name (job),
          jupiter_job_get_duration (job) / 1000.0, result, strlen (result) > 60 ? "…" : "");
}

/* Connected as "job-failed::exec": only exec's failures arrive here. */
static void
on_exec_failed (JupiterJobManager *manager, JupiterJob *job, gpointer data)
{
  Embed *embed = data;

  if (g_strcmp0 (jupiter_job_get_plugin_id (job), "exec") != 0)
    {
      fprintf (stderr, "jupiter-embed: job-failed::exec delivered a job of “%s”\n",
               jupiter_job_get_plugin_id (job));
      exit (1);
    }
  embed->exec_failures++;
  printf ("[FAILED ] %-20s exec failure #%u: %s\n", jupiter_job_get_name (job), embed->exec_failures,
          jupiter_job_get_error (job)->message);
}

static void
on_any_failed (JupiterJobManager *manager, JupiterJob *job, gpointer data)
{
  if (g_strcmp0 (jupiter_job_get_plugin_id (job), "exec") != 0)
    printf ("[FAILED ] %-20s %s\n", jupiter_job_get_name (job), jupiter_job_get_error (job)->message);
}

static void
on_job_cancelled (JupiterJobManager *manager, JupiterJob *job, gpointer data)
{
  printf ("[cancel ] %-20s\n", jupiter_job_get_name (job));
}

/* Connected as "breaker-state-changed::exec". */
static void
on_exec_breaker (JupiterCircuitBreakerRegistry *registry,
                 JupiterCircuitBreaker         *breaker,
                 JupiterCircuitState            old_state,
                 JupiterCircuitState            new_state,
                 gpointer                       data)
{
  Embed *embed = data;

  if (new_state == JUPITER_CIRCUIT_STATE_OPEN)
    embed->breaker_openings++;
  printf ("[breaker] exec: %s -> %s (retry in %.0f s)\n", jupiter_circuit_state_to_string (old_state),
          jupiter_circuit_state_to_string (new_state),
          jupiter_circuit_breaker_get_retry_in (breaker) / (double) G_USEC_PER_SEC);
}

static void
job_waited (GObject      *source,
            GAsyncResult *result,
            gpointer      data)
{
  Embed *embed = data;
  g_autoptr(JupiterJob) job = jupiter_job_manager_wait_finish (JUPITER_JOB_MANAGER (source), result, NULL);

  if (--embed->waiting == 0)
    g_main_loop_quit (embed->loop);
}

static void
shut_down (GObject      *source,
           GAsyncResult *result,
           gpointer      data)
{
  Embed *embed = data;
  g_autoptr(GError) error = NULL;

  if (!jupiter_host_shutdown_finish (JUPITER_HOST (source), result, &error))
    {
      printf ("shutdown: %s\n", error->message);
      embed->shutdown_failed = TRUE;
      /* A job function still runs inside a plugin: no destructors, no
       * unloading under it; leave at once. */
      if (g_error_matches (error, JUPITER_JOB_ERROR, JUPITER_JOB_ERROR_TIMED_OUT))
        {
          fflush (stdout);
          _exit (1);
        }
    }
  g_main_loop_quit (embed->loop);
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(JupiterHost) host = NULL;
  g_autoptr(GMainLoop) loop = NULL;
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) ids = NULL;
  JupiterJobManager *manager;
  Embed embed = { 0 };

  setlocale (LC_ALL, "");
  if (argc < 2)
    {
      fprintf (stderr, "usage: jupiter-embed CONFIG [PLUGIN-DIR...]\n");
      return 2;
    }

  /* The host, its manager and registry belong to this thread's default
   * main context: every handler below runs here, in this thread. */
  host = jupiter_host_new ();
  loop = g_main_loop_new (NULL, FALSE);
  embed.loop = loop;
  for (int i = 2; i < argc; i++)
    jupiter_host_add_plugin_dir (host, argv[i]);
  if (!jupiter_host_load_config (host, argv[1], &error))
    {
      fprintf (stderr, "jupiter-embed: %s\n", error->message);
      return 2;
    }
  /* Where the shutdown exports, instead of the configuration's path (the
   * test suite keeps the source tree clean with it). */
  if (g_getenv ("JUPITER_EMBED_EXPORT"))
    jupiter_host_set_export_path (host, g_getenv ("JUPITER_EMBED_EXPORT"));

  manager = jupiter_host_get_job_manager (host);
  g_signal_connect (host, "plugin-loaded", G_CALLBACK (on_plugin_loaded), &embed);
  g_signal_connect (host, "plugin-failed", G_CALLBACK (on_plugin_failed), &embed);
  g_signal_connect (manager, "job-started", G_CALLBACK (on_job_started), &embed);
  g_signal_connect (manager, "job-progress", G_CALLBACK (on_job_progress), &embed);
  g_signal_connect (manager, "job-completed", G_CALLBACK (on_job_completed), &embed);
  g_signal_connect (manager, "job-failed::exec", G_CALLBACK (on_exec_failed), &embed);
  g_signal_connect (manager, "job-failed", G_CALLBACK (on_any_failed), &embed);
  g_signal_connect (manager, "job-cancelled", G_CALLBACK (on_job_cancelled), &embed);
  g_signal_connect (jupiter_host_get_circuit_breaker_registry (host), "breaker-state-changed::exec",
                    G_CALLBACK (on_exec_breaker), &embed);

  jupiter_host_load_plugins (host);
  if (!jupiter_host_submit_startup_jobs (host, &error))
    printf ("some startup jobs were not submitted, the first: %s\n", error->message);

  ids = jupiter_host_dup_startup_job_ids (host);
  for (guint i = 0; ids[i]; i++)
    {
      embed.waiting++;
      jupiter_job_manager_wait_async (manager, ids[i], NULL, job_waited, &embed);
    }
  if (embed.waiting > 0)
    g_main_loop_run (loop);

  /* Also exports when the configuration says so, then calls every
   * plugin's shutdown. */
  jupiter_host_shutdown_async (host, NULL, shut_down, &embed);
  g_main_loop_run (loop);

  printf ("exec failures seen through job-failed::exec: %u; exec breaker openings: %u\n",
          embed.exec_failures, embed.breaker_openings);
  return embed.exec_failures >= 2 && embed.breaker_openings >= 1 && !embed.shutdown_failed ? 0 : 1;
}
