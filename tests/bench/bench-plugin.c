/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The template plugin of bench-plugin-loader, built against the SDK alone.
 *
 * Its id is a 16-character placeholder that the benchmark overwrites, in
 * copies of this file, with another id of the same length ("benchplugin00001"
 * and so on): every copy is then a distinct plugin in its own file.
 */

#include <jupiter/jupiter-plugin.h>

/* Patched in the copies; keep it 16 characters long and unique in the file. */
#define BENCH_PLUGIN_ID "benchplugin00000"

static JsonNode *
bench_hello (JupiterJobContext *context,
             gpointer           user_data,
             GError           **error)
{
  return json_node_init_string (json_node_alloc (), "hello");
}

static gboolean
bench_init (JsonNode *config,
            GError  **error)
{
  return TRUE;
}

static const JupiterPluginEntry bench_entries[] = {
  JUPITER_PLUGIN_ENTRY ("hello", "Says hello", bench_hello),
};

static const JupiterPluginDescriptor bench_descriptor = {
  JUPITER_PLUGIN_DESCRIPTOR_HEADER,
  .id = BENCH_PLUGIN_ID,
  .name = "Bench",
  .version = "1.0",
  .description = "A copy of bench-plugin-loader's template plugin",
  .license = "LGPL-2.1-or-later",
  .init = bench_init,
  .entries = bench_entries,
  .n_entries = G_N_ELEMENTS (bench_entries),
};

JUPITER_PLUGIN_DEFINE (bench_descriptor)
