/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(JUPITER_INSIDE) && !defined(JUPITER_COMPILATION)
#error "Only <jupiter/jupiter.h> can be included directly."
#endif

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "jupiter-job-manager.h"
#include "jupiter-plugin.h"
#include "jupiter-version-macros.h"

G_BEGIN_DECLS

/**
 * JupiterPluginState:
 * @JUPITER_PLUGIN_STATE_LOADED: loaded and initialised; its entries can run
 * @JUPITER_PLUGIN_STATE_FAILED: it could not be loaded; see
 *   jupiter_plugin_get_error()
 * @JUPITER_PLUGIN_STATE_DISABLED: switched off by configuration
 *
 * The state of a #JupiterPlugin.
 */
typedef enum {
  JUPITER_PLUGIN_STATE_LOADED,
  JUPITER_PLUGIN_STATE_FAILED,
  JUPITER_PLUGIN_STATE_DISABLED,
} JupiterPluginState;

/**
 * JUPITER_PLUGIN_ERROR:
 *
 * Error domain for plugins. Errors in this domain are from the
 * #JupiterPluginError enumeration; every message names the plugin's file.
 */
#define JUPITER_PLUGIN_ERROR (jupiter_plugin_error_quark ())

/**
 * JupiterPluginError:
 * @JUPITER_PLUGIN_ERROR_NOT_FOUND: no such file, or no plugin with that id
 * @JUPITER_PLUGIN_ERROR_UNSAFE: the file or its directory fails the safety
 *   checks (a symbolic link, not a regular file, owned by someone else,
 *   writable by group or others)
 * @JUPITER_PLUGIN_ERROR_LOAD: the dynamic loader refused the file (not a
 *   shared object, truncated, an unresolved symbol); its reason is quoted
 * @JUPITER_PLUGIN_ERROR_NO_DESCRIPTOR: no `jupiter_plugin_describe` symbol,
 *   or it returned no descriptor
 * @JUPITER_PLUGIN_ERROR_ABI: built for another major SDK ABI, or a newer
 *   minor one than the host's
 * @JUPITER_PLUGIN_ERROR_INVALID: the descriptor or an entry is malformed
 *   (a struct too small, a missing id, name or version, a duplicate entry
 *   name, an entry without a function)
 * @JUPITER_PLUGIN_ERROR_DUPLICATE: another file already provides this id
 * @JUPITER_PLUGIN_ERROR_INIT: the plugin's init function failed
 * @JUPITER_PLUGIN_ERROR_NO_ENTRY: the plugin has no entry of that name
 * @JUPITER_PLUGIN_ERROR_NOT_LOADED: the plugin failed or is disabled, or the
 *   loader has been shut down
 *
 * Error codes in the %JUPITER_PLUGIN_ERROR domain.
 */
typedef enum {
  JUPITER_PLUGIN_ERROR_NOT_FOUND,
  JUPITER_PLUGIN_ERROR_UNSAFE,
  JUPITER_PLUGIN_ERROR_LOAD,
  JUPITER_PLUGIN_ERROR_NO_DESCRIPTOR,
  JUPITER_PLUGIN_ERROR_ABI,
  JUPITER_PLUGIN_ERROR_INVALID,
  JUPITER_PLUGIN_ERROR_DUPLICATE,
  JUPITER_PLUGIN_ERROR_INIT,
  JUPITER_PLUGIN_ERROR_NO_ENTRY,
  JUPITER_PLUGIN_ERROR_NOT_LOADED,
} JupiterPluginError;

JUPITER_AVAILABLE_IN_ALL
GQuark jupiter_plugin_error_quark (void);

#define JUPITER_TYPE_PLUGIN (jupiter_plugin_get_type ())

JUPITER_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (JupiterPlugin, jupiter_plugin, JUPITER, PLUGIN, GObject)

JUPITER_AVAILABLE_IN_ALL
const char        *jupiter_plugin_get_id            (JupiterPlugin *self);
JUPITER_AVAILABLE_IN_ALL
const char        *jupiter_plugin_get_name          (JupiterPlugin *self);
JUPITER_AVAILABLE_IN_ALL
const char        *jupiter_plugin_get_version       (JupiterPlugin *self);
JUPITER_AVAILABLE_IN_ALL
const char        *jupiter_plugin_get_description   (JupiterPlugin *self);
JUPITER_AVAILABLE_IN_ALL
const char        *jupiter_plugin_get_license       (JupiterPlugin *self);
JUPITER_AVAILABLE_IN_ALL
const char        *jupiter_plugin_get_path          (JupiterPlugin *self);
JUPITER_AVAILABLE_IN_ALL
JupiterPluginState jupiter_plugin_get_state         (JupiterPlugin *self);
JUPITER_AVAILABLE_IN_ALL
const GError      *jupiter_plugin_get_error         (JupiterPlugin *self);
JUPITER_AVAILABLE_IN_ALL
GStrv              jupiter_plugin_dup_entry_names   (JupiterPlugin *self);
JUPITER_AVAILABLE_IN_ALL
const char        *jupiter_plugin_get_entry_description (JupiterPlugin *self,
                                                         const char    *entry_name);

#define JUPITER_TYPE_PLUGIN_LOADER (jupiter_plugin_loader_get_type ())

JUPITER_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (JupiterPluginLoader, jupiter_plugin_loader, JUPITER, PLUGIN_LOADER, GObject)

JUPITER_AVAILABLE_IN_ALL
JupiterPluginLoader *jupiter_plugin_loader_new              (void);
JUPITER_AVAILABLE_IN_ALL
GStrv                jupiter_plugin_loader_get_search_path  (JupiterPluginLoader *self);
JUPITER_AVAILABLE_IN_ALL
void                 jupiter_plugin_loader_set_search_path  (JupiterPluginLoader *self,
                                                             const char * const  *dirs);
JUPITER_AVAILABLE_IN_ALL
JupiterPlugin       *jupiter_plugin_loader_load_file        (JupiterPluginLoader *self,
                                                             const char          *path,
                                                             JsonNode            *config,
                                                             GError             **error);
JUPITER_AVAILABLE_IN_ALL
JupiterPlugin       *jupiter_plugin_loader_load             (JupiterPluginLoader *self,
                                                             const char          *plugin_id,
                                                             JsonNode            *config,
                                                             GError             **error);
JUPITER_AVAILABLE_IN_ALL
guint                jupiter_plugin_loader_discover         (JupiterPluginLoader *self);
JUPITER_AVAILABLE_IN_ALL
JupiterPlugin       *jupiter_plugin_loader_get              (JupiterPluginLoader *self,
                                                             const char          *plugin_id);
JUPITER_AVAILABLE_IN_ALL
GPtrArray           *jupiter_plugin_loader_list             (JupiterPluginLoader *self);
JUPITER_AVAILABLE_IN_ALL
char                *jupiter_plugin_loader_submit           (JupiterPluginLoader *self,
                                                             JupiterJobManager   *manager,
                                                             const char          *plugin_id,
                                                             const char          *entry_name,
                                                             JsonNode            *args,
                                                             GError             **error);
JUPITER_AVAILABLE_IN_ALL
void                 jupiter_plugin_loader_shutdown         (JupiterPluginLoader *self);

G_END_DECLS
