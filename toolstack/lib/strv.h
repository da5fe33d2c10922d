/*
 * strv.h - NULL-terminated string vectors (package sets, components,
 * roles): what more than one module needs of them.
 */
#ifndef VMKIT_STRV_H
#define VMKIT_STRV_H

/* The strings of v (NULL: none) joined with sep, in a new string, or
 * NULL with errno ENOMEM. */
char *strv_join(char *const *v, const char *sep);

#endif
