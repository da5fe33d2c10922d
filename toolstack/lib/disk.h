/*
 * disk.h - one xl disk specification (xl-disk-configuration(5)).
 *
 * The grammar is libxlutil's (Xen 4.17, as Debian ships it): positional
 * `target,format,vdev,access', key=value parameters (`target=' swallows
 * the rest of the string, commas included), the old xend prefixes
 * (`raw:' `qcow:' `qcow2:' `vhd:' set the format; `phy:' `file:' `tap:'
 * `tap2:' `tapdisk:' `aio:' `ioemu:' are stripped; `iscsi:' `nbd:' `enbd:'
 * `drbd:' name a block script), `VDEV:cdrom' and empty cdroms.  The
 * tokens are matched as flex matches libxlutil's rules: the longest match
 * wins, the earlier rule on a tie.
 */
#ifndef VMKIT_DISK_H
#define VMKIT_DISK_H

#include <stdbool.h>

#include "diag.h"

enum disk_format {
    DISK_FORMAT_UNKNOWN,
    DISK_FORMAT_RAW,
    DISK_FORMAT_QCOW,
    DISK_FORMAT_QCOW2,
    DISK_FORMAT_VHD,
    DISK_FORMAT_QED,
    DISK_FORMAT_EMPTY,
};

enum disk_backendtype {
    DISK_BACKEND_UNKNOWN,
    DISK_BACKEND_PHY,
    DISK_BACKEND_TAP,
    DISK_BACKEND_QDISK,
    DISK_BACKEND_STANDALONE,
};

enum disk_specification {
    DISK_SPEC_UNKNOWN,
    DISK_SPEC_XEN,
    DISK_SPEC_VIRTIO,
};

struct disk_spec {
    char *target;               /* NULL: none given; "": empty cdrom */
    char *vdev;
    enum disk_format format;
    bool readwrite;
    bool cdrom;
    enum disk_backendtype backendtype;
    enum disk_specification specification;
    char *backend;              /* backend domain name */
    char *script;
    int discard;                /* -1 default, 0 no-discard, 1 discard */
    bool direct_io_safe;
    int colo;                   /* -1 default, 0, 1 */
    char *colo_host;
    int colo_port;              /* 0: none */
    char *colo_export;
    char *active_disk;
    char *hidden_disk;
};

void disk_spec_init(struct disk_spec *disk);
void disk_spec_dispose(struct disk_spec *disk);

/*
 * Parses spec into disk (initialised by the caller).  file, line and col
 * name where the spec was written, for messages.  Returns 0, -EINVAL
 * after recording every error in d (the disk is then unusable), or
 * -ENOMEM.
 */
int disk_parse(const char *spec, const char *file, int line, int col,
               struct disk_spec *disk, struct diag *d);

const char *disk_format_name(enum disk_format f);   /* "raw", ... */
const char *disk_backendtype_name(enum disk_backendtype b); /* NULL if unknown */
const char *disk_specification_name(enum disk_specification s);

/*
 * Formats disk as a key=value spec that disk_parse reads back to the same
 * fields (target= last, so it may hold anything).  A new malloc'd string,
 * or NULL with errno ENOMEM.
 */
char *disk_format_spec(const struct disk_spec *disk);

#endif
