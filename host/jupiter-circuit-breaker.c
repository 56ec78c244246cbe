/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "config.h"

#include "jupiter-circuit-breaker-private.h"

/**
 * JupiterCircuitBreaker:
 *
 * Guards one plugin id: after too many consecutive failures it refuses
 * calls for a cooldown, then lets a few trial calls decide whether the
 * plugin works again.
 *
 * 1. CLOSED: a success resets the count of consecutive failures; the
 *    #JupiterCircuitBreaker:failure-threshold-th consecutive failure opens
 *    the breaker.
 * 2. OPEN: nothing is permitted until #JupiterCircuitBreaker:cooldown has
 *    passed. The breaker is then HALF_OPEN: every check and getter sees it at
 *    once, and a timer on the owner context announces it with
 *    #JupiterCircuitBreaker::state-changed on time.
 * 3. HALF_OPEN: at most #JupiterCircuitBreaker:half-open-max-calls trial
 *    calls run at once; a failure reopens the breaker,
 *    #JupiterCircuitBreaker:success-threshold successes close it. A trial
 *    that outlives the cooldown frees its slot, so a lost trial can never
 *    wedge the breaker.
 * 4. Every transition, manual ones included, increments a generation; state
 *    and generation live in one atomic word. A #JupiterCircuitPermit carries
 *    the generation it was granted under, and an outcome from an older
 *    generation updates statistics only.
 *
 * jupiter_circuit_breaker_reset() returns to CLOSED and clears the counters
 * but keeps the lifetime statistics (total calls, failures, rejections and
 * openings).
 *
 * Times come from a #JupiterClock, the system's monotonic clock unless
 * another is given, so tests can move time by hand.
 *
 * ## Threads
 *
 * Every method is safe from any thread. A closed breaker's check and permit
 * are atomic operations only and read no clock; the other states take the
 * breaker's own lock. #JupiterCircuitBreaker::state-changed is emitted on
 * the thread-default main context of the thread that created the breaker,
 * once per transition and in order, never under the lock.
 *
 * Since: 0.1
 */

#define WORD_STATE(w)      ((JupiterCircuitState) ((guint) (w) & 3u))
#define WORD_GEN(w)        ((guint) (w) >> 2)
#define MAKE_WORD(s, g)    ((gint) ((((guint) (g)) << 2) | (guint) (s)))

#define PERMIT_NORMAL      (1u << 0)
#define PERMIT_TRIAL       (1u << 1)
#define PERMIT_BYPASS      (1u << 2)
#define PERMIT_DONE        (1u << 3)

#define DEFAULT_FAILURE_THRESHOLD   5
#define DEFAULT_COOLDOWN            (30 * G_TIME_SPAN_SECOND)

typedef struct {
  guint64 id;
  gint64  started;
} Trial;

typedef struct {
  JupiterCircuitState old_state;
  JupiterCircuitState new_state;
} Transition;

struct _JupiterCircuitBreaker
{
  GObject       parent_instance;

  const char   *plugin_id;          /* interned; immutable */
  JupiterClock *clock;              /* immutable */
  GMainContext *context;            /* owner; immutable */

  /* Lock-free: read and written with atomics. */
  gint          word;               /* state | generation << 2 */
  gint          consecutive_failures;
  gint          failure_threshold;
  gint          half_open_max_calls;
  gint          success_threshold;
  gint64        cooldown;
  gint64        opened_at;          /* written under lock */
  /* The statistics, written by every call, are kept off the cache line of
   * the state word that every check reads (measured: sharing it slows
   * permits from two threads). */
  char          pad[64];
  guint64       total_calls;
  guint64       total_failures;
  guint64       total_rejected;
  guint64       times_opened;

  GMutex        lock;               /* every transition; guards below */
  GArray       *trials;             /* of Trial, in HALF_OPEN */
  guint64       next_trial;
  guint         half_open_successes;
  GArray       *pending;            /* of Transition, to announce */
  GSource      *notify_source;      /* delivers @pending on @context */
  gboolean      notify_armed;
  gboolean      slots_freed;        /* a trial slot was freed: tell the watch */
  GSource      *timer;              /* the next OPEN expiry or trial expiry */
  gint64        timer_deadline;
  JupiterBreakerWatch watch;        /* private hook for the job manager */
  JupiterBreakerLink *watch_data;   /* owned reference */
};

enum {
  PROP_0,
  PROP_PLUGIN_ID,
  PROP_CLOCK,
  PROP_STATE,
  PROP_FAILURE_THRESHOLD,
  PROP_COOLDOWN,
  PROP_HALF_OPEN_MAX_CALLS,
  PROP_SUCCESS_THRESHOLD,
  PROP_CONSECUTIVE_FAILURES,
  PROP_TOTAL_CALLS,
  PROP_TOTAL_FAILURES,
  PROP_TOTAL_REJECTED,
  PROP_TIMES_OPENED,
  N_PROPS
};

enum {
  SIGNAL_STATE_CHANGED,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (JupiterCircuitBreaker, jupiter_circuit_breaker, G_TYPE_OBJECT)

static const char *const state_names[] = { "closed", "open", "half-open" };

/**
 * jupiter_circuit_state_to_string:
 * @state: a #JupiterCircuitState
 *
 * Returns: (transfer none): `closed`, `open` or `half-open`
 */
const char *
jupiter_circuit_state_to_string (JupiterCircuitState state)
{
  g_return_val_if_fail ((guint) state < G_N_ELEMENTS (state_names), NULL);
  return state_names[state];
}

static inline guint64
stat_add (guint64 *counter)
{
  return __atomic_add_fetch (counter, 1, __ATOMIC_RELAXED);
}

static inline guint64
stat_get (guint64 *counter)
{
  return __atomic_load_n (counter, __ATOMIC_RELAXED);
}

static inline gint64
now_of (JupiterCircuitBreaker *self)
{
  return jupiter_clock_get_time (self->clock);
}

/* ------------------------------------------------------------------------ */
/* Announcements and timers (the owner context)                              */

static gboolean
notify_dispatch (GSource    *source,
                 GSourceFunc callback,
                 gpointer    user_data)
{
  JupiterCircuitBreaker *self = g_weak_ref_get (&((BreakerSource *) source)->self);
  GArray *batch;
  JupiterBreakerWatch watch;
  JupiterBreakerLink *watch_data;
  gboolean slots_freed;

  g_source_set_ready_time (source, -1);
  if (self == NULL)
    return G_SOURCE_CONTINUE;

  g_mutex_lock (&self->lock);
  batch = g_steal_pointer (&self->pending);
  self->pending = g_array_new (FALSE, FALSE, sizeof (Transition));
  self->notify_armed = FALSE;
  slots_freed = self->slots_freed;
  self->slots_freed = FALSE;
  watch = self->watch;
  watch_data = self->watch_data ? jupiter_breaker_link_ref (self->watch_data) : NULL;
  g_mutex_unlock (&self->lock);

  for (guint i = 0; i < batch->len; i++)
    {
      Transition *t = &g_array_index (batch, Transition, i);
      g_signal_emit (self, signals[SIGNAL_STATE_CHANGED], 0, t->old_state, t->new_state);
    }
  if (batch->len > 0)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATE]);
  if ((batch->len > 0 || slots_freed) && watch)
    watch (self, watch_data);
  if (watch_data)
    jupiter_breaker_link_unref (watch_data);
  g_array_free (batch, TRUE);
  g_object_unref (self);
  return G_SOURCE_CONTINUE;
}

static void
notify_finalize (GSource *source)
{
  g_weak_ref_clear (&((BreakerSource *) source)->self);
}

static GSourceFuncs notify_source_funcs = {
  .dispatch = notify_dispatch,
  .finalize = notify_finalize,
};

static void
announce_locked (JupiterCircuitBreaker *self,
                 JupiterCircuitState    old_state,
                 JupiterCircuitState    new_state)
{
  Transition t = { old_state, new_state };

  g_array_append_val (self->pending, t);
  if (!self->notify_armed)
    {
      self->notify_armed = TRUE;
      g_source_set_ready_time (self->notify_source, 0);
    }
}

static gboolean timer_fired (gpointer data);
static void refresh_locked (JupiterCircuitBreaker *self, gint64 now);

/* The next moment something changes by itself: the end of the cooldown
 * (OPEN) or the expiry of the oldest trial (HALF_OPEN). */
static void
reschedule_locked (JupiterCircuitBreaker *self)
{
  gint w = g_atomic_int_get (&self->word);
  gint64 cooldown = __atomic_load_n (&self->cooldown, __ATOMIC_RELAXED);
  gint64 deadline = G_MAXINT64;
  GSource *timer;

  if (WORD_STATE (w) == JUPITER_CIRCUIT_STATE_OPEN)
    deadline = self->opened_at + cooldown;
  else if (WORD_STATE (w) == JUPITER_CIRCUIT_STATE_HALF_OPEN)
    for (guint i = 0; i < self->trials->len; i++)
      deadline = MIN (deadline, g_array_index (self->trials, Trial, i).started + cooldown);

  if (self->timer && self->timer_deadline == deadline)
    return;
  if (self->timer)
    {
      g_source_destroy (self->timer);
      g_clear_pointer (&self->timer, g_source_unref);
    }
  if (deadline == G_MAXINT64)
    return;

  timer = jupiter_clock_timeout_source_new (self->clock, deadline);
  g_source_set_callback (timer, timer_fired, breaker_weak_ref_new (self),
                         (GDestroyNotify) breaker_weak_ref_free);
  g_source_set_static_name (timer, "[jupiter] circuit breaker timer");
  g_source_attach (timer, self->context);
  self->timer = timer;
  self->timer_deadline = deadline;
}

/* ------------------------------------------------------------------------ */
/* Transitions; all under self->lock                                         */

static void
transition_locked (JupiterCircuitBreaker *self,
                   JupiterCircuitState    new_state,
                   gint64                 now)
{
  gint w = g_atomic_int_get (&self->word);
  JupiterCircuitState old_state = WORD_STATE (w);

  /* Published before the state, so whoever sees OPEN sees its time. */
  if (new_state == JUPITER_CIRCUIT_STATE_OPEN)
    __atomic_store_n (&self->opened_at, now, __ATOMIC_RELEASE);
  g_atomic_int_set (&self->word, MAKE_WORD (new_state, WORD_GEN (w) + 1));
  g_array_set_size (self->trials, 0);
  self->half_open_successes = 0;

  switch (new_state)
    {
    case JUPITER_CIRCUIT_STATE_OPEN:
      stat_add (&self->times_opened);
      break;
    case JUPITER_CIRCUIT_STATE_CLOSED:
      g_atomic_int_set (&self->consecutive_failures, 0);
      break;
    case JUPITER_CIRCUIT_STATE_HALF_OPEN:
    default:
      break;
    }

  if (old_state != new_state)
    announce_locked (self, old_state, new_state);
  reschedule_locked (self);
}

/* OPEN past its cooldown is HALF_OPEN, whoever looks first. */
static void
refresh_locked (JupiterCircuitBreaker *self,
                gint64                 now)
{
  gint w = g_atomic_int_get (&self->word);

  if (WORD_STATE (w) == JUPITER_CIRCUIT_STATE_OPEN &&
      now >= self->opened_at + __atomic_load_n (&self->cooldown, __ATOMIC_RELAXED))
    transition_locked (self, JUPITER_CIRCUIT_STATE_HALF_OPEN, now);
}

/* Frees the slots of trials older than the cooldown. Returns how many. */
static guint
expire_trials_locked (JupiterCircuitBreaker *self,
                      gint64                 now)
{
  gint64 cooldown = __atomic_load_n (&self->cooldown, __ATOMIC_RELAXED);
  guint expired = 0;

  for (guint i = 0; i < self->trials->len;)
    {
      if (now >= g_array_index (self->trials, Trial, i).started + cooldown)
        {
          g_array_remove_index_fast (self->trials, i);
          expired++;
        }
      else
        i++;
    }
  if (expired)
    {
      reschedule_locked (self);
      /* Whoever noticed it, waiting jobs may take the freed slots. */
      self->slots_freed = TRUE;
      if (!self->notify_armed)
        {
          self->notify_armed = TRUE;
          g_source_set_ready_time (self->notify_source, 0);
        }
    }
  return expired;
}

/* Brings a non-closed breaker up to date; returns its word. Lock-free when
 * the breaker is CLOSED, or OPEN within its cooldown. */
static gint
current_word (JupiterCircuitBreaker *self)
{
  gint w = g_atomic_int_get (&self->word);
  gint64 now;

  if (WORD_STATE (w) != JUPITER_CIRCUIT_STATE_OPEN)
    return w;

  now = now_of (self);
  if (now < __atomic_load_n (&self->opened_at, __ATOMIC_ACQUIRE) +
            __atomic_load_n (&self->cooldown, __ATOMIC_RELAXED))
    return w;

  g_mutex_lock (&self->lock);
  refresh_locked (self, now);
  w = g_atomic_int_get (&self->word);
  g_mutex_unlock (&self->lock);
  return w;
}

static gboolean
timer_fired (gpointer data)
{
  JupiterCircuitBreaker *self = g_weak_ref_get (data);
  JupiterBreakerWatch watch = NULL;
  JupiterBreakerLink *watch_data = NULL;
  guint expired;

  if (self == NULL)
    return G_SOURCE_REMOVE;

  g_mutex_lock (&self->lock);
  /* This source is finished (a newer one, made while it was dispatched,
   * stays); a new one is made if something is still due. */
  if (self->timer == g_main_current_source ())
    g_clear_pointer (&self->timer, g_source_unref);
  refresh_locked (self, now_of (self));
  expired = expire_trials_locked (self, now_of (self));
  reschedule_locked (self);
  if (expired && self->watch)
    {
      watch = self->watch;
      watch_data = jupiter_breaker_link_ref (self->watch_data);
    }
  g_mutex_unlock (&self->lock);

  /* A freed trial slot changes no state, so no signal announces it. */
  if (watch)
    {
      watch (self, watch_data);
      jupiter_breaker_link_unref (watch_data);
    }
  g_object_unref (self);
  return G_SOURCE_REMOVE;
}

/* ------------------------------------------------------------------------ */
/* GObject                                                                   */

static void
jupiter_circuit_breaker_dispose (GObject *object)
{
  JupiterCircuitBreaker *self = JUPITER_CIRCUIT_BREAKER (object);

  g_mutex_lock (&self->lock);
  if (self->timer)
    {
      g_source_destroy (self->timer);
      g_clear_pointer (&self->timer, g_source_unref);
    }
  g_mutex_unlock (&self->lock);
  if (self->notify_source)
    {
      g_source_destroy (self->notify_source);
      g_clear_pointer (&self->notify_source, g_source_unref);
    }

  G_OBJECT_CLASS (jupiter_circuit_breaker_parent_class)->dispose (object);
}

static void
jupiter_circuit_breaker_finalize (GObject *object)
{
  JupiterCircuitBreaker *self = JUPITER_CIRCUIT_BREAKER (object);

  g_array_free (self->trials, TRUE);
  g_array_free (self->pending, TRUE);
  g_clear_pointer (&self->watch_data, jupiter_breaker_link_unref);
  g_clear_object (&self->clock);
  g_main_context_unref (self->context);
  g_mutex_clear (&self->lock);

  G_OBJECT_CLASS (jupiter_circuit_breaker_parent_class)->finalize (object);
}

static void
jupiter_circuit_breaker_constructed (GObject *object)
{
  JupiterCircuitBreaker *self = JUPITER_CIRCUIT_BREAKER (object);

  G_OBJECT_CLASS (jupiter_circuit_breaker_parent_class)->constructed (object);

  if (self->clock == NULL)
    self->clock = g_object_ref (jupiter_clock_get_system ());

  self->notify_source = g_source_new (&notify_source_funcs, sizeof (BreakerSource));
  g_weak_ref_init (&((BreakerSource *) self->notify_source)->self, self);
  g_source_set_static_name (self->notify_source, "[jupiter] circuit breaker state");
  g_source_attach (self->notify_source, self->context);
}

/* For the registry, right after construction and before the breaker is
 * shared: the breaker belongs to the registry's context, whichever thread
 * created it. */
void
jupiter_circuit_breaker_set_context (JupiterCircuitBreaker *self,
                                     GMainContext          *context)
{
  if (context == self->context)
    return;
  g_main_context_unref (self->context);
  self->context = g_main_context_ref (context);
  g_source_destroy (self->notify_source);
  g_source_unref (self->notify_source);
  self->notify_source = g_source_new (&notify_source_funcs, sizeof (BreakerSource));
  g_weak_ref_init (&((BreakerSource *) self->notify_source)->self, self);
  g_source_set_static_name (self->notify_source, "[jupiter] circuit breaker state");
  g_source_attach (self->notify_source, self->context);
}

static void
jupiter_circuit_breaker_get_property (GObject    *object,
                                      guint       prop_id,
                                      GValue     *value,
                                      GParamSpec *pspec)
{
  JupiterCircuitBreaker *self = JUPITER_CIRCUIT_BREAKER (object);

  switch (prop_id)
    {
    case PROP_PLUGIN_ID:
      g_value_set_string (value, self->plugin_id);
      break;
    case PROP_CLOCK:
      g_value_set_object (value, self->clock);
      break;
    case PROP_STATE:
      g_value_set_enum (value, jupiter_circuit_breaker_get_state (self));
      break;
    case PROP_FAILURE_THRESHOLD:
      g_value_set_uint (value, jupiter_circuit_breaker_get_failure_threshold (self));
      break;
    case PROP_COOLDOWN:
      g_value_set_int64 (value, jupiter_circuit_breaker_get_cooldown (self));
      break;
    case PROP_HALF_OPEN_MAX_CALLS:
      g_value_set_uint (value, jupiter_circuit_breaker_get_half_open_max_calls (self));
      break;
    case PROP_SUCCESS_THRESHOLD:
      g_value_set_uint (value, jupiter_circuit_breaker_get_success_threshold (self));
      break;
    case PROP_CONSECUTIVE_FAILURES:
      g_value_set_uint (value, jupiter_circuit_breaker_get_consecutive_failures (self));
      break;
    case PROP_TOTAL_CALLS:
      g_value_set_uint64 (value, jupiter_circuit_breaker_get_total_calls (self));
      break;
    case PROP_TOTAL_FAILURES:
      g_value_set_uint64 (value, jupiter_circuit_breaker_get_total_failures (self));
      break;
    case PROP_TOTAL_REJECTED:
      g_value_set_uint64 (value, jupiter_circuit_breaker_get_total_rejected (self));
      break;
    case PROP_TIMES_OPENED:
      g_value_set_uint64 (value, jupiter_circuit_breaker_get_times_opened (self));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
jupiter_circuit_breaker_set_property (GObject      *object,
                                      guint         prop_id,
                                      const GValue *value,
                                      GParamSpec   *pspec)
{
  JupiterCircuitBreaker *self = JUPITER_CIRCUIT_BREAKER (object);

  switch (prop_id)
    {
    case PROP_PLUGIN_ID:
      self->plugin_id = g_intern_string (g_value_get_string (value));
      break;
    case PROP_CLOCK:
      self->clock = g_value_dup_object (value);
      break;
    case PROP_FAILURE_THRESHOLD:
      jupiter_circuit_breaker_set_failure_threshold (self, g_value_get_uint (value));
      break;
    case PROP_COOLDOWN:
      jupiter_circuit_breaker_set_cooldown (self, g_value_get_int64 (value));
      break;
    case PROP_HALF_OPEN_MAX_CALLS:
      jupiter_circuit_breaker_set_half_open_max_calls (self, g_value_get_uint (value));
      break;
    case PROP_SUCCESS_THRESHOLD:
      jupiter_circuit_breaker_set_success_threshold (self, g_value_get_uint (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
jupiter_circuit_breaker_class_init (JupiterCircuitBreakerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->constructed = jupiter_circuit_breaker_constructed;
  object_class->dispose = jupiter_circuit_breaker_dispose;
  object_class->finalize = jupiter_circuit_breaker_finalize;
  object_class->get_property = jupiter_circuit_breaker_get_property;
  object_class->set_property = jupiter_circuit_breaker_set_property;

  /**
   * JupiterCircuitBreaker:plugin-id:
   *
   * The plugin id the breaker guards.
   */
  properties[PROP_PLUGIN_ID] =
    g_param_spec_string ("plugin-id", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  /**
   * JupiterCircuitBreaker:clock:
   *
   * The clock cooldowns are measured with; the system clock when %NULL is
   * given.
   */
  properties[PROP_CLOCK] =
    g_param_spec_object ("clock", NULL, NULL, JUPITER_TYPE_CLOCK,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  /**
   * JupiterCircuitBreaker:state:
   *
   * The current state. Notified on the owner context after
   * #JupiterCircuitBreaker::state-changed.
   */
  properties[PROP_STATE] =
    g_param_spec_enum ("state", NULL, NULL, JUPITER_TYPE_CIRCUIT_STATE,
                       JUPITER_CIRCUIT_STATE_CLOSED,
                       G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  /**
   * JupiterCircuitBreaker:failure-threshold:
   *
   * How many consecutive failures open the breaker.
   */
  properties[PROP_FAILURE_THRESHOLD] =
    g_param_spec_uint ("failure-threshold", NULL, NULL, 1, G_MAXINT, DEFAULT_FAILURE_THRESHOLD,
                       G_PARAM_READWRITE | G_PARAM_CONSTRUCT | G_PARAM_STATIC_STRINGS |
                       G_PARAM_EXPLICIT_NOTIFY);

  /**
   * JupiterCircuitBreaker:cooldown:
   *
   * How long the breaker stays open, in microseconds, before trial calls are
   * let through.
   */
  properties[PROP_COOLDOWN] =
    g_param_spec_int64 ("cooldown", NULL, NULL, 0, G_MAXINT64 / 2, DEFAULT_COOLDOWN,
                        G_PARAM_READWRITE | G_PARAM_CONSTRUCT | G_PARAM_STATIC_STRINGS |
                        G_PARAM_EXPLICIT_NOTIFY);

  /**
   * JupiterCircuitBreaker:half-open-max-calls:
   *
   * How many trial calls may run at once while HALF_OPEN.
   */
  properties[PROP_HALF_OPEN_MAX_CALLS] =
    g_param_spec_uint ("half-open-max-calls", NULL, NULL, 1, G_MAXINT, 1,
                       G_PARAM_READWRITE | G_PARAM_CONSTRUCT | G_PARAM_STATIC_STRINGS |
                       G_PARAM_EXPLICIT_NOTIFY);

  /**
   * JupiterCircuitBreaker:success-threshold:
   *
   * How many successful trials close the breaker again.
   */
  properties[PROP_SUCCESS_THRESHOLD] =
    g_param_spec_uint ("success-threshold", NULL, NULL, 1, G_MAXINT, 1,
                       G_PARAM_READWRITE | G_PARAM_CONSTRUCT | G_PARAM_STATIC_STRINGS |
                       G_PARAM_EXPLICIT_NOTIFY);

  /**
   * JupiterCircuitBreaker:consecutive-failures:
   *
   * Failures since the last success or transition.
   */
  properties[PROP_CONSECUTIVE_FAILURES] =
    g_param_spec_uint ("consecutive-failures", NULL, NULL, 0, G_MAXUINT, 0,
                       G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);

  /**
   * JupiterCircuitBreaker:total-calls:
   *
   * Calls permitted (or recorded) over the breaker's lifetime; kept by reset.
   */
  properties[PROP_TOTAL_CALLS] =
    g_param_spec_uint64 ("total-calls", NULL, NULL, 0, G_MAXUINT64, 0,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);

  /**
   * JupiterCircuitBreaker:total-failures:
   *
   * Failed calls over the breaker's lifetime; kept by reset.
   */
  properties[PROP_TOTAL_FAILURES] =
    g_param_spec_uint64 ("total-failures", NULL, NULL, 0, G_MAXUINT64, 0,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);

  /**
   * JupiterCircuitBreaker:total-rejected:
   *
   * Calls refused while the breaker was open; kept by reset.
   */
  properties[PROP_TOTAL_REJECTED] =
    g_param_spec_uint64 ("total-rejected", NULL, NULL, 0, G_MAXUINT64, 0,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);

  /**
   * JupiterCircuitBreaker:times-opened:
   *
   * How many times the breaker opened; kept by reset.
   */
  properties[PROP_TIMES_OPENED] =
    g_param_spec_uint64 ("times-opened", NULL, NULL, 0, G_MAXUINT64, 0,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * JupiterCircuitBreaker::state-changed:
   * @self: the breaker
   * @old_state: the state before the transition
   * @new_state: the state after it
   *
   * The breaker changed state. Emitted on the owner context, once per
   * transition, in the order the transitions happened; the state may have
   * moved on by the time the handler runs.
   */
  signals[SIGNAL_STATE_CHANGED] =
    g_signal_new ("state-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 2,
                  JUPITER_TYPE_CIRCUIT_STATE, JUPITER_TYPE_CIRCUIT_STATE);
}

static void
jupiter_circuit_breaker_init (JupiterCircuitBreaker *self)
{
  g_mutex_init (&self->lock);
  self->context = g_main_context_ref_thread_default ();
  self->trials = g_array_new (FALSE, FALSE, sizeof (Trial));
  self->pending = g_array_new (FALSE, FALSE, sizeof (Transition));
  self->word = MAKE_WORD (JUPITER_CIRCUIT_STATE_CLOSED, 0);
}

/* ------------------------------------------------------------------------ */
/* Public API                                                                */

/**
 * jupiter_circuit_breaker_new:
 * @plugin_id: the plugin id to guard
 * @clock: (nullable): the clock to measure cooldowns with, or %NULL for the
 *   system clock
 *
 * A closed breaker with the default thresholds, owned by the thread-default
 * main context.
 *
 * Returns: (transfer full): a new breaker
 */
JupiterCircuitBreaker *
jupiter_circuit_breaker_new (const char   *plugin_id,
                             JupiterClock *clock)
{
  g_return_val_if_fail (plugin_id != NULL, NULL);
  g_return_val_if_fail (clock == NULL || JUPITER_IS_CLOCK (clock), NULL);

  return g_object_new (JUPITER_TYPE_CIRCUIT_BREAKER, "plugin-id", plugin_id, "clock", clock, NULL);
}

/**
 * jupiter_circuit_breaker_get_plugin_id:
 * @self: a #JupiterCircuitBreaker
 *
 * Returns: (transfer none): the plugin id
 */
const char *
jupiter_circuit_breaker_get_plugin_id (JupiterCircuitBreaker *self)
{
  g_return_val_if_fail (JUPITER_IS_CIRCUIT_BREAKER (self), NULL);
  return self->plugin_id;
}

/**
 * jupiter_circuit_breaker_get_state:
 * @self: a #JupiterCircuitBreaker
 *
 * The state now: an open breaker whose cooldown has passed is HALF_OPEN,
 * whether or not its timer has run yet.
 *
 * Returns: the state
 */
JupiterCircuitState
jupiter_circuit_breaker_get_state (JupiterCircuitBreaker *self)
{
  g_return_val_if_fail (JUPITER_IS_CIRCUIT_BREAKER (self), JUPITER_CIRCUIT_STATE_CLOSED);
  return WORD_STATE (current_word (self));
}

/**
 * jupiter_circuit_breaker_get_generation:
 * @self: a #JupiterCircuitBreaker
 *
 * Returns: how many transitions the breaker went through
 */
guint
jupiter_circuit_breaker_get_generation (JupiterCircuitBreaker *self)
{
  g_return_val_if_fail (JUPITER_IS_CIRCUIT_BREAKER (self), 0);
  return WORD_GEN (current_word (self));
}

/**
 * jupiter_circuit_breaker_can_execute:
 * @self: a #JupiterCircuitBreaker
 *
 * Whether a call would be permitted now, without taking a permit: CLOSED,
 * or HALF_OPEN with a trial slot free. For a closed breaker this is one
 * atomic read.
 *
 * Returns: %TRUE if a call may be made
 */
gboolean
jupiter_circuit_breaker_can_execute (JupiterCircuitBreaker *self)
{
  gint w;
  gboolean ok;

  g_return_val_if_fail (JUPITER_IS_CIRCUIT_BREAKER (self), FALSE);

  w = g_atomic_int_get (&self->word);
  if (G_LIKELY (WORD_STATE (w) == JUPITER_CIRCUIT_STATE_CLOSED))
    return TRUE;

  w = current_word (self);
  if (WORD_STATE (w) == JUPITER_CIRCUIT_STATE_OPEN)
    return FALSE;

  g_mutex_lock (&self->lock);
  w = g_atomic_int_get (&self->word);
  if (WORD_STATE (w) == JUPITER_CIRCUIT_STATE_HALF_OPEN)
    {
      expire_trials_locked (self, now_of (self));
      ok = self->trials->len < (guint) g_atomic_int_get (&self->half_open_max_calls);
    }
  else
    ok = WORD_STATE (w) == JUPITER_CIRCUIT_STATE_CLOSED;
  g_mutex_unlock (&self->lock);
  return ok;
}

/**
 * jupiter_circuit_breaker_acquire:
 * @self: a #JupiterCircuitBreaker
 * @permit: (out caller-allocates): where to store the permit
 *
 * Takes the right to make one call: always while CLOSED (atomic
 * operations only), never while OPEN, and while HALF_OPEN only if a trial
 * slot is free. A permit must be handed back exactly once with
 * jupiter_circuit_breaker_complete(). A refusal is not counted anywhere:
 * callers that turn it into a rejection call
 * jupiter_circuit_breaker_record_rejected().
 *
 * Returns: %TRUE if @permit was granted
 */
gboolean
jupiter_circuit_breaker_acquire (JupiterCircuitBreaker *self,
                                 JupiterCircuitPermit  *permit)
{
  gint w;
  gint64 now;
  gboolean granted = FALSE;

  g_return_val_if_fail (JUPITER_IS_CIRCUIT_BREAKER (self), FALSE);
  g_return_val_if_fail (permit != NULL, FALSE);

  w = g_atomic_int_get (&self->word);
  if (G_LIKELY (WORD_STATE (w) == JUPITER_CIRCUIT_STATE_CLOSED))
    {
      permit->generation = WORD_GEN (w);
      permit->flags = PERMIT_NORMAL;
      permit->trial = 0;
      stat_add (&self->total_calls);
      return TRUE;
    }

  now = now_of (self);
  g_mutex_lock (&self->lock);
  refresh_locked (self, now);
  w = g_atomic_int_get (&self->word);
  switch (WORD_STATE (w))
    {
    case JUPITER_CIRCUIT_STATE_CLOSED:
      permit->generation = WORD_GEN (w);
      permit->flags = PERMIT_NORMAL;
      permit->trial = 0;
      granted = TRUE;
      break;
    case JUPITER_CIRCUIT_STATE_HALF_OPEN:
      expire_trials_locked (self, now);
      if (self->trials->len < (guint) g_atomic_int_get (&self->half_open_max_calls))
        {
          Trial trial = { ++self->next_trial, now };

          g_array_append_val (self->trials, trial);
          permit->generation = WORD_GEN (w);
          permit->flags = PERMIT_TRIAL;
          permit->trial = trial.id;
          permit->started = now;
          reschedule_locked (self);
          granted = TRUE;
        }
      break;
    case JUPITER_CIRCUIT_STATE_OPEN:
    default:
      break;
    }
  g_mutex_unlock (&self->lock);

  if (granted)
    stat_add (&self->total_calls);
  return granted;
}

/* Records @outcome of a normal (non-trial) call of generation @gen. */
static void
outcome_closed (JupiterCircuitBreaker *self,
                guint                  gen,
                JupiterCircuitOutcome  outcome)
{
  gint w = g_atomic_int_get (&self->word);

  if (WORD_GEN (w) != gen || WORD_STATE (w) != JUPITER_CIRCUIT_STATE_CLOSED)
    return;   /* stale: statistics only */

  /* A success with nothing to reset writes nothing: the common path stays
   * lock-free and bounces no cache line between threads that succeed. */
  if (outcome == JUPITER_CIRCUIT_OUTCOME_SUCCESS &&
      g_atomic_int_get (&self->consecutive_failures) == 0)
    return;
  if (outcome == JUPITER_CIRCUIT_OUTCOME_NEUTRAL)
    return;

  /* Anything that writes the count re-checks the generation under the
   * lock, which every transition holds: an outcome of an older generation
   * can never land in a newer one's count. */
  g_mutex_lock (&self->lock);
  w = g_atomic_int_get (&self->word);
  if (WORD_GEN (w) == gen && WORD_STATE (w) == JUPITER_CIRCUIT_STATE_CLOSED)
    {
      if (outcome == JUPITER_CIRCUIT_OUTCOME_SUCCESS)
        g_atomic_int_set (&self->consecutive_failures, 0);
      else if (g_atomic_int_add (&self->consecutive_failures, 1) + 1 >=
               g_atomic_int_get (&self->failure_threshold))
        transition_locked (self, JUPITER_CIRCUIT_STATE_OPEN, now_of (self));
    }
  g_mutex_unlock (&self->lock);
}

/* Records @outcome of a trial, or of an un-permitted call while HALF_OPEN
 * (@trial 0). */
static void
outcome_half_open (JupiterCircuitBreaker *self,
                   guint                  gen,
                   guint64                trial,
                   JupiterCircuitOutcome  outcome)
{
  gint w;

  g_mutex_lock (&self->lock);
  w = g_atomic_int_get (&self->word);
  if (WORD_GEN (w) == gen && WORD_STATE (w) == JUPITER_CIRCUIT_STATE_HALF_OPEN)
    {
      gboolean live = (trial == 0);

      for (guint i = 0; trial != 0 && i < self->trials->len; i++)
        if (g_array_index (self->trials, Trial, i).id == trial)
          {
            g_array_remove_index_fast (self->trials, i);
            reschedule_locked (self);
            live = TRUE;
            break;
          }

      /* A trial that outlived the cooldown lost its slot: statistics only. */
      if (live && outcome == JUPITER_CIRCUIT_OUTCOME_FAILURE)
        transition_locked (self, JUPITER_CIRCUIT_STATE_OPEN, now_of (self));
      else if (live && outcome == JUPITER_CIRCUIT_OUTCOME_SUCCESS &&
               ++self->half_open_successes >= (guint) g_atomic_int_get (&self->success_threshold))
        transition_locked (self, JUPITER_CIRCUIT_STATE_CLOSED, now_of (self));
    }
  g_mutex_unlock (&self->lock);
}

/**
 * jupiter_circuit_breaker_complete:
 * @self: a #JupiterCircuitBreaker
 * @permit: a permit from jupiter_circuit_breaker_acquire()
 * @outcome: how the call ended
 *
 * Hands a permit back with the call's outcome. An outcome from an older
 * generation than the breaker's (the breaker moved on, or was reset, while
 * the call ran) updates the statistics only. A success of a closed breaker
 * is atomic operations only. Completing a permit twice is a programmer
 * error.
 */
void
jupiter_circuit_breaker_complete (JupiterCircuitBreaker *self,
                                  JupiterCircuitPermit  *permit,
                                  JupiterCircuitOutcome  outcome)
{
  g_return_if_fail (JUPITER_IS_CIRCUIT_BREAKER (self));
  g_return_if_fail (permit != NULL);
  g_return_if_fail (permit->flags & (PERMIT_NORMAL | PERMIT_TRIAL | PERMIT_BYPASS));

  if (permit->flags & PERMIT_DONE)
    {
      g_critical ("jupiter_circuit_breaker_complete: the permit for plugin “%s” was already completed",
                  self->plugin_id);
      return;
    }
  permit->flags |= PERMIT_DONE;

  if (outcome == JUPITER_CIRCUIT_OUTCOME_FAILURE)
    stat_add (&self->total_failures);
  if (permit->flags & PERMIT_BYPASS)
    return;

  if (permit->flags & PERMIT_TRIAL)
    outcome_half_open (self, permit->generation, permit->trial, outcome);
  else
    outcome_closed (self, permit->generation, outcome);
}

/* A call made without a permit: counted, and judged against the current
 * generation. */
static void
record_unpermitted (JupiterCircuitBreaker *self,
                    JupiterCircuitOutcome  outcome)
{
  gint w = current_word (self);

  stat_add (&self->total_calls);
  if (outcome == JUPITER_CIRCUIT_OUTCOME_FAILURE)
    stat_add (&self->total_failures);

  switch (WORD_STATE (w))
    {
    case JUPITER_CIRCUIT_STATE_CLOSED:
      outcome_closed (self, WORD_GEN (w), outcome);
      break;
    case JUPITER_CIRCUIT_STATE_HALF_OPEN:
      outcome_half_open (self, WORD_GEN (w), 0, outcome);
      break;
    case JUPITER_CIRCUIT_STATE_OPEN:
    default:
      break;
    }
}

/**
 * jupiter_circuit_breaker_record_success:
 * @self: a #JupiterCircuitBreaker
 *
 * Records a successful call made without a permit (it counts as a call):
 * resets the consecutive failures when CLOSED, counts toward closing when
 * HALF_OPEN.
 */
void
jupiter_circuit_breaker_record_success (JupiterCircuitBreaker *self)
{
  g_return_if_fail (JUPITER_IS_CIRCUIT_BREAKER (self));
  record_unpermitted (self, JUPITER_CIRCUIT_OUTCOME_SUCCESS);
}

/**
 * jupiter_circuit_breaker_record_failure:
 * @self: a #JupiterCircuitBreaker
 *
 * Records a failed call made without a permit (it counts as a call): may
 * open a closed breaker, reopens a half-open one.
 */
void
jupiter_circuit_breaker_record_failure (JupiterCircuitBreaker *self)
{
  g_return_if_fail (JUPITER_IS_CIRCUIT_BREAKER (self));
  record_unpermitted (self, JUPITER_CIRCUIT_OUTCOME_FAILURE);
}

/**
 * jupiter_circuit_breaker_record_rejected:
 * @self: a #JupiterCircuitBreaker
 *
 * Counts a call that was refused because the breaker was open. It is not a
 * call and not a failure.
 */
void
jupiter_circuit_breaker_record_rejected (JupiterCircuitBreaker *self)
{
  g_return_if_fail (JUPITER_IS_CIRCUIT_BREAKER (self));
  stat_add (&self->total_rejected);
}

/**
 * jupiter_circuit_breaker_reset:
 * @self: a #JupiterCircuitBreaker
 *
 * Returns the breaker to CLOSED and clears its counters (consecutive
 * failures, trials). The lifetime statistics stay. The generation moves on
 * even from CLOSED, so outcomes of calls permitted before the reset only
 * update statistics.
 */
void
jupiter_circuit_breaker_reset (JupiterCircuitBreaker *self)
{
  g_return_if_fail (JUPITER_IS_CIRCUIT_BREAKER (self));

  g_mutex_lock (&self->lock);
  transition_locked (self, JUPITER_CIRCUIT_STATE_CLOSED, now_of (self));
  g_mutex_unlock (&self->lock);
}

/**
 * jupiter_circuit_breaker_get_retry_in:
 * @self: a #JupiterCircuitBreaker
 *
 * Returns: how long, in microseconds, until an open breaker lets a trial
 *   through; 0 unless OPEN
 */
GTimeSpan
jupiter_circuit_breaker_get_retry_in (JupiterCircuitBreaker *self)
{
  gint w;

  g_return_val_if_fail (JUPITER_IS_CIRCUIT_BREAKER (self), 0);

  w = current_word (self);
  if (WORD_STATE (w) != JUPITER_CIRCUIT_STATE_OPEN)
    return 0;
  return MAX (0, __atomic_load_n (&self->opened_at, __ATOMIC_ACQUIRE) +
                 __atomic_load_n (&self->cooldown, __ATOMIC_RELAXED) - now_of (self));
}

#define ATOMIC_UINT_ACCESSORS(name, field, prop, min)                          \
  guint                                                                        \
  jupiter_circuit_breaker_get_##name (JupiterCircuitBreaker *self)             \
  {                                                                            \
    g_return_val_if_fail (JUPITER_IS_CIRCUIT_BREAKER (self), 0);               \
    return (guint) g_atomic_int_get (&self->field);                            \
  }                                                                            \
  void                                                                         \
  jupiter_circuit_breaker_set_##name (JupiterCircuitBreaker *self,             \
                                      guint                  value)            \
  {                                                                            \
    g_return_if_fail (JUPITER_IS_CIRCUIT_BREAKER (self));                      \
    g_return_if_fail (value >= (min) && value <= G_MAXINT);                    \
    if ((guint) g_atomic_int_get (&self->field) == value)                      \
      return;                                                                  \
    g_atomic_int_set (&self->field, (gint) value);                             \
    g_object_notify_by_pspec (G_OBJECT (self), properties[prop]);              \
  }

/**
 * jupiter_circuit_breaker_get_failure_threshold:
 * @self: a #JupiterCircuitBreaker
 *
 * Returns: #JupiterCircuitBreaker:failure-threshold
 */
/**
 * jupiter_circuit_breaker_set_failure_threshold:
 * @self: a #JupiterCircuitBreaker
 * @value: at least 1
 *
 * Sets #JupiterCircuitBreaker:failure-threshold.
 */
ATOMIC_UINT_ACCESSORS (failure_threshold, failure_threshold, PROP_FAILURE_THRESHOLD, 1)

/**
 * jupiter_circuit_breaker_get_half_open_max_calls:
 * @self: a #JupiterCircuitBreaker
 *
 * Returns: #JupiterCircuitBreaker:half-open-max-calls
 */
/**
 * jupiter_circuit_breaker_set_half_open_max_calls:
 * @self: a #JupiterCircuitBreaker
 * @value: at least 1
 *
 * Sets #JupiterCircuitBreaker:half-open-max-calls.
 */
ATOMIC_UINT_ACCESSORS (half_open_max_calls, half_open_max_calls, PROP_HALF_OPEN_MAX_CALLS, 1)

/**
 * jupiter_circuit_breaker_get_success_threshold:
 * @self: a #JupiterCircuitBreaker
 *
 * Returns: #JupiterCircuitBreaker:success-threshold
 */
/**
 * jupiter_circuit_breaker_set_success_threshold:
 * @self: a #JupiterCircuitBreaker
 * @value: at least 1
 *
 * Sets #JupiterCircuitBreaker:success-threshold.
 */
ATOMIC_UINT_ACCESSORS (success_threshold, success_threshold, PROP_SUCCESS_THRESHOLD, 1)

/**
 * jupiter_circuit_breaker_get_cooldown:
 * @self: a #JupiterCircuitBreaker
 *
 * Returns: #JupiterCircuitBreaker:cooldown, in microseconds
 */
GTimeSpan
jupiter_circuit_breaker_get_cooldown (JupiterCircuitBreaker *self)
{
  g_return_val_if_fail (JUPITER_IS_CIRCUIT_BREAKER (self), 0);
  return __atomic_load_n (&self->cooldown, __ATOMIC_RELAXED);
}

/**
 * jupiter_circuit_breaker_set_cooldown:
 * @self: a #JupiterCircuitBreaker
 * @cooldown: microseconds, at least 0
 *
 * Sets #JupiterCircuitBreaker:cooldown. An open breaker's timer follows the
 * new value.
 */
void
jupiter_circuit_breaker_set_cooldown (JupiterCircuitBreaker *self,
                                      GTimeSpan              cooldown)
{
  g_return_if_fail (JUPITER_IS_CIRCUIT_BREAKER (self));
  g_return_if_fail (cooldown >= 0);

  g_mutex_lock (&self->lock);
  if (__atomic_load_n (&self->cooldown, __ATOMIC_RELAXED) == cooldown)
    {
      g_mutex_unlock (&self->lock);
      return;
    }
  __atomic_store_n (&self->cooldown, cooldown, __ATOMIC_RELAXED);
  if (self->context)
    reschedule_locked (self);
  g_mutex_unlock (&self->lock);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_COOLDOWN]);
}

/**
 * jupiter_circuit_breaker_get_consecutive_failures:
 * @self: a #JupiterCircuitBreaker
 *
 * Returns: failures since the last success or transition
 */
guint
jupiter_circuit_breaker_get_consecutive_failures (JupiterCircuitBreaker *self)
{
  g_return_val_if_fail (JUPITER_IS_CIRCUIT_BREAKER (self), 0);
  return (guint) g_atomic_int_get (&self->consecutive_failures);
}

/**
 * jupiter_circuit_breaker_get_total_calls:
 * @self: a #JupiterCircuitBreaker
 *
 * Returns: #JupiterCircuitBreaker:total-calls
 */
guint64
jupiter_circuit_breaker_get_total_calls (JupiterCircuitBreaker *self)
{
  g_return_val_if_fail (JUPITER_IS_CIRCUIT_BREAKER (self), 0);
  return stat_get (&self->total_calls);
}

/**
 * jupiter_circuit_breaker_get_total_failures:
 * @self: a #JupiterCircuitBreaker
 *
 * Returns: #JupiterCircuitBreaker:total-failures
 */
guint64
jupiter_circuit_breaker_get_total_failures (JupiterCircuitBreaker *self)
{
  g_return_val_if_fail (JUPITER_IS_CIRCUIT_BREAKER (self), 0);
  return stat_get (&self->total_failures);
}

/**
 * jupiter_circuit_breaker_get_total_rejected:
 * @self: a #JupiterCircuitBreaker
 *
 * Returns: #JupiterCircuitBreaker:total-rejected
 */
guint64
jupiter_circuit_breaker_get_total_rejected (JupiterCircuitBreaker *self)
{
  g_return_val_if_fail (JUPITER_IS_CIRCUIT_BREAKER (self), 0);
  return stat_get (&self->total_rejected);
}

/**
 * jupiter_circuit_breaker_get_times_opened:
 * @self: a #JupiterCircuitBreaker
 *
 * Returns: #JupiterCircuitBreaker:times-opened
 */
guint64
jupiter_circuit_breaker_get_times_opened (JupiterCircuitBreaker *self)
{
  g_return_val_if_fail (JUPITER_IS_CIRCUIT_BREAKER (self), 0);
  return stat_get (&self->times_opened);
}

/* ------------------------------------------------------------------------ */
/* Private API for the job manager                                           */

void
jupiter_circuit_breaker_set_watch (JupiterCircuitBreaker *self,
                                   JupiterBreakerWatch    watch,
                                   JupiterBreakerLink    *link)
{
  JupiterBreakerLink *old;

  g_mutex_lock (&self->lock);
  self->watch = watch;
  old = self->watch_data;
  self->watch_data = link ? jupiter_breaker_link_ref (link) : NULL;
  g_mutex_unlock (&self->lock);
  if (old)
    jupiter_breaker_link_unref (old);
}

/* A permit for a call that bypasses the breaker: it is counted, and its
 * outcome updates statistics only. */
void
jupiter_circuit_breaker_acquire_bypass (JupiterCircuitBreaker *self,
                                        JupiterCircuitPermit  *permit)
{
  memset (permit, 0, sizeof *permit);
  permit->flags = PERMIT_BYPASS;
  stat_add (&self->total_calls);
}

gboolean
jupiter_circuit_permit_is_held (const JupiterCircuitPermit *permit)
{
  return (permit->flags & (PERMIT_NORMAL | PERMIT_TRIAL | PERMIT_BYPASS)) != 0 &&
         (permit->flags & PERMIT_DONE) == 0;
}
