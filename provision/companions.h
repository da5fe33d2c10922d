/*
 * companions.h - vm-provision --list and --delete NAME: the guests it
 * made, from their records (registry.h).  Command layer: these print.
 */
#ifndef VMKIT_COMPANIONS_H
#define VMKIT_COMPANIONS_H

#include <stdbool.h>

/* Prints the guests (a table, or JSON); returns the exit status. */
int companions_list(const char *prog, bool json);

/* Removes guest name's config, images and kernel copies and its record,
 * under its provisioning lock, unless it runs; returns the exit status
 * (0, 1 failure, 2 no such guest). */
int companions_delete(const char *prog, const char *name);

/* --golden-list: the golden images in the cache, with the number of
 * guests whose qcow2 overlays each backs.  0, or 1 after saying why. */
int companions_golden_list(const char *prog);

/* --golden-delete ID|all: removes a golden image, never one that backs
 * an overlay (all: skips those, saying so) nor one being built or
 * cloned now.  0, or 1 after saying why. */
int companions_golden_delete(const char *prog, const char *id);

#endif
