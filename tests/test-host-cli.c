/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The jupiter-host executable as a subprocess: exit codes, output, the
 * export, and the shutdown on SIGTERM (one, then two). Nothing sleeps: the
 * tests read the program's log lines to know where it is. */

#include "config.h"

#include <jupiter/jupiter.h>

#include "host-test-util.h"
#include <glib/gstdio.h>

#include <errno.h>
#include <gio/gunixinputstream.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct {
  char *dir;
  char *slow;     /* a copy of tests/plugins-host/slow.so */
  char *good;     /* a copy of tests/plugins-zoo/zoo-good.so */
} Fixture;

static const char *
host_exe (void)
{
  const char *exe = g_getenv ("JUPITER_HOST_EXE");

  g_assert_nonnull (exe);
  return exe;
}

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  f->dir = g_dir_make_tmp ("jupiter-host-cli-XXXXXX", &error);
  g_assert_no_error (error);
  f->slow = host_test_copy_built (f->dir, "plugins-host", "slow.so", "slow.so");
  f->good = host_test_copy_built (f->dir, "plugins-zoo", "zoo-good.so", "zoo-good.so");
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  host_test_remove_tree (f->dir);
  g_free (f->dir);
  g_free (f->slow);
  g_free (f->good);
}

/* The child's exit status, reaped with waitpid(): GSubprocess would watch
 * the child from GLib's worker thread, whose hand-over GLib 2.74 does
 * without a lock that ThreadSanitizer can see (g_subprocess_wait()). */
static int
reap (GPid pid)
{
  int status;

  while (waitpid (pid, &status, 0) < 0)
    g_assert_cmpint (errno, ==, EINTR);
  g_assert_true (WIFEXITED (status));
  return WEXITSTATUS (status);
}

/* The child dies with the test: a failed assertion aborts the test before
 * it could reap a host that waits for an hour-long grace period. */
static void
die_with_parent (gpointer data)
{
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

static GPid
spawn (const char * const *args,
       int                 stdout_fd,
       int                 stderr_fd,
       int                *stderr_pipe)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;
  GPid pid;

  g_ptr_array_add (argv, (gpointer) host_exe ());
  for (guint i = 0; args[i]; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);
  g_spawn_async_with_pipes_and_fds (NULL, (const char * const *) argv->pdata, NULL,
                                    G_SPAWN_DO_NOT_REAP_CHILD |
                                    (stdout_fd < 0 ? G_SPAWN_STDOUT_TO_DEV_NULL : 0),
                                    die_with_parent, NULL, -1, stdout_fd, stderr_fd, NULL, NULL, 0,
                                    &pid, NULL, NULL, stderr_pipe, &error);
  g_assert_no_error (error);
  return pid;
}

static char *
read_fd_file (int fd)
{
  GString *text = g_string_new (NULL);
  char buf[4096];
  ssize_t n;

  g_assert_cmpint (lseek (fd, 0, SEEK_SET), ==, 0);
  while ((n = read (fd, buf, sizeof buf)) > 0)
    g_string_append_len (text, buf, n);
  close (fd);
  return g_string_free (text, FALSE);
}

/* Runs jupiter-host with @args (NULL-terminated, without the program) to
 * the end; returns its exit status, its stdout and stderr in @out, @err. */
static int
run_host (const char * const *args,
          char              **out,
          char              **err)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *out_path = NULL, *err_path = NULL;
  int out_fd = g_file_open_tmp ("jupiter-host-out-XXXXXX", &out_path, &error);
  int err_fd = g_file_open_tmp ("jupiter-host-err-XXXXXX", &err_path, &error);
  int status;

  g_assert_no_error (error);
  g_unlink (out_path);
  g_unlink (err_path);
  status = reap (spawn (args, out_fd, err_fd, NULL));
  *out = read_fd_file (out_fd);
  *err = read_fd_file (err_fd);
  if (g_test_verbose ())
    g_test_message ("stdout:\n%s\nstderr:\n%s", *out, *err);
  return status;
}

/* ------------------------------------------------------------------------ */

static void
test_check_good (Fixture       *f,
                 gconstpointer  data)
{
  g_autofree char *text = g_strdup_printf (
    "plugins:\n"
    "  - {id: slow, path: '%s'}\n"
    "  - {id: good, path: '%s'}\n"
    "jobs:\n"
    "  - {plugin: slow, entry: work}\n", f->slow, f->good);
  g_autofree char *config = host_test_write_file (f->dir, "good.yaml", text);
  g_autofree char *out = NULL, *err = NULL;
  const char *args[] = { "--check", "--config", config, NULL };

  g_assert_cmpint (run_host (args, &out, &err), ==, 0);
  g_assert_nonnull (strstr (out, "configuration valid; plugins: 2 loaded, 0 failed, 0 disabled; jobs: 0 that cannot run"));
  g_assert_nonnull (strstr (out, "slow:block"));
  g_assert_nonnull (strstr (out, "good:hello"));
}

static void
test_check_bad_config (Fixture       *f,
                       gconstpointer  data)
{
  g_autofree char *config = host_test_write_file (f->dir, "bad.json",
                                          "{\n  \"host\": {\n    \"max_concurrent\": \"four\"\n  }\n}\n");
  g_autofree char *expected = g_strdup_printf ("jupiter-host: %s:3:23: host.max_concurrent: ", config);
  g_autofree char *out = NULL, *err = NULL;
  const char *args[] = { "--check", "-c", config, NULL };

  g_assert_cmpint (run_host (args, &out, &err), ==, 1);
  g_assert_true (g_str_has_prefix (err, expected));
  g_assert_cmpstr (out, ==, "");
}

static void
test_check_bad_plugin (Fixture       *f,
                       gconstpointer  data)
{
  g_autofree char *broken = host_test_copy_built (f->dir, "plugins-zoo", "zoo-no-version.so", "zoo-no-version.so");
  g_autofree char *text = g_strdup_printf (
    "plugins:\n"
    "  - {id: slow, path: '%s'}\n"
    "  - {id: good, path: '%s'}\n", f->slow, broken);
  g_autofree char *config = host_test_write_file (f->dir, "c.yaml", text);
  g_autofree char *out = NULL, *err = NULL;
  const char *args[] = { "--check", "--config", config, NULL };

  g_assert_cmpint (run_host (args, &out, &err), ==, 1);
  g_assert_nonnull (strstr (out, "plugins: 1 loaded, 1 failed, 0 disabled"));
  g_assert_nonnull (strstr (out, "FAILED  good"));
  g_assert_nonnull (strstr (out, "zoo-no-version.so"));
}

/* --check also checks the jobs against the loaded plugins, lists disabled
 * plugins, and never writes the export (that is for runs of the jobs). */
static void
test_check_jobs_no_export (Fixture       *f,
                           gconstpointer  data)
{
  g_autofree char *export = g_build_filename (f->dir, "jobs.json", NULL);
  g_autofree char *text = g_strdup_printf (
    "host: {export_on_exit: {path: jobs.json}}\n"
    "plugins:\n"
    "  - {id: slow, path: '%s'}\n"
    "  - {id: good, path: '%s', enabled: false}\n"
    "jobs:\n"
    "  - {plugin: slow, entry: work}\n"
    "  - {plugin: slow, entry: wrok}\n"
    "  - {plugin: good, entry: hello}\n", f->slow, f->good);
  g_autofree char *config = host_test_write_file (f->dir, "jobs.yaml", text);
  g_autofree char *expected = g_strdup_printf ("JOB     %s:7:5: jobs[1]: plugin “slow” has no entry “wrok”", config);
  g_autofree char *out = NULL, *err = NULL;
  g_autofree char *out2 = NULL, *err2 = NULL;
  const char *args[] = { "--check", "--config", config, NULL };
  const char *list[] = { "--list-plugins", "--config", config, NULL };

  g_assert_cmpint (run_host (args, &out, &err), ==, 1);
  g_assert_nonnull (strstr (out, expected));
  g_assert_nonnull (strstr (out, "disabled good"));
  g_assert_nonnull (strstr (out, "plugins: 1 loaded, 0 failed, 1 disabled; jobs: 1 that cannot run"));
  g_assert_false (g_file_test (export, G_FILE_TEST_EXISTS));
  g_assert_cmpint (run_host (list, &out2, &err2), ==, 0);
  g_assert_nonnull (strstr (out2, "slow:work"));
  g_assert_false (g_file_test (export, G_FILE_TEST_EXISTS));
}

static void
test_run_outcomes (Fixture       *f,
                   gconstpointer  data)
{
  g_autofree char *text = g_strdup_printf ("plugins: [{id: slow, path: '%s'}]\n", f->slow);
  g_autofree char *config = host_test_write_file (f->dir, "run.yaml", text);
  g_autoptr(JsonNode) job = NULL;
  g_autoptr(GError) error = NULL;

  {
    g_autofree char *out = NULL, *err = NULL;
    const char *args[] = { "-c", config, "--run", "slow:work", "--args", "{\"steps\": 5}", NULL };
    JsonObject *obj;

    g_assert_cmpint (run_host (args, &out, &err), ==, 0);
    job = json_from_string (out, &error);
    g_assert_no_error (error);
    obj = json_node_get_object (job);
    g_assert_cmpstr (json_object_get_string_member (obj, "status"), ==, "completed");
    g_assert_cmpint (json_object_get_int_member (json_object_get_object_member (obj, "result"), "steps"), ==, 5);
    g_assert_nonnull (strstr (err, "job-progress"));
  }
  {
    g_autofree char *out = NULL, *err = NULL;
    const char *args[] = { "-c", config, "--run", "slow:fail", NULL };

    g_assert_cmpint (run_host (args, &out, &err), ==, 1);
    g_assert_nonnull (strstr (out, "\"failed\""));
    g_assert_nonnull (strstr (err, "slow failure on purpose"));
  }
  {
    g_autofree char *out = NULL, *err = NULL;
    const char *args[] = { "-c", config, "--run", "slow:nothing", NULL };

    g_assert_cmpint (run_host (args, &out, &err), ==, 3);
    g_assert_nonnull (strstr (err, "has no entry “nothing”"));
  }
  {
    g_autofree char *out = NULL, *err = NULL;
    const char *args[] = { "-c", config, "--run", "slow", NULL };

    g_assert_cmpint (run_host (args, &out, &err), ==, 2);
  }
  {
    g_autofree char *out = NULL, *err = NULL;
    const char *args[] = { "-c", config, "--run", "slow:work", "--args", "{nope", NULL };

    g_assert_cmpint (run_host (args, &out, &err), ==, 2);
    g_assert_nonnull (strstr (err, "--args"));
  }
}

static void
test_run_without_config (Fixture       *f,
                         gconstpointer  data)
{
  /* By id, from --plugin-dir: the file's stem is the id. */
  g_autofree char *out = NULL, *err = NULL;
  const char *args[] = { "--plugin-dir", f->dir, "--run", "slow:work", NULL };

  g_assert_cmpint (run_host (args, &out, &err), ==, 0);
  g_assert_nonnull (strstr (out, "\"completed\""));
}

static void
test_usage_and_version (Fixture       *f,
                        gconstpointer  data)
{
  g_autofree char *out = NULL, *err = NULL;
  g_autofree char *out2 = NULL, *err2 = NULL;
  g_autofree char *out3 = NULL, *err3 = NULL;
  const char *version[] = { "--version", NULL };
  const char *none[] = { NULL };
  const char *both[] = { "--check", "--once", "-c", "x.yaml", NULL };

  g_assert_cmpint (run_host (version, &out, &err), ==, 0);
  g_assert_true (g_str_has_prefix (out, "jupiter-host " PACKAGE_VERSION));
  g_assert_cmpint (run_host (none, &out2, &err2), ==, 2);
  g_assert_nonnull (strstr (err2, "--config"));
  g_assert_cmpint (run_host (both, &out3, &err3), ==, 2);
  {
    g_autofree char *out4 = NULL, *err4 = NULL;
    const char *help[] = { "--help", NULL };

    /* The exit codes and the signals are documented in --help too. */
    g_assert_cmpint (run_host (help, &out4, &err4), ==, 0);
    g_assert_nonnull (strstr (out4, "--plugin-dir"));
    g_assert_nonnull (strstr (out4, "4 a job function was still running"));
    g_assert_nonnull (strstr (out4, "a second one ends the grace period"));
  }
}

static void
test_once_exports (Fixture       *f,
                   gconstpointer  data)
{
  g_autofree char *export = g_build_filename (f->dir, "jobs.json", NULL);
  g_autofree char *text = g_strdup_printf (
    "host: {export_on_exit: {path: jobs.json}}\n"
    "plugins: [{id: slow, path: '%s'}, {id: good, path: '%s'}]\n"
    "jobs:\n"
    "  - {plugin: slow, entry: work, args: {steps: 2}}\n"
    "  - {plugin: good, entry: hello, args: {name: once}}\n"
    "  - {plugin: slow, entry: block, every: 1h}\n", f->slow, f->good);
  g_autofree char *config = host_test_write_file (f->dir, "once.yaml", text);
  g_autofree char *out = NULL, *err = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  const char *args[] = { "--once", "--json-log", "--config", config, NULL };
  g_auto(GStrv) lines = NULL;
  JsonObject *root;
  JsonArray *jobs;

  g_assert_cmpint (run_host (args, &out, &err), ==, 0);
  g_assert_true (json_parser_load_from_file (parser, export, &error));
  g_assert_no_error (error);
  root = json_node_get_object (json_parser_get_root (parser));
  g_assert_cmpint (json_object_get_int_member (root, "total_jobs"), ==, 2);
  jobs = json_object_get_array_member (root, "jobs");
  for (guint i = 0; i < 2; i++)
    g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (jobs, i), "status"),
                     ==, "completed");

  /* --json-log: every line is one JSON object with an event. */
  lines = g_strsplit (err, "\n", -1);
  for (guint i = 0; lines[i] && *lines[i]; i++)
    {
      g_autoptr(JsonNode) line = json_from_string (lines[i], &error);

      g_assert_no_error (error);
      g_assert_true (JSON_NODE_HOLDS_OBJECT (line));
      g_assert_true (json_object_has_member (json_node_get_object (line), "level"));
    }
  g_assert_nonnull (strstr (err, "\"event\":\"job-completed\""));
  g_assert_nonnull (strstr (err, "\"duration_ms\":"));
}

static void
test_once_failure (Fixture       *f,
                   gconstpointer  data)
{
  g_autofree char *text = g_strdup_printf (
    "plugins: [{id: slow, path: '%s'}]\n"
    "jobs: [{plugin: slow, entry: fail}, {plugin: slow, entry: work}]\n", f->slow);
  g_autofree char *config = host_test_write_file (f->dir, "fail.yaml", text);
  g_autofree char *out = NULL, *err = NULL;
  const char *args[] = { "--once", "--config", config, NULL };

  g_assert_cmpint (run_host (args, &out, &err), ==, 1);
  g_assert_nonnull (strstr (err, "job-failed"));
  g_assert_nonnull (strstr (err, "job-completed"));
}

/* Reads stderr lines until one contains @needle. */
static void
read_until (GDataInputStream *in,
            const char       *needle)
{
  for (;;)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *line = g_data_input_stream_read_line_utf8 (in, NULL, NULL, &error);

      g_assert_no_error (error);
      if (line == NULL)
        g_error ("jupiter-host ended before logging “%s”", needle);
      if (g_test_verbose ())
        g_test_message ("host: %s", line);
      if (strstr (line, needle))
        return;
    }
}

/* Starts the service on @config, its stderr readable line by line. */
static GPid
spawn_host (const char        *config,
            GDataInputStream **err)
{
  const char *args[] = { "--config", config, NULL };
  g_autoptr(GInputStream) pipe = NULL;
  int err_pipe = -1;
  GPid pid = spawn (args, -1, -1, &err_pipe);

  pipe = g_unix_input_stream_new (err_pipe, TRUE);
  *err = g_data_input_stream_new (pipe);
  return pid;
}

/* Reads the rest of stderr (to the child's end), then reaps the child. */
static int
drain_and_wait (GPid              pid,
                GDataInputStream *err)
{
  g_autoptr(GError) error = NULL;

  while (TRUE)
    {
      g_autofree char *line = g_data_input_stream_read_line_utf8 (err, NULL, NULL, &error);

      g_assert_no_error (error);
      if (line == NULL)
        break;
      if (g_test_verbose ())
        g_test_message ("host: %s", line);
    }
  return reap (pid);
}

/* Runs the service on @config until it has started a job, then sends
 * SIGTERM, and with @twice a second one once the shutdown has begun (the
 * grace period running); returns the exit status. */
static int
signal_host (const char *config,
             gboolean    twice)
{
  g_autoptr(GDataInputStream) err = NULL;
  GPid process = spawn_host (config, &err);

  read_until (err, "job-started");
  g_assert_cmpint (kill (process, SIGTERM), ==, 0);
  if (twice)
    {
      read_until (err, "shutdown pending=");
      g_assert_cmpint (kill (process, SIGTERM), ==, 0);
    }
  return drain_and_wait (process, err);
}

/* The `jobs` of an export file; owned by @parser. */
static JsonArray *
export_jobs (JsonParser *parser,
             const char *path)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (json_parser_load_from_file (parser, path, &error));
  g_assert_no_error (error);
  return json_object_get_array_member (json_node_get_object (json_parser_get_root (parser)), "jobs");
}

static void
test_sigterm_clean_shutdown (Fixture       *f,
                             gconstpointer  data)
{
  g_autofree char *marker_slow = g_build_filename (f->dir, "marker-slow", NULL);
  g_autofree char *marker_good = g_build_filename (f->dir, "marker-good", NULL);
  g_autofree char *export = g_build_filename (f->dir, "jobs.json", NULL);
  g_autofree char *text = g_strdup_printf (
    "host: {shutdown_grace: 100ms, export_on_exit: {path: jobs.json}}\n"
    "plugins:\n"
    "  - {id: slow, path: '%s', max_concurrent: 1, config: {shutdown_marker: '%s'}}\n"
    "  - {id: good, path: '%s', config: {shutdown_marker: '%s'}}\n"
    "jobs:\n"
    "  - {name: first, plugin: slow, entry: block}\n"
    "  - {name: second, plugin: slow, entry: block}\n",
    f->slow, marker_slow, f->good, marker_good);
  g_autofree char *config = host_test_write_file (f->dir, "svc.yaml", text);
  g_autofree char *slow_mark = NULL, *good_mark = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  JsonArray *jobs;

  g_assert_cmpint (signal_host (config, FALSE), ==, 0);

  /* Every plugin's shutdown ran. */
  slow_mark = host_test_read_file (marker_slow);
  g_assert_cmpstr (slow_mark, ==, "slow\n");
  good_mark = host_test_read_file (marker_good);
  g_assert_cmpstr (good_mark, ==, "good");

  /* The export holds both jobs, cancelled: the running one after the
   * grace period, the pending one at once. */
  jobs = export_jobs (parser, export);
  g_assert_cmpuint (json_array_get_length (jobs), ==, 2);
  for (guint i = 0; i < 2; i++)
    {
      JsonObject *job = json_array_get_object_element (jobs, i);

      g_assert_cmpstr (json_object_get_string_member (job, "status"), ==, "cancelled");
      g_assert_cmpstr (json_object_get_string_member (job, "plugin_id"), ==, "slow");
    }
}

static void
test_second_sigterm (Fixture       *f,
                     gconstpointer  data)
{
  g_autofree char *marker = g_build_filename (f->dir, "marker-slow", NULL);
  g_autofree char *export = g_build_filename (f->dir, "jobs.json", NULL);
  g_autofree char *text = g_strdup_printf (
    "host: {shutdown_grace: 1h, export_on_exit: {path: jobs.json}}\n"
    "plugins:\n"
    "  - {id: slow, path: '%s', max_concurrent: 1, config: {shutdown_marker: '%s'}}\n"
    "jobs:\n"
    "  - {plugin: slow, entry: stubborn}\n"
    "  - {plugin: slow, entry: work}\n",
    f->slow, marker);
  g_autofree char *config = host_test_write_file (f->dir, "svc.yaml", text);
  g_autoptr(JsonParser) parser = json_parser_new ();
  JsonArray *jobs;
  guint running = 0, cancelled = 0;

  /* The grace period is an hour and the job ignores cancellation: only
   * the second signal can end this test before its timeout. */
  g_assert_cmpint (signal_host (config, TRUE), ==, 4);
  g_assert_false (g_file_test (marker, G_FILE_TEST_EXISTS));

  jobs = export_jobs (parser, export);
  g_assert_cmpuint (json_array_get_length (jobs), ==, 2);
  for (guint i = 0; i < 2; i++)
    {
      const char *status = json_object_get_string_member (json_array_get_object_element (jobs, i), "status");

      if (g_str_equal (status, "running"))
        running++;
      else if (g_str_equal (status, "cancelled"))
        cancelled++;
    }
  g_assert_cmpuint (running, ==, 1);
  g_assert_cmpuint (cancelled, ==, 1);
}

/* A second signal ends the grace period at once; a job that honours
 * cancellation still returns within the short wait that follows, so the
 * plugins are shut down and the exit is clean. */
static void
test_second_sigterm_cooperative (Fixture       *f,
                                 gconstpointer  data)
{
  g_autofree char *marker = g_build_filename (f->dir, "marker-slow", NULL);
  g_autofree char *export = g_build_filename (f->dir, "jobs.json", NULL);
  g_autofree char *text = g_strdup_printf (
    "host: {shutdown_grace: 1h, export_on_exit: {path: jobs.json}}\n"
    "plugins:\n"
    "  - {id: slow, path: '%s', config: {shutdown_marker: '%s'}}\n"
    "jobs:\n"
    "  - {plugin: slow, entry: block}\n",
    f->slow, marker);
  g_autofree char *config = host_test_write_file (f->dir, "svc.yaml", text);
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autofree char *mark = NULL;
  JsonArray *jobs;

  g_assert_cmpint (signal_host (config, TRUE), ==, 0);
  mark = host_test_read_file (marker);
  g_assert_cmpstr (mark, ==, "slow\n");

  jobs = export_jobs (parser, export);
  g_assert_cmpuint (json_array_get_length (jobs), ==, 1);
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (jobs, 0), "status"),
                   ==, "cancelled");
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func) \
  g_test_add (path, Fixture, NULL, fixture_setup, func, fixture_teardown)
  ADD ("/host-cli/check-good", test_check_good);
  ADD ("/host-cli/check-bad-config", test_check_bad_config);
  ADD ("/host-cli/check-bad-plugin", test_check_bad_plugin);
  ADD ("/host-cli/run-outcomes", test_run_outcomes);
  ADD ("/host-cli/run-without-config", test_run_without_config);
  ADD ("/host-cli/usage-and-version", test_usage_and_version);
  ADD ("/host-cli/once-exports", test_once_exports);
  ADD ("/host-cli/once-failure", test_once_failure);
  ADD ("/host-cli/sigterm-clean-shutdown", test_sigterm_clean_shutdown);
  ADD ("/host-cli/second-sigterm", test_second_sigterm);
  ADD ("/host-cli/second-sigterm-cooperative", test_second_sigterm_cooperative);
  ADD ("/host-cli/check-jobs-no-export", test_check_jobs_no_export);
#undef ADD

  return g_test_run ();
}
