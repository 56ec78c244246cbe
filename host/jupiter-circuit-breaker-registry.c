/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "config.h"

#include "jupiter-circuit-breaker-private.h"

/**
 * JupiterCircuitBreakerRegistry:
 *
 * One [class@Jupiter.CircuitBreaker] per plugin id, created on first use
 * with the registry's defaults or per-plugin thresholds, all measuring time
 * with the registry's [class@Jupiter.Clock].
 *
 * Every breaker's #JupiterCircuitBreaker::state-changed is re-emitted as
 * #JupiterCircuitBreakerRegistry::breaker-state-changed, detailed by plugin
 * id, so `breaker-state-changed::echo` follows only plugin `echo`.
 *
 * ## Threads
 *
 * Every method is safe from any thread. The registry and its breakers
 * belong to the thread-default main context of the thread that created the
 * registry: their signals are emitted there, whichever thread created a
 * breaker.
 *
 * Since: 0.1
 */

struct _JupiterCircuitBreakerRegistry
{
  GObject       parent_instance;
  JupiterClock *clock;          /* immutable */
  GMainContext *context;        /* immutable */

  GMutex        lock;           /* guards below */
  GHashTable   *breakers;       /* interned plugin id -> JupiterCircuitBreaker */
  guint         failure_threshold;
  GTimeSpan     cooldown;
  guint         half_open_max_calls;
  guint         success_threshold;
  JupiterBreakerWatch watch;
  JupiterBreakerLink *watch_data;   /* owned reference */
};

enum {
  PROP_0,
  PROP_CLOCK,
  PROP_FAILURE_THRESHOLD,
  PROP_COOLDOWN,
  PROP_HALF_OPEN_MAX_CALLS,
  PROP_SUCCESS_THRESHOLD,
  N_PROPS
};

enum {
  SIGNAL_BREAKER_STATE_CHANGED,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (JupiterCircuitBreakerRegistry, jupiter_circuit_breaker_registry, G_TYPE_OBJECT)

static void
breaker_state_changed_cb (JupiterCircuitBreaker         *breaker,
                          JupiterCircuitState            old_state,
                          JupiterCircuitState            new_state,
                          JupiterCircuitBreakerRegistry *self)
{
  g_signal_emit (self, signals[SIGNAL_BREAKER_STATE_CHANGED],
                 g_quark_from_string (jupiter_circuit_breaker_get_plugin_id (breaker)),
                 breaker, old_state, new_state);
}

static void
jupiter_circuit_breaker_registry_dispose (GObject *object)
{
  JupiterCircuitBreakerRegistry *self = JUPITER_CIRCUIT_BREAKER_REGISTRY (object);
  GHashTable *breakers;

  g_mutex_lock (&self->lock);
  breakers = g_steal_pointer (&self->breakers);
  g_mutex_unlock (&self->lock);

  if (breakers)
    {
      GHashTableIter iter;
      gpointer value;

      g_hash_table_iter_init (&iter, breakers);
      while (g_hash_table_iter_next (&iter, NULL, &value))
        {
          g_signal_handlers_disconnect_by_func (value, breaker_state_changed_cb, self);
          jupiter_circuit_breaker_set_watch (value, NULL, NULL);
        }
      g_hash_table_unref (breakers);
    }

  G_OBJECT_CLASS (jupiter_circuit_breaker_registry_parent_class)->dispose (object);
}

static void
jupiter_circuit_breaker_registry_finalize (GObject *object)
{
  JupiterCircuitBreakerRegistry *self = JUPITER_CIRCUIT_BREAKER_REGISTRY (object);

  g_clear_object (&self->clock);
  g_clear_pointer (&self->watch_data, jupiter_breaker_link_unref);
  g_main_context_unref (self->context);
  g_mutex_clear (&self->lock);

  G_OBJECT_CLASS (jupiter_circuit_breaker_registry_parent_class)->finalize (object);
}

static void
jupiter_circuit_breaker_registry_get_property (GObject    *object,
                                               guint       prop_id,
                                               GValue     *value,
                                               GParamSpec *pspec)
{
  JupiterCircuitBreakerRegistry *self = JUPITER_CIRCUIT_BREAKER_REGISTRY (object);

  g_mutex_lock (&self->lock);
  switch (prop_id)
    {
    case PROP_CLOCK:
      g_value_set_object (value, self->clock);
      break;
    case PROP_FAILURE_THRESHOLD:
      g_value_set_uint (value, self->failure_threshold);
      break;
    case PROP_COOLDOWN:
      g_value_set_int64 (value, self->cooldown);
      break;
    case PROP_HALF_OPEN_MAX_CALLS:
      g_value_set_uint (value, self->half_open_max_calls);
      break;
    case PROP_SUCCESS_THRESHOLD:
      g_value_set_uint (value, self->success_threshold);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
  g_mutex_unlock (&self->lock);
}

static void
jupiter_circuit_breaker_registry_set_property (GObject      *object,
                                               guint         prop_id,
                                               const GValue *value,
                                               GParamSpec   *pspec)
{
  JupiterCircuitBreakerRegistry *self = JUPITER_CIRCUIT_BREAKER_REGISTRY (object);

  g_mutex_lock (&self->lock);
  switch (prop_id)
    {
    case PROP_CLOCK:
      self->clock = g_value_dup_object (value);
      if (self->clock == NULL)
        self->clock = g_object_ref (jupiter_clock_get_system ());
      break;
    case PROP_FAILURE_THRESHOLD:
      self->failure_threshold = g_value_get_uint (value);
      break;
    case PROP_COOLDOWN:
      self->cooldown = g_value_get_int64 (value);
      break;
    case PROP_HALF_OPEN_MAX_CALLS:
      self->half_open_max_calls = g_value_get_uint (value);
      break;
    case PROP_SUCCESS_THRESHOLD:
      self->success_threshold = g_value_get_uint (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
  g_mutex_unlock (&self->lock);
}

static void
jupiter_circuit_breaker_registry_class_init (JupiterCircuitBreakerRegistryClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = jupiter_circuit_breaker_registry_dispose;
  object_class->finalize = jupiter_circuit_breaker_registry_finalize;
  object_class->get_property = jupiter_circuit_breaker_registry_get_property;
  object_class->set_property = jupiter_circuit_breaker_registry_set_property;

  /**
   * JupiterCircuitBreakerRegistry:clock:
   *
   * The clock every breaker of the registry uses; the system clock when
   * %NULL is given.
   */
  properties[PROP_CLOCK] =
    g_param_spec_object ("clock", NULL, NULL, JUPITER_TYPE_CLOCK,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  /**
   * JupiterCircuitBreakerRegistry:failure-threshold:
   *
   * The default #JupiterCircuitBreaker:failure-threshold of new breakers.
   */
  properties[PROP_FAILURE_THRESHOLD] =
    g_param_spec_uint ("failure-threshold", NULL, NULL, 1, G_MAXINT, 5,
                       G_PARAM_READWRITE | G_PARAM_CONSTRUCT | G_PARAM_STATIC_STRINGS);

  /**
   * JupiterCircuitBreakerRegistry:cooldown:
   *
   * The default #JupiterCircuitBreaker:cooldown of new breakers, in
   * microseconds.
   */
  properties[PROP_COOLDOWN] =
    g_param_spec_int64 ("cooldown", NULL, NULL, 0, G_MAXINT64 / 2, 30 * G_TIME_SPAN_SECOND,
                        G_PARAM_READWRITE | G_PARAM_CONSTRUCT | G_PARAM_STATIC_STRINGS);

  /**
   * JupiterCircuitBreakerRegistry:half-open-max-calls:
   *
   * The default #JupiterCircuitBreaker:half-open-max-calls of new breakers.
   */
  properties[PROP_HALF_OPEN_MAX_CALLS] =
    g_param_spec_uint ("half-open-max-calls", NULL, NULL, 1, G_MAXINT, 1,
                       G_PARAM_READWRITE | G_PARAM_CONSTRUCT | G_PARAM_STATIC_STRINGS);

  /**
   * JupiterCircuitBreakerRegistry:success-threshold:
   *
   * The default #JupiterCircuitBreaker:success-threshold of new breakers.
   */
  properties[PROP_SUCCESS_THRESHOLD] =
    g_param_spec_uint ("success-threshold", NULL, NULL, 1, G_MAXINT, 1,
                       G_PARAM_READWRITE | G_PARAM_CONSTRUCT | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * JupiterCircuitBreakerRegistry::breaker-state-changed:
   * @self: the registry
   * @breaker: the breaker that changed
   * @old_state: its state before
   * @new_state: its state after
   *
   * A breaker of the registry changed state. Detailed by plugin id; emitted
   * on the registry's context, once per transition, in order.
   */
  signals[SIGNAL_BREAKER_STATE_CHANGED] =
    g_signal_new ("breaker-state-changed", G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST | G_SIGNAL_DETAILED,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 3,
                  JUPITER_TYPE_CIRCUIT_BREAKER, JUPITER_TYPE_CIRCUIT_STATE,
                  JUPITER_TYPE_CIRCUIT_STATE);
}

static void
jupiter_circuit_breaker_registry_init (JupiterCircuitBreakerRegistry *self)
{
  g_mutex_init (&self->lock);
  self->context = g_main_context_ref_thread_default ();
  self->breakers = g_hash_table_new_full (NULL, NULL, NULL, g_object_unref);
}

/**
 * jupiter_circuit_breaker_registry_new:
 * @clock: (nullable): the clock for every breaker, or %NULL for the system
 *   clock
 *
 * Returns: (transfer full): a new, empty registry owned by the
 *   thread-default main context
 */
JupiterCircuitBreakerRegistry *
jupiter_circuit_breaker_registry_new (JupiterClock *clock)
{
  g_return_val_if_fail (clock == NULL || JUPITER_IS_CLOCK (clock), NULL);
  return g_object_new (JUPITER_TYPE_CIRCUIT_BREAKER_REGISTRY, "clock", clock, NULL);
}

/**
 * jupiter_circuit_breaker_registry_get_or_create:
 * @self: a #JupiterCircuitBreakerRegistry
 * @plugin_id: a plugin id
 * @config: (nullable): thresholds for a new breaker (fields left 0 take the
 *   registry's defaults); ignored if the breaker exists
 *
 * Returns: (transfer none): the breaker of @plugin_id, valid as long as the
 *   registry
 */
JupiterCircuitBreaker *
jupiter_circuit_breaker_registry_get_or_create (JupiterCircuitBreakerRegistry     *self,
                                                const char                        *plugin_id,
                                                const JupiterCircuitBreakerConfig *config)
{
  const char *id;
  JupiterCircuitBreaker *breaker;

  g_return_val_if_fail (JUPITER_IS_CIRCUIT_BREAKER_REGISTRY (self), NULL);
  g_return_val_if_fail (plugin_id != NULL && *plugin_id != '\0', NULL);

  id = g_intern_string (plugin_id);
  g_mutex_lock (&self->lock);
  breaker = self->breakers ? g_hash_table_lookup (self->breakers, id) : NULL;
  if (breaker == NULL && self->breakers != NULL)
    {
      JupiterCircuitBreakerConfig none = { 0 };

      if (config == NULL)
        config = &none;
      breaker = g_object_new (JUPITER_TYPE_CIRCUIT_BREAKER,
                              "plugin-id", id,
                              "clock", self->clock,
                              "failure-threshold", config->failure_threshold ? config->failure_threshold : self->failure_threshold,
                              "cooldown", config->cooldown > 0 ? config->cooldown : self->cooldown,
                              "half-open-max-calls", config->half_open_max_calls ? config->half_open_max_calls : self->half_open_max_calls,
                              "success-threshold", config->success_threshold ? config->success_threshold : self->success_threshold,
                              NULL);
      jupiter_circuit_breaker_set_context (breaker, self->context);
      jupiter_circuit_breaker_set_watch (breaker, self->watch, self->watch_data);
      g_signal_connect (breaker, "state-changed", G_CALLBACK (breaker_state_changed_cb), self);
      g_hash_table_insert (self->breakers, (gpointer) id, breaker);
    }
  g_mutex_unlock (&self->lock);
  return breaker;
}

/**
 * jupiter_circuit_breaker_registry_get:
 * @self: a #JupiterCircuitBreakerRegistry
 * @plugin_id: a plugin id
 *
 * Returns: (transfer none) (nullable): the breaker of @plugin_id, if any
 */
JupiterCircuitBreaker *
jupiter_circuit_breaker_registry_get (JupiterCircuitBreakerRegistry *self,
                                      const char                    *plugin_id)
{
  JupiterCircuitBreaker *breaker;

  g_return_val_if_fail (JUPITER_IS_CIRCUIT_BREAKER_REGISTRY (self), NULL);
  g_return_val_if_fail (plugin_id != NULL, NULL);

  g_mutex_lock (&self->lock);
  breaker = self->breakers ? g_hash_table_lookup (self->breakers, g_intern_string (plugin_id)) : NULL;
  g_mutex_unlock (&self->lock);
  return breaker;
}

static int
by_plugin_id (gconstpointer a,
              gconstpointer b)
{
  return g_strcmp0 (jupiter_circuit_breaker_get_plugin_id (*(JupiterCircuitBreaker **) a),
                    jupiter_circuit_breaker_get_plugin_id (*(JupiterCircuitBreaker **) b));
}

static GPtrArray *
collect (JupiterCircuitBreakerRegistry *self,
         gboolean                       only_open)
{
  GPtrArray *all = g_ptr_array_new_with_free_func (g_object_unref);
  GHashTableIter iter;
  gpointer value;

  g_mutex_lock (&self->lock);
  if (self->breakers)
    {
      g_hash_table_iter_init (&iter, self->breakers);
      while (g_hash_table_iter_next (&iter, NULL, &value))
        g_ptr_array_add (all, g_object_ref (value));
    }
  g_mutex_unlock (&self->lock);

  /* States are read outside the registry's lock: a breaker may take its own. */
  if (only_open)
    for (guint i = all->len; i > 0; i--)
      if (jupiter_circuit_breaker_get_state (all->pdata[i - 1]) != JUPITER_CIRCUIT_STATE_OPEN)
        g_ptr_array_remove_index (all, i - 1);
  g_ptr_array_sort (all, by_plugin_id);
  return all;
}

/**
 * jupiter_circuit_breaker_registry_list:
 * @self: a #JupiterCircuitBreakerRegistry
 *
 * Returns: (transfer full) (element-type JupiterCircuitBreaker): every
 *   breaker, by plugin id
 */
GPtrArray *
jupiter_circuit_breaker_registry_list (JupiterCircuitBreakerRegistry *self)
{
  g_return_val_if_fail (JUPITER_IS_CIRCUIT_BREAKER_REGISTRY (self), NULL);
  return collect (self, FALSE);
}

/**
 * jupiter_circuit_breaker_registry_list_open:
 * @self: a #JupiterCircuitBreakerRegistry
 *
 * The breakers that are OPEN now (an open breaker past its cooldown is
 * half-open, and not listed).
 *
 * Returns: (transfer full) (element-type JupiterCircuitBreaker): the open
 *   breakers, by plugin id
 */
GPtrArray *
jupiter_circuit_breaker_registry_list_open (JupiterCircuitBreakerRegistry *self)
{
  g_return_val_if_fail (JUPITER_IS_CIRCUIT_BREAKER_REGISTRY (self), NULL);
  return collect (self, TRUE);
}

/**
 * jupiter_circuit_breaker_registry_reset_all:
 * @self: a #JupiterCircuitBreakerRegistry
 *
 * jupiter_circuit_breaker_reset() on every breaker.
 */
void
jupiter_circuit_breaker_registry_reset_all (JupiterCircuitBreakerRegistry *self)
{
  g_autoptr(GPtrArray) all = NULL;

  g_return_if_fail (JUPITER_IS_CIRCUIT_BREAKER_REGISTRY (self));

  all = collect (self, FALSE);
  for (guint i = 0; i < all->len; i++)
    jupiter_circuit_breaker_reset (all->pdata[i]);
}

/**
 * jupiter_circuit_breaker_registry_get_stats:
 * @self: a #JupiterCircuitBreakerRegistry
 * @stats: (out caller-allocates): where to store the counters
 *
 * How many breakers there are, in each state, and their totals. Each
 * breaker is read atomically; the set is not one instant.
 */
void
jupiter_circuit_breaker_registry_get_stats (JupiterCircuitBreakerRegistry *self,
                                            JupiterCircuitBreakerStats    *stats)
{
  g_autoptr(GPtrArray) all = NULL;

  g_return_if_fail (JUPITER_IS_CIRCUIT_BREAKER_REGISTRY (self));
  g_return_if_fail (stats != NULL);

  memset (stats, 0, sizeof *stats);
  all = collect (self, FALSE);
  stats->breakers = all->len;
  for (guint i = 0; i < all->len; i++)
    {
      JupiterCircuitBreaker *b = all->pdata[i];

      switch (jupiter_circuit_breaker_get_state (b))
        {
        case JUPITER_CIRCUIT_STATE_CLOSED:
          stats->closed++;
          break;
        case JUPITER_CIRCUIT_STATE_OPEN:
          stats->open++;
          break;
        case JUPITER_CIRCUIT_STATE_HALF_OPEN:
        default:
          stats->half_open++;
          break;
        }
      stats->total_calls += jupiter_circuit_breaker_get_total_calls (b);
      stats->total_failures += jupiter_circuit_breaker_get_total_failures (b);
      stats->total_rejected += jupiter_circuit_breaker_get_total_rejected (b);
      stats->times_opened += jupiter_circuit_breaker_get_times_opened (b);
    }
}

/**
 * jupiter_circuit_breaker_registry_get_clock:
 * @self: a #JupiterCircuitBreakerRegistry
 *
 * Returns: (transfer none): the registry's clock
 */
JupiterClock *
jupiter_circuit_breaker_registry_get_clock (JupiterCircuitBreakerRegistry *self)
{
  g_return_val_if_fail (JUPITER_IS_CIRCUIT_BREAKER_REGISTRY (self), NULL);
  return self->clock;
}

void
jupiter_circuit_breaker_registry_set_watch (JupiterCircuitBreakerRegistry *self,
                                            JupiterBreakerWatch            watch,
                                            JupiterBreakerLink            *link)
{
  GHashTableIter iter;
  gpointer value;
  JupiterBreakerLink *old;

  g_mutex_lock (&self->lock);
  self->watch = watch;
  old = self->watch_data;
  self->watch_data = link ? jupiter_breaker_link_ref (link) : NULL;
  if (self->breakers)
    {
      g_hash_table_iter_init (&iter, self->breakers);
      while (g_hash_table_iter_next (&iter, NULL, &value))
        jupiter_circuit_breaker_set_watch (value, watch, link);
    }
  g_mutex_unlock (&self->lock);
  if (old)
    jupiter_breaker_link_unref (old);
}
