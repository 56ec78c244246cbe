/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * template: a Jupiter plugin to copy and rename.
 *
 * Entries:
 *   count  synchronous: counts to args.to (default 10), one step every
 *          config.step_ms milliseconds, reporting progress and stopping when
 *          the job is cancelled or times out; returns {"counted": N}
 *   sleep  asynchronous: sleeps args.ms milliseconds (default 100) in a
 *          GTask worker thread, wakes at once when the job is cancelled, and
 *          returns {"slept_ms": N} from that thread
 *
 * Config (the plugin's `config` object in the host's configuration; the
 * plugin's init function checks it):
 *   {"step_ms": 10}   milliseconds per count step, 0 to 1000
 *
 * See SDK.md beside this directory for the rules every line here follows.
 */

#include <jupiter/jupiter-plugin.h>

#define TEMPLATE_MAX_COUNT    1000000
#define TEMPLATE_MAX_STEP_MS  1000
#define TEMPLATE_MAX_SLEEP_MS (24 * 60 * 60 * 1000)

/* Set by template_init(), which the host calls on its main thread before
 * any job of the plugin runs; only read afterwards, from any thread. State
 * that changes while jobs run needs a lock or atomics: sync entries run on
 * several worker threads at once. */
static guint step_ms = 10;

/* Reads the optional integer @member of a job's args into @value, which
 * keeps its default when the member is missing. The args are sealed and
 * shared with other threads: read them with json_node_get_object() and
 * friends and keep no reference into them. */
static gboolean
read_int_arg (JsonNode   *args,
              const char *entry,
              const char *member,
              gint64      max,
              gint64     *value,
              GError    **error)
{
  JsonObject *object;
  JsonNode *node;

  if (args == NULL || JSON_NODE_HOLDS_NULL (args))
    return TRUE;
  if (!JSON_NODE_HOLDS_OBJECT (args))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "%s: the args must be a JSON object", entry);
      return FALSE;
    }

  object = json_node_get_object (args);
  node = json_object_get_member (object, member);
  if (node == NULL)
    return TRUE;
  if (!JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_INT64 ||
      json_node_get_int (node) < 0 || json_node_get_int (node) > max)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "%s: args.%s must be an integer from 0 to %" G_GINT64_FORMAT,
                   entry, member, max);
      return FALSE;
    }
  *value = json_node_get_int (node);
  return TRUE;
}

/* ------------------------------------------------------------------------ */
/* count: a synchronous entry                                                 */

/* Runs in a host worker thread, possibly next to other count jobs. */
static JsonNode *
template_count (JupiterJobContext *context,
                gpointer           user_data,
                GError           **error)
{
  JsonNode *node;
  JsonObject *result;
  gint64 to = 10;

  if (!read_int_arg (jupiter_job_context_get_args (context), "count", "to",
                     TEMPLATE_MAX_COUNT, &to, error))
    return NULL;

  jupiter_job_context_log (context, G_LOG_LEVEL_DEBUG,
                           "counting to %" G_GINT64_FORMAT, to);
  for (gint64 i = 1; i <= to; i++)
    {
      g_autofree char *message = NULL;

      /* A thread cannot be killed: cancel and timeout only set this flag
       * (and trigger the cancellable). Check it between steps. */
      if (jupiter_job_context_is_cancelled (context))
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                       "count: stopped at %" G_GINT64_FORMAT " of %" G_GINT64_FORMAT,
                       i - 1, to);
          return NULL;
        }

      g_usleep (step_ms * G_TIME_SPAN_MILLISECOND);

      /* Cheap to call often: updates are merged, the latest winning. */
      message = g_strdup_printf ("%" G_GINT64_FORMAT " of %" G_GINT64_FORMAT, i, to);
      jupiter_job_context_set_progress (context, (double) i / (double) to, message);
    }

  /* A new tree, handed over whole: the host seals it and shares it. */
  result = json_object_new ();
  json_object_set_int_member (result, "counted", to);
  node = json_node_new (JSON_NODE_OBJECT);
  json_node_take_object (node, result);
  return node;
}

/* ------------------------------------------------------------------------ */
/* sleep: an asynchronous entry that returns from a GTask thread              */

typedef struct {
  JupiterJobContext *context;   /* our reference, until the job has returned */
  gint64             ms;
} SleepData;

static void
sleep_data_free (gpointer p)
{
  SleepData *data = p;

  /* Only set if the thread never ran; dropping the last reference without
   * returning fails the job ("finished without returning"). */
  g_clear_pointer (&data->context, jupiter_job_context_unref);
  g_free (data);
}

/* Runs in one of GTask's worker threads. */
static void
sleep_thread (GTask        *task,
              gpointer      source_object,
              gpointer      task_data,
              GCancellable *cancellable)
{
  SleepData *data = task_data;
  JupiterJobContext *context = g_steal_pointer (&data->context);
  gint64 start = g_get_monotonic_time ();
  gint64 deadline = start + data->ms * G_TIME_SPAN_MILLISECOND;
  gint64 now = start;
  GPollFD pollfd;
  gboolean can_poll;

  /* Wait for the deadline or the job's cancellable, whichever comes
   * first: a cancel or a timeout wakes the poll at once. */
  can_poll = g_cancellable_make_pollfd (cancellable, &pollfd);
  while (now < deadline && !g_cancellable_is_cancelled (cancellable))
    {
      int timeout_ms = (int) ((deadline - now + 999) / 1000);

      if (can_poll)
        g_poll (&pollfd, 1, timeout_ms);
      else
        g_usleep (MIN (deadline - now, 10 * G_TIME_SPAN_MILLISECOND));
      now = g_get_monotonic_time ();
    }
  if (can_poll)
    g_cancellable_release_fd (cancellable);

  /* Return exactly once, from this thread. After a cancel or a timeout the
   * host discards what we return, but we still return. */
  if (g_cancellable_is_cancelled (cancellable))
    {
      jupiter_job_context_return_new_error (context, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                            "sleep: woken after %" G_GINT64_FORMAT " of %"
                                            G_GINT64_FORMAT " ms",
                                            (now - start) / G_TIME_SPAN_MILLISECOND,
                                            data->ms);
    }
  else
    {
      JsonObject *result = json_object_new ();
      JsonNode *node = json_node_new (JSON_NODE_OBJECT);

      json_object_set_int_member (result, "slept_ms", data->ms);
      json_node_take_object (node, result);
      jupiter_job_context_return_result (context, node);
    }
  jupiter_job_context_unref (context);

  g_task_return_boolean (task, TRUE);
}

/* Runs on the host's main context: it must not block. It takes a reference
 * on the context and hands the work to a thread, which returns the job. */
static void
template_sleep (JupiterJobContext *context,
                gpointer           user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GTask) task = NULL;
  SleepData *data;
  gint64 ms = 100;

  if (!read_int_arg (jupiter_job_context_get_args (context), "sleep", "ms",
                     TEMPLATE_MAX_SLEEP_MS, &ms, &error))
    {
      /* Returning at once, from the entry itself, is fine too. */
      jupiter_job_context_return_error (context, g_steal_pointer (&error));
      return;
    }

  data = g_new0 (SleepData, 1);
  data->context = jupiter_job_context_ref (context);
  data->ms = ms;

  task = g_task_new (NULL, jupiter_job_context_get_cancellable (context), NULL, NULL);
  g_task_set_source_tag (task, template_sleep);
  g_task_set_task_data (task, data, sleep_data_free);
  g_task_run_in_thread (task, sleep_thread);
}

/* ------------------------------------------------------------------------ */
/* init and shutdown                                                          */

/* Called once, on the host's main thread, before any job of the plugin
 * runs. @config is the plugin's `config` from the host's configuration, or
 * NULL. Unknown keys are errors, so a typo does not go unnoticed. */
static gboolean
template_init (JsonNode *config,
               GError  **error)
{
  JsonObjectIter iter;
  const char *member;
  JsonNode *value;

  if (config == NULL || JSON_NODE_HOLDS_NULL (config))
    return TRUE;
  if (!JSON_NODE_HOLDS_OBJECT (config))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                           "config: expected a JSON object");
      return FALSE;
    }

  json_object_iter_init (&iter, json_node_get_object (config));
  while (json_object_iter_next (&iter, &member, &value))
    {
      if (g_str_equal (member, "step_ms"))
        {
          if (!JSON_NODE_HOLDS_VALUE (value) ||
              json_node_get_value_type (value) != G_TYPE_INT64 ||
              json_node_get_int (value) < 0 ||
              json_node_get_int (value) > TEMPLATE_MAX_STEP_MS)
            {
              g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                           "config.step_ms: expected an integer from 0 to %d",
                           TEMPLATE_MAX_STEP_MS);
              return FALSE;
            }
          step_ms = (guint) json_node_get_int (value);
        }
      else
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                       "config: unknown key “%s”", member);
          return FALSE;
        }
    }

  g_debug ("template: step_ms = %u", step_ms);
  return TRUE;
}

/* Called once, on the host's main thread, when no job of the plugin runs
 * any more. The plugin is never unloaded: release what init acquired. */
static void
template_shutdown (void)
{
  g_debug ("template: shut down");
}

/* ------------------------------------------------------------------------ */
/* The descriptor                                                            */

static const JupiterPluginEntry template_entries[] = {
  JUPITER_PLUGIN_ENTRY ("count", "Counts to args.to with progress", template_count),
  JUPITER_PLUGIN_ASYNC_ENTRY ("sleep", "Sleeps args.ms milliseconds in a thread", template_sleep),
};

static const JupiterPluginDescriptor template_descriptor = {
  JUPITER_PLUGIN_DESCRIPTOR_HEADER,
  .id = "template",
  .name = "Template",
  .version = "0.1.0",
  .description = "A plugin to copy: a sync and an async entry",
  .license = "LGPL-2.1-or-later",
  .init = template_init,
  .shutdown = template_shutdown,
  .entries = template_entries,
  .n_entries = G_N_ELEMENTS (template_entries),
  .timeout = 60 * G_TIME_SPAN_SECOND,   /* per entry unless the entry sets one */
  .max_concurrent = 4,                  /* at most 4 jobs of this plugin at once */
};

JUPITER_PLUGIN_DEFINE (template_descriptor)
