/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "config.h"

#include <jupiter/jupiter.h>

#define COOLDOWN (10 * G_TIME_SPAN_SECOND)

/* ------------------------------------------------------------------------ */
/* A breaker on a manual clock, with its transitions recorded.               */

typedef struct {
  JupiterCircuitState old_state;
  JupiterCircuitState new_state;
} Change;

typedef struct {
  GMainContext          *context;
  GThread               *owner;
  JupiterClock          *clock;
  JupiterCircuitBreaker *breaker;
  GArray                *changes;
  guint                  wrong_thread;
} Fixture;

static void
on_state_changed (JupiterCircuitBreaker *breaker,
                  JupiterCircuitState    old_state,
                  JupiterCircuitState    new_state,
                  Fixture               *f)
{
  Change c = { old_state, new_state };

  if (g_thread_self () != f->owner)
    f->wrong_thread++;
  g_array_append_val (f->changes, c);
}

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  f->context = g_main_context_new ();
  g_main_context_push_thread_default (f->context);
  f->owner = g_thread_self ();
  f->clock = jupiter_clock_new_manual (1000 * G_TIME_SPAN_SECOND);
  f->breaker = g_object_new (JUPITER_TYPE_CIRCUIT_BREAKER,
                             "plugin-id", "flaky",
                             "clock", f->clock,
                             "failure-threshold", 3,
                             "cooldown", (gint64) COOLDOWN,
                             NULL);
  f->changes = g_array_new (FALSE, FALSE, sizeof (Change));
  g_signal_connect (f->breaker, "state-changed", G_CALLBACK (on_state_changed), f);
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  g_assert_cmpuint (f->wrong_thread, ==, 0);
  g_clear_object (&f->breaker);
  g_clear_object (&f->clock);
  g_array_unref (f->changes);
  while (g_main_context_iteration (f->context, FALSE))
    ;
  g_main_context_pop_thread_default (f->context);
  g_main_context_unref (f->context);
}

/* Runs everything that is ready on the fixture's context, without blocking. */
static void
flush (Fixture *f)
{
  while (g_main_context_iteration (f->context, FALSE))
    ;
}

static void
assert_changes (Fixture *f,
                ...)
{
  va_list args;
  guint i = 0;
  int s;

  flush (f);
  va_start (args, f);
  while ((s = va_arg (args, int)) >= 0)
    {
      JupiterCircuitState new_state = (JupiterCircuitState) va_arg (args, int);

      g_assert_cmpuint (i, <, f->changes->len);
      g_assert_cmpint (g_array_index (f->changes, Change, i).old_state, ==, s);
      g_assert_cmpint (g_array_index (f->changes, Change, i).new_state, ==, new_state);
      i++;
    }
  va_end (args);
  g_assert_cmpuint (f->changes->len, ==, i);
}

#define CLOSED JUPITER_CIRCUIT_STATE_CLOSED
#define OPEN JUPITER_CIRCUIT_STATE_OPEN
#define HALF_OPEN JUPITER_CIRCUIT_STATE_HALF_OPEN

static void
fail_n (JupiterCircuitBreaker *breaker,
        guint                  n)
{
  for (guint i = 0; i < n; i++)
    {
      JupiterCircuitPermit permit;

      g_assert_true (jupiter_circuit_breaker_acquire (breaker, &permit));
      jupiter_circuit_breaker_complete (breaker, &permit, JUPITER_CIRCUIT_OUTCOME_FAILURE);
    }
}

static void
open_breaker (Fixture *f)
{
  fail_n (f->breaker, 3);
  g_assert_cmpint (jupiter_circuit_breaker_get_state (f->breaker), ==, OPEN);
}

/* ------------------------------------------------------------------------ */

static void
test_threshold (Fixture       *f,
                gconstpointer  data)
{
  JupiterCircuitPermit permit;

  fail_n (f->breaker, 2);
  g_assert_cmpint (jupiter_circuit_breaker_get_state (f->breaker), ==, CLOSED);
  g_assert_cmpuint (jupiter_circuit_breaker_get_consecutive_failures (f->breaker), ==, 2);
  g_assert_true (jupiter_circuit_breaker_can_execute (f->breaker));

  fail_n (f->breaker, 1);   /* the third, exactly at the threshold */
  g_assert_cmpint (jupiter_circuit_breaker_get_state (f->breaker), ==, OPEN);
  g_assert_false (jupiter_circuit_breaker_can_execute (f->breaker));
  g_assert_false (jupiter_circuit_breaker_acquire (f->breaker, &permit));
  g_assert_cmpuint (jupiter_circuit_breaker_get_times_opened (f->breaker), ==, 1);
  g_assert_cmpuint (jupiter_circuit_breaker_get_total_calls (f->breaker), ==, 3);
  g_assert_cmpuint (jupiter_circuit_breaker_get_total_failures (f->breaker), ==, 3);
  g_assert_cmpint (jupiter_circuit_breaker_get_retry_in (f->breaker), ==, COOLDOWN);
  assert_changes (f, CLOSED, OPEN, -1);
}

static void
test_success_resets (Fixture       *f,
                     gconstpointer  data)
{
  JupiterCircuitPermit permit;

  fail_n (f->breaker, 2);
  g_assert_true (jupiter_circuit_breaker_acquire (f->breaker, &permit));
  jupiter_circuit_breaker_complete (f->breaker, &permit, JUPITER_CIRCUIT_OUTCOME_SUCCESS);
  g_assert_cmpuint (jupiter_circuit_breaker_get_consecutive_failures (f->breaker), ==, 0);

  fail_n (f->breaker, 2);
  g_assert_cmpint (jupiter_circuit_breaker_get_state (f->breaker), ==, CLOSED);
  /* A neutral outcome (a cancelled call) neither resets nor counts. */
  g_assert_true (jupiter_circuit_breaker_acquire (f->breaker, &permit));
  jupiter_circuit_breaker_complete (f->breaker, &permit, JUPITER_CIRCUIT_OUTCOME_NEUTRAL);
  g_assert_cmpuint (jupiter_circuit_breaker_get_consecutive_failures (f->breaker), ==, 2);
  fail_n (f->breaker, 1);
  g_assert_cmpint (jupiter_circuit_breaker_get_state (f->breaker), ==, OPEN);

  /* The permit-less API of the seed behaves the same. */
  jupiter_circuit_breaker_reset (f->breaker);
  jupiter_circuit_breaker_record_failure (f->breaker);
  jupiter_circuit_breaker_record_failure (f->breaker);
  jupiter_circuit_breaker_record_success (f->breaker);
  jupiter_circuit_breaker_record_failure (f->breaker);
  g_assert_cmpuint (jupiter_circuit_breaker_get_consecutive_failures (f->breaker), ==, 1);
  g_assert_cmpint (jupiter_circuit_breaker_get_state (f->breaker), ==, CLOSED);
  assert_changes (f, CLOSED, OPEN, OPEN, CLOSED, -1);
}

static void
test_cooldown_boundary (Fixture       *f,
                        gconstpointer  data)
{
  JupiterCircuitPermit permit;
  guint gen;

  open_breaker (f);
  assert_changes (f, CLOSED, OPEN, -1);
  gen = jupiter_circuit_breaker_get_generation (f->breaker);

  /* One microsecond before: still OPEN, and no timer has fired. */
  jupiter_clock_advance (f->clock, COOLDOWN - 1);
  flush (f);
  assert_changes (f, CLOSED, OPEN, -1);
  g_assert_cmpint (jupiter_circuit_breaker_get_retry_in (f->breaker), ==, 1);

  /* At the cooldown: the timer announces HALF_OPEN on time, by itself. */
  jupiter_clock_advance (f->clock, 1);
  while (f->changes->len < 2)
    g_main_context_iteration (f->context, TRUE);
  assert_changes (f, CLOSED, OPEN, OPEN, HALF_OPEN, -1);
  g_assert_cmpuint (jupiter_circuit_breaker_get_generation (f->breaker), ==, gen + 1);
  g_assert_cmpint (jupiter_circuit_breaker_get_retry_in (f->breaker), ==, 0);
  g_assert_true (jupiter_circuit_breaker_acquire (f->breaker, &permit));
  jupiter_circuit_breaker_complete (f->breaker, &permit, JUPITER_CIRCUIT_OUTCOME_SUCCESS);
  g_assert_cmpint (jupiter_circuit_breaker_get_state (f->breaker), ==, CLOSED);
  assert_changes (f, CLOSED, OPEN, OPEN, HALF_OPEN, HALF_OPEN, CLOSED, -1);
}

static void
test_half_open_seen_at_once (Fixture       *f,
                             gconstpointer  data)
{
  open_breaker (f);
  jupiter_clock_advance (f->clock, COOLDOWN);
  /* Without iterating the context: every getter and check sees HALF_OPEN. */
  g_assert_cmpint (jupiter_circuit_breaker_get_state (f->breaker), ==, HALF_OPEN);
  g_assert_true (jupiter_circuit_breaker_can_execute (f->breaker));
  /* The transition happened once; the timer finds nothing left to do. */
  assert_changes (f, CLOSED, OPEN, OPEN, HALF_OPEN, -1);
}

typedef struct {
  JupiterCircuitBreaker *breaker;
  GMutex                 lock;
  GCond                  cond;
  gboolean               go;
  guint                  ready;
  gint                   granted;
  JupiterCircuitPermit   permits[8];
  gboolean               got[8];
} Race;

typedef struct {
  Race *race;
  guint index;
} Racer;

static gpointer
racer_thread (gpointer data)
{
  Racer *r = data;
  Race *race = r->race;

  g_mutex_lock (&race->lock);
  race->ready++;
  g_cond_broadcast (&race->cond);
  while (!race->go)
    g_cond_wait (&race->cond, &race->lock);
  g_mutex_unlock (&race->lock);

  race->got[r->index] = jupiter_circuit_breaker_acquire (race->breaker, &race->permits[r->index]);
  if (race->got[r->index])
    g_atomic_int_inc (&race->granted);
  return NULL;
}

static void
test_half_open_race (Fixture       *f,
                     gconstpointer  data)
{
  Race race = { 0 };
  Racer racers[8];
  GThread *threads[8];

  for (guint round = 0; round < 20; round++)
    {
      jupiter_circuit_breaker_reset (f->breaker);
      jupiter_circuit_breaker_set_half_open_max_calls (f->breaker, 3);
      open_breaker (f);
      jupiter_clock_advance (f->clock, COOLDOWN);

      memset (&race, 0, sizeof race);
      race.breaker = f->breaker;
      g_mutex_init (&race.lock);
      g_cond_init (&race.cond);
      for (guint i = 0; i < 8; i++)
        {
          racers[i] = (Racer) { &race, i };
          threads[i] = g_thread_new ("racer", racer_thread, &racers[i]);
        }
      g_mutex_lock (&race.lock);
      while (race.ready < 8)
        g_cond_wait (&race.cond, &race.lock);
      race.go = TRUE;
      g_cond_broadcast (&race.cond);
      g_mutex_unlock (&race.lock);
      for (guint i = 0; i < 8; i++)
        g_thread_join (threads[i]);

      /* Exactly half-open-max-calls trials were admitted. */
      g_assert_cmpint (race.granted, ==, 3);
      g_assert_false (jupiter_circuit_breaker_can_execute (f->breaker));
      for (guint i = 0; i < 8; i++)
        if (race.got[i])
          jupiter_circuit_breaker_complete (f->breaker, &race.permits[i], JUPITER_CIRCUIT_OUTCOME_NEUTRAL);
      g_assert_true (jupiter_circuit_breaker_can_execute (f->breaker));
      g_assert_cmpint (jupiter_circuit_breaker_get_state (f->breaker), ==, HALF_OPEN);
      g_mutex_clear (&race.lock);
      g_cond_clear (&race.cond);
    }
}

static void
test_trial_expires (Fixture       *f,
                    gconstpointer  data)
{
  JupiterCircuitPermit lost, next;
  guint64 failures;

  open_breaker (f);
  jupiter_clock_advance (f->clock, COOLDOWN);
  g_assert_true (jupiter_circuit_breaker_acquire (f->breaker, &lost));
  g_assert_false (jupiter_circuit_breaker_acquire (f->breaker, &next));

  /* The trial outlives the cooldown: its slot is free again. */
  jupiter_clock_advance (f->clock, COOLDOWN - 1);
  g_assert_false (jupiter_circuit_breaker_can_execute (f->breaker));
  jupiter_clock_advance (f->clock, 1);
  g_assert_true (jupiter_circuit_breaker_can_execute (f->breaker));
  g_assert_true (jupiter_circuit_breaker_acquire (f->breaker, &next));

  /* The lost trial's late failure counts, but decides nothing. */
  failures = jupiter_circuit_breaker_get_total_failures (f->breaker);
  jupiter_circuit_breaker_complete (f->breaker, &lost, JUPITER_CIRCUIT_OUTCOME_FAILURE);
  g_assert_cmpuint (jupiter_circuit_breaker_get_total_failures (f->breaker), ==, failures + 1);
  g_assert_cmpint (jupiter_circuit_breaker_get_state (f->breaker), ==, HALF_OPEN);

  jupiter_circuit_breaker_complete (f->breaker, &next, JUPITER_CIRCUIT_OUTCOME_SUCCESS);
  g_assert_cmpint (jupiter_circuit_breaker_get_state (f->breaker), ==, CLOSED);
}

static void
test_trial_expiry_timer (Fixture       *f,
                         gconstpointer  data)
{
  JupiterCircuitPermit lost, next;

  open_breaker (f);
  jupiter_clock_advance (f->clock, COOLDOWN);
  g_assert_true (jupiter_circuit_breaker_acquire (f->breaker, &lost));
  /* The expiry is also handled by the breaker's timer on its context. */
  jupiter_clock_advance (f->clock, COOLDOWN);
  flush (f);
  g_assert_true (jupiter_circuit_breaker_acquire (f->breaker, &next));
  jupiter_circuit_breaker_complete (f->breaker, &next, JUPITER_CIRCUIT_OUTCOME_FAILURE);
  g_assert_cmpint (jupiter_circuit_breaker_get_state (f->breaker), ==, OPEN);
  jupiter_circuit_breaker_complete (f->breaker, &lost, JUPITER_CIRCUIT_OUTCOME_SUCCESS);
  g_assert_cmpint (jupiter_circuit_breaker_get_state (f->breaker), ==, OPEN);
  g_assert_cmpuint (jupiter_circuit_breaker_get_times_opened (f->breaker), ==, 2);
}

static void
test_half_open_reopens_and_success_threshold (Fixture       *f,
                                              gconstpointer  data)
{
  JupiterCircuitPermit a, b;

  jupiter_circuit_breaker_set_success_threshold (f->breaker, 2);
  jupiter_circuit_breaker_set_half_open_max_calls (f->breaker, 2);
  open_breaker (f);
  jupiter_clock_advance (f->clock, COOLDOWN);

  /* A failed trial reopens. */
  g_assert_true (jupiter_circuit_breaker_acquire (f->breaker, &a));
  jupiter_circuit_breaker_complete (f->breaker, &a, JUPITER_CIRCUIT_OUTCOME_FAILURE);
  g_assert_cmpint (jupiter_circuit_breaker_get_state (f->breaker), ==, OPEN);
  g_assert_cmpint (jupiter_circuit_breaker_get_retry_in (f->breaker), ==, COOLDOWN);

  /* Two successes close it; one is not enough. */
  jupiter_clock_advance (f->clock, COOLDOWN);
  g_assert_true (jupiter_circuit_breaker_acquire (f->breaker, &a));
  g_assert_true (jupiter_circuit_breaker_acquire (f->breaker, &b));
  jupiter_circuit_breaker_complete (f->breaker, &a, JUPITER_CIRCUIT_OUTCOME_SUCCESS);
  g_assert_cmpint (jupiter_circuit_breaker_get_state (f->breaker), ==, HALF_OPEN);
  jupiter_circuit_breaker_complete (f->breaker, &b, JUPITER_CIRCUIT_OUTCOME_SUCCESS);
  g_assert_cmpint (jupiter_circuit_breaker_get_state (f->breaker), ==, CLOSED);
  g_assert_cmpuint (jupiter_circuit_breaker_get_consecutive_failures (f->breaker), ==, 0);
  assert_changes (f, CLOSED, OPEN, OPEN, HALF_OPEN, HALF_OPEN, OPEN, OPEN, HALF_OPEN,
                  HALF_OPEN, CLOSED, -1);
}

static void
test_stale_generation (Fixture       *f,
                       gconstpointer  data)
{
  JupiterCircuitPermit permits[3];
  guint gen = jupiter_circuit_breaker_get_generation (f->breaker);

  for (guint i = 0; i < 3; i++)
    g_assert_true (jupiter_circuit_breaker_acquire (f->breaker, &permits[i]));
  jupiter_circuit_breaker_reset (f->breaker);
  g_assert_cmpuint (jupiter_circuit_breaker_get_generation (f->breaker), ==, gen + 1);

  /* Three failures of calls permitted before the reset: counted, ignored. */
  for (guint i = 0; i < 3; i++)
    jupiter_circuit_breaker_complete (f->breaker, &permits[i], JUPITER_CIRCUIT_OUTCOME_FAILURE);
  g_assert_cmpint (jupiter_circuit_breaker_get_state (f->breaker), ==, CLOSED);
  g_assert_cmpuint (jupiter_circuit_breaker_get_consecutive_failures (f->breaker), ==, 0);
  g_assert_cmpuint (jupiter_circuit_breaker_get_total_failures (f->breaker), ==, 3);

  /* A permit from CLOSED that ends after the breaker opened and reset. */
  g_assert_true (jupiter_circuit_breaker_acquire (f->breaker, &permits[0]));
  open_breaker (f);
  jupiter_circuit_breaker_reset (f->breaker);
  jupiter_circuit_breaker_complete (f->breaker, &permits[0], JUPITER_CIRCUIT_OUTCOME_FAILURE);
  g_assert_cmpuint (jupiter_circuit_breaker_get_consecutive_failures (f->breaker), ==, 0);
  assert_changes (f, CLOSED, OPEN, OPEN, CLOSED, -1);
}

static void
test_reset_keeps_lifetime_stats (Fixture       *f,
                                 gconstpointer  data)
{
  JupiterCircuitPermit permit;

  open_breaker (f);
  jupiter_circuit_breaker_record_rejected (f->breaker);
  jupiter_circuit_breaker_reset (f->breaker);
  g_assert_cmpint (jupiter_circuit_breaker_get_state (f->breaker), ==, CLOSED);
  g_assert_cmpuint (jupiter_circuit_breaker_get_consecutive_failures (f->breaker), ==, 0);
  g_assert_cmpuint (jupiter_circuit_breaker_get_total_calls (f->breaker), ==, 3);
  g_assert_cmpuint (jupiter_circuit_breaker_get_total_failures (f->breaker), ==, 3);
  g_assert_cmpuint (jupiter_circuit_breaker_get_total_rejected (f->breaker), ==, 1);
  g_assert_cmpuint (jupiter_circuit_breaker_get_times_opened (f->breaker), ==, 1);
  g_assert_true (jupiter_circuit_breaker_acquire (f->breaker, &permit));
  jupiter_circuit_breaker_complete (f->breaker, &permit, JUPITER_CIRCUIT_OUTCOME_SUCCESS);
  g_assert_cmpuint (jupiter_circuit_breaker_get_total_calls (f->breaker), ==, 4);
  /* The properties read the same counters. */
  {
    guint64 calls;
    JupiterCircuitState state;

    g_object_get (f->breaker, "total-calls", &calls, "state", &state, NULL);
    g_assert_cmpuint (calls, ==, 4);
    g_assert_cmpint (state, ==, CLOSED);
  }
}

static gpointer
fail_in_thread (gpointer data)
{
  fail_n (data, 3);
  return NULL;
}

static void
test_signals_in_order_on_owner (Fixture       *f,
                                gconstpointer  data)
{
  JupiterCircuitPermit permit;

  /* Transitions made in another thread are announced on the owner's. */
  g_thread_join (g_thread_new ("failer", fail_in_thread, f->breaker));
  jupiter_clock_advance (f->clock, COOLDOWN);
  g_assert_true (jupiter_circuit_breaker_acquire (f->breaker, &permit));
  jupiter_circuit_breaker_complete (f->breaker, &permit, JUPITER_CIRCUIT_OUTCOME_FAILURE);
  jupiter_clock_advance (f->clock, COOLDOWN);
  g_assert_true (jupiter_circuit_breaker_acquire (f->breaker, &permit));
  jupiter_circuit_breaker_complete (f->breaker, &permit, JUPITER_CIRCUIT_OUTCOME_SUCCESS);
  jupiter_circuit_breaker_reset (f->breaker);   /* CLOSED -> CLOSED: no signal */

  /* Nothing was delivered while the context did not run... */
  g_assert_cmpuint (f->changes->len, ==, 0);
  /* ...then every transition, once, in order. */
  assert_changes (f, CLOSED, OPEN, OPEN, HALF_OPEN, HALF_OPEN, OPEN, OPEN, HALF_OPEN,
                  HALF_OPEN, CLOSED, -1);
}

static void
test_double_complete (void)
{
  if (g_test_subprocess ())
    {
      g_autoptr(JupiterCircuitBreaker) breaker = jupiter_circuit_breaker_new ("twice", NULL);
      JupiterCircuitPermit permit;

      g_assert_true (jupiter_circuit_breaker_acquire (breaker, &permit));
      jupiter_circuit_breaker_complete (breaker, &permit, JUPITER_CIRCUIT_OUTCOME_SUCCESS);
      jupiter_circuit_breaker_complete (breaker, &permit, JUPITER_CIRCUIT_OUTCOME_SUCCESS);
      return;
    }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_failed ();
  g_test_trap_assert_stderr ("*permit for plugin*twice*was already completed*");
}

/* ------------------------------------------------------------------------ */
/* Clock                                                                     */

static gboolean
set_flag (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

static void
test_manual_clock_source (void)
{
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_autoptr(JupiterClock) clock = jupiter_clock_new_manual (50);
  GSource *source;
  gboolean fired = FALSE;

  g_assert_true (jupiter_clock_is_manual (clock));
  g_assert_cmpint (jupiter_clock_get_time (clock), ==, 50);
  source = jupiter_clock_timeout_source_new (clock, 150);
  g_source_set_callback (source, set_flag, &fired, NULL);
  g_source_attach (source, context);

  jupiter_clock_advance (clock, 99);
  while (g_main_context_iteration (context, FALSE))
    ;
  g_assert_false (fired);
  jupiter_clock_advance (clock, 1);
  g_assert_cmpint (jupiter_clock_get_time (clock), ==, 150);
  while (!fired)
    g_main_context_iteration (context, TRUE);
  g_assert_true (g_source_is_destroyed (source));
  g_source_unref (source);
}

static void
test_system_clock_source (void)
{
  g_autoptr(GMainContext) context = g_main_context_new ();
  JupiterClock *clock = jupiter_clock_get_system ();
  gint64 start = jupiter_clock_get_time (clock);
  GSource *source;
  gboolean fired = FALSE;

  g_assert_false (jupiter_clock_is_manual (clock));
  g_assert_true (clock == jupiter_clock_get_system ());
  source = jupiter_clock_timeout_source_new (clock, start + 2000);
  g_source_set_callback (source, set_flag, &fired, NULL);
  g_source_attach (source, context);
  while (!fired)
    g_main_context_iteration (context, TRUE);
  g_assert_cmpint (g_get_monotonic_time (), >=, start + 2000);
  g_source_unref (source);
}

/* ------------------------------------------------------------------------ */
/* Registry                                                                  */

typedef struct {
  guint count;
  guint wrong_plugin;
} DetailCount;

static void
on_breaker_changed (JupiterCircuitBreakerRegistry *registry,
                    JupiterCircuitBreaker         *breaker,
                    JupiterCircuitState            old_state,
                    JupiterCircuitState            new_state,
                    DetailCount                   *c)
{
  if (g_strcmp0 (jupiter_circuit_breaker_get_plugin_id (breaker), "a") != 0)
    c->wrong_plugin++;
  c->count++;
}

static void
test_registry (void)
{
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_autoptr(JupiterClock) clock = jupiter_clock_new_manual (0);
  g_autoptr(JupiterCircuitBreakerRegistry) registry = NULL;
  g_autoptr(GPtrArray) open = NULL;
  g_autoptr(GPtrArray) all = NULL;
  JupiterCircuitBreakerConfig config = { .failure_threshold = 1, .cooldown = 5 };
  JupiterCircuitBreaker *a, *b;
  JupiterCircuitBreakerStats stats;
  DetailCount c = { 0 };

  g_main_context_push_thread_default (context);
  registry = g_object_new (JUPITER_TYPE_CIRCUIT_BREAKER_REGISTRY,
                           "clock", clock, "failure-threshold", 2, NULL);
  g_signal_connect (registry, "breaker-state-changed::a", G_CALLBACK (on_breaker_changed), &c);

  a = jupiter_circuit_breaker_registry_get_or_create (registry, "a", &config);
  b = jupiter_circuit_breaker_registry_get_or_create (registry, "b", NULL);
  g_assert_true (jupiter_circuit_breaker_registry_get_or_create (registry, "a", NULL) == a);
  g_assert_true (jupiter_circuit_breaker_registry_get (registry, "b") == b);
  g_assert_null (jupiter_circuit_breaker_registry_get (registry, "c"));
  g_assert_cmpuint (jupiter_circuit_breaker_get_failure_threshold (a), ==, 1);
  g_assert_cmpint (jupiter_circuit_breaker_get_cooldown (a), ==, 5);
  g_assert_cmpuint (jupiter_circuit_breaker_get_failure_threshold (b), ==, 2);
  g_assert_cmpint (jupiter_circuit_breaker_get_cooldown (b), ==, 30 * G_TIME_SPAN_SECOND);
  g_assert_true (jupiter_circuit_breaker_registry_get_clock (registry) == clock);

  jupiter_circuit_breaker_record_failure (a);
  jupiter_circuit_breaker_record_failure (b);
  jupiter_circuit_breaker_record_failure (b);
  jupiter_circuit_breaker_record_rejected (b);
  open = jupiter_circuit_breaker_registry_list_open (registry);
  g_assert_cmpuint (open->len, ==, 2);
  g_assert_true (open->pdata[0] == a);

  /* a's cooldown passes: it is half-open, so no longer listed as open. */
  jupiter_clock_advance (clock, 5);
  g_clear_pointer (&open, g_ptr_array_unref);
  open = jupiter_circuit_breaker_registry_list_open (registry);
  g_assert_cmpuint (open->len, ==, 1);
  g_assert_true (open->pdata[0] == b);

  jupiter_circuit_breaker_registry_get_stats (registry, &stats);
  g_assert_cmpuint (stats.breakers, ==, 2);
  g_assert_cmpuint (stats.open, ==, 1);
  g_assert_cmpuint (stats.half_open, ==, 1);
  g_assert_cmpuint (stats.closed, ==, 0);
  g_assert_cmpuint (stats.total_calls, ==, 3);
  g_assert_cmpuint (stats.total_failures, ==, 3);
  g_assert_cmpuint (stats.total_rejected, ==, 1);
  g_assert_cmpuint (stats.times_opened, ==, 2);

  jupiter_circuit_breaker_registry_reset_all (registry);
  jupiter_circuit_breaker_registry_get_stats (registry, &stats);
  g_assert_cmpuint (stats.closed, ==, 2);
  all = jupiter_circuit_breaker_registry_list (registry);
  g_assert_cmpuint (all->len, ==, 2);

  while (g_main_context_iteration (context, FALSE))
    ;
  /* a: CLOSED->OPEN, OPEN->HALF_OPEN, HALF_OPEN->CLOSED; b is not seen. */
  g_assert_cmpuint (c.count, ==, 3);
  g_assert_cmpuint (c.wrong_plugin, ==, 0);

  g_clear_object (&registry);
  g_main_context_pop_thread_default (context);
}

/* ------------------------------------------------------------------------ */
/* Through the job manager                                                   */

typedef struct {
  GMutex   lock;
  GCond    cond;
  gboolean open;
  guint    entered;
} Gate;

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

typedef struct {
  Gate    *gate;       /* nullable */
  gboolean fail;
} Behaviour;

static void
async_keep_nothing (JupiterJobContext *context,
                    gpointer           user_data)
{
  jupiter_job_context_return_result (context, NULL);
}

static JsonNode *
job_behave (JupiterJobContext *context,
            gpointer           user_data,
            GError           **error)
{
  Behaviour *b = user_data;

  if (b->gate)
    {
      g_mutex_lock (&b->gate->lock);
      b->gate->entered++;
      g_cond_broadcast (&b->gate->cond);
      while (!b->gate->open)
        g_cond_wait (&b->gate->cond, &b->gate->lock);
      g_mutex_unlock (&b->gate->lock);
    }
  if (b->fail)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED, "plugin is broken");
      return NULL;
    }
  return json_node_init_boolean (json_node_alloc (), TRUE);
}

static const Behaviour ok = { NULL, FALSE };
static const Behaviour broken = { NULL, TRUE };

typedef struct {
  GMainContext      *context;
  JupiterClock      *clock;
  JupiterJobManager *manager;
  GArray            *changes;     /* of Change, for plugin "bad" */
} MFixture;

static void
on_manager_breaker_changed (JupiterCircuitBreakerRegistry *registry,
                            JupiterCircuitBreaker         *breaker,
                            JupiterCircuitState            old_state,
                            JupiterCircuitState            new_state,
                            MFixture                      *f)
{
  Change c = { old_state, new_state };
  g_array_append_val (f->changes, c);
}

static void
mfixture_setup (MFixture      *f,
                gconstpointer  data)
{
  f->context = g_main_context_new ();
  g_main_context_push_thread_default (f->context);
  f->clock = jupiter_clock_new_manual (0);
  f->manager = g_object_new (JUPITER_TYPE_JOB_MANAGER,
                             "max-concurrent", 4,
                             "clock", f->clock,
                             "circuit-breaker-threshold", 3,
                             "circuit-breaker-cooldown", (gint64) COOLDOWN,
                             NULL);
  f->changes = g_array_new (FALSE, FALSE, sizeof (Change));
  g_signal_connect (jupiter_job_manager_get_circuit_breaker_registry (f->manager),
                    "breaker-state-changed::bad", G_CALLBACK (on_manager_breaker_changed), f);
}

static void
mfixture_teardown (MFixture      *f,
                   gconstpointer  data)
{
  g_assert_true (jupiter_job_manager_shutdown (f->manager, 30 * G_TIME_SPAN_SECOND, NULL));
  g_clear_object (&f->manager);
  g_clear_object (&f->clock);
  g_array_unref (f->changes);
  g_main_context_pop_thread_default (f->context);
  g_main_context_unref (f->context);
}

static char *
msubmit (MFixture        *f,
         const char      *plugin_id,
         const Behaviour *b,
         JupiterJobFlags  flags,
         GTimeSpan        timeout,
         GError         **error)
{
  g_autoptr(JupiterJobOptions) options = jupiter_job_options_new ("guarded");

  jupiter_job_options_set_plugin_id (options, plugin_id);
  jupiter_job_options_set_flags (options, flags);
  jupiter_job_options_set_timeout (options, timeout);
  return jupiter_job_manager_submit (f->manager, options, job_behave, (gpointer) b, NULL, error);
}

static JupiterJob *
mrun (MFixture        *f,
      const char      *plugin_id,
      const Behaviour *b)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *id = msubmit (f, plugin_id, b, 0, 0, &error);

  g_assert_no_error (error);
  return jupiter_job_manager_wait (f->manager, id, NULL, NULL);
}

static void
open_bad (MFixture *f)
{
  for (guint i = 0; i < 3; i++)
    jupiter_job_unref (mrun (f, "bad", &broken));
  g_assert_true (jupiter_job_manager_is_circuit_open (f->manager, "bad"));
}

static void
test_manager_opens_and_rejects (MFixture      *f,
                                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *id = NULL;
  g_autoptr(JupiterJob) good = NULL;
  g_auto(GStrv) open = NULL;
  JupiterJobStats stats;
  JupiterCircuitBreakerStats bstats;
  JupiterCircuitBreaker *breaker;

  jupiter_job_unref (mrun (f, "bad", &broken));
  jupiter_job_unref (mrun (f, "bad", &broken));
  g_assert_cmpint (jupiter_job_manager_get_circuit_breaker_state (f->manager, "bad"), ==, CLOSED);
  jupiter_job_unref (mrun (f, "bad", &broken));
  g_assert_cmpint (jupiter_job_manager_get_circuit_breaker_state (f->manager, "bad"), ==, OPEN);
  while (f->changes->len < 1)
    g_main_context_iteration (f->context, TRUE);
  g_assert_cmpint (g_array_index (f->changes, Change, 0).new_state, ==, OPEN);

  id = msubmit (f, "bad", &ok, 0, 0, &error);
  g_assert_null (id);
  g_assert_error (error, JUPITER_JOB_ERROR, JUPITER_JOB_ERROR_CIRCUIT_OPEN);
  g_assert_nonnull (strstr (error->message, "“bad”"));
  g_assert_nonnull (strstr (error->message, "10.0 s"));

  /* Other plugins run on. */
  good = mrun (f, "good", &ok);
  g_assert_cmpint (jupiter_job_get_status (good), ==, JUPITER_JOB_STATUS_COMPLETED);

  jupiter_job_manager_get_stats (f->manager, &stats);
  g_assert_cmpuint (stats.rejected, ==, 1);
  g_assert_cmpuint (stats.total_failed, ==, 3);
  breaker = jupiter_job_manager_get_circuit_breaker (f->manager, "bad");
  g_assert_nonnull (breaker);
  g_assert_cmpuint (jupiter_circuit_breaker_get_total_rejected (breaker), ==, 1);
  g_assert_cmpuint (jupiter_circuit_breaker_get_total_calls (breaker), ==, 3);
  open = jupiter_job_manager_list_open_circuits (f->manager);
  g_assert_cmpstrv (open, ((const char *[]) { "bad", NULL }));
  jupiter_job_manager_get_circuit_breaker_stats (f->manager, &bstats);
  g_assert_cmpuint (bstats.breakers, ==, 2);
  g_assert_cmpuint (bstats.open, ==, 1);
  g_assert_cmpuint (bstats.closed, ==, 1);
  g_assert_cmpuint (bstats.total_failures, ==, 3);

  /* Reset through the manager: jobs are accepted again. */
  g_assert_true (jupiter_job_manager_reset_circuit_breaker (f->manager, "bad"));
  g_assert_false (jupiter_job_manager_reset_circuit_breaker (f->manager, "nobody"));
  jupiter_job_unref (mrun (f, "bad", &ok));
  /* Jobs without a plugin id are not guarded. */
  g_assert_null (jupiter_job_manager_get_circuit_breaker (f->manager, ""));
}

static void
test_manager_queued_fail_on_open (MFixture      *f,
                                  gconstpointer  data)
{
  Gate gate = { 0 };
  Behaviour blocked_fail = { &gate, TRUE };
  g_autoptr(GPtrArray) ids = g_ptr_array_new_with_free_func (g_free);
  JupiterJobStats stats;

  jupiter_job_manager_set_plugin_max_concurrent (f->manager, "bad", 1);
  jupiter_job_unref (mrun (f, "bad", &broken));
  jupiter_job_unref (mrun (f, "bad", &broken));
  /* The third failure is running while three more jobs wait behind it. */
  g_ptr_array_add (ids, msubmit (f, "bad", &blocked_fail, 0, 0, NULL));
  gate_wait_entered (&gate, 1);
  for (guint i = 0; i < 3; i++)
    g_ptr_array_add (ids, msubmit (f, "bad", &ok, 0, 0, NULL));
  gate_open (&gate);
  g_assert_true (jupiter_job_manager_wait_idle (f->manager, NULL, NULL));

  for (guint i = 1; i < ids->len; i++)
    {
      g_autoptr(JupiterJob) job = jupiter_job_manager_get (f->manager, ids->pdata[i], NULL);

      g_assert_cmpint (jupiter_job_get_status (job), ==, JUPITER_JOB_STATUS_FAILED);
      g_assert_error ((GError *) jupiter_job_get_error (job), JUPITER_JOB_ERROR, JUPITER_JOB_ERROR_CIRCUIT_OPEN);
      g_assert_cmpint (jupiter_job_get_started_at (job), ==, 0);
    }
  jupiter_job_manager_get_stats (f->manager, &stats);
  g_assert_cmpuint (stats.total_failed, ==, 6);
  /* Rejections, not calls or failures of the plugin. */
  g_assert_cmpuint (jupiter_circuit_breaker_get_total_calls (jupiter_job_manager_get_circuit_breaker (f->manager, "bad")), ==, 3);
  g_assert_cmpuint (jupiter_circuit_breaker_get_total_rejected (jupiter_job_manager_get_circuit_breaker (f->manager, "bad")), ==, 3);
  g_mutex_clear (&gate.lock);
  g_cond_clear (&gate.cond);
}

static void
test_manager_half_open (MFixture      *f,
                        gconstpointer  data)
{
  Gate gate = { 0 };
  Behaviour trial = { &gate, FALSE };
  g_autofree char *trial_id = NULL;
  g_autoptr(GPtrArray) waiting = g_ptr_array_new_with_free_func (g_free);

  open_bad (f);
  jupiter_clock_advance (f->clock, COOLDOWN);
  g_assert_cmpint (jupiter_job_manager_get_circuit_breaker_state (f->manager, "bad"), ==, HALF_OPEN);

  trial_id = msubmit (f, "bad", &trial, 0, 0, NULL);
  gate_wait_entered (&gate, 1);
  for (guint i = 0; i < 3; i++)
    g_ptr_array_add (waiting, msubmit (f, "bad", &ok, 0, 0, NULL));
  /* One trial runs; the rest wait behind it (slots are free). */
  g_assert_cmpuint (jupiter_job_manager_count (f->manager, JUPITER_JOB_STATUS_RUNNING, "bad"), ==, 1);
  g_assert_cmpuint (jupiter_job_manager_count (f->manager, JUPITER_JOB_STATUS_PENDING, "bad"), ==, 3);

  /* The trial succeeds: the breaker closes and the rest run. */
  gate_open (&gate);
  g_assert_true (jupiter_job_manager_wait_idle (f->manager, NULL, NULL));
  g_assert_cmpint (jupiter_job_manager_get_circuit_breaker_state (f->manager, "bad"), ==, CLOSED);
  for (guint i = 0; i < waiting->len; i++)
    {
      g_autoptr(JupiterJob) job = jupiter_job_manager_get (f->manager, waiting->pdata[i], NULL);
      g_assert_cmpint (jupiter_job_get_status (job), ==, JUPITER_JOB_STATUS_COMPLETED);
    }
  /* open, half-open, closed: announced by the breaker's own source */
  while (f->changes->len < 3)
    g_main_context_iteration (f->context, TRUE);
  g_assert_cmpint (g_array_index (f->changes, Change, 2).new_state, ==, CLOSED);
  while (g_main_context_iteration (f->context, FALSE))
    ;
  g_assert_cmpuint (f->changes->len, ==, 3);
  g_mutex_clear (&gate.lock);
  g_cond_clear (&gate.cond);
}

static void
test_manager_half_open_fails (MFixture      *f,
                              gconstpointer  data)
{
  Gate gate = { 0 };
  Behaviour trial = { &gate, TRUE };
  g_autofree char *trial_id = NULL;
  g_autoptr(GPtrArray) waiting = g_ptr_array_new_with_free_func (g_free);

  open_bad (f);
  jupiter_clock_advance (f->clock, COOLDOWN);
  trial_id = msubmit (f, "bad", &trial, 0, 0, NULL);
  gate_wait_entered (&gate, 1);
  for (guint i = 0; i < 2; i++)
    g_ptr_array_add (waiting, msubmit (f, "bad", &ok, 0, 0, NULL));

  /* The trial fails: the breaker reopens and the waiting jobs fail. */
  gate_open (&gate);
  g_assert_true (jupiter_job_manager_wait_idle (f->manager, NULL, NULL));
  g_assert_true (jupiter_job_manager_is_circuit_open (f->manager, "bad"));
  for (guint i = 0; i < waiting->len; i++)
    {
      g_autoptr(JupiterJob) job = jupiter_job_manager_get (f->manager, waiting->pdata[i], NULL);
      g_assert_error ((GError *) jupiter_job_get_error (job), JUPITER_JOB_ERROR, JUPITER_JOB_ERROR_CIRCUIT_OPEN);
    }
  g_mutex_clear (&gate.lock);
  g_cond_clear (&gate.cond);
}

static void
test_manager_bypass (MFixture      *f,
                     gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *id = NULL;
  g_autoptr(JupiterJob) job = NULL;
  JupiterCircuitBreaker *breaker;
  guint gen;

  open_bad (f);
  breaker = jupiter_job_manager_get_circuit_breaker (f->manager, "bad");
  gen = jupiter_circuit_breaker_get_generation (breaker);

  id = msubmit (f, "bad", &broken, JUPITER_JOB_FLAGS_BYPASS_CIRCUIT_BREAKER, 0, &error);
  g_assert_no_error (error);
  job = jupiter_job_manager_wait (f->manager, id, NULL, NULL);
  g_assert_cmpint (jupiter_job_get_status (job), ==, JUPITER_JOB_STATUS_FAILED);
  g_assert_error ((GError *) jupiter_job_get_error (job), G_IO_ERROR, G_IO_ERROR_FAILED);
  /* Counted, but the state did not move. */
  g_assert_cmpuint (jupiter_circuit_breaker_get_total_calls (breaker), ==, 4);
  g_assert_cmpuint (jupiter_circuit_breaker_get_total_failures (breaker), ==, 4);
  g_assert_cmpuint (jupiter_circuit_breaker_get_generation (breaker), ==, gen);
  g_assert_true (jupiter_job_manager_is_circuit_open (f->manager, "bad"));
}

static JsonNode *
job_stuck (JupiterJobContext *context,
           gpointer           user_data,
           GError           **error)
{
  Gate *gate = user_data;

  /* Ignores cancellation: waits for the test to let it go. */
  g_mutex_lock (&gate->lock);
  gate->entered++;
  g_cond_broadcast (&gate->cond);
  while (!gate->open)
    g_cond_wait (&gate->cond, &gate->lock);
  g_mutex_unlock (&gate->lock);
  return NULL;
}

static void
test_manager_timeout_is_failure (MFixture      *f,
                                 gconstpointer  data)
{
  Gate gate = { 0 };
  g_autoptr(JupiterJobOptions) options = jupiter_job_options_new ("stuck");
  g_autoptr(JupiterJob) job = NULL;
  g_autofree char *id = NULL;

  jupiter_job_unref (mrun (f, "bad", &broken));
  jupiter_job_unref (mrun (f, "bad", &broken));
  jupiter_job_options_set_plugin_id (options, "bad");
  jupiter_job_options_set_timeout (options, 5 * 1000);
  id = jupiter_job_manager_submit (f->manager, options, job_stuck, &gate, NULL, NULL);
  job = jupiter_job_manager_wait (f->manager, id, NULL, NULL);
  g_assert_error ((GError *) jupiter_job_get_error (job), JUPITER_JOB_ERROR, JUPITER_JOB_ERROR_TIMED_OUT);
  /* The timeout was the third consecutive failure. */
  g_assert_true (jupiter_job_manager_is_circuit_open (f->manager, "bad"));
  gate_open (&gate);
  g_assert_true (jupiter_job_manager_shutdown (f->manager, 30 * G_TIME_SPAN_SECOND, NULL));
  g_mutex_clear (&gate.lock);
  g_cond_clear (&gate.cond);
}

static JsonNode *
job_until_cancelled (JupiterJobContext *context,
                     gpointer           user_data,
                     GError           **error)
{
  Gate *gate = user_data;
  GCancellable *cancellable = jupiter_job_context_get_cancellable (context);

  g_mutex_lock (&gate->lock);
  gate->entered++;
  g_cond_broadcast (&gate->cond);
  g_mutex_unlock (&gate->lock);
  /* Blocks on the cancellable's fd-less condition: poll the flag on a cond. */
  g_mutex_lock (&gate->lock);
  while (!g_cancellable_is_cancelled (cancellable))
    g_cond_wait (&gate->cond, &gate->lock);
  g_mutex_unlock (&gate->lock);
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CANCELLED, "stopped");
  return NULL;
}

static void
wake_gate (GCancellable *cancellable,
           gpointer      data)
{
  Gate *gate = data;

  g_mutex_lock (&gate->lock);
  g_cond_broadcast (&gate->cond);
  g_mutex_unlock (&gate->lock);
}

static JsonNode *
job_until_cancelled_wrapper (JupiterJobContext *context,
                             gpointer           user_data,
                             GError           **error)
{
  gulong handler = g_cancellable_connect (jupiter_job_context_get_cancellable (context),
                                          G_CALLBACK (wake_gate), user_data, NULL);
  JsonNode *ret = job_until_cancelled (context, user_data, error);

  g_cancellable_disconnect (jupiter_job_context_get_cancellable (context), handler);
  return ret;
}

static void
test_manager_cancel_is_neutral (MFixture      *f,
                                gconstpointer  data)
{
  Gate gate = { 0 };
  g_autoptr(JupiterJobOptions) options = jupiter_job_options_new ("cancelled");
  g_autoptr(JupiterJob) job = NULL;
  g_autofree char *id = NULL;
  JupiterCircuitBreaker *breaker;

  jupiter_job_unref (mrun (f, "bad", &broken));
  jupiter_job_unref (mrun (f, "bad", &broken));
  jupiter_job_options_set_plugin_id (options, "bad");
  id = jupiter_job_manager_submit (f->manager, options, job_until_cancelled_wrapper, &gate, NULL, NULL);
  gate_wait_entered (&gate, 1);
  g_assert_true (jupiter_job_manager_cancel (f->manager, id, NULL));
  job = jupiter_job_manager_wait (f->manager, id, NULL, NULL);
  g_assert_cmpint (jupiter_job_get_status (job), ==, JUPITER_JOB_STATUS_CANCELLED);

  /* Neither a success (the count stays) nor a failure (still closed). */
  breaker = jupiter_job_manager_get_circuit_breaker (f->manager, "bad");
  g_assert_cmpint (jupiter_circuit_breaker_get_state (breaker), ==, CLOSED);
  g_assert_cmpuint (jupiter_circuit_breaker_get_consecutive_failures (breaker), ==, 2);
  g_mutex_clear (&gate.lock);
  g_cond_clear (&gate.cond);
}

static void
test_manager_disabled (MFixture      *f,
                       gconstpointer  data)
{
  g_object_set (f->manager, "enable-circuit-breaker", FALSE, NULL);
  for (guint i = 0; i < 5; i++)
    jupiter_job_unref (mrun (f, "bad", &broken));
  g_assert_null (jupiter_job_manager_get_circuit_breaker (f->manager, "bad"));
  g_assert_cmpint (jupiter_job_manager_get_circuit_breaker_state (f->manager, "bad"), ==, CLOSED);
}

/* ------------------------------------------------------------------------ */
/* Regressions                                                               */

typedef struct {
  JupiterCircuitBreaker *breaker;
  JupiterCircuitPermit  *permits;
  guint                  from, to;
} StaleWorker;

static gpointer
stale_worker (gpointer data)
{
  StaleWorker *w = data;

  for (guint i = w->from; i < w->to; i++)
    jupiter_circuit_breaker_complete (w->breaker, &w->permits[i], JUPITER_CIRCUIT_OUTCOME_FAILURE);
  return NULL;
}

static void
test_stale_failures_racing_reset (Fixture       *f,
                                  gconstpointer  data)
{
  guint n = 20000;

  g_test_summary ("Failures of an older generation never count in a newer one, "
                  "even when they race with the reset that ends theirs.");
  jupiter_circuit_breaker_set_failure_threshold (f->breaker, G_MAXINT);
  for (guint round = 0; round < 10; round++)
    {
      g_autofree JupiterCircuitPermit *permits = g_new0 (JupiterCircuitPermit, n);
      StaleWorker workers[4];
      GThread *threads[4];

      for (guint i = 0; i < n; i++)
        g_assert_true (jupiter_circuit_breaker_acquire (f->breaker, &permits[i]));
      for (guint t = 0; t < 4; t++)
        {
          workers[t] = (StaleWorker) { f->breaker, permits, t * n / 4, (t + 1) * n / 4 };
          threads[t] = g_thread_new ("stale", stale_worker, &workers[t]);
        }
      jupiter_circuit_breaker_reset (f->breaker);   /* mid-way */
      for (guint t = 0; t < 4; t++)
        g_thread_join (threads[t]);
      g_assert_cmpuint (jupiter_circuit_breaker_get_consecutive_failures (f->breaker), ==, 0);
    }
}

static void
test_manager_shutdown_with_open_breaker (void)
{
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_autoptr(JupiterClock) clock = jupiter_clock_new_manual (0);
  g_autoptr(JupiterJobOptions) options = jupiter_job_options_new ("queued");
  JupiterJobManager *manager;

  g_test_summary ("Shutting down a manager whose breaker opened while its "
                  "plugin had queued jobs cancels each job once.");
  g_main_context_push_thread_default (context);
  for (guint how = 0; how < 2; how++)
    {
      JupiterCircuitBreaker *breaker;

      manager = g_object_new (JUPITER_TYPE_JOB_MANAGER, "clock", clock,
                              "max-concurrent-per-plugin", 1, "circuit-breaker-threshold", 1, NULL);
      jupiter_job_options_set_plugin_id (options, "p");
      /* Async jobs: the first holds its permit, STARTING, as the context
       * is not iterated; five more wait behind it. */
      for (guint i = 0; i < 6; i++)
        g_free (jupiter_job_manager_submit_async_func (manager, options, async_keep_nothing, NULL, NULL, NULL));
      breaker = jupiter_job_manager_get_circuit_breaker (manager, "p");
      jupiter_circuit_breaker_record_failure (breaker);
      g_assert_cmpint (jupiter_circuit_breaker_get_state (breaker), ==, OPEN);
      if (how == 0)
        g_assert_true (jupiter_job_manager_shutdown (manager, 0, NULL));
      g_object_unref (manager);   /* how == 1: disposed without a shutdown */
    }
  g_main_context_pop_thread_default (context);
}

static void
test_manager_trial_expiry_by_check (MFixture      *f,
                                    gconstpointer  data)
{
  Gate gate = { 0 };
  Behaviour hung = { &gate, FALSE };
  g_autofree char *trial = NULL;
  g_autofree char *waiting = NULL;

  g_test_summary ("A trial slot freed by someone else's check still lets the "
                  "waiting jobs of the plugin run.");
  open_bad (f);
  jupiter_clock_advance (f->clock, COOLDOWN);
  trial = msubmit (f, "bad", &hung, 0, 0, NULL);
  gate_wait_entered (&gate, 1);
  waiting = msubmit (f, "bad", &ok, 0, 0, NULL);
  g_assert_cmpint (jupiter_job_manager_get_circuit_breaker_state (f->manager, "bad"), ==, HALF_OPEN);

  /* The hung trial outlives the cooldown; a check frees its slot. */
  jupiter_clock_advance (f->clock, COOLDOWN);
  g_assert_true (jupiter_circuit_breaker_can_execute (jupiter_job_manager_get_circuit_breaker (f->manager, "bad")));
  jupiter_job_unref (jupiter_job_manager_wait (f->manager, waiting, NULL, NULL));
  {
    g_autoptr(JupiterJob) job = jupiter_job_manager_get (f->manager, waiting, NULL);
    g_assert_cmpint (jupiter_job_get_status (job), ==, JUPITER_JOB_STATUS_COMPLETED);
  }
  gate_open (&gate);
  g_assert_true (jupiter_job_manager_wait_idle (f->manager, NULL, NULL));
  g_mutex_clear (&gate.lock);
  g_cond_clear (&gate.cond);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  (void) g_io_error_quark ();

#define ADD(path, func) g_test_add ("/circuit-breaker/" path, Fixture, NULL, fixture_setup, func, fixture_teardown)
  ADD ("threshold", test_threshold);
  ADD ("success-resets", test_success_resets);
  ADD ("cooldown-boundary", test_cooldown_boundary);
  ADD ("half-open-seen-at-once", test_half_open_seen_at_once);
  ADD ("half-open-race", test_half_open_race);
  ADD ("trial-expires", test_trial_expires);
  ADD ("trial-expiry-timer", test_trial_expiry_timer);
  ADD ("half-open-reopens-success-threshold", test_half_open_reopens_and_success_threshold);
  ADD ("stale-generation", test_stale_generation);
  ADD ("reset-keeps-lifetime-stats", test_reset_keeps_lifetime_stats);
  ADD ("signals-in-order-on-owner", test_signals_in_order_on_owner);
  ADD ("regression/stale-failures-racing-reset", test_stale_failures_racing_reset);
#undef ADD
  g_test_add_func ("/circuit-breaker/double-complete", test_double_complete);
  g_test_add_func ("/circuit-breaker/clock/manual-source", test_manual_clock_source);
  g_test_add_func ("/circuit-breaker/clock/system-source", test_system_clock_source);
  g_test_add_func ("/circuit-breaker/registry", test_registry);
  g_test_add_func ("/circuit-breaker/regression/shutdown-with-open-breaker", test_manager_shutdown_with_open_breaker);
#define MADD(path, func) g_test_add ("/circuit-breaker/manager/" path, MFixture, NULL, mfixture_setup, func, mfixture_teardown)
  MADD ("opens-and-rejects", test_manager_opens_and_rejects);
  MADD ("queued-fail-on-open", test_manager_queued_fail_on_open);
  MADD ("half-open-trial-closes", test_manager_half_open);
  MADD ("half-open-trial-fails", test_manager_half_open_fails);
  MADD ("bypass", test_manager_bypass);
  MADD ("timeout-is-failure", test_manager_timeout_is_failure);
  MADD ("cancel-is-neutral", test_manager_cancel_is_neutral);
  MADD ("disabled", test_manager_disabled);
  MADD ("regression/trial-expiry-by-check", test_manager_trial_expiry_by_check);
#undef MADD

  return g_test_run ();
}
