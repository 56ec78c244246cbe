/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * slow: a plugin for the host's tests. Entries:
 *   "block"    reports progress, then waits until the job is cancelled
 *              (returns G_IO_ERROR_CANCELLED) or 120 s have passed
 *   "stubborn" ignores cancellation: returns only once the file named by
 *              args {"release": PATH} exists, or after 120 s
 *   "work"     reports {"steps": N} progress steps and completes
 *   "fail"     always fails
 * Config {"shutdown_marker": PATH}: shutdown appends "slow\n" to PATH.
 */

#include <jupiter/jupiter-plugin.h>

#include <stdio.h>

#define LIMIT_US (120 * G_USEC_PER_SEC)

static char *shutdown_marker;

static JsonNode *
slow_block (JupiterJobContext *context,
            gpointer           user_data,
            GError           **error)
{
  GCancellable *cancellable = jupiter_job_context_get_cancellable (context);
  gint64 end = g_get_monotonic_time () + LIMIT_US;
  GPollFD pollfd;

  jupiter_job_context_set_progress (context, 0.5, "blocking until cancelled");
  /* Waits on the cancellable's fd: wakes at once when cancelled. */
  if (!g_cancellable_make_pollfd (cancellable, &pollfd))
    g_error ("slow: no pollable fd for the cancellable");
  while (!g_cancellable_is_cancelled (cancellable) && g_get_monotonic_time () < end)
    g_poll (&pollfd, 1, 1000);
  g_cancellable_release_fd (cancellable);
  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return NULL;
  return json_node_init_string (json_node_alloc (), "not cancelled");
}

static JsonNode *
slow_stubborn (JupiterJobContext *context,
               gpointer           user_data,
               GError           **error)
{
  JsonNode *args = jupiter_job_context_get_args (context);
  const char *release = NULL;
  gint64 end = g_get_monotonic_time () + LIMIT_US;

  if (args && JSON_NODE_HOLDS_OBJECT (args))
    release = json_object_get_string_member_with_default (json_node_get_object (args), "release", NULL);
  jupiter_job_context_set_progress (context, 0.5, "ignoring cancellation");
  while (g_get_monotonic_time () < end && !(release && g_file_test (release, G_FILE_TEST_EXISTS)))
    g_usleep (10 * 1000);   /* simulates work that cannot be interrupted */
  return json_node_init_string (json_node_alloc (), "released");
}

static JsonNode *
slow_work (JupiterJobContext *context,
           gpointer           user_data,
           GError           **error)
{
  JsonNode *args = jupiter_job_context_get_args (context);
  gint64 steps = 3;
  JsonNode *result;

  if (args && JSON_NODE_HOLDS_OBJECT (args))
    steps = json_object_get_int_member_with_default (json_node_get_object (args), "steps", 3);
  for (gint64 i = 1; i <= steps; i++)
    jupiter_job_context_set_progress (context, (double) i / steps, "step");
  result = json_node_init_object (json_node_alloc (), NULL);
  json_node_take_object (result, json_object_new ());
  json_object_set_int_member (json_node_get_object (result), "steps", steps);
  return result;
}

static JsonNode *
slow_fail (JupiterJobContext *context,
           gpointer           user_data,
           GError           **error)
{
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED, "slow failure on purpose");
  return NULL;
}

static gboolean
slow_init (JsonNode *config,
           GError  **error)
{
  if (config && JSON_NODE_HOLDS_OBJECT (config))
    shutdown_marker = g_strdup (json_object_get_string_member_with_default (json_node_get_object (config),
                                                                            "shutdown_marker", NULL));
  return TRUE;
}

static void
slow_shutdown (void)
{
  if (shutdown_marker)
    {
      FILE *f = fopen (shutdown_marker, "a");

      if (f)
        {
          fputs ("slow\n", f);
          fclose (f);
        }
    }
  g_clear_pointer (&shutdown_marker, g_free);
}

static const JupiterPluginEntry slow_entries[] = {
  JUPITER_PLUGIN_ENTRY ("block", "Waits until cancelled", slow_block),
  JUPITER_PLUGIN_ENTRY ("stubborn", "Ignores cancellation", slow_stubborn),
  JUPITER_PLUGIN_ENTRY ("work", "Reports progress and completes", slow_work),
  JUPITER_PLUGIN_ENTRY ("fail", "Always fails", slow_fail),
};

static const JupiterPluginDescriptor slow_descriptor = {
  JUPITER_PLUGIN_DESCRIPTOR_HEADER,
  .id = "slow",
  .name = "Slow",
  .version = "1.0.0",
  .description = "Jobs for the host's tests",
  .license = "LGPL-2.1-or-later",
  .init = slow_init,
  .shutdown = slow_shutdown,
  .entries = slow_entries,
  .n_entries = G_N_ELEMENTS (slow_entries),
};

JUPITER_PLUGIN_DEFINE (slow_descriptor)
