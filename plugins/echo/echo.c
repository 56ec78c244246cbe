/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * echo: returns its arguments. The smallest complete Jupiter plugin.
 */

#include <jupiter/jupiter-plugin.h>

static JsonNode *
echo_run (JupiterJobContext *context,
          gpointer           user_data,
          GError           **error)
{
  JsonNode *args = jupiter_job_context_get_args (context);
  g_autofree char *text = NULL;

  jupiter_job_context_log (context, G_LOG_LEVEL_DEBUG, "echoing");
  if (args == NULL)
    return json_node_init_null (json_node_alloc ());

  /* The args are shared and sealed: return a copy made by reading them. */
  text = json_to_string (args, FALSE);
  return json_from_string (text, error);
}

static const JupiterPluginEntry echo_entries[] = {
  JUPITER_PLUGIN_ENTRY ("echo", "Returns its arguments", echo_run),
};

static const JupiterPluginDescriptor echo_descriptor = {
  JUPITER_PLUGIN_DESCRIPTOR_HEADER,
  .id = "echo",
  .name = "Echo",
  .version = "1.0.0",
  .description = "Returns its arguments",
  .license = "LGPL-2.1-or-later",
  .entries = echo_entries,
  .n_entries = G_N_ELEMENTS (echo_entries),
};

JUPITER_PLUGIN_DEFINE (echo_descriptor)
