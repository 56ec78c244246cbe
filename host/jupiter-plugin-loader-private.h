/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <jupiter/jupiter.h>

G_BEGIN_DECLS

char *jupiter_plugin_loader_submit_full (JupiterPluginLoader *self,
                                         JupiterJobManager   *manager,
                                         const char          *plugin_id,
                                         const char          *entry_name,
                                         JsonNode            *args,
                                         const char          *name,
                                         GTimeSpan            timeout,
                                         guint                max_concurrent,
                                         GError             **error);

G_END_DECLS
