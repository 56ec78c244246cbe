/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "config.h"

#include "jupiter-circuit-breaker-private.h"
#include "jupiter-export-private.h"
#include "jupiter-job-manager-private.h"
#include "jupiter-job-options-private.h"
#include "jupiter-job-private.h"

#include <math.h>
#include <string.h>

/**
 * JupiterJobManager:
 *
 * Runs job functions, tagged with a plugin id, on a thread pool and reports
 * every step of their lives with signals.
 *
 * A job is submitted with [method@Jupiter.JobManager.submit] (a synchronous
 * function, run in a worker thread) or
 * [method@Jupiter.JobManager.submit_async_func] (an asynchronous function,
 * started on the manager's main context and finished from any thread). The
 * manager keeps its own queue per plugin id and hands a job to the pool only
 * when it may start: at most #JupiterJobManager:max-concurrent jobs run at
 * once, at most #JupiterJobManager:max-concurrent-per-plugin of one plugin,
 * and at most #JupiterJobManager:max-pending wait. Finished jobs stay in a
 * history of at most #JupiterJobManager:history-limit jobs, oldest pruned
 * first.
 *
 * ## Threads and lifetime
 *
 * A manager belongs to the [struct@GLib.MainContext] that was thread-default
 * when it was created. Every signal is emitted in that context, never in a
 * worker thread and never while an internal lock is held. All methods are
 * safe to call from any thread, except [method@Jupiter.JobManager.wait],
 * [method@Jupiter.JobManager.wait_idle] and
 * [method@Jupiter.JobManager.shutdown], which iterate the owner context and
 * so must be called from the thread that runs it (or may acquire it).
 *
 * State never depends on the main loop running: a job's record changes at
 * once, in whichever thread causes the change, and queries see it at once.
 * Signals are notifications that follow: one source per manager delivers
 * them in batches, merged per job (the latest progress wins), so a context
 * that runs late holds at most one pending notification per job.
 *
 * For each job the signals come in a fixed order: #JupiterJobManager::job-started,
 * any number of #JupiterJobManager::job-progress, then exactly one of
 * #JupiterJobManager::job-completed, #JupiterJobManager::job-failed or
 * #JupiterJobManager::job-cancelled. A job cancelled while pending only gets
 * #JupiterJobManager::job-cancelled. The signals are detailed by plugin id,
 * so `job-failed::echo` reaches only the failures of plugin `echo`.
 *
 * Worker threads hold a reference to an internal core, never to the
 * manager, so the manager is always finalized in a thread of the caller's
 * choosing. Call [method@Jupiter.JobManager.shutdown] before dropping the
 * last reference; disposing a manager whose jobs still run is a programmer
 * error and is reported with g_critical().
 *
 * Since: 0.1
 */

#define DEFAULT_MAX_PENDING    10000
#define DEFAULT_HISTORY_LIMIT  1000
#define EVENT_BATCH_MAX        512

struct _JupiterJobManager
{
  GObject      parent_instance;
  ManagerCore *core;
  GSource     *source;     /* delivers notifications on core->context */

  /* Construct-time settings of the breaker registry (made in constructed). */
  JupiterClock *clock;
  guint         cb_threshold;
  GTimeSpan     cb_cooldown;
  JupiterBreakerLink *link; /* the breakers' way back to us */
  gint          retiring;  /* atomic: holds a reference until idle */
  GList        *drain_tasks; /* owner thread only: shutdown_async() tasks
                              * waiting until no job function runs */
};

enum {
  PROP_0,
  PROP_MAX_CONCURRENT,
  PROP_MAX_CONCURRENT_PER_PLUGIN,
  PROP_MAX_PENDING,
  PROP_HISTORY_LIMIT,
  PROP_DEFAULT_TIMEOUT,
  PROP_ENABLE_CIRCUIT_BREAKER,
  PROP_CIRCUIT_BREAKER_THRESHOLD,
  PROP_CIRCUIT_BREAKER_COOLDOWN,
  PROP_CLOCK,
  N_PROPS
};

enum {
  SIGNAL_JOB_STARTED,
  SIGNAL_JOB_PROGRESS,
  SIGNAL_JOB_COMPLETED,
  SIGNAL_JOB_FAILED,
  SIGNAL_JOB_CANCELLED,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (JupiterJobManager, jupiter_job_manager, G_TYPE_OBJECT)

static void worker_func (gpointer data, gpointer user_data);
static const JupiterHostFuncs host_funcs;

/* ------------------------------------------------------------------------ */
/* Deferred work: whatever must not run under core->lock (dropping records,  */
/* which may run user destroy notifiers; triggering cancellables, which runs */
/* user handlers; returning GTasks) is collected here and run after unlock.  */

typedef struct {
  GTask        *task;
  GCancellable *cancellable;
  gulong        handler;
  JupiterJob   *job;     /* set when the job finished; NULL if cancelled */
} WaiterReturn;

typedef struct {
  JobRecord    *records[8];
  guint         n_records;
  GPtrArray    *more_records;
  GPtrArray    *jobs;      /* pruned: freed after unlock */
  GPtrArray    *cancellables;
  GArray       *waiters;   /* of WaiterReturn */
} Deferred;

static void
deferred_unref_record (Deferred  *d,
                       JobRecord *rec)
{
  if (d->n_records < G_N_ELEMENTS (d->records))
    {
      d->records[d->n_records++] = rec;
      return;
    }
  if (d->more_records == NULL)
    d->more_records = g_ptr_array_new ();
  g_ptr_array_add (d->more_records, rec);
}

static void
deferred_cancel (Deferred     *d,
                 GCancellable *cancellable)
{
  if (d->cancellables == NULL)
    d->cancellables = g_ptr_array_new ();
  g_ptr_array_add (d->cancellables, g_object_ref (cancellable));
}

static void record_unref (JobRecord *rec);
static void complete_permit_locked (ManagerCore *core, JobRecord *rec,
                                    JupiterJobStatus status, Deferred *d);

static void
defer_job_unref (Deferred   *d,
                 JupiterJob *job)
{
  if (d->jobs == NULL)
    d->jobs = g_ptr_array_new_with_free_func ((GDestroyNotify) jupiter_job_unref);
  g_ptr_array_add (d->jobs, job);
}


static void
deferred_run (Deferred *d)
{
  if (d->cancellables)
    {
      for (guint i = 0; i < d->cancellables->len; i++)
        {
          GCancellable *c = g_ptr_array_index (d->cancellables, i);
          g_cancellable_cancel (c);
          g_object_unref (c);
        }
      g_ptr_array_free (d->cancellables, TRUE);
    }

  if (d->waiters)
    {
      for (guint i = 0; i < d->waiters->len; i++)
        {
          WaiterReturn *w = &g_array_index (d->waiters, WaiterReturn, i);

          if (w->cancellable)
            {
              /* A cancelled cancellable may be emitting in this very thread
               * (its handler cancelled the job), and disconnecting from
               * inside its emission would deadlock; the handler left behind
               * finds no waiter and holds nothing. */
              if (!g_cancellable_is_cancelled (w->cancellable))
                g_cancellable_disconnect (w->cancellable, w->handler);
              g_object_unref (w->cancellable);
            }
          g_task_return_pointer (w->task, w->job, (GDestroyNotify) jupiter_job_unref);
          g_object_unref (w->task);
        }
      g_array_free (d->waiters, TRUE);
    }

  if (d->jobs)
    g_ptr_array_free (d->jobs, TRUE);
  for (guint i = 0; i < d->n_records; i++)
    record_unref (d->records[i]);
  if (d->more_records)
    {
      for (guint i = 0; i < d->more_records->len; i++)
        record_unref (g_ptr_array_index (d->more_records, i));
      g_ptr_array_free (d->more_records, TRUE);
    }
}

/* ------------------------------------------------------------------------ */
/* The core                                                                  */

/* Job ids are random UUIDs: their first eight characters carry 32 random
 * bits, so hashing them is enough and four times cheaper than the whole
 * string (the tables hash every id several times per job). Any string hashes
 * consistently, so lookups of arbitrary ids stay correct. */
static guint
job_id_hash (gconstpointer key)
{
  const char *s = key;
  guint h = 5381;

  for (guint i = 0; i < 8 && s[i] != '\0'; i++)
    h = h * 33 + (guchar) s[i];
  return h;
}

static ManagerCore *
core_ref (ManagerCore *core)
{
  g_atomic_ref_count_inc (&core->ref_count);
  return core;
}

static void
plugin_queue_free (PluginQueue *q)
{
  g_free (q);
}

static void
core_unref (ManagerCore *core)
{
  if (!g_atomic_ref_count_dec (&core->ref_count))
    return;

  /* Only reached once no record refers to the core: nothing is running. */
  if (core->pool)
    g_thread_pool_free (core->pool, FALSE, FALSE);
  g_hash_table_destroy (core->live);
  g_hash_table_destroy (core->finished);
  while (core->hist_head)
    {
      JupiterJob *job = core->hist_head;
      core->hist_head = job->hist_next;
      jupiter_job_unref (job);
    }
  g_hash_table_destroy (core->queues);
  plugin_queue_free (core->default_queue);
  g_queue_clear (&core->ring);
  g_hash_table_destroy (core->waiters);
  g_clear_pointer (&core->deadlines, g_sequence_free);
  if (core->breakers)
    {
      jupiter_circuit_breaker_registry_set_watch (core->breakers, NULL, NULL);
      g_object_unref (core->breakers);
    }
  g_source_unref (core->source_ref);
  g_main_context_unref (core->context);
  g_cond_clear (&core->timer_cond);
  g_mutex_clear (&core->lock);
  g_free (core);
}

static PluginQueue *
plugin_queue_new (const char *plugin_id)
{
  PluginQueue *q = g_new0 (PluginQueue, 1);

  q->plugin_id = plugin_id;
  q->detail = plugin_id ? g_quark_from_string (plugin_id) : 0;
  g_queue_init (&q->pending);
  return q;
}

static PluginQueue *
queue_for_locked (ManagerCore *core,
                  const char  *plugin_id)
{
  PluginQueue *q;

  if (plugin_id == NULL)
    return core->default_queue;

  /* Plugin ids are interned, so the pointer is the key. */
  q = g_hash_table_lookup (core->queues, plugin_id);
  if (q == NULL)
    {
      q = plugin_queue_new (plugin_id);
      g_hash_table_insert (core->queues, (gpointer) q->plugin_id, q);
    }
  return q;
}

static guint
queue_cap_locked (ManagerCore *core,
                  PluginQueue *q)
{
  if (q->plugin_id == NULL)
    return G_MAXUINT;
  if (q->max_concurrent > 0)
    return q->max_concurrent;
  if (core->max_per_plugin > 0)
    return core->max_per_plugin;
  return G_MAXUINT;
}

static void
ring_add_locked (ManagerCore *core,
                 PluginQueue *q)
{
  if (!q->in_ring && q->pending.length > 0 && q->running < queue_cap_locked (core, q))
    {
      q->in_ring = TRUE;
      g_queue_push_tail (&core->ring, q);
    }
}

/* ------------------------------------------------------------------------ */
/* Records                                                                   */

static JobRecord *
record_ref (JobRecord *rec)
{
  g_atomic_ref_count_inc (&rec->ref_count);
  return rec;
}

static void
record_release_function (JobRecord *rec)
{
  GDestroyNotify notify = g_steal_pointer (&rec->user_data_free);
  gpointer data = g_steal_pointer (&rec->user_data);

  if (notify)
    notify (data);
}

/* Never called with core->lock held: it may run user destroy notifiers. */
static void
record_unref (JobRecord *rec)
{
  if (!g_atomic_ref_count_dec (&rec->ref_count))
    return;

  record_release_function (rec);
  g_clear_pointer (&rec->args, json_node_unref);
  g_clear_pointer (&rec->base, jupiter_job_unref);
  g_clear_object (&rec->cancellable);
  g_free (rec->message);
  g_free (rec->ev_message);
  g_clear_pointer (&rec->ev_terminal, jupiter_job_unref);
  if (rec->async_func)
    core_unref (rec->core);
  g_free (rec);
}

static inline JobRecord *
record_from_context (JupiterJobContext *context)
{
  return (JobRecord *) context;
}

/* ------------------------------------------------------------------------ */
/* Notifications                                                             */

/* Arms the notification source. The wakeup itself is a system call, so it is
 * made by core_unlock(), after the lock is released; while the owner thread
 * is delivering, it picks new notifications up before it returns. */
static void
arm_source_locked (ManagerCore *core)
{
  if (core->delivering)
    {
      /* A wait() inside one of our signal handlers iterates the context
       * while our own source is blocked in dispatch: wake that loop so it
       * looks again. */
      if (core->iterating > 0)
        core->wake_context_owed = TRUE;
      return;
    }
  if (!core->armed && core->source != NULL)
    {
      core->armed = TRUE;
      core->wake_owed = TRUE;
    }
}

static inline void
cpu_relax (void)
{
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause ();
#elif defined(__aarch64__)
  __asm__ __volatile__ ("yield");
#endif
}

/* core->lock is taken by every submission, by every job's end and by the
 * owner's deliveries, and held briefly. GMutex parks a contending thread at
 * once (a futex wait, and a futex wake for whoever unlocks); spinning a
 * little first, as glibc's adaptive mutexes do, avoids most of those. */
static inline void
core_lock (ManagerCore *core)
{
  for (guint i = 0; i < 64; i++)
    {
      if (g_mutex_trylock (&core->lock))
        return;
      cpu_relax ();
    }
  g_mutex_lock (&core->lock);
}

/* Every release of core->lock outside a condition wait goes through here. */
static void
core_unlock (ManagerCore *core)
{
  gboolean wake = core->wake_owed;
  gboolean wake_context = core->wake_context_owed;

  core->wake_owed = FALSE;
  core->wake_context_owed = FALSE;
  g_mutex_unlock (&core->lock);
  if (wake)
    g_source_set_ready_time (core->source_ref, 0);
  if (wake_context)
    g_main_context_wakeup (core->context);
}

static void
queue_event_locked (ManagerCore *core,
                    JobRecord   *rec)
{
  /* Disposed: nobody will deliver it, and a queued record would keep the
   * core alive. */
  if (core->source == NULL)
    return;

  if (!rec->in_ev_queue)
    {
      rec->in_ev_queue = TRUE;
      rec->ev_next = NULL;
      record_ref (rec);
      if (core->ev_tail)
        core->ev_tail->ev_next = rec;
      else
        core->ev_head = rec;
      core->ev_tail = rec;
      core->n_events++;
    }
  arm_source_locked (core);
}

/* ------------------------------------------------------------------------ */
/* History                                                                   */

static guint *
history_counter_locked (ManagerCore     *core,
                        JupiterJobStatus status)
{
  switch (status)
    {
    case JUPITER_JOB_STATUS_COMPLETED:
      return &core->n_completed;
    case JUPITER_JOB_STATUS_FAILED:
      return &core->n_failed;
    case JUPITER_JOB_STATUS_CANCELLED:
      return &core->n_cancelled;
    case JUPITER_JOB_STATUS_PENDING:
    case JUPITER_JOB_STATUS_RUNNING:
    default:
      g_assert_not_reached ();
    }
}

static void
history_remove_locked (ManagerCore *core,
                       JupiterJob  *job,
                       Deferred    *d)
{
  if (job->hist_prev)
    job->hist_prev->hist_next = job->hist_next;
  else
    core->hist_head = job->hist_next;
  if (job->hist_next)
    job->hist_next->hist_prev = job->hist_prev;
  else
    core->hist_tail = job->hist_prev;
  job->hist_prev = job->hist_next = NULL;
  core->hist_len--;
  (*history_counter_locked (core, (JupiterJobStatus) job->status))--;
  g_hash_table_remove (core->finished, job);
  core->pruned++;
  /* Freeing a result can take a while: not under the lock. */
  defer_job_unref (d, job);
}

static void
history_prune_locked (ManagerCore *core,
                      Deferred    *d)
{
  while (core->hist_len > core->history_limit)
    history_remove_locked (core, core->hist_head, d);
}

static void
history_append_locked (ManagerCore *core,
                       JupiterJob  *job,
                       Deferred    *d)
{
  job->hist_prev = core->hist_tail;
  job->hist_next = NULL;
  if (core->hist_tail)
    core->hist_tail->hist_next = job;
  else
    core->hist_head = job;
  core->hist_tail = job;
  core->hist_len++;
  (*history_counter_locked (core, (JupiterJobStatus) job->status))++;
  g_hash_table_add (core->finished, job); /* owns the reference */
  history_prune_locked (core, d);
}

/* ------------------------------------------------------------------------ */
/* Deadlines (a thread of their own, so timeouts never wait for a main loop) */

static int
deadline_cmp (gconstpointer a,
              gconstpointer b,
              gpointer      user_data)
{
  const JobRecord *ra = a, *rb = b;

  if (ra->deadline != rb->deadline)
    return ra->deadline < rb->deadline ? -1 : 1;
  if (ra->base->seq != rb->base->seq)
    return ra->base->seq < rb->base->seq ? -1 : 1;
  return 0;
}

static gpointer timer_thread_func (gpointer data);

static void
deadline_add_locked (ManagerCore *core,
                     JobRecord   *rec)
{
  GSequenceIter *first;

  if (rec->timeout <= 0)
    return;

  rec->deadline = rec->started_mono + rec->timeout;
  if (core->deadlines == NULL)
    core->deadlines = g_sequence_new (NULL);
  rec->deadline_iter = g_sequence_insert_sorted (core->deadlines, rec, deadline_cmp, NULL);
  first = g_sequence_get_begin_iter (core->deadlines);

  if (core->timer_thread == NULL && !core->timer_stop)
    core->timer_thread = g_thread_new ("jupiter-timer", timer_thread_func, core);
  else if (first == rec->deadline_iter)
    g_cond_signal (&core->timer_cond);
}

static void
deadline_remove_locked (ManagerCore *core,
                        JobRecord   *rec)
{
  if (rec->deadline_iter)
    {
      g_sequence_remove (rec->deadline_iter);
      rec->deadline_iter = NULL;
    }
}

/* ------------------------------------------------------------------------ */
/* State transitions; all under core->lock                                   */

static void dispatch_locked (ManagerCore *core, JobRecord **take_sync, Deferred *d);

static void
collect_waiters_locked (ManagerCore *core,
                        JupiterJob  *job,
                        Deferred    *d)
{
  gpointer key, value;
  GSList *list;

  if (g_hash_table_size (core->waiters) == 0)
    return;
  if (!g_hash_table_lookup_extended (core->waiters, job->id, &key, &value))
    return;
  g_hash_table_steal (core->waiters, job->id);
  g_free (key);
  list = value;

  if (d->waiters == NULL)
    d->waiters = g_array_new (FALSE, FALSE, sizeof (WaiterReturn));
  for (GSList *l = list; l; l = l->next)
    {
      Waiter *w = l->data;
      WaiterReturn wr = { w->task, w->cancellable, w->handler, jupiter_job_ref (job) };

      g_array_append_val (d->waiters, wr);
      g_free (w);
    }
  g_slist_free (list);
}

/* Builds the final record of @rec, which is also its snapshot, taking
 * @result and @error. Needs no lock: it reads only what is fixed once the job
 * started, so a worker builds it before taking core->lock. The progress and
 * message are filled in by finish_locked(). */
static JupiterJob *
build_outcome (JobRecord       *rec,
               JupiterJobStatus status,
               JsonNode        *result,
               GError          *error)
{
  JupiterJob *job = jupiter_job_derive (rec->base, status);

  job->started_at = rec->started_at;
  job->completed_at = g_get_real_time ();
  job->duration = rec->started_at ? g_get_monotonic_time () - rec->started_mono : 0;
  if (result)
    {
      result = jupiter_json_make_valid (result);
      json_node_seal (result);
      job->result = result;
    }
  if (error)
    {
      if (!g_utf8_validate (error->message, -1, NULL))
        {
          char *valid = jupiter_utf8_make_valid (error->message);
          g_free (error->message);
          error->message = valid;
        }
      job->error = error;
    }
  return job;
}

/* Moves @rec to a terminal state with @job (from build_outcome(), owned):
 * moves it from the live table to the history and queues the terminal
 * notification. */
static void
finish_locked (ManagerCore *core,
               JobRecord   *rec,
               JupiterJob  *job,
               Deferred    *d)
{
  g_assert (rec->phase != PHASE_DONE);

  if (rec->phase == PHASE_RUNNING)
    core->n_running--;
  else
    core->n_pending--;
  if (rec->phase == PHASE_QUEUED)
    core->n_queued--;

  rec->phase = PHASE_DONE;
  deadline_remove_locked (core, rec);
  complete_permit_locked (core, rec, (JupiterJobStatus) job->status, d);

  job->progress = job->status == JUPITER_JOB_STATUS_COMPLETED ? 1.0 : rec->progress;
  if (rec->message)
    job->message = g_strdup (rec->message);

  switch ((JupiterJobStatus) job->status)
    {
    case JUPITER_JOB_STATUS_COMPLETED:
      core->total_completed++;
      break;
    case JUPITER_JOB_STATUS_FAILED:
      core->total_failed++;
      break;
    case JUPITER_JOB_STATUS_CANCELLED:
      core->total_cancelled++;
      break;
    case JUPITER_JOB_STATUS_PENDING:
    case JUPITER_JOB_STATUS_RUNNING:
    default:
      g_assert_not_reached ();
    }

  g_hash_table_steal (core->live, rec->base->id);
  deferred_unref_record (d, rec); /* the live table's reference */

  if (core->source)
    {
      rec->ev_terminal = jupiter_job_ref (job);
      queue_event_locked (core, rec);
    }

  collect_waiters_locked (core, job, d);
  history_append_locked (core, job, d);   /* may prune @job at once (limit 0) */
}

static void
release_slot_locked (ManagerCore *core,
                     JobRecord   *rec,
                     JobRecord  **take_sync,
                     Deferred    *d)
{
  g_assert (rec->holds_slot);
  rec->holds_slot = FALSE;
  if (rec->overdue)
    {
      rec->overdue = FALSE;
      core->n_overdue--;
    }
  core->slots_used--;
  rec->queue->running--;
  ring_add_locked (core, rec->queue);
  dispatch_locked (core, take_sync, d);
  /* shutdown() iterates the owner context until no function runs: an
   * overdue function returning queues no notification, so wake it. */
  if (core->slots_used == 0 && core->shutting_down)
    arm_source_locked (core);
}

/* ------------------------------------------------------------------------ */
/* Circuit breakers                                                          */

static GError *
circuit_open_error (JobRecord *rec)
{
  return g_error_new (JUPITER_JOB_ERROR, JUPITER_JOB_ERROR_CIRCUIT_OPEN,
                      "Job %s (“%s”) was not run: the circuit breaker of plugin “%s” is open; "
                      "it may be tried again in %.1f s",
                      rec->base->id, rec->base->name, rec->base->plugin_id,
                      jupiter_circuit_breaker_get_retry_in (rec->breaker) / (double) G_USEC_PER_SEC);
}

/* Fails @rec, which holds no slot and no permit, because its plugin's
 * breaker is open: a rejection, not a failure of the plugin. */
static void
reject_queued_locked (ManagerCore *core,
                      JobRecord   *rec,
                      Deferred    *d)
{
  jupiter_circuit_breaker_record_rejected (rec->breaker);
  finish_locked (core, rec, build_outcome (rec, JUPITER_JOB_STATUS_FAILED, NULL,
                                           circuit_open_error (rec)), d);
  deferred_unref_record (d, rec);       /* the queue's reference */
}

/* The breaker of @q is OPEN: its queued jobs fail with CIRCUIT_OPEN at
 * once (jobs that bypass the breaker stay). */
static void
reject_queue_locked (ManagerCore *core,
                     PluginQueue *q,
                     Deferred    *d)
{
  GList *l = q->pending.head;

  while (l)
    {
      GList *next = l->next;
      JobRecord *rec = l->data;

      if (!rec->bypass && rec->breaker)
        {
          g_queue_unlink (&q->pending, l);
          reject_queued_locked (core, rec, d);
        }
      l = next;
    }
}

/* Takes @rec's permit at dispatch. Returns FALSE when @rec must not start:
 * it failed (the breaker is OPEN) or it waits at the head of its queue
 * behind the half-open trials; the queue then leaves the ring until a trial
 * settles. */
static gboolean
permit_locked (ManagerCore *core,
               JobRecord   *rec,
               Deferred    *d)
{
  if (rec->breaker == NULL)
    return TRUE;
  if (rec->bypass)
    {
      jupiter_circuit_breaker_acquire_bypass (rec->breaker, &rec->permit);
      return TRUE;
    }
  if (jupiter_circuit_breaker_acquire (rec->breaker, &rec->permit))
    return TRUE;

  if (jupiter_circuit_breaker_get_state (rec->breaker) == JUPITER_CIRCUIT_STATE_OPEN)
    {
      reject_queued_locked (core, rec, d);
      reject_queue_locked (core, rec->queue, d);
    }
  else
    g_queue_push_head_link (&rec->queue->pending, &rec->link);
  return FALSE;
}

/* At @rec's terminal transition: its outcome goes to the breaker
 * (COMPLETED a success, FAILED a failure, CANCELLED neither), and the
 * plugin's queue follows the breaker's new state. */
static void
complete_permit_locked (ManagerCore     *core,
                        JobRecord       *rec,
                        JupiterJobStatus status,
                        Deferred        *d)
{
  JupiterCircuitOutcome outcome;

  if (rec->breaker == NULL || !jupiter_circuit_permit_is_held (&rec->permit))
    return;

  outcome = status == JUPITER_JOB_STATUS_COMPLETED ? JUPITER_CIRCUIT_OUTCOME_SUCCESS :
            status == JUPITER_JOB_STATUS_FAILED ? JUPITER_CIRCUIT_OUTCOME_FAILURE :
            JUPITER_CIRCUIT_OUTCOME_NEUTRAL;
  jupiter_circuit_breaker_complete (rec->breaker, &rec->permit, outcome);
  if (rec->bypass)
    return;

  if (jupiter_circuit_breaker_get_state (rec->breaker) == JUPITER_CIRCUIT_STATE_OPEN)
    reject_queue_locked (core, rec->queue, d);
  else
    ring_add_locked (core, rec->queue);   /* a settled trial may let the rest run */
}

static void
start_locked (ManagerCore *core,
              JobRecord   *rec,
              JobRecord  **take_sync)
{
  rec->phase = PHASE_STARTING;
  core->n_queued--;
  rec->holds_slot = TRUE;
  core->slots_used++;
  rec->queue->running++;

  if (rec->async_func)
    {
      g_queue_push_tail_link (&core->to_start, &rec->link);
      arm_source_locked (core);
    }
  else if (take_sync && *take_sync == NULL)
    *take_sync = rec;
  else
    {
      core_ref (core);     /* the pool task's; worker_func() drops it */
      g_thread_pool_push (core->pool, rec, NULL);
    }
}

static void
dispatch_locked (ManagerCore *core,
                 JobRecord  **take_sync,
                 Deferred    *d)
{
  /* Shutting down: nothing new starts (what is queued is being cancelled). */
  if (core->shutting_down)
    return;

  /* A runner is spinning for work (see linger()): leave the jobs to it
   * rather than waking a parked pool thread, which costs a futex wake and a
   * context switch per job when jobs are short. */
  if (take_sync == NULL && core->lingering && !core->linger_claimed &&
      core->slots_used < core->max_concurrent && core->ring.length > 0)
    {
      core->linger_claimed = TRUE;
      g_atomic_int_set (&core->work_ready, 1);
      return;
    }

  while (core->slots_used < core->max_concurrent && core->ring.length > 0)
    {
      PluginQueue *q = g_queue_pop_head (&core->ring);
      JobRecord *rec;
      GList *link;

      q->in_ring = FALSE;
      if (q->pending.length == 0 || q->running >= queue_cap_locked (core, q))
        continue;

      link = g_queue_pop_head_link (&q->pending);
      rec = link->data;
      if (!permit_locked (core, rec, d))
        continue;       /* failed (breaker OPEN) or waiting behind the trials */
      start_locked (core, rec, take_sync);
      ring_add_locked (core, q);
    }
}

/* ------------------------------------------------------------------------ */
/* Running                                                                   */

static void
mark_running_locked (ManagerCore *core,
                     JobRecord   *rec)
{
  rec->phase = PHASE_RUNNING;
  core->n_running++;
  core->n_pending--;
  rec->started_at = g_get_real_time ();
  rec->started_mono = g_get_monotonic_time ();
  rec->ev_flags |= EVENT_STARTED;
  queue_event_locked (core, rec);
  deadline_add_locked (core, rec);
}

/* The function of @rec has returned (sync) or its context returned (async)
 * with @outcome, built by build_outcome() before the lock was taken. */
static void
function_done_locked (ManagerCore *core,
                      JobRecord   *rec,
                      JupiterJob  *outcome,
                      JobRecord  **take_sync,
                      Deferred    *d)
{
  if (rec->phase == PHASE_RUNNING && !rec->cancel_requested)
    finish_locked (core, rec, outcome, d);
  else
    {
      /* Cancelled while running: the outcome is discarded. Timed out (or
       * otherwise finished) before the function returned: the late outcome
       * is discarded. */
      if (rec->phase == PHASE_RUNNING)
        finish_locked (core, rec,
                       build_outcome (rec, JUPITER_JOB_STATUS_CANCELLED, NULL,
                                      g_error_new (JUPITER_JOB_ERROR, JUPITER_JOB_ERROR_CANCELLED,
                                                   "Job %s (“%s”) was cancelled",
                                                   rec->base->id, rec->base->name)),
                       d);
      defer_job_unref (d, outcome);
    }

  release_slot_locked (core, rec, take_sync, d);
}

static JupiterJob *
outcome_of_return (JobRecord *rec,
                   JsonNode  *result,
                   GError    *error)
{
  if (error)
    {
      g_clear_pointer (&result, json_node_unref);
      return build_outcome (rec, JUPITER_JOB_STATUS_FAILED, NULL, error);
    }
  return build_outcome (rec, JUPITER_JOB_STATUS_COMPLETED, result, NULL);
}

#define LINGER_USEC 50

/* A runner that found no job spins for up to LINGER_USEC before it goes
 * back to the pool, at most one at a time, so a steady stream of short jobs
 * is served without a wakeup per job. Returns the next job to run (already
 * marked running), or NULL. */
static JobRecord *
linger (ManagerCore *core)
{
  JobRecord *next = NULL;
  Deferred d = { 0 };
  gint64 until;

  core_lock (core);
  if (core->lingering || core->shutting_down || core->source == NULL)
    {
      core_unlock (core);
      return NULL;
    }
  core->lingering = TRUE;
  core->linger_claimed = FALSE;
  g_atomic_int_set (&core->work_ready, 0);
  core_unlock (core);

  until = g_get_monotonic_time () + LINGER_USEC;
  for (guint round = 1; !g_atomic_int_get (&core->work_ready); round++)
    {
      for (guint i = 0; i < 32 && !g_atomic_int_get (&core->work_ready); i++)
        cpu_relax ();
      if (round % 4 == 0)
        {
          if (g_get_monotonic_time () >= until)
            break;
          g_thread_yield ();
        }
    }

  /* Decided under the lock: jobs left for us are taken, never stranded. */
  core_lock (core);
  core->lingering = FALSE;
  core->linger_claimed = FALSE;
  dispatch_locked (core, &next, &d);
  if (next)
    mark_running_locked (core, next);
  core_unlock (core);
  deferred_run (&d);
  return next;
}

static void
worker_func (gpointer data,
             gpointer user_data)
{
  JobRecord *rec = data;
  ManagerCore *core = user_data;   /* the pool task's reference, taken at push */

  core_lock (core);
  if (rec->phase != PHASE_STARTING)
    {
      /* Cancelled between dispatch and now; its slot is already free. */
      core_unlock (core);
      record_unref (rec);
      core_unref (core);
      return;
    }
  mark_running_locked (core, rec);
  core_unlock (core);

  /* One lock section per job: finishing a job also starts the next one this
   * thread takes over, without going back through the pool. */
  while (rec != NULL)
    {
      Deferred d = { 0 };
      JobRecord *next = NULL;
      JupiterJob *outcome;
      JsonNode *result;
      GError *error = NULL;

      g_atomic_int_set (&rec->ctx_refs, 1);
      record_ref (rec);                            /* the context's reference */
      result = rec->func (&rec->parent, rec->user_data, &error);
      /* @user_data is released before the job is seen to finish. */
      record_release_function (rec);
      outcome = outcome_of_return (rec, result, error);

      core_lock (core);
      function_done_locked (core, rec, outcome, &next, &d);
      if (next)
        mark_running_locked (core, next);          /* dispatched just now: STARTING */
      core_unlock (core);

      jupiter_job_context_unref (&rec->parent);   /* the worker's context reference */
      deferred_run (&d);
      record_unref (rec);                          /* the dispatch reference */
      rec = next ? next : linger (core);
    }
  /* If this was the last reference, the pool is freed from one of its own
   * threads: g_thread_pool_free() without waiting allows that (the last
   * thread to leave frees it). */
  core_unref (core);
}

static void
start_async (ManagerCore *core,
             JobRecord   *rec)
{
  core_lock (core);
  if (rec->phase != PHASE_STARTING)
    {
      core_unlock (core);
      record_unref (rec);
      return;
    }
  mark_running_locked (core, rec);
  core_unlock (core);

  /* The dispatch reference becomes the context's reference. The user data
   * is released once both the function has returned and the job has. */
  g_atomic_int_set (&rec->ctx_refs, 1);
  g_atomic_int_set (&rec->data_gate, 2);
  rec->async_func (&rec->parent, rec->user_data);
  if (g_atomic_int_dec_and_test (&rec->data_gate))
    record_release_function (rec);
  jupiter_job_context_unref (&rec->parent);
}

/* Cancels a job that holds no function: queued, or dispatched but not started. */
static void
cancel_unstarted_locked (ManagerCore *core,
                         JobRecord   *rec,
                         GError      *reason,
                         Deferred    *d)
{
  RecordPhase phase = rec->phase;

  if (phase == PHASE_QUEUED)
    g_queue_unlink (&rec->queue->pending, &rec->link);
  finish_locked (core, rec, build_outcome (rec, JUPITER_JOB_STATUS_CANCELLED, NULL, reason), d);
  if (phase == PHASE_QUEUED)
    deferred_unref_record (d, rec);     /* the queue's reference */
  else
    release_slot_locked (core, rec, NULL, d);
  /* A dispatched job's reference stays with the pool or the start list,
   * which sees PHASE_DONE and drops it. */
}

/* ------------------------------------------------------------------------ */
/* The host function table behind the SDK's job-context calls                */

static const char *
ctx_get_job_id (JupiterJobContext *context)
{
  return record_from_context (context)->base->id;
}

static const char *
ctx_get_plugin_id (JupiterJobContext *context)
{
  return record_from_context (context)->base->plugin_id;
}

static const char *
ctx_get_entry_name (JupiterJobContext *context)
{
  return record_from_context (context)->base->entry_name;
}

static JsonNode *
ctx_get_args (JupiterJobContext *context)
{
  return record_from_context (context)->args;
}

static GCancellable *
ctx_get_cancellable (JupiterJobContext *context)
{
  JobRecord *rec = record_from_context (context);
  ManagerCore *core = rec->core;
  GCancellable *cancellable;
  gboolean cancel_now = FALSE;

  core_lock (core);
  if (rec->cancellable == NULL)
    {
      rec->cancellable = g_cancellable_new ();
      cancel_now = g_atomic_int_get (&rec->cancel_flag);
    }
  cancellable = rec->cancellable;
  core_unlock (core);

  /* Nobody else can have seen it yet; cancelling outside the lock still
   * keeps user handlers away from it. */
  if (cancel_now)
    g_cancellable_cancel (cancellable);
  return cancellable;
}

static gboolean
ctx_is_cancelled (JupiterJobContext *context)
{
  return g_atomic_int_get (&record_from_context (context)->cancel_flag);
}

static void
ctx_set_progress (JupiterJobContext *context,
                  double             fraction,
                  const char        *message)
{
  JobRecord *rec = record_from_context (context);
  ManagerCore *core = rec->core;
  char *valid;

  if (isnan (fraction))
    return;
  fraction = CLAMP (fraction, 0.0, 1.0);
  valid = jupiter_utf8_make_valid (message);

  core_lock (core);
  if (rec->phase == PHASE_RUNNING)
    {
      rec->progress = fraction;
      g_free (rec->message);
      rec->message = g_strdup (valid);
      rec->ev_flags |= EVENT_PROGRESS;
      rec->ev_progress = fraction;
      g_free (rec->ev_message);
      rec->ev_message = g_steal_pointer (&valid);
      queue_event_locked (core, rec);
    }
  core_unlock (core);
  g_free (valid);
}

static void
ctx_log (JupiterJobContext *context,
         GLogLevelFlags     level,
         const char        *message)
{
  JobRecord *rec = record_from_context (context);
  GLogField fields[6];
  gsize n = 0;

  fields[n++] = (GLogField) { "GLIB_DOMAIN", G_LOG_DOMAIN, -1 };
  fields[n++] = (GLogField) { "MESSAGE", message, -1 };
  fields[n++] = (GLogField) { "JUPITER_JOB_ID", rec->base->id, -1 };
  fields[n++] = (GLogField) { "JUPITER_JOB_NAME", rec->base->name, -1 };
  if (rec->base->plugin_id)
    fields[n++] = (GLogField) { "JUPITER_PLUGIN_ID", rec->base->plugin_id, -1 };
  if (rec->base->entry_name)
    fields[n++] = (GLogField) { "JUPITER_ENTRY", rec->base->entry_name, -1 };
  g_log_structured_array (level & G_LOG_LEVEL_MASK, fields, n);
}

static JupiterJobContext *
ctx_ref (JupiterJobContext *context)
{
  JobRecord *rec = record_from_context (context);

  if (g_atomic_int_add (&rec->ctx_refs, 1) <= 0)
    {
      g_atomic_int_add (&rec->ctx_refs, -1);
      g_critical ("jupiter_job_context_ref: job %s: the context was already released",
                  rec->base->id);
    }
  return context;
}

static void
ctx_return (JobRecord *rec,
            JsonNode  *result,
            GError    *error)
{
  ManagerCore *core = rec->core;
  Deferred d = { 0 };
  JupiterJob *outcome;

  core_lock (core);
  if (rec->returned)
    {
      core_unlock (core);
      g_critical ("Job %s (“%s”) returned twice; the second return is ignored",
                  rec->base->id, rec->base->name);
      if (result)
        json_node_unref (result);
      g_clear_error (&error);
      return;
    }
  rec->returned = TRUE;
  core_unlock (core);

  if (g_atomic_int_dec_and_test (&rec->data_gate))
    record_release_function (rec);
  outcome = outcome_of_return (rec, result, error);
  core_lock (core);
  function_done_locked (core, rec, outcome, NULL, &d);
  core_unlock (core);

  deferred_run (&d);
}

static void
ctx_unref (JupiterJobContext *context)
{
  JobRecord *rec = record_from_context (context);

  if (!g_atomic_int_dec_and_test (&rec->ctx_refs))
    return;

  if (rec->async_func)
    {
      gboolean returned;

      core_lock (rec->core);
      returned = rec->returned;
      core_unlock (rec->core);
      if (!returned)
        ctx_return (rec, NULL,
                    g_error_new (JUPITER_JOB_ERROR, JUPITER_JOB_ERROR_FAILED,
                                 "Job %s (“%s”) finished without returning a result or an error",
                                 rec->base->id, rec->base->name));
    }
  record_unref (rec);   /* the context's reference */
}

static void
ctx_return_result (JupiterJobContext *context,
                   JsonNode          *result)
{
  JobRecord *rec = record_from_context (context);

  if (rec->async_func == NULL)
    {
      g_critical ("jupiter_job_context_return_result: job %s is synchronous; "
                  "return the result from the job function instead", rec->base->id);
      if (result)
        json_node_unref (result);
      return;
    }
  ctx_return (rec, result, NULL);
}

static void
ctx_return_error (JupiterJobContext *context,
                  GError            *error)
{
  JobRecord *rec = record_from_context (context);

  if (rec->async_func == NULL)
    {
      g_critical ("jupiter_job_context_return_error: job %s is synchronous; "
                  "set the GError of the job function instead", rec->base->id);
      g_error_free (error);
      return;
    }
  ctx_return (rec, NULL, error);
}

static const JupiterHostFuncs host_funcs = {
  .abi_major = JUPITER_SDK_ABI_MAJOR,
  .abi_minor = JUPITER_SDK_ABI_MINOR,
  .struct_size = sizeof (JupiterHostFuncs),
  .context_get_job_id = ctx_get_job_id,
  .context_get_plugin_id = ctx_get_plugin_id,
  .context_get_entry_name = ctx_get_entry_name,
  .context_get_args = ctx_get_args,
  .context_get_cancellable = ctx_get_cancellable,
  .context_is_cancelled = ctx_is_cancelled,
  .context_set_progress = ctx_set_progress,
  .context_log = ctx_log,
  .context_ref = ctx_ref,
  .context_unref = ctx_unref,
  .context_return_result = ctx_return_result,
  .context_return_error = ctx_return_error,
};

const JupiterHostFuncs *
jupiter_job_manager_get_host_funcs (void)
{
  return &host_funcs;
}

/* ------------------------------------------------------------------------ */
/* Timeouts                                                                  */

static gpointer
timer_thread_func (gpointer data)
{
  ManagerCore *core = data;

  core_lock (core);
  while (!core->timer_stop)
    {
      GSequenceIter *first = core->deadlines ? g_sequence_get_begin_iter (core->deadlines) : NULL;
      JobRecord *rec;
      Deferred d = { 0 };

      if (first == NULL || g_sequence_iter_is_end (first))
        {
          g_cond_wait (&core->timer_cond, &core->lock);
          continue;
        }
      rec = g_sequence_get (first);
      if (rec->deadline > g_get_monotonic_time ())
        {
          g_cond_wait_until (&core->timer_cond, &core->lock, rec->deadline);
          continue;
        }

      deadline_remove_locked (core, rec);
      if (rec->phase != PHASE_RUNNING)
        continue;

      rec->overdue = TRUE;
      core->n_overdue++;
      core->timed_out++;
      g_atomic_int_set (&rec->cancel_flag, TRUE);
      if (rec->cancellable)
        deferred_cancel (&d, rec->cancellable);
      finish_locked (core, rec,
                     build_outcome (rec, JUPITER_JOB_STATUS_FAILED, NULL,
                                    g_error_new (JUPITER_JOB_ERROR, JUPITER_JOB_ERROR_TIMED_OUT,
                                                 "Job %s (“%s”) timed out after %" G_GINT64_FORMAT " ms",
                                                 rec->base->id, rec->base->name,
                                                 rec->timeout / 1000)),
                     &d);
      /* The failure may have opened or settled the plugin's breaker. */
      dispatch_locked (core, NULL, &d);

      core_unlock (core);
      deferred_run (&d);
      core_lock (core);
    }
  core_unlock (core);
  return NULL;
}

/* ------------------------------------------------------------------------ */
/* Delivery on the owner context                                            */

typedef struct {
  JobRecord  *rec;
  guint       flags;
  gint64      started_at;
  double      progress;
  char       *message;
  JupiterJob *terminal;
} EventItem;

/* Whether emitting would reach a handler; snapshots are only built then.
 * GLib 2.74 matches a given detail exactly, so detail-less handlers are
 * looked up separately. */
static gboolean
has_handlers (JupiterJobManager *self,
              guint              sig,
              GQuark             detail)
{
  return g_signal_has_handler_pending (self, signals[sig], 0, FALSE) ||
         (detail != 0 && g_signal_has_handler_pending (self, signals[sig], detail, FALSE));
}

static void
emit_items (JupiterJobManager *self,
            EventItem         *items,
            guint              n)
{
  /* Whether job-started has handlers, asked once per plugin detail in a
   * row (a batch is mostly one plugin's jobs): each question takes GLib's
   * signal lock. Handlers connected by a handler of this batch are seen
   * from the next batch on. */
  GQuark cached_detail = 0;
  gboolean cached_started = has_handlers (self, SIGNAL_JOB_STARTED, 0);

  for (guint i = 0; i < n; i++)
    {
      EventItem *it = &items[i];
      JobRecord *rec = it->rec;
      GQuark detail = rec->queue->detail;

      if (detail != cached_detail)
        {
          cached_detail = detail;
          cached_started = has_handlers (self, SIGNAL_JOB_STARTED, detail);
        }
      if ((it->flags & EVENT_STARTED) && cached_started)
        {
          g_autoptr(JupiterJob) snap = jupiter_job_derive (rec->base, JUPITER_JOB_STATUS_RUNNING);
          snap->started_at = it->started_at;
          g_signal_emit (self, signals[SIGNAL_JOB_STARTED], detail, snap);
        }
      if ((it->flags & EVENT_PROGRESS) &&
          has_handlers (self, SIGNAL_JOB_PROGRESS, detail))
        {
          g_autoptr(JupiterJob) snap = jupiter_job_derive (rec->base, JUPITER_JOB_STATUS_RUNNING);
          snap->started_at = it->started_at;
          snap->progress = it->progress;
          snap->message = g_steal_pointer (&it->message);
          g_signal_emit (self, signals[SIGNAL_JOB_PROGRESS], detail, snap);
        }
      g_free (it->message);
      if (it->terminal)
        {
          guint sig;

          switch ((JupiterJobStatus) it->terminal->status)
            {
            case JUPITER_JOB_STATUS_COMPLETED:
              sig = signals[SIGNAL_JOB_COMPLETED];
              break;
            case JUPITER_JOB_STATUS_FAILED:
              sig = signals[SIGNAL_JOB_FAILED];
              break;
            case JUPITER_JOB_STATUS_CANCELLED:
              sig = signals[SIGNAL_JOB_CANCELLED];
              break;
            case JUPITER_JOB_STATUS_PENDING:
            case JUPITER_JOB_STATUS_RUNNING:
            default:
              g_assert_not_reached ();
            }
          g_signal_emit (self, sig, detail, it->terminal);
          jupiter_job_unref (it->terminal);
        }
      record_unref (rec);
    }
}

/* Delivers up to @max queued notifications (and starts the async jobs
 * waiting for the owner context), taking new ones as they arrive, so a busy
 * stream needs no wakeup per job. Returns TRUE if more are queued. Owner
 * thread only. */
static gboolean
deliver_batch (JupiterJobManager *self,
               guint              max)
{
  ManagerCore *core = self->core;
  EventItem items[64];
  guint delivered = 0;
  gboolean more;

  core_lock (core);
  if (core->delivering)
    {
      /* Called from a handler of our own signals (a wait inside a handler):
       * the outer delivery holds notifications already taken, which must go
       * out first to keep each job's order. */
      core_unlock (core);
      return FALSE;
    }
  core->armed = FALSE;
  core->delivering = TRUE;
  if (core->source)
    g_source_set_ready_time (core->source, -1);

  for (;;)
    {
      GQueue to_start = core->to_start;
      guint n = 0, take = MIN (max - delivered, core->n_events);

      g_queue_init (&core->to_start);
      take = MIN (take, G_N_ELEMENTS (items));
      if (take == 0 && to_start.length == 0)
        break;

      while (n < take)
        {
          JobRecord *rec = core->ev_head;
          EventItem *it = &items[n++];

          core->ev_head = rec->ev_next;
          if (core->ev_head == NULL)
            core->ev_tail = NULL;
          core->n_events--;
          rec->in_ev_queue = FALSE;
          rec->ev_next = NULL;

          it->rec = rec;  /* the queue's reference */
          it->flags = rec->ev_flags;
          it->started_at = rec->started_at;
          it->progress = rec->ev_progress;
          it->message = g_steal_pointer (&rec->ev_message);
          it->terminal = g_steal_pointer (&rec->ev_terminal);
          rec->ev_flags = 0;
        }
      core_unlock (core);

      emit_items (self, items, n);
      delivered += n;
      while (to_start.length > 0)
        start_async (core, g_queue_pop_head_link (&to_start)->data);

      core_lock (core);
      if (delivered >= max)
        break;
    }

  core->delivering = FALSE;
  more = core->n_events > 0 || core->to_start.length > 0;
  if (more)
    arm_source_locked (core);
  core_unlock (core);
  return more;
}

static void drain_check (JupiterJobManager *self);

static gboolean
source_dispatch (GSource    *source,
                 GSourceFunc callback,
                 gpointer    user_data)
{
  JupiterJobManager *self = ((ManagerSource *) source)->manager;
  gboolean idle;

  if (self == NULL)
    return G_SOURCE_CONTINUE;

  /* A handler may drop the last reference to the manager: finalizing waits
   * until this delivery is over. */
  g_object_ref (self);
  deliver_batch (self, EVENT_BATCH_MAX);
  if (self->drain_tasks != NULL)
    drain_check (self);

  /* A replaced default manager lets itself go once its last job is over. */
  if (g_atomic_int_get (&self->retiring))
    {
      core_lock (self->core);
      idle = self->core->slots_used == 0 && self->core->n_events == 0 &&
             self->core->to_start.length == 0;
      core_unlock (self->core);
      if (idle)
        {
          g_atomic_int_set (&self->retiring, FALSE);
          g_object_unref (self);   /* the reference retire() kept */
        }
    }
  g_object_unref (self);
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs source_funcs = {
  .dispatch = source_dispatch,
};

/* Delivers everything queued now. Owner thread only. */
static void
deliver_all (JupiterJobManager *self)
{
  while (deliver_batch (self, G_MAXUINT))
    ;
}

/* ------------------------------------------------------------------------ */
/* GObject                                                                   */

static void
jupiter_job_manager_dispose (GObject *object)
{
  JupiterJobManager *self = JUPITER_JOB_MANAGER (object);
  ManagerCore *core = self->core;

  if (self->source)
    {
      GThread *timer;
      GPtrArray *queued;
      guint busy;
      Deferred d = { 0 };
      GHashTableIter iter;
      gpointer value;

      core_lock (core);
      core->shutting_down = TRUE;
      core->source = NULL;         /* nothing is announced any more */

      /* Jobs that never started never will: drop them without signals,
       * queued ones and dispatched ones alike (a worker or the start list
       * finds them done and lets go). */
      queued = g_ptr_array_new ();
      g_hash_table_iter_init (&iter, core->live);
      while (g_hash_table_iter_next (&iter, NULL, &value))
        if (((JobRecord *) value)->phase != PHASE_RUNNING)
          g_ptr_array_add (queued, value);
      for (guint i = 0; i < queued->len; i++)
        if (((JobRecord *) g_ptr_array_index (queued, i))->phase != PHASE_DONE)
          cancel_unstarted_locked (core, g_ptr_array_index (queued, i),
                                 g_error_new (JUPITER_JOB_ERROR, JUPITER_JOB_ERROR_SHUTTING_DOWN,
                                              "The job manager was disposed"),
                                 &d);
      g_ptr_array_free (queued, TRUE);
      while (core->to_start.length > 0)
        {
          JobRecord *rec = g_queue_pop_head_link (&core->to_start)->data;
          deferred_unref_record (&d, rec);   /* the start list's reference */
        }
      busy = core->slots_used;          /* job functions still running */

      /* Notifications that will never be delivered. */
      while (core->ev_head)
        {
          JobRecord *rec = core->ev_head;

          core->ev_head = rec->ev_next;
          rec->in_ev_queue = FALSE;
          rec->ev_flags = 0;
          g_clear_pointer (&rec->ev_terminal, jupiter_job_unref);
          deferred_unref_record (&d, rec);
        }
      core->ev_tail = NULL;
      core->n_events = 0;

      timer = g_steal_pointer (&core->timer_thread);
      core->timer_stop = TRUE;
      g_cond_broadcast (&core->timer_cond);
      core_unlock (core);

      if (busy > 0)
        g_critical ("JupiterJobManager %p disposed while %u jobs still run; "
                    "call jupiter_job_manager_shutdown() first", (void *) self, busy);

      if (timer)
        g_thread_join (timer);
      ((ManagerSource *) self->source)->manager = NULL;
      g_source_destroy (self->source);
      g_clear_pointer (&self->source, g_source_unref);
      deferred_run (&d);
    }

  G_OBJECT_CLASS (jupiter_job_manager_parent_class)->dispose (object);
}

static void
jupiter_job_manager_finalize (GObject *object)
{
  JupiterJobManager *self = JUPITER_JOB_MANAGER (object);

  g_clear_pointer (&self->core, core_unref);
  g_clear_object (&self->clock);
  g_clear_pointer (&self->link, jupiter_breaker_link_unref);

  G_OBJECT_CLASS (jupiter_job_manager_parent_class)->finalize (object);
}

static void
breaker_watch_cb (JupiterCircuitBreaker *breaker,
                  gpointer               data)
{
  JupiterBreakerLink *link = data;
  g_autoptr(JupiterJobManager) self = g_weak_ref_get (&link->target);
  ManagerCore *core;
  PluginQueue *q;
  Deferred d = { 0 };

  if (self == NULL)
    return;

  /* A breaker changed by itself (its timer) or was changed by someone else:
   * its plugin's queued jobs may run, or fail, now. */
  core = self->core;
  core_lock (core);
  q = g_hash_table_lookup (core->queues, jupiter_circuit_breaker_get_plugin_id (breaker));
  if (q)
    {
      if (jupiter_circuit_breaker_get_state (breaker) == JUPITER_CIRCUIT_STATE_OPEN)
        reject_queue_locked (core, q, &d);
      ring_add_locked (core, q);
      dispatch_locked (core, NULL, &d);
    }
  core_unlock (core);
  deferred_run (&d);
}

static void
jupiter_job_manager_constructed (GObject *object)
{
  JupiterJobManager *self = JUPITER_JOB_MANAGER (object);

  G_OBJECT_CLASS (jupiter_job_manager_parent_class)->constructed (object);

  /* Made here, in the thread (and thread-default context) that constructs
   * the manager, with the clock given at construction. */
  self->core->breakers = g_object_new (JUPITER_TYPE_CIRCUIT_BREAKER_REGISTRY,
                                       "clock", self->clock,
                                       "failure-threshold", self->cb_threshold,
                                       "cooldown", self->cb_cooldown,
                                       NULL);
  self->link = jupiter_breaker_link_new (self);
  jupiter_circuit_breaker_registry_set_watch (self->core->breakers, breaker_watch_cb, self->link);
}

static void
jupiter_job_manager_get_property (GObject    *object,
                                  guint       prop_id,
                                  GValue     *value,
                                  GParamSpec *pspec)
{
  JupiterJobManager *self = JUPITER_JOB_MANAGER (object);

  switch (prop_id)
    {
    case PROP_MAX_CONCURRENT:
      g_value_set_uint (value, jupiter_job_manager_get_max_concurrent (self));
      break;
    case PROP_MAX_CONCURRENT_PER_PLUGIN:
      g_value_set_uint (value, jupiter_job_manager_get_max_concurrent_per_plugin (self));
      break;
    case PROP_MAX_PENDING:
      g_value_set_uint (value, jupiter_job_manager_get_max_pending (self));
      break;
    case PROP_HISTORY_LIMIT:
      g_value_set_uint (value, jupiter_job_manager_get_history_limit (self));
      break;
    case PROP_DEFAULT_TIMEOUT:
      g_value_set_int64 (value, jupiter_job_manager_get_default_timeout (self));
      break;
    case PROP_ENABLE_CIRCUIT_BREAKER:
      g_value_set_boolean (value, g_atomic_int_get (&self->core->breakers_enabled));
      break;
    case PROP_CIRCUIT_BREAKER_THRESHOLD:
      if (self->core->breakers)
        g_object_get_property (G_OBJECT (self->core->breakers), "failure-threshold", value);
      else
        g_value_set_uint (value, self->cb_threshold);
      break;
    case PROP_CIRCUIT_BREAKER_COOLDOWN:
      if (self->core->breakers)
        g_object_get_property (G_OBJECT (self->core->breakers), "cooldown", value);
      else
        g_value_set_int64 (value, self->cb_cooldown);
      break;
    case PROP_CLOCK:
      g_value_set_object (value, self->core->breakers
                                 ? jupiter_circuit_breaker_registry_get_clock (self->core->breakers)
                                 : self->clock);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
jupiter_job_manager_set_property (GObject      *object,
                                  guint         prop_id,
                                  const GValue *value,
                                  GParamSpec   *pspec)
{
  JupiterJobManager *self = JUPITER_JOB_MANAGER (object);

  switch (prop_id)
    {
    case PROP_MAX_CONCURRENT:
      jupiter_job_manager_set_max_concurrent (self, g_value_get_uint (value));
      break;
    case PROP_MAX_CONCURRENT_PER_PLUGIN:
      jupiter_job_manager_set_max_concurrent_per_plugin (self, g_value_get_uint (value));
      break;
    case PROP_MAX_PENDING:
      jupiter_job_manager_set_max_pending (self, g_value_get_uint (value));
      break;
    case PROP_HISTORY_LIMIT:
      jupiter_job_manager_set_history_limit (self, g_value_get_uint (value));
      break;
    case PROP_DEFAULT_TIMEOUT:
      jupiter_job_manager_set_default_timeout (self, g_value_get_int64 (value));
      break;
    case PROP_ENABLE_CIRCUIT_BREAKER:
      g_atomic_int_set (&self->core->breakers_enabled, g_value_get_boolean (value));
      break;
    case PROP_CIRCUIT_BREAKER_THRESHOLD:
      self->cb_threshold = g_value_get_uint (value);
      if (self->core->breakers)
        g_object_set_property (G_OBJECT (self->core->breakers), "failure-threshold", value);
      break;
    case PROP_CIRCUIT_BREAKER_COOLDOWN:
      self->cb_cooldown = g_value_get_int64 (value);
      if (self->core->breakers)
        g_object_set_property (G_OBJECT (self->core->breakers), "cooldown", value);
      break;
    case PROP_CLOCK:
      self->clock = g_value_dup_object (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
jupiter_job_manager_class_init (JupiterJobManagerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GType job_type = JUPITER_TYPE_JOB | G_SIGNAL_TYPE_STATIC_SCOPE;

  /* G_DEFINE_QUARK caches in a plain static: register the domains before
   * workers and the timer thread can race to do it — ours, and GIO's,
   * which job code reaches from workers at once through
   * g_cancellable_set_error_if_cancelled() and the like. */
  (void) jupiter_job_error_quark ();
  (void) g_io_error_quark ();
  /* Likewise GLib's lock of error domains (GLib 2.74 creates it on the
   * first g_error_new() and rereads it with a plain load): the first
   * GError is made here, not in two threads at once. */
  g_error_free (g_error_new_literal (JUPITER_JOB_ERROR, JUPITER_JOB_ERROR_FAILED, "warm-up"));

  object_class->constructed = jupiter_job_manager_constructed;
  object_class->dispose = jupiter_job_manager_dispose;
  object_class->finalize = jupiter_job_manager_finalize;
  object_class->get_property = jupiter_job_manager_get_property;
  object_class->set_property = jupiter_job_manager_set_property;

  /**
   * JupiterJobManager:max-concurrent:
   *
   * The most jobs that run at once, synchronous and asynchronous together.
   * Jobs that timed out but whose function has not returned yet still count.
   *
   * Since: 0.1
   */
  properties[PROP_MAX_CONCURRENT] =
    g_param_spec_uint ("max-concurrent", NULL, NULL,
                       1, 4096, 4,
                       G_PARAM_READWRITE | G_PARAM_CONSTRUCT | G_PARAM_STATIC_STRINGS |
                       G_PARAM_EXPLICIT_NOTIFY);

  /**
   * JupiterJobManager:max-concurrent-per-plugin:
   *
   * The most jobs of one plugin id that run at once; 0 means only
   * #JupiterJobManager:max-concurrent applies.
   * jupiter_job_manager_set_plugin_max_concurrent() overrides it per plugin.
   * Jobs without a plugin id are not capped by it.
   *
   * Since: 0.1
   */
  properties[PROP_MAX_CONCURRENT_PER_PLUGIN] =
    g_param_spec_uint ("max-concurrent-per-plugin", NULL, NULL,
                       0, G_MAXUINT, 0,
                       G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  /**
   * JupiterJobManager:max-pending:
   *
   * The most jobs that wait to start; a submission beyond it fails with
   * %JUPITER_JOB_ERROR_QUEUE_FULL.
   *
   * Since: 0.1
   */
  properties[PROP_MAX_PENDING] =
    g_param_spec_uint ("max-pending", NULL, NULL,
                       0, G_MAXUINT, DEFAULT_MAX_PENDING,
                       G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  /**
   * JupiterJobManager:history-limit:
   *
   * The most finished jobs kept; beyond it the oldest finished jobs are
   * pruned first. Pending and running jobs are never pruned. %G_MAXUINT
   * keeps every job.
   *
   * Since: 0.1
   */
  properties[PROP_HISTORY_LIMIT] =
    g_param_spec_uint ("history-limit", NULL, NULL,
                       0, G_MAXUINT, DEFAULT_HISTORY_LIMIT,
                       G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  /**
   * JupiterJobManager:default-timeout:
   *
   * The timeout, in microseconds, of jobs whose options leave it at 0;
   * 0 means none.
   *
   * Since: 0.1
   */
  properties[PROP_DEFAULT_TIMEOUT] =
    g_param_spec_int64 ("default-timeout", NULL, NULL,
                        0, G_MAXINT64, 0,
                        G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  /**
   * JupiterJobManager:enable-circuit-breaker:
   *
   * Whether jobs with a plugin id are guarded by that plugin's circuit
   * breaker (see [class@Jupiter.CircuitBreaker]). Jobs submitted while it is
   * off are not guarded.
   *
   * Since: 0.1
   */
  properties[PROP_ENABLE_CIRCUIT_BREAKER] =
    g_param_spec_boolean ("enable-circuit-breaker", NULL, NULL, TRUE,
                          G_PARAM_READWRITE | G_PARAM_CONSTRUCT | G_PARAM_STATIC_STRINGS);

  /**
   * JupiterJobManager:circuit-breaker-threshold:
   *
   * The consecutive failures that open a plugin's breaker, for breakers
   * created from now on.
   *
   * Since: 0.1
   */
  properties[PROP_CIRCUIT_BREAKER_THRESHOLD] =
    g_param_spec_uint ("circuit-breaker-threshold", NULL, NULL, 1, G_MAXINT, 5,
                       G_PARAM_READWRITE | G_PARAM_CONSTRUCT | G_PARAM_STATIC_STRINGS);

  /**
   * JupiterJobManager:circuit-breaker-cooldown:
   *
   * How long, in microseconds, an open breaker refuses jobs before it lets a
   * trial through, for breakers created from now on.
   *
   * Since: 0.1
   */
  properties[PROP_CIRCUIT_BREAKER_COOLDOWN] =
    g_param_spec_int64 ("circuit-breaker-cooldown", NULL, NULL, 0, G_MAXINT64 / 2,
                        30 * G_TIME_SPAN_SECOND,
                        G_PARAM_READWRITE | G_PARAM_CONSTRUCT | G_PARAM_STATIC_STRINGS);

  /**
   * JupiterJobManager:clock:
   *
   * The clock the circuit breakers measure cooldowns with; the system clock
   * when %NULL. Tests pass a manual [class@Jupiter.Clock].
   *
   * Since: 0.1
   */
  properties[PROP_CLOCK] =
    g_param_spec_object ("clock", NULL, NULL, JUPITER_TYPE_CLOCK,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * JupiterJobManager::job-started:
   * @self: the manager
   * @job: (transfer none): the job as it started
   *
   * A job's function was started. Detailed by plugin id.
   *
   * Since: 0.1
   */
  signals[SIGNAL_JOB_STARTED] =
    g_signal_new ("job-started", G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST | G_SIGNAL_DETAILED,
                  0, NULL, NULL, g_cclosure_marshal_VOID__BOXED, G_TYPE_NONE, 1, job_type);
  g_signal_set_va_marshaller (signals[SIGNAL_JOB_STARTED], G_TYPE_FROM_CLASS (klass),
                              g_cclosure_marshal_VOID__BOXEDv);

  /**
   * JupiterJobManager::job-progress:
   * @self: the manager
   * @job: (transfer none): the job with its latest progress and message
   *
   * A running job reported progress. Reports that arrive faster than the
   * owner context runs are merged: the latest wins. Detailed by plugin id.
   *
   * Since: 0.1
   */
  signals[SIGNAL_JOB_PROGRESS] =
    g_signal_new ("job-progress", G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST | G_SIGNAL_DETAILED,
                  0, NULL, NULL, g_cclosure_marshal_VOID__BOXED, G_TYPE_NONE, 1, job_type);
  g_signal_set_va_marshaller (signals[SIGNAL_JOB_PROGRESS], G_TYPE_FROM_CLASS (klass),
                              g_cclosure_marshal_VOID__BOXEDv);

  /**
   * JupiterJobManager::job-completed:
   * @self: the manager
   * @job: (transfer none): the finished job, with its result
   *
   * A job completed. Detailed by plugin id.
   *
   * Since: 0.1
   */
  signals[SIGNAL_JOB_COMPLETED] =
    g_signal_new ("job-completed", G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST | G_SIGNAL_DETAILED,
                  0, NULL, NULL, g_cclosure_marshal_VOID__BOXED, G_TYPE_NONE, 1, job_type);
  g_signal_set_va_marshaller (signals[SIGNAL_JOB_COMPLETED], G_TYPE_FROM_CLASS (klass),
                              g_cclosure_marshal_VOID__BOXEDv);

  /**
   * JupiterJobManager::job-failed:
   * @self: the manager
   * @job: (transfer none): the finished job, with its error
   *
   * A job failed, timeouts included. Detailed by plugin id.
   *
   * Since: 0.1
   */
  signals[SIGNAL_JOB_FAILED] =
    g_signal_new ("job-failed", G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST | G_SIGNAL_DETAILED,
                  0, NULL, NULL, g_cclosure_marshal_VOID__BOXED, G_TYPE_NONE, 1, job_type);
  g_signal_set_va_marshaller (signals[SIGNAL_JOB_FAILED], G_TYPE_FROM_CLASS (klass),
                              g_cclosure_marshal_VOID__BOXEDv);

  /**
   * JupiterJobManager::job-cancelled:
   * @self: the manager
   * @job: (transfer none): the cancelled job
   *
   * A job was cancelled, before or while it ran. Detailed by plugin id.
   *
   * Since: 0.1
   */
  signals[SIGNAL_JOB_CANCELLED] =
    g_signal_new ("job-cancelled", G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST | G_SIGNAL_DETAILED,
                  0, NULL, NULL, g_cclosure_marshal_VOID__BOXED, G_TYPE_NONE, 1, job_type);
  g_signal_set_va_marshaller (signals[SIGNAL_JOB_CANCELLED], G_TYPE_FROM_CLASS (klass),
                              g_cclosure_marshal_VOID__BOXEDv);
}

static void
jupiter_job_manager_init (JupiterJobManager *self)
{
  ManagerCore *core = g_new0 (ManagerCore, 1);
  GSource *source;

  g_atomic_ref_count_init (&core->ref_count);
  g_mutex_init (&core->lock);
  g_cond_init (&core->timer_cond);
  core->context = g_main_context_ref_thread_default ();
  core->live = g_hash_table_new (job_id_hash, g_str_equal);
  core->finished = g_hash_table_new (job_id_hash, g_str_equal);
  core->queues = g_hash_table_new_full (NULL, NULL, NULL, (GDestroyNotify) plugin_queue_free);
  core->default_queue = plugin_queue_new (NULL);
  g_queue_init (&core->ring);
  g_queue_init (&core->to_start);
  core->waiters = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  core->max_concurrent = 4;
  core->max_pending = DEFAULT_MAX_PENDING;
  core->history_limit = DEFAULT_HISTORY_LIMIT;
  core->pool = g_thread_pool_new (worker_func, core, (int) core->max_concurrent, FALSE, NULL);
  self->core = core;

  source = g_source_new (&source_funcs, sizeof (ManagerSource));
  ((ManagerSource *) source)->manager = self;
  g_source_set_static_name (source, "[jupiter] job notifications");
  g_source_set_priority (source, G_PRIORITY_DEFAULT);
  g_source_attach (source, core->context);
  self->source = source;
  core->source = source;
  core->source_ref = g_source_ref (source);
}

/* ------------------------------------------------------------------------ */
/* Public API                                                                */

/**
 * jupiter_job_manager_new:
 *
 * A manager with default settings, owned by the thread-default main context.
 * Use g_object_new() to set properties at construction.
 *
 * Returns: (transfer full): a new #JupiterJobManager
 */
JupiterJobManager *
jupiter_job_manager_new (void)
{
  return g_object_new (JUPITER_TYPE_JOB_MANAGER, NULL);
}

static char *
submit_internal (JupiterJobManager       *self,
                 const JupiterJobOptions *options,
                 JupiterJobFunc           func,
                 JupiterJobAsyncFunc      async_func,
                 gpointer                 user_data,
                 GDestroyNotify           user_data_free,
                 GError                 **error)
{
  ManagerCore *core = self->core;
  JobRecord *rec;
  PluginQueue *q;
  char id[JUPITER_JOB_ID_LEN + 1];
  const char *name = options->name ? options->name : "";
  g_autofree char *valid_name = NULL;
  JupiterCircuitBreaker *breaker = NULL;
  gboolean bypass = (options->flags & JUPITER_JOB_FLAGS_BYPASS_CIRCUIT_BREAKER) != 0;
  Deferred d = { 0 };

  if (!g_utf8_validate (name, -1, NULL))
    name = valid_name = jupiter_utf8_make_valid (name);

  /* Jobs with a plugin id are guarded by its breaker: an OPEN one refuses
   * the job here (a rejection, not a call); the permit is taken at dispatch. */
  if (options->plugin_id && g_atomic_int_get (&core->breakers_enabled))
    {
      breaker = jupiter_circuit_breaker_registry_get_or_create (core->breakers, options->plugin_id, NULL);
      if (!bypass && jupiter_circuit_breaker_get_state (breaker) == JUPITER_CIRCUIT_STATE_OPEN)
        {
          jupiter_circuit_breaker_record_rejected (breaker);
          core_lock (core);
          core->rejected++;
          core_unlock (core);
          g_set_error (error, JUPITER_JOB_ERROR, JUPITER_JOB_ERROR_CIRCUIT_OPEN,
                       "Job “%s” was not submitted: the circuit breaker of plugin “%s” is open "
                       "after %u consecutive failures; it may be tried again in %.1f s",
                       name, options->plugin_id,
                       jupiter_circuit_breaker_get_failure_threshold (breaker),
                       jupiter_circuit_breaker_get_retry_in (breaker) / (double) G_USEC_PER_SEC);
          if (user_data_free)
            user_data_free (user_data);
          return NULL;
        }
    }

  jupiter_uuid_generate (id);

  rec = g_new0 (JobRecord, 1);
  rec->parent.funcs = &host_funcs;
  g_atomic_ref_count_init (&rec->ref_count);  /* the live table's reference */
  /* Only an async job's record keeps the core alive: its context may be
   * used from any thread until the job returns. A sync job's context lives
   * within its function, run by a pool task that holds the core itself, so
   * the owner thread touches no shared count per job. */
  rec->core = async_func ? core_ref (core) : core;
  rec->func = func;
  rec->async_func = async_func;
  rec->user_data = user_data;
  rec->user_data_free = user_data_free;
  rec->args = options->args ? json_node_ref (options->args) : NULL;
  rec->link.data = rec;
  rec->phase = PHASE_QUEUED;
  rec->breaker = breaker;
  rec->bypass = bypass;

  core_lock (core);
  /* max-pending bounds the jobs waiting in queues, not those that already
   * hold a slot on their way to a worker. */
  if (core->shutting_down || core->n_queued >= core->max_pending)
    {
      gboolean shutting_down = core->shutting_down;
      guint n_pending = core->n_queued;

      core->rejected++;
      core_unlock (core);

      if (shutting_down)
        g_set_error (error, JUPITER_JOB_ERROR, JUPITER_JOB_ERROR_SHUTTING_DOWN,
                     "Job “%s” was not submitted: the job manager is shutting down", name);
      else
        g_set_error (error, JUPITER_JOB_ERROR, JUPITER_JOB_ERROR_QUEUE_FULL,
                     "Job “%s” was not submitted: %u jobs are already pending (max-pending)",
                     name, n_pending);
      rec->base = jupiter_job_new_pending (id, name, NULL, NULL, NULL, 0, 0);
      record_unref (rec);   /* calls @user_data_free */
      return NULL;
    }

  rec->base = jupiter_job_new_pending (id, name, options->plugin_id, options->entry_name,
                                       options->metadata, g_get_real_time (), ++core->seq);
  if (options->timeout > 0)
    rec->timeout = options->timeout;
  else if (options->timeout == 0)
    rec->timeout = core->default_timeout;

  q = queue_for_locked (core, options->plugin_id);
  rec->queue = q;
  g_hash_table_insert (core->live, rec->base->id, rec);
  record_ref (rec);                           /* the queue/dispatch reference */
  g_queue_push_tail_link (&q->pending, &rec->link);
  core->n_pending++;
  core->n_queued++;
  core->submitted++;
  ring_add_locked (core, q);
  dispatch_locked (core, NULL, &d);
  core_unlock (core);

  deferred_run (&d);
  return g_strndup (id, JUPITER_JOB_ID_LEN);
}

/**
 * jupiter_job_manager_submit:
 * @self: a #JupiterJobManager
 * @options: the job's #JupiterJobOptions, read now
 * @func: (scope notified): the job function, run in a worker thread
 * @user_data: (closure func): data for @func
 * @user_data_free: (nullable) (destroy user_data): frees @user_data once
 *   @func has returned, or when the job can no longer run
 * @error: return location for a #GError
 *
 * Queues a synchronous job. It starts as soon as a slot is free within
 * #JupiterJobManager:max-concurrent and its plugin's cap.
 *
 * When the submission fails (%JUPITER_JOB_ERROR_QUEUE_FULL,
 * %JUPITER_JOB_ERROR_SHUTTING_DOWN), @user_data_free is called before
 * returning.
 *
 * Returns: (transfer full): the new job's id, or %NULL with @error set
 */
char *
jupiter_job_manager_submit (JupiterJobManager       *self,
                            const JupiterJobOptions *options,
                            JupiterJobFunc           func,
                            gpointer                 user_data,
                            GDestroyNotify           user_data_free,
                            GError                 **error)
{
  g_return_val_if_fail (JUPITER_IS_JOB_MANAGER (self), NULL);
  g_return_val_if_fail (options != NULL, NULL);
  g_return_val_if_fail (func != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return submit_internal (self, options, func, NULL, user_data, user_data_free, error);
}

/**
 * jupiter_job_manager_submit_async_func:
 * @self: a #JupiterJobManager
 * @options: the job's #JupiterJobOptions, read now
 * @func: (scope notified): the asynchronous job function, started on the
 *   manager's main context
 * @user_data: (closure func): data for @func
 * @user_data_free: (nullable) (destroy user_data): frees @user_data once the
 *   job has returned, or when it can no longer run
 * @error: return location for a #GError
 *
 * Queues an asynchronous job. When a slot is free, @func is called on the
 * manager's main context; the job then holds its slot until its context
 * returns a result or an error (see #JupiterJobContext), from any thread.
 *
 * Returns: (transfer full): the new job's id, or %NULL with @error set
 */
char *
jupiter_job_manager_submit_async_func (JupiterJobManager       *self,
                                       const JupiterJobOptions *options,
                                       JupiterJobAsyncFunc      func,
                                       gpointer                 user_data,
                                       GDestroyNotify           user_data_free,
                                       GError                 **error)
{
  g_return_val_if_fail (JUPITER_IS_JOB_MANAGER (self), NULL);
  g_return_val_if_fail (options != NULL, NULL);
  g_return_val_if_fail (func != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return submit_internal (self, options, NULL, func, user_data, user_data_free, error);
}

static void
set_not_found (GError    **error,
               const char *job_id)
{
  g_set_error (error, JUPITER_JOB_ERROR, JUPITER_JOB_ERROR_NOT_FOUND,
               "No job with id “%s”", job_id);
}

/**
 * jupiter_job_manager_cancel:
 * @self: a #JupiterJobManager
 * @job_id: a job id
 * @error: return location for a #GError
 *
 * Cancels a job. A pending job becomes %JUPITER_JOB_STATUS_CANCELLED at
 * once. A running job has its cancellable triggered (in this thread, so
 * handlers connected to it run here) and becomes cancelled when its
 * function returns; its result is discarded.
 *
 * Returns: %TRUE if the job is or will be cancelled; %FALSE with
 *   %JUPITER_JOB_ERROR_NOT_FOUND for an unknown id or
 *   %JUPITER_JOB_ERROR_ALREADY_FINISHED for a finished job
 */
gboolean
jupiter_job_manager_cancel (JupiterJobManager *self,
                            const char        *job_id,
                            GError           **error)
{
  ManagerCore *core;
  JobRecord *rec;
  GCancellable *cancellable = NULL;
  Deferred d = { 0 };

  g_return_val_if_fail (JUPITER_IS_JOB_MANAGER (self), FALSE);
  g_return_val_if_fail (job_id != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  core = self->core;
  core_lock (core);
  rec = g_hash_table_lookup (core->live, job_id);
  if (rec == NULL)
    {
      JupiterJob *job = g_hash_table_lookup (core->finished, job_id);
      if (job)
        g_set_error (error, JUPITER_JOB_ERROR, JUPITER_JOB_ERROR_ALREADY_FINISHED,
                     "Job %s (“%s”) is already %s", job->id, job->name,
                     jupiter_job_status_to_string ((JupiterJobStatus) job->status));
      else
        set_not_found (error, job_id);
      core_unlock (core);
      return FALSE;
    }

  switch (rec->phase)
    {
    case PHASE_QUEUED:
    case PHASE_STARTING:
      cancel_unstarted_locked (core, rec,
                               g_error_new (JUPITER_JOB_ERROR, JUPITER_JOB_ERROR_CANCELLED,
                                            "Job %s (“%s”) was cancelled before it started",
                                            rec->base->id, rec->base->name),
                               &d);
      break;
    case PHASE_RUNNING:
      rec->cancel_requested = TRUE;
      g_atomic_int_set (&rec->cancel_flag, TRUE);
      if (rec->cancellable)
        cancellable = g_object_ref (rec->cancellable);
      break;
    case PHASE_DONE:
    default:
      g_assert_not_reached ();
    }
  core_unlock (core);

  if (cancellable)
    {
      g_cancellable_cancel (cancellable);
      g_object_unref (cancellable);
    }
  deferred_run (&d);
  return TRUE;
}

/* A snapshot of a live job. */
static JupiterJob *
record_snapshot_locked (JobRecord *rec)
{
  JupiterJob *job;

  if (rec->phase != PHASE_RUNNING)
    return jupiter_job_ref (rec->base);

  job = jupiter_job_derive (rec->base, JUPITER_JOB_STATUS_RUNNING);
  job->started_at = rec->started_at;
  job->progress = rec->progress;
  job->message = g_strdup (rec->message);
  return job;
}

static JupiterJob *
lookup_snapshot_locked (ManagerCore *core,
                        const char  *job_id)
{
  JobRecord *rec = g_hash_table_lookup (core->live, job_id);
  JupiterJob *job;

  if (rec)
    return record_snapshot_locked (rec);
  job = g_hash_table_lookup (core->finished, job_id);
  return job ? jupiter_job_ref (job) : NULL;
}

/**
 * jupiter_job_manager_get:
 * @self: a #JupiterJobManager
 * @job_id: a job id
 * @error: return location for a #GError
 *
 * A snapshot of the job as it is now.
 *
 * Returns: (transfer full): the job, or %NULL with
 *   %JUPITER_JOB_ERROR_NOT_FOUND (unknown or pruned id)
 */
JupiterJob *
jupiter_job_manager_get (JupiterJobManager *self,
                         const char        *job_id,
                         GError           **error)
{
  JupiterJob *job;

  g_return_val_if_fail (JUPITER_IS_JOB_MANAGER (self), NULL);
  g_return_val_if_fail (job_id != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  core_lock (self->core);
  job = lookup_snapshot_locked (self->core, job_id);
  core_unlock (self->core);

  if (job == NULL)
    set_not_found (error, job_id);
  return job;
}

static gboolean
matches (JupiterJobStatus status,
         const char      *plugin_id,
         JupiterJobStatus job_status,
         const char      *job_plugin_id)
{
  if (status != JUPITER_JOB_STATUS_ANY && status != job_status)
    return FALSE;
  if (plugin_id && g_strcmp0 (plugin_id, job_plugin_id) != 0)
    return FALSE;
  return TRUE;
}

static JupiterJobStatus
record_status (JobRecord *rec)
{
  return rec->phase == PHASE_RUNNING ? JUPITER_JOB_STATUS_RUNNING : JUPITER_JOB_STATUS_PENDING;
}

static int
newest_first (gconstpointer a,
              gconstpointer b)
{
  const JupiterJob *ja = *(JupiterJob * const *) a;
  const JupiterJob *jb = *(JupiterJob * const *) b;

  return ja->seq < jb->seq ? 1 : (ja->seq > jb->seq ? -1 : 0);
}

/**
 * jupiter_job_manager_list:
 * @self: a #JupiterJobManager
 * @status: a status to match, or %JUPITER_JOB_STATUS_ANY
 * @plugin_id: (nullable): a plugin id to match, or %NULL for all
 * @limit: the most jobs to return; 0 for all
 *
 * Snapshots of the matching jobs, newest (last submitted) first, taken
 * consistently at one moment.
 *
 * Returns: (transfer full) (element-type JupiterJob): the jobs
 */
GPtrArray *
jupiter_job_manager_list (JupiterJobManager *self,
                          JupiterJobStatus   status,
                          const char        *plugin_id,
                          guint              limit)
{
  ManagerCore *core;
  GPtrArray *jobs;
  GHashTableIter iter;
  gpointer value;

  g_return_val_if_fail (JUPITER_IS_JOB_MANAGER (self), NULL);
  g_return_val_if_fail (status == JUPITER_JOB_STATUS_ANY ||
                        (guint) status <= JUPITER_JOB_STATUS_CANCELLED, NULL);

  core = self->core;
  jobs = g_ptr_array_new_with_free_func ((GDestroyNotify) jupiter_job_unref);

  core_lock (core);
  g_hash_table_iter_init (&iter, core->live);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      JobRecord *rec = value;
      if (matches (status, plugin_id, record_status (rec), rec->base->plugin_id))
        g_ptr_array_add (jobs, record_snapshot_locked (rec));
    }
  if (status == JUPITER_JOB_STATUS_ANY || jupiter_job_status_is_finished (status))
    {
      for (JupiterJob *job = core->hist_tail; job; job = job->hist_prev)
        if (matches (status, plugin_id, (JupiterJobStatus) job->status, job->plugin_id))
          g_ptr_array_add (jobs, jupiter_job_ref (job));
    }
  core_unlock (core);

  g_ptr_array_sort (jobs, newest_first);
  if (limit > 0 && jobs->len > limit)
    g_ptr_array_set_size (jobs, limit);
  return jobs;
}

/**
 * jupiter_job_manager_count:
 * @self: a #JupiterJobManager
 * @status: a status to match, or %JUPITER_JOB_STATUS_ANY
 * @plugin_id: (nullable): a plugin id to match, or %NULL for all
 *
 * Counts the matching jobs without taking snapshots.
 *
 * Returns: the number of matching jobs held now
 */
guint
jupiter_job_manager_count (JupiterJobManager *self,
                           JupiterJobStatus   status,
                           const char        *plugin_id)
{
  ManagerCore *core;
  guint n = 0;

  g_return_val_if_fail (JUPITER_IS_JOB_MANAGER (self), 0);

  core = self->core;
  core_lock (core);
  if (plugin_id == NULL)
    {
      switch ((int) status)
        {
        case JUPITER_JOB_STATUS_PENDING:
          n = core->n_pending;
          break;
        case JUPITER_JOB_STATUS_RUNNING:
          n = core->n_running;
          break;
        case JUPITER_JOB_STATUS_COMPLETED:
          n = core->n_completed;
          break;
        case JUPITER_JOB_STATUS_FAILED:
          n = core->n_failed;
          break;
        case JUPITER_JOB_STATUS_CANCELLED:
          n = core->n_cancelled;
          break;
        default:
          n = g_hash_table_size (core->live) + core->hist_len;
          break;
        }
    }
  else
    {
      GHashTableIter iter;
      gpointer value;

      g_hash_table_iter_init (&iter, core->live);
      while (g_hash_table_iter_next (&iter, NULL, &value))
        {
          JobRecord *rec = value;
          n += matches (status, plugin_id, record_status (rec), rec->base->plugin_id);
        }
      for (JupiterJob *job = core->hist_head; job; job = job->hist_next)
        n += matches (status, plugin_id, (JupiterJobStatus) job->status, job->plugin_id);
    }
  core_unlock (core);
  return n;
}

/**
 * jupiter_job_manager_get_stats:
 * @self: a #JupiterJobManager
 * @stats: (out caller-allocates): where to store the counters
 *
 * Fills @stats with the manager's counters, all read at one moment.
 */
void
jupiter_job_manager_get_stats (JupiterJobManager *self,
                               JupiterJobStats   *stats)
{
  ManagerCore *core;

  g_return_if_fail (JUPITER_IS_JOB_MANAGER (self));
  g_return_if_fail (stats != NULL);

  core = self->core;
  memset (stats, 0, sizeof *stats);
  core_lock (core);
  stats->pending = core->n_pending;
  stats->running = core->n_running;
  stats->completed = core->n_completed;
  stats->failed = core->n_failed;
  stats->cancelled = core->n_cancelled;
  stats->overdue = core->n_overdue;
  stats->submitted = core->submitted;
  stats->rejected = core->rejected;
  stats->timed_out = core->timed_out;
  stats->total_completed = core->total_completed;
  stats->total_failed = core->total_failed;
  stats->total_cancelled = core->total_cancelled;
  stats->pruned = core->pruned;
  core_unlock (core);
}

/**
 * jupiter_job_manager_clear_history:
 * @self: a #JupiterJobManager
 * @status: a terminal status, or %JUPITER_JOB_STATUS_ANY for every
 *   finished job
 *
 * Removes finished jobs from the history. Pending and running jobs are
 * never removed. Snapshots held elsewhere stay valid.
 *
 * Returns: the number of jobs removed
 */
guint
jupiter_job_manager_clear_history (JupiterJobManager *self,
                                   JupiterJobStatus   status)
{
  ManagerCore *core;
  JupiterJob *job, *next;
  Deferred d = { 0 };
  guint n = 0;

  g_return_val_if_fail (JUPITER_IS_JOB_MANAGER (self), 0);
  g_return_val_if_fail (status == JUPITER_JOB_STATUS_ANY || jupiter_job_status_is_finished (status), 0);

  core = self->core;
  core_lock (core);
  for (job = core->hist_head; job; job = next)
    {
      next = job->hist_next;
      if (status == JUPITER_JOB_STATUS_ANY || job->status == status)
        {
          history_remove_locked (core, job, &d);
          n++;
        }
    }
  core_unlock (core);
  deferred_run (&d);
  return n;
}

/* The data of a wait's cancellation handler: it names the waiter by job id
 * and serial, never by pointer, so it cannot reach a waiter that a finishing
 * job already took; and it holds the manager weakly, since a handler left
 * connected to a long-lived cancellable must not keep the manager alive. */
typedef struct {
  GWeakRef  manager;
  char     *key;
  guint64   serial;
} WaitHandle;

static void
wait_handle_free (gpointer data)
{
  WaitHandle *h = data;

  g_weak_ref_clear (&h->manager);
  g_free (h->key);
  g_free (h);
}

/* Removes the waiter @serial of @key and returns it, or NULL. */
static Waiter *
waiter_take_locked (ManagerCore *core,
                    const char  *key,
                    guint64      serial)
{
  gpointer orig_key, value;
  GSList *list;

  if (!g_hash_table_lookup_extended (core->waiters, key, &orig_key, &value))
    return NULL;
  list = value;
  for (GSList *l = list; l; l = l->next)
    {
      Waiter *w = l->data;

      if (w->serial != serial)
        continue;
      list = g_slist_delete_link (list, l);
      if (list)
        g_hash_table_insert (core->waiters, g_strdup (key), list);
      else
        g_hash_table_remove (core->waiters, key);
      return w;
    }
  return NULL;
}

static void
waiter_cancelled_cb (GCancellable *cancellable,
                     gpointer      user_data)
{
  WaitHandle *h = user_data;
  g_autoptr(JupiterJobManager) self = g_weak_ref_get (&h->manager);
  Waiter *w;

  if (self == NULL)
    return;
  core_lock (self->core);
  w = waiter_take_locked (self->core, h->key, h->serial);
  core_unlock (self->core);

  if (w)
    {
      /* The handler stays connected (it cannot disconnect itself); its
       * small data goes with the cancellable. */
      g_task_return_error_if_cancelled (w->task);
      g_object_unref (w->task);
      g_clear_object (&w->cancellable);
      g_free (w);
    }
}

/**
 * jupiter_job_manager_wait_async:
 * @self: a #JupiterJobManager
 * @job_id: a job id
 * @cancellable: (nullable): a #GCancellable
 * @callback: called when the job has finished
 * @user_data: data for @callback
 *
 * Waits for a job to reach a terminal state. @callback runs on the
 * thread-default main context of the caller. The wait ends when the job's
 * state changes, whether or not the manager's own context has delivered the
 * terminal signal yet.
 */
void
jupiter_job_manager_wait_async (JupiterJobManager  *self,
                                const char         *job_id,
                                GCancellable       *cancellable,
                                GAsyncReadyCallback callback,
                                gpointer            user_data)
{
  ManagerCore *core;
  g_autoptr(GTask) task = NULL;
  JupiterJob *job = NULL;
  JobRecord *rec;
  WaitHandle *h;
  gulong handler;
  guint64 serial;
  gboolean gone;

  g_return_if_fail (JUPITER_IS_JOB_MANAGER (self));
  g_return_if_fail (job_id != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  core = self->core;
  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, jupiter_job_manager_wait_async);

  core_lock (core);
  rec = g_hash_table_lookup (core->live, job_id);
  if (rec == NULL)
    {
      job = g_hash_table_lookup (core->finished, job_id);
      if (job)
        jupiter_job_ref (job);
      core_unlock (core);

      if (job)
        g_task_return_pointer (task, job, (GDestroyNotify) jupiter_job_unref);
      else
        g_task_return_new_error (task, JUPITER_JOB_ERROR, JUPITER_JOB_ERROR_NOT_FOUND,
                                 "No job with id “%s”", job_id);
      return;
    }

  {
    Waiter *w = g_new0 (Waiter, 1);
    gpointer orig_key = NULL, value = NULL;
    GSList *list;

    w->task = g_object_ref (task);
    w->cancellable = cancellable ? g_object_ref (cancellable) : NULL;
    w->serial = serial = ++core->waiter_serial;
    if (g_hash_table_lookup_extended (core->waiters, rec->base->id, &orig_key, &value))
      g_hash_table_steal (core->waiters, rec->base->id);
    else
      orig_key = g_strdup (rec->base->id);
    list = g_slist_prepend (value, w);
    g_hash_table_insert (core->waiters, orig_key, list);
  }
  core_unlock (core);

  if (cancellable == NULL)
    return;

  /* Connected outside the lock: the handler may run at once. */
  h = g_new0 (WaitHandle, 1);
  g_weak_ref_init (&h->manager, self);
  h->key = g_strdup (job_id);
  h->serial = serial;
  handler = g_cancellable_connect (cancellable, G_CALLBACK (waiter_cancelled_cb), h, wait_handle_free);

  core_lock (core);
  {
    GSList *list = g_hash_table_lookup (core->waiters, job_id);
    Waiter *w = NULL;

    for (GSList *l = list; l; l = l->next)
      if (((Waiter *) l->data)->serial == serial)
        w = l->data;
    if (w)
      w->handler = handler;     /* the finishing job disconnects it */
    gone = (w == NULL);
  }
  core_unlock (core);

  /* Already finished or cancelled: nobody else will disconnect it. */
  if (gone && handler != 0)
    g_cancellable_disconnect (cancellable, handler);
}

/**
 * jupiter_job_manager_wait_finish:
 * @self: a #JupiterJobManager
 * @result: the #GAsyncResult
 * @error: return location for a #GError
 *
 * Returns: (transfer full): the finished job, or %NULL with @error set
 *   (%JUPITER_JOB_ERROR_NOT_FOUND, or %G_IO_ERROR_CANCELLED)
 */
JupiterJob *
jupiter_job_manager_wait_finish (JupiterJobManager *self,
                                 GAsyncResult      *result,
                                 GError           **error)
{
  g_return_val_if_fail (JUPITER_IS_JOB_MANAGER (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == jupiter_job_manager_wait_async, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

static void
wakeup_context_cb (GCancellable *cancellable,
                   gpointer      user_data)
{
  g_main_context_wakeup (user_data);
}

typedef gboolean (*DoneFunc) (ManagerCore *core, gpointer data);

/* Iterates the owner context until @done holds (checked under the lock),
 * @cancellable fires or @deadline (monotonic, 0 = none) passes, then
 * delivers every queued notification. Owner thread only. */
static gboolean
deadline_dispatch (GSource    *source,
                   GSourceFunc callback,
                   gpointer    user_data)
{
  g_source_set_ready_time (source, -1);
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs deadline_source_funcs = {
  .dispatch = deadline_dispatch,
};

static gboolean
iterate_until (JupiterJobManager *self,
               DoneFunc           done,
               gpointer           data,
               GCancellable      *cancellable,
               gint64             deadline,
               GError           **error)
{
  ManagerCore *core = self->core;
  gulong handler = 0;
  GSource *timeout = NULL;
  gboolean reached = FALSE;

  if (!g_main_context_acquire (core->context))
    {
      g_critical ("JupiterJobManager %p: waiting needs the manager's main context, "
                  "which another thread owns", (void *) self);
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                           "The job manager's main context is owned by another thread");
      return FALSE;
    }

  if (cancellable)
    handler = g_cancellable_connect (cancellable, G_CALLBACK (wakeup_context_cb),
                                     g_main_context_ref (core->context),
                                     (GDestroyNotify) g_main_context_unref);
  if (deadline > 0)
    {
      /* A source that only wakes the loop at the deadline. */
      timeout = g_source_new (&deadline_source_funcs, sizeof (GSource));
      g_source_set_ready_time (timeout, deadline);
      g_source_set_static_name (timeout, "[jupiter] wait deadline");
      g_source_attach (timeout, core->context);
    }

  core_lock (core);
  core->iterating++;
  core_unlock (core);

  for (;;)
    {
      GQueue to_start = G_QUEUE_INIT;
      gboolean ok;

      core_lock (core);
      ok = done (core, data);
      /* Inside one of our signal handlers our source cannot run: start the
       * async jobs it would have started (their notifications wait). */
      if (!ok && core->delivering)
        {
          to_start = core->to_start;
          g_queue_init (&core->to_start);
        }
      core_unlock (core);
      while (to_start.length > 0)
        start_async (core, g_queue_pop_head_link (&to_start)->data);
      if (ok)
        {
          reached = TRUE;
          break;
        }
      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        break;
      if (deadline > 0 && g_get_monotonic_time () >= deadline)
        break;
      g_main_context_iteration (core->context, TRUE);
    }

  if (timeout)
    {
      g_source_destroy (timeout);
      g_source_unref (timeout);
    }
  if (handler)
    g_cancellable_disconnect (cancellable, handler);

  core_lock (core);
  core->iterating--;
  core_unlock (core);

  /* From a signal handler of ours this delivers nothing: the outer delivery
   * holds notifications already taken, which must go out first. */
  deliver_all (self);
  if (self->drain_tasks != NULL)
    drain_check (self);
  g_main_context_release (core->context);
  return reached;
}

static gboolean
job_done_locked (ManagerCore *core,
                 gpointer     data)
{
  return g_hash_table_lookup (core->live, data) == NULL;
}

/**
 * jupiter_job_manager_wait:
 * @self: a #JupiterJobManager
 * @job_id: a job id
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Blocks until the job has finished, iterating the manager's main context
 * meanwhile, then delivers every queued notification, so the job's
 * terminal signal has been emitted when this returns. Call it from the
 * thread that runs (or may acquire) the manager's context; it is meant for
 * command-line programs and tests.
 *
 * Returns: (transfer full): the finished job, or %NULL with @error set
 *   (%JUPITER_JOB_ERROR_NOT_FOUND, %G_IO_ERROR_CANCELLED)
 */
JupiterJob *
jupiter_job_manager_wait (JupiterJobManager *self,
                          const char        *job_id,
                          GCancellable      *cancellable,
                          GError           **error)
{
  g_autofree char *id = NULL;
  JupiterJob *job;

  g_return_val_if_fail (JUPITER_IS_JOB_MANAGER (self), NULL);
  g_return_val_if_fail (job_id != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  job = jupiter_job_manager_get (self, job_id, error);
  if (job == NULL)
    return NULL;
  if (jupiter_job_is_finished (job))
    {
      jupiter_job_unref (job);
      iterate_until (self, job_done_locked, (gpointer) job_id, NULL, 0, NULL);
      return jupiter_job_manager_get (self, job_id, error);
    }
  id = g_strdup (job->id);
  jupiter_job_unref (job);

  if (!iterate_until (self, job_done_locked, id, cancellable, 0, error))
    return NULL;

  /* A job pruned at once (history-limit 0) can no longer be looked up. */
  return jupiter_job_manager_get (self, id, error);
}

static gboolean
idle_locked (ManagerCore *core,
             gpointer     data)
{
  return g_hash_table_size (core->live) == 0;
}

/**
 * jupiter_job_manager_wait_idle:
 * @self: a #JupiterJobManager
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Like jupiter_job_manager_wait(), for every job: blocks until no job is
 * pending or running, then delivers every queued notification.
 *
 * Returns: %TRUE when idle, %FALSE with @error set if cancelled
 */
gboolean
jupiter_job_manager_wait_idle (JupiterJobManager *self,
                               GCancellable      *cancellable,
                               GError           **error)
{
  g_return_val_if_fail (JUPITER_IS_JOB_MANAGER (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return iterate_until (self, idle_locked, NULL, cancellable, 0, error);
}

static gboolean
no_function_running_locked (ManagerCore *core,
                            gpointer     data)
{
  return core->slots_used == 0;
}

/* Stops accepting jobs and cancels every job that has not started; with
 * @cancel_running, also triggers the cancellables of the running ones.
 * Returns whether any job function still runs. Any thread. */
static gboolean
begin_shutdown (JupiterJobManager *self,
                gboolean           cancel_running)
{
  ManagerCore *core = self->core;
  GPtrArray *unstarted = g_ptr_array_new ();
  GPtrArray *cancellables = g_ptr_array_new_with_free_func (g_object_unref);
  GHashTableIter iter;
  gpointer value;
  Deferred d = { 0 };
  gboolean busy;

  core_lock (core);
  core->shutting_down = TRUE;
  g_hash_table_iter_init (&iter, core->live);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      JobRecord *rec = value;

      if (rec->phase != PHASE_RUNNING)
        g_ptr_array_add (unstarted, rec);
      else if (cancel_running)
        {
          rec->cancel_requested = TRUE;
          g_atomic_int_set (&rec->cancel_flag, TRUE);
          if (rec->cancellable)
            g_ptr_array_add (cancellables, g_object_ref (rec->cancellable));
        }
    }
  for (guint i = 0; i < unstarted->len; i++)
    {
      JobRecord *rec = g_ptr_array_index (unstarted, i);

      /* Cancelling one job can end others (an open breaker fails its
       * plugin's queue); they stay alive until deferred_run(). */
      if (rec->phase == PHASE_DONE)
        continue;
      cancel_unstarted_locked (core, rec,
                               g_error_new (JUPITER_JOB_ERROR, JUPITER_JOB_ERROR_CANCELLED,
                                            "Job %s (“%s”) was cancelled: the job manager is shutting down",
                                            rec->base->id, rec->base->name),
                               &d);
    }
  busy = core->slots_used > 0;
  core_unlock (core);
  g_ptr_array_free (unstarted, TRUE);

  for (guint i = 0; i < cancellables->len; i++)
    g_cancellable_cancel (g_ptr_array_index (cancellables, i));
  g_ptr_array_free (cancellables, TRUE);
  deferred_run (&d);
  return busy;
}

/* For the default manager when it is replaced: shuts @self down without
 * blocking (running jobs are cancelled) and drops the caller's reference
 * once the last job function has returned and its signals went out, on the
 * manager's own context. Takes the caller's reference. */
void
jupiter_job_manager_retire (JupiterJobManager *self)
{
  ManagerCore *core = self->core;
  gboolean busy = begin_shutdown (self, TRUE);

  core_lock (core);
  busy = busy || core->slots_used > 0 || core->n_events > 0 || core->to_start.length > 0;
  if (busy)
    {
      g_atomic_int_set (&self->retiring, TRUE);
      arm_source_locked (core);
    }
  core_unlock (core);
  if (!busy)
    g_object_unref (self);
}

/* Delivers every queued notification now (the host does before it logs
 * its shutdown). Owner thread only; inside one of our handlers it delivers
 * nothing, as deliver_all() does. */
void
jupiter_job_manager_flush_notifications (JupiterJobManager *self)
{
  g_return_if_fail (JUPITER_IS_JOB_MANAGER (self));

  deliver_all (self);
  if (self->drain_tasks != NULL)
    drain_check (self);
}

/**
 * jupiter_job_manager_shutdown:
 * @self: a #JupiterJobManager
 * @grace: how long running jobs may take to finish, in microseconds
 * @error: return location for a #GError
 *
 * Stops accepting jobs (later submissions fail with
 * %JUPITER_JOB_ERROR_SHUTTING_DOWN), cancels every pending job, then
 * iterates the manager's main context until every running job's function
 * has returned or @grace has passed. Jobs still running then have their
 * cancellables triggered. Every queued notification is delivered before
 * this returns. Call it from the thread that runs the manager's context.
 *
 * Returns: %TRUE if no job function is still running; %FALSE with
 *   %JUPITER_JOB_ERROR_TIMED_OUT naming how many still run
 */
gboolean
jupiter_job_manager_shutdown (JupiterJobManager *self,
                              GTimeSpan          grace,
                              GError           **error)
{
  ManagerCore *core;
  gint64 deadline;
  guint still;

  g_return_val_if_fail (JUPITER_IS_JOB_MANAGER (self), FALSE);
  g_return_val_if_fail (grace >= 0, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  core = self->core;
  begin_shutdown (self, FALSE);

  /* A grace too long to add to the clock means no deadline at all. */
  deadline = grace > G_MAXINT64 / 4 ? 0 : g_get_monotonic_time () + grace;
  if (iterate_until (self, no_function_running_locked, NULL, NULL, deadline, NULL))
    return TRUE;

  core_lock (core);
  still = core->slots_used;
  core_unlock (core);
  begin_shutdown (self, TRUE);

  g_set_error (error, JUPITER_JOB_ERROR, JUPITER_JOB_ERROR_TIMED_OUT,
               "%u job functions were still running after the grace period of %" G_GINT64_FORMAT " ms; "
               "they have been cancelled", still, grace / 1000);
  return FALSE;
}

/* shutdown_async(): a task waits in self->drain_tasks until no job
 * function runs and every notification went out (checked after each
 * delivery: the last slot freed during a shutdown arms the source), until
 * its grace timer fires, or until its cancellable is cancelled. Every part
 * runs on the manager's context. */
typedef struct {
  GSource *timer;
  GSource *cancelled;
  guint    gave_up;   /* 0: waiting; else how it ended: */
#define GAVE_UP_TIMER       1
#define GAVE_UP_CANCELLABLE 2
} DrainData;

static void
drain_data_free (gpointer data)
{
  DrainData *dd = data;

  if (dd->timer)
    {
      g_source_destroy (dd->timer);
      g_source_unref (dd->timer);
    }
  if (dd->cancelled)
    {
      g_source_destroy (dd->cancelled);
      g_source_unref (dd->cancelled);
    }
  g_free (dd);
}

/* No job function runs and every notification went out — not merely
 * taken by a delivery still in progress (a handler iterating the context
 * can run our sources in the middle of one). */
static gboolean
drained (JupiterJobManager *self,
         guint             *still_running,
         gboolean          *delivering)
{
  ManagerCore *core = self->core;
  gboolean ret;

  core_lock (core);
  ret = core->slots_used == 0 && core->n_events == 0 && core->to_start.length == 0 &&
        !core->delivering;
  if (still_running)
    *still_running = core->slots_used;
  if (delivering)
    *delivering = core->delivering;
  core_unlock (core);
  return ret;
}

/* Takes the list's reference to @task. */
static void
drain_settle (JupiterJobManager *self,
              GTask             *task,
              GError            *error)
{
  DrainData *dd = g_task_get_task_data (task);

  self->drain_tasks = g_list_remove (self->drain_tasks, task);
  if (dd->timer)
    g_source_destroy (dd->timer);
  if (dd->cancelled)
    g_source_destroy (dd->cancelled);
  if (error)
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
  g_object_unref (task);
}

/* Settles what can be: every task once drained; a task that gave up
 * (grace over, or cut short) with its error as soon as no delivery is in
 * progress, if a function still runs. Owner thread, outside deliveries
 * of ours or inside (then it settles nothing early). */
static void
drain_check (JupiterJobManager *self)
{
  gboolean delivering;
  guint still;

  if (drained (self, &still, &delivering))
    {
      while (self->drain_tasks != NULL)
        drain_settle (self, self->drain_tasks->data, NULL);
      return;
    }
  if (delivering || still == 0)
    return;   /* later: after this delivery, or once the signals went out */
  for (GList *l = self->drain_tasks; l != NULL;)
    {
      GTask *task = l->data;
      DrainData *dd = g_task_get_task_data (task);

      l = l->next;
      if (dd->gave_up == GAVE_UP_CANCELLABLE)
        drain_settle (self, task,
                      g_error_new (G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                   "The wait for running jobs was cut short: %u job functions "
                                   "are still running; they have been cancelled", still));
      else if (dd->gave_up == GAVE_UP_TIMER)
        drain_settle (self, task,
                      g_error_new (JUPITER_JOB_ERROR, JUPITER_JOB_ERROR_TIMED_OUT,
                                   "%u job functions were still running after the grace period; "
                                   "they have been cancelled", still));
    }
}

/* The grace period is over, or the caller gave up waiting: cancel what
 * still runs, deliver what happened, and report. */
static void
drain_give_up (GTask   *task,
               gboolean by_cancellable)
{
  JupiterJobManager *self = g_task_get_source_object (task);
  DrainData *dd = g_task_get_task_data (task);
  g_autoptr(GTask) hold = NULL;

  /* Settled already, or given up already. */
  if (g_list_find (self->drain_tasks, task) == NULL || dd->gave_up != 0)
    return;
  /* Neither of the task's sources may fire again while the handlers run
   * below; the list's reference could go meanwhile. */
  hold = g_object_ref (task);
  dd->gave_up = by_cancellable ? GAVE_UP_CANCELLABLE : GAVE_UP_TIMER;
  if (dd->timer)
    g_source_destroy (dd->timer);
  if (dd->cancelled)
    g_source_destroy (dd->cancelled);

  begin_shutdown (self, TRUE);
  deliver_all (self);
  drain_check (self);
}

static gboolean
drain_timer_cb (gpointer data)
{
  drain_give_up (data, FALSE);
  return G_SOURCE_REMOVE;
}

static gboolean
drain_cancelled_cb (GCancellable *cancellable,
                    gpointer      data)
{
  drain_give_up (data, TRUE);
  return G_SOURCE_REMOVE;
}

/**
 * jupiter_job_manager_shutdown_async:
 * @self: a #JupiterJobManager
 * @grace: how long running jobs may take to finish, in microseconds
 * @cancellable: (nullable): cancelling it ends the grace period at once
 * @callback: (scope async): called when no job function runs any more, or
 *   when the grace period is over
 * @user_data: data for @callback
 *
 * The asynchronous form of jupiter_job_manager_shutdown(), for programs
 * that keep their main loop running meanwhile (to hear a second signal,
 * say): stops accepting jobs and cancels every pending job at once, then
 * waits, as a source on the manager's context, until every running job's
 * function has returned and its signals went out. When @grace passes or
 * @cancellable is cancelled first, the jobs still running have their
 * cancellables triggered and the wait ends. Call it from the thread that
 * runs the manager's context; it may be called again (with a shorter grace,
 * say) after an earlier call has finished.
 *
 * Since: 0.1
 */
void
jupiter_job_manager_shutdown_async (JupiterJobManager  *self,
                                    GTimeSpan           grace,
                                    GCancellable       *cancellable,
                                    GAsyncReadyCallback callback,
                                    gpointer            user_data)
{
  g_autoptr(GTask) task = NULL;
  DrainData *dd;

  g_return_if_fail (JUPITER_IS_JOB_MANAGER (self));
  g_return_if_fail (grace >= 0);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  /* The task list and the sources below belong to the owner context. */
  if (!g_main_context_acquire (self->core->context))
    {
      g_critical ("JupiterJobManager %p: shutdown_async() needs the manager's main context, "
                  "which another thread owns", (void *) self);
      g_task_report_new_error (self, callback, user_data, jupiter_job_manager_shutdown_async,
                               G_IO_ERROR, G_IO_ERROR_FAILED,
                               "The job manager's main context is owned by another thread");
      return;
    }
  g_main_context_release (self->core->context);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, jupiter_job_manager_shutdown_async);
  /* Cancellation ends the wait with its own report, below. */
  g_task_set_check_cancellable (task, FALSE);
  dd = g_new0 (DrainData, 1);
  g_task_set_task_data (task, dd, drain_data_free);

  begin_shutdown (self, FALSE);
  self->drain_tasks = g_list_append (self->drain_tasks, g_object_ref (task));

  /* A grace too long for a timer means no deadline at all. */
  if (grace / 1000 < G_MAXUINT)
    {
      dd->timer = g_timeout_source_new ((guint) (grace / 1000));
      g_source_set_static_name (dd->timer, "[jupiter] shutdown grace");
      g_source_set_callback (dd->timer, drain_timer_cb, task, NULL);
      g_source_attach (dd->timer, self->core->context);
    }
  if (cancellable)
    {
      dd->cancelled = g_cancellable_source_new (cancellable);
      g_source_set_static_name (dd->cancelled, "[jupiter] shutdown cut short");
      g_source_set_callback (dd->cancelled, G_SOURCE_FUNC (drain_cancelled_cb), task, NULL);
      g_source_attach (dd->cancelled, self->core->context);
    }
  drain_check (self);
}

/**
 * jupiter_job_manager_shutdown_finish:
 * @self: a #JupiterJobManager
 * @result: the #GAsyncResult
 * @error: return location for a #GError
 *
 * Finishes jupiter_job_manager_shutdown_async().
 *
 * Returns: %TRUE if no job function is still running; %FALSE with
 *   %JUPITER_JOB_ERROR_TIMED_OUT (the grace period passed) or
 *   %G_IO_ERROR_CANCELLED (the wait was cut short) naming how many still
 *   run — they have been cancelled
 *
 * Since: 0.1
 */
gboolean
jupiter_job_manager_shutdown_finish (JupiterJobManager *self,
                                     GAsyncResult      *result,
                                     GError           **error)
{
  g_return_val_if_fail (JUPITER_IS_JOB_MANAGER (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == jupiter_job_manager_shutdown_async, FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * jupiter_job_manager_get_n_running_functions:
 * @self: a #JupiterJobManager
 *
 * Counts the job functions that are running now, overdue ones (past their
 * timeout, already recorded as failed) included: the threads and async
 * jobs still inside job code. Any thread.
 *
 * Returns: the number of job functions running
 *
 * Since: 0.1
 */
guint
jupiter_job_manager_get_n_running_functions (JupiterJobManager *self)
{
  guint n;

  g_return_val_if_fail (JUPITER_IS_JOB_MANAGER (self), 0);

  core_lock (self->core);
  n = self->core->slots_used;
  core_unlock (self->core);
  return n;
}

/**
 * jupiter_job_manager_is_shutting_down:
 * @self: a #JupiterJobManager
 *
 * Returns: %TRUE once jupiter_job_manager_shutdown() was called
 */
gboolean
jupiter_job_manager_is_shutting_down (JupiterJobManager *self)
{
  gboolean ret;

  g_return_val_if_fail (JUPITER_IS_JOB_MANAGER (self), FALSE);

  core_lock (self->core);
  ret = self->core->shutting_down;
  core_unlock (self->core);
  return ret;
}

/**
 * jupiter_job_manager_set_plugin_max_concurrent:
 * @self: a #JupiterJobManager
 * @plugin_id: a plugin id
 * @max_concurrent: the most jobs of @plugin_id that run at once; 0 returns
 *   to #JupiterJobManager:max-concurrent-per-plugin
 *
 * Sets one plugin's concurrency cap.
 */
void
jupiter_job_manager_set_plugin_max_concurrent (JupiterJobManager *self,
                                               const char        *plugin_id,
                                               guint              max_concurrent)
{
  ManagerCore *core;
  const char *id;
  PluginQueue *q;
  Deferred d = { 0 };

  g_return_if_fail (JUPITER_IS_JOB_MANAGER (self));
  g_return_if_fail (plugin_id != NULL && *plugin_id != '\0');

  core = self->core;
  id = g_intern_string (plugin_id);
  core_lock (core);
  q = queue_for_locked (core, id);
  q->max_concurrent = max_concurrent;
  ring_add_locked (core, q);
  dispatch_locked (core, NULL, &d);
  core_unlock (core);
  deferred_run (&d);
}

/**
 * jupiter_job_manager_get_context:
 * @self: a #JupiterJobManager
 *
 * Returns: (transfer none): the main context the manager belongs to, where
 *   its signals are emitted
 */
GMainContext *
jupiter_job_manager_get_context (JupiterJobManager *self)
{
  g_return_val_if_fail (JUPITER_IS_JOB_MANAGER (self), NULL);
  return self->core->context;
}

#define LOCKED_GETTER(type, name, field)                                       \
  type                                                                         \
  jupiter_job_manager_get_##name (JupiterJobManager *self)                     \
  {                                                                            \
    type v;                                                                    \
    g_return_val_if_fail (JUPITER_IS_JOB_MANAGER (self), 0);                   \
    core_lock (self->core);                                          \
    v = self->core->field;                                                     \
    core_unlock (self->core);                                        \
    return v;                                                                  \
  }

/**
 * jupiter_job_manager_get_max_concurrent:
 * @self: a #JupiterJobManager
 *
 * Returns: #JupiterJobManager:max-concurrent
 */
LOCKED_GETTER (guint, max_concurrent, max_concurrent)

/**
 * jupiter_job_manager_get_max_concurrent_per_plugin:
 * @self: a #JupiterJobManager
 *
 * Returns: #JupiterJobManager:max-concurrent-per-plugin
 */
LOCKED_GETTER (guint, max_concurrent_per_plugin, max_per_plugin)

/**
 * jupiter_job_manager_get_max_pending:
 * @self: a #JupiterJobManager
 *
 * Returns: #JupiterJobManager:max-pending
 */
LOCKED_GETTER (guint, max_pending, max_pending)

/**
 * jupiter_job_manager_get_history_limit:
 * @self: a #JupiterJobManager
 *
 * Returns: #JupiterJobManager:history-limit
 */
LOCKED_GETTER (guint, history_limit, history_limit)

/**
 * jupiter_job_manager_get_default_timeout:
 * @self: a #JupiterJobManager
 *
 * Returns: #JupiterJobManager:default-timeout
 */
LOCKED_GETTER (GTimeSpan, default_timeout, default_timeout)

/* Sets a guint field under the lock, dispatches if asked, notifies. */
static void
set_uint_field (JupiterJobManager *self,
                guint             *field,
                guint              value,
                guint              prop_id)
{
  ManagerCore *core = self->core;
  Deferred d = { 0 };
  gboolean changed;

  core_lock (core);
  changed = *field != value;
  *field = value;
  if (changed)
    {
      GHashTableIter iter;
      gpointer q;

      if (field == &core->max_concurrent && core->pool)
        g_thread_pool_set_max_threads (core->pool, (int) value, NULL);
      if (field == &core->history_limit)
        history_prune_locked (core, &d);
      /* Raised caps may let queued jobs start. */
      g_hash_table_iter_init (&iter, core->queues);
      while (g_hash_table_iter_next (&iter, NULL, &q))
        ring_add_locked (core, q);
      ring_add_locked (core, core->default_queue);
      dispatch_locked (core, NULL, &d);
    }
  core_unlock (core);
  deferred_run (&d);

  if (changed)
    g_object_notify_by_pspec (G_OBJECT (self), properties[prop_id]);
}

/**
 * jupiter_job_manager_set_max_concurrent:
 * @self: a #JupiterJobManager
 * @max_concurrent: at least 1
 *
 * Sets #JupiterJobManager:max-concurrent. Lowering it stops new starts
 * until enough running jobs finish; it never interrupts one.
 */
void
jupiter_job_manager_set_max_concurrent (JupiterJobManager *self,
                                        guint              max_concurrent)
{
  g_return_if_fail (JUPITER_IS_JOB_MANAGER (self));
  g_return_if_fail (max_concurrent >= 1);

  set_uint_field (self, &self->core->max_concurrent, max_concurrent, PROP_MAX_CONCURRENT);
}

/**
 * jupiter_job_manager_set_max_concurrent_per_plugin:
 * @self: a #JupiterJobManager
 * @max_concurrent: the cap, or 0 for none
 *
 * Sets #JupiterJobManager:max-concurrent-per-plugin.
 */
void
jupiter_job_manager_set_max_concurrent_per_plugin (JupiterJobManager *self,
                                                   guint              max_concurrent)
{
  g_return_if_fail (JUPITER_IS_JOB_MANAGER (self));

  set_uint_field (self, &self->core->max_per_plugin, max_concurrent,
                  PROP_MAX_CONCURRENT_PER_PLUGIN);
}

/**
 * jupiter_job_manager_set_max_pending:
 * @self: a #JupiterJobManager
 * @max_pending: the most queued jobs
 *
 * Sets #JupiterJobManager:max-pending. Jobs already queued stay queued.
 */
void
jupiter_job_manager_set_max_pending (JupiterJobManager *self,
                                     guint              max_pending)
{
  g_return_if_fail (JUPITER_IS_JOB_MANAGER (self));

  set_uint_field (self, &self->core->max_pending, max_pending, PROP_MAX_PENDING);
}

/**
 * jupiter_job_manager_set_history_limit:
 * @self: a #JupiterJobManager
 * @history_limit: the most finished jobs kept
 *
 * Sets #JupiterJobManager:history-limit, pruning at once if needed.
 */
void
jupiter_job_manager_set_history_limit (JupiterJobManager *self,
                                       guint              history_limit)
{
  g_return_if_fail (JUPITER_IS_JOB_MANAGER (self));

  set_uint_field (self, &self->core->history_limit, history_limit, PROP_HISTORY_LIMIT);
}

/**
 * jupiter_job_manager_set_default_timeout:
 * @self: a #JupiterJobManager
 * @timeout: microseconds, or 0 for none
 *
 * Sets #JupiterJobManager:default-timeout for jobs submitted from now on.
 */
void
jupiter_job_manager_set_default_timeout (JupiterJobManager *self,
                                         GTimeSpan          timeout)
{
  gboolean changed;

  g_return_if_fail (JUPITER_IS_JOB_MANAGER (self));
  g_return_if_fail (timeout >= 0);

  core_lock (self->core);
  changed = self->core->default_timeout != timeout;
  self->core->default_timeout = timeout;
  core_unlock (self->core);

  if (changed)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_DEFAULT_TIMEOUT]);
}

/* ------------------------------------------------------------------------ */
/* Circuit breakers                                                          */

/**
 * jupiter_job_manager_get_circuit_breaker_registry:
 * @self: a #JupiterJobManager
 *
 * The registry of the breakers that guard this manager's plugins. Create a
 * plugin's breaker there with jupiter_circuit_breaker_registry_get_or_create()
 * before its first job to give it thresholds of its own.
 *
 * Returns: (transfer none): the registry
 */
JupiterCircuitBreakerRegistry *
jupiter_job_manager_get_circuit_breaker_registry (JupiterJobManager *self)
{
  g_return_val_if_fail (JUPITER_IS_JOB_MANAGER (self), NULL);
  return self->core->breakers;
}

/**
 * jupiter_job_manager_get_circuit_breaker:
 * @self: a #JupiterJobManager
 * @plugin_id: a plugin id
 *
 * Returns: (transfer none) (nullable): the breaker of @plugin_id, or %NULL
 *   if no job of that plugin was guarded yet
 */
JupiterCircuitBreaker *
jupiter_job_manager_get_circuit_breaker (JupiterJobManager *self,
                                         const char        *plugin_id)
{
  g_return_val_if_fail (JUPITER_IS_JOB_MANAGER (self), NULL);
  g_return_val_if_fail (plugin_id != NULL, NULL);
  return jupiter_circuit_breaker_registry_get (self->core->breakers, plugin_id);
}

/**
 * jupiter_job_manager_get_circuit_breaker_state:
 * @self: a #JupiterJobManager
 * @plugin_id: a plugin id
 *
 * Returns: the state of @plugin_id's breaker; %JUPITER_CIRCUIT_STATE_CLOSED
 *   if it has none
 */
JupiterCircuitState
jupiter_job_manager_get_circuit_breaker_state (JupiterJobManager *self,
                                               const char        *plugin_id)
{
  JupiterCircuitBreaker *breaker;

  g_return_val_if_fail (JUPITER_IS_JOB_MANAGER (self), JUPITER_CIRCUIT_STATE_CLOSED);
  g_return_val_if_fail (plugin_id != NULL, JUPITER_CIRCUIT_STATE_CLOSED);

  breaker = jupiter_circuit_breaker_registry_get (self->core->breakers, plugin_id);
  return breaker ? jupiter_circuit_breaker_get_state (breaker) : JUPITER_CIRCUIT_STATE_CLOSED;
}

/**
 * jupiter_job_manager_is_circuit_open:
 * @self: a #JupiterJobManager
 * @plugin_id: a plugin id
 *
 * Returns: %TRUE if @plugin_id's breaker is OPEN (its jobs are refused)
 */
gboolean
jupiter_job_manager_is_circuit_open (JupiterJobManager *self,
                                     const char        *plugin_id)
{
  return jupiter_job_manager_get_circuit_breaker_state (self, plugin_id) == JUPITER_CIRCUIT_STATE_OPEN;
}

/* After a breaker of ours changed by hand, its queued jobs may run. */
static void
redispatch_plugin (JupiterJobManager *self,
                   const char        *plugin_id)
{
  ManagerCore *core = self->core;
  Deferred d = { 0 };
  PluginQueue *q;

  core_lock (core);
  q = plugin_id ? g_hash_table_lookup (core->queues, g_intern_string (plugin_id)) : NULL;
  if (q)
    ring_add_locked (core, q);
  else
    {
      GHashTableIter iter;
      gpointer value;

      g_hash_table_iter_init (&iter, core->queues);
      while (g_hash_table_iter_next (&iter, NULL, &value))
        ring_add_locked (core, value);
    }
  dispatch_locked (core, NULL, &d);
  core_unlock (core);
  deferred_run (&d);
}

/**
 * jupiter_job_manager_reset_circuit_breaker:
 * @self: a #JupiterJobManager
 * @plugin_id: a plugin id
 *
 * jupiter_circuit_breaker_reset() on @plugin_id's breaker; its queued jobs
 * may start at once.
 *
 * Returns: %TRUE if @plugin_id has a breaker
 */
gboolean
jupiter_job_manager_reset_circuit_breaker (JupiterJobManager *self,
                                           const char        *plugin_id)
{
  JupiterCircuitBreaker *breaker;

  g_return_val_if_fail (JUPITER_IS_JOB_MANAGER (self), FALSE);
  g_return_val_if_fail (plugin_id != NULL, FALSE);

  breaker = jupiter_circuit_breaker_registry_get (self->core->breakers, plugin_id);
  if (breaker == NULL)
    return FALSE;
  jupiter_circuit_breaker_reset (breaker);
  redispatch_plugin (self, plugin_id);
  return TRUE;
}

/**
 * jupiter_job_manager_reset_all_circuit_breakers:
 * @self: a #JupiterJobManager
 *
 * Resets every breaker.
 */
void
jupiter_job_manager_reset_all_circuit_breakers (JupiterJobManager *self)
{
  g_return_if_fail (JUPITER_IS_JOB_MANAGER (self));

  jupiter_circuit_breaker_registry_reset_all (self->core->breakers);
  redispatch_plugin (self, NULL);
}

/**
 * jupiter_job_manager_list_open_circuits:
 * @self: a #JupiterJobManager
 *
 * Returns: (transfer full) (array zero-terminated=1): the plugin ids whose
 *   breaker is OPEN, sorted
 */
GStrv
jupiter_job_manager_list_open_circuits (JupiterJobManager *self)
{
  g_autoptr(GPtrArray) open = NULL;
  GStrvBuilder *builder;
  GStrv ids;

  g_return_val_if_fail (JUPITER_IS_JOB_MANAGER (self), NULL);

  open = jupiter_circuit_breaker_registry_list_open (self->core->breakers);
  builder = g_strv_builder_new ();
  for (guint i = 0; i < open->len; i++)
    g_strv_builder_add (builder, jupiter_circuit_breaker_get_plugin_id (open->pdata[i]));
  ids = g_strv_builder_end (builder);
  g_strv_builder_unref (builder);
  return ids;
}

/**
 * jupiter_job_manager_get_circuit_breaker_stats:
 * @self: a #JupiterJobManager
 * @stats: (out caller-allocates): where to store the counters
 *
 * jupiter_circuit_breaker_registry_get_stats() on the manager's registry.
 */
void
jupiter_job_manager_get_circuit_breaker_stats (JupiterJobManager          *self,
                                               JupiterCircuitBreakerStats *stats)
{
  g_return_if_fail (JUPITER_IS_JOB_MANAGER (self));
  jupiter_circuit_breaker_registry_get_stats (self->core->breakers, stats);
}

/**
 * jupiter_job_manager_get_all_circuit_breakers:
 * @self: a #JupiterJobManager
 *
 * Returns: (transfer full) (element-type JupiterCircuitBreaker): every
 *   breaker, by plugin id
 */
GPtrArray *
jupiter_job_manager_get_all_circuit_breakers (JupiterJobManager *self)
{
  g_return_val_if_fail (JUPITER_IS_JOB_MANAGER (self), NULL);
  return jupiter_circuit_breaker_registry_list (self->core->breakers);
}

/* ------------------------------------------------------------------------ */
/* Export                                                                    */

static JupiterExportHook export_test_hook;

void
jupiter_export_set_test_hook (JupiterExportHook hook)
{
  export_test_hook = hook;
}

/**
 * jupiter_job_manager_export_job:
 * @self: a #JupiterJobManager
 * @job_id: a job id
 * @error: return location for a #GError
 *
 * The job's full data, as jupiter_job_to_json() with its result.
 *
 * Returns: (transfer full): a new JSON object node, or %NULL with
 *   %JUPITER_JOB_ERROR_NOT_FOUND
 */
JsonNode *
jupiter_job_manager_export_job (JupiterJobManager *self,
                                const char        *job_id,
                                GError           **error)
{
  g_autoptr(JupiterJob) job = NULL;

  g_return_val_if_fail (JUPITER_IS_JOB_MANAGER (self), NULL);
  g_return_val_if_fail (job_id != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  job = jupiter_job_manager_get (self, job_id, error);
  return job ? jupiter_job_to_json (job, TRUE) : NULL;
}

typedef struct {
  JupiterExportFormat format;
  GPtrArray          *jobs;
  JupiterJobStatus    status;
  const char         *plugin_id;
  gboolean            include_results;
  gboolean            single;      /* one job, not a document */
} ExportBody;

static void
export_body (Out     *out,
             gpointer data)
{
  ExportBody *b = data;

  if (!b->single)
    {
      jupiter_export_write_document (out, b->format, b->jobs, b->status, b->plugin_id,
                                     b->include_results, export_test_hook);
      return;
    }

  /* One job: its object alone, in either format. */
  jupiter_export_write_single (out, b->format, b->jobs->pdata[0]);
}

/**
 * jupiter_job_manager_export_job_to_file:
 * @self: a #JupiterJobManager
 * @job_id: a job id
 * @path: (type filename): the file to write
 * @format: the format, or %JUPITER_EXPORT_FORMAT_AUTO to take it from
 *   @path's extension
 * @error: return location for a #GError
 *
 * Writes one job's full data (jupiter_job_manager_export_job()) to @path,
 * atomically, as jupiter_job_manager_export_jobs() does.
 *
 * Returns: %TRUE on success; %FALSE with %JUPITER_JOB_ERROR_NOT_FOUND or a
 *   %JUPITER_EXPORT_ERROR
 */
gboolean
jupiter_job_manager_export_job_to_file (JupiterJobManager   *self,
                                        const char          *job_id,
                                        const char          *path,
                                        JupiterExportFormat  format,
                                        GError             **error)
{
  g_autoptr(JupiterJob) job = NULL;
  g_autoptr(GPtrArray) jobs = NULL;
  ExportBody body = { 0 };

  g_return_val_if_fail (JUPITER_IS_JOB_MANAGER (self), FALSE);
  g_return_val_if_fail (job_id != NULL, FALSE);
  g_return_val_if_fail (path != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  format = jupiter_export_format_for_path (path, format, error);
  if (format == JUPITER_EXPORT_FORMAT_AUTO)
    return FALSE;
  job = jupiter_job_manager_get (self, job_id, error);
  if (job == NULL)
    return FALSE;

  jobs = g_ptr_array_new ();
  g_ptr_array_add (jobs, job);
  body = (ExportBody) { format, jobs, JUPITER_JOB_STATUS_ANY, NULL, TRUE, TRUE };
  return jupiter_export_write_file (path, export_body, &body, error);
}


/**
 * jupiter_job_manager_export_jobs:
 * @self: a #JupiterJobManager
 * @path: (type filename): the file to write
 * @status: only jobs in this state, or %JUPITER_JOB_STATUS_ANY
 * @plugin_id: (nullable): only jobs of this plugin id, or %NULL for all
 * @format: the format, or %JUPITER_EXPORT_FORMAT_AUTO to take it from
 *   @path's extension (`.json`, `.yaml`, `.yml`)
 * @include_results: whether jobs carry their `result` member
 * @error: return location for a #GError
 *
 * Writes the matching jobs, oldest first, as one document:
 * `exported_at` (ISO-8601 UTC), `total_jobs`, `filters` (`status`,
 * `plugin_id`, `include_results`) and `jobs`, each job the field table of
 * jupiter_job_to_json().
 *
 * The jobs are taken at one moment, as references to their immutable
 * records (no copy of the history), and written job by job without holding
 * the manager's lock, so jobs go on running meanwhile.
 *
 * The file is replaced atomically: the document is written to a temporary
 * file in the same directory, synced, and renamed over @path, so a reader
 * or a crash sees the old file or the new one, whole. Missing directories
 * are created; a symbolic link at @path is replaced, not followed; the new
 * file keeps the old one's mode, or gets 0644. Numbers are written so that
 * JSON and YAML 1.1/1.2 readers read back the same values (NaN and
 * infinities, which JSON cannot hold, become null).
 *
 * Returns: %TRUE on success; %FALSE with a %JUPITER_EXPORT_ERROR naming
 *   @path, the previous file left whole
 */
gboolean
jupiter_job_manager_export_jobs (JupiterJobManager   *self,
                                 const char          *path,
                                 JupiterJobStatus     status,
                                 const char          *plugin_id,
                                 JupiterExportFormat  format,
                                 gboolean             include_results,
                                 GError             **error)
{
  g_autoptr(GPtrArray) jobs = NULL;
  ExportBody body;

  g_return_val_if_fail (JUPITER_IS_JOB_MANAGER (self), FALSE);
  g_return_val_if_fail (path != NULL, FALSE);
  g_return_val_if_fail (status == JUPITER_JOB_STATUS_ANY ||
                        (guint) status <= JUPITER_JOB_STATUS_CANCELLED, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  format = jupiter_export_format_for_path (path, format, error);
  if (format == JUPITER_EXPORT_FORMAT_AUTO)
    return FALSE;

  /* References to the records as they are now (finished ones are their own
   * snapshots), then sorted and written without the lock. */
  jobs = jupiter_job_manager_list (self, status, plugin_id, 0);
  for (guint i = 0, j = jobs->len; i + 1 < j; i++, j--)
    {
      gpointer tmp = jobs->pdata[i];              /* newest first -> oldest first */
      jobs->pdata[i] = jobs->pdata[j - 1];
      jobs->pdata[j - 1] = tmp;
    }

  body = (ExportBody) { format, jobs, status, plugin_id, include_results, FALSE };
  return jupiter_export_write_file (path, export_body, &body, error);
}
