/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "config.h"

#include "bench-common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A count from @str (argv or an environment variable), @fallback when
 * unset; an invalid one ends the benchmark with status 2. */
guint64
bench_parse_count (const char *str,
                   const char *what,
                   guint64     fallback,
                   guint64     max)
{
  guint64 value;
  g_autoptr(GError) error = NULL;

  if (str == NULL || *str == '\0')
    return fallback;
  if (!g_ascii_string_to_unsigned (str, 10, 1, max, &value, &error))
    {
      g_printerr ("Invalid %s \"%s\": %s\n", what, str, error->message);
      exit (2);
    }
  return value;
}

int
bench_compare_i64 (gconstpointer a,
                   gconstpointer b)
{
  gint64 x = *(const gint64 *) a;
  gint64 y = *(const gint64 *) b;

  return (x > y) - (x < y);
}

static gboolean
status_field (const char *status,
              const char *name,
              guint64    *bytes)
{
  const char *line = strstr (status, name);

  if (line == NULL ||
      sscanf (line + strlen (name), "%" G_GUINT64_FORMAT, bytes) != 1)
    return FALSE;
  *bytes *= 1024;   /* kB */
  return TRUE;
}

/* The resident set and its peak (VmRSS, VmHWM), in bytes. */
gboolean
bench_read_memory (guint64 *rss_bytes,
                   guint64 *hwm_bytes)
{
  g_autofree char *status = NULL;
  g_autoptr(GError) error = NULL;

  if (!g_file_get_contents ("/proc/self/status", &status, NULL, &error) ||
      !status_field (status, "VmRSS:", rss_bytes) ||
      !status_field (status, "VmHWM:", hwm_bytes))
    {
      g_printerr ("Cannot read VmRSS and VmHWM from /proc/self/status: %s\n",
                  error ? error->message : "unexpected format");
      return FALSE;
    }
  return TRUE;
}

/* Runs one arm of a benchmark as a child process (@argv[0] is usually the
 * benchmark itself) with the environment's allocator and debug settings
 * removed, its stderr going to ours. Returns its stdout, or %NULL after
 * printing why it failed. */
char *
bench_run_arm (const char * const *argv,
               const char         *arm)
{
  g_auto(GStrv) envp = g_get_environ ();
  g_autofree char *out = NULL;
  g_autoptr(GError) error = NULL;
  int wait_status;

  envp = g_environ_unsetenv (envp, "G_SLICE");
  envp = g_environ_unsetenv (envp, "G_DEBUG");
  envp = g_environ_unsetenv (envp, "G_MESSAGES_DEBUG");
  envp = g_environ_unsetenv (envp, "MALLOC_PERTURB_");

  if (!g_spawn_sync (NULL, (char **) argv, envp, G_SPAWN_CHILD_INHERITS_STDERR,
                     NULL, NULL, &out, NULL, &wait_status, &error))
    {
      g_printerr ("Cannot run the %s arm: %s\n", arm, error->message);
      return NULL;
    }
  if (!g_spawn_check_wait_status (wait_status, &error))
    {
      g_printerr ("The %s arm failed: %s\n", arm, error->message);
      return NULL;
    }
  return out ? g_steal_pointer (&out) : g_strdup ("");
}

#define ITERATE_EVERY 1024

/* Submits @n_jobs jobs named "job-N" (N, the user data, from 0) running
 * @func, iterating @manager's context every so often as a program with a
 * running loop would, then waits until all have finished. Prints why and
 * returns %FALSE on a failure. */
gboolean
bench_submit_named_jobs (JupiterJobManager *manager,
                         guint              n_jobs,
                         JupiterJobFunc     func)
{
  g_autoptr(JupiterJobOptions) options = jupiter_job_options_new (NULL);
  g_autoptr(GError) error = NULL;
  GMainContext *context = jupiter_job_manager_get_context (manager);

  for (guint i = 0; i < n_jobs; i++)
    {
      char name[32];
      g_autofree char *id = NULL;

      g_snprintf (name, sizeof name, "job-%u", i);
      jupiter_job_options_set_name (options, name);
      id = jupiter_job_manager_submit (manager, options, func, GUINT_TO_POINTER (i), NULL, &error);
      if (id == NULL)
        {
          g_printerr ("submit #%u failed: %s\n", i, error->message);
          return FALSE;
        }
      if (i % ITERATE_EVERY == ITERATE_EVERY - 1)
        while (g_main_context_iteration (context, FALSE))
          ;
    }
  while (g_main_context_iteration (context, FALSE))
    ;

  if (!jupiter_job_manager_wait_idle (manager, NULL, &error))
    {
      g_printerr ("wait_idle failed: %s\n", error->message);
      return FALSE;
    }
  return TRUE;
}
