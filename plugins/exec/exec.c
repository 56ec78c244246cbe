/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * exec: runs an allow-listed command and returns its exit status and output.
 *
 * Configuration: {"allow": ["/bin/echo", "sh", ...]}. A command runs only if
 * its argv[0] equals one of these strings exactly; without a configuration
 * nothing runs.
 *
 * Entry "run" (asynchronous: started on the host's main context, it never
 * blocks). Args: {"argv": ["cmd", "arg", ...], "stdout_cap": bytes,
 * "stderr_cap": bytes}; each cap is optional, defaults to 1 MiB and is at
 * most 256 MiB. Output past a cap is read and dropped, so the child never
 * blocks on a full pipe.
 *
 * Result, once the process has exited and both pipes reached end of file:
 * {"exit_status": n (or "signal": n), "stdout": "...", "stderr": "...",
 * "stdout_truncated": bool, "stderr_truncated": bool}, the text made valid
 * UTF-8.
 *
 * The child leads its own process group. When the job is cancelled or times
 * out, the whole group is killed (grandchildren that a shell left running
 * too), the reads stop, and once the process is reaped the job returns
 * G_IO_ERROR_CANCELLED.
 */

#include <jupiter/jupiter-plugin.h>
#include <glib-unix.h>

#include <errno.h>
#include <signal.h>
#include <sys/types.h>
#include <unistd.h>

#define DEFAULT_CAP (1024 * 1024)
/* Output is kept in a GByteArray, whose length is a guint. */
#define MAX_CAP     (256 * 1024 * 1024)
#define READ_SIZE   (64 * 1024)

/* Set by init in the host's main thread before any job runs, freed by
 * shutdown after the last one: read-only while jobs run. */
static char **allow_list;

typedef struct {
  GByteArray *data;
  gsize       cap;
  gboolean    truncated;
} ExecPipe;

/* One run. Everything is touched only from @main_context, where the job
 * was started and every GIO callback runs, except by the cancelled handler:
 * it may run in any thread and only reads @pgid, @main_context and
 * @io_cancellable, which are set before it is connected. */
typedef struct {
  JupiterJobContext *context;         /* owned reference, until the return */
  GMainContext      *main_context;    /* where the job was started */
  char              *command;         /* argv[0], for messages */
  GSubprocess       *process;
  GCancellable      *job_cancellable; /* the job's, valid while @context is */
  gulong             cancelled_id;
  GCancellable      *io_cancellable;  /* stops the reads after a kill */
  pid_t              pgid;            /* the child's pid and process group */
  ExecPipe           out;
  ExecPipe           err;
  guint              pending;         /* the wait and the two read loops */
  GError            *error;           /* the first I/O error */
} ExecRun;

static void
exec_run_free (ExecRun *run)
{
  g_clear_object (&run->process);
  g_clear_object (&run->io_cancellable);
  g_clear_pointer (&run->main_context, g_main_context_unref);
  g_clear_pointer (&run->out.data, g_byte_array_unref);
  g_clear_pointer (&run->err.data, g_byte_array_unref);
  g_clear_error (&run->error);
  g_free (run->command);
  g_free (run);
}

static gboolean
exec_cancel_io (gpointer data)
{
  g_cancellable_cancel (G_CANCELLABLE (data));
  return G_SOURCE_REMOVE;
}

/* Runs in the thread that cancels the job (or at once, in
 * g_cancellable_connect(), if it is cancelled already). kill() is safe from
 * any thread; the group includes whatever the command started. The reads
 * are cancelled on the run's own context: GLib 2.74 leaks a cancellable
 * source that is disposed in one thread while its cancellable is being
 * cancelled in another. */
static void
exec_run_cancelled (GCancellable *cancellable,
                    gpointer      data)
{
  ExecRun *run = data;
  g_autoptr(GSource) idle = NULL;

  if (run->pgid > 1)
    kill (-run->pgid, SIGKILL);

  idle = g_idle_source_new ();
  g_source_set_priority (idle, G_PRIORITY_DEFAULT);
  g_source_set_callback (idle, exec_cancel_io, g_object_ref (run->io_cancellable), g_object_unref);
  g_source_set_static_name (idle, "[jupiter-exec] cancel reads");
  g_source_attach (idle, run->main_context);
}

static char *
exec_pipe_text (ExecPipe *output)
{
  /* An empty GByteArray has no data pointer at all. */
  if (output->data->len == 0)
    return g_strdup ("");
  return g_utf8_make_valid ((const char *) output->data->data, output->data->len);
}

static JsonNode *
exec_run_build_result (ExecRun *run)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autofree char *out = exec_pipe_text (&run->out);
  g_autofree char *err = exec_pipe_text (&run->err);

  json_builder_begin_object (builder);
  if (g_subprocess_get_if_exited (run->process))
    {
      json_builder_set_member_name (builder, "exit_status");
      json_builder_add_int_value (builder, g_subprocess_get_exit_status (run->process));
    }
  else if (g_subprocess_get_if_signaled (run->process))
    {
      json_builder_set_member_name (builder, "signal");
      json_builder_add_int_value (builder, g_subprocess_get_term_sig (run->process));
    }
  json_builder_set_member_name (builder, "stdout");
  json_builder_add_string_value (builder, out);
  json_builder_set_member_name (builder, "stderr");
  json_builder_add_string_value (builder, err);
  json_builder_set_member_name (builder, "stdout_truncated");
  json_builder_add_boolean_value (builder, run->out.truncated);
  json_builder_set_member_name (builder, "stderr_truncated");
  json_builder_add_boolean_value (builder, run->err.truncated);
  json_builder_end_object (builder);

  return json_builder_get_root (builder);
}

/* The process was reaped and both pipes are closed: the one return. */
static void
exec_run_finish (ExecRun *run)
{
  JupiterJobContext *context = run->context;

  /* Waits for a handler running in another thread; none runs after this. */
  g_cancellable_disconnect (run->job_cancellable, run->cancelled_id);
  run->cancelled_id = 0;

  if (g_cancellable_is_cancelled (run->job_cancellable))
    jupiter_job_context_return_new_error (context, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                          "Command “%s” was cancelled; its process group was killed",
                                          run->command);
  else if (run->error != NULL)
    jupiter_job_context_return_error (context, g_steal_pointer (&run->error));
  else
    jupiter_job_context_return_result (context, exec_run_build_result (run));

  exec_run_free (run);
  jupiter_job_context_unref (context);
}

static void
exec_run_step_done (ExecRun *run)
{
  g_return_if_fail (run->pending > 0);
  if (--run->pending == 0)
    exec_run_finish (run);
}

static void exec_run_read (ExecRun      *run,
                           GInputStream *stream);

static void
exec_run_read_cb (GObject      *source,
                  GAsyncResult *result,
                  gpointer      data)
{
  ExecRun *run = data;
  GInputStream *stream = G_INPUT_STREAM (source);
  ExecPipe *output = stream == g_subprocess_get_stdout_pipe (run->process) ? &run->out : &run->err;
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GError) error = NULL;
  gsize size, room;

  bytes = g_input_stream_read_bytes_finish (stream, result, &error);
  if (bytes == NULL)
    {
      /* Cancelled reads end quietly: the job reports the cancellation. */
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) && run->error == NULL)
        g_propagate_prefixed_error (&run->error, g_steal_pointer (&error),
                                    "Could not read the output of “%s”: ", run->command);
      /* Closing our end makes a child still writing fail, not block. */
      g_input_stream_close (stream, NULL, NULL);
      exec_run_step_done (run);
      return;
    }

  size = g_bytes_get_size (bytes);
  if (size == 0)
    {
      exec_run_step_done (run);
      return;
    }

  room = output->cap - MIN (output->cap, output->data->len);
  if (size > room)
    output->truncated = TRUE;
  if (room > 0)
    g_byte_array_append (output->data, g_bytes_get_data (bytes, NULL), MIN (size, room));

  exec_run_read (run, stream);
}

static void
exec_run_read (ExecRun      *run,
               GInputStream *stream)
{
  g_input_stream_read_bytes_async (stream, READ_SIZE, G_PRIORITY_DEFAULT,
                                   run->io_cancellable, exec_run_read_cb, run);
}

static void
exec_run_wait_cb (GObject      *source,
                  GAsyncResult *result,
                  gpointer      data)
{
  ExecRun *run = data;
  g_autoptr(GError) error = NULL;

  if (!g_subprocess_wait_finish (G_SUBPROCESS (source), result, &error) && run->error == NULL)
    g_propagate_prefixed_error (&run->error, g_steal_pointer (&error),
                                "Could not wait for “%s”: ", run->command);
  exec_run_step_done (run);
}

static void
exec_child_setup (gpointer data)
{
  int fd = GPOINTER_TO_INT (data);
  pid_t pid = getpid ();

  /* In the child, between fork and exec: lead a new process group, so a
   * kill of the group reaches everything the command starts; and tell the
   * parent its pid through the pipe (write() is async-signal-safe; the
   * descriptor is close-on-exec, so the command never sees it).
   * g_subprocess_get_identifier() is not used: in GLib 2.74 it reads the
   * pid unlocked while GLib's worker thread clears it when the child exits,
   * a race ThreadSanitizer reports. */
  setpgid (0, 0);
  if (write (fd, &pid, sizeof pid) != (gssize) sizeof pid)
    _exit (127);
}

static gboolean
exec_is_allowed (const char *command)
{
  return allow_list != NULL && g_strv_contains ((const char * const *) allow_list, command);
}

/* Reads an optional non-negative integer member of @object into @out. */
static gboolean
get_cap_arg (JsonObject *object,
             const char *member,
             gsize      *out,
             GError    **error)
{
  JsonNode *node = json_object_get_member (object, member);
  gint64 value;

  *out = DEFAULT_CAP;
  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return TRUE;

  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64 ||
      (value = json_node_get_int (node)) < 0 || value > MAX_CAP)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "exec.run: \"%s\" must be an integer from 0 to %d (bytes)",
                   member, MAX_CAP);
      return FALSE;
    }

  *out = (gsize) value;
  return TRUE;
}

/* The args are sealed and shared: only read them. */
static char **
get_argv_arg (JsonObject *object,
              GError    **error)
{
  JsonNode *node = json_object_get_member (object, "argv");
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  JsonArray *array;
  guint n;

  if (node == NULL || !JSON_NODE_HOLDS_ARRAY (node) ||
      (n = json_array_get_length (array = json_node_get_array (node))) == 0)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                           "exec.run needs \"argv\", a non-empty array of strings");
      return NULL;
    }

  for (guint i = 0; i < n; i++)
    {
      JsonNode *element = json_array_get_element (array, i);

      if (!JSON_NODE_HOLDS_VALUE (element) || json_node_get_value_type (element) != G_TYPE_STRING ||
          (i == 0 && *json_node_get_string (element) == '\0'))
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                       "exec.run: argv[%u] is not a%s string", i, i == 0 ? " non-empty" : "");
          return NULL;
        }
      g_strv_builder_add (builder, json_node_get_string (element));
    }

  return g_strv_builder_end (builder);
}

static void
exec_run (JupiterJobContext *context,
          gpointer           user_data)
{
  JsonNode *args = jupiter_job_context_get_args (context);
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GSubprocess) process = NULL;
  g_auto(GStrv) argv = NULL;
  g_autoptr(GError) error = NULL;
  JsonObject *object;
  gsize stdout_cap, stderr_cap;
  int pid_pipe[2];
  pid_t child_pid = 0;
  ExecRun *run;

  if (args == NULL || !JSON_NODE_HOLDS_OBJECT (args))
    {
      jupiter_job_context_return_new_error (context, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                                            "exec.run needs an object {\"argv\": [...]}");
      return;
    }
  object = json_node_get_object (args);

  argv = get_argv_arg (object, &error);
  if (argv == NULL ||
      !get_cap_arg (object, "stdout_cap", &stdout_cap, &error) ||
      !get_cap_arg (object, "stderr_cap", &stderr_cap, &error))
    {
      jupiter_job_context_return_error (context, g_steal_pointer (&error));
      return;
    }

  if (!exec_is_allowed (argv[0]))
    {
      jupiter_job_context_return_new_error (context, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED,
                                            "Command “%s” is not allowed: it is not in the "
                                            "exec plugin's \"allow\" list",
                                            argv[0]);
      return;
    }

  if (jupiter_job_context_is_cancelled (context))
    {
      jupiter_job_context_return_new_error (context, G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                            "Command “%s” was cancelled before it started",
                                            argv[0]);
      return;
    }

  if (!g_unix_open_pipe (pid_pipe, FD_CLOEXEC, &error))
    {
      g_prefix_error (&error, "Could not run “%s”: ", argv[0]);
      jupiter_job_context_return_error (context, g_steal_pointer (&error));
      return;
    }
  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                        G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_subprocess_launcher_set_child_setup (launcher, exec_child_setup,
                                         GINT_TO_POINTER (pid_pipe[1]), NULL);

  /* Returns once the child has exec'd (or failed to), so its group exists
   * and its pid is in the pipe already. */
  process = g_subprocess_launcher_spawnv (launcher, (const char * const *) argv, &error);
  close (pid_pipe[1]);
  if (process == NULL)
    {
      close (pid_pipe[0]);
      g_prefix_error (&error, "Could not run “%s”: ", argv[0]);
      jupiter_job_context_return_error (context, g_steal_pointer (&error));
      return;
    }
  if (read (pid_pipe[0], &child_pid, sizeof child_pid) != (gssize) sizeof child_pid)
    child_pid = 0;
  close (pid_pipe[0]);

  run = g_new0 (ExecRun, 1);
  run->context = jupiter_job_context_ref (context);
  run->main_context = g_main_context_ref_thread_default ();
  run->command = g_strdup (argv[0]);
  run->process = g_steal_pointer (&process);
  run->io_cancellable = g_cancellable_new ();
  run->out.data = g_byte_array_new ();
  run->out.cap = stdout_cap;
  run->err.data = g_byte_array_new ();
  run->err.cap = stderr_cap;
  run->pending = 3;

  run->pgid = child_pid;

  /* Observers (and tests) learn the group from the job's progress message. */
  if (child_pid > 0)
    {
      g_autofree char *message = g_strdup_printf ("“%s” running as process group %d",
                                                  run->command, (int) child_pid);

      jupiter_job_context_set_progress (context, 0.0, message);
      jupiter_job_context_log (context, G_LOG_LEVEL_DEBUG, "%s", message);
    }

  g_subprocess_wait_async (run->process, NULL, exec_run_wait_cb, run);
  exec_run_read (run, g_subprocess_get_stdout_pipe (run->process));
  exec_run_read (run, g_subprocess_get_stderr_pipe (run->process));

  /* Last, as the handler runs at once if the job is already cancelled. */
  run->job_cancellable = jupiter_job_context_get_cancellable (context);
  run->cancelled_id = g_cancellable_connect (run->job_cancellable,
                                             G_CALLBACK (exec_run_cancelled), run, NULL);
}

static gboolean
exec_init (JsonNode *config,
           GError  **error)
{
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  JsonNode *allow = NULL;

  if (config != NULL && !JSON_NODE_HOLDS_NULL (config))
    {
      if (!JSON_NODE_HOLDS_OBJECT (config))
        {
          g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                               "exec: the configuration must be an object {\"allow\": [...]}");
          return FALSE;
        }
      allow = json_object_get_member (json_node_get_object (config), "allow");
    }

  if (allow != NULL && !JSON_NODE_HOLDS_NULL (allow))
    {
      JsonArray *array;

      if (!JSON_NODE_HOLDS_ARRAY (allow))
        {
          g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                               "exec: \"allow\" must be an array of command names");
          return FALSE;
        }

      array = json_node_get_array (allow);
      for (guint i = 0; i < json_array_get_length (array); i++)
        {
          JsonNode *element = json_array_get_element (array, i);

          if (!JSON_NODE_HOLDS_VALUE (element) ||
              json_node_get_value_type (element) != G_TYPE_STRING ||
              *json_node_get_string (element) == '\0')
            {
              g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                           "exec: \"allow\"[%u] is not a non-empty string", i);
              return FALSE;
            }
          g_strv_builder_add (builder, json_node_get_string (element));
        }
    }

  g_strfreev (allow_list);
  allow_list = g_strv_builder_end (builder);
  return TRUE;
}

static void
exec_shutdown (void)
{
  g_clear_pointer (&allow_list, g_strfreev);
}

static const JupiterPluginEntry exec_entries[] = {
  JUPITER_PLUGIN_ASYNC_ENTRY ("run", "Runs an allow-listed command and returns its output",
                              exec_run),
};

static const JupiterPluginDescriptor exec_descriptor = {
  JUPITER_PLUGIN_DESCRIPTOR_HEADER,
  .id = "exec",
  .name = "Exec",
  .version = "1.0.0",
  .description = "Runs allow-listed commands",
  .license = "LGPL-2.1-or-later",
  .init = exec_init,
  .shutdown = exec_shutdown,
  .entries = exec_entries,
  .n_entries = G_N_ELEMENTS (exec_entries),
};

JUPITER_PLUGIN_DEFINE (exec_descriptor)
