// Encore's tempo/key stream over Signalsmith Stretch (MIT, vendored unmodified beside this file
// at the commit python-stretch 0.3.1 builds, a9d78f0), called from audio/stretch.py via ctypes.
//
// Why not python-stretch itself: its one call stretches a whole buffer and then resets, so a
// live worker could only stretch independent pieces, whose phases disagree at every join (a
// steady tone dips by up to 5 dB there). Live preview and offline render must each run one
// continuous stream, with the same calls in the same order: that is this file.
//
// Why the key is shifted by resampling, not by Signalsmith's transposition: measured here, its
// transposition puts a 110 Hz tone shifted +2 semitones 16 cents sharp and 55 Hz at -1 semitone
// 40 cents sharp (its frequency map is built from spectral peaks, a fraction of a bin off), so
// bass stems would be out of tune with the rest of the mix. Its pure time stretch keeps every
// frequency exact. So a key shift by factor p at tempo r is: Signalsmith time stretch by r / p
// (no transposition), then this file's windowed-sinc resampler reading p frames per output
// frame: pitch exact by construction, duration N / r.
//
// The stream (the same live and offline; see audio/stretch.py):
//   start(r, p, preroll): reset, seek with the pre-roll frames before the first input frame;
//   feed(CHUNK input frames) -> output frames: call i asks Signalsmith for
//   round((i+1) CHUNK p / r) - round(i CHUNK p / r) frames; its first output_latency - H frames
//   are dropped (H: the resampler's half width, 0 when p == 1); output frame j is the kernel
//   centred on intermediate frame H + j p, made as soon as the kernel's last frame exists.
//
// Built as the extension module `audio._signalsmith` (setuptools, pyproject.toml) so that it is
// found like any module and PyInstaller ships it; ctypes releases the GIL during each call.
#include <Python.h>

#include <cmath>
#include <vector>

#include "signalsmith-stretch.h"

namespace {

using Stretch = signalsmith::stretch::SignalsmithStretch<float>;

constexpr int kChunk = 1024;          // input frames per feed (audio/stretch.py CHUNK)
constexpr double kZeroCrossings = 16;  // resampler: sinc zero crossings each side
constexpr double kPassband = 0.45;     // resampler cutoff, cycles per frame at the slower rate
constexpr double kBeta = 8.0;          // resampler Kaiser window
constexpr int kPhases = 256;           // resampler kernels per intermediate frame (interpolated)

double bessel_i0(double x) {
	double sum = 1, term = 1;
	for (int k = 1; k < 60; ++k) {
		term *= (x / (2 * k)) * (x / (2 * k));
		sum += term;
		if (term < 1e-17 * sum) break;
	}
	return sum;
}

struct Stream {
	explicit Stream(int channels_, double sample_rate, long seed) : stretch(seed), channels(channels_) {
		stretch.presetDefault(channels, static_cast<float>(sample_rate));
	}

	Stretch stretch;
	int channels;
	double ratio = 1, pitch = 1;  // tempo r, frequency factor p
	long long calls = 0;          // feeds since start
	long long drop = 0;           // intermediate frames still to drop
	// Intermediate frames (Signalsmith's output) [base, base + have), channel-major, capacity cap.
	std::vector<float> mid;
	long long base = 0, have = 0, cap = 0;
	std::vector<float> tmp;  // one feed's Signalsmith output
	long long produced = 0;  // output frames made since start
	int half = 0;            // resampler half width H (intermediate frames)
	std::vector<float> weights;  // one output frame's kernel, 2 H values
	std::vector<float> phases;   // (kPhases + 1) kernels of 2 H taps (buildKernel)

	long long chunkOutput(long long i) const {
		double factor = kChunk * pitch / ratio;
		return std::llround((i + 1) * factor) - std::llround(i * factor);
	}

	void buildKernel() {
		half = 0;
		phases.clear();
		if (pitch == 1) return;
		double fc = kPassband / std::max(1.0, pitch);  // cycles per intermediate frame, /2
		half = static_cast<int>(std::ceil(kZeroCrossings / (2 * fc)));
		int taps = 2 * half;
		// Row q, tap i: the kernel at x = q / kPhases + half - 1 - i (rows 0 .. kPhases).
		phases.assign(static_cast<size_t>((kPhases + 1) * taps), 0.0f);
		double norm = bessel_i0(kBeta);
		for (int q = 0; q <= kPhases; ++q) {
			for (int i = 0; i < taps; ++i) {
				double x = static_cast<double>(q) / kPhases + half - 1 - i;
				double u = std::fabs(x) / half;
				double window = u < 1 ? bessel_i0(kBeta * std::sqrt(1 - u * u)) / norm : 0;
				double arg = 2 * fc * x;
				double sinc = arg == 0 ? 1 : std::sin(M_PI * arg) / (M_PI * arg);
				phases[static_cast<size_t>(q * taps + i)] = static_cast<float>(2 * fc * sinc * window);
			}
		}
		weights.assign(static_cast<size_t>(taps), 0.0f);
	}

	void start(double r, double p, const float *preroll, int frames, long stride) {
		ratio = r;
		pitch = p;
		calls = 0;
		produced = 0;
		stretch.reset();
		stretch.setTransposeFactor(1);
		buildKernel();
		drop = stretch.outputLatency() - half;
		base = 0;
		have = 0;
		long long most = chunkOutput(0) + 2;
		tmp.assign(static_cast<size_t>(channels * most), 0.0f);
		cap = 4 * (half + most) + 16;
		mid.assign(static_cast<size_t>(channels * cap), 0.0f);
		std::vector<const float *> rows(channels);
		for (int c = 0; c < channels; ++c) rows[c] = preroll + c * stride;
		stretch.seek(rows.data(), frames, ratio / pitch);
	}

	// Output frames one feed can make at most.
	long long maxOutput() const { return static_cast<long long>(std::ceil(chunkOutput(0) / pitch)) + 4; }

	long long feed(const float *input, long stride, float *output, long out_stride) {
		long long m = chunkOutput(calls++);
		std::vector<const float *> in(channels);
		std::vector<float *> mt(channels);
		for (int c = 0; c < channels; ++c) {
			in[c] = input + c * stride;
			mt[c] = tmp.data() + c * (tmp.size() / channels);
		}
		stretch.process(in.data(), kChunk, mt.data(), static_cast<int>(m));
		long long skip = std::min(drop, m);
		drop -= skip;
		if (half == 0) {  // no key shift: Signalsmith's output is the output
			long long n = m - skip;
			for (int c = 0; c < channels; ++c) {
				for (long long k = 0; k < n; ++k) output[c * out_stride + k] = mt[c][skip + k];
			}
			produced += n;
			return n;
		}
		// Keep the frames the next outputs need: from the first kernel's first frame on.
		long long first = static_cast<long long>(std::floor(half + produced * pitch)) - half + 1;
		if (first > base) {
			long long gone = std::min(first - base, have);
			for (int c = 0; c < channels; ++c) {
				float *row = mid.data() + c * cap;
				for (long long k = 0; k + gone < have; ++k) row[k] = row[k + gone];
			}
			base += gone;
			have -= gone;
		}
		for (int c = 0; c < channels; ++c) {
			float *row = mid.data() + c * cap;
			for (long long k = skip; k < m; ++k) row[have + k - skip] = mt[c][k];
		}
		have += m - skip;
		long long made = 0;
		const int taps = 2 * half;
		float *w = weights.data();
		while (true) {
			double t = half + produced * pitch;
			long long centre = static_cast<long long>(std::floor(t));
			long long lo = centre - half + 1, hi = centre + half;  // kernel frames [lo, hi]
			if (hi >= base + have) break;
			double pos = (t - centre) * kPhases;
			int q = static_cast<int>(pos);
			float g = static_cast<float>(pos - q);
			const float *k0 = phases.data() + q * taps;
			const float *k1 = k0 + taps;
			for (int i = 0; i < taps; ++i) w[i] = k0[i] + (k1[i] - k0[i]) * g;
			for (int c = 0; c < channels; ++c) {
				const float *row = mid.data() + c * cap + (lo - base);
				float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};  // 8 lanes: a fixed order, vectorised
				int i = 0;
				for (; i + 8 <= taps; i += 8) {
					for (int l = 0; l < 8; ++l) acc[l] += row[i + l] * w[i + l];
				}
				for (; i < taps; ++i) acc[i & 7] += row[i] * w[i];
				output[c * out_stride + made] =
				    ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
			}
			++made;
			++produced;
		}
		return made;
	}
};

}  // namespace

#define EXPORT extern "C" __attribute__((visibility("default")))

EXPORT void *encore_ss_create(int channels, double sample_rate, long seed) {
	return new Stream(channels, sample_rate, seed);
}

EXPORT void encore_ss_destroy(void *handle) { delete static_cast<Stream *>(handle); }

EXPORT int encore_ss_chunk(void) { return kChunk; }

EXPORT int encore_ss_input_latency(void *handle) {
	return static_cast<Stream *>(handle)->stretch.inputLatency();
}

// Pre-roll frames `start` reads: Signalsmith's block plus interval.
EXPORT int encore_ss_preroll(void *handle) {
	Stream *s = static_cast<Stream *>(handle);
	return s->stretch.blockSamples() + s->stretch.intervalSamples();
}

EXPORT void encore_ss_start(void *handle, double ratio, double pitch, const float *preroll,
                            int frames, long stride) {
	static_cast<Stream *>(handle)->start(ratio, pitch, preroll, frames, stride);
}

EXPORT long long encore_ss_max_output(void *handle) {
	return static_cast<Stream *>(handle)->maxOutput();
}

EXPORT long long encore_ss_feed(void *handle, const float *input, long stride, float *output,
                                long out_stride) {
	return static_cast<Stream *>(handle)->feed(input, stride, output, out_stride);
}

// Signalsmith's own whole-buffer use, as python-stretch 0.3.1 calls it (seek on the first
// input_latency frames, process the rest plus input_latency zeros, drop output_latency frames;
// its final flush is left out): tests/test_stretch.py checks this build against that wheel.
EXPORT void encore_ss_whole(void *handle, double time_factor, double transpose,
                            const float *input, long frames, long stride, float *output,
                            long out_frames, long out_stride) {
	Stream *s = static_cast<Stream *>(handle);
	Stretch &st = s->stretch;
	st.reset();
	st.setTransposeFactor(static_cast<float>(transpose));
	int lat = st.inputLatency(), tail = st.outputLatency();
	std::vector<std::vector<float>> in(s->channels), out(s->channels);
	std::vector<float *> ip(s->channels), op(s->channels);
	for (int c = 0; c < s->channels; ++c) {
		in[c].assign(static_cast<size_t>(frames + lat), 0.0f);
		for (long k = 0; k < frames; ++k) in[c][k] = input[c * stride + k];
		out[c].assign(static_cast<size_t>(out_frames + tail), 0.0f);
		ip[c] = in[c].data();
		op[c] = out[c].data();
	}
	st.seek(ip.data(), lat, time_factor);
	for (int c = 0; c < s->channels; ++c) ip[c] += lat;
	st.process(ip.data(), static_cast<int>(frames), op.data(), static_cast<int>(out_frames));
	for (int c = 0; c < s->channels; ++c) {
		for (long k = 0; k < out_frames; ++k) {
			output[c * out_stride + k] = out[c][k + tail];  // the last `tail` are 0: no flush
		}
	}
	st.reset();
}

// The module itself is empty: it exists so that the library is found like any module.
static struct PyModuleDef module_def = {PyModuleDef_HEAD_INIT, "_signalsmith",
                                        "Encore's stream over Signalsmith Stretch (shim.cpp); "
                                        "used through ctypes by audio.stretch.",
                                        -1, nullptr};

PyMODINIT_FUNC PyInit__signalsmith(void) { return PyModule_Create(&module_def); }
