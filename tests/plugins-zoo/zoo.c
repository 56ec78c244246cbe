/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * One plugin source, compiled by tests/plugins-zoo/meson.build into a good
 * plugin and into every kind of broken one the loader must refuse.
 */

#include <jupiter/jupiter-plugin.h>

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#ifndef ZOO_ID
#define ZOO_ID "good"
#endif
#ifndef ZOO_NAME
#define ZOO_NAME "Zoo"
#endif
#ifndef ZOO_VERSION
#define ZOO_VERSION "1.0"
#endif
#ifndef ZOO_ABI_MAJOR
#define ZOO_ABI_MAJOR JUPITER_SDK_ABI_MAJOR
#endif
#ifndef ZOO_ABI_MINOR
#define ZOO_ABI_MINOR JUPITER_SDK_ABI_MINOR
#endif
#ifndef ZOO_DESC_SIZE
#define ZOO_DESC_SIZE sizeof (JupiterPluginDescriptor)
#endif
#ifndef ZOO_ENTRY_SIZE
#define ZOO_ENTRY_SIZE sizeof (JupiterPluginEntry)
#endif
#ifndef ZOO_SECOND_ENTRY
#define ZOO_SECOND_ENTRY "later"
#endif

#ifdef ZOO_UNRESOLVED
extern void zoo_function_nobody_defines (void);
#endif

static char *shutdown_marker;

static JsonNode *
zoo_hello (JupiterJobContext *context,
           gpointer           user_data,
           GError           **error)
{
  JsonNode *args = jupiter_job_context_get_args (context);
  JsonObject *obj = json_object_new ();
  JsonNode *node;

  json_object_set_string_member (obj, "plugin", ZOO_ID);
  json_object_set_string_member (obj, "entry", jupiter_job_context_get_entry_name (context));
  if (args && JSON_NODE_HOLDS_OBJECT (args) && json_object_has_member (json_node_get_object (args), "name"))
    json_object_set_string_member (obj, "hello", json_object_get_string_member (json_node_get_object (args), "name"));
  node = json_node_init_object (json_node_alloc (), obj);
  json_object_unref (obj);
  return node;
}

static void
zoo_later (JupiterJobContext *context,
           gpointer           user_data)
{
  jupiter_job_context_return_result (context, json_node_init_string (json_node_alloc (), "later"));
}

static JsonNode *
zoo_fail (JupiterJobContext *context,
          gpointer           user_data,
          GError           **error)
{
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED, "zoo fails on purpose");
  return NULL;
}

static gboolean
zoo_init (JsonNode *config,
          GError  **error)
{
#ifdef ZOO_UNRESOLVED
  zoo_function_nobody_defines ();
#endif
#ifdef ZOO_INIT_FAILS
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_INITIALIZED, "the zoo keeper is away");
  return FALSE;
#endif
  if (config && JSON_NODE_HOLDS_OBJECT (config))
    {
      JsonObject *obj = json_node_get_object (config);

      if (json_object_has_member (obj, "shutdown_marker"))
        shutdown_marker = g_strdup (json_object_get_string_member (obj, "shutdown_marker"));
      /* Counts the calls: one byte each. */
      if (json_object_has_member (obj, "init_log"))
        {
          FILE *log = fopen (json_object_get_string_member (obj, "init_log"), "a");

          if (log)
            {
              fputc ('i', log);
              fclose (log);
            }
        }
      /* Holds init open: tells the test it is inside (opening the FIFO
       * "entered" for writing waits for the test to read it), then waits
       * until the test opens the FIFO "gate" for writing. */
      if (json_object_has_member (obj, "entered") && json_object_has_member (obj, "gate"))
        {
          int fd = open (json_object_get_string_member (obj, "entered"), O_WRONLY | O_CLOEXEC);

          if (fd >= 0)
            close (fd);
          fd = open (json_object_get_string_member (obj, "gate"), O_RDONLY | O_CLOEXEC);
          if (fd >= 0)
            close (fd);
        }
    }
  return TRUE;
}

static void
zoo_shutdown (void)
{
  if (shutdown_marker)
    g_file_set_contents (shutdown_marker, ZOO_ID, -1, NULL);
  g_clear_pointer (&shutdown_marker, g_free);
}

static const JupiterPluginEntry zoo_entries[] = {
  { ZOO_ENTRY_SIZE, "hello", "Says hello", zoo_hello, NULL, 0 },
#ifdef ZOO_ENTRY_NO_FUNC
  { ZOO_ENTRY_SIZE, ZOO_SECOND_ENTRY, "Has no function", NULL, NULL, 0 },
#else
  { ZOO_ENTRY_SIZE, ZOO_SECOND_ENTRY, "Returns later", NULL, zoo_later, 0 },
#endif
  { ZOO_ENTRY_SIZE, "fail", "Always fails", zoo_fail, NULL, 0 },
};

static const JupiterPluginDescriptor zoo_descriptor = {
  .abi_major = ZOO_ABI_MAJOR,
  .abi_minor = ZOO_ABI_MINOR,
  .struct_size = ZOO_DESC_SIZE,
  .id = ZOO_ID,
  .name = ZOO_NAME,
  .version = ZOO_VERSION,
  .description = "A plugin for the loader's tests",
  .license = "LGPL-2.1-or-later",
  .init = zoo_init,
  .shutdown = zoo_shutdown,
  .entries = zoo_entries,
  .n_entries = G_N_ELEMENTS (zoo_entries),
};

#if defined(ZOO_NULL_DESCRIPTOR)
JUPITER_PLUGIN_EXPORT const JupiterPluginDescriptor *jupiter_plugin_describe (const JupiterHostFuncs *host);
JUPITER_PLUGIN_EXPORT const JupiterPluginDescriptor *
jupiter_plugin_describe (const JupiterHostFuncs *host)
{
  return NULL;
}
#elif !defined(ZOO_NO_DEFINE)
JUPITER_PLUGIN_DEFINE (zoo_descriptor)
#else
/* No describe symbol: something else is exported instead. */
JUPITER_PLUGIN_EXPORT const JupiterPluginDescriptor *zoo_not_the_symbol (void);
JUPITER_PLUGIN_EXPORT const JupiterPluginDescriptor *
zoo_not_the_symbol (void)
{
  return &zoo_descriptor;
}
#endif
