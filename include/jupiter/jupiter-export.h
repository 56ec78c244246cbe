/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if !defined(JUPITER_INSIDE) && !defined(JUPITER_COMPILATION)
#error "Only <jupiter/jupiter.h> can be included directly."
#endif

#include <glib-object.h>

#include "jupiter-version-macros.h"

G_BEGIN_DECLS

/**
 * JupiterExportFormat:
 * @JUPITER_EXPORT_FORMAT_AUTO: taken from the file name's extension
 *   (`.json`, `.yaml` or `.yml`)
 * @JUPITER_EXPORT_FORMAT_JSON: JSON (RFC 8259)
 * @JUPITER_EXPORT_FORMAT_YAML: YAML, readable as YAML 1.1 and 1.2
 *
 * The format of an export file.
 */
typedef enum {
  JUPITER_EXPORT_FORMAT_AUTO,
  JUPITER_EXPORT_FORMAT_JSON,
  JUPITER_EXPORT_FORMAT_YAML,
} JupiterExportFormat;

/**
 * JUPITER_EXPORT_ERROR:
 *
 * Error domain for exports. Errors in this domain are from the
 * #JupiterExportError enumeration.
 */
#define JUPITER_EXPORT_ERROR (jupiter_export_error_quark ())

/**
 * JupiterExportError:
 * @JUPITER_EXPORT_ERROR_FORMAT: the format cannot be told from the file name
 * @JUPITER_EXPORT_ERROR_NOT_REGULAR: the path names a directory or another
 *   non-regular file
 * @JUPITER_EXPORT_ERROR_WRITE: the file could not be created, written,
 *   synced or renamed into place (the message names the path and the
 *   system's reason); any previous file is left whole
 *
 * Error codes in the %JUPITER_EXPORT_ERROR domain.
 */
typedef enum {
  JUPITER_EXPORT_ERROR_FORMAT,
  JUPITER_EXPORT_ERROR_NOT_REGULAR,
  JUPITER_EXPORT_ERROR_WRITE,
} JupiterExportError;

JUPITER_AVAILABLE_IN_ALL
GQuark jupiter_export_error_quark (void);

G_END_DECLS
