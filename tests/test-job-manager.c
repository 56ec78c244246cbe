/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "config.h"

#include <jupiter/jupiter.h>

#ifndef JUPITER_STRESS_JOBS
#define JUPITER_STRESS_JOBS 200000
#endif

/* ------------------------------------------------------------------------ */
/* A gate: jobs block on it until the test opens it. Everything waits on a   */
/* condition variable for an event; nothing sleeps.                          */

typedef struct {
  GMutex   lock;
  GCond    cond;
  gboolean open;
  guint    entered;        /* jobs that reached the gate */
  guint    left;           /* jobs that passed it */
  guint    running;        /* jobs between entering and leaving */
  guint    max_running;
  guint    saw_cancel;     /* jobs that left because they were cancelled */
  gboolean honour_cancel;
} Gate;

static void
gate_init (Gate    *gate,
           gboolean honour_cancel)
{
  memset (gate, 0, sizeof *gate);
  g_mutex_init (&gate->lock);
  g_cond_init (&gate->cond);
  gate->honour_cancel = honour_cancel;
}

static void
gate_clear (Gate *gate)
{
  g_mutex_clear (&gate->lock);
  g_cond_clear (&gate->cond);
}

static void
gate_open (Gate *gate)
{
  g_mutex_lock (&gate->lock);
  gate->open = TRUE;
  g_cond_broadcast (&gate->cond);
  g_mutex_unlock (&gate->lock);
}

static void
gate_wait_entered (Gate *gate,
                   guint n)
{
  g_mutex_lock (&gate->lock);
  while (gate->entered < n)
    g_cond_wait (&gate->cond, &gate->lock);
  g_mutex_unlock (&gate->lock);
}

static void
gate_wait_left (Gate *gate,
                guint n)
{
  g_mutex_lock (&gate->lock);
  while (gate->left < n)
    g_cond_wait (&gate->cond, &gate->lock);
  g_mutex_unlock (&gate->lock);
}

static void
gate_wake (GCancellable *cancellable,
           gpointer      data)
{
  Gate *gate = data;

  g_mutex_lock (&gate->lock);
  g_cond_broadcast (&gate->cond);
  g_mutex_unlock (&gate->lock);
}

/* Blocks at @gate; returns TRUE if it left because the job was cancelled. */
static gboolean
gate_pass (Gate              *gate,
           JupiterJobContext *context)
{
  gulong handler = 0;
  GCancellable *cancellable = NULL;
  gboolean cancelled = FALSE;

  if (gate->honour_cancel)
    {
      cancellable = jupiter_job_context_get_cancellable (context);
      handler = g_cancellable_connect (cancellable, G_CALLBACK (gate_wake), gate, NULL);
    }

  g_mutex_lock (&gate->lock);
  gate->entered++;
  gate->running++;
  gate->max_running = MAX (gate->max_running, gate->running);
  g_cond_broadcast (&gate->cond);
  while (!gate->open)
    {
      if (gate->honour_cancel && g_cancellable_is_cancelled (cancellable))
        {
          cancelled = TRUE;
          break;
        }
      g_cond_wait (&gate->cond, &gate->lock);
    }
  gate->running--;
  gate->left++;
  gate->saw_cancel += cancelled || jupiter_job_context_is_cancelled (context);
  g_cond_broadcast (&gate->cond);
  g_mutex_unlock (&gate->lock);

  if (handler)
    g_cancellable_disconnect (cancellable, handler);
  return cancelled;
}

static JsonNode *
job_gate (JupiterJobContext *context,
          gpointer           user_data,
          GError           **error)
{
  gate_pass (user_data, context);
  return json_node_init_string (json_node_alloc (), "late");
}

static JsonNode *
job_echo (JupiterJobContext *context,
          gpointer           user_data,
          GError           **error)
{
  JsonNode *args = jupiter_job_context_get_args (context);

  if (args)
    return json_node_copy (args);
  return json_node_init_int (json_node_alloc (), GPOINTER_TO_INT (user_data));
}

static JsonNode *
job_fail (JupiterJobContext *context,
          gpointer           user_data,
          GError           **error)
{
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED, "no access to %s",
               (const char *) user_data);
  return NULL;
}

static JsonNode *
job_fail_plain (JupiterJobContext *context,
                gpointer           user_data,
                GError           **error)
{
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "failed on purpose (%u)",
               GPOINTER_TO_UINT (user_data));
  return NULL;
}

/* ------------------------------------------------------------------------ */
/* The fixture: a manager owned by a private main context, with a recorder   */
/* on all five signals that checks thread and per-job order.                 */

enum { EV_STARTED = 'S', EV_PROGRESS = 'P', EV_COMPLETED = 'C', EV_FAILED = 'F', EV_CANCELLED = 'X' };

typedef struct {
  GMainContext      *context;
  JupiterJobManager *manager;
  GThread           *owner;
  GHashTable        *events;     /* id -> GString of event letters */
  GHashTable        *last;       /* id -> last JupiterJob seen */
  guint              counts[128];
  guint              wrong_thread;
  guint              wrong_status;
} Fixture;

static void
record (Fixture    *f,
        JupiterJob *job,
        char        ev)
{
  GString *s;
  JupiterJobStatus expect;

  if (g_thread_self () != f->owner)
    f->wrong_thread++;

  switch (ev)
    {
    case EV_STARTED:
    case EV_PROGRESS:
      expect = JUPITER_JOB_STATUS_RUNNING;
      break;
    case EV_COMPLETED:
      expect = JUPITER_JOB_STATUS_COMPLETED;
      break;
    case EV_FAILED:
      expect = JUPITER_JOB_STATUS_FAILED;
      break;
    default:
      expect = JUPITER_JOB_STATUS_CANCELLED;
      break;
    }
  if (jupiter_job_get_status (job) != expect)
    f->wrong_status++;

  s = g_hash_table_lookup (f->events, jupiter_job_get_id (job));
  if (s == NULL)
    {
      s = g_string_new (NULL);
      g_hash_table_insert (f->events, g_strdup (jupiter_job_get_id (job)), s);
    }
  g_string_append_c (s, ev);
  /* Handlers may keep the snapshot. */
  g_hash_table_insert (f->last, g_strdup (jupiter_job_get_id (job)), jupiter_job_ref (job));
  f->counts[(guchar) ev]++;
}

static void on_started (JupiterJobManager *m, JupiterJob *job, Fixture *f) { record (f, job, EV_STARTED); }
static void on_progress (JupiterJobManager *m, JupiterJob *job, Fixture *f) { record (f, job, EV_PROGRESS); }
static void on_completed (JupiterJobManager *m, JupiterJob *job, Fixture *f) { record (f, job, EV_COMPLETED); }
static void on_failed (JupiterJobManager *m, JupiterJob *job, Fixture *f) { record (f, job, EV_FAILED); }
static void on_cancelled (JupiterJobManager *m, JupiterJob *job, Fixture *f) { record (f, job, EV_CANCELLED); }

static void
free_string (gpointer s)
{
  g_string_free (s, TRUE);
}

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  f->context = g_main_context_new ();
  g_main_context_push_thread_default (f->context);
  f->owner = g_thread_self ();
  /* These tests fail jobs on purpose; circuit breakers have their own suite. */
  f->manager = g_object_new (JUPITER_TYPE_JOB_MANAGER,
                             "max-concurrent", 2,
                             "history-limit", 100000,
                             "enable-circuit-breaker", FALSE,
                             NULL);
  f->events = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, free_string);
  f->last = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) jupiter_job_unref);
  g_signal_connect (f->manager, "job-started", G_CALLBACK (on_started), f);
  g_signal_connect (f->manager, "job-progress", G_CALLBACK (on_progress), f);
  g_signal_connect (f->manager, "job-completed", G_CALLBACK (on_completed), f);
  g_signal_connect (f->manager, "job-failed", G_CALLBACK (on_failed), f);
  g_signal_connect (f->manager, "job-cancelled", G_CALLBACK (on_cancelled), f);
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (jupiter_job_manager_shutdown (f->manager, 30 * G_TIME_SPAN_SECOND, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (f->wrong_thread, ==, 0);
  g_assert_cmpuint (f->wrong_status, ==, 0);
  g_clear_object (&f->manager);
  g_hash_table_unref (f->events);
  g_hash_table_unref (f->last);
  g_main_context_pop_thread_default (f->context);
  g_main_context_unref (f->context);
}

static const char *
events_of (Fixture    *f,
           const char *id)
{
  GString *s = g_hash_table_lookup (f->events, id);
  return s ? s->str : "";
}

/* Every job's signals: "S P* (C|F|X)" or, cancelled while pending, "X". */
static void
assert_all_sequences (Fixture *f)
{
  g_autoptr(GRegex) re = g_regex_new ("^(SP*[CFX]|X)$", 0, 0, NULL);
  GHashTableIter iter;
  gpointer key, value;

  g_hash_table_iter_init (&iter, f->events);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      GString *s = value;
      if (!g_regex_match (re, s->str, 0, NULL))
        g_error ("job %s got signals “%s”", (char *) key, s->str);
    }
}

static char *
submit (Fixture          *f,
        const char       *name,
        const char       *plugin_id,
        JupiterJobFunc    func,
        gpointer          data)
{
  g_autoptr(JupiterJobOptions) options = jupiter_job_options_new (name);
  g_autoptr(GError) error = NULL;
  char *id;

  jupiter_job_options_set_plugin_id (options, plugin_id);
  id = jupiter_job_manager_submit (f->manager, options, func, data, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (id);
  return id;
}

static JupiterJob *
wait_job (Fixture    *f,
          const char *id)
{
  g_autoptr(GError) error = NULL;
  JupiterJob *job = jupiter_job_manager_wait (f->manager, id, NULL, &error);

  g_assert_no_error (error);
  g_assert_nonnull (job);
  g_assert_true (jupiter_job_is_finished (job));
  return job;
}

static JupiterJobStatus
status_of (Fixture    *f,
           const char *id)
{
  g_autoptr(JupiterJob) job = jupiter_job_manager_get (f->manager, id, NULL);
  g_assert_nonnull (job);
  return jupiter_job_get_status (job);
}

/* ------------------------------------------------------------------------ */
/* Sync and async jobs                                                       */

static void
test_sync_result (Fixture       *f,
                  gconstpointer  data)
{
  g_autoptr(JupiterJobOptions) options = jupiter_job_options_new ("echo args");
  g_autoptr(JsonNode) args = json_from_string ("{\"a\": [1, 2, 3]}", NULL);
  g_autoptr(GError) error = NULL;
  g_autofree char *id = NULL;
  g_autoptr(JupiterJob) job = NULL;

  jupiter_job_options_set_args (options, args);
  jupiter_job_options_set_plugin_id (options, "echo");
  jupiter_job_options_set_entry_name (options, "echo");
  id = jupiter_job_manager_submit (f->manager, options, job_echo, NULL, NULL, &error);
  g_assert_no_error (error);

  job = wait_job (f, id);
  g_assert_cmpint (jupiter_job_get_status (job), ==, JUPITER_JOB_STATUS_COMPLETED);
  g_assert_true (json_node_equal (jupiter_job_get_result (job), args));
  g_assert_null (jupiter_job_get_error (job));
  g_assert_cmpstr (jupiter_job_get_name (job), ==, "echo args");
  g_assert_cmpstr (jupiter_job_get_plugin_id (job), ==, "echo");
  g_assert_cmpstr (jupiter_job_get_entry_name (job), ==, "echo");
  g_assert_cmpint (jupiter_job_get_created_at (job), >, 0);
  g_assert_cmpint (jupiter_job_get_started_at (job), >=, jupiter_job_get_created_at (job));
  g_assert_cmpint (jupiter_job_get_completed_at (job), >=, jupiter_job_get_started_at (job));
  g_assert_cmpint (jupiter_job_get_duration (job), >=, 0);
  g_assert_cmpfloat (jupiter_job_get_progress (job), ==, 1.0);

  /* wait() returns after the terminal signal was delivered; the handler's
   * snapshot is the very record the manager keeps. */
  g_assert_cmpstr (events_of (f, id), ==, "SC");
  g_assert_true (g_hash_table_lookup (f->last, id) == job);
}

static void
test_sync_error (Fixture       *f,
                 gconstpointer  data)
{
  g_autofree char *id = submit (f, "read secret", "files", job_fail, (gpointer) "/etc/shadow");
  g_autoptr(JupiterJob) job = wait_job (f, id);
  const GError *error = jupiter_job_get_error (job);

  g_assert_cmpint (jupiter_job_get_status (job), ==, JUPITER_JOB_STATUS_FAILED);
  g_assert_error ((GError *) error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED);
  g_assert_cmpstr (error->message, ==, "no access to /etc/shadow");
  g_assert_null (jupiter_job_get_result (job));
  g_assert_cmpstr (events_of (f, id), ==, "SF");
}

typedef struct {
  JupiterJobContext *context;
  gboolean           fail;
} LaterReturn;

static gpointer
return_later_thread (gpointer data)
{
  LaterReturn *later = data;
  /* Read before returning: once the job has finished, the test that owns
   * @later may be gone. */
  JupiterJobContext *context = later->context;
  gboolean fail = later->fail;

  if (fail)
    jupiter_job_context_return_new_error (context, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                                          "remote did not answer");
  else
    jupiter_job_context_return_result (context,
                                       json_node_init_string (json_node_alloc (), "from a thread"));
  jupiter_job_context_unref (context);
  return NULL;
}

static void
async_return_from_thread (JupiterJobContext *context,
                          gpointer           user_data)
{
  LaterReturn *later = user_data;

  later->context = jupiter_job_context_ref (context);
  g_thread_unref (g_thread_new ("returner", return_later_thread, later));
}

static void
async_return_now (JupiterJobContext *context,
                  gpointer           user_data)
{
  jupiter_job_context_set_progress (context, 0.5, "halfway");
  jupiter_job_context_return_result (context, json_node_init_int (json_node_alloc (), 42));
}

static char *
submit_async (Fixture            *f,
              const char         *name,
              const char         *plugin_id,
              GTimeSpan           timeout,
              JupiterJobAsyncFunc func,
              gpointer            data)
{
  g_autoptr(JupiterJobOptions) options = jupiter_job_options_new (name);
  g_autoptr(GError) error = NULL;
  char *id;

  jupiter_job_options_set_plugin_id (options, plugin_id);
  jupiter_job_options_set_timeout (options, timeout);
  id = jupiter_job_manager_submit_async_func (f->manager, options, func, data, NULL, &error);
  g_assert_no_error (error);
  return id;
}

static void
test_async_result (Fixture       *f,
                   gconstpointer  data)
{
  LaterReturn later = { NULL, FALSE };
  g_autofree char *now_id = submit_async (f, "now", "net", 0, async_return_now, NULL);
  g_autofree char *later_id = submit_async (f, "later", "net", 0, async_return_from_thread, &later);
  g_autoptr(JupiterJob) now = wait_job (f, now_id);
  g_autoptr(JupiterJob) job = wait_job (f, later_id);

  g_assert_cmpint (jupiter_job_get_status (now), ==, JUPITER_JOB_STATUS_COMPLETED);
  g_assert_cmpint (json_node_get_int (jupiter_job_get_result (now)), ==, 42);
  g_assert_cmpstr (events_of (f, now_id), ==, "SPC");
  g_assert_cmpint (jupiter_job_get_status (job), ==, JUPITER_JOB_STATUS_COMPLETED);
  g_assert_cmpstr (json_node_get_string (jupiter_job_get_result (job)), ==, "from a thread");
  g_assert_cmpstr (events_of (f, later_id), ==, "SC");
}

static void
test_async_error (Fixture       *f,
                  gconstpointer  data)
{
  LaterReturn later = { NULL, TRUE };
  g_autofree char *id = submit_async (f, "later", "net", 0, async_return_from_thread, &later);
  g_autoptr(JupiterJob) job = wait_job (f, id);

  g_assert_cmpint (jupiter_job_get_status (job), ==, JUPITER_JOB_STATUS_FAILED);
  g_assert_error ((GError *) jupiter_job_get_error (job), G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_assert_cmpstr (events_of (f, id), ==, "SF");
}

static void
async_forget (JupiterJobContext *context,
              gpointer           user_data)
{
  /* Neither keeps the context nor returns. */
}

static void
test_async_no_return (Fixture       *f,
                      gconstpointer  data)
{
  g_autofree char *id = submit_async (f, "forgetful", "net", 0, async_forget, NULL);
  g_autoptr(JupiterJob) job = wait_job (f, id);
  JupiterJobStats stats;

  g_assert_cmpint (jupiter_job_get_status (job), ==, JUPITER_JOB_STATUS_FAILED);
  g_assert_error ((GError *) jupiter_job_get_error (job), JUPITER_JOB_ERROR, JUPITER_JOB_ERROR_FAILED);
  g_assert_nonnull (strstr (jupiter_job_get_error (job)->message, "without returning"));
  g_assert_nonnull (strstr (jupiter_job_get_error (job)->message, id));
  jupiter_job_manager_get_stats (f->manager, &stats);
  g_assert_cmpuint (stats.running, ==, 0);
}

static void
async_keep (JupiterJobContext *context,
            gpointer           user_data)
{
  JupiterJobContext **slot = user_data;
  *slot = jupiter_job_context_ref (context);
}

static void
test_async_never_returns (Fixture       *f,
                          gconstpointer  data)
{
  JupiterJobContext *kept = NULL;
  g_autofree char *id = NULL;
  g_autofree char *next_id = NULL;
  g_autoptr(JupiterJob) job = NULL;
  g_autoptr(JupiterJob) next = NULL;
  JupiterJobStats stats;

  jupiter_job_manager_set_max_concurrent (f->manager, 1);
  id = submit_async (f, "silent", "net", 30 * 1000, async_keep, &kept);
  job = wait_job (f, id);
  g_assert_cmpint (jupiter_job_get_status (job), ==, JUPITER_JOB_STATUS_FAILED);
  g_assert_error ((GError *) jupiter_job_get_error (job), JUPITER_JOB_ERROR, JUPITER_JOB_ERROR_TIMED_OUT);
  g_assert_nonnull (kept);
  g_assert_true (jupiter_job_context_is_cancelled (kept));
  g_assert_true (g_cancellable_is_cancelled (jupiter_job_context_get_cancellable (kept)));

  /* The slot stays taken until the job returns. */
  next_id = submit (f, "next", NULL, job_echo, NULL);
  jupiter_job_manager_get_stats (f->manager, &stats);
  g_assert_cmpuint (stats.overdue, ==, 1);
  g_assert_cmpuint (stats.timed_out, ==, 1);
  g_assert_cmpint (status_of (f, next_id), ==, JUPITER_JOB_STATUS_PENDING);

  /* The late result is discarded and frees the slot. */
  jupiter_job_context_return_result (kept, json_node_init_int (json_node_alloc (), 1));
  jupiter_job_context_unref (kept);
  next = wait_job (f, next_id);
  g_assert_cmpint (jupiter_job_get_status (next), ==, JUPITER_JOB_STATUS_COMPLETED);
  g_clear_pointer (&job, jupiter_job_unref);
  job = jupiter_job_manager_get (f->manager, id, NULL);
  g_assert_cmpint (jupiter_job_get_status (job), ==, JUPITER_JOB_STATUS_FAILED);
  g_assert_null (jupiter_job_get_result (job));
  jupiter_job_manager_get_stats (f->manager, &stats);
  g_assert_cmpuint (stats.overdue, ==, 0);
  g_assert_cmpstr (events_of (f, id), ==, "SF");
}

static void
async_return_twice (JupiterJobContext *context,
                    gpointer           user_data)
{
  jupiter_job_context_return_result (context, NULL);
  jupiter_job_context_return_result (context, NULL);
}

static void
test_async_double_return (Fixture       *f,
                          gconstpointer  data)
{
  if (g_test_subprocess ())
    {
      g_autofree char *id = submit_async (f, "twice", NULL, 0, async_return_twice, NULL);
      g_autoptr(JupiterJob) job = wait_job (f, id);
      return;
    }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_failed ();
  g_test_trap_assert_stderr ("*returned twice*");
}

/* ------------------------------------------------------------------------ */
/* Cancellation                                                              */

static void
test_cancel_pending (Fixture       *f,
                     gconstpointer  data)
{
  Gate gate;
  g_autofree char *blocker = NULL;
  g_autofree char *pending = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JupiterJob) job = NULL;

  gate_init (&gate, FALSE);
  jupiter_job_manager_set_max_concurrent (f->manager, 1);
  blocker = submit (f, "blocker", NULL, job_gate, &gate);
  pending = submit (f, "pending", NULL, job_echo, NULL);
  gate_wait_entered (&gate, 1);
  g_assert_cmpint (status_of (f, pending), ==, JUPITER_JOB_STATUS_PENDING);

  g_assert_true (jupiter_job_manager_cancel (f->manager, pending, &error));
  g_assert_no_error (error);
  /* At once, without iterating the context. */
  g_assert_cmpint (status_of (f, pending), ==, JUPITER_JOB_STATUS_CANCELLED);

  g_assert_false (jupiter_job_manager_cancel (f->manager, pending, &error));
  g_assert_error (error, JUPITER_JOB_ERROR, JUPITER_JOB_ERROR_ALREADY_FINISHED);
  g_clear_error (&error);
  g_assert_false (jupiter_job_manager_cancel (f->manager, "no-such-job", &error));
  g_assert_error (error, JUPITER_JOB_ERROR, JUPITER_JOB_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, "no-such-job"));
  g_clear_error (&error);

  gate_open (&gate);
  job = wait_job (f, blocker);
  g_assert_cmpint (jupiter_job_get_status (job), ==, JUPITER_JOB_STATUS_COMPLETED);
  g_assert_true (jupiter_job_manager_wait_idle (f->manager, NULL, NULL));
  g_assert_cmpstr (events_of (f, pending), ==, "X");
  g_assert_cmpstr (events_of (f, blocker), ==, "SC");
  gate_clear (&gate);
}

static void
test_cancel_running (Fixture       *f,
                     gconstpointer  data)
{
  Gate gate;
  g_autofree char *id = NULL;
  g_autoptr(JupiterJob) job = NULL;
  g_autoptr(GError) error = NULL;

  gate_init (&gate, TRUE);
  id = submit (f, "cancellable", "work", job_gate, &gate);
  gate_wait_entered (&gate, 1);
  g_assert_cmpint (status_of (f, id), ==, JUPITER_JOB_STATUS_RUNNING);
  g_assert_true (jupiter_job_manager_cancel (f->manager, id, &error));
  g_assert_no_error (error);

  job = wait_job (f, id);
  g_assert_cmpint (jupiter_job_get_status (job), ==, JUPITER_JOB_STATUS_CANCELLED);
  g_assert_error ((GError *) jupiter_job_get_error (job), JUPITER_JOB_ERROR, JUPITER_JOB_ERROR_CANCELLED);
  /* The function returned a result anyway: it is discarded. */
  g_assert_null (jupiter_job_get_result (job));
  g_assert_cmpuint (gate.saw_cancel, ==, 1);
  g_assert_cmpstr (events_of (f, id), ==, "SX");
  gate_clear (&gate);
}

/* ------------------------------------------------------------------------ */
/* Timeouts                                                                  */

static void
test_timeout (Fixture       *f,
              gconstpointer  data)
{
  Gate gate;
  g_autoptr(JupiterJobOptions) options = jupiter_job_options_new ("stubborn");
  g_autofree char *id = NULL;
  g_autofree char *next_id = NULL;
  g_autoptr(JupiterJob) job = NULL;
  g_autoptr(JupiterJob) next = NULL;
  JupiterJobStats stats;

  gate_init (&gate, FALSE);   /* ignores cancellation */
  jupiter_job_manager_set_max_concurrent (f->manager, 1);
  jupiter_job_options_set_timeout (options, 20 * 1000);
  id = jupiter_job_manager_submit (f->manager, options, job_gate, &gate, NULL, NULL);
  next_id = submit (f, "next", NULL, job_echo, NULL);

  job = wait_job (f, id);
  g_assert_cmpint (jupiter_job_get_status (job), ==, JUPITER_JOB_STATUS_FAILED);
  g_assert_error ((GError *) jupiter_job_get_error (job), JUPITER_JOB_ERROR, JUPITER_JOB_ERROR_TIMED_OUT);
  g_assert_nonnull (strstr (jupiter_job_get_error (job)->message, id));
  g_assert_cmpint (jupiter_job_get_duration (job), >=, 20 * 1000);

  /* The function still runs: it holds the only slot. */
  jupiter_job_manager_get_stats (f->manager, &stats);
  g_assert_cmpuint (stats.overdue, ==, 1);
  g_assert_cmpuint (stats.timed_out, ==, 1);
  g_assert_cmpuint (stats.running, ==, 0);
  g_assert_cmpuint (gate.left, ==, 0);
  g_assert_cmpint (status_of (f, next_id), ==, JUPITER_JOB_STATUS_PENDING);

  gate_open (&gate);
  next = wait_job (f, next_id);
  g_assert_cmpint (jupiter_job_get_status (next), ==, JUPITER_JOB_STATUS_COMPLETED);
  g_assert_cmpuint (gate.left, ==, 1);
  g_assert_cmpuint (gate.saw_cancel, ==, 1);   /* its cancellable was triggered */

  /* The late result was discarded. */
  g_clear_pointer (&job, jupiter_job_unref);
  job = jupiter_job_manager_get (f->manager, id, NULL);
  g_assert_cmpint (jupiter_job_get_status (job), ==, JUPITER_JOB_STATUS_FAILED);
  g_assert_null (jupiter_job_get_result (job));
  jupiter_job_manager_get_stats (f->manager, &stats);
  g_assert_cmpuint (stats.overdue, ==, 0);
  g_assert_cmpuint (stats.total_failed, ==, 1);
  g_assert_cmpstr (events_of (f, id), ==, "SF");
  gate_clear (&gate);
}

static void
test_default_timeout (Fixture       *f,
                      gconstpointer  data)
{
  Gate gate;
  g_autofree char *id = NULL;
  g_autoptr(JupiterJob) job = NULL;

  gate_init (&gate, TRUE);
  g_object_set (f->manager, "default-timeout", (gint64) 10 * 1000, NULL);
  id = submit (f, "default", NULL, job_gate, &gate);
  job = wait_job (f, id);
  g_assert_error ((GError *) jupiter_job_get_error (job), JUPITER_JOB_ERROR, JUPITER_JOB_ERROR_TIMED_OUT);
  /* Honouring cancellation, the function leaves by itself. */
  gate_wait_left (&gate, 1);
  g_assert_cmpuint (gate.saw_cancel, ==, 1);
  g_assert_true (jupiter_job_manager_shutdown (f->manager, 30 * G_TIME_SPAN_SECOND, NULL));
  gate_clear (&gate);
}

/* ------------------------------------------------------------------------ */
/* Bounds                                                                    */

static void
test_cap_global (Fixture       *f,
                 gconstpointer  data)
{
  Gate gate;
  JupiterJobStats stats;

  gate_init (&gate, FALSE);
  jupiter_job_manager_set_max_concurrent (f->manager, 3);
  for (guint i = 0; i < 30; i++)
    {
      g_autofree char *id = submit (f, "capped", i % 2 ? "a" : "b", job_gate, &gate);
    }
  gate_wait_entered (&gate, 3);
  jupiter_job_manager_get_stats (f->manager, &stats);
  g_assert_cmpuint (stats.running, ==, 3);
  g_assert_cmpuint (stats.pending, ==, 27);
  g_assert_cmpuint (gate.entered, ==, 3);

  gate_open (&gate);
  g_assert_true (jupiter_job_manager_wait_idle (f->manager, NULL, NULL));
  g_assert_cmpuint (gate.left, ==, 30);
  g_assert_cmpuint (gate.max_running, <=, 3);
  g_assert_cmpuint (f->counts[EV_COMPLETED], ==, 30);
  gate_clear (&gate);
}

typedef struct {
  Gate *gate;
  gint *running;
  gint *max;
} PluginGate;

static JsonNode *
job_plugin_gate (JupiterJobContext *context,
                 gpointer           user_data,
                 GError           **error)
{
  PluginGate *pg = user_data;
  gint now = g_atomic_int_add (pg->running, 1) + 1;
  gint max;

  while ((max = g_atomic_int_get (pg->max)) < now &&
         !g_atomic_int_compare_and_exchange (pg->max, max, now))
    ;
  gate_pass (pg->gate, context);
  g_atomic_int_add (pg->running, -1);
  return NULL;
}

static void
test_cap_per_plugin (Fixture       *f,
                     gconstpointer  data)
{
  Gate gate;
  gint running[3] = { 0 }, max[3] = { 0 };
  PluginGate pg[3];
  const char *plugins[3] = { "a", "b", "c" };
  JupiterJobStats stats;

  gate_init (&gate, FALSE);
  for (guint p = 0; p < 3; p++)
    pg[p] = (PluginGate) { &gate, &running[p], &max[p] };

  g_object_set (f->manager, "max-concurrent", 8, "max-concurrent-per-plugin", 2, NULL);
  jupiter_job_manager_set_plugin_max_concurrent (f->manager, "a", 1);
  for (guint i = 0; i < 24; i++)
    {
      g_autofree char *id = submit (f, "per-plugin", plugins[i % 3], job_plugin_gate, &pg[i % 3]);
    }
  /* a: 1, b: 2, c: 2 (the per-plugin default). */
  gate_wait_entered (&gate, 5);
  jupiter_job_manager_get_stats (f->manager, &stats);
  g_assert_cmpuint (stats.running, ==, 5);
  g_assert_cmpuint (jupiter_job_manager_count (f->manager, JUPITER_JOB_STATUS_RUNNING, "a"), ==, 1);
  g_assert_cmpuint (jupiter_job_manager_count (f->manager, JUPITER_JOB_STATUS_RUNNING, "b"), ==, 2);
  g_assert_cmpuint (jupiter_job_manager_count (f->manager, JUPITER_JOB_STATUS_RUNNING, "c"), ==, 2);
  g_assert_cmpuint (jupiter_job_manager_count (f->manager, JUPITER_JOB_STATUS_PENDING, "a"), ==, 7);

  /* Raising a plugin's cap starts more of its jobs at once. */
  jupiter_job_manager_set_plugin_max_concurrent (f->manager, "a", 3);
  gate_wait_entered (&gate, 7);
  g_assert_cmpuint (jupiter_job_manager_count (f->manager, JUPITER_JOB_STATUS_RUNNING, "a"), ==, 3);

  gate_open (&gate);
  g_assert_true (jupiter_job_manager_wait_idle (f->manager, NULL, NULL));
  g_assert_cmpint (max[0], <=, 3);
  g_assert_cmpint (max[1], ==, 2);
  g_assert_cmpint (max[2], ==, 2);
  g_assert_cmpuint (gate.max_running, <=, 8);
  g_assert_cmpuint (f->counts[EV_COMPLETED], ==, 24);
  gate_clear (&gate);
}

static void
test_queue_full (Fixture       *f,
                 gconstpointer  data)
{
  Gate gate;
  g_autoptr(JupiterJobOptions) options = jupiter_job_options_new ("overflow");
  g_autoptr(GError) error = NULL;
  g_autofree char *id = NULL;
  JupiterJobStats stats;

  gate_init (&gate, FALSE);
  g_object_set (f->manager, "max-concurrent", 1, "max-pending", 2, NULL);
  g_free (submit (f, "running", NULL, job_gate, &gate));
  gate_wait_entered (&gate, 1);
  g_free (submit (f, "queued 1", NULL, job_gate, &gate));
  g_free (submit (f, "queued 2", NULL, job_gate, &gate));

  id = jupiter_job_manager_submit (f->manager, options, job_echo, NULL, NULL, &error);
  g_assert_null (id);
  g_assert_error (error, JUPITER_JOB_ERROR, JUPITER_JOB_ERROR_QUEUE_FULL);
  g_assert_nonnull (strstr (error->message, "overflow"));
  jupiter_job_manager_get_stats (f->manager, &stats);
  g_assert_cmpuint (stats.rejected, ==, 1);
  g_assert_cmpuint (stats.submitted, ==, 3);
  g_assert_cmpuint (stats.pending, ==, 2);

  gate_open (&gate);
  g_assert_true (jupiter_job_manager_wait_idle (f->manager, NULL, NULL));
  gate_clear (&gate);
}

static void
set_true (gpointer data)
{
  *(gboolean *) data = TRUE;
}

static void
test_user_data_freed (Fixture       *f,
                      gconstpointer  data)
{
  g_autoptr(JupiterJobOptions) options = jupiter_job_options_new ("freed");
  gboolean ran_free = FALSE, rejected_free = FALSE;
  g_autofree char *id = NULL;
  g_autoptr(JupiterJob) job = NULL;

  id = jupiter_job_manager_submit (f->manager, options, job_echo, &ran_free, set_true, NULL);
  job = wait_job (f, id);
  g_assert_true (ran_free);

  g_assert_true (jupiter_job_manager_shutdown (f->manager, 0, NULL));
  g_assert_null (jupiter_job_manager_submit (f->manager, options, job_echo, &rejected_free, set_true, NULL));
  g_assert_true (rejected_free);
}

/* ------------------------------------------------------------------------ */
/* History                                                                   */

static void
test_prune (Fixture       *f,
            gconstpointer  data)
{
  Gate gate;
  g_autofree char *running = NULL;
  g_autoptr(GPtrArray) ids = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) listed = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JupiterJob) first = NULL;
  JupiterJobStats stats;

  gate_init (&gate, FALSE);
  jupiter_job_manager_set_history_limit (f->manager, 3);
  running = submit (f, "long", NULL, job_gate, &gate);
  gate_wait_entered (&gate, 1);

  for (guint i = 0; i < 10; i++)
    {
      char *id = submit (f, "short", NULL, job_echo, GINT_TO_POINTER (i));
      g_ptr_array_add (ids, id);
      jupiter_job_unref (wait_job (f, id));
    }

  listed = jupiter_job_manager_list (f->manager, JUPITER_JOB_STATUS_ANY, NULL, 0);
  /* The three newest finished jobs and the running one. */
  g_assert_cmpuint (listed->len, ==, 4);
  g_assert_cmpstr (jupiter_job_get_id (listed->pdata[0]), ==, ids->pdata[9]);
  g_assert_cmpstr (jupiter_job_get_id (listed->pdata[1]), ==, ids->pdata[8]);
  g_assert_cmpstr (jupiter_job_get_id (listed->pdata[2]), ==, ids->pdata[7]);
  g_assert_cmpstr (jupiter_job_get_id (listed->pdata[3]), ==, running);
  g_assert_cmpint (jupiter_job_get_status (listed->pdata[3]), ==, JUPITER_JOB_STATUS_RUNNING);

  first = jupiter_job_manager_get (f->manager, ids->pdata[0], &error);
  g_assert_null (first);
  g_assert_error (error, JUPITER_JOB_ERROR, JUPITER_JOB_ERROR_NOT_FOUND);
  jupiter_job_manager_get_stats (f->manager, &stats);
  g_assert_cmpuint (stats.pruned, ==, 7);
  g_assert_cmpuint (stats.completed, ==, 3);
  g_assert_cmpuint (stats.total_completed, ==, 10);

  /* Lowering the limit prunes at once; the running job stays. */
  jupiter_job_manager_set_history_limit (f->manager, 1);
  g_assert_cmpuint (jupiter_job_manager_count (f->manager, JUPITER_JOB_STATUS_ANY, NULL), ==, 2);

  gate_open (&gate);
  jupiter_job_unref (wait_job (f, running));
  g_clear_pointer (&listed, g_ptr_array_unref);
  listed = jupiter_job_manager_list (f->manager, JUPITER_JOB_STATUS_ANY, NULL, 0);
  g_assert_cmpuint (listed->len, ==, 1);
  g_assert_cmpstr (jupiter_job_get_id (listed->pdata[0]), ==, running);
  gate_clear (&gate);
}

static void
test_clear_history (Fixture       *f,
                    gconstpointer  data)
{
  Gate gate;
  g_autofree char *running = NULL;
  JupiterJobStats stats;

  gate_init (&gate, FALSE);
  running = submit (f, "long", NULL, job_gate, &gate);
  gate_wait_entered (&gate, 1);
  for (guint i = 0; i < 6; i++)
    {
      g_autofree char *id = submit (f, "mixed", NULL, i % 3 ? job_echo : job_fail, (gpointer) "x");
      jupiter_job_unref (wait_job (f, id));
    }
  g_assert_cmpuint (jupiter_job_manager_count (f->manager, JUPITER_JOB_STATUS_FAILED, NULL), ==, 2);
  g_assert_cmpuint (jupiter_job_manager_clear_history (f->manager, JUPITER_JOB_STATUS_FAILED), ==, 2);
  g_assert_cmpuint (jupiter_job_manager_count (f->manager, JUPITER_JOB_STATUS_FAILED, NULL), ==, 0);
  g_assert_cmpuint (jupiter_job_manager_count (f->manager, JUPITER_JOB_STATUS_COMPLETED, NULL), ==, 4);
  g_assert_cmpuint (jupiter_job_manager_clear_history (f->manager, JUPITER_JOB_STATUS_ANY), ==, 4);
  g_assert_cmpuint (jupiter_job_manager_count (f->manager, JUPITER_JOB_STATUS_ANY, NULL), ==, 1);
  g_assert_cmpint (status_of (f, running), ==, JUPITER_JOB_STATUS_RUNNING);
  jupiter_job_manager_get_stats (f->manager, &stats);
  g_assert_cmpuint (stats.total_failed, ==, 2);
  g_assert_cmpuint (stats.total_completed, ==, 4);

  gate_open (&gate);
  jupiter_job_unref (wait_job (f, running));
  gate_clear (&gate);
}

/* ------------------------------------------------------------------------ */
/* Queries                                                                   */

static void
check_stats_agree (Fixture *f)
{
  JupiterJobStats stats;
  JupiterJobStatus all[] = {
    JUPITER_JOB_STATUS_PENDING, JUPITER_JOB_STATUS_RUNNING, JUPITER_JOB_STATUS_COMPLETED,
    JUPITER_JOB_STATUS_FAILED, JUPITER_JOB_STATUS_CANCELLED,
  };
  guint by_status[5] = { 0 };
  g_autoptr(GPtrArray) listed = NULL;
  guint total = 0;

  /* Quiescent: nothing changes between the calls. */
  jupiter_job_manager_get_stats (f->manager, &stats);
  listed = jupiter_job_manager_list (f->manager, JUPITER_JOB_STATUS_ANY, NULL, 0);
  for (guint i = 0; i < listed->len; i++)
    by_status[jupiter_job_get_status (listed->pdata[i])]++;
  for (guint i = 0; i < G_N_ELEMENTS (all); i++)
    {
      g_autoptr(GPtrArray) one = jupiter_job_manager_list (f->manager, all[i], NULL, 0);
      g_assert_cmpuint (one->len, ==, by_status[i]);
      g_assert_cmpuint (jupiter_job_manager_count (f->manager, all[i], NULL), ==, by_status[i]);
      total += by_status[i];
    }
  g_assert_cmpuint (stats.pending, ==, by_status[JUPITER_JOB_STATUS_PENDING]);
  g_assert_cmpuint (stats.running, ==, by_status[JUPITER_JOB_STATUS_RUNNING]);
  g_assert_cmpuint (stats.completed, ==, by_status[JUPITER_JOB_STATUS_COMPLETED]);
  g_assert_cmpuint (stats.failed, ==, by_status[JUPITER_JOB_STATUS_FAILED]);
  g_assert_cmpuint (stats.cancelled, ==, by_status[JUPITER_JOB_STATUS_CANCELLED]);
  g_assert_cmpuint (total, ==, listed->len);
  g_assert_cmpuint (jupiter_job_manager_count (f->manager, JUPITER_JOB_STATUS_ANY, NULL), ==, total);
  g_assert_cmpuint (stats.submitted, ==,
                    stats.pending + stats.running + stats.total_completed +
                    stats.total_failed + stats.total_cancelled);
}

static void
test_list_and_stats (Fixture       *f,
                     gconstpointer  data)
{
  Gate gate;
  g_autoptr(GPtrArray) ids = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) listed = NULL;
  const char *plugins[] = { "a", "b" };

  gate_init (&gate, TRUE);
  jupiter_job_manager_set_max_concurrent (f->manager, 1);
  for (guint i = 0; i < 8; i++)
    {
      char *id = submit (f, "job", plugins[i % 2], i % 4 == 3 ? job_fail : job_echo, (gpointer) "y");
      g_ptr_array_add (ids, id);
    }
  g_assert_true (jupiter_job_manager_wait_idle (f->manager, NULL, NULL));
  g_ptr_array_add (ids, submit (f, "blocker", "a", job_gate, &gate));
  gate_wait_entered (&gate, 1);
  g_ptr_array_add (ids, submit (f, "queued", "b", job_echo, NULL));
  g_ptr_array_add (ids, submit (f, "to cancel", "b", job_echo, NULL));
  g_assert_true (jupiter_job_manager_cancel (f->manager, ids->pdata[10], NULL));

  check_stats_agree (f);

  /* Newest first, by submission. */
  listed = jupiter_job_manager_list (f->manager, JUPITER_JOB_STATUS_ANY, NULL, 0);
  g_assert_cmpuint (listed->len, ==, 11);
  for (guint i = 0; i < listed->len; i++)
    g_assert_cmpstr (jupiter_job_get_id (listed->pdata[i]), ==, ids->pdata[10 - i]);
  g_clear_pointer (&listed, g_ptr_array_unref);

  listed = jupiter_job_manager_list (f->manager, JUPITER_JOB_STATUS_ANY, NULL, 3);
  g_assert_cmpuint (listed->len, ==, 3);
  g_assert_cmpstr (jupiter_job_get_id (listed->pdata[0]), ==, ids->pdata[10]);
  g_clear_pointer (&listed, g_ptr_array_unref);

  listed = jupiter_job_manager_list (f->manager, JUPITER_JOB_STATUS_FAILED, "b", 0);
  g_assert_cmpuint (listed->len, ==, 2);
  for (guint i = 0; i < listed->len; i++)
    {
      g_assert_cmpstr (jupiter_job_get_plugin_id (listed->pdata[i]), ==, "b");
      g_assert_cmpint (jupiter_job_get_status (listed->pdata[i]), ==, JUPITER_JOB_STATUS_FAILED);
    }
  g_clear_pointer (&listed, g_ptr_array_unref);

  listed = jupiter_job_manager_list (f->manager, JUPITER_JOB_STATUS_ANY, "a", 0);
  g_assert_cmpuint (listed->len, ==, 5);
  g_clear_pointer (&listed, g_ptr_array_unref);
  listed = jupiter_job_manager_list (f->manager, JUPITER_JOB_STATUS_ANY, "nobody", 0);
  g_assert_cmpuint (listed->len, ==, 0);

  gate_open (&gate);
  g_assert_true (jupiter_job_manager_wait_idle (f->manager, NULL, NULL));
  check_stats_agree (f);
  gate_clear (&gate);
}

typedef struct {
  JupiterJobManager *manager;
  gint               stop;
  guint              checks;
  guint              bad;
} Querier;

static gpointer
query_thread (gpointer data)
{
  Querier *q = data;

  while (!g_atomic_int_get (&q->stop))
    {
      JupiterJobStats stats;
      g_autoptr(GPtrArray) jobs = NULL;

      jupiter_job_manager_get_stats (q->manager, &stats);
      if (stats.submitted != stats.pending + stats.running + stats.total_completed +
                             stats.total_failed + stats.total_cancelled)
        q->bad++;
      jobs = jupiter_job_manager_list (q->manager, JUPITER_JOB_STATUS_ANY, NULL, 20);
      for (guint i = 0; i < jobs->len; i++)
        {
          g_autoptr(JupiterJob) again = jupiter_job_manager_get (q->manager,
                                                                 jupiter_job_get_id (jobs->pdata[i]), NULL);
          /* Never goes backwards. */
          if (again && jupiter_job_get_status (again) < jupiter_job_get_status (jobs->pdata[i]) &&
              !jupiter_job_is_finished (jobs->pdata[i]))
            q->bad++;
          if (i > 0 && jupiter_job_get_created_at (jobs->pdata[i]) > jupiter_job_get_created_at (jobs->pdata[i - 1]))
            q->bad++;
        }
      (void) jupiter_job_manager_count (q->manager, JUPITER_JOB_STATUS_RUNNING, "p1");
      q->checks++;
    }
  return NULL;
}

static JsonNode *
job_progress_steps (JupiterJobContext *context,
                    gpointer           user_data,
                    GError           **error)
{
  guint steps = GPOINTER_TO_UINT (user_data);

  for (guint i = 1; i <= steps; i++)
    {
      char msg[32];
      g_snprintf (msg, sizeof msg, "step %u", i);
      jupiter_job_context_set_progress (context, (double) i / steps, msg);
    }
  return NULL;
}

static void
test_queries_many_threads (Fixture       *f,
                           gconstpointer  data)
{
  Querier q[4];
  GThread *threads[4];
  guint n = 2000;

  g_object_set (f->manager, "history-limit", 500, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (q); i++)
    {
      q[i] = (Querier) { f->manager, 0, 0, 0 };
      threads[i] = g_thread_new ("querier", query_thread, &q[i]);
    }
  for (guint i = 0; i < n; i++)
    {
      g_autofree char *id = submit (f, "q", i % 2 ? "p1" : "p2",
                                    i % 5 == 0 ? job_fail_plain : job_progress_steps, GUINT_TO_POINTER (3));
      if (i % 97 == 0)
        jupiter_job_manager_cancel (f->manager, id, NULL);
      if (i % 100 == 0)
        g_main_context_iteration (f->context, FALSE);
    }
  g_assert_true (jupiter_job_manager_wait_idle (f->manager, NULL, NULL));
  for (guint i = 0; i < G_N_ELEMENTS (q); i++)
    {
      g_atomic_int_set (&q[i].stop, 1);
      g_thread_join (threads[i]);
      g_assert_cmpuint (q[i].bad, ==, 0);
      g_assert_cmpuint (q[i].checks, >, 0);
    }
  g_assert_cmpuint (f->counts[EV_COMPLETED] + f->counts[EV_FAILED] + f->counts[EV_CANCELLED], ==, n);
  assert_all_sequences (f);
  check_stats_agree (f);
}

typedef struct {
  JupiterJobManager *manager;
  const char        *id;
  guint              rounds;
  JsonObject        *expect_meta;
} Reader;

static gpointer
read_json_thread (gpointer data)
{
  Reader *r = data;

  for (guint i = 0; i < r->rounds; i++)
    {
      g_autoptr(JupiterJob) job = jupiter_job_manager_get (r->manager, r->id, NULL);
      g_autoptr(JsonNode) node = jupiter_job_to_json (job, TRUE);
      JsonObject *obj = json_node_get_object (node);

      g_assert_true (json_object_equal (jupiter_job_get_metadata (job), r->expect_meta));
      g_assert_true (json_object_equal (json_object_get_object_member (obj, "metadata"), r->expect_meta));
    }
  return NULL;
}

static JsonNode *
job_gate_object (JupiterJobContext *context,
                 gpointer           user_data,
                 GError           **error)
{
  JsonNode *args = jupiter_job_context_get_args (context);
  g_autofree char *text = json_to_string (args, FALSE);

  /* A fresh tree built from the shared args, which are only read. */
  gate_pass (user_data, context);
  return json_from_string (text, NULL);
}

static void
read_from_threads (Reader *r)
{
  GThread *threads[4];

  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    threads[i] = g_thread_new ("reader", read_json_thread, r);
  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    g_thread_join (threads[i]);
}

static void
test_shared_json_from_threads (Fixture       *f,
                               gconstpointer  data)
{
  Gate gate;
  g_autoptr(JupiterJobOptions) options = jupiter_job_options_new ("shared json");
  g_autoptr(JsonObject) meta = json_object_new ();
  g_autoptr(JsonNode) args = json_from_string ("{\"list\": [1, {\"deep\": [true, null]}]}", NULL);
  g_autofree char *id = NULL;
  g_autoptr(JupiterJob) job = NULL;
  Reader r;

  /* json-glib counts JsonObject references without atomics: snapshots and
   * exports read from many threads must never touch a shared object's count. */
  gate_init (&gate, FALSE);
  json_object_set_string_member (meta, "owner", "ops");
  json_object_set_array_member (meta, "tags", json_array_new ());
  jupiter_job_options_set_metadata (options, meta);
  jupiter_job_options_set_args (options, args);
  id = jupiter_job_manager_submit (f->manager, options, job_gate_object, &gate, NULL, NULL);
  gate_wait_entered (&gate, 1);

  r = (Reader) { f->manager, id, 2000, meta };
  read_from_threads (&r);               /* while it runs */
  gate_open (&gate);
  job = wait_job (f, id);
  g_assert_true (json_node_equal (jupiter_job_get_result (job), args));
  read_from_threads (&r);               /* finished, with a result */
  gate_clear (&gate);
}

/* ------------------------------------------------------------------------ */
/* Signals                                                                   */

static gpointer
submit_from_thread (gpointer data)
{
  Fixture *f = data;

  for (guint i = 0; i < 50; i++)
    {
      g_autoptr(JupiterJobOptions) options = jupiter_job_options_new ("from a thread");
      g_autofree char *id = NULL;

      jupiter_job_options_set_plugin_id (options, "threaded");
      id = jupiter_job_manager_submit (f->manager, options,
                                       i % 3 ? job_progress_steps : job_fail_plain,
                                       GUINT_TO_POINTER (2), NULL, NULL);
      g_assert_nonnull (id);
    }
  return NULL;
}

static void
test_signals_owner_thread_and_order (Fixture       *f,
                                     gconstpointer  data)
{
  GThread *a = g_thread_new ("submitter", submit_from_thread, f);
  GThread *b = g_thread_new ("submitter", submit_from_thread, f);
  LaterReturn later[10];

  for (guint i = 0; i < G_N_ELEMENTS (later); i++)
    {
      later[i] = (LaterReturn) { NULL, i % 2 };
      g_free (submit_async (f, "async", "threaded", 0, async_return_from_thread, &later[i]));
    }
  g_thread_join (a);
  g_thread_join (b);
  g_assert_true (jupiter_job_manager_wait_idle (f->manager, NULL, NULL));

  g_assert_cmpuint (g_hash_table_size (f->events), ==, 110);
  g_assert_cmpuint (f->counts[EV_STARTED], ==, 110);
  g_assert_cmpuint (f->counts[EV_COMPLETED] + f->counts[EV_FAILED], ==, 110);
  g_assert_cmpuint (f->counts[EV_FAILED], ==, 2 * 17 + 5);
  /* The fixture counts handler calls from any other thread. */
  g_assert_cmpuint (f->wrong_thread, ==, 0);
  assert_all_sequences (f);
}

static void
count_signal (JupiterJobManager *manager,
              JupiterJob        *job,
              guint             *count)
{
  g_assert_cmpstr (jupiter_job_get_plugin_id (job), ==, "alpha");
  (*count)++;
}

static void
test_signals_detail (Fixture       *f,
                     gconstpointer  data)
{
  guint alpha_failed = 0, alpha_completed = 0;

  g_signal_connect (f->manager, "job-failed::alpha", G_CALLBACK (count_signal), &alpha_failed);
  g_signal_connect (f->manager, "job-completed::alpha", G_CALLBACK (count_signal), &alpha_completed);
  for (guint i = 0; i < 12; i++)
    g_free (submit (f, "detail", i % 3 == 0 ? "alpha" : "beta", i % 2 ? job_fail : job_echo, (gpointer) "z"));
  g_assert_true (jupiter_job_manager_wait_idle (f->manager, NULL, NULL));

  /* alpha: i = 0, 3, 6, 9: fails for 3 and 9. */
  g_assert_cmpuint (alpha_failed, ==, 2);
  g_assert_cmpuint (alpha_completed, ==, 2);
  g_assert_cmpuint (f->counts[EV_FAILED], ==, 6);
}

typedef struct {
  Gate  *gate;
  guint  steps;
} ProgressThenWait;

static JsonNode *
job_progress_then_gate (JupiterJobContext *context,
                        gpointer           user_data,
                        GError           **error)
{
  ProgressThenWait *p = user_data;

  job_progress_steps (context, GUINT_TO_POINTER (p->steps), error);
  gate_pass (p->gate, context);
  return NULL;
}

static void
test_progress_merging (Fixture       *f,
                       gconstpointer  data)
{
  Gate gate;
  ProgressThenWait p;
  g_autofree char *id = NULL;
  g_autoptr(JupiterJob) snap = NULL;
  JupiterJob *seen;

  gate_init (&gate, FALSE);
  p = (ProgressThenWait) { &gate, 1000 };
  id = submit (f, "chatty", NULL, job_progress_then_gate, &p);
  /* 1000 reports are made while the owner context is not iterated. */
  gate_wait_entered (&gate, 1);

  snap = jupiter_job_manager_get (f->manager, id, NULL);
  g_assert_cmpfloat (jupiter_job_get_progress (snap), ==, 1.0);
  g_assert_cmpstr (jupiter_job_get_message (snap), ==, "step 1000");

  while (f->counts[EV_PROGRESS] == 0)
    g_main_context_iteration (f->context, TRUE);
  g_assert_cmpstr (events_of (f, id), ==, "SP");
  seen = g_hash_table_lookup (f->last, id);
  g_assert_cmpstr (jupiter_job_get_message (seen), ==, "step 1000");
  g_assert_cmpfloat (jupiter_job_get_progress (seen), ==, 1.0);

  gate_open (&gate);
  jupiter_job_unref (wait_job (f, id));
  g_assert_cmpstr (events_of (f, id), ==, "SPC");
  gate_clear (&gate);
}

static void
waited (GObject      *source,
        GAsyncResult *result,
        gpointer      user_data)
{
  JupiterJob **out = user_data;
  g_autoptr(GError) error = NULL;

  *out = jupiter_job_manager_wait_finish (JUPITER_JOB_MANAGER (source), result, &error);
  g_assert_no_error (error);
}

static void
test_state_without_loop (Fixture       *f,
                         gconstpointer  data)
{
  /* The manager's context (f->context) is never iterated here; the test
   * waits on a context of its own. */
  g_autoptr(GMainContext) mine = g_main_context_new ();
  g_autoptr(JupiterJob) job = NULL;
  g_autoptr(JupiterJob) snap = NULL;
  g_autofree char *id = NULL;
  g_autofree char *async_id = NULL;
  JupiterJobStats stats;

  id = submit (f, "quiet", NULL, job_progress_steps, GUINT_TO_POINTER (5));
  async_id = submit_async (f, "needs the loop", NULL, 0, async_return_now, NULL);

  g_main_context_push_thread_default (mine);
  jupiter_job_manager_wait_async (f->manager, id, NULL, waited, &job);
  while (job == NULL)
    g_main_context_iteration (mine, TRUE);
  g_main_context_pop_thread_default (mine);

  g_assert_cmpint (jupiter_job_get_status (job), ==, JUPITER_JOB_STATUS_COMPLETED);
  snap = jupiter_job_manager_get (f->manager, id, NULL);
  g_assert_true (snap == job);
  jupiter_job_manager_get_stats (f->manager, &stats);
  g_assert_cmpuint (stats.total_completed, ==, 1);
  /* An async job starts on the owner context: it has not started. */
  g_assert_cmpint (status_of (f, async_id), ==, JUPITER_JOB_STATUS_PENDING);
  /* And no signal was emitted yet. */
  g_assert_cmpuint (g_hash_table_size (f->events), ==, 0);

  g_assert_true (jupiter_job_manager_wait_idle (f->manager, NULL, NULL));
  g_assert_cmpstr (events_of (f, id), ==, "SPC");
  g_assert_cmpstr (events_of (f, async_id), ==, "SPC");
}

static void
waited_error (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  GError **out = user_data;
  JupiterJob *job = jupiter_job_manager_wait_finish (JUPITER_JOB_MANAGER (source), result, out);

  g_assert_null (job);
  g_assert_nonnull (*out);
}

static void
test_wait_async (Fixture       *f,
                 gconstpointer  data)
{
  Gate gate;
  g_autofree char *id = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GCancellable) cancelled = g_cancellable_new ();
  g_autoptr(GCancellable) cancellable2 = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) error2 = NULL;
  g_autoptr(GError) not_found = NULL;
  JupiterJob *job = NULL, *job2 = NULL, *again = NULL;

  gate_init (&gate, FALSE);
  id = submit (f, "awaited", NULL, job_gate, &gate);
  gate_wait_entered (&gate, 1);

  /* A cancelled wait ends with G_IO_ERROR_CANCELLED; the job goes on. */
  jupiter_job_manager_wait_async (f->manager, id, cancellable, waited_error, &error);
  g_cancellable_cancel (cancellable);
  while (error == NULL)
    g_main_context_iteration (f->context, TRUE);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);

  /* Already cancelled before the wait starts. */
  g_cancellable_cancel (cancelled);
  jupiter_job_manager_wait_async (f->manager, id, cancelled, waited_error, &error2);
  while (error2 == NULL)
    g_main_context_iteration (f->context, TRUE);
  g_assert_error (error2, G_IO_ERROR, G_IO_ERROR_CANCELLED);

  jupiter_job_manager_wait_async (f->manager, "nope", NULL, waited_error, &not_found);
  while (not_found == NULL)
    g_main_context_iteration (f->context, TRUE);
  g_assert_error (not_found, JUPITER_JOB_ERROR, JUPITER_JOB_ERROR_NOT_FOUND);

  g_assert_cmpint (status_of (f, id), ==, JUPITER_JOB_STATUS_RUNNING);
  jupiter_job_manager_wait_async (f->manager, id, NULL, waited, &job);
  jupiter_job_manager_wait_async (f->manager, id, cancellable2, waited, &job2);
  gate_open (&gate);
  while (job == NULL || job2 == NULL)
    g_main_context_iteration (f->context, TRUE);
  g_assert_true (job == job2);
  g_assert_cmpint (jupiter_job_get_status (job), ==, JUPITER_JOB_STATUS_COMPLETED);

  /* Waiting on a finished job answers at once. */
  jupiter_job_manager_wait_async (f->manager, id, NULL, waited, &again);
  while (again == NULL)
    g_main_context_iteration (f->context, TRUE);
  g_assert_true (again == job);

  jupiter_job_unref (job);
  jupiter_job_unref (job2);
  jupiter_job_unref (again);
  gate_clear (&gate);
}

/* ------------------------------------------------------------------------ */
/* Shutdown and lifetime                                                     */

static void
test_shutdown (Fixture       *f,
               gconstpointer  data)
{
  Gate gate;
  g_autofree char *running = NULL;
  g_autofree char *pending = NULL;
  g_autoptr(JupiterJobOptions) options = jupiter_job_options_new ("late");
  g_autoptr(GError) error = NULL;
  g_autoptr(JupiterJob) job = NULL;

  gate_init (&gate, TRUE);
  jupiter_job_manager_set_max_concurrent (f->manager, 1);
  running = submit (f, "running", NULL, job_gate, &gate);
  pending = submit (f, "pending", NULL, job_echo, NULL);
  for (guint i = 0; i < 4; i++)
    g_free (submit (f, "more pending", NULL, job_echo, NULL));
  gate_wait_entered (&gate, 1);

  /* The running job ignores nothing but does not finish within the grace:
   * shutdown reports it and cancels it. */
  g_assert_false (jupiter_job_manager_shutdown (f->manager, 10 * 1000, &error));
  g_assert_error (error, JUPITER_JOB_ERROR, JUPITER_JOB_ERROR_TIMED_OUT);
  g_assert_nonnull (strstr (error->message, "1 job"));
  g_clear_error (&error);
  g_assert_true (jupiter_job_manager_is_shutting_down (f->manager));
  g_assert_cmpint (status_of (f, pending), ==, JUPITER_JOB_STATUS_CANCELLED);
  g_assert_cmpstr (events_of (f, pending), ==, "X");

  g_assert_null (jupiter_job_manager_submit (f->manager, options, job_echo, NULL, NULL, &error));
  g_assert_error (error, JUPITER_JOB_ERROR, JUPITER_JOB_ERROR_SHUTTING_DOWN);
  g_clear_error (&error);

  /* The cancelled job returns; a second shutdown finds nothing running. */
  job = wait_job (f, running);
  g_assert_cmpint (jupiter_job_get_status (job), ==, JUPITER_JOB_STATUS_CANCELLED);
  g_assert_cmpuint (gate.saw_cancel, ==, 1);
  g_assert_true (jupiter_job_manager_shutdown (f->manager, 0, &error));
  g_assert_no_error (error);
  gate_clear (&gate);
}

static void
shutdown_async_done (GObject      *source,
                     GAsyncResult *result,
                     gpointer      data)
{
  *(GAsyncResult **) data = g_object_ref (result);
}

/* The asynchronous shutdown: pending jobs cancelled at once, the grace
 * period a timer on the owner context (which keeps running), a
 * cancellable that ends the wait early, and a later call that finds
 * nothing running. */
static void
test_shutdown_async (Fixture       *f,
                     gconstpointer  data)
{
  Gate gate;
  g_autofree char *running = NULL;
  g_autofree char *pending = NULL;
  g_autoptr(GCancellable) cut = g_cancellable_new ();
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GAsyncResult) again = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JupiterJob) job = NULL;
  gboolean cut_mode = GPOINTER_TO_INT (data);

  /* The job ignores cancellation until the gate opens, so it is still
   * running when the wait ends, whichever way it ends. */
  gate_init (&gate, FALSE);
  jupiter_job_manager_set_max_concurrent (f->manager, 1);
  running = submit (f, "running", NULL, job_gate, &gate);
  pending = submit (f, "pending", NULL, job_echo, NULL);
  gate_wait_entered (&gate, 1);

  /* A grace of an hour: only the cancellable can end it; a grace of 10 ms:
   * the timer does. */
  jupiter_job_manager_shutdown_async (f->manager, cut_mode ? G_TIME_SPAN_HOUR : 10 * 1000,
                                      cut, shutdown_async_done, &result);
  g_assert_true (jupiter_job_manager_is_shutting_down (f->manager));
  g_assert_cmpint (status_of (f, pending), ==, JUPITER_JOB_STATUS_CANCELLED);
  g_assert_cmpuint (jupiter_job_manager_get_n_running_functions (f->manager), ==, 1);
  if (cut_mode)
    {
      /* Nothing finishes it while the job runs and the cancellable is not
       * cancelled. */
      while (g_main_context_iteration (f->context, FALSE))
        ;
      g_assert_null (result);
      g_cancellable_cancel (cut);
    }
  while (result == NULL)
    g_main_context_iteration (f->context, TRUE);
  g_assert_false (jupiter_job_manager_shutdown_finish (f->manager, result, &error));
  if (cut_mode)
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  else
    g_assert_error (error, JUPITER_JOB_ERROR, JUPITER_JOB_ERROR_TIMED_OUT);
  g_assert_nonnull (strstr (error->message, "1 job"));
  g_clear_error (&error);

  /* The running job was cancelled when the wait ended: once it returns it
   * is CANCELLED, its result dropped, and a second call finishes with
   * nothing running. */
  gate_open (&gate);
  job = wait_job (f, running);
  g_assert_cmpint (jupiter_job_get_status (job), ==, JUPITER_JOB_STATUS_CANCELLED);
  jupiter_job_manager_shutdown_async (f->manager, G_TIME_SPAN_HOUR, NULL, shutdown_async_done, &again);
  while (again == NULL)
    g_main_context_iteration (f->context, TRUE);
  g_assert_true (jupiter_job_manager_shutdown_finish (f->manager, again, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (jupiter_job_manager_get_n_running_functions (f->manager), ==, 0);
  gate_clear (&gate);
}

/* Jobs that finish within the grace period: the wait ends when the last
 * one has returned and its signal went out, not at the deadline. */
static void
test_shutdown_async_drains (Fixture       *f,
                            gconstpointer  data)
{
  Gate gate;
  g_autofree char *running = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;

  gate_init (&gate, FALSE);
  running = submit (f, "running", NULL, job_gate, &gate);
  gate_wait_entered (&gate, 1);
  jupiter_job_manager_shutdown_async (f->manager, G_TIME_SPAN_HOUR, NULL, shutdown_async_done, &result);
  while (g_main_context_iteration (f->context, FALSE))
    ;
  g_assert_null (result);
  gate_open (&gate);
  while (result == NULL)
    g_main_context_iteration (f->context, TRUE);
  g_assert_true (jupiter_job_manager_shutdown_finish (f->manager, result, &error));
  g_assert_no_error (error);
  g_assert_cmpint (status_of (f, running), ==, JUPITER_JOB_STATUS_COMPLETED);
  /* Its terminal signal was delivered before the shutdown finished. */
  g_assert_cmpstr (events_of (f, running), ==, "SC");
  gate_clear (&gate);
}

typedef struct {
  GMainContext *context;
  GAsyncResult *result;
  guint         terminal;
  guint         after_shutdown;
} NestedShutdown;

static void
nested_completed (JupiterJobManager *manager,
                  JupiterJob        *job,
                  gpointer           data)
{
  NestedShutdown *ns = data;

  ns->terminal++;
  if (ns->result)
    ns->after_shutdown++;
  /* A handler that waits on the loop (a nested synchronous call, say):
   * the grace timer can fire inside this delivery. */
  if (ns->terminal == 1)
    for (guint i = 0; i < 10; i++)
      g_main_context_iteration (ns->context, FALSE);
}

static void
nested_done (GObject      *source,
             GAsyncResult *result,
             gpointer      data)
{
  ((NestedShutdown *) data)->result = g_object_ref (result);
}

/* Regression: the shutdown finished inside a delivery a handler had
 * interrupted by iterating the context, before that delivery's remaining
 * terminal signals went out. */
static void
test_shutdown_async_nested_delivery (Fixture       *f,
                                     gconstpointer  data)
{
  NestedShutdown ns = { f->context, NULL, 0, 0 };
  g_autoptr(GError) error = NULL;

  g_test_summary ("shutdown_async() finishes only after every terminal signal, even when a "
                  "handler iterates the context during the delivery");
  g_signal_connect (f->manager, "job-completed", G_CALLBACK (nested_completed), &ns);
  g_free (submit (f, "A", NULL, job_echo, NULL));
  g_free (submit (f, "B", NULL, job_echo, NULL));
  /* Both records are final before the loop runs: both signals are queued. */
  while (jupiter_job_manager_count (f->manager, JUPITER_JOB_STATUS_COMPLETED, NULL) < 2)
    g_thread_yield ();
  jupiter_job_manager_shutdown_async (f->manager, 0, NULL, nested_done, &ns);
  while (ns.result == NULL)
    g_main_context_iteration (f->context, TRUE);
  g_assert_true (jupiter_job_manager_shutdown_finish (f->manager, ns.result, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (ns.terminal, ==, 2);
  g_assert_cmpuint (ns.after_shutdown, ==, 0);
  g_signal_handlers_disconnect_by_data (f->manager, &ns);
  g_object_unref (ns.result);
}

static void
test_shutdown_grace (Fixture       *f,
                     gconstpointer  data)
{
  LaterReturn later = { NULL, FALSE };
  g_autofree char *id = submit_async (f, "finishes in grace", NULL, 0, async_return_from_thread, &later);
  g_autoptr(GError) error = NULL;

  /* Async jobs start on the owner context, which shutdown iterates. */
  g_assert_true (jupiter_job_manager_shutdown (f->manager, 60 * G_TIME_SPAN_SECOND, &error));
  g_assert_no_error (error);
  g_assert_cmpint (status_of (f, id), ==, JUPITER_JOB_STATUS_CANCELLED);
  g_assert_cmpstr (events_of (f, id), ==, "X");
}

static void
test_dispose_running (void)
{
  if (g_test_subprocess ())
    {
      Gate gate;
      JupiterJobManager *manager = jupiter_job_manager_new ();
      g_autoptr(JupiterJobOptions) options = jupiter_job_options_new ("orphan");

      gate_init (&gate, FALSE);
      g_free (jupiter_job_manager_submit (manager, options, job_gate, &gate, NULL, NULL));
      gate_wait_entered (&gate, 1);
      g_object_unref (manager);
      return;
    }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_failed ();
  g_test_trap_assert_stderr ("*disposed while 1 jobs still run*");
}

static void
test_preconditions (void)
{
  if (g_test_subprocess ())
    {
      g_autoptr(JupiterJobManager) manager = jupiter_job_manager_new ();
      g_free (jupiter_job_manager_submit (manager, NULL, job_echo, NULL, NULL, NULL));
      return;
    }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_failed ();
  g_test_trap_assert_stderr ("*CRITICAL*jupiter_job_manager_submit*options != NULL*");
}

static void
test_preconditions_list (void)
{
  if (g_test_subprocess ())
    {
      g_autoptr(JupiterJobManager) manager = jupiter_job_manager_new ();
      jupiter_job_manager_list (manager, (JupiterJobStatus) 17, NULL, 0);
      return;
    }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_failed ();
  g_test_trap_assert_stderr ("*CRITICAL*jupiter_job_manager_list*status*");
}

static JsonNode *
job_return_from_sync (JupiterJobContext *context,
                      gpointer           user_data,
                      GError           **error)
{
  jupiter_job_context_return_result (context, NULL);
  return NULL;
}

static void
test_preconditions_sync_return (void)
{
  if (g_test_subprocess ())
    {
      g_autoptr(JupiterJobManager) manager = jupiter_job_manager_new ();
      g_autoptr(JupiterJobOptions) options = jupiter_job_options_new ("wrong return");
      g_autofree char *id = NULL;

      id = jupiter_job_manager_submit (manager, options, job_return_from_sync, NULL, NULL, NULL);
      jupiter_job_unref (jupiter_job_manager_wait (manager, id, NULL, NULL));
      return;
    }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_failed ();
  g_test_trap_assert_stderr ("*is synchronous*");
}

static void
test_default_manager (void)
{
  GMainContext *context = g_main_context_new ();
  JupiterJobManager *first, *second;
  g_autoptr(JupiterJobOptions) options = jupiter_job_options_new ("default");
  g_autoptr(GError) error = NULL;
  g_autofree char *id = NULL;
  g_autoptr(JupiterJob) job = NULL;
  g_autoptr(GPtrArray) jobs = NULL;

  g_main_context_push_thread_default (context);
  first = jupiter_init_job_manager ("max-concurrent", 1, "history-limit", 10, NULL);
  g_assert_true (jupiter_get_job_manager () == first);
  g_assert_cmpuint (jupiter_job_manager_get_max_concurrent (first), ==, 1);
  g_assert_cmpuint (jupiter_job_manager_get_history_limit (first), ==, 10);

  id = jupiter_submit_job (options, job_echo, GINT_TO_POINTER (5), NULL, &error);
  g_assert_no_error (error);
  job = jupiter_job_manager_wait (first, id, NULL, &error);
  g_assert_no_error (error);
  g_clear_pointer (&job, jupiter_job_unref);
  job = jupiter_get_job (id, &error);
  g_assert_no_error (error);
  g_assert_cmpint (json_node_get_int (jupiter_job_get_result (job)), ==, 5);
  jobs = jupiter_list_jobs (JUPITER_JOB_STATUS_COMPLETED, NULL, 0);
  g_assert_cmpuint (jobs->len, ==, 1);
  g_assert_false (jupiter_cancel_job ("missing", &error));
  g_assert_error (error, JUPITER_JOB_ERROR, JUPITER_JOB_ERROR_NOT_FOUND);
  g_clear_error (&error);

  /* Re-initialising shuts the old default down and replaces it. */
  g_object_add_weak_pointer (G_OBJECT (first), (gpointer *) &first);
  second = jupiter_init_job_manager ("max-concurrent", 3, NULL);
  g_assert_null (first);
  g_assert_true (jupiter_get_job_manager () == second);
  g_assert_null (jupiter_get_job (id, &error));
  g_assert_error (error, JUPITER_JOB_ERROR, JUPITER_JOB_ERROR_NOT_FOUND);
  g_clear_error (&error);

  g_free (jupiter_submit_async_job (options, async_return_now, NULL, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (jupiter_job_manager_wait_idle (second, NULL, NULL));
  g_assert_true (jupiter_job_manager_shutdown (second, 0, NULL));
  g_main_context_pop_thread_default (context);
  g_main_context_unref (context);
}

/* ------------------------------------------------------------------------ */
/* Stress                                                                    */

typedef struct {
  GAsyncQueue *returns;      /* of JupiterJobContext, for the returner thread */
  GMutex       ids_lock;
  GPtrArray   *ids;          /* guarded by ids_lock */
  gint         submitting;
} Stress;

static gboolean
fails (JupiterJobContext *context)
{
  /* 30 % by a hash of the id: deterministic per job. */
  return g_str_hash (jupiter_job_context_get_id (context)) % 10 < 3;
}

static JsonNode *
stress_sync (JupiterJobContext *context,
             gpointer           user_data,
             GError           **error)
{
  if (g_str_hash (jupiter_job_context_get_id (context)) % 7 == 0)
    jupiter_job_context_set_progress (context, 0.5, "half");
  if (fails (context))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED, "stress failure");
      return NULL;
    }
  return json_node_init_int (json_node_alloc (), 1);
}

static void
stress_async (JupiterJobContext *context,
              gpointer           user_data)
{
  Stress *s = user_data;

  if (g_str_hash (jupiter_job_context_get_id (context)) % 2)
    {
      /* Return now, on the owner thread. */
      if (fails (context))
        jupiter_job_context_return_new_error (context, G_IO_ERROR, G_IO_ERROR_FAILED, "stress failure");
      else
        jupiter_job_context_return_result (context, NULL);
      return;
    }
  g_async_queue_push (s->returns, jupiter_job_context_ref (context));
}

static gpointer
returner_thread (gpointer data)
{
  Stress *s = data;
  JupiterJobContext *context;

  while ((context = g_async_queue_pop (s->returns)) != (gpointer) s)
    {
      if (fails (context))
        jupiter_job_context_return_new_error (context, G_IO_ERROR, G_IO_ERROR_FAILED, "stress failure");
      else
        jupiter_job_context_return_result (context, json_node_init_boolean (json_node_alloc (), TRUE));
      jupiter_job_context_unref (context);
    }
  return NULL;
}

typedef struct {
  Stress            *stress;
  JupiterJobManager *manager;
  guint              cancelled;
} Canceller;

static gpointer
canceller_thread (gpointer data)
{
  Canceller *c = data;
  Stress *s = c->stress;
  GRand *rand = g_rand_new_with_seed (4242);

  while (g_atomic_int_get (&s->submitting))
    {
      char *id = NULL;

      g_mutex_lock (&s->ids_lock);
      if (s->ids->len > 0)
        id = g_strdup (g_ptr_array_index (s->ids, g_rand_int_range (rand, 0, (gint32) s->ids->len)));
      g_mutex_unlock (&s->ids_lock);
      if (id && jupiter_job_manager_cancel (c->manager, id, NULL))
        c->cancelled++;
      g_free (id);
      g_thread_yield ();
    }
  g_rand_free (rand);
  return NULL;
}

static void
test_stress (Fixture       *f,
             gconstpointer  data)
{
  guint n = JUPITER_STRESS_JOBS;
  const char *env = g_getenv ("JUPITER_STRESS_JOBS");
  Stress s;
  Canceller c;
  GThread *returner, *canceller;
  GRand *rand = g_rand_new_with_seed (7);
  g_autoptr(JupiterJobOptions) sync_options = jupiter_job_options_new ("stress sync");
  g_autoptr(JupiterJobOptions) async_options = jupiter_job_options_new ("stress async");
  JupiterJobStats stats;
  GHashTableIter iter;
  gpointer key, value;
  guint terminal = 0;

  if (env)
    n = (guint) g_ascii_strtoull (env, NULL, 10);
  g_test_message ("stress: %u jobs", n);

  g_object_set (f->manager, "max-pending", n, "history-limit", n, "max-concurrent", 4, NULL);
  jupiter_job_options_set_plugin_id (sync_options, "sync");
  jupiter_job_options_set_plugin_id (async_options, "async");
  jupiter_job_manager_set_plugin_max_concurrent (f->manager, "async", 2);

  s.returns = g_async_queue_new ();
  g_mutex_init (&s.ids_lock);
  s.ids = g_ptr_array_new_with_free_func (g_free);
  s.submitting = 1;
  c = (Canceller) { &s, f->manager, 0 };
  returner = g_thread_new ("returner", returner_thread, &s);
  canceller = g_thread_new ("canceller", canceller_thread, &c);

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(GError) error = NULL;
      char *id;

      if (g_rand_boolean (rand))
        id = jupiter_job_manager_submit (f->manager, sync_options, stress_sync, NULL, NULL, &error);
      else
        id = jupiter_job_manager_submit_async_func (f->manager, async_options, stress_async, &s, NULL, &error);
      g_assert_no_error (error);

      g_mutex_lock (&s.ids_lock);
      g_ptr_array_add (s.ids, id);
      g_mutex_unlock (&s.ids_lock);

      /* Cancel at random moments from this thread too, and let the owner
       * context run now and then. */
      if (g_rand_int_range (rand, 0, 50) == 0)
        jupiter_job_manager_cancel (f->manager, g_ptr_array_index (s.ids, g_rand_int_range (rand, 0, (gint32) s.ids->len)), NULL);
      if (i % 64 == 0)
        while (g_main_context_iteration (f->context, FALSE))
          ;
    }

  g_atomic_int_set (&s.submitting, 0);
  g_thread_join (canceller);
  g_assert_true (jupiter_job_manager_wait_idle (f->manager, NULL, NULL));
  g_async_queue_push (s.returns, &s);
  g_thread_join (returner);

  /* Every job in exactly one terminal state, with exactly one terminal signal. */
  jupiter_job_manager_get_stats (f->manager, &stats);
  g_assert_cmpuint (stats.submitted, ==, n);
  g_assert_cmpuint (stats.pending, ==, 0);
  g_assert_cmpuint (stats.running, ==, 0);
  g_assert_cmpuint (stats.overdue, ==, 0);
  g_assert_cmpuint (stats.total_completed + stats.total_failed + stats.total_cancelled, ==, n);
  g_assert_cmpuint (stats.completed, ==, stats.total_completed);
  g_assert_cmpuint (stats.failed, ==, stats.total_failed);
  g_assert_cmpuint (stats.cancelled, ==, stats.total_cancelled);
  g_assert_cmpuint (f->counts[EV_COMPLETED], ==, stats.total_completed);
  g_assert_cmpuint (f->counts[EV_FAILED], ==, stats.total_failed);
  g_assert_cmpuint (f->counts[EV_CANCELLED], ==, stats.total_cancelled);
  g_assert_cmpuint (g_hash_table_size (f->events), ==, n);
  g_assert_cmpuint (stats.total_cancelled, >, 0);
  /* Roughly 30 % of the jobs that ran failed. */
  g_assert_cmpfloat ((double) stats.total_failed / (stats.total_completed + stats.total_failed), >, 0.25);
  g_assert_cmpfloat ((double) stats.total_failed / (stats.total_completed + stats.total_failed), <, 0.35);

  assert_all_sequences (f);
  g_hash_table_iter_init (&iter, f->last);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      g_autoptr(JupiterJob) now = jupiter_job_manager_get (f->manager, key, NULL);
      /* The terminal snapshot a handler got is the record held. */
      g_assert_true (now == value);
      terminal++;
    }
  g_assert_cmpuint (terminal, ==, n);
  g_assert_cmpuint (jupiter_job_manager_count (f->manager, JUPITER_JOB_STATUS_ANY, NULL), ==, n);

  g_ptr_array_unref (s.ids);
  g_mutex_clear (&s.ids_lock);
  g_async_queue_unref (s.returns);
  g_rand_free (rand);
}

/* ------------------------------------------------------------------------ */
/* Regressions                                                               */

static void
unref_in_handler (JupiterJobManager *manager,
                  JupiterJob        *job,
                  gpointer           user_data)
{
  g_object_unref (manager);
}

static void
test_unref_in_handler (void)
{
  g_autoptr(GMainContext) context = g_main_context_new ();
  JupiterJobManager *manager;
  g_autoptr(JupiterJobOptions) options = jupiter_job_options_new ("last");
  g_autofree char *id = NULL;

  g_test_summary ("A handler may drop the last reference to the manager "
                  "while its notifications are being delivered.");
  g_main_context_push_thread_default (context);
  manager = jupiter_job_manager_new ();
  g_object_add_weak_pointer (G_OBJECT (manager), (gpointer *) &manager);
  g_signal_connect (manager, "job-completed", G_CALLBACK (unref_in_handler), NULL);
  id = jupiter_job_manager_submit (manager, options, job_echo, NULL, NULL, NULL);
  while (manager != NULL)
    g_main_context_iteration (context, TRUE);
  g_main_context_pop_thread_default (context);
}

typedef struct {
  Fixture   *f;
  gboolean   async;
  JupiterJob *inner;
} NestedWait;

static void
wait_in_handler (JupiterJobManager *manager,
                 JupiterJob        *job,
                 NestedWait        *nw)
{
  g_autoptr(JupiterJobOptions) options = jupiter_job_options_new ("inner");
  g_autofree char *id = NULL;

  if (nw->inner != NULL || g_strcmp0 (jupiter_job_get_name (job), "outer") != 0)
    return;
  if (nw->async)
    id = jupiter_job_manager_submit_async_func (manager, options, async_return_now, NULL, NULL, NULL);
  else
    id = jupiter_job_manager_submit (manager, options, job_progress_steps, GUINT_TO_POINTER (2), NULL, NULL);
  nw->inner = jupiter_job_manager_wait (manager, id, NULL, NULL);
}

static void
test_wait_in_handler (Fixture       *f,
                      gconstpointer  data)
{
  for (guint async = 0; async < 2; async++)
    {
      NestedWait nw = { f, async, NULL };
      gulong handler = g_signal_connect (f->manager, "job-completed",
                                         G_CALLBACK (wait_in_handler), &nw);
      g_autofree char *id = submit (f, "outer", NULL, job_echo, NULL);

      jupiter_job_unref (wait_job (f, id));
      /* The inner wait returned, with the inner job finished. */
      g_assert_nonnull (nw.inner);
      g_assert_cmpint (jupiter_job_get_status (nw.inner), ==, JUPITER_JOB_STATUS_COMPLETED);
      g_assert_true (jupiter_job_manager_wait_idle (f->manager, NULL, NULL));
      g_assert_cmpstr (events_of (f, jupiter_job_get_id (nw.inner)), ==, "SPC");
      g_clear_pointer (&nw.inner, jupiter_job_unref);
      g_signal_handler_disconnect (f->manager, handler);
    }
  assert_all_sequences (f);
}

typedef struct {
  JupiterJobManager *manager;
  const char        *id;
} CancelJob;

static void
cancel_job_cb (GCancellable *cancellable,
               CancelJob    *cj)
{
  jupiter_job_manager_cancel (cj->manager, cj->id, NULL);
}

static void
waited_any (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  gboolean *done = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JupiterJob) job = jupiter_job_manager_wait_finish (JUPITER_JOB_MANAGER (source), result, &error);

  /* Either outcome is right: the job ended cancelled, or the wait did. */
  g_assert_true (job != NULL || g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED));
  *done = TRUE;
}

static void
test_wait_cancellable_cancels_job (Fixture       *f,
                                   gconstpointer  data)
{
  Gate gate;
  g_autofree char *blocker = NULL;
  g_autofree char *id = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  gboolean done = FALSE;
  CancelJob cj;

  g_test_summary ("The cancellable of a wait may itself cancel the awaited job.");
  gate_init (&gate, FALSE);
  jupiter_job_manager_set_max_concurrent (f->manager, 1);
  blocker = submit (f, "blocker", NULL, job_gate, &gate);
  gate_wait_entered (&gate, 1);
  id = submit (f, "awaited", NULL, job_echo, NULL);
  cj = (CancelJob) { f->manager, id };
  g_cancellable_connect (cancellable, G_CALLBACK (cancel_job_cb), &cj, NULL);
  jupiter_job_manager_wait_async (f->manager, id, cancellable, waited_any, &done);
  g_cancellable_cancel (cancellable);   /* hung here before the fix */
  while (!done)
    g_main_context_iteration (f->context, TRUE);
  g_assert_cmpint (status_of (f, id), ==, JUPITER_JOB_STATUS_CANCELLED);
  gate_open (&gate);
  g_assert_true (jupiter_job_manager_wait_idle (f->manager, NULL, NULL));
  gate_clear (&gate);
}

static void
async_return_then_use (JupiterJobContext *context,
                       gpointer           user_data)
{
  gboolean *freed = user_data;

  jupiter_job_context_return_result (context, NULL);
  /* Still in the function: the data must not have been released. */
  g_assert_false (*freed);
}

static void
test_async_user_data_lifetime (Fixture       *f,
                               gconstpointer  data)
{
  g_autoptr(JupiterJobOptions) options = jupiter_job_options_new ("uses its data");
  gboolean freed = FALSE;
  g_autofree char *id = NULL;

  id = jupiter_job_manager_submit_async_func (f->manager, options, async_return_then_use,
                                              &freed, set_true, NULL);
  jupiter_job_unref (wait_job (f, id));
  g_assert_true (freed);
}

static void
test_dispose_cancelled_async (void)
{
  g_autoptr(GMainContext) context = g_main_context_new ();
  JupiterJobManager *manager;
  g_autoptr(JupiterJobOptions) options = jupiter_job_options_new ("never starts");
  g_autofree char *id = NULL;

  g_test_summary ("Disposing a manager whose only job is a cancelled, "
                  "never-started async job is not an error.");
  g_main_context_push_thread_default (context);
  manager = jupiter_job_manager_new ();
  id = jupiter_job_manager_submit_async_func (manager, options, async_return_now, NULL, NULL, NULL);
  g_assert_true (jupiter_job_manager_cancel (manager, id, NULL));
  g_object_unref (manager);   /* a critical would abort the test */
  g_main_context_pop_thread_default (context);
}

static void
test_max_pending_counts_queued (Fixture       *f,
                                gconstpointer  data)
{
  Gate gate;
  g_autoptr(JupiterJobOptions) options = jupiter_job_options_new ("fits");
  g_autoptr(GError) error = NULL;

  g_test_summary ("max-pending bounds queued jobs, not jobs that hold a slot.");
  gate_init (&gate, FALSE);
  g_object_set (f->manager, "max-concurrent", 4, "max-pending", 1, NULL);
  for (guint i = 0; i < 5; i++)
    {
      g_autofree char *id = jupiter_job_manager_submit (f->manager, options, job_gate, &gate, NULL, &error);
      g_assert_no_error (error);
    }
  gate_wait_entered (&gate, 4);
  g_assert_null (jupiter_job_manager_submit (f->manager, options, job_gate, &gate, NULL, &error));
  g_assert_error (error, JUPITER_JOB_ERROR, JUPITER_JOB_ERROR_QUEUE_FULL);
  gate_open (&gate);
  g_assert_true (jupiter_job_manager_wait_idle (f->manager, NULL, NULL));
  gate_clear (&gate);
}

static void
test_default_manager_retires (void)
{
  GMainContext *context = g_main_context_new ();
  JupiterJobManager *old;
  Gate gate;
  g_autoptr(JupiterJobOptions) options = jupiter_job_options_new ("outlives its manager");
  g_autofree char *id = NULL;

  g_test_summary ("A replaced default manager with a running job is released "
                  "once the job is over.");
  gate_init (&gate, FALSE);
  g_main_context_push_thread_default (context);
  old = jupiter_init_job_manager ("enable-circuit-breaker", FALSE, NULL);
  g_object_add_weak_pointer (G_OBJECT (old), (gpointer *) &old);
  id = jupiter_submit_job (options, job_gate, &gate, NULL, NULL);
  gate_wait_entered (&gate, 1);

  jupiter_init_job_manager (NULL, NULL);
  g_assert_nonnull (old);                /* its job still runs */
  g_assert_true (jupiter_job_manager_is_shutting_down (old));
  gate_open (&gate);
  while (old != NULL)
    g_main_context_iteration (context, TRUE);

  g_assert_true (jupiter_job_manager_shutdown (jupiter_get_job_manager (), 0, NULL));
  g_main_context_pop_thread_default (context);
  g_main_context_unref (context);
  gate_clear (&gate);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  /* G_DEFINE_QUARK caches in a plain static; several workers raising the
   * first G_IO_ERROR at once is a (benign) race ThreadSanitizer reports. */
  (void) g_io_error_quark ();
  /* Likewise json-glib's own types, registered by an uninstrumented
   * g_once_init_enter() when jobs first parse or generate JSON. */
  g_type_ensure (JSON_TYPE_PARSER);
  g_type_ensure (JSON_TYPE_GENERATOR);

#define ADD(path, func) g_test_add ("/job-manager/" path, Fixture, NULL, fixture_setup, func, fixture_teardown)
  ADD ("sync/result", test_sync_result);
  ADD ("sync/error", test_sync_error);
  ADD ("async/result", test_async_result);
  ADD ("async/error", test_async_error);
  ADD ("async/no-return", test_async_no_return);
  ADD ("async/never-returns", test_async_never_returns);
  ADD ("async/double-return", test_async_double_return);
  ADD ("cancel/pending", test_cancel_pending);
  ADD ("cancel/running", test_cancel_running);
  ADD ("timeout/ignored-cancel", test_timeout);
  ADD ("timeout/default", test_default_timeout);
  ADD ("bounds/global-cap", test_cap_global);
  ADD ("bounds/per-plugin-cap", test_cap_per_plugin);
  ADD ("bounds/queue-full", test_queue_full);
  ADD ("bounds/user-data-freed", test_user_data_freed);
  ADD ("history/prune", test_prune);
  ADD ("history/clear", test_clear_history);
  ADD ("query/list-and-stats", test_list_and_stats);
  ADD ("query/many-threads", test_queries_many_threads);
  ADD ("query/shared-json-from-threads", test_shared_json_from_threads);
  ADD ("signals/owner-thread-and-order", test_signals_owner_thread_and_order);
  ADD ("signals/detail", test_signals_detail);
  ADD ("signals/progress-merging", test_progress_merging);
  ADD ("state/without-main-loop", test_state_without_loop);
  ADD ("wait/async", test_wait_async);
  ADD ("shutdown/grace-expired", test_shutdown);
  ADD ("shutdown/cancels-unstarted", test_shutdown_grace);
  g_test_add ("/job-manager/shutdown/async-grace-timer", Fixture, GINT_TO_POINTER (FALSE),
              fixture_setup, test_shutdown_async, fixture_teardown);
  g_test_add ("/job-manager/shutdown/async-cut-short", Fixture, GINT_TO_POINTER (TRUE),
              fixture_setup, test_shutdown_async, fixture_teardown);
  ADD ("shutdown/async-drains", test_shutdown_async_drains);
  ADD ("shutdown/async-nested-delivery", test_shutdown_async_nested_delivery);
  ADD ("stress", test_stress);
  ADD ("regression/wait-in-handler", test_wait_in_handler);
  ADD ("regression/wait-cancellable-cancels-job", test_wait_cancellable_cancels_job);
  ADD ("regression/async-user-data-lifetime", test_async_user_data_lifetime);
  ADD ("regression/max-pending-counts-queued", test_max_pending_counts_queued);
#undef ADD
  g_test_add_func ("/job-manager/lifetime/dispose-running", test_dispose_running);
  g_test_add_func ("/job-manager/preconditions/submit", test_preconditions);
  g_test_add_func ("/job-manager/preconditions/list", test_preconditions_list);
  g_test_add_func ("/job-manager/preconditions/sync-return", test_preconditions_sync_return);
  g_test_add_func ("/job-manager/default-manager", test_default_manager);
  g_test_add_func ("/job-manager/regression/default-manager-retires", test_default_manager_retires);
  g_test_add_func ("/job-manager/regression/unref-in-handler", test_unref_in_handler);
  g_test_add_func ("/job-manager/regression/dispose-cancelled-async", test_dispose_cancelled_async);

  return g_test_run ();
}
