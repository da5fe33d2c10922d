/*
 * cmd_info.c - vmctl info: the host, as xl info shows it: what runs
 * guests here (QEMU, the accelerator and why), CPUs, memory, domains.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "accel.h"
#include "domstate.h"
#include "paths.h"
#include "proc.h"
#include "vmctl.h"

/* The first line QEMU prints for -version, or "". */
static void qemu_version(const char *qemu, char *buf, size_t len)
{
    char *argv[] = { (char *)qemu, (char *)"-version", NULL };
    struct proc_opts po;
    int pfd[2], status;
    ssize_t n = 0;
    pid_t pid;

    buf[0] = '\0';
    if (pipe2(pfd, O_CLOEXEC) < 0)
        return;
    proc_opts_init(&po);
    po.stdout_fd = pfd[1];
    po.stderr_fd = PROC_NULL;
    if (proc_start(qemu, argv, &po, &pid) == 0) {
        close(pfd[1]);
        pfd[1] = -1;
        n = read(pfd[0], buf, len - 1);
        proc_wait(pid, 5000, &status);
    }
    if (pfd[1] >= 0)
        close(pfd[1]);
    close(pfd[0]);
    buf[n > 0 ? n : 0] = '\0';
    buf[strcspn(buf, "\n")] = '\0';
}

static long meminfo_mib(const char *key)
{
    char line[256];
    size_t klen = strlen(key);
    long kib = -1;
    FILE *f = fopen("/proc/meminfo", "re");

    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f))
        if (!strncmp(line, key, klen) && line[klen] == ':')
            kib = strtol(line + klen + 1, NULL, 10);
    fclose(f);
    return kib < 0 ? -1 : kib / 1024;
}

int cmd_info(int argc, char **argv)
{
    struct accel_verdict v;
    struct accel_probe_params probe;
    struct utsname u;
    struct domstate *doms;
    char version[256];
    const char *qemu = getenv("VMKIT_QEMU");
    size_t n = 0;

    if (argc > 1) {
        bool help = !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help");

        vmctl_usage(help ? stdout : stderr, vmctl_command("info"));
        return help ? EXIT_OK : EXIT_USAGE;
    }
    if (!qemu || !*qemu)
        qemu = "qemu-system-x86_64";
    uname(&u);
    qemu_version(qemu, version, sizeof(version));
    accel_probe_params_init(&probe);
    probe.qemu = qemu;
    probe.rundir = paths_root(PATHS_RUN);
    accel_host_status(&probe, &v);
    if (domstate_list(false, &doms, &n, NULL) == 0)
        domstate_list_free(doms, n);
    printf("%-20s: %s\n", "host", u.nodename);
    printf("%-20s: %s %s %s\n", "release", u.sysname, u.release, u.machine);
    printf("%-20s: %ld\n", "nr_cpus", sysconf(_SC_NPROCESSORS_ONLN));
    printf("%-20s: %ld\n", "total_memory", meminfo_mib("MemTotal"));
    printf("%-20s: %ld\n", "free_memory", meminfo_mib("MemAvailable"));
    printf("%-20s: %s\n", "device_model", qemu);
    printf("%-20s: %s\n", "device_model_version", *version ? version : "(not found)");
    printf("%-20s: %s\n", "accel", accel_verdict_name(&v));
    printf("%-20s: %s\n", "accel_reason", v.reason);
    printf("%-20s: %s\n", "run_dir", paths_root(PATHS_RUN));
    printf("%-20s: %s\n", "log_dir", paths_root(PATHS_LOG));
    printf("%-20s: %zu\n", "domains", n);
    return EXIT_OK;
}
