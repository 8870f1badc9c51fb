/* SPDX-License-Identifier: MIT */
/*
 * video.c: frame sampling with libavformat/libavcodec, duplicates dropped
 * on thumbnails, frames encoded by the image module. See video.h for the
 * contract.
 *
 * DESIGN
 * One pass over the packets of the chosen stream, decoding every frame
 * (a frame between keyframes cannot be had otherwise), except that when
 * the next sampling instant is more than SEEK_GAP_S ahead, the demuxer
 * seeks to the keyframe before it: a long clip sampled sparsely is then
 * decoded around its samples only. Each seek is made once per instant,
 * so a keyframe that lands behind the current position cannot loop.
 * Between instants the decoder also skips the frames that no other frame
 * refers to (AVDISCARD_NONREF), about a fifth of the decoding work for a
 * phone's H.264 or HEVC, and decodes everything again shortly before the
 * next instant. Decoding stops at the last instant before the end.
 *
 * A sample is converted to RGB at its full size by swscale (colour matrix
 * and range from the stream), shrunk by image_resize() like a photo, and
 * only then compared with the last kept frame, so the comparison and any
 * dropped frame cost little beyond the decoding itself.
 */
#include "ingest/video.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define MEDIALIB_REDIRECT_AV
#include "ingest/image.h"
#include "ingest/medialib.h"
#include "lib/xalloc.h"

#define THUMB 32
#define SEEK_GAP_S 3.0
#define SKIP_MARGIN_S 0.5 /* or 8 frames, whichever is longer */
#define AVIO_BUF (64 << 10)

static const char *const allowed_formats = "mov,mp4,m4a,3gp,3g2,mj2,matroska,webm";
static const enum AVCodecID allowed_codecs[] = {
    AV_CODEC_ID_H264, AV_CODEC_ID_HEVC, AV_CODEC_ID_VP8,
    AV_CODEC_ID_VP9,  AV_CODEC_ID_AV1,  AV_CODEC_ID_MPEG4,
};

void video_opts_init(struct video_opts *o)
{
    o->fps = VIDEO_DEFAULT_FPS;
    o->max_frames = VIDEO_DEFAULT_MAX_FRAMES;
    o->max_side = IMAGE_DEFAULT_MAX_SIDE;
    o->jpeg_quality = IMAGE_DEFAULT_JPEG_QUALITY;
    o->dup_threshold = VIDEO_DEFAULT_DUP_THRESHOLD;
    o->max_duration_s = VIDEO_DEFAULT_MAX_DURATION_S;
    o->max_pixels = VIDEO_DEFAULT_MAX_PIXELS;
    o->max_bytes = VIDEO_DEFAULT_MAX_BYTES;
}

static int resolve_opts(const struct video_opts *o, struct video_opts *r, struct buf *err)
{
    video_opts_init(r);
    if (o) {
        if (o->fps != 0)
            r->fps = o->fps;
        if (o->max_frames)
            r->max_frames = o->max_frames;
        if (o->max_side)
            r->max_side = o->max_side;
        if (o->jpeg_quality)
            r->jpeg_quality = o->jpeg_quality;
        if (o->dup_threshold != 0)
            r->dup_threshold = o->dup_threshold;
        if (o->max_duration_s != 0)
            r->max_duration_s = o->max_duration_s;
        if (o->max_pixels)
            r->max_pixels = o->max_pixels;
        if (o->max_bytes)
            r->max_bytes = o->max_bytes;
    }
    if (!(r->fps > 0 && r->fps <= 120) || r->max_frames > 10000 || r->max_side > 65535 ||
        r->jpeg_quality < 1 || r->jpeg_quality > 100 || !(r->max_duration_s > 0)) {
        buf_addstr(err, "video options out of range (fps 0..120, max_frames <= 10000, "
                        "jpeg_quality 1..100, max_duration_s > 0)");
        return -EINVAL;
    }
    return 0;
}

static pthread_once_t av_once = PTHREAD_ONCE_INIT;
/* The libav functions (medialib.h), loaded on the first clip; NULL when
 * they cannot be. Set once under av_once, read-only after. */
static const struct medialib_av *av;

/*
 * libav's first error message since the clip began, on this thread (each
 * clip is sampled on one worker thread): its error codes are coarse
 * ("Invalid data found when processing input" for a frame over
 * max_pixels), its log says what it was ("Picture size 160x120 is
 * invalid"). av_fail() adds it to the message.
 */
static _Thread_local char av_first_error[160];

static void av_log_cb(void *avcl, int level, const char *fmt, va_list ap)
{
    if (level > AV_LOG_ERROR || av_first_error[0])
        return;
    vsnprintf(av_first_error, sizeof(av_first_error), fmt, ap);
    size_t n = strlen(av_first_error);
    while (n && (av_first_error[n - 1] == '\n' || av_first_error[n - 1] == ' '))
        av_first_error[--n] = '\0';
}

static void av_init_once(void)
{
    av = medialib_av(NULL);
    if (!av)
        return;
    /* libav prints warnings about every odd packet to stderr, which would
     * interleave with hermod's log lines: nothing is printed, and the first
     * error of a clip is kept for its message. */
    av_log_set_level(AV_LOG_QUIET);
    av_log_set_callback(av_log_cb);
}

/* ---- reading from memory ------------------------------------------------- */

struct mem_src {
    const unsigned char *p;
    size_t len, pos;
};

static int mem_read_cb(void *opaque, uint8_t *out, int size)
{
    struct mem_src *m = opaque;
    size_t n = m->len - m->pos;
    if (n == 0)
        return AVERROR_EOF;
    if (n > (size_t)size)
        n = (size_t)size;
    memcpy(out, m->p + m->pos, n);
    m->pos += n;
    return (int)n;
}

static int64_t mem_seek_cb(void *opaque, int64_t off, int whence)
{
    struct mem_src *m = opaque;
    int64_t base;
    switch (whence & ~AVSEEK_FORCE) {
    case AVSEEK_SIZE: return (int64_t)m->len;
    case SEEK_SET: base = 0; break;
    case SEEK_CUR: base = (int64_t)m->pos; break;
    case SEEK_END: base = (int64_t)m->len; break;
    default: return AVERROR(EINVAL);
    }
    if (off > (int64_t)m->len - base || off < -base)
        return AVERROR(EINVAL);
    m->pos = (size_t)(base + off);
    return (int64_t)m->pos;
}

/* ---- the sampler --------------------------------------------------------- */

struct sampler {
    struct video_opts o;
    struct video_result *res;
    struct buf *err;

    struct mem_src mem;
    AVIOContext *avio;
    AVFormatContext *fmt;
    AVCodecContext *dec;
    AVPacket *pkt;
    AVFrame *frame;
    struct SwsContext *sws;
    struct image_rgb full; /* scratch for one converted frame */

    int stream;
    AVRational tb;
    int64_t start_ts;      /* AV_NOPTS_VALUE until known */
    double interval;       /* between sampling instants */
    double next_t;         /* the next instant */
    double seeked_for;     /* the instant we last sought to; -1 for none */
    bool want_seek;
    double last_t;
    double skip_margin;    /* see on_frame() */
    unsigned max_decoded;
    int orientation;       /* EXIF-style, from the display matrix */
    size_t frames_cap;
    unsigned char last_thumb[THUMB * THUMB];
    bool done;
};

static int av_fail(struct sampler *s, int averr, const char *what)
{
    char m[AV_ERROR_MAX_STRING_SIZE];
    av_strerror(averr, m, sizeof(m));
    buf_addf(s->err, "%s: %s", what, m);
    if (av_first_error[0])
        buf_addf(s->err, " (libav said: %s)", av_first_error);
    if (averr == AVERROR(ENOMEM))
        return -ENOMEM;
    if (averr == AVERROR(ENOENT) || averr == AVERROR(EACCES) || averr == AVERROR(EISDIR))
        return averr; /* AVERROR(e) is -e */
    return -EBADMSG;
}

/* "2024-05-01T10:20:30[.frac](Z|+HH:MM|+HHMM)" or with a space for T. */
static bool parse_iso8601(const char *s, int64_t *out)
{
    int v[6];
    static const int at[6] = {0, 5, 8, 11, 14, 17}, len[6] = {4, 2, 2, 2, 2, 2};
    if (strlen(s) < 19 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != ' ') ||
        s[13] != ':' || s[16] != ':')
        return false;
    for (int i = 0; i < 6; i++) {
        v[i] = 0;
        for (int k = 0; k < len[i]; k++) {
            char c = s[at[i] + k];
            if (c < '0' || c > '9')
                return false;
            v[i] = v[i] * 10 + (c - '0');
        }
    }
    if (v[0] < 1971 || v[1] < 1 || v[1] > 12 || v[2] < 1 || v[2] > 31 || v[3] > 23 || v[4] > 59 ||
        v[5] > 60)
        return false; /* 1904/1970 are what an unset QuickTime clock says */
    struct tm tm = {.tm_year = v[0] - 1900, .tm_mon = v[1] - 1, .tm_mday = v[2],
                    .tm_hour = v[3], .tm_min = v[4], .tm_sec = v[5]};
    int64_t t = (int64_t)timegm(&tm);
    const char *z = s + 19;
    while (*z == '.' || (*z >= '0' && *z <= '9'))
        z++;
    if (*z == '+' || *z == '-') {
        int sign = *z == '-' ? -1 : 1;
        size_t zl = strlen(z + 1);
        const char *h = z + 1, *m = zl == 5 && z[3] == ':' ? z + 4 : z + 3;
        if ((zl != 4 && !(zl == 5 && z[3] == ':')) || h[0] < '0' || h[0] > '9' || h[1] < '0' ||
            h[1] > '9' || m[0] < '0' || m[0] > '9' || m[1] < '0' || m[1] > '9')
            return false;
        int off = ((h[0] - '0') * 10 + (h[1] - '0')) * 60 + (m[0] - '0') * 10 + (m[1] - '0');
        t -= (int64_t)sign * off * 60;
    } else if (*z != 'Z' && *z != '\0') {
        return false;
    }
    *out = t;
    return true;
}

/* ISO 6709 as phones write it: "+37.3349-122.0090+010.000/". */
static bool parse_iso6709(const char *s, double *lat, double *lon)
{
    char *end;
    if (*s != '+' && *s != '-')
        return false;
    double a = strtod(s, &end);
    if (end == s || (*end != '+' && *end != '-'))
        return false;
    const char *p = end;
    double b = strtod(p, &end);
    if (end == p || !(fabs(a) <= 90) || !(fabs(b) <= 180))
        return false;
    *lat = a;
    *lon = b;
    return true;
}

static const char *meta(const AVFormatContext *fmt, const AVStream *st, const char *key)
{
    const AVDictionaryEntry *e = av_dict_get(fmt->metadata, key, NULL, 0);
    if (!e && st)
        e = av_dict_get(st->metadata, key, NULL, 0);
    return e ? e->value : NULL;
}

static void copy_printable(char *out, size_t cap, const char *s)
{
    size_t n = 0;
    for (; s && *s && n + 1 < cap; s++)
        out[n++] = (unsigned char)*s >= 0x20 && (unsigned char)*s < 0x7f ? *s : '?';
    out[n] = '\0';
}

static void read_metadata(struct sampler *s, const AVStream *st)
{
    struct video_result *r = s->res;
    /* Apple's creationdate keeps the local offset; creation_time is UTC. */
    const char *ct = meta(s->fmt, st, "com.apple.quicktime.creationdate");
    if (!ct || !parse_iso8601(ct, &r->creation_unix))
        ct = meta(s->fmt, st, "creation_time");
    if (ct && parse_iso8601(ct, &r->creation_unix))
        r->has_creation_time = true;
    else
        r->creation_unix = 0;

    const char *loc = meta(s->fmt, st, "com.apple.quicktime.location.ISO6709");
    if (!loc)
        loc = meta(s->fmt, st, "location");
    if (loc && parse_iso6709(loc, &r->lat, &r->lon))
        r->has_gps = true;

    const char *mk = meta(s->fmt, st, "com.apple.quicktime.make");
    const char *md = meta(s->fmt, st, "com.apple.quicktime.model");
    copy_printable(r->make, sizeof(r->make), mk ? mk : meta(s->fmt, st, "make"));
    copy_printable(r->model, sizeof(r->model), md ? md : meta(s->fmt, st, "model"));
}

/* The display matrix's rotation as an EXIF orientation (1, 3, 6 or 8). */
static int stream_orientation(const AVStream *st, int *degrees)
{
    *degrees = 0;
    const uint8_t *sd = av_stream_get_side_data(st, AV_PKT_DATA_DISPLAYMATRIX, NULL);
    if (!sd)
        return 1;
    /* av_display_rotation_get() is anticlockwise; we want clockwise. */
    double a = -av_display_rotation_get((const int32_t *)sd);
    if (isnan(a))
        return 1;
    int deg = ((int)lround(a / 90) * 90 % 360 + 360) % 360;
    *degrees = deg;
    /* NEEDSWORK: a mirrored matrix (negative determinant) is treated as
     * its rotation alone. */
    return deg == 90 ? 6 : deg == 180 ? 3 : deg == 270 ? 8 : 1;
}

static int open_input(struct sampler *s, const char *path)
{
    s->fmt = avformat_alloc_context();
    if (!s->fmt) {
        buf_addstr(s->err, "libavformat could not allocate a context");
        return -ENOMEM;
    }
    s->fmt->format_whitelist = av_strdup(allowed_formats);
    /* Nothing is opened but the file itself: no playlists, no URLs. */
    s->fmt->protocol_whitelist = av_strdup(path ? "file" : "none");
    if (!path) {
        unsigned char *b = av_malloc(AVIO_BUF);
        if (b)
            s->avio = avio_alloc_context(b, AVIO_BUF, 0, &s->mem, mem_read_cb, NULL, mem_seek_cb);
        if (!s->avio) {
            av_free(b);
            buf_addstr(s->err, "libavformat could not allocate an I/O context");
            return -ENOMEM;
        }
        s->fmt->pb = s->avio;
        s->fmt->flags |= AVFMT_FLAG_CUSTOM_IO;
    }
    /* "file:" so that a colon in the name is not read as a protocol. */
    char *url = path ? xasprintf("file:%s", path) : NULL;
    int averr = avformat_open_input(&s->fmt, url ? url : "", NULL, NULL);
    free(url);
    if (averr < 0) {
        /* avformat_open_input freed the context. */
        /* Also EINVAL: what a format off the whitelist gets. */
        if (averr == AVERROR_INVALIDDATA || averr == AVERROR(EINVAL)) {
            buf_addstr(s->err, "not a video in a container we read (MP4/MOV, Matroska/WebM)");
            return -ENOTSUP;
        }
        return av_fail(s, averr, "cannot open the video");
    }
    return 0;
}

static int open_decoder(struct sampler *s)
{
    struct video_result *r = s->res;
    const AVCodec *codec = NULL;
    int idx = av_find_best_stream(s->fmt, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
    if (idx < 0 || !codec) {
        buf_addstr(s->err, idx == AVERROR_DECODER_NOT_FOUND ? "no decoder for the video stream"
                                                            : "the file has no video stream");
        return -ENOTSUP;
    }
    s->stream = idx;
    AVStream *st = s->fmt->streams[idx];
    const AVCodecParameters *par = st->codecpar;
    bool ok = false;
    for (size_t i = 0; i < ARRAY_SIZE(allowed_codecs); i++)
        ok |= par->codec_id == allowed_codecs[i];
    if (!ok) {
        buf_addf(s->err, "video codec %s is not one we decode", avcodec_get_name(par->codec_id));
        return -ENOTSUP;
    }
    copy_printable(r->codec, sizeof(r->codec), avcodec_get_name(par->codec_id));
    copy_printable(r->container, sizeof(r->container), s->fmt->iformat->name);
    if (par->width <= 0 || par->height <= 0 ||
        (uint64_t)par->width * (uint64_t)par->height > s->o.max_pixels) {
        buf_addf(s->err, "video frames are %dx%d, more than the limit of %llu pixels", par->width,
                 par->height, (unsigned long long)s->o.max_pixels);
        return par->width <= 0 || par->height <= 0 ? -EBADMSG : -E2BIG;
    }
    s->orientation = stream_orientation(st, &r->rotation);
    bool swap = r->rotation == 90 || r->rotation == 270;
    r->width = (unsigned)(swap ? par->height : par->width);
    r->height = (unsigned)(swap ? par->width : par->height);
    s->tb = st->time_base;
    if (st->avg_frame_rate.num > 0 && st->avg_frame_rate.den > 0)
        r->frame_rate = av_q2d(st->avg_frame_rate);

    if (s->fmt->duration != AV_NOPTS_VALUE && s->fmt->duration > 0)
        r->duration_s = s->fmt->duration / (double)AV_TIME_BASE;
    else if (st->duration != AV_NOPTS_VALUE && st->duration > 0)
        r->duration_s = st->duration * av_q2d(s->tb);
    if (r->duration_s > s->o.max_duration_s) {
        buf_addf(s->err, "video is %.1f s long, more than the limit of %.0f s", r->duration_s,
                 s->o.max_duration_s);
        return -E2BIG;
    }
    read_metadata(s, st);

    for (unsigned i = 0; i < s->fmt->nb_streams; i++)
        s->fmt->streams[i]->discard = (int)i == idx ? AVDISCARD_DEFAULT : AVDISCARD_ALL;

    s->dec = avcodec_alloc_context3(codec);
    if (!s->dec) {
        buf_addstr(s->err, "libavcodec could not allocate a decoder");
        return -ENOMEM;
    }
    int averr = avcodec_parameters_to_context(s->dec, par);
    if (averr < 0)
        return av_fail(s, averr, "bad codec parameters");
    s->dec->thread_count = 1;
    s->dec->pkt_timebase = s->tb;
    /* The size checked above is the container's; the decoder allocates
     * what the stream's own headers say (an H.264 SPS), up to INT_MAX
     * pixels a frame and a picture buffer of them. Held to the same
     * limit, libavcodec refuses such a frame before allocating it. */
    s->dec->max_pixels = s->o.max_pixels > INT64_MAX ? INT64_MAX : (int64_t)s->o.max_pixels;
    averr = avcodec_open2(s->dec, codec, NULL);
    if (averr < 0)
        return av_fail(s, averr, "cannot open the decoder");

    /* Spread the samples over the whole clip when fps would run out of
     * frames before its end. */
    s->interval = 1.0 / s->o.fps;
    if (r->duration_s > 0 && r->duration_s / s->o.max_frames > s->interval)
        s->interval = r->duration_s / s->o.max_frames;
    s->max_decoded = (unsigned)(s->o.max_duration_s * VIDEO_MAX_DECODE_FPS);
    s->skip_margin = SKIP_MARGIN_S;
    if (r->frame_rate > 0 && 8 / r->frame_rate > s->skip_margin)
        s->skip_margin = 8 / r->frame_rate;
    s->start_ts = st->start_time;
    return 0;
}

/*
 * MP4's index (and Matroska's cues) say where every indexed packet lies;
 * one that lies past the end of the input means the upload was cut. This
 * is checked up front because sampling, which seeks and stops at the last
 * instant, does not read every byte.
 */
static int check_index(struct sampler *s)
{
    AVStream *st = s->fmt->streams[s->stream];
    int64_t size = avio_size(s->fmt->pb);
    if (size <= 0)
        return 0;
    int n = avformat_index_get_entries_count(st);
    for (int i = 0; i < n; i++) {
        const AVIndexEntry *e = avformat_index_get_entry(st, i);
        if (e && e->pos + (e->size > 0 ? e->size : 0) > size) {
            buf_addf(s->err, "corrupt video: truncated (packet %d lies at byte %lld of %lld)", i,
                     (long long)e->pos, (long long)size);
            return -EBADMSG;
        }
    }
    return 0;
}

static void thumb(const struct image_rgb *im, unsigned char out[THUMB * THUMB])
{
    struct image_rgb t;
    image_resize(im, THUMB, THUMB, &t);
    for (size_t i = 0; i < THUMB * THUMB; i++) {
        const unsigned char *p = t.px + 3 * i;
        out[i] = (unsigned char)((77 * p[0] + 150 * p[1] + 29 * p[2] + 128) >> 8);
    }
    image_rgb_release(&t);
}

static double thumb_diff(const unsigned char *a, const unsigned char *b)
{
    unsigned long sum = 0;
    for (size_t i = 0; i < THUMB * THUMB; i++)
        sum += (unsigned long)abs((int)a[i] - (int)b[i]);
    return (double)sum / (THUMB * THUMB);
}

/* The frame as RGB at its own size, into s->full. */
static int to_rgb(struct sampler *s, const AVFrame *f)
{
    unsigned w = (unsigned)f->width, h = (unsigned)f->height;
    s->sws = sws_getCachedContext(s->sws, f->width, f->height, f->format, f->width, f->height,
                                  AV_PIX_FMT_RGB24, SWS_BILINEAR, NULL, NULL, NULL);
    if (!s->sws) {
        buf_addf(s->err, "cannot convert %s frames to RGB",
                 av_get_pix_fmt_name(f->format) ? av_get_pix_fmt_name(f->format) : "?");
        return -ENOTSUP;
    }
    /* Phones tag HD video BT.709 and limited range; swscale's default is
     * BT.601, which shifts colours a little. */
    enum AVColorSpace spc = f->colorspace;
    if (spc == AVCOL_SPC_UNSPECIFIED)
        spc = f->height >= 720 ? AVCOL_SPC_BT709 : AVCOL_SPC_SMPTE170M; /* what players assume */
    int cs = spc == AVCOL_SPC_BT709                                      ? SWS_CS_ITU709
             : spc == AVCOL_SPC_BT2020_NCL || spc == AVCOL_SPC_BT2020_CL ? SWS_CS_BT2020
                                                                           : SWS_CS_DEFAULT;
    const int *coef = sws_getCoefficients(cs);
    sws_setColorspaceDetails(s->sws, coef, f->color_range == AVCOL_RANGE_JPEG, coef, 1, 0,
                             1 << 16, 1 << 16);
    if (s->full.w != w || s->full.h != h) {
        image_rgb_release(&s->full);
        s->full.px = xmalloc((size_t)w * h * 3);
        s->full.w = w;
        s->full.h = h;
    }
    uint8_t *dst[4] = {s->full.px};
    int dst_stride[4] = {(int)(w * 3)};
    sws_scale(s->sws, (const uint8_t *const *)f->data, f->linesize, 0, f->height, dst, dst_stride);
    return 0;
}

static int keep_frame(struct sampler *s, struct image_rgb *small, double t, double diff)
{
    struct video_result *r = s->res;
    ALLOC_GROW(r->frames, r->nframes + 1, s->frames_cap);
    struct video_frame *vf = &r->frames[r->nframes];
    memset(vf, 0, sizeof(*vf));
    image_orient(small, s->orientation);
    int rc = image_encode_jpeg(small, s->o.jpeg_quality, &vf->jpeg, s->err);
    if (rc < 0) {
        buf_release(&vf->jpeg);
        return rc;
    }
    vf->t = t;
    vf->w = small->w;
    vf->h = small->h;
    vf->diff = diff;
    r->nframes++;
    return 0;
}

static int on_frame(struct sampler *s, const AVFrame *f)
{
    struct video_result *r = s->res;
    if (++r->decoded > s->max_decoded) {
        buf_addf(s->err, "more than %u frames decoded; the clip is not short", s->max_decoded);
        return -E2BIG;
    }
    int64_t ts = f->best_effort_timestamp;
    if (ts == AV_NOPTS_VALUE)
        ts = f->pts;
    if (ts == AV_NOPTS_VALUE) {
        buf_addstr(s->err, "corrupt video: a frame without a timestamp");
        return -EBADMSG;
    }
    if (s->start_ts == AV_NOPTS_VALUE)
        s->start_ts = ts;
    double t = (double)(ts - s->start_ts) * av_q2d(s->tb);
    if (t > s->last_t)
        s->last_t = t;
    if (t > s->o.max_duration_s) {
        buf_addf(s->err, "video runs past the limit of %.0f s", s->o.max_duration_s);
        return -E2BIG;
    }
    if (f->width <= 0 || f->height <= 0 ||
        (uint64_t)f->width * (uint64_t)f->height > s->o.max_pixels) {
        buf_addf(s->err, "a decoded frame is %dx%d, over the limit", f->width, f->height);
        return -E2BIG;
    }
    /*
     * Frames nothing refers to need not be decoded while the next instant
     * is well ahead; near it every frame is, since the one we sample may
     * be such a frame. The margin covers the decoder's reordering delay.
     */
    s->dec->skip_frame = s->next_t - t > s->skip_margin ? AVDISCARD_NONREF : AVDISCARD_DEFAULT;
    /* A millisecond of slack against rounding in the time base. */
    if (t + 1e-3 < s->next_t) {
        if (s->next_t - t > SEEK_GAP_S && s->seeked_for != s->next_t)
            s->want_seek = true;
        return 0;
    }
    r->sampled++;
    while (s->next_t <= t + 1e-3)
        s->next_t += s->interval;
    /* No frame starts at or after the end: the rest need not be decoded. */
    if (r->duration_s > 0 && s->next_t >= r->duration_s)
        s->done = true;

    int rc = to_rgb(s, f);
    if (rc < 0)
        return rc;
    unsigned w, h;
    image_fit(s->full.w, s->full.h, s->o.max_side, &w, &h);
    struct image_rgb small;
    image_resize(&s->full, w, h, &small);
    unsigned char th[THUMB * THUMB];
    thumb(&small, th);
    double diff = r->nframes ? thumb_diff(th, s->last_thumb) : 0;
    if (r->nframes && diff < s->o.dup_threshold) {
        r->dropped_dup++;
        image_rgb_release(&small);
        return 0;
    }
    if (r->nframes == s->o.max_frames) {
        /* One more new frame than we may keep: the clip goes on. */
        r->stopped_early = true;
        s->done = true;
        image_rgb_release(&small);
        return 0;
    }
    memcpy(s->last_thumb, th, sizeof(th));
    rc = keep_frame(s, &small, t, diff);
    image_rgb_release(&small);
    return rc;
}

/*
 * A decoding error. A stream whose frames are over dec->max_pixels, which
 * the container's size was not (open_decoder), ends here before the first
 * frame exists, with libav's words for it (av_first_error: "Picture size
 * 160x120 is invalid").
 */
static int decode_fail(struct sampler *s, int averr)
{
    return av_fail(s, averr,
                   s->res->decoded == 0 ? "corrupt video: its first frame cannot be decoded"
                                        : "corrupt video: decoding failed");
}

/* Takes every frame the decoder has ready. */
static int drain(struct sampler *s)
{
    for (;;) {
        int averr = avcodec_receive_frame(s->dec, s->frame);
        if (averr == AVERROR(EAGAIN) || averr == AVERROR_EOF)
            return 0;
        if (averr < 0)
            return decode_fail(s, averr);
        int rc = s->done ? 0 : on_frame(s, s->frame);
        av_frame_unref(s->frame);
        if (rc < 0)
            return rc;
    }
}

static void seek_ahead(struct sampler *s)
{
    s->want_seek = false;
    s->seeked_for = s->next_t;
    int64_t base = s->start_ts == AV_NOPTS_VALUE ? 0 : s->start_ts;
    int64_t ts = base + (int64_t)(s->next_t / av_q2d(s->tb));
    if (av_seek_frame(s->fmt, s->stream, ts, AVSEEK_FLAG_BACKWARD) >= 0)
        avcodec_flush_buffers(s->dec);
    /* On failure we simply keep decoding forward. */
}

static int run(struct sampler *s)
{
    s->pkt = av_packet_alloc();
    s->frame = av_frame_alloc();
    if (!s->pkt || !s->frame) {
        buf_addstr(s->err, "libav could not allocate a frame");
        return -ENOMEM;
    }
    while (!s->done) {
        if (s->want_seek)
            seek_ahead(s);
        int averr = av_read_frame(s->fmt, s->pkt);
        if (averr == AVERROR_EOF)
            break;
        if (averr < 0)
            return av_fail(s, averr, "corrupt video: reading failed");
        int rc = 0;
        if (s->pkt->stream_index == s->stream && (s->pkt->flags & AV_PKT_FLAG_CORRUPT)) {
            buf_addstr(s->err, "corrupt video: a damaged packet");
            rc = -EBADMSG;
        } else if (s->pkt->stream_index == s->stream) {
            averr = avcodec_send_packet(s->dec, s->pkt);
            if (averr < 0 && averr != AVERROR(EAGAIN))
                rc = decode_fail(s, averr);
            else
                rc = drain(s);
        }
        av_packet_unref(s->pkt);
        if (rc < 0)
            return rc;
    }
    if (!s->done) {
        /* The frames the decoder still holds back (reordering). */
        avcodec_send_packet(s->dec, NULL);
        int rc = drain(s);
        if (rc < 0)
            return rc;
    }
    if (s->fmt->pb && s->fmt->pb->error < 0)
        return av_fail(s, s->fmt->pb->error, "corrupt video: reading failed");
    if (s->res->decoded == 0) {
        buf_addstr(s->err, "corrupt video: no frame could be decoded");
        return -EBADMSG;
    }
    if (s->res->duration_s <= 0)
        s->res->duration_s = s->last_t + (s->res->frame_rate > 0 ? 1 / s->res->frame_rate : 0);
    return 0;
}

/* The common part; o is resolved already. */
static int sample(const char *path, const void *data, size_t len, const struct video_opts *o,
                  struct video_result *out, struct buf *err)
{
    struct sampler *s = xcalloc(1, sizeof(*s));
    s->o = *o;
    s->res = out;
    s->err = err;
    s->mem.p = data;
    s->mem.len = len;
    s->start_ts = AV_NOPTS_VALUE;
    s->seeked_for = -1;
    pthread_once(&av_once, av_init_once);
    if (!av) {
        medialib_av(err);
        free(s);
        return -ENOTSUP;
    }
    av_first_error[0] = '\0';

    int rc = open_input(s, path);
    if (rc == 0)
        rc = open_decoder(s);
    if (rc == 0)
        rc = check_index(s);
    if (rc == 0)
        rc = run(s);

    sws_freeContext(s->sws);
    image_rgb_release(&s->full);
    av_frame_free(&s->frame);
    av_packet_free(&s->pkt);
    avcodec_free_context(&s->dec);
    avformat_close_input(&s->fmt);
    if (s->avio) {
        av_freep(&s->avio->buffer);
        avio_context_free(&s->avio);
    }
    free(s);
    if (rc < 0)
        video_result_release(out);
    return rc;
}

int video_sample_file(const char *path, const struct video_opts *o, struct video_result *out,
                      struct buf *err)
{
    struct video_opts r;
    struct stat st;
    memset(out, 0, sizeof(*out));
    int rc = resolve_opts(o, &r, err);
    if (rc < 0)
        return rc;
    if (stat(path, &st) < 0) {
        rc = -errno;
        buf_addf(err, "%s: %m", path);
        return rc;
    }
    if (!S_ISREG(st.st_mode) || st.st_size == 0) {
        buf_addf(err, "%s: %s", path, S_ISREG(st.st_mode) ? "empty file" : "not a regular file");
        return -EINVAL;
    }
    if ((uint64_t)st.st_size > r.max_bytes) {
        buf_addf(err, "video is %lld bytes, more than the limit of %llu", (long long)st.st_size,
                 (unsigned long long)r.max_bytes);
        return -E2BIG;
    }
    return sample(path, NULL, 0, &r, out, err);
}

int video_sample_mem(const void *data, size_t len, const struct video_opts *o,
                     struct video_result *out, struct buf *err)
{
    struct video_opts r;
    memset(out, 0, sizeof(*out));
    int rc = resolve_opts(o, &r, err);
    if (rc < 0)
        return rc;
    if (len == 0) {
        buf_addstr(err, "empty upload: no bytes");
        return -EINVAL;
    }
    if (len > r.max_bytes) {
        buf_addf(err, "video is %zu bytes, more than the limit of %llu", len,
                 (unsigned long long)r.max_bytes);
        return -E2BIG;
    }
    return sample(NULL, data, len, &r, out, err);
}

void video_result_release(struct video_result *r)
{
    for (size_t i = 0; i < r->nframes; i++)
        buf_release(&r->frames[i].jpeg);
    free(r->frames);
    memset(r, 0, sizeof(*r));
}
