/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench-config: how long the host takes to read its configuration, against
 * the parsers underneath it, measured in the same run.
 *
 *   YAML: jupiter_config_load_from_data() on examples/host.yaml vs a bare
 *         libyaml event loop over the same bytes (the reading alone)
 *   JSON: jupiter_config_load_from_data() on examples/host.json vs
 *         json_parser_load_from_data() (json-glib's tree alone)
 *
 * Each figure is the median of 11 rounds of N loads (N from argv[1] or
 * JUPITER_BENCH_CONFIG_LOADS, default 5000). The config loader does more
 * than either baseline — a positioned tree, the schema, typed values, the
 * JupiterConfig — so the ratio says what that costs. Target (ours): ≤ 4×
 * the bare parser for both formats. Fails only if a load fails.
 */

#include "config.h"

#include "bench-common.h"
#include "jupiter-config-private.h"

#include <stdio.h>
#include <yaml.h>

#define ROUNDS 11

typedef gboolean (*LoadFunc) (const char *data, gsize length, JupiterConfigFormat format);

static gboolean
load_ours (const char *data, gsize length, JupiterConfigFormat format)
{
  g_autoptr(GError) error = NULL;
  JupiterConfig *config = jupiter_config_load_from_data (data, length, "bench", format,
                                                         "/nonexistent-bench", &error);

  if (config == NULL)
    {
      g_printerr ("bench-config: %s\n", error->message);
      return FALSE;
    }
  jupiter_config_free (config);
  return TRUE;
}

static gboolean
load_libyaml (const char *data, gsize length, JupiterConfigFormat format)
{
  yaml_parser_t parser;
  yaml_event_t event;
  gboolean ok = TRUE, done = FALSE;

  yaml_parser_initialize (&parser);
  yaml_parser_set_input_string (&parser, (const unsigned char *) data, length);
  while (!done)
    {
      if (!yaml_parser_parse (&parser, &event))
        {
          ok = FALSE;
          break;
        }
      done = event.type == YAML_STREAM_END_EVENT;
      yaml_event_delete (&event);
    }
  yaml_parser_delete (&parser);
  return ok;
}

static gboolean
load_json_glib (const char *data, gsize length, JupiterConfigFormat format)
{
  g_autoptr(JsonParser) parser = json_parser_new ();

  return json_parser_load_from_data (parser, data, length, NULL);
}

/* Median nanoseconds per load. */
static double
measure (LoadFunc func, const char *data, gsize length, JupiterConfigFormat format, guint64 n)
{
  gint64 spans[ROUNDS];

  for (guint r = 0; r < ROUNDS; r++)
    {
      gint64 start = g_get_monotonic_time ();

      for (guint64 i = 0; i < n; i++)
        if (!func (data, length, format))
          exit (1);
      spans[r] = g_get_monotonic_time () - start;
    }
  qsort (spans, ROUNDS, sizeof spans[0], bench_compare_i64);
  return spans[ROUNDS / 2] * 1000.0 / n;
}

static gboolean
run (const char *file, JupiterConfigFormat format, LoadFunc baseline, const char *baseline_name,
     guint64 n)
{
  g_autofree char *path = g_build_filename (SOURCE_ROOT, "examples", file, NULL);
  g_autofree char *data = NULL;
  g_autoptr(GError) error = NULL;
  gsize length;
  double ours, base;

  if (!g_file_get_contents (path, &data, &length, &error))
    {
      g_printerr ("bench-config: %s\n", error->message);
      return FALSE;
    }
  /* Warm up both, once. */
  if (!load_ours (data, length, format) || !baseline (data, length, format))
    return FALSE;
  ours = measure (load_ours, data, length, format, n);
  base = measure (baseline, data, length, format, n);
  printf ("%-10s %5zu bytes: config loader %8.1f µs/load   %-22s %8.1f µs/load   ratio %.2f  (target ≤ 4)\n",
          file, length, ours / 1000.0, baseline_name, base / 1000.0, ours / base);
  return TRUE;
}

int
main (int argc, char *argv[])
{
  guint64 n = bench_parse_count (argc > 1 ? argv[1] : g_getenv ("JUPITER_BENCH_CONFIG_LOADS"),
                                 "loads", 5000, G_MAXUINT32);

  printf ("bench-config: %" G_GUINT64_FORMAT " loads per round, median of %d rounds\n", n, ROUNDS);
  if (!run ("host.yaml", JUPITER_CONFIG_FORMAT_YAML, load_libyaml, "bare libyaml events", n) ||
      !run ("host.json", JUPITER_CONFIG_FORMAT_JSON, load_json_glib, "json-glib parser", n))
    return 1;
  return 0;
}
