/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "config.h"

#include "bench-common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A count from @str (argv or an environment variable), @fallback when
 * unset; an invalid one ends the benchmark with status 2. */
guint64
bench_parse_count (const char *str,
                   const char *what,
                   guint64     fallback,
                   guint64     max)
{
  guint64 value;
  g_autoptr(GError) error = NULL;

  if (str == NULL || *str == '\0')
    return fallback;
  if (!g_ascii_string_to_unsigned (str, 10, 1, max, &value, &error))
    {
      g_printerr ("Invalid %s \"%s\": %s\n", what, str, error->message);
      exit (2);
    }
  return value;
}

int
bench_compare_i64 (gconstpointer a,
                   gconstpointer b)
{
  gint64 x = *(const gint64 *) a;
  gint64 y = *(const gint64 *) b;

  return (x > y) - (x < y);
}

static gboolean
status_field (const char *status,
              const char *name,
              guint64    *bytes)
{
  const char *line = strstr (status, name);

  if (line == NULL ||
      sscanf (line + strlen (name), "%" G_GUINT64_FORMAT, bytes) != 1)
    return FALSE;
  *bytes *= 1024;   /* kB */
  return TRUE;
}

/* The resident set and its peak (VmRSS, VmHWM), in bytes. */
gboolean
bench_read_memory (guint64 *rss_bytes,
                   guint64 *hwm_bytes)
{
  g_autofree char *status = NULL;
  g_autoptr(GError) error = NULL;

  if (!g_file_get_contents ("/proc/self/status", &status, NULL, &error) ||
      !status_field (status, "VmRSS:", rss_bytes) ||
      !status_field (status, "VmHWM:", hwm_bytes))
    {
      g_printerr ("Cannot read VmRSS and VmHWM from /proc/self/status: %s\n",
                  error ? error->message : "unexpected format");
      return FALSE;
    }
  return TRUE;
}
