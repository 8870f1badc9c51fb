/* SPDX-License-Identifier: MIT */
/*
 * medialib.c: dlopen() of the video and HEIF libraries on first use. See
 * medialib.h for why.
 */
#include "ingest/medialib.h"

#include <dlfcn.h>
#include <stddef.h>
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

/* One function to resolve: where, its name, and its slot in the table. */
struct sym {
    struct lib *lib;
    const char *name;
    size_t slot;
};

#define AV_SYM(lib, fn) {&lib, #fn, offsetof(struct medialib_av, fn)},
static const struct sym av_syms[] = {MEDIALIB_AV_FUNCS(AV_SYM)};
#undef AV_SYM
#define HEIF_SYM(lib, fn) {&lib, #fn, offsetof(struct medialib_heif, fn)},
static const struct sym heif_syms[] = {MEDIALIB_HEIF_FUNCS(HEIF_SYM)};
#undef HEIF_SYM

/* Opens each library of syms and fills table (whose members are all
 * function pointers) at their offsets. Returns false with why set. */
static bool resolve(const struct sym *syms, size_t n, void *table, char *why, size_t wn)
{
    for (size_t i = 0; i < n; i++) {
        /* Object and function pointers are interchangeable on every
         * platform hermod runs on (POSIX requires it of dlsym). */
        void **slot = (void **)(void *)((char *)table + syms[i].slot);
        if (!open_lib(syms[i].lib, why, wn) || !sym(syms[i].lib, syms[i].name, slot, why, wn))
            return false;
    }
    return true;
}

static void load_av(void)
{
    av_ok = resolve(av_syms, sizeof(av_syms) / sizeof(av_syms[0]), &av_table, av_error,
                    sizeof(av_error));
}

static void load_heif(void)
{
    snprintf(heif_soname, sizeof(heif_soname), "libheif.so.%d",
             (int)(LIBHEIF_NUMERIC_VERSION >> 24));
    heif_ok = resolve(heif_syms, sizeof(heif_syms) / sizeof(heif_syms[0]), &heif_table,
                      heif_error, sizeof(heif_error));
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
