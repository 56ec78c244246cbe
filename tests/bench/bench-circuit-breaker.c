/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench-circuit-breaker: the cost of a closed JupiterCircuitBreaker's fast
 * paths, next to the bare primitives they are built from.
 *
 * Arms, one thread:
 *
 *  1. check: jupiter_circuit_breaker_can_execute() on a CLOSED breaker;
 *  2. bare atomic read: g_atomic_int_get() on an int;
 *  3. permit: jupiter_circuit_breaker_acquire() and
 *     jupiter_circuit_breaker_complete (…, SUCCESS), the permit on the stack;
 *  4. bare CAS: read the int, g_atomic_int_compare_and_exchange() it to
 *     value + 1 (retried until it succeeds, so every iteration is one
 *     successful CAS);
 *  5. GMutex: g_mutex_lock() and g_mutex_unlock().
 *
 * Arms 6-9 run 1, 3, 4 and 5 from two threads at once on the same breaker,
 * the same int and the same mutex. Both threads wait on a GMutex + GCond
 * barrier; the span runs from their release until both are joined, and is
 * reported per operation per thread (each thread runs N iterations).
 *
 * Results are summed into a local and stored once into a volatile sink at
 * the end of each loop: a volatile read-modify-write per iteration would be
 * a store-to-load dependency of several cycles, longer than the bare atomic
 * read it would be measuring.
 *
 * N is chosen per arm so that one run takes about TARGET_SPAN_MS: the arm is
 * run with doubling N until a run takes CALIBRATE_MIN_MS, then scaled.
 * Every arm runs JUPITER_BENCH_REPS times (default 5), the arms alternating;
 * the best run is reported, the median alongside. Usage:
 * bench-circuit-breaker [N] fixes N for every arm (also from
 * JUPITER_BENCH_ITERS).
 *
 * The exit status is 0 whatever the timings are; it is non-zero only when
 * the breaker leaves CLOSED (a refused check or permit, a state or
 * generation other than CLOSED/0 afterwards) or its total-calls count
 * differs from the number of permits taken.
 */

#include "config.h"

#include <jupiter/jupiter.h>

#include "bench-common.h"

#include <locale.h>
#include <stdlib.h>

#define DEFAULT_REPS          5
#define TARGET_SPAN_MS        500
#define CALIBRATE_MIN_MS      40
#define CALIBRATE_START       (G_GUINT64_CONSTANT (1) << 16)
#define MAX_ITERATIONS        (G_GUINT64_CONSTANT (4000000000))

#define TARGET_CHECK_NS       3.0
#define TARGET_PERMIT_RATIO   2.0

typedef struct {
  JupiterCircuitBreaker *breaker;

  /* Each on its own cache line, away from the counters below. */
  gint     read_word    __attribute__ ((aligned (64)));
  gint     cas_word     __attribute__ ((aligned (64)));
  GMutex   mutex        __attribute__ ((aligned (64)));

  /* Updated once per loop, atomically. */
  guint64  permits      __attribute__ ((aligned (64)));
  guint64  refused_checks;
  guint64  refused_permits;
  guint64  cas_retries;
} Bench;

typedef void (*ArmFunc) (Bench *bench, guint64 n);

static volatile guint64 sink;

/* ------------------------------------------------------------------------ */
/* Loops                                                                     */

static void
loop_check (Bench   *bench,
            guint64  n)
{
  JupiterCircuitBreaker *breaker = bench->breaker;
  guint64 sum = 0;

  for (guint64 i = 0; i < n; i++)
    sum += jupiter_circuit_breaker_can_execute (breaker);

  sink = sum;
  if (sum != n)
    __atomic_add_fetch (&bench->refused_checks, n - sum, __ATOMIC_RELAXED);
}

static void
loop_atomic_read (Bench   *bench,
                  guint64  n)
{
  gint *word = &bench->read_word;
  guint64 sum = 0;

  for (guint64 i = 0; i < n; i++)
    sum += (guint) g_atomic_int_get (word);

  sink = sum;
}

static void
loop_permit (Bench   *bench,
             guint64  n)
{
  JupiterCircuitBreaker *breaker = bench->breaker;
  guint64 granted = 0;

  for (guint64 i = 0; i < n; i++)
    {
      JupiterCircuitPermit permit;

      if (G_LIKELY (jupiter_circuit_breaker_acquire (breaker, &permit)))
        {
          jupiter_circuit_breaker_complete (breaker, &permit,
                                            JUPITER_CIRCUIT_OUTCOME_SUCCESS);
          granted++;
        }
    }

  sink = granted;
  __atomic_add_fetch (&bench->permits, granted, __ATOMIC_RELAXED);
  if (granted != n)
    __atomic_add_fetch (&bench->refused_permits, n - granted, __ATOMIC_RELAXED);
}

static void
loop_cas (Bench   *bench,
          guint64  n)
{
  gint *word = &bench->cas_word;
  guint64 retries = 0;

  for (guint64 i = 0; i < n; i++)
    {
      gint v = g_atomic_int_get (word);

      /* Unsigned arithmetic: the int wraps over a long run. */
      while (!g_atomic_int_compare_and_exchange (word, v, (gint) ((guint) v + 1u)))
        {
          v = g_atomic_int_get (word);
          retries++;
        }
    }

  sink = retries;
  if (retries != 0)
    __atomic_add_fetch (&bench->cas_retries, retries, __ATOMIC_RELAXED);
}

static void
loop_mutex (Bench   *bench,
            guint64  n)
{
  GMutex *mutex = &bench->mutex;

  for (guint64 i = 0; i < n; i++)
    {
      g_mutex_lock (mutex);
      g_mutex_unlock (mutex);
    }
}

/* ------------------------------------------------------------------------ */
/* Running an arm                                                            */

typedef struct {
  Bench   *bench;
  ArmFunc  func;
  guint64  n;

  GMutex   lock;
  GCond    cond;
  guint    ready;      /* guarded by lock */
  gboolean go;         /* guarded by lock */
} Race;

static gpointer
race_thread (gpointer data)
{
  Race *race = data;

  g_mutex_lock (&race->lock);
  race->ready++;
  g_cond_broadcast (&race->cond);
  while (!race->go)
    g_cond_wait (&race->cond, &race->lock);
  g_mutex_unlock (&race->lock);

  race->func (race->bench, race->n);
  return NULL;
}

/* Returns the span in microseconds of one run: @n iterations on each of
 * @n_threads threads (1 or 2). */
static gint64
run_once (Bench   *bench,
          ArmFunc  func,
          guint    n_threads,
          guint64  n)
{
  Race race = { bench, func, n };
  GThread *threads[2];
  gint64 start, end;

  if (n_threads == 1)
    {
      start = g_get_monotonic_time ();
      func (bench, n);
      end = g_get_monotonic_time ();
      return end - start;
    }

  g_mutex_init (&race.lock);
  g_cond_init (&race.cond);

  for (guint t = 0; t < n_threads; t++)
    threads[t] = g_thread_new ("bench-race", race_thread, &race);

  g_mutex_lock (&race.lock);
  while (race.ready < n_threads)
    g_cond_wait (&race.cond, &race.lock);
  start = g_get_monotonic_time ();
  race.go = TRUE;
  g_cond_broadcast (&race.cond);
  g_mutex_unlock (&race.lock);

  for (guint t = 0; t < n_threads; t++)
    g_thread_join (threads[t]);
  end = g_get_monotonic_time ();

  g_cond_clear (&race.cond);
  g_mutex_clear (&race.lock);

  return end - start;
}

typedef struct {
  const char *name;
  const char *unit;
  ArmFunc     func;
  guint       n_threads;

  guint64     n;
  gint64     *spans;      /* one per repetition, in microseconds */
  double      best;       /* ns per op per thread */
  double      median;
} Arm;

enum {
  ARM_CHECK,
  ARM_READ,
  ARM_PERMIT,
  ARM_CAS,
  ARM_MUTEX,
  ARM_CHECK_2,
  ARM_PERMIT_2,
  ARM_CAS_2,
  ARM_MUTEX_2,
  N_ARMS
};

static Arm arms[N_ARMS] = {
  [ARM_CHECK]    = { "closed check (can_execute)",        "check",  loop_check,       1 },
  [ARM_READ]     = { "bare g_atomic_int_get",             "read",   loop_atomic_read, 1 },
  [ARM_PERMIT]   = { "permit (acquire + complete)",       "permit", loop_permit,      1 },
  [ARM_CAS]      = { "bare CAS (read, CAS to +1)",        "CAS",    loop_cas,         1 },
  [ARM_MUTEX]    = { "GMutex lock + unlock",              "pair",   loop_mutex,       1 },
  [ARM_CHECK_2]  = { "closed check, 2 threads",           "check",  loop_check,       2 },
  [ARM_PERMIT_2] = { "permit, 2 threads",                 "permit", loop_permit,      2 },
  [ARM_CAS_2]    = { "bare CAS, 2 threads",               "CAS",    loop_cas,         2 },
  [ARM_MUTEX_2]  = { "GMutex, 2 threads",                 "pair",   loop_mutex,       2 },
};

/* Picks N so that one run of @arm takes about TARGET_SPAN_MS. */
static guint64
calibrate (Bench *bench,
           Arm   *arm)
{
  guint64 n = CALIBRATE_START;
  gint64 span;
  double scaled;

  for (;;)
    {
      span = run_once (bench, arm->func, arm->n_threads, n);
      if (span >= CALIBRATE_MIN_MS * 1000 || n >= MAX_ITERATIONS / 2)
        break;
      n *= 2;
    }

  scaled = (double) n * (TARGET_SPAN_MS * 1000.0) / (double) MAX (span, 1);
  return (guint64) CLAMP (scaled, (double) CALIBRATE_START, (double) MAX_ITERATIONS);
}

static double
ns_per_op (gint64  usec,
           guint64 n)
{
  return (double) usec * 1000.0 / (double) n;
}



static gboolean
check_breaker (Bench *bench)
{
  JupiterCircuitBreaker *breaker = bench->breaker;
  JupiterCircuitState state = jupiter_circuit_breaker_get_state (breaker);
  guint generation = jupiter_circuit_breaker_get_generation (breaker);
  guint64 total_calls = jupiter_circuit_breaker_get_total_calls (breaker);
  guint64 permits = __atomic_load_n (&bench->permits, __ATOMIC_RELAXED);
  gboolean ok = TRUE;

  if (state != JUPITER_CIRCUIT_STATE_CLOSED || generation != 0)
    {
      g_printerr ("FAIL: the breaker left CLOSED: state %s, generation %u\n",
                  jupiter_circuit_state_to_string (state), generation);
      ok = FALSE;
    }
  if (bench->refused_checks != 0 || bench->refused_permits != 0)
    {
      g_printerr ("FAIL: the closed breaker refused %" G_GUINT64_FORMAT " checks and %"
                  G_GUINT64_FORMAT " permits\n", bench->refused_checks, bench->refused_permits);
      ok = FALSE;
    }
  if (total_calls != permits)
    {
      g_printerr ("FAIL: total-calls is %" G_GUINT64_FORMAT ", but %" G_GUINT64_FORMAT
                  " permits were taken\n", total_calls, permits);
      ok = FALSE;
    }

  return ok;
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(JupiterCircuitBreaker) breaker = NULL;
  Bench *bench;
  guint64 fixed_n;
  guint n_reps;
  double check, atomic_read, permit, cas, mutex;
  double check_2, permit_2, cas_2, mutex_2;
  gboolean ok;

  setlocale (LC_ALL, "");

  fixed_n = bench_parse_count (g_getenv ("JUPITER_BENCH_ITERS"), "JUPITER_BENCH_ITERS", 0,
                         MAX_ITERATIONS);
  if (argc > 1)
    fixed_n = bench_parse_count (argv[1], "iteration count", fixed_n, MAX_ITERATIONS);
  n_reps = (guint) bench_parse_count (g_getenv ("JUPITER_BENCH_REPS"), "JUPITER_BENCH_REPS",
                                DEFAULT_REPS, 1000);

  /* The default main context owns it; it is never iterated here. */
  breaker = jupiter_circuit_breaker_new ("bench", NULL);

  bench = g_aligned_alloc0 (1, sizeof (Bench), 64);
  bench->breaker = breaker;
  g_mutex_init (&bench->mutex);

  g_print ("bench-circuit-breaker: %u runs per arm, best reported, %u CPUs online%s\n",
           n_reps, g_get_num_processors (),
           g_get_num_processors () < 2 ? " (the 2-thread arms share one CPU)" : "");

  for (guint a = 0; a < N_ARMS; a++)
    {
      arms[a].n = fixed_n != 0 ? fixed_n : calibrate (bench, &arms[a]);
      arms[a].spans = g_new0 (gint64, n_reps);
    }

  /* Alternate the arms so that drifting machine load hits all alike. */
  for (guint r = 0; r < n_reps; r++)
    for (guint a = 0; a < N_ARMS; a++)
      arms[a].spans[r] = run_once (bench, arms[a].func, arms[a].n_threads, arms[a].n);

  for (guint a = 0; a < N_ARMS; a++)
    {
      Arm *arm = &arms[a];

      qsort (arm->spans, n_reps, sizeof (gint64), bench_compare_i64);
      arm->best = ns_per_op (arm->spans[0], arm->n);
      arm->median = ns_per_op (arm->spans[n_reps / 2], arm->n);
      g_print ("%-30s %8.2f ns/%s%s (median %.2f; N = %" G_GUINT64_FORMAT "%s)\n",
               arm->name, arm->best, arm->unit, arm->n_threads > 1 ? " per thread" : "",
               arm->median, arm->n, arm->n_threads > 1 ? " per thread" : "");
    }
  if (bench->cas_retries != 0)
    g_print ("(the CAS arms retried %" G_GUINT64_FORMAT " failed CASes in all)\n",
             bench->cas_retries);

  check = arms[ARM_CHECK].best;
  atomic_read = arms[ARM_READ].best;
  permit = arms[ARM_PERMIT].best;
  cas = arms[ARM_CAS].best;
  mutex = arms[ARM_MUTEX].best;
  check_2 = arms[ARM_CHECK_2].best;
  permit_2 = arms[ARM_PERMIT_2].best;
  cas_2 = arms[ARM_CAS_2].best;
  mutex_2 = arms[ARM_MUTEX_2].best;

  g_print ("\n");
  g_print ("closed check: %.2f ns = %.1fx bare atomic read %.2f ns (target <= %.0f ns)\n",
           check, check / atomic_read, atomic_read, TARGET_CHECK_NS);
  g_print ("permit path: %.2f ns = %.2fx bare CAS %.2f ns (target <= %.0fx); GMutex pair %.2f ns\n",
           permit, permit / cas, cas, TARGET_PERMIT_RATIO, mutex);
  g_print ("2 threads: check %.2f ns (%.2fx its 1-thread figure), permit %.2f ns vs "
           "contended CAS %.2f ns (%.2fx), GMutex %.2f ns\n",
           check_2, check_2 / check, permit_2, cas_2, permit_2 / cas_2, mutex_2);

  ok = check_breaker (bench);

  for (guint a = 0; a < N_ARMS; a++)
    g_clear_pointer (&arms[a].spans, g_free);
  g_mutex_clear (&bench->mutex);
  g_aligned_free (bench);

  return ok ? EXIT_SUCCESS : EXIT_FAILURE;
}
