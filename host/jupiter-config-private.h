/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The host configuration, parsed and validated (internal API; JupiterHost
 * applies it). One tree for YAML and JSON, one schema; see the README's
 * "Configuration reference" for the keys. */

#include <json-glib/json-glib.h>

#include "jupiter-circuit-breaker-registry.h"
#include "jupiter-config.h"

G_BEGIN_DECLS

typedef enum {
  JUPITER_CONFIG_FORMAT_AUTO,   /* from the file name's extension */
  JUPITER_CONFIG_FORMAT_YAML,
  JUPITER_CONFIG_FORMAT_JSON,
} JupiterConfigFormat;

typedef struct {
  char                       *id;              /* required */
  char                       *path;            /* NULL: found by id on the search path;
                                                  else absolute (relative ones are
                                                  resolved against the config file's
                                                  directory); the file exists */
  gboolean                    enabled;         /* default TRUE */
  JsonNode                   *config;          /* nullable; handed to init as is (sealed) */
  JupiterCircuitBreakerConfig breaker;         /* 0 fields: the defaults */
  GTimeSpan                   timeout;         /* 0: the plugin's own */
  guint                       max_concurrent;  /* 0: no cap of its own */
  char                       *where;           /* "FILE:LINE:COLUMN: plugins[N]" */
} JupiterConfigPlugin;

typedef struct {
  char      *name;                             /* nullable */
  char      *plugin;                           /* an id in JupiterConfig.plugins */
  char      *entry;
  JsonNode  *args;                             /* nullable (sealed) */
  GTimeSpan  every;                            /* 0: once at startup; > 0: interval */
  char      *where;                            /* "FILE:LINE:COLUMN: jobs[N]" */
} JupiterConfigJob;

typedef struct {
  char                       *path;            /* the file as given */
  /* host */
  guint                       max_concurrent;  /* 0: not set */
  guint                       max_pending;     /* 0: not set */
  guint                       history_limit;   /* 0: not set */
  GStrv                       plugin_paths;    /* absolute, in order; never NULL */
  gboolean                    allow_unsafe;
  GTimeSpan                   shutdown_grace;  /* -1: not set */
  char                       *export_path;     /* NULL: no export on exit; absolute */
  char                       *export_format;   /* "json" or "yaml": `format`, else from
                                                  export_path's extension (checked at
                                                  load); NULL when export_path is */
  gboolean                    export_include_results; /* default TRUE */
  /* circuit_breaker */
  JupiterCircuitBreakerConfig breaker;         /* 0 fields: not set */
  GPtrArray                  *plugins;         /* of JupiterConfigPlugin*, in file order */
  GPtrArray                  *jobs;            /* of JupiterConfigJob*, in file order */
} JupiterConfig;

JupiterConfig *jupiter_config_load           (const char          *path,
                                              GError             **error);
JupiterConfig *jupiter_config_load_from_data (const char          *data,
                                              gssize               length,
                                              const char          *display_name,
                                              JupiterConfigFormat  format,
                                              const char          *base_dir,
                                              GError             **error);
void           jupiter_config_free           (JupiterConfig       *config);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (JupiterConfig, jupiter_config_free)

G_END_DECLS
