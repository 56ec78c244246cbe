/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench-memory: resident bytes per finished job kept in a JupiterJobManager's
 * history.
 *
 * The parent re-executes itself twice, one arm per child process:
 *
 *  - `--arm=baseline N`: everything but the jobs: the manager is created
 *    with the same properties, its context is iterated, wait_idle() and
 *    malloc_trim (0) are called;
 *  - `--arm=jobs N`: the same, plus N synchronous jobs, each named
 *    "job-%u", no metadata, returning a small int node, all kept in the
 *    history (history-limit G_MAXUINT, max-pending >= N).
 *
 * Each child prints its resident set size (from /proc/self/statm) after
 * wait_idle() and malloc_trim (0), and its peak (VmHWM from
 * /proc/self/status). The parent prints (rss_jobs - rss_baseline) / N.
 *
 * The children run with G_SLICE, G_DEBUG and MALLOC_PERTURB_ removed from
 * their environment, so the normal allocators are measured.
 *
 * Usage: bench-memory [N]; N also from JUPITER_BENCH_MEMORY_JOBS
 * (default 1000000). Exits non-zero only when a child fails or a count is
 * wrong, never because of the figure.
 */

#include "config.h"

#include <jupiter/jupiter.h>

#include "bench-common.h"

#include <malloc.h>
#include <stdio.h>
#include <locale.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_JOBS        1000000
#define TARGET_BYTES        300

/* ------------------------------------------------------------------------ */
/* Child                                                                     */


static JsonNode *
int_job (JupiterJobContext *context,
         gpointer           user_data,
         GError           **error)
{
  JsonNode *node = json_node_new (JSON_NODE_VALUE);

  json_node_set_int (node, GPOINTER_TO_UINT (user_data));
  return node;
}

static int
run_child (gboolean with_jobs,
           guint    n_jobs)
{
  g_autoptr(JupiterJobManager) manager = NULL;
  g_autoptr(GError) error = NULL;
  JupiterJobStats stats;
  guint64 rss, hwm;
  gint64 start, end;
  guint n_submitted = with_jobs ? n_jobs : 0;
  gboolean ok = TRUE;

  manager = g_object_new (JUPITER_TYPE_JOB_MANAGER,
                          "max-pending", MAX (n_jobs, 1),
                          "history-limit", G_MAXUINT,
                          NULL);
  start = g_get_monotonic_time ();
  if (!bench_submit_named_jobs (manager, n_submitted, int_job))
    return EXIT_FAILURE;
  end = g_get_monotonic_time ();

  jupiter_job_manager_get_stats (manager, &stats);
  if (stats.completed != n_submitted || stats.total_completed != n_submitted ||
      stats.submitted != n_submitted || stats.failed != 0 || stats.cancelled != 0 ||
      stats.pruned != 0 || stats.pending != 0 || stats.running != 0)
    {
      g_printerr ("stats wrong: completed %u (want %u), total_completed %" G_GUINT64_FORMAT
                  ", submitted %" G_GUINT64_FORMAT ", failed %u, cancelled %u"
                  ", pruned %" G_GUINT64_FORMAT ", pending %u, running %u\n",
                  stats.completed, n_submitted, stats.total_completed, stats.submitted,
                  stats.failed, stats.cancelled, stats.pruned, stats.pending, stats.running);
      ok = FALSE;
    }
  if (jupiter_job_manager_count (manager, JUPITER_JOB_STATUS_COMPLETED, NULL) != n_submitted)
    {
      g_printerr ("count (COMPLETED) is %u, want %u\n",
                  jupiter_job_manager_count (manager, JUPITER_JOB_STATUS_COMPLETED, NULL),
                  n_submitted);
      ok = FALSE;
    }

  malloc_trim (0);
  if (!bench_read_memory (&rss, &hwm))
    return EXIT_FAILURE;

  /* The line the parent parses. */
  g_print ("rss=%" G_GUINT64_FORMAT " hwm=%" G_GUINT64_FORMAT " usec=%" G_GINT64_FORMAT "\n",
           rss, hwm, end - start);

  if (!jupiter_job_manager_shutdown (manager, 5 * G_USEC_PER_SEC, &error))
    {
      g_printerr ("shutdown failed: %s\n", error->message);
      ok = FALSE;
    }

  return ok ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* ------------------------------------------------------------------------ */
/* Parent                                                                    */

typedef struct {
  guint64 rss;
  guint64 hwm;
  gint64  usec;
} ArmResult;

static gboolean
run_arm (const char *self_exe,
         const char *arm,
         guint       n_jobs,
         ArmResult  *result)
{
  g_autofree char *arm_arg = g_strdup_printf ("--arm=%s", arm);
  g_autofree char *n_arg = g_strdup_printf ("%u", n_jobs);
  const char *child_argv[] = { self_exe, arm_arg, n_arg, NULL };
  g_autofree char *out = bench_run_arm (child_argv, arm);
  const char *line;

  if (out == NULL)
    return FALSE;

  line = out ? strstr (out, "rss=") : NULL;
  if (line == NULL ||
      sscanf (line, "rss=%" G_GUINT64_FORMAT " hwm=%" G_GUINT64_FORMAT " usec=%" G_GINT64_FORMAT,
              &result->rss, &result->hwm, &result->usec) != 3)
    {
      g_printerr ("The %s arm printed no figures: \"%s\"\n", arm, out ? out : "");
      return FALSE;
    }

  return TRUE;
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
  g_autofree char *self_exe = NULL;
  ArmResult baseline = { 0 }, jobs = { 0 };
  guint n_jobs;
  double per_job, peak_per_job;

  setlocale (LC_ALL, "");

  n_jobs = parse_count (g_getenv ("JUPITER_BENCH_MEMORY_JOBS"),
                        "JUPITER_BENCH_MEMORY_JOBS", DEFAULT_JOBS);

  if (argc > 1 && g_str_has_prefix (argv[1], "--arm="))
    {
      const char *arm = argv[1] + strlen ("--arm=");

      if (argc > 2)
        n_jobs = parse_count (argv[2], "job count", n_jobs);
      if (g_str_equal (arm, "baseline"))
        return run_child (FALSE, n_jobs);
      if (g_str_equal (arm, "jobs"))
        return run_child (TRUE, n_jobs);
      g_printerr ("Unknown arm \"%s\"\n", arm);
      return 2;
    }

  if (argc > 1)
    n_jobs = parse_count (argv[1], "job count", n_jobs);

  self_exe = g_file_read_link ("/proc/self/exe", NULL);
  if (self_exe == NULL)
    self_exe = g_strdup (argv[0]);

  g_print ("bench-memory: %u finished jobs kept in the history\n", n_jobs);

  if (!run_arm (self_exe, "baseline", n_jobs, &baseline) ||
      !run_arm (self_exe, "jobs", n_jobs, &jobs))
    {
      g_printerr ("FAIL\n");
      return EXIT_FAILURE;
    }

  per_job = ((double) jobs.rss - (double) baseline.rss) / n_jobs;
  peak_per_job = ((double) jobs.hwm - (double) baseline.hwm) / n_jobs;

  g_print ("baseline: rss %" G_GUINT64_FORMAT " KiB, peak %" G_GUINT64_FORMAT " KiB\n",
           baseline.rss / 1024, baseline.hwm / 1024);
  g_print ("jobs: rss %" G_GUINT64_FORMAT " KiB, peak %" G_GUINT64_FORMAT " KiB, "
           "%.0f ns/job to run\n",
           jobs.rss / 1024, jobs.hwm / 1024, (double) jobs.usec * 1000.0 / n_jobs);
  g_print ("peak: %.0f bytes/job over baseline\n", peak_per_job);
  g_print ("retained: %.0f bytes/job\n", per_job);
  g_print ("target <= %d bytes/job\n", TARGET_BYTES);

  return EXIT_SUCCESS;
}
