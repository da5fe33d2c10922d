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

#endif
