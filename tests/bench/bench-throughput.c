/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench-throughput: the cost of a trivial job through a JupiterJobManager,
 * compared with the same task through a bare GThreadPool.
 *
 * Manager arm: N trivial synchronous jobs, all five signals connected to
 * counting handlers, a GMainLoop running on the manager's context while the
 * jobs are submitted (from an idle source, in chunks) and until the last
 * terminal signal has been delivered. max-concurrent = 2, max-pending >= N,
 * history-limit 1000.
 *
 * Pool arm: the same N tasks pushed to g_thread_pool_new (func, data, 2,
 * FALSE, NULL); the task that brings an atomic counter to N wakes the main
 * thread through a GCond.
 *
 * Both spans run from the first submit/push until the last job has finished
 * (and, for the manager, its terminal signal has been emitted). Each arm runs
 * JUPITER_BENCH_REPS times (default 3); the best run is reported, the median
 * alongside. Usage: bench-throughput [N]; N also from JUPITER_BENCH_JOBS.
 *
 * The exit status is 0 whatever the timings are; it is non-zero only when a
 * count is wrong (a job lost, a signal missing or out of order) or a run
 * stalls.
 */

#include "config.h"

#include <jupiter/jupiter.h>

#include "bench-common.h"

#include <locale.h>
#include <stdlib.h>

#define DEFAULT_JOBS        200000
#define DEFAULT_REPS        3
#define HISTORY_LIMIT       1000
#define SUBMIT_CHUNK        1024
#define STALL_SECONDS       60
#define TARGET_RATIO        2.5

/* ------------------------------------------------------------------------ */
/* Manager arm                                                               */

typedef struct {
  JupiterJobManager *manager;
  GMainLoop         *loop;
  JupiterJobOptions *options;
  guint              n_jobs;
  guint              n_submitted;
  guint              n_rejected;

  /* Counted in the handlers, which run on the main thread. */
  guint              started;
  guint              progress;
  guint              completed;
  guint              failed;
  guint              cancelled;
  guint              out_of_order;   /* a terminal signal before job-started */
  guint              not_main_thread;

  guint              last_seen;      /* for the stall watchdog */
  gboolean           stalled;
  GThread           *main_thread;
} ManagerRun;

static JsonNode *
trivial_job (JupiterJobContext *context,
             gpointer           user_data,
             GError           **error)
{
  return json_node_new (JSON_NODE_NULL);
}

static guint
terminal_count (ManagerRun *run)
{
  return run->completed + run->failed + run->cancelled;
}

static void
check_thread (ManagerRun *run)
{
  if (g_thread_self () != run->main_thread)
    run->not_main_thread++;
}

static void
maybe_quit (ManagerRun *run)
{
  if (terminal_count (run) == run->n_jobs)
    g_main_loop_quit (run->loop);
}

static void
on_job_started (JupiterJobManager *manager,
                JupiterJob        *job,
                ManagerRun        *run)
{
  check_thread (run);
  run->started++;
}

static void
on_job_progress (JupiterJobManager *manager,
                 JupiterJob        *job,
                 ManagerRun        *run)
{
  check_thread (run);
  run->progress++;
}

static void
on_job_completed (JupiterJobManager *manager,
                  JupiterJob        *job,
                  ManagerRun        *run)
{
  check_thread (run);
  run->completed++;
  if (terminal_count (run) > run->started)
    run->out_of_order++;
  maybe_quit (run);
}

static void
on_job_failed (JupiterJobManager *manager,
               JupiterJob        *job,
               ManagerRun        *run)
{
  check_thread (run);
  run->failed++;
  maybe_quit (run);
}

static void
on_job_cancelled (JupiterJobManager *manager,
                  JupiterJob        *job,
                  ManagerRun        *run)
{
  check_thread (run);
  run->cancelled++;
  maybe_quit (run);
}

static gboolean
submit_chunk_cb (gpointer user_data)
{
  ManagerRun *run = user_data;
  guint end = MIN (run->n_jobs, run->n_submitted + SUBMIT_CHUNK);

  for (; run->n_submitted < end; run->n_submitted++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *id = NULL;

      id = jupiter_job_manager_submit (run->manager, run->options, trivial_job,
                                       NULL, NULL, &error);
      if (id == NULL)
        {
          if (run->n_rejected++ == 0)
            g_printerr ("submit #%u failed: %s\n", run->n_submitted, error->message);
        }
    }

  if (run->n_rejected > 0)
    {
      /* The run can never reach N terminal signals; stop it. */
      g_main_loop_quit (run->loop);
      return G_SOURCE_REMOVE;
    }

  return run->n_submitted < run->n_jobs ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

static gboolean
watchdog_cb (gpointer user_data)
{
  ManagerRun *run = user_data;
  guint seen = terminal_count (run) + run->n_submitted;

  if (seen == run->last_seen)
    {
      run->stalled = TRUE;
      g_main_loop_quit (run->loop);
      return G_SOURCE_REMOVE;
    }
  run->last_seen = seen;
  return G_SOURCE_CONTINUE;
}

static gboolean
check_manager_run (ManagerRun *run)
{
  JupiterJobStats stats;
  gboolean ok = TRUE;
  guint64 n = run->n_jobs;
  guint expected_history = MIN (run->n_jobs, HISTORY_LIMIT);

  jupiter_job_manager_get_stats (run->manager, &stats);

  if (run->stalled)
    {
      g_printerr ("manager: STALLED: no progress for %d s; %u submitted, "
                  "%u terminal signals (completed %u, failed %u, cancelled %u); "
                  "stats: pending %u running %u total_completed %" G_GUINT64_FORMAT "\n",
                  STALL_SECONDS, run->n_submitted, terminal_count (run), run->completed,
                  run->failed, run->cancelled, stats.pending, stats.running,
                  stats.total_completed);
      ok = FALSE;
    }
  if (run->n_rejected != 0)
    {
      g_printerr ("manager: %u submissions rejected\n", run->n_rejected);
      ok = FALSE;
    }
  if (run->completed != run->n_jobs || run->failed != 0 || run->cancelled != 0)
    {
      g_printerr ("manager: signal counts wrong: completed %u (want %u), failed %u, "
                  "cancelled %u\n", run->completed, run->n_jobs, run->failed, run->cancelled);
      ok = FALSE;
    }
  if (run->started != run->n_jobs)
    {
      g_printerr ("manager: job-started emitted %u times (want %u)\n",
                  run->started, run->n_jobs);
      ok = FALSE;
    }
  if (run->out_of_order != 0)
    {
      g_printerr ("manager: %u terminal signals came before the matching job-started\n",
                  run->out_of_order);
      ok = FALSE;
    }
  if (run->not_main_thread != 0)
    {
      g_printerr ("manager: %u signals emitted outside the owner thread\n",
                  run->not_main_thread);
      ok = FALSE;
    }
  if (stats.submitted != n || stats.total_completed != n || stats.total_failed != 0 ||
      stats.total_cancelled != 0 || stats.rejected != 0 || stats.pending != 0 ||
      stats.running != 0 || stats.completed != expected_history ||
      stats.pruned != n - expected_history)
    {
      g_printerr ("manager: stats wrong: submitted %" G_GUINT64_FORMAT
                  " total_completed %" G_GUINT64_FORMAT
                  " total_failed %" G_GUINT64_FORMAT
                  " total_cancelled %" G_GUINT64_FORMAT
                  " rejected %" G_GUINT64_FORMAT
                  " pending %u running %u completed %u (want %u)"
                  " pruned %" G_GUINT64_FORMAT " (want %" G_GUINT64_FORMAT ")\n",
                  stats.submitted, stats.total_completed, stats.total_failed,
                  stats.total_cancelled, stats.rejected, stats.pending, stats.running,
                  stats.completed, expected_history, stats.pruned, n - expected_history);
      ok = FALSE;
    }

  return ok;
}

/* Returns the span in microseconds, or -1 when the counts are wrong. */
static gint64
run_manager (guint n_jobs)
{
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_autoptr(GMainLoop) loop = NULL;
  g_autoptr(JupiterJobManager) manager = NULL;
  g_autoptr(JupiterJobOptions) options = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GSource) submitter = NULL;
  g_autoptr(GSource) watchdog = NULL;
  ManagerRun run = { 0 };
  gint64 start, end;
  gboolean ok;

  /* A fresh context per run, so nothing is left over from the last one. */
  g_main_context_push_thread_default (context);

  manager = g_object_new (JUPITER_TYPE_JOB_MANAGER,
                          "max-concurrent", 2,
                          "max-pending", MAX (n_jobs, 1),
                          "history-limit", HISTORY_LIMIT,
                          NULL);
  loop = g_main_loop_new (context, FALSE);
  options = jupiter_job_options_new ("bench");

  run.manager = manager;
  run.loop = loop;
  run.options = options;
  run.n_jobs = n_jobs;
  run.main_thread = g_thread_self ();

  g_signal_connect (manager, "job-started", G_CALLBACK (on_job_started), &run);
  g_signal_connect (manager, "job-progress", G_CALLBACK (on_job_progress), &run);
  g_signal_connect (manager, "job-completed", G_CALLBACK (on_job_completed), &run);
  g_signal_connect (manager, "job-failed", G_CALLBACK (on_job_failed), &run);
  g_signal_connect (manager, "job-cancelled", G_CALLBACK (on_job_cancelled), &run);

  submitter = g_idle_source_new ();
  g_source_set_priority (submitter, G_PRIORITY_DEFAULT);
  g_source_set_callback (submitter, submit_chunk_cb, &run, NULL);
  g_source_set_static_name (submitter, "[bench] submitter");

  watchdog = g_timeout_source_new_seconds (STALL_SECONDS);
  g_source_set_callback (watchdog, watchdog_cb, &run, NULL);
  g_source_attach (watchdog, context);

  start = g_get_monotonic_time ();
  /* The first chunk is submitted right away; the loop does the rest. */
  if (submit_chunk_cb (&run) == G_SOURCE_CONTINUE)
    g_source_attach (submitter, context);
  if (n_jobs > 0)
    g_main_loop_run (loop);
  end = g_get_monotonic_time ();

  g_source_destroy (submitter);
  g_source_destroy (watchdog);

  ok = check_manager_run (&run);

  /* Every signal must already have been delivered: wait_idle() must not
   * add any. */
  if (!run.stalled)
    {
      guint before = terminal_count (&run);

      if (!jupiter_job_manager_wait_idle (manager, NULL, &error))
        {
          g_printerr ("manager: wait_idle failed: %s\n", error->message);
          g_clear_error (&error);
          ok = FALSE;
        }
      else if (terminal_count (&run) != before)
        {
          g_printerr ("manager: wait_idle delivered %u more terminal signals "
                      "after the loop had seen all %u\n",
                      terminal_count (&run) - before, n_jobs);
          ok = FALSE;
        }
    }

  if (!jupiter_job_manager_shutdown (manager, 5 * G_USEC_PER_SEC, &error))
    {
      g_printerr ("manager: shutdown failed: %s\n", error->message);
      g_clear_error (&error);
      ok = FALSE;
    }

  g_signal_handlers_disconnect_by_data (manager, &run);
  g_clear_object (&manager);
  g_main_context_pop_thread_default (context);

  return ok ? end - start : -1;
}

/* ------------------------------------------------------------------------ */
/* Pool arm                                                                  */

typedef struct {
  GMutex   mutex;
  GCond    cond;
  gboolean done;      /* guarded by mutex */
  guint    n_jobs;
  gint     counter;   /* atomic */
} PoolRun;

static void
pool_func (gpointer data,
           gpointer user_data)
{
  PoolRun *run = user_data;

  /* The same work as trivial_job(). */
  json_node_unref (json_node_new (JSON_NODE_NULL));

  if ((guint) g_atomic_int_add (&run->counter, 1) + 1 == run->n_jobs)
    {
      g_mutex_lock (&run->mutex);
      run->done = TRUE;
      g_cond_signal (&run->cond);
      g_mutex_unlock (&run->mutex);
    }
}

static gint64
run_pool (guint n_jobs)
{
  g_autoptr(GError) error = NULL;
  PoolRun run = { 0 };
  GThreadPool *pool;
  gint64 start, end;
  gint64 deadline;
  gboolean ok = TRUE;

  g_mutex_init (&run.mutex);
  g_cond_init (&run.cond);
  run.n_jobs = n_jobs;

  pool = g_thread_pool_new (pool_func, &run, 2, FALSE, &error);
  if (pool == NULL)
    {
      g_printerr ("pool: g_thread_pool_new failed: %s\n", error->message);
      return -1;
    }

  start = g_get_monotonic_time ();
  for (guint i = 0; i < n_jobs; i++)
    g_thread_pool_push (pool, GUINT_TO_POINTER (i + 1), NULL);

  deadline = g_get_monotonic_time () + STALL_SECONDS * G_TIME_SPAN_SECOND;
  g_mutex_lock (&run.mutex);
  while (!run.done && n_jobs > 0)
    {
      if (!g_cond_wait_until (&run.cond, &run.mutex, deadline))
        {
          ok = FALSE;
          break;
        }
    }
  g_mutex_unlock (&run.mutex);
  end = g_get_monotonic_time ();

  g_thread_pool_free (pool, FALSE, TRUE);

  if (!ok || (guint) g_atomic_int_get (&run.counter) != n_jobs)
    {
      g_printerr ("pool: %d of %u tasks ran\n", g_atomic_int_get (&run.counter), n_jobs);
      ok = FALSE;
    }

  g_cond_clear (&run.cond);
  g_mutex_clear (&run.mutex);

  return ok ? end - start : -1;
}

/* ------------------------------------------------------------------------ */



static double
ns_per_job (gint64 usec,
            guint  n_jobs)
{
  return (double) usec * 1000.0 / (double) n_jobs;
}

static guint
parse_count (const char *str,
             const char *what,
             guint       fallback)
{
  return (guint) bench_parse_count (str, what, fallback, G_MAXINT);
}

int
main (int   argc,
      char *argv[])
{
  guint n_jobs, n_reps;
  g_autofree gint64 *manager_spans = NULL;
  g_autofree gint64 *pool_spans = NULL;
  double manager_best, manager_median, pool_best, pool_median;

  setlocale (LC_ALL, "");

  n_jobs = parse_count (g_getenv ("JUPITER_BENCH_JOBS"), "JUPITER_BENCH_JOBS", DEFAULT_JOBS);
  if (argc > 1)
    n_jobs = parse_count (argv[1], "job count", n_jobs);
  n_reps = parse_count (g_getenv ("JUPITER_BENCH_REPS"), "JUPITER_BENCH_REPS", DEFAULT_REPS);

  manager_spans = g_new0 (gint64, n_reps);
  pool_spans = g_new0 (gint64, n_reps);

  g_print ("bench-throughput: %u trivial jobs, %u runs per arm, 2 threads, "
           "%u CPUs online\n", n_jobs, n_reps, g_get_num_processors ());

  /* Alternate the arms so that drifting machine load hits both alike. */
  for (guint r = 0; r < n_reps; r++)
    {
      manager_spans[r] = run_manager (n_jobs);
      if (manager_spans[r] < 0)
        {
          g_printerr ("FAIL: manager run %u: counts wrong\n", r + 1);
          return EXIT_FAILURE;
        }
      pool_spans[r] = run_pool (n_jobs);
      if (pool_spans[r] < 0)
        {
          g_printerr ("FAIL: pool run %u: counts wrong\n", r + 1);
          return EXIT_FAILURE;
        }
      g_print ("  run %u: manager %.0f ns/job, bare GThreadPool %.0f ns/job\n", r + 1,
               ns_per_job (manager_spans[r], n_jobs), ns_per_job (pool_spans[r], n_jobs));
    }

  qsort (manager_spans, n_reps, sizeof (gint64), bench_compare_i64);
  qsort (pool_spans, n_reps, sizeof (gint64), bench_compare_i64);
  manager_best = ns_per_job (manager_spans[0], n_jobs);
  manager_median = ns_per_job (manager_spans[n_reps / 2], n_jobs);
  pool_best = ns_per_job (pool_spans[0], n_jobs);
  pool_median = ns_per_job (pool_spans[n_reps / 2], n_jobs);

  g_print ("manager: %.0f ns/job (best of %u; median %.0f)\n",
           manager_best, n_reps, manager_median);
  g_print ("bare GThreadPool: %.0f ns/job (best of %u; median %.0f)\n",
           pool_best, n_reps, pool_median);
  g_print ("ratio: %.2f (target <= %.1f; medians %.2f)\n",
           manager_best / pool_best, TARGET_RATIO, manager_median / pool_median);

  return EXIT_SUCCESS;
}
