/*
 * Unit tests for src/video (frame sampling of short clips).
 *
 * The clips are made at test time with ffmpeg (Debian ffmpeg) from its
 * lavfi sources: a red box on black that stands still for 4 s and then
 * moves, a portrait clip (a display matrix), a long sparse clip for the
 * seeking path and a WebM. Small (160x120) so that the suite stays fast.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jpeglib.h>

#include "ingest/image.h"
#include "ingest/video.h"
#include "lib/buf.h"
#include "lib/xalloc.h"
#include "media_test.h"

static bool is_red(const unsigned char *px, unsigned w, unsigned x, unsigned y)
{
    const unsigned char *p = px + ((size_t)y * w + x) * 3;
    return p[0] > 180 && p[1] < 80 && p[2] < 80;
}

static void sample_ok(const char *name, const struct video_opts *o, struct video_result *r)
{
    struct buf err = BUF_INIT;
    char *path = tmp_path(name);
    int rc = video_sample_file(path, o, r, &err);
    if (rc != 0)
        fail_msg("video_sample_file(%s): %d %s", name, rc, buf_cstr(&err));
    free(path);
    buf_release(&err);
}

static int sample_fail(const void *data, size_t len, const struct video_opts *o)
{
    struct buf err = BUF_INIT;
    struct video_result r;
    int rc = video_sample_mem(data, len, o, &r, &err);
    if (rc == 0)
        fail_msg("video_sample_mem accepted %zu bytes that it should refuse", len);
    assert_true(err.len > 0);
    assert_int_equal(r.nframes, 0);
    assert_null(r.frames);
    buf_release(&err);
    return rc;
}

/* ---- tests --------------------------------------------------------------- */

/* 8 s at 10 fps, box still for 4 s then moving 25 px/s: sampled at 1 fps,
 * the samples at 1..4 s show nothing new. */
static void test_static_then_moving(void **state)
{
    struct video_result r;
    sample_ok("main.mp4", NULL, &r);
    assert_float_equal(r.duration_s, 8.0, 0.15);
    assert_int_equal(r.width, 160);
    assert_int_equal(r.height, 120);
    assert_int_equal(r.rotation, 0);
    assert_string_equal(r.codec, "h264");
    assert_non_null(strstr(r.container, "mp4"));
    assert_float_equal(r.frame_rate, 10.0, 0.01);
    /* Frames after the last instant (7 s) are not decoded. */
    assert_int_equal(r.decoded, 71);
    assert_int_equal(r.sampled, 8);
    assert_int_equal(r.dropped_dup, 4);
    assert_false(r.stopped_early);
    assert_int_equal(r.nframes, 4);
    static const double want_t[4] = {0, 5, 6, 7};
    for (size_t i = 0; i < r.nframes; i++) {
        const struct video_frame *f = &r.frames[i];
        assert_float_equal(f->t, want_t[i], 0.01);
        assert_int_equal(f->w, 160);
        assert_int_equal(f->h, 120);
        if (i > 0)
            assert_true(f->diff >= VIDEO_DEFAULT_DUP_THRESHOLD);
        unsigned w, h;
        assert_no_metadata(&f->jpeg);
        unsigned char *px = dec_jpeg(&f->jpeg, &w, &h);
        assert_int_equal(w, 160);
        /* The box: 40x40 at y 40, x = 10 until 4 s, then 10 + 25 (t - 4). */
        unsigned x = 10 + (f->t > 4 ? (unsigned)(25 * (f->t - 4)) : 0);
        assert_true(is_red(px, w, x + 20, 60));
        assert_false(is_red(px, w, x + 20, 20));
        free(px);
    }
    /* The metadata ffmpeg wrote. */
    assert_true(r.has_creation_time);
    assert_int_equal(r.creation_unix, 1714558830); /* 2024-05-01T10:20:30Z */
    assert_true(r.has_gps);
    assert_float_equal(r.lat, 48.8584, 1e-6);
    assert_float_equal(r.lon, 2.2945, 1e-6);
    video_result_release(&r);
    assert_null(r.frames);
    video_result_release(&r); /* twice is harmless */
}

static void test_options(void **state)
{
    struct video_result r;
    /* Every sample kept. */
    struct video_opts o = {.dup_threshold = -1};
    sample_ok("main.mp4", &o, &r);
    assert_int_equal(r.nframes, 8);
    assert_int_equal(r.dropped_dup, 0);
    for (size_t i = 0; i < r.nframes; i++)
        assert_float_equal(r.frames[i].t, (double)i, 0.01);
    video_result_release(&r);

    /* Twice a second would be 16 samples; max_frames 3 spreads them over
     * the clip instead (every 8/3 s): 0 kept, 2.7 still the same, 5.4 new. */
    o = (struct video_opts){.fps = 2, .max_frames = 3, .max_side = 80};
    sample_ok("main.mp4", &o, &r);
    assert_int_equal(r.sampled, 3);
    assert_int_equal(r.dropped_dup, 1);
    assert_int_equal(r.nframes, 2);
    assert_false(r.stopped_early);
    assert_float_equal(r.frames[0].t, 0, 0.01);
    assert_float_equal(r.frames[1].t, 5.4, 0.01);
    assert_int_equal(r.frames[0].w, 80);
    assert_int_equal(r.frames[0].h, 60);
    video_result_release(&r);

    /* A huge threshold: only the first frame is new. */
    o = (struct video_opts){.dup_threshold = 300};
    sample_ok("main.mp4", &o, &r);
    assert_int_equal(r.nframes, 1);
    assert_int_equal(r.dropped_dup, 7);
    video_result_release(&r);
}

static void test_memory_matches_file(void **state)
{
    struct buf b = BUF_INIT, err = BUF_INIT;
    struct video_result rf, rm;
    read_file("main.mp4", &b);
    sample_ok("main.mp4", NULL, &rf);
    assert_int_equal(video_sample_mem(b.data, b.len, NULL, &rm, &err), 0);
    assert_int_equal(rm.nframes, rf.nframes);
    assert_int_equal(rm.decoded, rf.decoded);
    for (size_t i = 0; i < rm.nframes; i++) {
        assert_float_equal(rm.frames[i].t, rf.frames[i].t, 1e-9);
        assert_int_equal(rm.frames[i].jpeg.len, rf.frames[i].jpeg.len);
        assert_memory_equal(rm.frames[i].jpeg.data, rf.frames[i].jpeg.data, rm.frames[i].jpeg.len);
    }
    video_result_release(&rf);
    video_result_release(&rm);
    buf_release(&b);
    buf_release(&err);
}

/* A display matrix is applied the way ffmpeg's own autorotate does:
 * the red corner of rot.mp4 shows at the bottom left. */
static void test_rotation(void **state)
{
    struct video_result r;
    sample_ok("rot.mp4", NULL, &r);
    assert_int_equal(r.rotation, 270);
    assert_int_equal(r.width, 120);
    assert_int_equal(r.height, 160);
    assert_true(r.nframes >= 1);
    assert_int_equal(r.frames[0].w, 120);
    assert_int_equal(r.frames[0].h, 160);
    unsigned w, h;
    unsigned char *px = dec_jpeg(&r.frames[0].jpeg, &w, &h);
    assert_true(is_red(px, w, 5, h - 6));
    assert_false(is_red(px, w, 5, 5));
    assert_false(is_red(px, w, w - 6, 5));
    assert_false(is_red(px, w, w - 6, h - 6));
    free(px);
    video_result_release(&r);
}

/* 40 s with a keyframe every 5 s and max_frames 4: samples every 10 s,
 * reached by seeking, so far fewer than the 200 frames are decoded. */
static void test_long_clip_spread(void **state)
{
    struct video_result r;
    struct video_opts o = {.max_frames = 4, .dup_threshold = -1};
    sample_ok("long.mp4", &o, &r);
    assert_int_equal(r.nframes, 4);
    for (size_t i = 0; i < r.nframes; i++)
        assert_float_equal(r.frames[i].t, 10.0 * i, 0.01);
    assert_true(r.decoded < 100);
    assert_false(r.stopped_early);
    video_result_release(&r);
}

/* Written to a pipe, the WebM has no duration in its header: sampling
 * goes at fps until max_frames, and the duration comes from the frames. */
static void test_webm_without_duration(void **state)
{
    struct video_result r;
    sample_ok("clip.webm", NULL, &r);
    assert_string_equal(r.codec, "vp8");
    assert_non_null(strstr(r.container, "webm"));
    assert_float_equal(r.duration_s, 2.0, 0.15);
    assert_int_equal(r.decoded, 20);
    assert_int_equal(r.sampled, 2);
    assert_int_equal(r.nframes, 2); /* testsrc changes every frame */
    assert_false(r.stopped_early);
    video_result_release(&r);

    struct video_opts o = {.max_frames = 1};
    sample_ok("clip.webm", &o, &r);
    assert_int_equal(r.nframes, 1);
    assert_true(r.stopped_early);
    assert_true(r.decoded < 20);
    video_result_release(&r);
}

static void test_limits(void **state)
{
    struct buf b = BUF_INIT, err = BUF_INIT;
    struct video_result r;
    read_file("main.mp4", &b);
    struct video_opts o = {.max_duration_s = 5};
    assert_int_equal(sample_fail(b.data, b.len, &o), -E2BIG);
    o = (struct video_opts){.max_pixels = 160 * 120 - 1};
    assert_int_equal(sample_fail(b.data, b.len, &o), -E2BIG);
    o = (struct video_opts){.max_bytes = b.len - 1};
    assert_int_equal(sample_fail(b.data, b.len, &o), -E2BIG);
    o = (struct video_opts){.fps = -1};
    assert_int_equal(sample_fail(b.data, b.len, &o), -EINVAL);
    o = (struct video_opts){.jpeg_quality = 200};
    assert_int_equal(sample_fail(b.data, b.len, &o), -EINVAL);

    char *missing = tmp_path("no-such.mp4");
    assert_int_equal(video_sample_file(missing, NULL, &r, &err), -ENOENT);
    assert_non_null(strstr(buf_cstr(&err), "no-such.mp4"));
    free(missing);
    buf_release(&b);
    buf_release(&err);
}

static void test_hostile(void **state)
{
    struct buf b = BUF_INIT;
    assert_int_equal(sample_fail("", 0, NULL), -EINVAL);

    /* Not a video: a PNG, a playlist that names a local file, noise. */
    static const char png[] = "\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x10\0\0\0\x10\x08\x02\0\0\0";
    assert_int_equal(sample_fail(png, sizeof(png) - 1, NULL), -ENOTSUP);
    static const char m3u[] = "#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\nfile:///etc/passwd\n"
                              "#EXT-X-ENDLIST\n";
    assert_true(sample_fail(m3u, sizeof(m3u) - 1, NULL) < 0);
    unsigned seed = 7;
    unsigned char junk[4096];
    for (size_t i = 0; i < sizeof(junk); i++)
        junk[i] = (unsigned char)rand_r(&seed);
    assert_true(sample_fail(junk, sizeof(junk), NULL) < 0);
    /* Noise behind a valid MP4 header. */
    read_file("main.mp4", &b);
    memcpy(junk, b.data, 64);
    assert_true(sample_fail(junk, sizeof(junk), NULL) < 0);

    /* Cut anywhere: the index (moov) is at the front (faststart), so the
     * demuxer opens the clip and must notice the missing frames. */
    read_file("fast.mp4", &b);
    static const double cuts[] = {0.05, 0.3, 0.5, 0.7, 0.9, 0.99};
    for (size_t i = 0; i < ARRAY_SIZE(cuts); i++) {
        size_t n = (size_t)(b.len * cuts[i]);
        int rc;
        struct buf err = BUF_INIT;
        struct video_result r;
        rc = video_sample_mem(b.data, n, NULL, &r, &err);
        if (rc == 0)
            fail_msg("clip cut to %zu of %zu bytes was accepted", n, b.len);
        buf_release(&err);
    }
    /* And with the index at the end, which a cut removes. */
    read_file("main.mp4", &b);
    assert_true(sample_fail(b.data, b.len / 2, NULL) < 0);

    /* Random damage: refused or sampled, never a crash. */
    read_file("main.mp4", &b);
    for (int round = 0; round < 40; round++) {
        struct buf m = BUF_INIT, err = BUF_INIT;
        struct video_result r;
        buf_add(&m, b.data, b.len);
        for (int k = 0; k < 1 + round % 6; k++) {
            size_t at = (size_t)rand_r(&seed) % m.len;
            m.data[at] = (char)(m.data[at] ^ (1 << (rand_r(&seed) % 8)));
        }
        if (video_sample_mem(m.data, m.len, NULL, &r, &err) == 0)
            video_result_release(&r);
        else
            assert_true(err.len > 0);
        buf_release(&m);
        buf_release(&err);
    }
    buf_release(&b);
}

/*
 * The container says one size (the MP4 sample entry), the stream another
 * (the H.264 SPS): the container's is the one checked before decoding, and
 * the decoder allocates the stream's. A 1 KB file could claim 64x64 and
 * carry 16384x16384 frames (400 MB each, a picture buffer of them). Here
 * main.mp4 (160x120) says 16x12 and the limit is 16x12: libavcodec must
 * refuse the first frame before it exists, not hermod after decoding it.
 */
static void test_stream_larger_than_container(void **state)
{
    struct buf b = BUF_INIT, err = BUF_INIT;
    struct video_result r;
    read_file("main.mp4", &b);
    char *stsd = memmem(b.data, b.len, "stsd", 4);
    assert_non_null(stsd);
    char *avc1 = memmem(stsd, b.len - (size_t)(stsd - b.data), "avc1", 4);
    assert_non_null(avc1);
    /* Sample entry: box header (the type at +4), 6 reserved, 2 data
     * reference index, 16 pre-defined and reserved, then width, height. */
    unsigned char *wh = (unsigned char *)avc1 - 4 + 32;
    assert_int_equal(wh[0] << 8 | wh[1], 160);
    assert_int_equal(wh[2] << 8 | wh[3], 120);
    wh[0] = 0, wh[1] = 16, wh[2] = 0, wh[3] = 12;

    struct video_opts o = {.max_pixels = 16 * 12};
    int rc = video_sample_mem(b.data, b.len, &o, &r, &err);
    assert_int_equal(rc, -EBADMSG);
    if (!strstr(buf_cstr(&err), "its first frame cannot be decoded") ||
        !strstr(buf_cstr(&err), "max pixel count 192")) /* libav's words */
        fail_msg("refused, but not by the decoder: %s", buf_cstr(&err));
    assert_int_equal(r.nframes, 0);

    /* Within the limit, the stream's own size is what comes out. */
    buf_reset(&err);
    rc = video_sample_mem(b.data, b.len, NULL, &r, &err);
    if (rc != 0)
        fail_msg("video_sample_mem: %d %s", rc, buf_cstr(&err));
    assert_true(r.nframes > 0);
    video_result_release(&r);
    buf_release(&b);
    buf_release(&err);
}

/* ---- set-up -------------------------------------------------------------- */

static int setup(void **state)
{
    if (media_tmp_init("video") < 0)
        return -1;
    if (system("command -v ffmpeg >/dev/null 2>&1") != 0) {
        fprintf(stderr, "test_video needs 'ffmpeg': install the Debian package ffmpeg "
                        "(scripts/deps --test)\n");
        return -1;
    }
    const char *ff = "ffmpeg -nostdin -v error -y";
    struct buf cmd = BUF_INIT;
    buf_addf(&cmd,
             "cd '%s' && "
             /* still for 4 s, then moving 25 px/s */
             "%s -f lavfi -i 'color=c=black:s=160x120:r=10:d=8[bg];"
             "color=c=red:s=40x40:r=10:d=8[fg];"
             "[bg][fg]overlay=x=if(lt(t\\,4)\\,10\\,10+(t-4)*25):y=40' "
             "-c:v libx264 -preset ultrafast -g 10 -pix_fmt yuv420p "
             "-metadata creation_time=2024-05-01T10:20:30Z "
             "-metadata location=+48.8584+002.2945/ main.mp4 && "
             "%s -i main.mp4 -c copy -movflags +faststart fast.mp4 && "
             /* red top-left corner, then a display matrix */
             "%s -f lavfi -i 'color=c=black:s=160x120:r=10:d=1[bg];"
             "color=c=red:s=20x20:r=10:d=1[fg];[bg][fg]overlay=x=0:y=0' "
             "-c:v libx264 -preset ultrafast -pix_fmt yuv420p m.mp4 && "
             "%s -i m.mp4 -c copy -metadata:s:v:0 rotate=90 rot.mp4 && "
             /* 40 s, a keyframe every 5 s */
             "%s -f lavfi -i testsrc=s=160x120:r=5:d=40 -c:v libx264 -preset ultrafast "
             "-g 25 -keyint_min 25 -sc_threshold 0 -pix_fmt yuv420p long.mp4 && "
             "%s -f lavfi -i testsrc=s=160x120:r=10:d=2 -c:v libvpx -b:v 200k -f webm - "
             "> clip.webm",
             media_tmpdir, ff, ff, ff, ff, ff, ff);
    int rc = system(buf_cstr(&cmd));
    if (rc != 0)
        fprintf(stderr, "making the test clips failed (%d): %s\n", rc, buf_cstr(&cmd));
    buf_release(&cmd);
    return rc == 0 ? 0 : -1;
}

static int teardown(void **state)
{
    return media_tmp_clean();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_static_then_moving),
        cmocka_unit_test(test_options),
        cmocka_unit_test(test_memory_matches_file),
        cmocka_unit_test(test_rotation),
        cmocka_unit_test(test_long_clip_spread),
        cmocka_unit_test(test_webm_without_duration),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_hostile),
        cmocka_unit_test(test_stream_larger_than_container),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
