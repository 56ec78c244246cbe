/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include "config.h"

#include "jupiter-host.h"
#include "jupiter-config-private.h"
#include "jupiter-job-manager-private.h"
#include "jupiter-plugin-loader-private.h"

#include <string.h>

/**
 * JupiterHost:
 *
 * Ties a configuration file, a [class@Jupiter.PluginLoader], a
 * [class@Jupiter.JobManager] and its [class@Jupiter.CircuitBreakerRegistry]
 * together: what `jupiter-host` runs, and what a program embeds to do the
 * same.
 *
 * A host is used in steps: jupiter_host_load_config() (optional: without a
 * configuration the plugins are discovered on the search path), then
 * jupiter_host_load_plugins(), then jupiter_host_submit_startup_jobs() and
 * jupiter_host_start_interval_jobs(); at the end
 * jupiter_host_shutdown_async(), which stops accepting jobs, cancels the
 * pending ones, gives the running ones the configured grace period (a timer
 * on the host's main context, so the loop keeps running), exports what is
 * recorded when the configuration asks for it, and calls every plugin's
 * `shutdown` once no thread is inside a plugin any more.
 *
 * The host's own signals are #JupiterHost::plugin-loaded,
 * #JupiterHost::plugin-failed and #JupiterHost::tick-skipped; the job and
 * breaker signals are the manager's and the registry's, reachable through
 * jupiter_host_get_job_manager() and
 * jupiter_host_get_circuit_breaker_registry() (`job-failed::exec`,
 * `breaker-state-changed::exec`, ...).
 *
 * Every job lifecycle event and breaker change is also logged, one record
 * each, with g_log_structured_array() in the `Jupiter` domain at
 * %G_LOG_LEVEL_INFO (a failed plugin at %G_LOG_LEVEL_WARNING), with the
 * fields `JUPITER_EVENT`, `JUPITER_JOB_ID`, `JUPITER_JOB_NAME`,
 * `JUPITER_PLUGIN`, `JUPITER_ENTRY`, `JUPITER_STATUS`,
 * `JUPITER_DURATION_MS`, `JUPITER_PROGRESS`, `JUPITER_ERROR`,
 * `JUPITER_BREAKER_FROM` and `JUPITER_BREAKER_TO` where they apply, next to
 * a readable `MESSAGE`. The library installs no log writer.
 *
 * Thread contract: a host belongs to the main context that was
 * thread-default when it was created; call its methods from the thread
 * that runs that context. Its signals are emitted there.
 *
 * Since: 0.1
 */

#define DEFAULT_SHUTDOWN_GRACE (10 * G_USEC_PER_SEC)
/* After the grace period the running jobs are cancelled; jobs that honour
 * cancellation return at once, so this only bounds the wait for those that
 * do not. */
#define SHUTDOWN_SETTLE        (5 * G_USEC_PER_SEC)
/* The same after jupiter_host_shutdown_now(): short, the caller wants out. */
#define SHUTDOWN_CUT_SETTLE    (1 * G_USEC_PER_SEC)

typedef struct {
  JupiterConfigPlugin *conf;       /* NULL for a discovered plugin */
  char                *id;
  JupiterPluginState   state;
  GError              *error;      /* FAILED: why */
  JupiterPlugin       *plugin;     /* LOADED: owned by the loader */
} HostPlugin;

typedef struct {
  JupiterHost      *host;          /* unowned: the host destroys the timer first */
  JupiterConfigJob *conf;
  GSource          *timer;
  gint64            deadline;      /* the host clock's time of the next tick */
  char             *last_job_id;
  guint64           runs;
  guint64           skipped;
} IntervalJob;

struct _JupiterHost
{
  GObject              parent_instance;

  GMainContext        *context;
  JupiterClock        *clock;
  JupiterJobManager   *manager;
  JupiterPluginLoader *loader;
  JupiterConfig       *config;          /* NULL until loaded */
  GPtrArray           *plugin_dirs;     /* of char*: add_plugin_dir(), first */
  GStrv                default_search_path; /* the loader's own, at construction */
  gboolean             search_path_applied;
  GPtrArray           *plugins;         /* of HostPlugin*, in load order */
  GPtrArray           *intervals;       /* of IntervalJob* */
  GPtrArray           *startup_job_ids; /* of char* */
  GTimeSpan            shutdown_grace;
  char                *export_path;
  JupiterExportFormat  export_format;
  gboolean             export_include_results;
  gboolean             plugins_loaded;
  guint64              skipped_ticks;

  /* Shutdown */
  GTask               *shutdown_task;
  GCancellable        *shutdown_cut;    /* cancelled by shutdown_now() */
  gulong               user_cut_handler;
  GCancellable        *user_cancellable;
  GError              *shutdown_error;  /* the first thing that went wrong */

  gulong               manager_handlers[5];
  gulong               registry_handler;
};

enum {
  PROP_0,
  PROP_CLOCK,
  PROP_SHUTDOWN_GRACE,
  PROP_EXPORT_PATH,
  PROP_SKIPPED_TICKS,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

enum {
  SIGNAL_PLUGIN_LOADED,
  SIGNAL_PLUGIN_FAILED,
  SIGNAL_TICK_SKIPPED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (JupiterHost, jupiter_host, G_TYPE_OBJECT)

/* ------------------------------------------------------------------------ */
/* Logging: structured records, one per event                               */

typedef struct {
  GLogField fields[16];
  gsize     n;
} LogRecord;

static void
record_add (LogRecord  *rec,
            const char *key,
            const char *value)
{
  if (value == NULL || rec->n >= G_N_ELEMENTS (rec->fields))
    return;
  rec->fields[rec->n].key = key;
  rec->fields[rec->n].value = value;
  rec->fields[rec->n].length = -1;
  rec->n++;
}

static const char *
priority_of (GLogLevelFlags level)
{
  if (level & G_LOG_LEVEL_ERROR)
    return "3";
  if (level & G_LOG_LEVEL_CRITICAL)
    return "4";
  if (level & G_LOG_LEVEL_WARNING)
    return "4";
  if (level & G_LOG_LEVEL_MESSAGE)
    return "5";
  if (level & G_LOG_LEVEL_INFO)
    return "6";
  return "7";
}

static void
record_send (LogRecord     *rec,
             GLogLevelFlags level,
             const char    *message)
{
  record_add (rec, "GLIB_DOMAIN", G_LOG_DOMAIN);
  record_add (rec, "PRIORITY", priority_of (level));
  record_add (rec, "MESSAGE", message);
  g_log_structured_array (level, rec->fields, rec->n);
}

/* Quotes @text for a key=value line when it holds spaces or quotes. */
static void
append_value (GString    *line,
              const char *key,
              const char *value)
{
  gboolean plain = *value != '\0';

  for (const char *p = value; *p && plain; p++)
    if (g_ascii_isspace (*p) || *p == '"' || *p == '=' || *p == '\\')
      plain = FALSE;
  g_string_append_printf (line, " %s=", key);
  if (plain)
    {
      g_string_append (line, value);
      return;
    }
  g_string_append_c (line, '"');
  for (const char *p = value; *p; p++)
    {
      if (*p == '"' || *p == '\\')
        g_string_append_c (line, '\\');
      if (*p == '\n')
        g_string_append (line, "\\n");
      else
        g_string_append_c (line, *p);
    }
  g_string_append_c (line, '"');
}

/* A host-level event (no job): plugin loaded or failed, tick skipped,
 * shutdown steps. The arguments after @event are pairs of a key and a
 * value (NULL values skipped), ending with NULL: each becomes `key=value`
 * in the message and the field `JUPITER_KEY`. */
static void
log_event (GLogLevelFlags level,
           const char    *event,
           ...)
{
  LogRecord rec = { 0 };
  g_autoptr(GString) line = g_string_new (event);
  g_autoptr(GPtrArray) keys = g_ptr_array_new_with_free_func (g_free);
  const char *key;
  va_list args;

  record_add (&rec, "JUPITER_EVENT", event);
  va_start (args, event);
  while ((key = va_arg (args, const char *)) != NULL)
    {
      const char *value = va_arg (args, const char *);
      char *field;

      if (value == NULL)
        continue;
      append_value (line, key, value);
      /* As the job records and jupiter_job_context_log() name it. */
      field = g_ascii_strup (g_str_equal (key, "plugin") ? "plugin_id" : key, -1);
      g_ptr_array_add (keys, g_strconcat ("JUPITER_", field, NULL));
      g_free (field);
      record_add (&rec, g_ptr_array_index (keys, keys->len - 1), value);
    }
  va_end (args);
  record_send (&rec, level, line->str);
}

static void
log_job_event (const char *event,
               JupiterJob *job)
{
  LogRecord rec = { 0 };
  g_autoptr(GString) line = g_string_new (event);
  JupiterJobStatus status = jupiter_job_get_status (job);
  const char *plugin = jupiter_job_get_plugin_id (job);
  const char *entry = jupiter_job_get_entry_name (job);
  const GError *error = jupiter_job_get_error (job);
  char duration[32] = "", progress[32] = "";

  append_value (line, "id", jupiter_job_get_id (job));
  append_value (line, "name", jupiter_job_get_name (job));
  if (plugin)
    append_value (line, "plugin", plugin);
  if (entry)
    append_value (line, "entry", entry);
  append_value (line, "status", jupiter_job_status_to_string (status));
  if (status == JUPITER_JOB_STATUS_RUNNING && g_str_equal (event, "job-progress"))
    {
      g_snprintf (progress, sizeof progress, "%.0f%%", jupiter_job_get_progress (job) * 100.0);
      append_value (line, "progress", progress);
      if (jupiter_job_get_message (job))
        append_value (line, "message", jupiter_job_get_message (job));
    }
  if (jupiter_job_is_finished (job))
    {
      g_ascii_formatd (duration, sizeof duration, "%.3f", jupiter_job_get_duration (job) / 1000.0);
      g_string_append_printf (line, " duration=%sms", duration);
    }
  if (error)
    append_value (line, "error", error->message);

  record_add (&rec, "JUPITER_EVENT", event);
  record_add (&rec, "JUPITER_JOB_ID", jupiter_job_get_id (job));
  record_add (&rec, "JUPITER_JOB_NAME", jupiter_job_get_name (job));
  record_add (&rec, "JUPITER_PLUGIN_ID", plugin);
  record_add (&rec, "JUPITER_ENTRY", entry);
  record_add (&rec, "JUPITER_STATUS", jupiter_job_status_to_string (status));
  if (*duration)
    record_add (&rec, "JUPITER_DURATION_MS", duration);
  if (*progress)
    {
      g_ascii_formatd (progress, sizeof progress, "%.4f", jupiter_job_get_progress (job));
      record_add (&rec, "JUPITER_PROGRESS", progress);
      record_add (&rec, "JUPITER_PROGRESS_MESSAGE", jupiter_job_get_message (job));
    }
  if (error)
    record_add (&rec, "JUPITER_ERROR", error->message);
  record_send (&rec, G_LOG_LEVEL_INFO, line->str);
}

static void
on_job_started (JupiterJobManager *manager, JupiterJob *job, gpointer data)
{
  log_job_event ("job-started", job);
}

static void
on_job_progress (JupiterJobManager *manager, JupiterJob *job, gpointer data)
{
  log_job_event ("job-progress", job);
}

static void
on_job_completed (JupiterJobManager *manager, JupiterJob *job, gpointer data)
{
  log_job_event ("job-completed", job);
}

static void
on_job_failed (JupiterJobManager *manager, JupiterJob *job, gpointer data)
{
  log_job_event ("job-failed", job);
}

static void
on_job_cancelled (JupiterJobManager *manager, JupiterJob *job, gpointer data)
{
  log_job_event ("job-cancelled", job);
}

static void
on_breaker_state_changed (JupiterCircuitBreakerRegistry *registry,
                          JupiterCircuitBreaker         *breaker,
                          JupiterCircuitState            old_state,
                          JupiterCircuitState            new_state,
                          gpointer                       data)
{
  LogRecord rec = { 0 };
  g_autoptr(GString) line = g_string_new ("breaker-state-changed");
  const char *plugin = jupiter_circuit_breaker_get_plugin_id (breaker);
  char failures[24];
  char retry[G_ASCII_DTOSTR_BUF_SIZE] = "";

  append_value (line, "plugin", plugin);
  append_value (line, "from", jupiter_circuit_state_to_string (old_state));
  append_value (line, "to", jupiter_circuit_state_to_string (new_state));
  g_snprintf (failures, sizeof failures, "%u", jupiter_circuit_breaker_get_consecutive_failures (breaker));
  if (new_state == JUPITER_CIRCUIT_STATE_OPEN)
    {
      g_string_append_printf (line, " consecutive_failures=%s", failures);
      g_ascii_formatd (retry, sizeof retry, "%.1f",
                       jupiter_circuit_breaker_get_retry_in (breaker) / (double) G_USEC_PER_SEC);
      g_string_append_printf (line, " retry_in=%ss", retry);
    }

  record_add (&rec, "JUPITER_EVENT", "breaker-state-changed");
  record_add (&rec, "JUPITER_PLUGIN_ID", plugin);
  record_add (&rec, "JUPITER_BREAKER_FROM", jupiter_circuit_state_to_string (old_state));
  record_add (&rec, "JUPITER_BREAKER_TO", jupiter_circuit_state_to_string (new_state));
  record_add (&rec, "JUPITER_CONSECUTIVE_FAILURES", failures);
  if (*retry)
    record_add (&rec, "JUPITER_RETRY_IN_S", retry);
  record_send (&rec, G_LOG_LEVEL_INFO, line->str);
}

/* ------------------------------------------------------------------------ */
/* Plugins                                                                  */

static void
host_plugin_free (HostPlugin *hp)
{
  g_free (hp->id);
  g_clear_error (&hp->error);
  g_free (hp);
}

static HostPlugin *
find_host_plugin (JupiterHost *self,
                  const char  *id)
{
  for (guint i = 0; i < self->plugins->len; i++)
    {
      HostPlugin *hp = g_ptr_array_index (self->plugins, i);

      if (g_str_equal (hp->id, id))
        return hp;
    }
  return NULL;
}

static void
plugin_failed (JupiterHost *self,
               HostPlugin  *hp,
               GError      *error)
{
  hp->state = JUPITER_PLUGIN_STATE_FAILED;
  hp->error = error;
  log_event (G_LOG_LEVEL_WARNING, "plugin-failed", "plugin", hp->id, "error", error->message, NULL);
  g_signal_emit (self, signals[SIGNAL_PLUGIN_FAILED], g_quark_from_string (hp->id), hp->id, error);
}

static void
plugin_loaded (JupiterHost   *self,
               HostPlugin    *hp,
               JupiterPlugin *plugin)
{
  g_auto(GStrv) entries = jupiter_plugin_dup_entry_names (plugin);
  g_autofree char *list = g_strjoinv (",", entries);

  hp->state = JUPITER_PLUGIN_STATE_LOADED;
  hp->plugin = plugin;
  log_event (G_LOG_LEVEL_INFO, "plugin-loaded", "plugin", hp->id,
             "version", jupiter_plugin_get_version (plugin), "entries", list,
             "path", jupiter_plugin_get_path (plugin), NULL);
  g_signal_emit (self, signals[SIGNAL_PLUGIN_LOADED], g_quark_from_string (hp->id), plugin);
}

/* --plugin-dir directories, the configuration's, then the loader's own
 * defaults (JUPITER_PLUGIN_PATH, the installed directory), as taken when
 * the host was made. Done again only after a change. */
static void
apply_search_path (JupiterHost *self)
{
  g_autoptr(GStrvBuilder) builder = NULL;
  g_auto(GStrv) path = NULL;

  if (self->search_path_applied)
    return;
  builder = g_strv_builder_new ();
  for (guint i = 0; i < self->plugin_dirs->len; i++)
    g_strv_builder_add (builder, g_ptr_array_index (self->plugin_dirs, i));
  if (self->config)
    g_strv_builder_addv (builder, (const char **) self->config->plugin_paths);
  g_strv_builder_addv (builder, (const char **) self->default_search_path);
  path = g_strv_builder_end (builder);
  jupiter_plugin_loader_set_search_path (self->loader, (const char * const *) path);
  self->search_path_applied = TRUE;
}

static void
load_configured_plugin (JupiterHost         *self,
                        JupiterConfigPlugin *conf)
{
  JupiterCircuitBreakerRegistry *registry = jupiter_job_manager_get_circuit_breaker_registry (self->manager);
  HostPlugin *hp = g_new0 (HostPlugin, 1);
  g_autoptr(GError) error = NULL;
  JupiterPlugin *plugin;

  hp->conf = conf;
  hp->id = g_strdup (conf->id);
  g_ptr_array_add (self->plugins, hp);

  if (!conf->enabled)
    {
      hp->state = JUPITER_PLUGIN_STATE_DISABLED;
      log_event (G_LOG_LEVEL_INFO, "plugin-disabled", "plugin", hp->id, NULL);
      return;
    }

  /* The breaker exists before any job of the plugin, with its thresholds. */
  jupiter_circuit_breaker_registry_get_or_create (registry, conf->id, &conf->breaker);
  if (conf->max_concurrent > 0)
    jupiter_job_manager_set_plugin_max_concurrent (self->manager, conf->id, conf->max_concurrent);

  if (conf->path)
    plugin = jupiter_plugin_loader_load_file (self->loader, conf->path, conf->config, &error);
  else
    plugin = jupiter_plugin_loader_load (self->loader, conf->id, conf->config, &error);

  if (plugin && !g_str_equal (jupiter_plugin_get_id (plugin), conf->id))
    {
      plugin_failed (self, hp,
                     g_error_new (JUPITER_PLUGIN_ERROR, JUPITER_PLUGIN_ERROR_INVALID,
                                  "%s (%s): %s provides the plugin “%s”, not “%s”",
                                  conf->where, conf->id, conf->path,
                                  jupiter_plugin_get_id (plugin), conf->id));
      return;
    }
  if (plugin == NULL)
    {
      plugin_failed (self, hp,
                     g_error_new (error->domain, error->code, "%s (%s): %s",
                                  conf->where, conf->id, error->message));
      return;
    }
  plugin_loaded (self, hp, plugin);
}

/* ------------------------------------------------------------------------ */
/* Interval jobs                                                            */

static void  interval_arm (IntervalJob *ij);
static char *host_submit  (JupiterHost *self,
                           const char  *plugin_id,
                           const char  *entry_name,
                           JsonNode    *args,
                           const char  *name,
                           GError     **error);

static void
interval_job_free (IntervalJob *ij)
{
  if (ij->timer)
    {
      g_source_destroy (ij->timer);
      g_source_unref (ij->timer);
    }
  g_free (ij->last_job_id);
  g_free (ij);
}

static char *
submit_configured_job (JupiterHost      *self,
                       JupiterConfigJob *conf,
                       GError          **error)
{
  g_autoptr(GError) local = NULL;
  char *id;

  id = host_submit (self, conf->plugin, conf->entry, conf->args, conf->name, &local);
  if (id == NULL)
    {
      g_set_error (error, local->domain, local->code, "%s: %s", conf->where, local->message);
      return NULL;
    }
  return id;
}

static gboolean
interval_tick (gpointer data)
{
  IntervalJob *ij = data;
  /* A tick-skipped handler may drop the last reference to the host. */
  g_autoptr(JupiterHost) self = g_object_ref (ij->host);
  g_autoptr(GError) error = NULL;
  g_autoptr(JupiterJob) last = NULL;
  g_autofree char *name = NULL;
  char *id;

  g_clear_pointer (&ij->timer, g_source_unref);
  name = g_strdup (ij->conf->name ? ij->conf->name : ij->conf->entry);

  if (ij->last_job_id)
    last = jupiter_job_manager_get (self->manager, ij->last_job_id, NULL);
  if (last && !jupiter_job_is_finished (last))
    {
      ij->skipped++;
      self->skipped_ticks++;
      char skipped[24];

      g_snprintf (skipped, sizeof skipped, "%" G_GUINT64_FORMAT, ij->skipped);
      log_event (G_LOG_LEVEL_INFO, "tick-skipped", "plugin", ij->conf->plugin,
                 "entry", ij->conf->entry, "name", name, "previous_job_id", ij->last_job_id,
                 "skipped", skipped, NULL);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SKIPPED_TICKS]);
      g_signal_emit (self, signals[SIGNAL_TICK_SKIPPED], 0, ij->conf->plugin, ij->conf->entry,
                     ij->last_job_id);
    }
  else
    {
      id = submit_configured_job (self, ij->conf, &error);
      if (id)
        {
          ij->runs++;
          g_free (ij->last_job_id);
          ij->last_job_id = id;
        }
      else
        log_event (G_LOG_LEVEL_WARNING, "submit-failed", "plugin", ij->conf->plugin,
                   "entry", ij->conf->entry, "error", error->message, NULL);
    }

  interval_arm (ij);   /* not once a shutdown has begun */
  return G_SOURCE_REMOVE;
}

static void
interval_arm (IntervalJob *ij)
{
  JupiterHost *self = ij->host;
  gint64 now = jupiter_clock_get_time (self->clock);

  if (jupiter_job_manager_is_shutting_down (self->manager))
    return;
  ij->deadline += ij->conf->every;
  /* Fell behind (a suspended machine, a slow loop): no burst of catch-up
   * ticks, the next one is a whole interval away. */
  if (ij->deadline <= now)
    ij->deadline = now + ij->conf->every;
  ij->timer = jupiter_clock_timeout_source_new (self->clock, ij->deadline);
  g_source_set_static_name (ij->timer, "[jupiter] interval job");
  g_source_set_callback (ij->timer, interval_tick, ij, NULL);
  g_source_attach (ij->timer, self->context);
}

static void
stop_intervals (JupiterHost *self)
{
  for (guint i = 0; i < self->intervals->len; i++)
    {
      IntervalJob *ij = g_ptr_array_index (self->intervals, i);

      if (ij->timer)
        {
          g_source_destroy (ij->timer);
          g_clear_pointer (&ij->timer, g_source_unref);
        }
    }
}

/* ------------------------------------------------------------------------ */
/* GObject                                                                  */

static void
jupiter_host_constructed (GObject *object)
{
  JupiterHost *self = JUPITER_HOST (object);
  JupiterCircuitBreakerRegistry *registry;

  G_OBJECT_CLASS (jupiter_host_parent_class)->constructed (object);

  if (self->clock == NULL)
    self->clock = g_object_ref (jupiter_clock_get_system ());
  self->manager = g_object_new (JUPITER_TYPE_JOB_MANAGER, "clock", self->clock, NULL);
  self->loader = jupiter_plugin_loader_new ();
  self->default_search_path = jupiter_plugin_loader_get_search_path (self->loader);

  self->manager_handlers[0] = g_signal_connect (self->manager, "job-started", G_CALLBACK (on_job_started), self);
  self->manager_handlers[1] = g_signal_connect (self->manager, "job-progress", G_CALLBACK (on_job_progress), self);
  self->manager_handlers[2] = g_signal_connect (self->manager, "job-completed", G_CALLBACK (on_job_completed), self);
  self->manager_handlers[3] = g_signal_connect (self->manager, "job-failed", G_CALLBACK (on_job_failed), self);
  self->manager_handlers[4] = g_signal_connect (self->manager, "job-cancelled", G_CALLBACK (on_job_cancelled), self);
  registry = jupiter_job_manager_get_circuit_breaker_registry (self->manager);
  self->registry_handler = g_signal_connect (registry, "breaker-state-changed",
                                             G_CALLBACK (on_breaker_state_changed), self);
}

static void
jupiter_host_dispose (GObject *object)
{
  JupiterHost *self = JUPITER_HOST (object);

  if (self->intervals)
    stop_intervals (self);
  if (self->manager)
    {
      for (guint i = 0; i < G_N_ELEMENTS (self->manager_handlers); i++)
        g_clear_signal_handler (&self->manager_handlers[i], self->manager);
      g_clear_signal_handler (&self->registry_handler,
                              jupiter_job_manager_get_circuit_breaker_registry (self->manager));
    }
  if (self->user_cut_handler)
    {
      g_cancellable_disconnect (self->user_cancellable, self->user_cut_handler);
      self->user_cut_handler = 0;
    }
  g_clear_object (&self->user_cancellable);
  g_clear_object (&self->manager);
  g_clear_object (&self->loader);

  G_OBJECT_CLASS (jupiter_host_parent_class)->dispose (object);
}

static void
jupiter_host_finalize (GObject *object)
{
  JupiterHost *self = JUPITER_HOST (object);

  g_clear_pointer (&self->intervals, g_ptr_array_unref);
  g_clear_pointer (&self->plugins, g_ptr_array_unref);
  g_clear_pointer (&self->startup_job_ids, g_ptr_array_unref);
  g_clear_pointer (&self->plugin_dirs, g_ptr_array_unref);
  g_clear_pointer (&self->default_search_path, g_strfreev);
  g_clear_pointer (&self->config, jupiter_config_free);
  g_clear_pointer (&self->export_path, g_free);
  g_clear_error (&self->shutdown_error);
  g_clear_object (&self->shutdown_cut);
  g_clear_object (&self->clock);
  g_clear_pointer (&self->context, g_main_context_unref);

  G_OBJECT_CLASS (jupiter_host_parent_class)->finalize (object);
}

static void
jupiter_host_get_property (GObject    *object,
                           guint       prop_id,
                           GValue     *value,
                           GParamSpec *pspec)
{
  JupiterHost *self = JUPITER_HOST (object);

  switch (prop_id)
    {
    case PROP_CLOCK:
      g_value_set_object (value, self->clock);
      break;
    case PROP_SHUTDOWN_GRACE:
      g_value_set_int64 (value, self->shutdown_grace);
      break;
    case PROP_EXPORT_PATH:
      g_value_set_string (value, self->export_path);
      break;
    case PROP_SKIPPED_TICKS:
      g_value_set_uint64 (value, self->skipped_ticks);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
jupiter_host_set_property (GObject      *object,
                           guint         prop_id,
                           const GValue *value,
                           GParamSpec   *pspec)
{
  JupiterHost *self = JUPITER_HOST (object);

  switch (prop_id)
    {
    case PROP_CLOCK:
      self->clock = g_value_dup_object (value);
      break;
    case PROP_SHUTDOWN_GRACE:
      jupiter_host_set_shutdown_grace (self, g_value_get_int64 (value));
      break;
    case PROP_EXPORT_PATH:
      jupiter_host_set_export_path (self, g_value_get_string (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
jupiter_host_class_init (JupiterHostClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->constructed = jupiter_host_constructed;
  object_class->dispose = jupiter_host_dispose;
  object_class->finalize = jupiter_host_finalize;
  object_class->get_property = jupiter_host_get_property;
  object_class->set_property = jupiter_host_set_property;

  /**
   * JupiterHost:clock:
   *
   * The monotonic clock of the job manager, its breakers and the interval
   * jobs' timers; tests pass a manual one. Default: the system clock.
   *
   * Since: 0.1
   */
  properties[PROP_CLOCK] =
    g_param_spec_object ("clock", NULL, NULL, JUPITER_TYPE_CLOCK,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);

  /**
   * JupiterHost:shutdown-grace:
   *
   * How long, in microseconds, running jobs may take to finish once a
   * shutdown has begun, before they are cancelled. The configuration's
   * `host.shutdown_grace` sets it. Default: 10 seconds.
   *
   * Since: 0.1
   */
  properties[PROP_SHUTDOWN_GRACE] =
    g_param_spec_int64 ("shutdown-grace", NULL, NULL, 0, G_MAXINT64, DEFAULT_SHUTDOWN_GRACE,
                        G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  /**
   * JupiterHost:export-path:
   *
   * Where the shutdown exports every recorded job (JSON or YAML by the
   * extension, unless the configuration names the format); %NULL for no
   * export. The configuration's `host.export_on_exit.path` sets it.
   *
   * Since: 0.1
   */
  properties[PROP_EXPORT_PATH] =
    g_param_spec_string ("export-path", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  /**
   * JupiterHost:skipped-ticks:
   *
   * Interval-job ticks skipped because the previous run of that job was
   * still pending or running.
   *
   * Since: 0.1
   */
  properties[PROP_SKIPPED_TICKS] =
    g_param_spec_uint64 ("skipped-ticks", NULL, NULL, 0, G_MAXUINT64, 0,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * JupiterHost::plugin-loaded:
   * @host: the host
   * @plugin: the plugin, loaded and initialised
   *
   * Emitted by jupiter_host_load_plugins() for each plugin that loaded.
   * Detailed by the plugin id.
   *
   * Since: 0.1
   */
  signals[SIGNAL_PLUGIN_LOADED] =
    g_signal_new ("plugin-loaded", G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST | G_SIGNAL_DETAILED,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, JUPITER_TYPE_PLUGIN);

  /**
   * JupiterHost::plugin-failed:
   * @host: the host
   * @plugin_id: the plugin's id
   * @error: why it failed; the message names the configuration entry
   *   (`FILE:LINE:COLUMN: plugins[N] (ID)`) and the plugin's file
   *
   * Emitted by jupiter_host_load_plugins() for each plugin that could not
   * be loaded; the host goes on with the others. Detailed by the plugin id.
   *
   * Since: 0.1
   */
  signals[SIGNAL_PLUGIN_FAILED] =
    g_signal_new ("plugin-failed", G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST | G_SIGNAL_DETAILED,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_ERROR);

  /**
   * JupiterHost::tick-skipped:
   * @host: the host
   * @plugin_id: the interval job's plugin
   * @entry_name: the interval job's entry
   * @previous_job_id: the run that is still going
   *
   * Emitted when an interval job's tick comes while its previous run is
   * still pending or running: that tick is skipped (and counted in
   * #JupiterHost:skipped-ticks).
   *
   * Since: 0.1
   */
  signals[SIGNAL_TICK_SKIPPED] =
    g_signal_new ("tick-skipped", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 3, G_TYPE_STRING, G_TYPE_STRING, G_TYPE_STRING);
}

static void
jupiter_host_init (JupiterHost *self)
{
  self->context = g_main_context_ref_thread_default ();
  self->plugin_dirs = g_ptr_array_new_with_free_func (g_free);
  self->plugins = g_ptr_array_new_with_free_func ((GDestroyNotify) host_plugin_free);
  self->intervals = g_ptr_array_new_with_free_func ((GDestroyNotify) interval_job_free);
  self->startup_job_ids = g_ptr_array_new_with_free_func (g_free);
  self->shutdown_grace = DEFAULT_SHUTDOWN_GRACE;
  self->export_include_results = TRUE;
  self->shutdown_cut = g_cancellable_new ();
}

/* ------------------------------------------------------------------------ */
/* Public API                                                               */

/**
 * jupiter_host_new:
 *
 * Creates a host with a job manager, a plugin loader and a breaker
 * registry of its own, belonging to the thread-default main context.
 *
 * Returns: (transfer full): a new #JupiterHost
 *
 * Since: 0.1
 */
JupiterHost *
jupiter_host_new (void)
{
  return g_object_new (JUPITER_TYPE_HOST, NULL);
}

/**
 * jupiter_host_load_config:
 * @self: a #JupiterHost
 * @path: a configuration file, YAML (`.yaml`, `.yml`) or JSON (`.json`)
 * @error: return location for a #GError
 *
 * Reads, parses and validates @path, then applies its `host` and
 * `circuit_breaker` sections to the job manager and the breaker registry.
 * Plugins are loaded by jupiter_host_load_plugins(), jobs submitted by
 * jupiter_host_submit_startup_jobs() and jupiter_host_start_interval_jobs().
 * Call it once, before loading plugins.
 *
 * Returns: %TRUE on success; %FALSE with a %JUPITER_CONFIG_ERROR of the
 *   form `FILE:LINE:COLUMN: key.path: what was expected`, in which case
 *   nothing was applied
 *
 * Since: 0.1
 */
gboolean
jupiter_host_load_config (JupiterHost *self,
                          const char  *path,
                          GError     **error)
{
  g_autoptr(JupiterConfig) config = NULL;
  JupiterCircuitBreakerRegistry *registry;
  JupiterConfig *c;

  g_return_val_if_fail (JUPITER_IS_HOST (self), FALSE);
  g_return_val_if_fail (path != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);
  g_return_val_if_fail (self->config == NULL, FALSE);
  g_return_val_if_fail (!self->plugins_loaded, FALSE);

  config = jupiter_config_load (path, error);
  if (config == NULL)
    return FALSE;
  self->config = c = g_steal_pointer (&config);
  self->search_path_applied = FALSE;

  if (c->max_concurrent > 0)
    jupiter_job_manager_set_max_concurrent (self->manager, c->max_concurrent);
  if (c->max_pending > 0)
    jupiter_job_manager_set_max_pending (self->manager, c->max_pending);
  if (c->history_limit > 0)
    jupiter_job_manager_set_history_limit (self->manager, c->history_limit);
  if (c->allow_unsafe)
    g_object_set (self->loader, "allow-unsafe", TRUE, NULL);
  if (c->shutdown_grace >= 0)
    jupiter_host_set_shutdown_grace (self, c->shutdown_grace);
  if (c->export_path)
    {
      jupiter_host_set_export_path (self, c->export_path);
      if (g_strcmp0 (c->export_format, "json") == 0)
        self->export_format = JUPITER_EXPORT_FORMAT_JSON;
      else if (g_strcmp0 (c->export_format, "yaml") == 0)
        self->export_format = JUPITER_EXPORT_FORMAT_YAML;
      self->export_include_results = c->export_include_results;
    }

  registry = jupiter_job_manager_get_circuit_breaker_registry (self->manager);
  if (c->breaker.failure_threshold > 0)
    g_object_set (registry, "failure-threshold", c->breaker.failure_threshold, NULL);
  if (c->breaker.cooldown > 0)
    g_object_set (registry, "cooldown", (gint64) c->breaker.cooldown, NULL);
  if (c->breaker.half_open_max_calls > 0)
    g_object_set (registry, "half-open-max-calls", c->breaker.half_open_max_calls, NULL);
  if (c->breaker.success_threshold > 0)
    g_object_set (registry, "success-threshold", c->breaker.success_threshold, NULL);
  return TRUE;
}

/**
 * jupiter_host_get_config_path:
 * @self: a #JupiterHost
 *
 * Returns: (nullable): the configuration file given to
 *   jupiter_host_load_config(), or %NULL
 *
 * Since: 0.1
 */
const char *
jupiter_host_get_config_path (JupiterHost *self)
{
  g_return_val_if_fail (JUPITER_IS_HOST (self), NULL);

  return self->config ? self->config->path : NULL;
}

/**
 * jupiter_host_add_plugin_dir:
 * @self: a #JupiterHost
 * @dir: a directory
 *
 * Adds @dir to the plugin search path, before the configuration's
 * `host.plugin_paths`, `JUPITER_PLUGIN_PATH` and the installed plugin
 * directory (directories added earlier come first). Call it before
 * jupiter_host_load_plugins().
 *
 * Since: 0.1
 */
void
jupiter_host_add_plugin_dir (JupiterHost *self,
                             const char  *dir)
{
  g_return_if_fail (JUPITER_IS_HOST (self));
  g_return_if_fail (dir != NULL);

  g_ptr_array_add (self->plugin_dirs, g_canonicalize_filename (dir, NULL));
  self->search_path_applied = FALSE;
}

/**
 * jupiter_host_load_plugins:
 * @self: a #JupiterHost
 *
 * Loads the plugins: with a configuration, every enabled plugin it lists,
 * in order, each with its own `config` passed to its `init`, its breaker
 * thresholds and its concurrency cap; without one, every plugin found on
 * the search path. Emits #JupiterHost::plugin-loaded or
 * #JupiterHost::plugin-failed for each; a plugin that fails is listed with
 * its reason and the others load regardless. Call it once.
 *
 * Returns: how many plugins failed
 *
 * Since: 0.1
 */
guint
jupiter_host_load_plugins (JupiterHost *self)
{
  guint failed = 0;

  g_return_val_if_fail (JUPITER_IS_HOST (self), 0);
  g_return_val_if_fail (!self->plugins_loaded, 0);

  self->plugins_loaded = TRUE;
  apply_search_path (self);

  if (self->config)
    {
      for (guint i = 0; i < self->config->plugins->len; i++)
        load_configured_plugin (self, g_ptr_array_index (self->config->plugins, i));
    }
  else
    {
      g_autoptr(GPtrArray) found = NULL;

      jupiter_plugin_loader_discover (self->loader);
      found = jupiter_plugin_loader_list (self->loader);
      for (guint i = 0; i < found->len; i++)
        {
          JupiterPlugin *plugin = g_ptr_array_index (found, i);
          HostPlugin *hp = g_new0 (HostPlugin, 1);

          hp->id = g_strdup (jupiter_plugin_get_id (plugin));
          g_ptr_array_add (self->plugins, hp);
          if (jupiter_plugin_get_state (plugin) == JUPITER_PLUGIN_STATE_LOADED)
            plugin_loaded (self, hp, plugin);
          else
            plugin_failed (self, hp, g_error_copy (jupiter_plugin_get_error (plugin)));
        }
    }

  for (guint i = 0; i < self->plugins->len; i++)
    if (((HostPlugin *) g_ptr_array_index (self->plugins, i))->state == JUPITER_PLUGIN_STATE_FAILED)
      failed++;
  return failed;
}

/**
 * jupiter_host_submit:
 * @self: a #JupiterHost
 * @plugin_id: a plugin id
 * @entry_name: one of its entries
 * @args: (nullable): the job's arguments
 * @error: return location for a #GError
 *
 * Submits one entry point of a loaded plugin as a job, with the timeout
 * and concurrency cap the configuration gives that plugin. Without a
 * configuration, a plugin that has not been loaded yet is looked up by id
 * on the search path and loaded first.
 *
 * Returns: (transfer full): the new job's id, or %NULL with @error set
 *   (%JUPITER_PLUGIN_ERROR_NOT_FOUND, %JUPITER_PLUGIN_ERROR_NOT_LOADED
 *   naming why the plugin is unavailable, %JUPITER_PLUGIN_ERROR_NO_ENTRY,
 *   or the manager's %JUPITER_JOB_ERROR codes)
 *
 * Since: 0.1
 */
char *
jupiter_host_submit (JupiterHost *self,
                     const char  *plugin_id,
                     const char  *entry_name,
                     JsonNode    *args,
                     GError     **error)
{
  g_return_val_if_fail (JUPITER_IS_HOST (self), NULL);
  g_return_val_if_fail (plugin_id != NULL, NULL);
  g_return_val_if_fail (entry_name != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return host_submit (self, plugin_id, entry_name, args, NULL, error);
}

static char *
host_submit (JupiterHost *self,
             const char  *plugin_id,
             const char  *entry_name,
             JsonNode    *args,
             const char  *name,
             GError     **error)
{
  HostPlugin *hp;
  GTimeSpan timeout = 0;
  guint cap = 0;

  if (!self->plugins_loaded)
    apply_search_path (self);

  hp = find_host_plugin (self, plugin_id);
  if (hp == NULL && self->config == NULL)
    {
      g_autoptr(GError) local = NULL;
      JupiterPlugin *plugin;

      hp = g_new0 (HostPlugin, 1);
      hp->id = g_strdup (plugin_id);
      g_ptr_array_add (self->plugins, hp);
      plugin = jupiter_plugin_loader_get (self->loader, plugin_id);
      if (plugin == NULL)
        plugin = jupiter_plugin_loader_load (self->loader, plugin_id, NULL, &local);
      if (plugin)
        plugin_loaded (self, hp, plugin);
      else
        plugin_failed (self, hp, g_steal_pointer (&local));
    }
  if (hp == NULL)
    {
      g_set_error (error, JUPITER_PLUGIN_ERROR, JUPITER_PLUGIN_ERROR_NOT_FOUND,
                   "No plugin “%s” is configured in %s", plugin_id, self->config->path);
      return NULL;
    }
  switch (hp->state)
    {
    case JUPITER_PLUGIN_STATE_DISABLED:
      g_set_error (error, JUPITER_PLUGIN_ERROR, JUPITER_PLUGIN_ERROR_NOT_LOADED,
                   "Plugin “%s” is disabled (%s)", plugin_id, hp->conf ? hp->conf->where : "");
      return NULL;
    case JUPITER_PLUGIN_STATE_FAILED:
      g_set_error (error, JUPITER_PLUGIN_ERROR, JUPITER_PLUGIN_ERROR_NOT_LOADED,
                   "Plugin “%s” is not loaded: %s", plugin_id,
                   hp->error ? hp->error->message : "it failed to load");
      return NULL;
    case JUPITER_PLUGIN_STATE_LOADED:
    default:
      break;
    }
  if (hp->conf)
    {
      timeout = hp->conf->timeout;
      cap = hp->conf->max_concurrent;
    }
  return jupiter_plugin_loader_submit_full (self->loader, self->manager, plugin_id, entry_name,
                                            args, name, timeout, cap, error);
}

/* A job of a plugin the configuration disables is not submitted: logged
 * once, not an error. */
static gboolean
job_is_disabled (JupiterHost      *self,
                 JupiterConfigJob *conf)
{
  HostPlugin *hp = find_host_plugin (self, conf->plugin);

  if (hp == NULL || hp->state != JUPITER_PLUGIN_STATE_DISABLED)
    return FALSE;
  log_event (G_LOG_LEVEL_INFO, "job-skipped", "plugin", conf->plugin, "entry", conf->entry,
             "name", conf->name, "reason", "the plugin is disabled", NULL);
  return TRUE;
}

/**
 * jupiter_host_submit_startup_jobs:
 * @self: a #JupiterHost
 * @error: return location for a #GError
 *
 * Submits every job of the configuration that has no `every` interval,
 * in order. A job of a disabled plugin is skipped (and logged as
 * `job-skipped`). A job that cannot be submitted (its plugin failed, no
 * such entry, ...) is logged and the others are still submitted. Their ids are in jupiter_host_dup_startup_job_ids().
 *
 * Returns: %TRUE if every startup job was submitted; %FALSE with the first
 *   failure in @error, its message starting with the job's place in the
 *   configuration (`FILE:LINE:COLUMN: jobs[N]`)
 *
 * Since: 0.1
 */
gboolean
jupiter_host_submit_startup_jobs (JupiterHost *self,
                                  GError     **error)
{
  gboolean ok = TRUE;

  g_return_val_if_fail (JUPITER_IS_HOST (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (self->config == NULL)
    return TRUE;
  for (guint i = 0; i < self->config->jobs->len; i++)
    {
      JupiterConfigJob *conf = g_ptr_array_index (self->config->jobs, i);
      g_autoptr(GError) local = NULL;
      char *id;

      if (conf->every > 0 || job_is_disabled (self, conf))
        continue;
      id = submit_configured_job (self, conf, &local);
      if (id)
        {
          g_ptr_array_add (self->startup_job_ids, id);
          continue;
        }
      log_event (G_LOG_LEVEL_WARNING, "submit-failed", "plugin", conf->plugin,
                 "entry", conf->entry, "error", local->message, NULL);
      if (ok)
        g_propagate_error (error, g_steal_pointer (&local));
      ok = FALSE;
    }
  return ok;
}

/**
 * jupiter_host_check_jobs:
 * @self: a #JupiterHost
 *
 * Checks every job of the configuration against the plugins as loaded by
 * jupiter_host_load_plugins(): its plugin must have loaded and have the
 * entry the job names. Jobs of disabled plugins are not checked (they are
 * not submitted). This is what `jupiter-host --check` reports beyond the
 * configuration's own validation.
 *
 * Returns: (transfer full) (element-type GError): one error per job that
 *   cannot run, each message starting with the job's place in the
 *   configuration (`FILE:LINE:COLUMN: jobs[N]`); empty when every job can
 *
 * Since: 0.1
 */
GPtrArray *
jupiter_host_check_jobs (JupiterHost *self)
{
  GPtrArray *problems;

  g_return_val_if_fail (JUPITER_IS_HOST (self), NULL);

  problems = g_ptr_array_new_with_free_func ((GDestroyNotify) g_error_free);
  for (guint i = 0; self->config && i < self->config->jobs->len; i++)
    {
      JupiterConfigJob *conf = g_ptr_array_index (self->config->jobs, i);
      HostPlugin *hp = find_host_plugin (self, conf->plugin);
      g_auto(GStrv) entries = NULL;

      if (hp == NULL || hp->state == JUPITER_PLUGIN_STATE_DISABLED)
        continue;
      if (hp->state == JUPITER_PLUGIN_STATE_FAILED)
        {
          g_ptr_array_add (problems,
                           g_error_new (JUPITER_PLUGIN_ERROR, JUPITER_PLUGIN_ERROR_NOT_LOADED,
                                        "%s: plugin “%s” did not load", conf->where, conf->plugin));
          continue;
        }
      entries = jupiter_plugin_dup_entry_names (hp->plugin);
      if (!g_strv_contains ((const char * const *) entries, conf->entry))
        {
          g_autofree char *known = g_strjoinv (", ", entries);

          g_ptr_array_add (problems,
                           g_error_new (JUPITER_PLUGIN_ERROR, JUPITER_PLUGIN_ERROR_NO_ENTRY,
                                        "%s: plugin “%s” has no entry “%s” (it has: %s)",
                                        conf->where, conf->plugin, conf->entry, known));
        }
    }
  return problems;
}

/**
 * jupiter_host_dup_disabled_plugins:
 * @self: a #JupiterHost
 *
 * Returns: (transfer full): the ids of the plugins the configuration
 *   disables, in file order
 *
 * Since: 0.1
 */
GStrv
jupiter_host_dup_disabled_plugins (JupiterHost *self)
{
  g_autoptr(GStrvBuilder) builder = NULL;

  g_return_val_if_fail (JUPITER_IS_HOST (self), NULL);

  builder = g_strv_builder_new ();
  for (guint i = 0; self->config && i < self->config->plugins->len; i++)
    {
      JupiterConfigPlugin *conf = g_ptr_array_index (self->config->plugins, i);

      if (!conf->enabled)
        g_strv_builder_add (builder, conf->id);
    }
  return g_strv_builder_end (builder);
}

/**
 * jupiter_host_dup_startup_job_ids:
 * @self: a #JupiterHost
 *
 * Returns: (transfer full): the ids of the jobs
 *   jupiter_host_submit_startup_jobs() submitted, in order
 *
 * Since: 0.1
 */
GStrv
jupiter_host_dup_startup_job_ids (JupiterHost *self)
{
  GStrvBuilder *builder;
  GStrv ids;

  g_return_val_if_fail (JUPITER_IS_HOST (self), NULL);

  builder = g_strv_builder_new ();
  for (guint i = 0; i < self->startup_job_ids->len; i++)
    g_strv_builder_add (builder, g_ptr_array_index (self->startup_job_ids, i));
  ids = g_strv_builder_end (builder);
  g_strv_builder_unref (builder);
  return ids;
}

/**
 * jupiter_host_start_interval_jobs:
 * @self: a #JupiterHost
 *
 * Arms a timer, on the host's clock and main context, for every job of the
 * configuration that has an `every` interval. The first run comes one
 * interval from now. A tick that comes while the job's previous run is
 * still pending or running is skipped: it is logged, counted in
 * #JupiterHost:skipped-ticks and announced by #JupiterHost::tick-skipped.
 * The timers stop when the host shuts down. Call it once.
 *
 * Since: 0.1
 */
void
jupiter_host_start_interval_jobs (JupiterHost *self)
{
  gint64 now;

  g_return_if_fail (JUPITER_IS_HOST (self));
  g_return_if_fail (self->intervals->len == 0);

  if (self->config == NULL)
    return;
  now = jupiter_clock_get_time (self->clock);
  for (guint i = 0; i < self->config->jobs->len; i++)
    {
      JupiterConfigJob *conf = g_ptr_array_index (self->config->jobs, i);
      IntervalJob *ij;

      if (conf->every <= 0 || job_is_disabled (self, conf))
        continue;
      ij = g_new0 (IntervalJob, 1);
      ij->host = self;
      ij->conf = conf;
      ij->deadline = now;
      g_ptr_array_add (self->intervals, ij);
      interval_arm (ij);
    }
}

/* ------------------------------------------------------------------------ */
/* Shutdown                                                                 */

static void
shutdown_record_error (JupiterHost *self,
                       GError      *error)
{
  if (self->shutdown_error == NULL)
    self->shutdown_error = error;
  else
    g_error_free (error);
}

static char *
format_uint (guint64 value)
{
  return g_strdup_printf ("%" G_GUINT64_FORMAT, value);
}

static void
shutdown_complete (JupiterHost *self)
{
  g_autoptr(GTask) task = g_steal_pointer (&self->shutdown_task);
  guint still = jupiter_job_manager_get_n_running_functions (self->manager);
  g_autofree char *still_text = format_uint (still);

  if (self->export_path)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *n = format_uint (jupiter_job_manager_count (self->manager, JUPITER_JOB_STATUS_ANY, NULL));

      if (jupiter_job_manager_export_jobs (self->manager, self->export_path, JUPITER_JOB_STATUS_ANY,
                                           NULL, self->export_format, self->export_include_results,
                                           &error))
        log_event (G_LOG_LEVEL_INFO, "exported", "jobs", n, "path", self->export_path, NULL);
      else
        {
          log_event (G_LOG_LEVEL_WARNING, "export-failed", "path", self->export_path,
                     "error", error->message, NULL);
          shutdown_record_error (self, g_steal_pointer (&error));
        }
    }

  if (still > 0)
    {
      /* A thread is inside plugin code: unloading, or even calling the
       * plugins' shutdown, is not safe. The caller exits without running
       * the plugins' destructors. */
      log_event (G_LOG_LEVEL_WARNING, "shutdown-incomplete", "running_functions", still_text,
                 "plugins_shut_down", "no", NULL);
      g_task_return_new_error (task, JUPITER_JOB_ERROR, JUPITER_JOB_ERROR_TIMED_OUT,
                               "%u job functions are still running; the plugins were not shut down",
                               still);
      return;
    }

  jupiter_plugin_loader_shutdown (self->loader);
  log_event (G_LOG_LEVEL_INFO, "shutdown-complete", "plugins_shut_down", "yes", NULL);
  if (self->shutdown_error)
    g_task_return_error (task, g_steal_pointer (&self->shutdown_error));
  else
    g_task_return_boolean (task, TRUE);
}

static void
settle_done_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      data)
{
  JupiterHost *self = data;

  /* Whatever still runs is reported by shutdown_complete(). */
  jupiter_job_manager_shutdown_finish (self->manager, result, NULL);
  shutdown_complete (self);
  g_object_unref (self);
}

static void
grace_done_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      data)
{
  JupiterHost *self = data;
  gboolean cut = g_cancellable_is_cancelled (self->shutdown_cut);
  g_autofree char *still = NULL;

  if (jupiter_job_manager_shutdown_finish (self->manager, result, NULL))
    {
      shutdown_complete (self);
      g_object_unref (self);
      return;
    }
  /* The wait is over (the grace period passed, or it was cut short) and
   * the running jobs have been cancelled: wait a little for those that
   * honour it, so their records say CANCELLED and the plugins can be shut
   * down. After a cut the wait is short: the operator asked to stop now. */
  still = format_uint (jupiter_job_manager_get_n_running_functions (self->manager));
  log_event (G_LOG_LEVEL_INFO, cut ? "shutdown-cut-short" : "shutdown-grace-over",
             "running_functions", still, "action", "cancelled", NULL);
  jupiter_job_manager_shutdown_async (self->manager, cut ? SHUTDOWN_CUT_SETTLE : SHUTDOWN_SETTLE,
                                      cut ? NULL : self->shutdown_cut, settle_done_cb, self);
}

static void
user_cut_cb (GCancellable *cancellable,
             gpointer      data)
{
  g_cancellable_cancel (G_CANCELLABLE (data));
}

/**
 * jupiter_host_shutdown_async:
 * @self: a #JupiterHost
 * @cancellable: (nullable): cancelling it has the effect of
 *   jupiter_host_shutdown_now()
 * @callback: (scope async): called when the shutdown is over
 * @user_data: data for @callback
 *
 * Shuts the host down without blocking its main loop, as DESIGN §7 of
 * Jupiter describes: stops the interval timers and stops accepting jobs,
 * cancels every pending job, and gives running jobs
 * #JupiterHost:shutdown-grace to finish (a timer on the host's context, so
 * the program can still react to a second signal with
 * jupiter_host_shutdown_now()). Jobs still running then are cancelled and
 * given up to 5 more seconds to return (1 second after
 * jupiter_host_shutdown_now()). Then every recorded job is exported when
 * #JupiterHost:export-path is set, and, if no job function is running any
 * more, every plugin's `shutdown` is called. Call it once.
 *
 * Since: 0.1
 */
void
jupiter_host_shutdown_async (JupiterHost        *self,
                             GCancellable       *cancellable,
                             GAsyncReadyCallback callback,
                             gpointer            user_data)
{
  JupiterJobStats stats;
  g_autofree char *pending = NULL, *running = NULL;
  char grace[G_ASCII_DTOSTR_BUF_SIZE + 1];

  g_return_if_fail (JUPITER_IS_HOST (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));
  g_return_if_fail (self->shutdown_task == NULL);
  g_return_if_fail (!jupiter_job_manager_is_shutting_down (self->manager));

  self->shutdown_task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (self->shutdown_task, jupiter_host_shutdown_async);
  g_task_set_check_cancellable (self->shutdown_task, FALSE);
  if (cancellable)
    {
      self->user_cancellable = g_object_ref (cancellable);
      self->user_cut_handler = g_cancellable_connect (cancellable, G_CALLBACK (user_cut_cb),
                                                      g_object_ref (self->shutdown_cut),
                                                      g_object_unref);
    }

  stop_intervals (self);
  /* What already happened is announced (and logged) before the shutdown. */
  jupiter_job_manager_flush_notifications (self->manager);
  jupiter_job_manager_get_stats (self->manager, &stats);
  pending = format_uint (stats.pending);
  running = format_uint (stats.running);
  g_ascii_formatd (grace, sizeof grace - 1, "%.3f", self->shutdown_grace / (double) G_USEC_PER_SEC);
  strcat (grace, "s");
  log_event (G_LOG_LEVEL_INFO, "shutdown", "pending", pending, "running", running,
             "grace", grace, NULL);
  jupiter_job_manager_shutdown_async (self->manager, self->shutdown_grace, self->shutdown_cut,
                                      grace_done_cb, g_object_ref (self));
}

/**
 * jupiter_host_shutdown_finish:
 * @self: a #JupiterHost
 * @result: the #GAsyncResult
 * @error: return location for a #GError
 *
 * Finishes jupiter_host_shutdown_async().
 *
 * Returns: %TRUE if every plugin was shut down and the export (if any) was
 *   written. %FALSE with %JUPITER_JOB_ERROR_TIMED_OUT if a job function
 *   is still running, in which case the plugins were not shut down and the
 *   process should end with `_exit()` (no destructors under a live plugin
 *   thread); %FALSE with the export's error if only the export failed
 *
 * Since: 0.1
 */
gboolean
jupiter_host_shutdown_finish (JupiterHost  *self,
                              GAsyncResult *result,
                              GError      **error)
{
  g_return_val_if_fail (JUPITER_IS_HOST (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == jupiter_host_shutdown_async, FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * jupiter_host_shutdown_now:
 * @self: a #JupiterHost
 *
 * Ends a shutdown's wait for running jobs at once (a second SIGTERM, say):
 * during the grace period, the running jobs are cancelled and given a
 * second to return (those that honour cancellation do); during the wait
 * that follows the grace period, that wait ends. Then the export is
 * written and the shutdown finishes, with the plugins shut down only if
 * no job function runs. Does nothing before
 * jupiter_host_shutdown_async().
 *
 * Since: 0.1
 */
void
jupiter_host_shutdown_now (JupiterHost *self)
{
  g_return_if_fail (JUPITER_IS_HOST (self));

  if (self->shutdown_task == NULL)
    return;
  {
    g_autofree char *still = format_uint (jupiter_job_manager_get_n_running_functions (self->manager));

    log_event (G_LOG_LEVEL_INFO, "shutdown-now", "running_functions", still, NULL);
  }
  g_cancellable_cancel (self->shutdown_cut);
}

/**
 * jupiter_host_is_shutting_down:
 * @self: a #JupiterHost
 *
 * Returns: %TRUE once a shutdown has begun
 *
 * Since: 0.1
 */
gboolean
jupiter_host_is_shutting_down (JupiterHost *self)
{
  g_return_val_if_fail (JUPITER_IS_HOST (self), FALSE);

  return jupiter_job_manager_is_shutting_down (self->manager);
}

/* ------------------------------------------------------------------------ */
/* Accessors                                                                */

/**
 * jupiter_host_get_job_manager:
 * @self: a #JupiterHost
 *
 * Returns: (transfer none): the host's job manager, whose signals
 *   (`job-started`, `job-failed::PLUGIN`, ...) report every job
 *
 * Since: 0.1
 */
JupiterJobManager *
jupiter_host_get_job_manager (JupiterHost *self)
{
  g_return_val_if_fail (JUPITER_IS_HOST (self), NULL);

  return self->manager;
}

/**
 * jupiter_host_get_plugin_loader:
 * @self: a #JupiterHost
 *
 * Returns: (transfer none): the host's plugin loader; it lists every
 *   plugin with its state
 *
 * Since: 0.1
 */
JupiterPluginLoader *
jupiter_host_get_plugin_loader (JupiterHost *self)
{
  g_return_val_if_fail (JUPITER_IS_HOST (self), NULL);

  return self->loader;
}

/**
 * jupiter_host_get_circuit_breaker_registry:
 * @self: a #JupiterHost
 *
 * Returns: (transfer none): the breakers of the host's plugins, whose
 *   `breaker-state-changed::PLUGIN` signal reports every change
 *
 * Since: 0.1
 */
JupiterCircuitBreakerRegistry *
jupiter_host_get_circuit_breaker_registry (JupiterHost *self)
{
  g_return_val_if_fail (JUPITER_IS_HOST (self), NULL);

  return jupiter_job_manager_get_circuit_breaker_registry (self->manager);
}

/**
 * jupiter_host_get_clock:
 * @self: a #JupiterHost
 *
 * Returns: (transfer none): the host's clock
 *
 * Since: 0.1
 */
JupiterClock *
jupiter_host_get_clock (JupiterHost *self)
{
  g_return_val_if_fail (JUPITER_IS_HOST (self), NULL);

  return self->clock;
}

/**
 * jupiter_host_get_shutdown_grace:
 * @self: a #JupiterHost
 *
 * Returns: #JupiterHost:shutdown-grace, in microseconds
 *
 * Since: 0.1
 */
GTimeSpan
jupiter_host_get_shutdown_grace (JupiterHost *self)
{
  g_return_val_if_fail (JUPITER_IS_HOST (self), 0);

  return self->shutdown_grace;
}

/**
 * jupiter_host_set_shutdown_grace:
 * @self: a #JupiterHost
 * @grace: microseconds, at least 0
 *
 * Sets #JupiterHost:shutdown-grace.
 *
 * Since: 0.1
 */
void
jupiter_host_set_shutdown_grace (JupiterHost *self,
                                 GTimeSpan    grace)
{
  g_return_if_fail (JUPITER_IS_HOST (self));
  g_return_if_fail (grace >= 0);

  if (self->shutdown_grace == grace)
    return;
  self->shutdown_grace = grace;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SHUTDOWN_GRACE]);
}

/**
 * jupiter_host_get_export_path:
 * @self: a #JupiterHost
 *
 * Returns: (nullable): #JupiterHost:export-path
 *
 * Since: 0.1
 */
const char *
jupiter_host_get_export_path (JupiterHost *self)
{
  g_return_val_if_fail (JUPITER_IS_HOST (self), NULL);

  return self->export_path;
}

/**
 * jupiter_host_set_export_path:
 * @self: a #JupiterHost
 * @path: (nullable): a `.json`, `.yaml` or `.yml` file, or %NULL
 *
 * Sets #JupiterHost:export-path.
 *
 * Since: 0.1
 */
void
jupiter_host_set_export_path (JupiterHost *self,
                              const char  *path)
{
  g_return_if_fail (JUPITER_IS_HOST (self));

  if (g_strcmp0 (self->export_path, path) == 0)
    return;
  g_free (self->export_path);
  self->export_path = g_strdup (path);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_EXPORT_PATH]);
}

/**
 * jupiter_host_get_skipped_ticks:
 * @self: a #JupiterHost
 *
 * Returns: #JupiterHost:skipped-ticks
 *
 * Since: 0.1
 */
guint64
jupiter_host_get_skipped_ticks (JupiterHost *self)
{
  g_return_val_if_fail (JUPITER_IS_HOST (self), 0);

  return self->skipped_ticks;
}
