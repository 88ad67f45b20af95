// Loads libopus as compiled by `opusscript` (emscripten, wasm) and talks to its `OpusScriptHandler`
// directly. We do not use opusscript's JS class because, in 0.1.1, it (a) caches HEAP views that are
// detached as soon as the wasm memory grows (a few dozen live handles are enough: "Cannot perform
// %TypedArray%.prototype.set on a detached ArrayBuffer"), (b) indexes HEAPU16 with byte pointers, so
// it reads and writes at twice the address it allocated, and (c) allocates a Buffer per call. Here the
// views are re-read from the module on every call and pointers are used as byte addresses.
import { createRequire } from 'node:module';

/** One libopus encoder + decoder pair living in the wasm heap (opusscript's C++ handler). */
export interface OpusNativeHandler {
  /** Packs `samples` byte-per-slot int16 values at `input` and encodes them; returns bytes or < 0. */
  _encode(input: number, samples: number, output: number, frameSize: number): number;
  /** Decodes `bytes` at `input` to byte-per-slot int16 values at `output`; returns samples/channel. */
  _decode(input: number, bytes: number, output: number): number;
  /** `opus_encoder_ctl(request, arg)`. */
  _encoder_ctl(request: number, arg: number): number;
  /** `opus_decoder_ctl(request, arg)`. */
  _decoder_ctl(request: number, arg: number): number;
}

/** The emscripten module opusscript builds (only the members we use). */
export interface OpusNativeModule {
  readonly HEAPU8: Uint8Array;
  readonly HEAPU16: Uint16Array;
  _malloc(bytes: number): number;
  _free(pointer: number): void;
  readonly OpusScriptHandler: {
    new (sampleRate: number, channels: number, application: number): OpusNativeHandler;
    destroy_handler(handler: OpusNativeHandler): void;
  };
}

/** libopus constants used by the wrapper (opus_defines.h). */
export const OPUS = {
  applicationVoip: 2048,
  applicationAudio: 2049,
  setBitrate: 4002,
  setComplexity: 4010,
  resetState: 4028,
  /** Largest frame libopus returns: 120 ms at 48 kHz. */
  maxFrameSamples: 5760,
  /** opusscript's packet buffer (1276 * 3 bytes). */
  maxPacketBytes: 3828,
} as const;

let loaded: OpusNativeModule | undefined;

/** Returns the shared libopus wasm instance, instantiating it (synchronously) on first use. */
export function opusNative(): OpusNativeModule {
  if (loaded === undefined) {
    const require = createRequire(import.meta.url);
    const factory = require('opusscript/build/opusscript_native_wasm.js') as () => OpusNativeModule;
    loaded = factory();
  }
  return loaded;
}
