/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "config.h"

#include <jupiter/jupiter.h>

/**
 * JupiterClock:
 *
 * A monotonic clock, in microseconds, that can be replaced in tests.
 *
 * The system clock, from jupiter_clock_get_system(), is
 * g_get_monotonic_time(). A manual clock, from jupiter_clock_new_manual(),
 * stands still until jupiter_clock_advance() moves it, so code that measures
 * cooldowns and deadlines can be tested without sleeping.
 *
 * Timers follow the same clock: a source from
 * jupiter_clock_timeout_source_new() becomes ready when the clock reaches its
 * deadline. For the system clock that is an ordinary ready-time source; for
 * a manual clock, advancing the clock wakes every context that has one of
 * its sources attached, and the sources whose deadline has come are
 * dispatched there.
 *
 * All functions are safe to call from any thread.
 *
 * Since: 0.1
 */

struct _JupiterClock
{
  GObject  parent_instance;
  gboolean manual;
  GMutex   lock;
  gint64   now;        /* manual clocks; guarded by lock */
  GList   *sources;    /* manual clocks: attached ClockSources; guarded by lock */
};

G_DEFINE_FINAL_TYPE (JupiterClock, jupiter_clock, G_TYPE_OBJECT)

typedef struct {
  GSource       source;
  JupiterClock *clock;     /* strong */
  gint64        deadline;
  GList         link;      /* in clock->sources while alive */
  GMainContext *context;   /* manual clocks: where it is attached; guarded by clock->lock */
} ClockSource;

static void
jupiter_clock_finalize (GObject *object)
{
  JupiterClock *self = JUPITER_CLOCK (object);

  g_assert (self->sources == NULL);
  g_mutex_clear (&self->lock);

  G_OBJECT_CLASS (jupiter_clock_parent_class)->finalize (object);
}

static void
jupiter_clock_class_init (JupiterClockClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = jupiter_clock_finalize;
}

static void
jupiter_clock_init (JupiterClock *self)
{
  g_mutex_init (&self->lock);
}

/**
 * jupiter_clock_get_system:
 *
 * Returns: (transfer none): the process-wide system clock,
 *   g_get_monotonic_time()
 */
JupiterClock *
jupiter_clock_get_system (void)
{
  static gsize system_clock;

  if (g_once_init_enter (&system_clock))
    g_once_init_leave (&system_clock, (gsize) g_object_new (JUPITER_TYPE_CLOCK, NULL));
  return (JupiterClock *) system_clock;
}

/**
 * jupiter_clock_new_manual:
 * @start_time: the clock's initial time, in microseconds
 *
 * A clock that only moves when jupiter_clock_advance() is called.
 *
 * Returns: (transfer full): a new manual clock
 */
JupiterClock *
jupiter_clock_new_manual (gint64 start_time)
{
  JupiterClock *self = g_object_new (JUPITER_TYPE_CLOCK, NULL);

  self->manual = TRUE;
  self->now = start_time;
  return self;
}

/**
 * jupiter_clock_is_manual:
 * @self: a #JupiterClock
 *
 * Returns: %TRUE for a clock from jupiter_clock_new_manual()
 */
gboolean
jupiter_clock_is_manual (JupiterClock *self)
{
  g_return_val_if_fail (JUPITER_IS_CLOCK (self), FALSE);
  return self->manual;
}

/**
 * jupiter_clock_get_time:
 * @self: a #JupiterClock
 *
 * Returns: the current time, in monotonic microseconds
 */
gint64
jupiter_clock_get_time (JupiterClock *self)
{
  gint64 now;

  g_return_val_if_fail (JUPITER_IS_CLOCK (self), 0);

  if (!self->manual)
    return g_get_monotonic_time ();

  g_mutex_lock (&self->lock);
  now = self->now;
  g_mutex_unlock (&self->lock);
  return now;
}

/**
 * jupiter_clock_advance:
 * @self: a manual #JupiterClock
 * @delta: microseconds to move forward, at least 0
 *
 * Moves a manual clock forward and wakes every context that has one of its
 * timeout sources attached; sources whose deadline has come are dispatched
 * the next time their context is iterated.
 */
void
jupiter_clock_advance (JupiterClock *self,
                       GTimeSpan     delta)
{
  GPtrArray *contexts;

  g_return_if_fail (JUPITER_IS_CLOCK (self));
  g_return_if_fail (self->manual);
  g_return_if_fail (delta >= 0);

  contexts = g_ptr_array_new_with_free_func ((GDestroyNotify) g_main_context_unref);
  g_mutex_lock (&self->lock);
  self->now += delta;
  /* Sources record their context themselves (prepare): asking a source
   * that is being finalized in another thread would race with it. */
  for (GList *l = self->sources; l; l = l->next)
    {
      GMainContext *context = ((ClockSource *) l->data)->context;

      if (context && !g_ptr_array_find (contexts, context, NULL))
        g_ptr_array_add (contexts, g_main_context_ref (context));
    }
  g_mutex_unlock (&self->lock);

  for (guint i = 0; i < contexts->len; i++)
    g_main_context_wakeup (g_ptr_array_index (contexts, i));
  g_ptr_array_free (contexts, TRUE);
}

static gboolean
clock_source_prepare (GSource *source,
                      gint    *timeout)
{
  ClockSource *cs = (ClockSource *) source;
  gint64 now = jupiter_clock_get_time (cs->clock);

  if (now >= cs->deadline)
    {
      *timeout = 0;
      return TRUE;
    }
  if (cs->clock->manual)
    {
      *timeout = -1;                 /* advance() wakes the context */
      g_mutex_lock (&cs->clock->lock);
      if (cs->context == NULL)
        cs->context = g_main_context_ref (g_source_get_context (source));
      g_mutex_unlock (&cs->clock->lock);
    }
  else
    *timeout = (gint) MIN ((cs->deadline - now + 999) / 1000, G_MAXINT);
  return FALSE;
}

static gboolean
clock_source_check (GSource *source)
{
  ClockSource *cs = (ClockSource *) source;

  return jupiter_clock_get_time (cs->clock) >= cs->deadline;
}

static gboolean
clock_source_dispatch (GSource    *source,
                       GSourceFunc callback,
                       gpointer    user_data)
{
  /* One-shot: it fires once, when the deadline has come. */
  if (callback)
    callback (user_data);
  return G_SOURCE_REMOVE;
}

static void
clock_source_finalize (GSource *source)
{
  ClockSource *cs = (ClockSource *) source;

  if (cs->clock->manual)
    {
      GMainContext *context;

      g_mutex_lock (&cs->clock->lock);
      cs->clock->sources = g_list_remove_link (cs->clock->sources, &cs->link);
      context = g_steal_pointer (&cs->context);
      g_mutex_unlock (&cs->clock->lock);
      if (context)
        g_main_context_unref (context);
    }
  g_clear_object (&cs->clock);
}

static GSourceFuncs clock_source_funcs = {
  .prepare = clock_source_prepare,
  .check = clock_source_check,
  .dispatch = clock_source_dispatch,
  .finalize = clock_source_finalize,
};

/**
 * jupiter_clock_timeout_source_new:
 * @self: a #JupiterClock
 * @deadline: when the source becomes ready, in this clock's microseconds
 *
 * A one-shot source that is dispatched once @self reaches @deadline. Set
 * its callback with g_source_set_callback() (a #GSourceFunc; its return
 * value is ignored) and attach it to a context.
 *
 * Returns: (transfer full): a new #GSource
 */
GSource *
jupiter_clock_timeout_source_new (JupiterClock *self,
                                  gint64        deadline)
{
  GSource *source;
  ClockSource *cs;

  g_return_val_if_fail (JUPITER_IS_CLOCK (self), NULL);

  source = g_source_new (&clock_source_funcs, sizeof (ClockSource));
  cs = (ClockSource *) source;
  cs->clock = g_object_ref (self);
  cs->deadline = deadline;
  cs->link.data = source;
  g_source_set_static_name (source, "[jupiter] clock timeout");
  if (!self->manual)
    g_source_set_ready_time (source, deadline);
  else
    {
      g_mutex_lock (&self->lock);
      self->sources = g_list_concat (&cs->link, self->sources);
      g_mutex_unlock (&self->lock);
    }
  return source;
}
