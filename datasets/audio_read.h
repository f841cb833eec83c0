// defines: ssm_audio, ssm_audio_read, ssm_audio_resample, ssm_audio_free
// Reading one audio file into mono float samples at the rate the model wants.
// libsndfile decodes (WAV 8/16/24/32-bit PCM and float, FLAC, Ogg/Vorbis, and
// whatever else the installed libsndfile reads); channels are averaged to mono
// (as AST/AuM's torchaudio.load(...).mean(0) does); libsoxr resamples
// (docs/datasets.md, "Audio", says why soxr). Samples are libsndfile's
// normalisation: integer PCM divided by 2^(bits-1), so 16-bit s -> s / 32768
// (the same values torchaudio.load and soundfile give), float files as stored.
#pragma once
#include <stdint.h>

#include "core/error.h"

typedef struct {
    float *samples;      // [n] mono, at sample_rate
    int64_t n;
    int sample_rate;     // the rate of samples: the target rate, or the file's when not resampled
    int file_rate;       // what the file says
    int file_channels;   // channels in the file (averaged into samples)
    int64_t file_frames; // frames decoded from the file (before resampling)
} ssm_audio;

// Reads `path` into *out (zeroed first; free with ssm_audio_free). target_rate
// > 0 resamples to that rate when the file's differs; 0 keeps the file's rate.
// Refused with an error naming the file: a missing or unreadable file, an
// empty one, one libsndfile does not recognise as audio (text renamed .wav),
// a corrupt or cut-short one (a FLAC/Ogg stream that stops before the frames
// its header promises, a WAV whose data chunk claims more bytes than the file
// holds), one with no samples, and one holding NaN or infinite samples.
ssm_code ssm_audio_read(const char *path, int target_rate, ssm_audio *out, ssm_error *err);

// *out = in [n] resampled from from_rate to to_rate with libsoxr (high quality:
// 20-bit, linear phase, one thread: the prefetch workers are the parallelism).
// *n_out = round(n * to_rate / from_rate). *out is malloc'ed (free());
// from_rate == to_rate copies.
ssm_code ssm_audio_resample(const float *in, int64_t n, int from_rate, int to_rate,
                            float **out, int64_t *n_out, ssm_error *err);

void ssm_audio_free(ssm_audio *a);
