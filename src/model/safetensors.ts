import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { halfToFloatTable, toBfloat16, toHalf } from './float-bits.ts';

/**
 * safetensors reader and writer (https://github.com/huggingface/safetensors format): 8-byte
 * little-endian header length, a JSON header `{name: {dtype, shape, data_offsets}}`, then the raw
 * little-endian tensor bytes. F32, F16 and BF16 are read, one tensor at a time and only when asked
 * for, as float32: converting a 1.5B-parameter checkpoint never holds more than one tensor.
 */

export type SafetensorsDType = 'F32' | 'F16' | 'BF16';

export interface Tensor {
  shape: number[];
  data: Float32Array;
}

interface HeaderEntry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

/** Thrown for a malformed safetensors file; carries the file path. */
export class SafetensorsError extends Error {
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(`${file}: ${message}`);
    this.name = 'SafetensorsError';
  }
}

const WIDTH: Record<string, number> = { F32: 4, F16: 2, BF16: 2 };
/** readSync reads at most 2 GiB − 1 bytes per call. */
const READ_CHUNK = 1 << 30;

/** Reads `length` bytes at `position` into a fresh, aligned buffer. */
function readAt(fd: number, position: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let done = 0; done < length; ) {
    const n = readSync(fd, out, done, Math.min(READ_CHUNK, length - done), position + done);
    if (n === 0) throw new Error('unexpected end of file');
    done += n;
  }
  return out;
}

/**
 * One safetensors file, opened for reading tensor by tensor.
 *
 * @example
 * const f = SafetensorsFile.open('model.safetensors');
 * const embed = f.read('model.embed_tokens.weight');
 * f.close();
 */
export class SafetensorsFile {
  readonly #fd: number;
  readonly #entries: Map<string, HeaderEntry>;
  readonly #body: number;

  private constructor(
    readonly file: string,
    fd: number,
    entries: Map<string, HeaderEntry>,
    body: number,
  ) {
    this.#fd = fd;
    this.#entries = entries;
    this.#body = body;
  }

  /** Opens the file and parses its header (the tensors are read later). */
  static open(file: string): SafetensorsFile {
    const fd = openSync(file, 'r');
    try {
      const head = readAt(fd, 0, 8);
      const headerLen = Number(new DataView(head.buffer).getBigUint64(0, true));
      let header: Record<string, unknown>;
      try {
        header = JSON.parse(Buffer.from(readAt(fd, 8, headerLen)).toString('utf8'));
      } catch (err) {
        throw new SafetensorsError(file, `bad header (${(err as Error).message})`);
      }
      const entries = new Map<string, HeaderEntry>();
      for (const [name, entry] of Object.entries(header)) {
        if (name !== '__metadata__') entries.set(name, entry as HeaderEntry);
      }
      return new SafetensorsFile(file, fd, entries, 8 + headerLen);
    } catch (err) {
      closeSync(fd);
      if (err instanceof SafetensorsError) throw err;
      throw new SafetensorsError(file, `not a safetensors file (${(err as Error).message})`);
    }
  }

  /** Tensor names in header order. */
  names(): string[] {
    return [...this.#entries.keys()];
  }

  has(name: string): boolean {
    return this.#entries.has(name);
  }

  /** The dtype and shape of a tensor, without reading it. */
  describe(name: string): { dtype: string; shape: number[] } {
    const e = this.#entry(name);
    return { dtype: e.dtype, shape: e.shape };
  }

  /** Reads one tensor and converts it to float32. */
  read(name: string): Tensor {
    const e = this.#entry(name);
    const width = WIDTH[e.dtype];
    if (!width) throw new SafetensorsError(this.file, `tensor ${name}: unsupported dtype ${e.dtype}`);
    const count = e.shape.reduce((a, b) => a * b, 1);
    const [start, end] = e.data_offsets;
    if (end - start !== count * width) {
      throw new SafetensorsError(this.file, `tensor ${name}: ${end - start} bytes for shape [${e.shape}]`);
    }
    let raw: Uint8Array;
    try {
      raw = readAt(this.#fd, this.#body + start, end - start);
    } catch (err) {
      throw new SafetensorsError(this.file, `tensor ${name}: ${(err as Error).message}`);
    }
    if (e.dtype === 'F32') return { shape: e.shape, data: new Float32Array(raw.buffer) };
    const u16 = new Uint16Array(raw.buffer);
    const out = new Float32Array(count);
    if (e.dtype === 'BF16') {
      const bits = new Uint32Array(out.buffer);
      for (let i = 0; i < count; i++) bits[i] = u16[i]! << 16;
    } else {
      const table = halfToFloatTable();
      for (let i = 0; i < count; i++) out[i] = table[u16[i]!]!;
    }
    return { shape: e.shape, data: out };
  }

  close(): void {
    closeSync(this.#fd);
  }

  #entry(name: string): HeaderEntry {
    const e = this.#entries.get(name);
    if (!e) throw new SafetensorsError(this.file, `no tensor ${name}`);
    return e;
  }
}

/** Reads every tensor of a safetensors file as float32 (small files: tests, reference forwards). */
export function readSafetensors(file: string): Map<string, Tensor> {
  const f = SafetensorsFile.open(file);
  try {
    return new Map(f.names().map((name) => [name, f.read(name)]));
  } finally {
    f.close();
  }
}

/** One tensor to write: its shape and a function producing its float32 values when its turn comes. */
export interface TensorToWrite {
  shape: number[];
  values: () => Float32Array;
}

/**
 * Writes tensors as a safetensors file in `dtype` (names sorted, 8-byte aligned header). Each
 * tensor's values are asked for only when it is written, so a large file is written without
 * holding it all.
 */
export function writeSafetensorsStreaming(
  file: string,
  tensors: Map<string, TensorToWrite>,
  options: { dtype?: SafetensorsDType; metadata?: Record<string, string> } = {},
): void {
  const dtype = options.dtype ?? 'F32';
  const width = WIDTH[dtype]!;
  const names = [...tensors.keys()].sort();
  const header: Record<string, unknown> = {};
  if (options.metadata) header.__metadata__ = options.metadata;
  let offset = 0;
  for (const name of names) {
    const count = tensors.get(name)!.shape.reduce((a, b) => a * b, 1);
    header[name] = { dtype, shape: tensors.get(name)!.shape, data_offsets: [offset, offset + count * width] };
    offset += count * width;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + json.length) % 8)) % 8);
  const headerBytes = Buffer.from(json, 'utf8');
  const fd = openSync(file, 'w');
  try {
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(headerBytes.byteLength));
    writeSync(fd, len);
    writeSync(fd, headerBytes);
    for (const name of names) {
      const t = tensors.get(name)!;
      const data = t.values();
      const count = t.shape.reduce((a, b) => a * b, 1);
      if (data.length !== count)
        throw new Error(`tensor ${name}: shape [${t.shape}] but ${data.length} values`);
      writeSync(fd, encode(data, dtype));
    }
  } finally {
    closeSync(fd);
  }
}

function encode(data: Float32Array, dtype: SafetensorsDType): Uint8Array {
  if (dtype === 'F32') return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const out = new Uint16Array(data.length);
  if (dtype === 'BF16') {
    for (let i = 0; i < data.length; i++) out[i] = toBfloat16(data[i]!);
  } else {
    for (let i = 0; i < data.length; i++) out[i] = toHalf(data[i]!);
  }
  return new Uint8Array(out.buffer);
}

/** Writes float32 tensors held in memory as a safetensors file (tests, small models). */
export function writeSafetensors(
  file: string,
  tensors: Map<string, Tensor>,
  metadata?: Record<string, string>,
  dtype: SafetensorsDType = 'F32',
): void {
  const lazy = new Map([...tensors].map(([name, t]) => [name, { shape: t.shape, values: () => t.data }]));
  writeSafetensorsStreaming(file, lazy, { dtype, metadata });
}
