/* SPDX-License-Identifier: MIT */
/*
 * form: multipart/form-data bodies (the OpenAI API's audio uploads), parsed
 * by GMime, the MIME library from Debian.
 *
 * GMime and the GLib it needs are dlopen()ed on the first form (like the
 * video libraries, src/medialib.c): a daemon that never sees an upload
 * never maps them, which keeps idle RSS down. Thread-safe; the first call
 * does the loading.
 */
#ifndef HERMOD_FORM_H
#define HERMOD_FORM_H

#include <stddef.h>
#include <stdint.h>

/* One part: its field name (NULL when its Content-Disposition has none),
 * its file name (NULL for a plain field), its
 * content type (NULL if none). A plain field's value comes in data; a
 * file's content does not (data NULL, size 0): only what it is matters
 * here. Returns 0 to go on; anything else stops the walk. */
typedef int form_part_cb(void *arg, const char *name, const char *filename,
                         const char *content_type, const char *data, uint64_t off, size_t size);

/* Walks the parts of a multipart body whose Content-Type (with its
 * boundary) is content_type. Returns 0; -EINVAL when it is not a
 * multipart body or does not parse; -ENOSYS with no GMime (the message
 * says to install libgmime-3.0-0); or what cb returned. */
int form_each(const char *content_type, const char *body, size_t len, form_part_cb *cb,
              void *arg);

/* Why the last form_each() gave -ENOSYS. */
const char *form_error(void);

#endif
