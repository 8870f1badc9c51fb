/* SPDX-License-Identifier: MIT */
/*
 * medialib: libavformat/libavcodec/libswscale/libavutil and libheif,
 * loaded when the first video or HEIF picture needs them.
 *
 * Linked normally, these libraries and what they pull in (x264, x265,
 * dav1d, libvpx, librsvg, glib, ICU, ... about 140 shared objects) are
 * loaded and relocated when hermod starts, which took its idle RSS from
 * ~12 MB to ~32 MB and its start by tens of milliseconds, for a gateway
 * that may never see a video. So video.c and image_decode.c call them
 * through tables of function pointers filled by dlopen()/dlsym() on first
 * use, with the sonames of the headers hermod was built against. Only
 * the headers are needed at build time; the Debian runtime packages
 * (which the -dev packages depend on) at run time.
 *
 * A file includes this header *after* the libraries' own headers and,
 * when it defines MEDIALIB_REDIRECT_AV or MEDIALIB_REDIRECT_HEIF first,
 * gets macros that turn each call of those libraries into a call through
 * the table, so the code reads as plain libav/libheif code.
 *
 * DESIGN
 * Loading happens once, under pthread_once, from whichever worker thread
 * needs it first; the tables are then read-only. A library that cannot be
 * loaded (or lacks a symbol) makes the load fail with the dlerror() text,
 * and the media call fails with -ENOTSUP and that message; nothing else
 * in hermod depends on it.
 */
#ifndef HERMOD_MEDIALIB_H
#define HERMOD_MEDIALIB_H

#include <stdbool.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/display.h>
#include <libavutil/pixdesc.h>
#include <libheif/heif.h>
#include <libswscale/swscale.h>

#include "lib/buf.h"

/* X(library, function) for every function hermod calls. */
#define MEDIALIB_AV_FUNCS(X)                                                                  \
    X(avformat, avformat_alloc_context)                                                       \
    X(avformat, avformat_close_input)                                                         \
    X(avformat, avformat_index_get_entries_count)                                             \
    X(avformat, avformat_index_get_entry)                                                     \
    X(avformat, avformat_open_input)                                                          \
    X(avformat, avio_alloc_context)                                                           \
    X(avformat, avio_context_free)                                                            \
    X(avformat, avio_size)                                                                    \
    X(avformat, av_find_best_stream)                                                          \
    X(avformat, av_read_frame)                                                                \
    X(avformat, av_seek_frame)                                                                \
    X(avformat, av_stream_get_side_data)                                                      \
    X(avcodec, avcodec_alloc_context3)                                                        \
    X(avcodec, avcodec_flush_buffers)                                                         \
    X(avcodec, avcodec_free_context)                                                          \
    X(avcodec, avcodec_get_name)                                                              \
    X(avcodec, avcodec_open2)                                                                 \
    X(avcodec, avcodec_parameters_to_context)                                                 \
    X(avcodec, avcodec_receive_frame)                                                         \
    X(avcodec, avcodec_send_packet)                                                           \
    X(avcodec, av_packet_alloc)                                                               \
    X(avcodec, av_packet_free)                                                                \
    X(avcodec, av_packet_unref)                                                               \
    X(avutil, av_dict_get)                                                                    \
    X(avutil, av_display_rotation_get)                                                        \
    X(avutil, av_frame_alloc)                                                                 \
    X(avutil, av_frame_free)                                                                  \
    X(avutil, av_frame_unref)                                                                 \
    X(avutil, av_free)                                                                        \
    X(avutil, av_freep)                                                                       \
    X(avutil, av_get_pix_fmt_name)                                                            \
    X(avutil, av_log_set_callback)                                                            \
    X(avutil, av_log_set_level)                                                               \
    X(avutil, av_malloc)                                                                      \
    X(avutil, av_strdup)                                                                      \
    X(avutil, av_strerror)                                                                    \
    X(swscale, sws_freeContext)                                                               \
    X(swscale, sws_getCachedContext)                                                          \
    X(swscale, sws_getCoefficients)                                                           \
    X(swscale, sws_scale)                                                                     \
    X(swscale, sws_setColorspaceDetails)

#define MEDIALIB_HEIF_FUNCS(X)                                                                \
    X(heif, heif_check_filetype)                                                              \
    X(heif, heif_context_alloc)                                                               \
    X(heif, heif_context_free)                                                                \
    X(heif, heif_context_get_primary_image_handle)                                            \
    X(heif, heif_context_get_primary_image_ID)                                                \
    X(heif, heif_context_read_from_memory_without_copy)                                       \
    X(heif, heif_context_set_max_decoding_threads)                                            \
    X(heif, heif_context_set_maximum_image_size_limit)                                        \
    X(heif, heif_decode_image)                                                                \
    X(heif, heif_decoding_options_alloc)                                                      \
    X(heif, heif_decoding_options_free)                                                       \
    X(heif, heif_fourcc_to_brand)                                                             \
    X(heif, heif_image_get_bits_per_pixel_range)                                              \
    X(heif, heif_image_get_height)                                                            \
    X(heif, heif_image_get_plane_readonly)                                                    \
    X(heif, heif_image_get_width)                                                             \
    X(heif, heif_image_handle_get_height)                                                     \
    X(heif, heif_image_handle_get_ispe_height)                                                \
    X(heif, heif_image_handle_get_ispe_width)                                                 \
    X(heif, heif_image_handle_get_list_of_metadata_block_IDs)                                 \
    X(heif, heif_image_handle_get_metadata)                                                   \
    X(heif, heif_image_handle_get_metadata_size)                                              \
    X(heif, heif_image_handle_get_width)                                                      \
    X(heif, heif_image_handle_has_alpha_channel)                                              \
    X(heif, heif_image_handle_release)                                                        \
    X(heif, heif_image_release)                                                               \
    X(heif, heif_init)                                                                        \
    X(heif, heif_read_main_brand)

#define MEDIALIB_FIELD(lib, fn) __typeof__(&fn) fn;
struct medialib_av {
    MEDIALIB_AV_FUNCS(MEDIALIB_FIELD)
};
struct medialib_heif {
    MEDIALIB_HEIF_FUNCS(MEDIALIB_FIELD)
};
#undef MEDIALIB_FIELD

/*
 * The tables, loaded on the first call (thread-safe). NULL when a library
 * cannot be loaded; err (may be NULL) then gets the reason, e.g.
 * "video needs libavformat.so.59: cannot open shared object file".
 */
const struct medialib_av *medialib_av(struct buf *err);
const struct medialib_heif *medialib_heif(struct buf *err);

/* Whether the libraries are loaded now (for tests: nothing loads them at
 * start). */
bool medialib_av_loaded(void);
bool medialib_heif_loaded(void);

#ifdef MEDIALIB_REDIRECT_AV
/* Every call goes through the table; the caller has checked (through
 * medialib_av()) that it is loaded and keeps it in `av`. */
#define avformat_alloc_context (av->avformat_alloc_context)
#define avformat_close_input (av->avformat_close_input)
#define avformat_index_get_entries_count (av->avformat_index_get_entries_count)
#define avformat_index_get_entry (av->avformat_index_get_entry)
#define avformat_open_input (av->avformat_open_input)
#define avio_alloc_context (av->avio_alloc_context)
#define avio_context_free (av->avio_context_free)
#define avio_size (av->avio_size)
#define av_find_best_stream (av->av_find_best_stream)
#define av_read_frame (av->av_read_frame)
#define av_seek_frame (av->av_seek_frame)
#define av_stream_get_side_data (av->av_stream_get_side_data)
#define avcodec_alloc_context3 (av->avcodec_alloc_context3)
#define avcodec_flush_buffers (av->avcodec_flush_buffers)
#define avcodec_free_context (av->avcodec_free_context)
#define avcodec_get_name (av->avcodec_get_name)
#define avcodec_open2 (av->avcodec_open2)
#define avcodec_parameters_to_context (av->avcodec_parameters_to_context)
#define avcodec_receive_frame (av->avcodec_receive_frame)
#define avcodec_send_packet (av->avcodec_send_packet)
#define av_packet_alloc (av->av_packet_alloc)
#define av_packet_free (av->av_packet_free)
#define av_packet_unref (av->av_packet_unref)
#define av_dict_get (av->av_dict_get)
#define av_display_rotation_get (av->av_display_rotation_get)
#define av_frame_alloc (av->av_frame_alloc)
#define av_frame_free (av->av_frame_free)
#define av_frame_unref (av->av_frame_unref)
#define av_free (av->av_free)
#define av_freep (av->av_freep)
#define av_get_pix_fmt_name (av->av_get_pix_fmt_name)
#define av_log_set_callback (av->av_log_set_callback)
#define av_log_set_level (av->av_log_set_level)
#define av_malloc (av->av_malloc)
#define av_strdup (av->av_strdup)
#define av_strerror (av->av_strerror)
#define sws_freeContext (av->sws_freeContext)
#define sws_getCachedContext (av->sws_getCachedContext)
#define sws_getCoefficients (av->sws_getCoefficients)
#define sws_scale (av->sws_scale)
#define sws_setColorspaceDetails (av->sws_setColorspaceDetails)
#endif

#ifdef MEDIALIB_REDIRECT_HEIF
#define heif_check_filetype (hf->heif_check_filetype)
#define heif_context_alloc (hf->heif_context_alloc)
#define heif_context_free (hf->heif_context_free)
#define heif_context_get_primary_image_handle (hf->heif_context_get_primary_image_handle)
#define heif_context_get_primary_image_ID (hf->heif_context_get_primary_image_ID)
#define heif_context_read_from_memory_without_copy (hf->heif_context_read_from_memory_without_copy)
#define heif_context_set_max_decoding_threads (hf->heif_context_set_max_decoding_threads)
#define heif_context_set_maximum_image_size_limit                                             \
    (hf->heif_context_set_maximum_image_size_limit)
#define heif_decode_image (hf->heif_decode_image)
#define heif_decoding_options_alloc (hf->heif_decoding_options_alloc)
#define heif_decoding_options_free (hf->heif_decoding_options_free)
#define heif_fourcc_to_brand (hf->heif_fourcc_to_brand)
#define heif_image_get_bits_per_pixel_range (hf->heif_image_get_bits_per_pixel_range)
#define heif_image_get_height (hf->heif_image_get_height)
#define heif_image_get_plane_readonly (hf->heif_image_get_plane_readonly)
#define heif_image_get_width (hf->heif_image_get_width)
#define heif_image_handle_get_height (hf->heif_image_handle_get_height)
#define heif_image_handle_get_ispe_height (hf->heif_image_handle_get_ispe_height)
#define heif_image_handle_get_ispe_width (hf->heif_image_handle_get_ispe_width)
#define heif_image_handle_get_list_of_metadata_block_IDs                                      \
    (hf->heif_image_handle_get_list_of_metadata_block_IDs)
#define heif_image_handle_get_metadata (hf->heif_image_handle_get_metadata)
#define heif_image_handle_get_metadata_size (hf->heif_image_handle_get_metadata_size)
#define heif_image_handle_get_width (hf->heif_image_handle_get_width)
#define heif_image_handle_has_alpha_channel (hf->heif_image_handle_has_alpha_channel)
#define heif_image_handle_release (hf->heif_image_handle_release)
#define heif_image_release (hf->heif_image_release)
#define heif_init (hf->heif_init)
#define heif_read_main_brand (hf->heif_read_main_brand)
#endif

#endif
