/* SPDX-License-Identifier: MIT */
/*
 * form.c: multipart/form-data through GMime, dlopen()ed on first use. See
 * form.h.
 */
#include "net/form.h"

#include <dlfcn.h>
#include <errno.h>
#include <gmime/gmime.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/buf.h"
#include "lib/xalloc.h"

/* The functions used, resolved at run time. */
#define FORM_FUNCS(X)                                                          \
    X(gmime, g_mime_init)                                                      \
    X(gmime, g_mime_stream_mem_new_with_buffer)                                \
    X(gmime, g_mime_stream_mem_new)                                            \
    X(gmime, g_mime_stream_mem_get_byte_array)                                 \
    X(gmime, g_mime_parser_new_with_stream)                                    \
    X(gmime, g_mime_parser_construct_part)                                     \
    X(gmime, g_mime_multipart_get_type)                                        \
    X(gmime, g_mime_multipart_get_count)                                       \
    X(gmime, g_mime_multipart_get_part)                                        \
    X(gmime, g_mime_part_get_type)                                             \
    X(gmime, g_mime_part_get_content)                                          \
    X(gmime, g_mime_data_wrapper_write_to_stream)                              \
    X(gmime, g_mime_object_get_content_type)                                   \
    X(gmime, g_mime_object_get_content_disposition)                            \
    X(gmime, g_mime_content_disposition_get_parameter)                         \
    X(gmime, g_mime_content_type_get_mime_type)                                \
    X(gobject, g_object_unref)                                                 \
    X(gobject, g_type_check_instance_is_a)                                     \
    X(glib, g_free)

static struct {
#define SLOT(lib, fn) __typeof__(fn) *fn;
    FORM_FUNCS(SLOT)
#undef SLOT
} F;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static bool loaded;
static char why[256];

static void load(void)
{
    struct {
        const char *soname;
        void *h;
    } libs[] = {{"libgmime-3.0.so.0", NULL}, {"libgobject-2.0.so.0", NULL},
                {"libglib-2.0.so.0", NULL}};
    for (size_t i = 0; i < 3; i++) {
        libs[i].h = dlopen(libs[i].soname, RTLD_NOW | RTLD_LOCAL);
        if (!libs[i].h) {
            snprintf(why, sizeof(why),
                     "multipart forms need GMime (apt-get install libgmime-3.0-0): %s",
                     dlerror());
            return;
        }
    }
    void *gmime = libs[0].h, *gobject = libs[1].h, *glib = libs[2].h;
    (void)gmime;
    (void)gobject;
    (void)glib;
#define RESOLVE(lib, fn)                                                       \
    *(void **)&F.fn = dlsym(lib, #fn);                                         \
    if (!F.fn) {                                                               \
        snprintf(why, sizeof(why), "GMime: no %s", #fn);                       \
        return;                                                                \
    }
    FORM_FUNCS(RESOLVE)
#undef RESOLVE
    F.g_mime_init();
    loaded = true;
}

const char *form_error(void)
{
    return why;
}

static bool is_a(void *obj, GType t)
{
    return obj && F.g_type_check_instance_is_a((GTypeInstance *)obj, t);
}

int form_each(const char *content_type, const char *body, size_t len, form_part_cb *cb,
              void *arg)
{
    if (!content_type || strncasecmp(content_type, "multipart/", 10))
        return -EINVAL;
    pthread_once(&once, load);
    if (!loaded)
        return -ENOSYS;
    /* GMime reads a MIME entity: the body with its Content-Type header. */
    struct buf doc = BUF_INIT;
    buf_addf(&doc, "Content-Type: %s\r\n\r\n", content_type);
    buf_add(&doc, body, len);
    GMimeStream *st = F.g_mime_stream_mem_new_with_buffer(doc.data, doc.len);
    buf_release(&doc);
    GMimeParser *p = F.g_mime_parser_new_with_stream(st);
    GMimeObject *top = F.g_mime_parser_construct_part(p, NULL);
    int rc = 0;
    if (!is_a(top, F.g_mime_multipart_get_type())) {
        rc = -EINVAL;
        goto out;
    }
    GMimeMultipart *mp = (GMimeMultipart *)top;
    int n = F.g_mime_multipart_get_count(mp);
    for (int i = 0; i < n && !rc; i++) {
        GMimeObject *part = F.g_mime_multipart_get_part(mp, i);
        GMimeContentDisposition *cd = F.g_mime_object_get_content_disposition(part);
        const char *name = cd ? F.g_mime_content_disposition_get_parameter(cd, "name") : NULL;
        const char *filename =
            cd ? F.g_mime_content_disposition_get_parameter(cd, "filename") : NULL;
        GMimeContentType *ct = F.g_mime_object_get_content_type(part);
        char *type = ct ? F.g_mime_content_type_get_mime_type(ct) : NULL;
        if (filename || !is_a(part, F.g_mime_part_get_type())) {
            rc = cb(arg, name, filename ? filename : "", type, NULL, 0, 0);
        } else {
            GMimeDataWrapper *w = F.g_mime_part_get_content((GMimePart *)part);
            GMimeStream *out = F.g_mime_stream_mem_new();
            if (w)
                F.g_mime_data_wrapper_write_to_stream(w, out);
            GByteArray *a = F.g_mime_stream_mem_get_byte_array((GMimeStreamMem *)out);
            rc = cb(arg, name, NULL, type, a && a->data ? (const char *)a->data : "", 0,
                    a ? a->len : 0);
            F.g_object_unref(out);
        }
        F.g_free(type);
    }
out:
    if (top)
        F.g_object_unref(top);
    F.g_object_unref(p);
    F.g_object_unref(st);
    return rc;
}
