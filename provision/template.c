/*
 * template.c - finding and listing guest templates (see template.h).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "paths.h"
#include "template.h"

/* How much of a file template_list reads for its description. */
#define LEAD_MAX (64 * 1024)

static const char *const subdirs[2] = { "templates", "templates/guest" };

/* dir/sub/NAME.conf in a new string, or NULL (ENOMEM). */
static char *template_path(const char *dir, const char *sub, const char *name)
{
    char *rel = NULL, *path;

    if (asprintf(&rel, "%s/%s.conf", sub, name) < 0)
        return NULL;
    path = paths_join(dir, rel);
    free(rel);
    return path;
}

int template_find(const char *confdir, const char *datadir, const char *name,
                  char **path_r, bool *site_r)
{
    const char *const dirs[2] = { confdir, datadir };
    struct stat st;

    *path_r = NULL;
    for (int i = 0; i < 2; i++) {
        char *path;

        if (!dirs[i])
            continue;
        if (!(path = template_path(dirs[i], subdirs[i], name)))
            return -ENOMEM;
        /* there unless it is not: a file that cannot be read is the reader's to report */
        if (stat(path, &st) == 0 || errno != ENOENT) {
            *path_r = path;
            if (site_r)
                *site_r = i == 0;
            return 0;
        }
        free(path);
    }
    return -ENOENT;
}

char *template_description(const char *text, size_t len)
{
    const char *p = text, *end = text + len, *first = NULL, *found = NULL;
    size_t firstlen = 0, foundlen = 0, n;
    char *out;

    while (p < end && !found) {
        const char *eol = memchr(p, '\n', (size_t)(end - p)), *s = p, *e;

        if (!eol)
            eol = end;
        p = eol < end ? eol + 1 : end;
        while (s < eol && (*s == ' ' || *s == '\t'))
            s++;
        e = eol;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
            e--;
        if (s == e)
            continue;           /* a blank line */
        if (*s != '#')
            break;              /* the lead ends */
        while (s < e && (*s == '#' || *s == ' ' || *s == '\t'))
            s++;
        if (s == e)
            continue;           /* `#' alone */
        if ((size_t)(e - s) >= 12 && !strncmp(s, "description:", 12)) {
            s += 12;
            while (s < e && (*s == ' ' || *s == '\t'))
                s++;
            found = s;
            foundlen = (size_t)(e - s);
        } else if (!first) {
            first = s;
            firstlen = (size_t)(e - s);
        }
    }
    if (!found) {
        found = first;
        foundlen = firstlen;
    }
    n = foundlen > TEMPLATE_DESCRIPTION_MAX ? TEMPLATE_DESCRIPTION_MAX : foundlen;
    if (!(out = malloc(n + 1)))
        return NULL;
    for (size_t i = 0; i < n; i++)
        out[i] = (unsigned char)found[i] < 0x20 || found[i] == 0x7f ? ' ' : found[i];
    out[n] = '\0';
    return out;
}

void template_list_free(struct template_info *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++) {
        free(v[i].name);
        free(v[i].path);
        free(v[i].description);
    }
    free(v);
}

char *template_describe_file(const char *path)
{
    char *buf = malloc(LEAD_MAX), *desc = NULL;
    size_t len = 0;
    ssize_t k = 0;
    int fd = -1, e = 0;

    if (!buf)
        return NULL;
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        e = errno;
    } else {
        struct stat st;

        if (fstat(fd, &st) < 0)
            e = errno;
        else if (!S_ISREG(st.st_mode))
            e = EINVAL;
        while (!e && len < LEAD_MAX && (k = read(fd, buf + len, LEAD_MAX - len)) != 0) {
            if (k < 0 && errno == EINTR)
                continue;
            if (k < 0)
                e = errno;
            else
                len += (size_t)k;
        }
        close(fd);
    }
    if (e && asprintf(&desc, "(cannot be read: %s)",
                      e == EINVAL ? "not a regular file" : strerror(e)) < 0)
        desc = NULL;
    else if (!e)
        desc = template_description(buf, len);
    free(buf);
    return desc;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const struct template_info *)a)->name,
                  ((const struct template_info *)b)->name);
}

/* Adds the templates of dir (site: confdir's) to *v; 0 or -errno. */
static int scan(const char *dir, bool site, struct template_info **v, size_t *n)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int r = 0;

    if (!d)
        return -errno;
    while ((errno = 0, e = readdir(d))) {
        size_t len = strlen(e->d_name), i;
        struct template_info *nv, *t;
        const char *why;
        struct stat st;
        char *path;

        if (len <= 5 || strcmp(e->d_name + len - 5, ".conf"))
            continue;
        e->d_name[len - 5] = '\0';
        if (check_name(e->d_name, &why))
            continue;
        e->d_name[len - 5] = '.';
        if (!(path = paths_join(dir, e->d_name))) {
            r = -ENOMEM;
            break;
        }
        e->d_name[len - 5] = '\0';
        /* as template_find: there unless it is not (a dangling link) */
        if (stat(path, &st) < 0 && errno == ENOENT) {
            free(path);
            continue;
        }
        for (i = 0; i < *n && strcmp((*v)[i].name, e->d_name); i++)
            ;
        if (i < *n) {               /* a shipped one under a site one */
            (*v)[i].shadows = true;
            free(path);
            continue;
        }
        if (!(nv = realloc(*v, (*n + 1) * sizeof(**v)))) {
            free(path);
            r = -ENOMEM;
            break;
        }
        *v = nv;
        t = &nv[*n];
        memset(t, 0, sizeof(*t));
        t->path = path;
        t->site = site;
        ++*n;
        if (!(t->name = strdup(e->d_name)) || !(t->description = template_describe_file(path))) {
            r = -ENOMEM;
            break;
        }
    }
    if (!r && errno)
        r = -errno;
    closedir(d);
    return r;
}

int template_list(const char *confdir, const char *datadir, struct template_info **v_r,
                  size_t *n_r)
{
    const char *const dirs[2] = { confdir, datadir };
    struct template_info *v = NULL;
    size_t n = 0;
    int r = 0, found = 0;

    *v_r = NULL;
    *n_r = 0;
    for (int i = 0; i < 2; i++) {
        char *path;
        int k;

        if (!dirs[i])
            continue;
        if (!(path = paths_join(dirs[i], subdirs[i]))) {
            r = -ENOMEM;
            goto out;
        }
        k = scan(path, i == 0, &v, &n);
        free(path);
        if (k == -ENOMEM) {
            r = k;
            goto out;
        }
        found |= k == 0;
        if (k && i == 1 && !found)
            r = k;
    }
    if (r)
        goto out;
    if (n)
        qsort(v, n, sizeof(*v), by_name);
    *v_r = v;
    *n_r = n;
    v = NULL;
    n = 0;
out:
    template_list_free(v, n);
    return r;
}
