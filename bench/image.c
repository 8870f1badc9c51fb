/* SPDX-License-Identifier: MIT */
/*
 * bench/image: throughput of the media preprocessing alone (no model).
 *
 *   image gen DIR                      write synthetic phone-like fixtures:
 *                                      photo.jpg (4032x3024), photo.png (the
 *                                      same, for heif-enc), photo.webp,
 *                                      screenshot.png (1170x2532, a feed
 *                                      with a photo in it)
 *   image run [-t N] [-s SECS] FILE... image_prepare() on each file, N threads
 *                                      at once, for about SECS seconds each
 *   image video [-t N] FILE...         video_sample_file() with the defaults
 *
 * Each thread works on its own copy of the input, as the worker pool would
 * with different uploads. Results go to stdout, one line per file.
 *
 * DESIGN
 * The fixtures are drawn, not photographed: smooth gradients, texture,
 * shapes and a little noise, so that a JPEG of them is about as large (and
 * as costly to decode) as a phone photo, and a flat screenshot compresses
 * like one. bench/image.sh makes the HEIC and the clips with Debian tools.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jpeglib.h>
#include <png.h>
#include <webp/encode.h>

#include "ingest/image.h"
#include "ingest/video.h"
#include "lib/buf.h"
#include "lib/xalloc.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* CPU time of the process: on a shared machine, wall time says as much
 * about the neighbours as about us. (Not of the thread: libde265 decodes
 * on a thread of its own.) */
static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
    fprintf(stderr, "bench/image: %s\n", what);
    exit(1);
}

static void read_all(const char *path, struct buf *b)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        die(path);
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        buf_add(b, chunk, n);
    fclose(f);
}

static void write_all(const char *dir, const char *name, const void *p, size_t n)
{
    char *path = xasprintf("%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0)
        die(path);
    printf("%s: %zu bytes\n", path, n);
    free(path);
}

/* ---- fixtures ------------------------------------------------------------ */

static unsigned char clamp(double v)
{
    return v < 0 ? 0 : v > 255 ? 255 : (unsigned char)v;
}

/* A "photo": sky-to-ground gradient, textured ground, a few objects, noise. */
static unsigned char *draw_photo(unsigned w, unsigned h)
{
    unsigned char *px = xmalloc((size_t)w * h * 3);
    unsigned seed = 1;
    for (unsigned y = 0; y < h; y++) {
        for (unsigned x = 0; x < w; x++) {
            double fy = (double)y / h, fx = (double)x / w;
            double r, g, b;
            if (fy < 0.45) {
                r = 90 + 100 * fy;
                g = 140 + 80 * fy;
                b = 230 - 40 * fy;
            } else {
                double tex = 20 * sin(x * 0.05 + 3 * sin(y * 0.013)) * cos(y * 0.07);
                r = 80 + 60 * fx + tex;
                g = 110 + 40 * fy + tex;
                b = 50 + tex / 2;
            }
            double cx = fx - 0.6, cy = fy - 0.55;
            if (cx * cx + cy * cy < 0.02) { /* a red ball */
                r = 200 - 300 * (cx * cx + cy * cy);
                g = 30;
                b = 40;
            }
            if (fx > 0.1 && fx < 0.3 && fy > 0.3 && fy < 0.8) { /* a house */
                r = 180 + 10 * sin(y * 0.5);
                g = 170;
                b = 150;
            }
            double n = (double)(rand_r(&seed) % 13) - 6;
            unsigned char *p = px + ((size_t)y * w + x) * 3;
            p[0] = clamp(r + n);
            p[1] = clamp(g + n);
            p[2] = clamp(b + n);
        }
    }
    return px;
}

/* A "screenshot": flat UI bars, and rows of dark glyph-sized blocks. */
static unsigned char *draw_screenshot(unsigned w, unsigned h)
{
    unsigned char *px = xmalloc((size_t)w * h * 3);
    for (unsigned y = 0; y < h; y++) {
        for (unsigned x = 0; x < w; x++) {
            unsigned char *p = px + ((size_t)y * w + x) * 3;
            unsigned char c[3] = {250, 250, 250};
            if (y < 140) {
                c[0] = 30, c[1] = 120, c[2] = 220;
            } else if ((y - 140) % 60 < 36 && x > 40 && x < w - 40) {
                /* a line of text: glyph cells of 18x36 with gaps */
                unsigned cell = (x - 40) / 18, line = (y - 140) / 60;
                if ((cell * 7 + line * 13) % 11 != 0 && (x - 40) % 18 < 14 &&
                    ((x * 3 + y * 5) % 7) < 4)
                    c[0] = c[1] = c[2] = 20;
            }
            p[0] = c[0];
            p[1] = c[1];
            p[2] = c[2];
        }
    }
    return px;
}

static void gen_jpeg(const char *dir, const char *name, unsigned char *px, unsigned w,
                     unsigned h, int q)
{
    struct jpeg_compress_struct ci;
    struct jpeg_error_mgr jerr;
    unsigned char *mem = NULL;
    unsigned long len = 0;
    ci.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&ci);
    jpeg_mem_dest(&ci, &mem, &len);
    ci.image_width = w;
    ci.image_height = h;
    ci.input_components = 3;
    ci.in_color_space = JCS_RGB;
    jpeg_set_defaults(&ci);
    jpeg_set_quality(&ci, q, TRUE);
    jpeg_start_compress(&ci, TRUE);
    while (ci.next_scanline < h) {
        JSAMPROW row = px + (size_t)ci.next_scanline * w * 3;
        jpeg_write_scanlines(&ci, &row, 1);
    }
    jpeg_finish_compress(&ci);
    jpeg_destroy_compress(&ci);
    write_all(dir, name, mem, len);
    free(mem);
}

static void gen_png(const char *dir, const char *name, const unsigned char *px, unsigned w,
                    unsigned h)
{
    png_image img;
    memset(&img, 0, sizeof(img));
    img.version = PNG_IMAGE_VERSION;
    img.width = w;
    img.height = h;
    img.format = PNG_FORMAT_RGB;
    png_alloc_size_t len = 0;
    if (!png_image_write_get_memory_size(img, len, 0, px, 0, NULL))
        die("png size");
    void *mem = xmalloc(len);
    if (!png_image_write_to_memory(&img, mem, &len, 0, px, 0, NULL))
        die("png write");
    write_all(dir, name, mem, len);
    free(mem);
}

/* A feed screenshot: the UI above, with a photo in the middle of it. */
static unsigned char *draw_feed_screenshot(unsigned w, unsigned h)
{
    unsigned char *shot = draw_screenshot(w, h);
    unsigned pw = w - 80, ph = 900, top = 800;
    unsigned char *photo = draw_photo(pw, ph);
    for (unsigned y = 0; y < ph; y++)
        memcpy(shot + ((size_t)(top + y) * w + 40) * 3, photo + (size_t)y * pw * 3,
               (size_t)pw * 3);
    free(photo);
    return shot;
}

static int gen(const char *dir)
{
    unsigned char *photo = draw_photo(4032, 3024);
    gen_jpeg(dir, "photo.jpg", photo, 4032, 3024, 92);
    gen_png(dir, "photo.png", photo, 4032, 3024);
    uint8_t *webp = NULL;
    size_t n = WebPEncodeRGB(photo, 4032, 3024, 4032 * 3, 80, &webp);
    if (!n)
        die("webp");
    write_all(dir, "photo.webp", webp, n);
    WebPFree(webp);
    free(photo);
    unsigned char *shot = draw_feed_screenshot(1170, 2532);
    gen_png(dir, "screenshot.png", shot, 1170, 2532);
    free(shot);
    return 0;
}

/* ---- runs ---------------------------------------------------------------- */

struct job {
    const char *path;
    const struct buf *in;
    double secs;
    unsigned done;
    double wall;
    double fps;
    size_t out_len;
    unsigned out_w, out_h;
    int rc;
};

static void *image_thread(void *arg)
{
    struct job *j = arg;
    struct buf in = BUF_INIT, out = BUF_INIT, err = BUF_INIT;
    buf_add(&in, j->in->data, j->in->len); /* our own upload */
    double t0 = now_s();
    do {
        struct image_info info;
        buf_reset(&out);
        j->rc = image_prepare(in.data, in.len, NULL, &out, &info, &err);
        if (j->rc < 0) {
            fprintf(stderr, "%s: %s\n", j->path, buf_cstr(&err));
            break;
        }
        j->out_len = out.len;
        j->out_w = info.out_w;
        j->out_h = info.out_h;
        j->done++;
    } while (now_s() - t0 < j->secs);
    j->wall = now_s() - t0;
    buf_release(&in);
    buf_release(&out);
    buf_release(&err);
    return NULL;
}

static void *video_thread(void *arg)
{
    struct job *j = arg;
    struct buf err = BUF_INIT;
    struct video_result r;
    double t0 = now_s();
    j->rc = video_sample_file(j->path, NULL, &r, &err);
    j->wall = now_s() - t0;
    if (j->rc < 0) {
        fprintf(stderr, "%s: %s\n", j->path, buf_cstr(&err));
    } else {
        j->done = r.decoded;
        j->out_w = (unsigned)r.nframes;
        j->out_h = r.dropped_dup;
        j->out_len = r.sampled;
        j->secs = r.duration_s;
        j->fps = r.frame_rate;
    }
    video_result_release(&r);
    buf_release(&err);
    return NULL;
}

static int run(int argc, char **argv, bool video)
{
    unsigned threads = 1;
    double secs = 5;
    int i = 2;
    for (; i + 1 < argc && argv[i][0] == '-'; i += 2) {
        if (strcmp(argv[i], "-t") == 0)
            threads = (unsigned)strtoul(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "-s") == 0)
            secs = strtod(argv[i + 1], NULL);
        else
            die("unknown option");
    }
    if (threads < 1 || threads > 64)
        die("threads: 1..64");
    for (; i < argc; i++) {
        struct buf in = BUF_INIT;
        if (!video)
            read_all(argv[i], &in);
        struct job *jobs = xcalloc(threads, sizeof(*jobs));
        pthread_t *tid = xcalloc(threads, sizeof(*tid));
        double t0 = now_s(), c0 = cpu_s();
        for (unsigned k = 0; k < threads; k++) {
            jobs[k] = (struct job){.path = argv[i], .in = &in, .secs = secs};
            if (pthread_create(&tid[k], NULL, video ? video_thread : image_thread, &jobs[k]))
                die("pthread_create");
        }
        unsigned done = 0;
        for (unsigned k = 0; k < threads; k++) {
            pthread_join(tid[k], NULL);
            if (jobs[k].rc < 0)
                return 1;
            done += jobs[k].done;
        }
        double wall = now_s() - t0, cpu = cpu_s() - c0;
        const char *base = strrchr(argv[i], '/') ? strrchr(argv[i], '/') + 1 : argv[i];
        if (video)
            printf("%-16s threads=%u  %5.2f clips/s  %6.0f ms cpu/clip  %5.0f frames/s/core "
                   "(%.1fx realtime)  [%.0f s at %.0f fps: %u decoded, %zu sampled, %u kept, "
                   "%u duplicates]\n",
                   base, threads, threads / wall, 1000 * cpu / threads,
                   jobs[0].secs * jobs[0].fps * threads / cpu, jobs[0].secs * threads / cpu,
                   jobs[0].secs, jobs[0].fps, done / threads, jobs[0].out_len, jobs[0].out_w,
                   jobs[0].out_h);
        else
            printf("%-16s threads=%u  %6.2f images/s  %6.1f ms cpu/image  (%zu KiB -> %ux%u, "
                   "%zu KiB)\n",
                   base, threads, done / wall, 1000.0 * cpu / done, in.len >> 10, jobs[0].out_w,
                   jobs[0].out_h, jobs[0].out_len >> 10);
        fflush(stdout);
        free(jobs);
        free(tid);
        buf_release(&in);
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && strcmp(argv[1], "gen") == 0)
        return gen(argv[2]);
    if (argc >= 3 && strcmp(argv[1], "run") == 0)
        return run(argc, argv, false);
    if (argc >= 3 && strcmp(argv[1], "video") == 0)
        return run(argc, argv, true);
    fprintf(stderr, "usage: image gen DIR | image run [-t N] [-s SECS] FILE... | "
                    "image video [-t N] FILE...\n");
    return 2;
}
