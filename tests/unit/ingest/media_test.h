/*
 * media_test.h: what test_image.c and test_video.c share. A scratch
 * directory for the fixtures that Debian tools make, file and shell
 * helpers, and a plain libjpeg decoder to look at our output with
 * something other than the module under test. Include after cmocka.h.
 */
#ifndef HERMOD_MEDIA_TEST_H
#define HERMOD_MEDIA_TEST_H

#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jpeglib.h>

#include "lib/buf.h"
#include "lib/xalloc.h"

static char media_tmpdir[64];

/* Makes /tmp/hermod-test-NAME-XXXXXX; for a group setup. */
static inline int media_tmp_init(const char *name)
{
    snprintf(media_tmpdir, sizeof(media_tmpdir), "/tmp/hermod-test-%s-XXXXXX", name);
    return mkdtemp(media_tmpdir) ? 0 : -1;
}

static inline char *tmp_path(const char *name)
{
    return xasprintf("%s/%s", media_tmpdir, name);
}

/* Removes the directory and the files in it; for a group teardown. */
static inline int media_tmp_clean(void)
{
    DIR *d = opendir(media_tmpdir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char *path = tmp_path(e->d_name);
        unlink(path);
        free(path);
    }
    if (d)
        closedir(d);
    rmdir(media_tmpdir);
    return 0;
}

static inline void write_file(const char *name, const struct buf *b)
{
    char *path = tmp_path(name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b->data, 1, b->len, f), b->len);
    assert_int_equal(fclose(f), 0);
    free(path);
}

static inline void read_file(const char *name, struct buf *b)
{
    char *path = tmp_path(name);
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot read %s", path);
    char chunk[8192];
    size_t n;
    buf_reset(b);
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        buf_add(b, chunk, n);
    fclose(f);
    free(path);
}

/* A missing tool is a failure that says what to install, never a skip. */
static inline void need_tool(const char *tool, const char *pkg)
{
    char *cmd = xasprintf("command -v %s >/dev/null 2>&1", tool);
    int rc = system(cmd);
    free(cmd);
    if (rc != 0)
        fail_msg("this test needs '%s': install the Debian package %s (scripts/deps --test)", tool,
                 pkg);
}

/* Runs a shell command in the scratch directory; failing is failing. */
__attribute__((format(printf, 1, 2))) static inline void sh(const char *fmt, ...)
{
    struct buf cmd = BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    buf_addf(&cmd, "cd '%s' && ", media_tmpdir);
    buf_vaddf(&cmd, fmt, ap);
    va_end(ap);
    int rc = system(buf_cstr(&cmd));
    if (rc != 0)
        fail_msg("command failed (%d): %s", rc, buf_cstr(&cmd));
    buf_release(&cmd);
}

/* No APPn (other than JFIF's APP0) or COM segment before the first scan,
 * no "Exif" anywhere, and a proper end. */
static inline void assert_no_metadata(const struct buf *j)
{
    const unsigned char *p = (const unsigned char *)j->data;
    size_t n = j->len, i = 2;
    assert_true(n > 4 && p[0] == 0xff && p[1] == 0xd8);
    while (i + 4 <= n) {
        assert_int_equal(p[i], 0xff);
        unsigned m = p[i + 1];
        if (m == 0xda)
            break;
        if ((m >= 0xe1 && m <= 0xef) || m == 0xfe)
            fail_msg("output JPEG has a metadata segment FF%02X at %zu", m, i);
        if (m == 0xe0)
            assert_memory_equal(p + i + 4, "JFIF\0", 5);
        i += 2 + ((size_t)p[i + 2] << 8 | p[i + 3]);
    }
    assert_null(memmem(p, n, "Exif", 4));
    assert_int_equal(p[n - 2], 0xff);
    assert_int_equal(p[n - 1], 0xd9);
}

/* Decodes a JPEG to RGB with libjpeg directly, not with the module. */
static inline unsigned char *dec_jpeg(const struct buf *in, unsigned *w, unsigned *h)
{
    struct jpeg_decompress_struct ci;
    struct jpeg_error_mgr jerr;
    ci.err = jpeg_std_error(&jerr);
    jpeg_create_decompress(&ci);
    jpeg_mem_src(&ci, (const unsigned char *)in->data, in->len);
    jpeg_read_header(&ci, TRUE);
    ci.out_color_space = JCS_RGB;
    jpeg_start_decompress(&ci);
    *w = ci.output_width;
    *h = ci.output_height;
    unsigned char *px = xmalloc((size_t)*w * *h * 3);
    while (ci.output_scanline < *h) {
        JSAMPROW row = px + (size_t)ci.output_scanline * *w * 3;
        jpeg_read_scanlines(&ci, &row, 1);
    }
    jpeg_finish_decompress(&ci);
    jpeg_destroy_decompress(&ci);
    return px;
}

#endif
