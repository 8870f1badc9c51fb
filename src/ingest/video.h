/* SPDX-License-Identifier: MIT */
/*
 * video: picks the frames of a short phone video that the vision model
 * should see, and reads the facts hermod keeps about the clip.
 *
 * A clip (MP4/MOV or Matroska/WebM; H.264, HEVC, VP8, VP9, AV1 or MPEG-4
 * video) is demuxed and decoded with libavformat/libavcodec. Frames are
 * sampled at most `fps` times a second, and less often when the clip is
 * long, so that max_frames samples cover all of it. Each sample is
 * compared with the last frame kept, on 32x32 grey thumbnails (mean
 * absolute difference, 0..255); one that differs by less than
 * dup_threshold shows nothing new and is dropped, which is where a static
 * shot stops costing the model tokens. Kept frames are scaled down, turned
 * upright (the container's display matrix), and encoded by the image
 * module exactly as a photo would be: a JPEG without metadata.
 *
 * See docs/internals/media.md for the method and the threshold.
 *
 * DESIGN
 * Synchronous and for libuv's worker pool, like image: every call owns its
 * demuxer, decoder (single-threaded: the pool is the parallelism) and
 * scaler, and calls on different threads share nothing. The one global
 * step is silencing libav's logging, once, under pthread_once.
 *
 * Input is hostile: only the demuxers above are allowed, no protocol
 * other than reading the given file (so a playlist cannot make libavformat
 * open other files), the size, duration, frame size and the number of
 * frames decoded are bounded before or while decoding, and a clip that
 * cannot be read to the end is an error.
 */
#ifndef HERMOD_VIDEO_H
#define HERMOD_VIDEO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"

#define VIDEO_DEFAULT_FPS 1.0
#define VIDEO_DEFAULT_MAX_FRAMES 16u
#define VIDEO_DEFAULT_DUP_THRESHOLD 2.0
#define VIDEO_DEFAULT_MAX_DURATION_S 300.0
#define VIDEO_DEFAULT_MAX_PIXELS (4096ull * 4096)
#define VIDEO_DEFAULT_MAX_BYTES (1ull << 30)
/* Decoding stops with an error after this many frames per second of the
 * duration limit: a crafted clip of a million tiny frames is bounded too. */
#define VIDEO_MAX_DECODE_FPS 240

/* Zero fields mean their default; a NULL pointer means all defaults. */
struct video_opts {
    double fps;            /* samples per second at most (1) */
    unsigned max_frames;   /* frames kept at most (16) */
    unsigned max_side;     /* of each JPEG (IMAGE_DEFAULT_MAX_SIDE) */
    int jpeg_quality;      /* 1..100 (IMAGE_DEFAULT_JPEG_QUALITY) */
    /*
     * A sample whose thumbnail differs from the last kept frame's by less
     * than this (mean absolute difference of 32x32 grey, 0..255) is a
     * duplicate (2). Negative: keep every sample.
     */
    double dup_threshold;
    double max_duration_s; /* longer clips are refused (300) */
    uint64_t max_pixels;   /* per frame (4096 x 4096) */
    uint64_t max_bytes;    /* of the file or buffer (1 GiB) */
};

struct video_frame {
    double t;        /* seconds from the start of the clip */
    unsigned w, h;   /* of the JPEG */
    double diff;     /* thumbnail difference to the previous kept frame; 0 for the first */
    struct buf jpeg; /* no metadata; see image_encode_jpeg() */
};

struct video_result {
    double duration_s;
    unsigned width, height; /* as shown, after rotation */
    int rotation;           /* degrees clockwise applied to the frames: 0, 90, 180, 270 */
    double frame_rate;      /* average, 0 if unknown */
    char container[32];     /* libavformat's name, e.g. "mov,mp4,m4a,3gp,3g2,mj2" */
    char codec[32];         /* e.g. "h264", "hevc" */
    bool has_creation_time;
    int64_t creation_unix;  /* from creation_time / Apple's creationdate, UTC */
    bool has_gps;
    double lat, lon;        /* ISO 6709 location tag (Apple, Android) */
    char make[64], model[64];

    unsigned decoded;      /* frames decoded */
    unsigned sampled;      /* of those, at a sampling instant */
    unsigned dropped_dup;  /* of those, dropped as duplicates */
    bool stopped_early;    /* max_frames reached before the end of the clip */

    struct video_frame *frames; /* kept frames, in time order */
    size_t nframes;
};

/* Fills o with the defaults. */
void video_opts_init(struct video_opts *o);

/*
 * Samples the clip at path (read through libavformat's file protocol
 * only). *out is overwritten; on success the caller releases it with
 * video_result_release(), on failure it is left empty. o may be NULL.
 *
 * Returns 0, or a negative errno with a message appended to err:
 *   -EINVAL    options out of range, or an empty file
 *   -ENOENT etc. the file cannot be opened
 *   -E2BIG     over max_bytes, max_duration_s, max_pixels or the decode bound
 *   -ENOTSUP   not a video container we accept, no video stream, or a codec
 *              outside the list above
 *   -EBADMSG   corrupt or truncated, or no frame could be decoded
 *   -ENOMEM    libav could not allocate
 */
int video_sample_file(const char *path, const struct video_opts *o, struct video_result *out,
                      struct buf *err);

/* The same for a clip in memory; data is borrowed for the call. */
int video_sample_mem(const void *data, size_t len, const struct video_opts *o,
                     struct video_result *out, struct buf *err);

/* Frees the frames and leaves r empty; r may be empty already. */
void video_result_release(struct video_result *r);

#endif
