/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#define JUPITER_INSIDE

#include <jupiter/jupiter-version.h>
#include <jupiter/jupiter-version-macros.h>
#include <jupiter/jupiter-plugin.h>
#include <jupiter/jupiter-job.h>
#include <jupiter/jupiter-job-options.h>
#include <jupiter/jupiter-clock.h>
#include <jupiter/jupiter-circuit-breaker.h>
#include <jupiter/jupiter-circuit-breaker-registry.h>
#include <jupiter/jupiter-export.h>
#include <jupiter/jupiter-job-manager.h>
#include <jupiter/jupiter-plugin-loader.h>
#include <jupiter/jupiter-config.h>
#include <jupiter/jupiter-host.h>
#include <jupiter/jupiter-enum-types.h>

#undef JUPITER_INSIDE
