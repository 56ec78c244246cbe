/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * jupiter-demo: a small program that embeds a JupiterJobManager.
 *
 * It submits a handful of jobs, tagged with plugin ids, and prints every
 * signal the manager emits as one line:
 *
 *   resize     three synchronous jobs that report progress; the third is
 *              cancelled while it still waits behind the other two
 *   flaky      two synchronous jobs that fail with a GError; a detailed
 *              handler ("job-failed::flaky") counts them
 *   fetch      an asynchronous job: started on the main context, finished
 *              later from a thread of its own
 *   transcode  a long synchronous job, cancelled while it runs from a
 *              "job-progress" handler once it is 20 % done
 *   legacy     a job with a 300 ms timeout that notices cancellation only
 *              after 600 ms: it fails at its deadline and holds its slot
 *              ("overdue") until it returns
 *
 * Then it waits until the manager is idle, prints the statistics and the
 * JSON of the last jobs, shuts the manager down and checks that every job
 * got exactly one terminal signal, on this thread, with the status the
 * demo expected. It exits 0 if all of that holds.
 */

#include <jupiter/jupiter.h>

#include <stdio.h>
#include <stdlib.h>

#define RESIZE_STEPS      5
#define RESIZE_STEP_MS    40
#define TRANSCODE_STEPS   50
#define TRANSCODE_STEP_MS 20
#define LEGACY_TIMEOUT_MS 300
#define LEGACY_DEAF_MS    600   /* how long the legacy job ignores cancellation */
#define LEGACY_MAX_MS     2000  /* and how long it runs at most, cancelled or not */

/* What the demo expects of one job, and what its signals told. */
typedef struct {
  char            *label;
  JupiterJobStatus expected;
  guint            n_started;
  guint            n_terminal;
  JupiterJob      *final;        /* the terminal signal's snapshot, kept */
} Tracked;

typedef struct {
  JupiterJobManager *manager;
  GThread           *owner;      /* the thread that runs the manager's context */
  gint64             t0;
  GHashTable        *tracked;    /* job id -> Tracked */
  guint              wrong_thread;
  guint              flaky_failures;
  char              *transcode_id;
  gboolean           transcode_cancelled;
  GThread           *fetcher;
} Demo;

static void
tracked_free (gpointer data)
{
  Tracked *t = data;

  g_free (t->label);
  g_clear_pointer (&t->final, jupiter_job_unref);
  g_free (t);
}

static Tracked *
track (Demo            *demo,
       const char      *job_id,
       JupiterJobStatus expected)
{
  Tracked *t = g_new0 (Tracked, 1);

  t->expected = expected;
  g_hash_table_insert (demo->tracked, g_strdup (job_id), t);
  return t;
}

static JsonNode *
object_node (JsonObject *object)
{
  JsonNode *node = json_node_init_object (json_node_alloc (), object);

  json_object_unref (object);
  return node;
}

/* ------------------------------------------------------------------------ */
/* Job functions. Synchronous ones run in a worker thread.                   */

static JsonNode *
resize_image (JupiterJobContext *context,
              gpointer           user_data,
              GError           **error)
{
  JsonObject *args = json_node_get_object (jupiter_job_context_get_args (context));
  const char *file = json_object_get_string_member (args, "file");
  gint64 width = json_object_get_int_member (args, "width");
  JsonObject *result;

  for (guint i = 1; i <= RESIZE_STEPS; i++)
    {
      g_autofree char *message = NULL;

      if (jupiter_job_context_is_cancelled (context))
        return NULL;   /* the job is CANCELLED; a result would be discarded */

      g_usleep (RESIZE_STEP_MS * 1000);
      message = g_strdup_printf ("scaled %u of %u tiles", i, RESIZE_STEPS);
      jupiter_job_context_set_progress (context, (double) i / RESIZE_STEPS, message);
    }

  result = json_object_new ();
  json_object_set_string_member (result, "file", file);
  json_object_set_int_member (result, "width", width);
  json_object_set_int_member (result, "height", width * 3 / 4);
  return object_node (result);
}

static JsonNode *
upload_file (JupiterJobContext *context,
             gpointer           user_data,
             GError           **error)
{
  const char *file = user_data;

  jupiter_job_context_set_progress (context, 0.4, "connecting to the archive");
  g_usleep (30 * 1000);
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED,
               "Could not upload %s: the archive refused the connection", file);
  return NULL;
}

static JsonNode *
transcode_video (JupiterJobContext *context,
                 gpointer           user_data,
                 GError           **error)
{
  for (guint i = 1; i <= TRANSCODE_STEPS; i++)
    {
      if (jupiter_job_context_is_cancelled (context))
        {
          jupiter_job_context_log (context, G_LOG_LEVEL_INFO,
                                   "stopping at frame block %u: cancelled", i);
          return NULL;
        }
      g_usleep (TRANSCODE_STEP_MS * 1000);
      jupiter_job_context_set_progress (context, (double) i / TRANSCODE_STEPS, "encoding");
    }
  return json_node_init_string (json_node_alloc (), "video.webm");
}

/* A job that does not look at its cancellable for a while, as a plugin
 * stuck in a blocking call would. It is bounded all the same. */
static JsonNode *
poll_legacy_device (JupiterJobContext *context,
                    gpointer           user_data,
                    GError           **error)
{
  gint64 start = g_get_monotonic_time ();
  gint64 elapsed_ms = 0;

  jupiter_job_context_set_progress (context, 0.1, "waiting for the device");
  while (elapsed_ms < LEGACY_MAX_MS)
    {
      if (elapsed_ms >= LEGACY_DEAF_MS && jupiter_job_context_is_cancelled (context))
        break;
      g_usleep (20 * 1000);
      elapsed_ms = (g_get_monotonic_time () - start) / 1000;
    }
  /* Too late: the job already failed at its deadline; this is discarded. */
  return json_node_init_string (json_node_alloc (), "device answered");
}

/* The asynchronous job: fetch_start() runs on the manager's main context and
 * must not block, so it hands its context to a thread, which returns the
 * result from there. */
static gpointer
fetch_thread (gpointer data)
{
  JupiterJobContext *context = data;
  const char *url = json_node_get_string (jupiter_job_context_get_args (context));
  JsonObject *result;

  for (guint i = 1; i <= 4; i++)
    {
      if (jupiter_job_context_is_cancelled (context))
        {
          jupiter_job_context_return_new_error (context, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                                "Fetching %s was cancelled", url);
          jupiter_job_context_unref (context);
          return NULL;
        }
      g_usleep (40 * 1000);
      jupiter_job_context_set_progress (context, i / 4.0, "downloading");
    }

  result = json_object_new ();
  json_object_set_string_member (result, "url", url);
  json_object_set_int_member (result, "bytes", 5120);
  jupiter_job_context_return_result (context, object_node (result));
  jupiter_job_context_unref (context);
  return NULL;
}

static void
fetch_start (JupiterJobContext *context,
             gpointer           user_data)
{
  Demo *demo = user_data;

  /* The thread's reference keeps the context alive after we return. */
  demo->fetcher = g_thread_new ("fetcher", fetch_thread, jupiter_job_context_ref (context));
}

/* ------------------------------------------------------------------------ */
/* Signal handlers; all run on the manager's main context, i.e. this thread. */

static void
print_event (Demo       *demo,
             const char *signal_name,
             JupiterJob *job)
{
  const GError *error = jupiter_job_get_error (job);
  const char *message = jupiter_job_get_message (job);
  const char *plugin = jupiter_job_get_plugin_id (job);
  const char *text = error ? error->message : message;

  if (g_thread_self () != demo->owner)
    demo->wrong_thread++;

  printf ("%+7.3fs  %-13s  %.8s  %-18s  %-9s  %-9s  %3.0f%%%s%s\n",
          (g_get_monotonic_time () - demo->t0) / (double) G_USEC_PER_SEC,
          signal_name,
          jupiter_job_get_id (job),
          jupiter_job_get_name (job),
          plugin ? plugin : "-",
          jupiter_job_status_to_string (jupiter_job_get_status (job)),
          100.0 * jupiter_job_get_progress (job),
          text ? (error ? "  error: " : "  ") : "",
          text ? text : "");
  fflush (stdout);
}

static void
on_job_started (JupiterJobManager *manager,
                JupiterJob        *job,
                gpointer           user_data)
{
  Demo *demo = user_data;
  Tracked *t = g_hash_table_lookup (demo->tracked, jupiter_job_get_id (job));

  if (t)
    t->n_started++;
  print_event (demo, "job-started", job);
}

static void
on_job_progress (JupiterJobManager *manager,
                 JupiterJob        *job,
                 gpointer           user_data)
{
  Demo *demo = user_data;

  print_event (demo, "job-progress", job);

  /* Cancelling a running job from a handler: the job sees
   * jupiter_job_context_is_cancelled() at once and becomes CANCELLED when
   * its function returns. */
  if (!demo->transcode_cancelled &&
      g_strcmp0 (jupiter_job_get_id (job), demo->transcode_id) == 0 &&
      jupiter_job_get_progress (job) >= 0.2)
    {
      g_autoptr(GError) error = NULL;

      demo->transcode_cancelled = TRUE;
      printf ("          (cancelling %.8s at %.0f%%)\n",
              jupiter_job_get_id (job), 100.0 * jupiter_job_get_progress (job));
      if (!jupiter_job_manager_cancel (manager, jupiter_job_get_id (job), &error))
        printf ("          (could not cancel: %s)\n", error->message);
    }
}

static void
on_job_finished (JupiterJobManager *manager,
                 JupiterJob        *job,
                 gpointer           user_data)
{
  Demo *demo = user_data;
  Tracked *t = g_hash_table_lookup (demo->tracked, jupiter_job_get_id (job));
  const char *signal_name;

  switch (jupiter_job_get_status (job))
    {
    case JUPITER_JOB_STATUS_COMPLETED:
      signal_name = "job-completed";
      break;
    case JUPITER_JOB_STATUS_FAILED:
      signal_name = "job-failed";
      break;
    case JUPITER_JOB_STATUS_CANCELLED:
      signal_name = "job-cancelled";
      break;
    case JUPITER_JOB_STATUS_PENDING:
    case JUPITER_JOB_STATUS_RUNNING:
    default:
      signal_name = "job-???";
      break;
    }
  print_event (demo, signal_name, job);

  if (t)
    {
      t->n_terminal++;
      /* The snapshot is only lent to the handler; a reference keeps it. */
      g_clear_pointer (&t->final, jupiter_job_unref);
      t->final = jupiter_job_ref (job);
    }

  if (g_error_matches (jupiter_job_get_error (job), JUPITER_JOB_ERROR, JUPITER_JOB_ERROR_TIMED_OUT))
    {
      JupiterJobStats stats;

      jupiter_job_manager_get_stats (manager, &stats);
      printf ("          (timed out; its function still runs: running=%u overdue=%u)\n",
              stats.running, stats.overdue);
    }
}

/* Connected as "job-failed::flaky": only plugin flaky's failures get here. */
static void
on_flaky_failed (JupiterJobManager *manager,
                 JupiterJob        *job,
                 gpointer           user_data)
{
  Demo *demo = user_data;

  demo->flaky_failures++;
  printf ("          (job-failed::flaky: plugin flaky has failed %u time%s)\n",
          demo->flaky_failures, demo->flaky_failures == 1 ? "" : "s");
}

/* ------------------------------------------------------------------------ */

static char *
submit_resize (Demo       *demo,
               const char *file,
               gint64      width)
{
  g_autoptr(JupiterJobOptions) options = NULL;
  g_autoptr(JsonObject) args = json_object_new ();
  g_autoptr(JsonNode) args_node = NULL;
  g_autofree char *name = g_strdup_printf ("resize %s", file);
  g_autoptr(GError) error = NULL;
  char *id;

  json_object_set_string_member (args, "file", file);
  json_object_set_int_member (args, "width", width);
  args_node = json_node_init_object (json_node_alloc (), args);

  options = jupiter_job_options_new (name);
  jupiter_job_options_set_plugin_id (options, "resize");
  jupiter_job_options_set_entry_name (options, "scale");
  jupiter_job_options_set_args (options, args_node);

  id = jupiter_job_manager_submit (demo->manager, options, resize_image, NULL, NULL, &error);
  if (id == NULL)
    g_error ("submitting %s: %s", name, error->message);
  return id;
}

static char *
submit_sync (Demo           *demo,
             const char     *name,
             const char     *plugin_id,
             GTimeSpan       timeout,
             JupiterJobFunc  func,
             gpointer        user_data,
             GDestroyNotify  user_data_free)
{
  g_autoptr(JupiterJobOptions) options = jupiter_job_options_new (name);
  g_autoptr(GError) error = NULL;
  char *id;

  jupiter_job_options_set_plugin_id (options, plugin_id);
  jupiter_job_options_set_timeout (options, timeout);
  id = jupiter_job_manager_submit (demo->manager, options, func, user_data, user_data_free, &error);
  if (id == NULL)
    g_error ("submitting %s: %s", name, error->message);
  return id;
}

static void
print_stats (JupiterJobManager *manager)
{
  JupiterJobStats s;

  jupiter_job_manager_get_stats (manager, &s);
  printf ("\nStatistics\n"
          "  now:      %u pending, %u running, %u overdue\n"
          "  history:  %u completed, %u failed, %u cancelled\n"
          "  totals:   %" G_GUINT64_FORMAT " submitted, %" G_GUINT64_FORMAT " rejected, "
          "%" G_GUINT64_FORMAT " completed, %" G_GUINT64_FORMAT " failed "
          "(%" G_GUINT64_FORMAT " timed out), %" G_GUINT64_FORMAT " cancelled, "
          "%" G_GUINT64_FORMAT " pruned\n",
          s.pending, s.running, s.overdue,
          s.completed, s.failed, s.cancelled,
          s.submitted, s.rejected, s.total_completed, s.total_failed, s.timed_out,
          s.total_cancelled, s.pruned);
}

static void
print_last_jobs (JupiterJobManager *manager,
                 guint              n)
{
  g_autoptr(GPtrArray) jobs = jupiter_job_manager_list (manager, JUPITER_JOB_STATUS_ANY, NULL, n);

  printf ("\nThe last %u jobs, newest first, as JSON\n", jobs->len);
  for (guint i = 0; i < jobs->len; i++)
    {
      g_autoptr(JsonNode) node = jupiter_job_to_json (g_ptr_array_index (jobs, i), TRUE);
      g_autofree char *text = json_to_string (node, TRUE);

      printf ("%s\n", text);
    }
}

/* Every job got exactly one terminal signal, with the status expected, and
 * the manager agrees. */
static gboolean
check_outcomes (Demo *demo)
{
  GHashTableIter iter;
  gpointer key, value;
  gboolean ok = TRUE;

  g_hash_table_iter_init (&iter, demo->tracked);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      const char *id = key;
      Tracked *t = value;
      g_autoptr(JupiterJob) job = jupiter_job_manager_get (demo->manager, id, NULL);
      JupiterJobStatus got = job ? jupiter_job_get_status (job) : JUPITER_JOB_STATUS_PENDING;

      if (t->n_terminal != 1 || t->final == NULL ||
          jupiter_job_get_status (t->final) != t->expected || got != t->expected)
        {
          fprintf (stderr, "jupiter-demo: job %s: expected %s and one terminal signal; "
                   "got %s with %u terminal signals\n",
                   id, jupiter_job_status_to_string (t->expected),
                   jupiter_job_status_to_string (got), t->n_terminal);
          ok = FALSE;
        }
      /* Only a job cancelled before it started has no "job-started". */
      if (t->n_started != (t->final && jupiter_job_get_started_at (t->final) != 0 ? 1u : 0u))
        {
          fprintf (stderr, "jupiter-demo: job %s: %u job-started signals\n", id, t->n_started);
          ok = FALSE;
        }
    }
  if (demo->wrong_thread > 0)
    {
      fprintf (stderr, "jupiter-demo: %u signals arrived off the owner thread\n", demo->wrong_thread);
      ok = FALSE;
    }
  if (demo->flaky_failures != 2)
    {
      fprintf (stderr, "jupiter-demo: job-failed::flaky ran %u times, expected 2\n",
               demo->flaky_failures);
      ok = FALSE;
    }
  return ok;
}

int
main (int    argc,
      char **argv)
{
  Demo demo = { 0 };
  g_autoptr(GError) error = NULL;
  g_autoptr(JupiterJobOptions) fetch_options = NULL;
  g_autoptr(JsonNode) fetch_args = NULL;
  g_autofree char *photo3 = NULL;
  char *id;
  gint64 shutdown_start;
  gboolean ok;

  /* G_DEFINE_QUARK caches an error domain in a plain static variable on
   * first use; registering G_IO_ERROR here, before worker threads raise
   * it, leaves ThreadSanitizer no first-use race to report. */
  (void) g_io_error_quark ();

  demo.owner = g_thread_self ();
  demo.t0 = g_get_monotonic_time ();
  demo.tracked = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, tracked_free);

  /* The manager belongs to this thread's default main context: every
   * signal below is emitted there, never in a worker thread. */
  demo.manager = g_object_new (JUPITER_TYPE_JOB_MANAGER,
                               "max-concurrent", 2,
                               "max-concurrent-per-plugin", 2,
                               NULL);
  /* A per-plugin cap: resize jobs run one at a time. */
  jupiter_job_manager_set_plugin_max_concurrent (demo.manager, "resize", 1);

  g_signal_connect (demo.manager, "job-started", G_CALLBACK (on_job_started), &demo);
  g_signal_connect (demo.manager, "job-progress", G_CALLBACK (on_job_progress), &demo);
  g_signal_connect (demo.manager, "job-completed", G_CALLBACK (on_job_finished), &demo);
  g_signal_connect (demo.manager, "job-failed", G_CALLBACK (on_job_finished), &demo);
  g_signal_connect (demo.manager, "job-cancelled", G_CALLBACK (on_job_finished), &demo);
  g_signal_connect (demo.manager, "job-failed::flaky", G_CALLBACK (on_flaky_failed), &demo);

  printf ("Jupiter %s demo: max-concurrent 2, resize capped at 1\n\n", JUPITER_VERSION_S);
  printf ("%8s  %-13s  %-8s  %-18s  %-9s  %-9s  %4s\n",
          "time", "signal", "job", "name", "plugin", "status", "done");

  id = submit_resize (&demo, "photo-1.jpg", 640);
  track (&demo, id, JUPITER_JOB_STATUS_COMPLETED);
  g_free (id);
  id = submit_resize (&demo, "photo-2.jpg", 1024);
  track (&demo, id, JUPITER_JOB_STATUS_COMPLETED);
  g_free (id);

  /* Waits behind the two above (resize runs one at a time), so cancelling
   * it now cancels it at once: it only ever gets "job-cancelled". */
  photo3 = submit_resize (&demo, "photo-3.jpg", 2048);
  if (jupiter_job_manager_cancel (demo.manager, photo3, &error))
    track (&demo, photo3, JUPITER_JOB_STATUS_CANCELLED);
  else
    {
      printf ("could not cancel %s: %s\n", photo3, error->message);
      track (&demo, photo3, JUPITER_JOB_STATUS_COMPLETED);
      g_clear_error (&error);
    }

  id = submit_sync (&demo, "upload report.pdf", "flaky", 0, upload_file, "report.pdf", NULL);
  track (&demo, id, JUPITER_JOB_STATUS_FAILED);
  g_free (id);
  id = submit_sync (&demo, "upload logs.tar", "flaky", 0, upload_file, "logs.tar", NULL);
  track (&demo, id, JUPITER_JOB_STATUS_FAILED);
  g_free (id);

  fetch_args = json_node_init_string (json_node_alloc (), "https://example.org/index.json");
  fetch_options = jupiter_job_options_new ("fetch index");
  jupiter_job_options_set_plugin_id (fetch_options, "fetch");
  jupiter_job_options_set_args (fetch_options, fetch_args);
  id = jupiter_job_manager_submit_async_func (demo.manager, fetch_options, fetch_start,
                                              &demo, NULL, &error);
  if (id == NULL)
    g_error ("submitting fetch index: %s", error->message);
  track (&demo, id, JUPITER_JOB_STATUS_COMPLETED);
  g_free (id);

  demo.transcode_id = submit_sync (&demo, "transcode video", "transcode", 0,
                                   transcode_video, NULL, NULL);
  track (&demo, demo.transcode_id, JUPITER_JOB_STATUS_CANCELLED);

  id = submit_sync (&demo, "poll legacy device", "legacy", LEGACY_TIMEOUT_MS * 1000,
                    poll_legacy_device, NULL, NULL);
  track (&demo, id, JUPITER_JOB_STATUS_FAILED);
  g_free (id);

  /* Iterates this thread's main context (which delivers the signals) until
   * no job is pending or running. */
  if (!jupiter_job_manager_wait_idle (demo.manager, NULL, &error))
    g_error ("waiting: %s", error->message);

  print_stats (demo.manager);
  print_last_jobs (demo.manager, 3);

  /* The whole history, in both formats, replaced atomically. */
  {
    const char *dir = (argc == 3 && g_str_equal (argv[1], "--export-dir")) ? argv[2] : NULL;
    g_autofree char *default_dir = g_build_filename (g_get_tmp_dir (), "jupiter-demo", NULL);
    const char *exts[] = { "json", "yaml" };

    for (guint i = 0; i < G_N_ELEMENTS (exts); i++)
      {
        g_autofree char *name = g_strdup_printf ("jobs.%s", exts[i]);
        g_autofree char *path = g_build_filename (dir ? dir : default_dir, name, NULL);

        if (!jupiter_job_manager_export_jobs (demo.manager, path, JUPITER_JOB_STATUS_ANY, NULL,
                                              JUPITER_EXPORT_FORMAT_AUTO, TRUE, &error))
          g_error ("export: %s", error->message);
        printf ("exported the history to %s\n", path);
      }
  }

  /* Stops accepting jobs and waits (here up to 3 s) for job functions that
   * still run, such as the overdue legacy one; then the manager can go. */
  shutdown_start = g_get_monotonic_time ();
  if (!jupiter_job_manager_shutdown (demo.manager, 3 * G_USEC_PER_SEC, &error))
    {
      fprintf (stderr, "jupiter-demo: shutdown: %s\n", error->message);
      g_clear_error (&error);
    }
  printf ("\nShut down in %.3f s\n",
          (g_get_monotonic_time () - shutdown_start) / (double) G_USEC_PER_SEC);

  ok = check_outcomes (&demo);

  if (demo.fetcher)
    g_thread_join (demo.fetcher);
  g_clear_object (&demo.manager);
  g_hash_table_unref (demo.tracked);
  g_free (demo.transcode_id);

  printf ("\n%s\n", ok ? "demo finished: every job ended as expected"
                       : "demo FAILED: see the messages above");
  return ok ? EXIT_SUCCESS : EXIT_FAILURE;
}
