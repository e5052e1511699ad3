import { readFileSync, writeFileSync } from 'node:fs';

/**
 * Minimal safetensors reader and writer (https://github.com/huggingface/safetensors format):
 * 8-byte little-endian header length, a JSON header `{name: {dtype, shape, data_offsets}}`, then
 * the raw little-endian tensor bytes. We read F32, F16 and BF16 (converted to Float32Array).
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

function f16ToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * 2 ** -14 * (frac / 1024);
  if (exp === 0x1f) return frac ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * 2 ** (exp - 15) * (1 + frac / 1024);
}

function decode(file: string, name: string, entry: HeaderEntry, bytes: Buffer): Float32Array {
  const count = entry.shape.reduce((a, b) => a * b, 1);
  const [start, end] = entry.data_offsets;
  const raw = bytes.subarray(start, end);
  const width = entry.dtype === 'F32' ? 4 : entry.dtype === 'F16' || entry.dtype === 'BF16' ? 2 : 0;
  if (width === 0) throw new SafetensorsError(file, `tensor ${name}: unsupported dtype ${entry.dtype}`);
  if (raw.byteLength !== count * width) {
    throw new SafetensorsError(file, `tensor ${name}: ${raw.byteLength} bytes for shape [${entry.shape}]`);
  }
  const out = new Float32Array(count);
  if (entry.dtype === 'F32') {
    // Copy through a Uint8Array so unaligned offsets are fine.
    new Uint8Array(out.buffer).set(raw);
  } else if (entry.dtype === 'BF16') {
    const u32 = new Uint32Array(out.buffer);
    for (let i = 0; i < count; i++) u32[i] = raw.readUInt16LE(i * 2) << 16;
  } else {
    for (let i = 0; i < count; i++) out[i] = f16ToF32(raw.readUInt16LE(i * 2));
  }
  return out;
}

/** Reads every tensor of a safetensors file as float32. */
export function readSafetensors(file: string): Map<string, Tensor> {
  const buf = readFileSync(file);
  if (buf.byteLength < 8) throw new SafetensorsError(file, 'file too short for a safetensors header');
  const headerLen = Number(buf.readBigUInt64LE(0));
  if (headerLen > buf.byteLength - 8) throw new SafetensorsError(file, 'header length beyond end of file');
  let header: Record<string, HeaderEntry | Record<string, string>>;
  try {
    header = JSON.parse(buf.subarray(8, 8 + headerLen).toString('utf8'));
  } catch (err) {
    throw new SafetensorsError(file, `bad JSON header (${(err as Error).message})`);
  }
  const body = buf.subarray(8 + headerLen);
  const tensors = new Map<string, Tensor>();
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const e = entry as HeaderEntry;
    tensors.set(name, { shape: e.shape, data: decode(file, name, e, body) });
  }
  return tensors;
}

/** Writes float32 tensors as an F32 safetensors file (names sorted, 8-byte aligned header). */
export function writeSafetensors(
  file: string,
  tensors: Map<string, Tensor>,
  metadata?: Record<string, string>,
): void {
  const names = [...tensors.keys()].sort();
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let offset = 0;
  for (const name of names) {
    const t = tensors.get(name)!;
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (count !== t.data.length)
      throw new Error(`tensor ${name}: shape [${t.shape}] but ${t.data.length} values`);
    header[name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + count * 4] };
    offset += count * 4;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + json.length) % 8)) % 8);
  const headerBytes = Buffer.from(json, 'utf8');
  const out = Buffer.alloc(8 + headerBytes.byteLength + offset);
  out.writeBigUInt64LE(BigInt(headerBytes.byteLength), 0);
  headerBytes.copy(out, 8);
  let pos = 8 + headerBytes.byteLength;
  for (const name of names) {
    const t = tensors.get(name)!;
    Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength).copy(out, pos);
    pos += t.data.byteLength;
  }
  writeFileSync(file, out);
}
