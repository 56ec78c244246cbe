/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hello: an out-of-tree Jupiter plugin, built from the installed SDK only.
 *
 * One entry, "greet": args {"name": "Ada"} give {"greeting": "Hello, Ada!"};
 * without a name it greets the world.
 */

#include <jupiter/jupiter-plugin.h>

static JsonNode *
hello_greet (JupiterJobContext *context,
             gpointer           user_data,
             GError           **error)
{
  JsonNode *args = jupiter_job_context_get_args (context);
  const char *name = "world";
  g_autofree char *greeting = NULL;
  JsonObject *result;
  JsonNode *node;

  /* The args are sealed and shared: read them, keep no reference. */
  if (args != NULL && !JSON_NODE_HOLDS_NULL (args))
    {
      JsonNode *member;

      if (!JSON_NODE_HOLDS_OBJECT (args))
        {
          g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                               "greet: the args must be a JSON object");
          return NULL;
        }
      member = json_object_get_member (json_node_get_object (args), "name");
      if (member != NULL)
        {
          if (!JSON_NODE_HOLDS_VALUE (member) ||
              json_node_get_value_type (member) != G_TYPE_STRING)
            {
              g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                                   "greet: args.name must be a string");
              return NULL;
            }
          name = json_node_get_string (member);
        }
    }

  greeting = g_strdup_printf ("Hello, %s!", name);
  jupiter_job_context_log (context, G_LOG_LEVEL_DEBUG, "%s", greeting);

  result = json_object_new ();
  json_object_set_string_member (result, "greeting", greeting);
  node = json_node_new (JSON_NODE_OBJECT);
  json_node_take_object (node, result);
  return node;
}

static const JupiterPluginEntry hello_entries[] = {
  JUPITER_PLUGIN_ENTRY ("greet", "Greets args.name", hello_greet),
};

static const JupiterPluginDescriptor hello_descriptor = {
  JUPITER_PLUGIN_DESCRIPTOR_HEADER,
  .id = "hello",
  .name = "Hello",
  .version = "1.0.0",
  .description = "Greets whoever it is given",
  .license = "LGPL-2.1-or-later",
  .entries = hello_entries,
  .n_entries = G_N_ELEMENTS (hello_entries),
};

JUPITER_PLUGIN_DEFINE (hello_descriptor)
