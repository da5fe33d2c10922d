/*
 * strv.c - NULL-terminated string vectors (see strv.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "strv.h"

char *strv_join(char *const *v, const char *sep)
{
    size_t len = 1, seplen = strlen(sep);
    char *s, *p;

    for (size_t i = 0; v && v[i]; i++)
        len += strlen(v[i]) + seplen;
    if (!(s = p = malloc(len))) {
        errno = ENOMEM;
        return NULL;
    }
    for (size_t i = 0; v && v[i]; i++) {
        size_t k = strlen(v[i]);

        if (i) {
            memcpy(p, sep, seplen);
            p += seplen;
        }
        memcpy(p, v[i], k);
        p += k;
    }
    *p = '\0';
    return s;
}
