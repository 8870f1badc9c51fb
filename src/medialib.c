/* SPDX-License-Identifier: MIT */
/*
 * medialib.c: dlopen() of the video and HEIF libraries on first use. See
 * medialib.h for why.
 */
#include "medialib.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define STR_(x) #x
#define STR(x) STR_(x)

struct lib {
    const char *soname;
    void *h;
};

/* The sonames of the versions the headers describe: a library of another
 * major version has another ABI, and is not taken. */
static struct lib avformat = {"libavformat.so." STR(LIBAVFORMAT_VERSION_MAJOR), NULL};
static struct lib avcodec = {"libavcodec.so." STR(LIBAVCODEC_VERSION_MAJOR), NULL};
static struct lib avutil = {"libavutil.so." STR(LIBAVUTIL_VERSION_MAJOR), NULL};
static struct lib swscale = {"libswscale.so." STR(LIBSWSCALE_VERSION_MAJOR), NULL};
static char heif_soname[32];
static struct lib heif = {heif_soname, NULL};

static struct medialib_av av_table;
static struct medialib_heif heif_table;
static bool av_ok, heif_ok;
static char av_error[512], heif_error[512];
static pthread_once_t av_once = PTHREAD_ONCE_INIT, heif_once = PTHREAD_ONCE_INIT;

static bool open_lib(struct lib *l, char *why, size_t n)
{
    if (l->h)
        return true;
    /* RTLD_LOCAL: their symbols stay out of hermod's namespace. */
    l->h = dlopen(l->soname, RTLD_NOW | RTLD_LOCAL);
    if (!l->h)
        snprintf(why, n, "%s", dlerror());
    return l->h != NULL;
}

static bool sym(struct lib *l, const char *name, void **slot, char *why, size_t n)
{
    dlerror();
    *slot = dlsym(l->h, name);
    if (!*slot) {
        const char *e = dlerror();
        snprintf(why, n, "%s has no %s: %s", l->soname, name, e ? e : "null symbol");
        return false;
    }
    return true;
}

static void load_av(void)
{
    char *why = av_error;
    size_t n = sizeof(av_error);
    if (!open_lib(&avutil, why, n) || !open_lib(&avcodec, why, n) ||
        !open_lib(&avformat, why, n) || !open_lib(&swscale, why, n))
        return;
    /* Object and function pointers are interchangeable on every platform
     * hermod runs on (POSIX requires it of dlsym). */
#define LOAD(lib, fn)                                                                         \
    if (!sym(&lib, #fn, (void **)(void *)&av_table.fn, why, n))                               \
        return;
    MEDIALIB_AV_FUNCS(LOAD)
#undef LOAD
    av_ok = true;
}

static void load_heif(void)
{
    char *why = heif_error;
    size_t n = sizeof(heif_error);
    snprintf(heif_soname, sizeof(heif_soname), "libheif.so.%d",
             (int)(LIBHEIF_NUMERIC_VERSION >> 24));
    if (!open_lib(&heif, why, n))
        return;
#define LOAD(lib, fn)                                                                         \
    if (!sym(&lib, #fn, (void **)(void *)&heif_table.fn, why, n))                             \
        return;
    MEDIALIB_HEIF_FUNCS(LOAD)
#undef LOAD
    heif_ok = true;
}

const struct medialib_av *medialib_av(struct buf *err)
{
    pthread_once(&av_once, load_av);
    if (!av_ok && err)
        buf_addf(err, "video needs the libav libraries (Debian: libavformat59, libavcodec59, "
                      "libswscale6): %s", av_error);
    return av_ok ? &av_table : NULL;
}

const struct medialib_heif *medialib_heif(struct buf *err)
{
    pthread_once(&heif_once, load_heif);
    if (!heif_ok && err)
        buf_addf(err, "HEIF needs libheif (Debian: libheif1): %s", heif_error);
    return heif_ok ? &heif_table : NULL;
}

bool medialib_av_loaded(void)
{
    return __atomic_load_n(&avformat.h, __ATOMIC_ACQUIRE) != NULL;
}

bool medialib_heif_loaded(void)
{
    return __atomic_load_n(&heif.h, __ATOMIC_ACQUIRE) != NULL;
}
