/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* What the benchmarks share: reading counts from the command line or the
 * environment, sorting measured spans, and reading the process's memory. */

guint64  bench_parse_count   (const char   *str,
                              const char   *what,
                              guint64       fallback,
                              guint64       max);
int      bench_compare_i64   (gconstpointer a,
                              gconstpointer b);
gboolean bench_read_memory   (guint64      *rss_bytes,
                              guint64      *hwm_bytes);

G_END_DECLS
