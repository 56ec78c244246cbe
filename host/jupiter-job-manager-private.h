/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <jupiter/jupiter.h>

G_BEGIN_DECLS

typedef struct _ManagerCore ManagerCore;
typedef struct _JobRecord   JobRecord;
typedef struct _PluginQueue PluginQueue;

typedef enum {
  PHASE_QUEUED,     /* in its plugin's queue */
  PHASE_STARTING,   /* holds a slot; handed to the pool or the async start list */
  PHASE_RUNNING,    /* its function runs (status RUNNING) */
  PHASE_DONE,       /* terminal state recorded; an overdue function may still run */
} RecordPhase;

typedef enum {
  EVENT_STARTED  = 1 << 0,
  EVENT_PROGRESS = 1 << 1,
} EventFlags;

/* One plugin id's queue. Owned by the core, alive as long as it. */
struct _PluginQueue
{
  const char *plugin_id;        /* g_intern_string(); NULL for jobs without a plugin */
  JupiterCircuitBreaker *breaker; /* lazily set, owned by the registry; NULL if unguarded */
  GQuark      detail;           /* signal detail */
  /* guarded by core->lock: */
  GQueue      pending;          /* of JobRecord, linked through JobRecord.link */
  guint       running;          /* slots held by this plugin's jobs */
  guint       max_concurrent;   /* 0: the manager's per-plugin default */
  gboolean    in_ring;
};

/* The mutable side of a pending or running job, and its JupiterJobContext.
 * Reference counted: the live table, the queue/dispatch path, the
 * notification queue and the context each hold one. The last reference is
 * never dropped under core->lock (it may run the user's destroy notifier). */
struct _JobRecord
{
  JupiterJobContext   parent;          /* must stay first: the SDK's view */
  gatomicrefcount     ref_count;
  gint                ctx_refs;        /* atomic: references through the context API */
  gint                cancel_flag;     /* atomic: cancelled or timed out */
  gint                data_gate;       /* atomic: async, user data released at 0 */
  ManagerCore        *core;            /* strong */

  /* Immutable after submission. */
  JupiterJob         *base;            /* identity; also the PENDING snapshot */
  JupiterJob         *running;         /* the RUNNING snapshot, set once at start */
  PluginQueue        *queue;
  JsonNode           *args;
  JupiterJobFunc      func;
  JupiterJobAsyncFunc async_func;
  gpointer            user_data;       /* released once, outside the lock */
  GDestroyNotify      user_data_free;
  GTimeSpan           timeout;         /* 0: none */
  JupiterCircuitBreaker *breaker;      /* the plugin's breaker, or NULL (unguarded) */
  gboolean            bypass;          /* JUPITER_JOB_FLAGS_BYPASS_CIRCUIT_BREAKER */

  /* Guarded by core->lock. */
  JupiterCircuitPermit permit;         /* taken at dispatch, completed at the end */
  RecordPhase         phase;
  gboolean            holds_slot;
  gboolean            cancel_requested;
  gboolean            returned;        /* async: one return was made */
  gboolean            overdue;         /* timed out, function still running */
  GCancellable       *cancellable;     /* created on first use */
  gint64              started_at;      /* wall clock */
  gint64              started_mono;
  gint64              deadline;        /* monotonic */
  GSequenceIter      *deadline_iter;
  double              progress;
  char               *message;
  GList               link;            /* in the plugin queue or the start list */

  /* The pending notification, merged; guarded by core->lock. */
  gboolean            in_ev_queue;
  guint               ev_flags;
  double              ev_progress;
  char               *ev_message;
  JupiterJob         *ev_terminal;
  JobRecord          *ev_next;
};

typedef struct {
  GTask        *task;
  GCancellable *cancellable;
  gulong        handler;
  guint64       serial;
} Waiter;

typedef struct {
  GSource            source;
  JupiterJobManager *manager;   /* owner thread only; NULL once disposed */
} ManagerSource;

struct _ManagerCore
{
  gatomicrefcount  ref_count;
  GMainContext    *context;       /* the owner context; immutable */
  GThreadPool     *pool;          /* runs synchronous jobs; immutable */
  JupiterCircuitBreakerRegistry *breakers; /* immutable once constructed */
  gint             breakers_enabled;       /* atomic */

  GMutex           lock;          /* guards everything below */
  GCond            timer_cond;    /* wakes the timer thread */

  GSource         *source_ref;    /* a reference to it, immutable; wakeups go here */
  GSource         *source;        /* notification source; NULL once disposed */
  gboolean         armed;         /* a wakeup was made or is owed */
  gboolean         wake_owed;     /* core_unlock() must wake the source */
  gboolean         delivering;    /* the owner thread is in deliver_batch() */
  guint            iterating;     /* wait(), wait_idle(), shutdown() running */
  gboolean         wake_context_owed; /* core_unlock() must wake the context */
  gboolean         shutting_down;

  /* settings */
  guint            max_concurrent;
  guint            max_per_plugin;
  guint            max_pending;
  guint            history_limit;
  GTimeSpan        default_timeout;

  /* jobs */
  GHashTable      *live;          /* id -> JobRecord (owns a reference) */
  GHashTable      *finished;      /* JupiterJob set, keyed by its id; owns the jobs */
  JupiterJob      *hist_head;     /* finished jobs, oldest first */
  JupiterJob      *hist_tail;
  guint            hist_len;
  guint64          seq;

  /* scheduling */
  GHashTable      *queues;        /* interned plugin id -> PluginQueue */
  PluginQueue     *default_queue; /* jobs without a plugin id */
  GQueue           ring;          /* PluginQueues that may be dispatchable */
  GQueue           to_start;      /* async jobs to start on the owner context */
  guint            slots_used;
  gboolean         lingering;     /* a runner spins for work (at most one) */
  gboolean         linger_claimed;/* work was left for it */
  gint             work_ready;    /* atomic: tells the spinning runner */

  /* deadlines */
  GSequence       *deadlines;     /* of JobRecord, by deadline */
  GThread         *timer_thread;
  gboolean         timer_stop;

  /* notifications */
  JobRecord       *ev_head;
  JobRecord       *ev_tail;
  guint            n_events;

  /* waiters: job id (owned) -> GSList of Waiter */
  GHashTable      *waiters;
  guint64          waiter_serial;

  /* counters */
  guint            n_pending;     /* QUEUED and STARTING */
  guint            n_queued;      /* QUEUED only: what max-pending bounds */
  guint            n_running;
  guint            n_completed;   /* in the history */
  guint            n_failed;
  guint            n_cancelled;
  guint            n_overdue;
  guint64          submitted;
  guint64          rejected;
  guint64          timed_out;
  guint64          total_completed;
  guint64          total_failed;
  guint64          total_cancelled;
  guint64          pruned;
};

const JupiterHostFuncs *jupiter_job_manager_get_host_funcs (void);
void                    jupiter_job_manager_retire         (JupiterJobManager *self);
void                    jupiter_job_manager_flush_notifications (JupiterJobManager *self);

G_END_DECLS
