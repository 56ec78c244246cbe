/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <jupiter/jupiter.h>

G_BEGIN_DECLS

/* What the benchmarks share: reading counts from the command line or the
 * environment, sorting measured spans, reading the process's memory,
 * running an arm in a child process, and filling a manager's history. */

guint64  bench_parse_count   (const char   *str,
                              const char   *what,
                              guint64       fallback,
                              guint64       max);
int      bench_compare_i64   (gconstpointer a,
                              gconstpointer b);
gboolean bench_read_memory   (guint64      *rss_bytes,
                              guint64      *hwm_bytes);
char    *bench_run_arm       (const char * const *argv,
                              const char   *arm);
gboolean bench_submit_named_jobs (JupiterJobManager *manager,
                                  guint              n_jobs,
                                  JupiterJobFunc     func);

G_END_DECLS
