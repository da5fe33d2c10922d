/*
 * cmd_list.c - vmctl list and vmctl uptime: the running domains, in xl's
 * columns.
 */
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "domstate.h"
#include "vmctl.h"

static json_object *info_of(const struct domstate *ds)
{
    json_object *o = ds->info_json ? json_tokener_parse(ds->info_json) : NULL;

    if (o && !json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        o = NULL;
    }
    return o ? o : json_object_new_object();
}

static const char *info_string(json_object *info, const char *key)
{
    json_object *v;

    if (!json_object_object_get_ex(info, key, &v) || !json_object_is_type(v, json_type_string))
        return "";
    return json_object_get_string(v);
}

static long long info_int(json_object *info, const char *key)
{
    json_object *v;

    if (!json_object_object_get_ex(info, key, &v) || !json_object_is_type(v, json_type_int))
        return 0;
    return json_object_get_int64(v);
}

/* CPU seconds QEMU has used (xl's Time(s): the domain's CPU time). */
static double cpu_seconds(pid_t pid)
{
    unsigned long long ticks;

    if (domstate_proc_stat(pid, NULL, &ticks))
        return 0;
    return (double)ticks / (double)sysconf(_SC_CLK_TCK);
}

/* xl's six state letters: running, blocked, paused, shutdown, crashed, dying. */
static void state_letters(enum domstate_state s, char out[7])
{
    static const char letters[] = "rbpscd";
    int on = -1;

    switch (s) {
    case DOMSTATE_RUNNING:
        on = 0;
        break;
    case DOMSTATE_PAUSED:
    case DOMSTATE_CREATING:
        on = 2;
        break;
    case DOMSTATE_SHUTDOWN:
        on = 3;
        break;
    case DOMSTATE_CRASHED:
        on = 4;
        break;
    case DOMSTATE_DYING:
        on = 5;
        break;
    case DOMSTATE_UNKNOWN:
        break;
    }
    for (int i = 0; i < 6; i++)
        out[i] = i == on ? letters[i] : '-';
    out[6] = '\0';
}

static json_object *domain_json(const struct domstate *ds, json_object *info)
{
    json_object *o = json_object_new_object();

    json_object_object_add(o, "name", json_object_new_string(ds->name));
    json_object_object_add(o, "domid", json_object_new_int(ds->domid));
    json_object_object_add(o, "state", json_object_new_string(domstate_state_name(ds->state)));
    json_object_object_add(o, "cpu_time", json_object_new_double(cpu_seconds(ds->qemu_pid)));
    json_object_object_add(o, "qemu_pid", json_object_new_int(ds->qemu_pid));
    json_object_object_add(o, "supervisor_pid", json_object_new_int(ds->supervisor_pid));
    json_object_object_foreach(info, key, val) {
        if (!json_object_object_get_ex(o, key, NULL))
            json_object_object_add(o, key, json_object_get(val));
    }
    return o;
}

int cmd_list(int argc, char **argv)
{
    static const struct option opts[] = {
        { "long", no_argument, NULL, 'l' },
        { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },
        { 0 },
    };
    struct domstate *v;
    json_object *arr = NULL;
    bool lng = false, json = false;
    size_t n;
    int c, lock, r, status = EXIT_OK;

    while ((c = getopt_long(argc, argv, "ljh", opts, NULL)) != -1) {
        switch (c) {
        case 'l':
            lng = true;
            break;
        case 'j':
            json = true;
            break;
        case 'h':
            vmctl_usage(stdout, vmctl_command("list"));
            return EXIT_OK;
        default:
            vmctl_usage(stderr, vmctl_command("list"));
            return EXIT_USAGE;
        }
    }
    /* listing cleans up after QEMUs that died unsupervised */
    lock = domstate_lock();
    r = domstate_list(lock >= 0, &v, &n, NULL);
    if (lock >= 0)
        close(lock);
    if (r) {
        fprintf(stderr, "%s list: cannot read the domains: %s\n", vmctl_prog, strerror(-r));
        return EXIT_FAIL;
    }
    if (json)
        arr = json_object_new_array();
    else if (lng)
        printf("%-24s %5s %5s %5s %-6s %9s %-5s %-8s %-36s %s\n", "Name", "ID", "Mem",
               "VCPUs", "State", "Time(s)", "Accel", "Machine", "UUID", "Accel reason");
    else
        printf("%-40s %5s %5s %5s %-6s %9s\n", "Name", "ID", "Mem", "VCPUs", "State",
               "Time(s)");
    for (size_t i = 0; i < n; i++) {
        json_object *info = info_of(&v[i]);
        char letters[7];
        int optind_arg;

        /* NAME arguments restrict the list */
        for (optind_arg = optind; optind_arg < argc; optind_arg++)
            if (!strcmp(argv[optind_arg], v[i].name))
                break;
        if (optind < argc && optind_arg == argc) {
            json_object_put(info);
            continue;
        }
        vmctl_refresh_state(&v[i]);
        state_letters(v[i].state, letters);
        if (json)
            json_object_array_add(arr, domain_json(&v[i], info));
        else if (lng)
            printf("%-24s %5d %5lld %5lld %-6s %9.1f %-5s %-8s %-36s %s\n", v[i].name,
                   v[i].domid, info_int(info, "memory"), info_int(info, "vcpus"),
                   letters, cpu_seconds(v[i].qemu_pid), info_string(info, "accel"),
                   info_string(info, "machine"), info_string(info, "uuid"),
                   info_string(info, "accel_reason"));
        else
            printf("%-40s %5d %5lld %5lld %-6s %9.1f\n", v[i].name, v[i].domid,
                   info_int(info, "memory"), info_int(info, "vcpus"), letters,
                   cpu_seconds(v[i].qemu_pid));
        json_object_put(info);
    }
    for (int a = optind; a < argc; a++) {
        size_t i;

        for (i = 0; i < n && strcmp(argv[a], v[i].name); i++)
            ;
        if (i == n) {
            fprintf(stderr, "%s list: no domain `%s'\n", vmctl_prog, argv[a]);
            status = EXIT_FAIL;
        }
    }
    if (json) {
        puts(json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PRETTY |
                                            JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(arr);
    }
    domstate_list_free(v, n);
    return status;
}

int cmd_uptime(int argc, char **argv)
{
    struct domstate *v;
    size_t n;
    int status = EXIT_OK, lock, r;
    time_t now = time(NULL);

    if (argc > 1 && argv[1][0] == '-') {
        bool help = !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help");

        vmctl_usage(help ? stdout : stderr, vmctl_command("uptime"));
        return help ? EXIT_OK : EXIT_USAGE;
    }
    lock = domstate_lock();
    r = domstate_list(lock >= 0, &v, &n, NULL);
    if (lock >= 0)
        close(lock);
    if (r) {
        fprintf(stderr, "%s uptime: cannot read the domains: %s\n", vmctl_prog, strerror(-r));
        return EXIT_FAIL;
    }
    printf("%-40s %5s %s\n", "Name", "ID", "Uptime");
    for (size_t i = 0; i < n; i++) {
        json_object *info = info_of(&v[i]);
        long long up = now - info_int(info, "start_time");
        bool wanted = argc <= 1;

        for (int a = 1; a < argc; a++)
            if (!strcmp(argv[a], v[i].name))
                wanted = true;
        if (wanted) {
            if (up < 0)
                up = 0;
            printf("%-40s %5d ", v[i].name, v[i].domid);
            if (up >= 86400)
                printf("%lld day%s, ", up / 86400, up / 86400 == 1 ? "" : "s");
            printf("%lld:%02lld:%02lld\n", up % 86400 / 3600, up % 3600 / 60, up % 60);
        }
        json_object_put(info);
    }
    for (int a = 1; a < argc; a++) {
        size_t i;

        for (i = 0; i < n && strcmp(argv[a], v[i].name); i++)
            ;
        if (i == n) {
            fprintf(stderr, "%s uptime: no domain `%s'\n", vmctl_prog, argv[a]);
            status = EXIT_FAIL;
        }
    }
    domstate_list_free(v, n);
    return status;
}
