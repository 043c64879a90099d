/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* In-process half of bench/provision.sh: vsb_vm_provision() for N VMs in one process (what the
 * CLI does per call, minus process start-up), with the time of each VM and the peak RSS after
 * 10, 100, 1000, ... VMs, to show that nothing grows with the count.
 *
 *   provision-lib STATE_DIR COUNT [--keys DIR] [--machine M] [--firmware-dir DIR]
 *
 * Prints one line per checkpoint: "count=N mean_ms=... p50_ms=... p95_ms=... max_ms=...
 * cpu_ms=... maxrss_kib=..." (wall times per VM; cpu_ms is user+system CPU per VM, which a
 * busy machine does not inflate), and a last line "total count=N ...". */
#include "vsboot/vm.h"

#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

static int
cmp_double(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double
cpu_ms(void)
{
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
         (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

static double cpu_start;

static void
report(const char *label, double *ms, guint n)
{
  double *s = g_memdup2(ms, n * sizeof *ms);
  qsort(s, n, sizeof *s, cmp_double);
  double sum = 0;
  for (guint i = 0; i < n; i++)
    sum += s[i];
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  printf("%scount=%u mean_ms=%.3f p50_ms=%.3f p95_ms=%.3f max_ms=%.3f cpu_ms=%.3f "
         "maxrss_kib=%ld\n",
         label, n, sum / n, s[n / 2], s[(n * 95) / 100 < n ? (n * 95) / 100 : n - 1], s[n - 1],
         (cpu_ms() - cpu_start) / n, ru.ru_maxrss);
  fflush(stdout);
  g_free(s);
}

int
main(int argc, char **argv)
{
  if (argc < 3) {
    fprintf(stderr, "usage: %s STATE_DIR COUNT [--keys DIR] [--machine M] [--firmware-dir D]\n",
            argv[0]);
    return 2;
  }
  const char *state = argv[1];
  guint count = (guint)strtoul(argv[2], NULL, 10);
  const char *keys = NULL, *machine = "pc-q35-7.2";
  const char *fw_dirs[2] = { NULL, NULL };
  for (int i = 3; i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "--keys") == 0)
      keys = argv[i + 1];
    else if (strcmp(argv[i], "--machine") == 0)
      machine = argv[i + 1];
    else if (strcmp(argv[i], "--firmware-dir") == 0)
      fw_dirs[0] = argv[i + 1];
  }
  if (count == 0 || count > 1000000)
    return 2;
  double *ms = g_new0(double, count);
  guint next = 10;
  cpu_start = cpu_ms();
  for (guint i = 0; i < count; i++) {
    g_autofree char *name = g_strdup_printf("vm%06u", i);
    VsbProvisionRequest req = {
      .state_dir = state,
      .name = name,
      .arch = VSB_FW_ARCH_X86_64,
      .machine = machine,
      .firmware_dirs = fw_dirs[0] ? fw_dirs : NULL,
      .keys_dir = keys,
      .enrolled_keys = keys == NULL,
    };
    GError *error = NULL;
    gint64 t0 = g_get_monotonic_time();
    VsbVm *vm = vsb_vm_provision(&req, NULL, &error);
    ms[i] = (double)(g_get_monotonic_time() - t0) / 1000.0;
    if (vm == NULL) {
      fprintf(stderr, "provision %s: %s\n", name, error->message);
      g_error_free(error);
      return 1;
    }
    vsb_vm_free(vm);
    if (i + 1 == next) {
      report("", ms, i + 1);
      next *= 10;
    }
  }
  report("total ", ms, count);
  g_free(ms);
  return 0;
}
