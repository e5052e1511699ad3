import { randomUUID } from 'node:crypto';
import { closeSync, openSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { basename } from 'node:path';
import onnxProto from 'onnx-proto';
import { tempPathFor } from '../atomic-write.ts';
import {
  type ExternalLocation,
  type GraphBuilder,
  type InitializerSink,
  ONNX_TYPE,
} from './graph-builder.ts';

const { onnx } = onnxProto;

/** Opset of the default domain; com.microsoft is imported for ORT's fused kernels. */
export const OPSET = 17;

/** Initializers above this size go to the external data file (protobuf caps a message at 2 GiB). */
const EXTERNAL_THRESHOLD = 1024;

/**
 * A model being written: `file` plus `file.data` holding the large initializers (ONNX external
 * data, 64-byte aligned so ORT can map them). Pass `sink` to the GraphBuilder and each large
 * weight goes to the data file the moment it is added, so a multi-gigabyte model is never held
 * in memory. Both files are written under temporary names and renamed by `commit`, so an
 * interrupted conversion never leaves a half-written model that looks complete; the names are
 * unique, so two processes converting the same checkpoint at once each write their own copy and
 * the identical results replace each other atomically.
 *
 * @example
 * const out = new ModelFile('model.onnx');
 * try { out.commit(buildDecoderGraph(cfg, weights, { dtype, sink: out.sink }), 'doc'); }
 * catch (err) { out.abort(); throw err; }
 */
export class ModelFile {
  readonly sink: InitializerSink;
  readonly #file: string;
  readonly #dataFile: string;
  readonly #tmpData: string;
  readonly #tmpModel: string;
  #fd: number | null;
  #offset = 0;
  /**
   * Where bytes already written lie, by the buffer they were views of: two initializers over the
   * very same bytes (one quantized table read by two ops as two shapes) are stored once.
   */
  readonly #written = new WeakMap<ArrayBufferLike, Map<string, ExternalLocation>>();

  /** Bytes written to the data file so far (progress). */
  get bytesWritten(): number {
    return this.#offset;
  }

  constructor(file: string) {
    this.#file = file;
    this.#dataFile = `${file}.data`;
    const unique = randomUUID();
    this.#tmpData = tempPathFor(this.#dataFile, unique);
    this.#tmpModel = tempPathFor(file, unique);
    this.#fd = openSync(this.#tmpData, 'w');
    this.sink = { threshold: EXTERNAL_THRESHOLD, write: (bytes) => this.#append(bytes) };
  }

  #append(bytes: Uint8Array): ExternalLocation {
    if (this.#fd === null) throw new Error('model file already committed or aborted');
    const key = `${bytes.byteOffset}:${bytes.byteLength}`;
    let seen = this.#written.get(bytes.buffer);
    const known = seen?.get(key);
    if (known) return known;
    const pad = (64 - (this.#offset % 64)) % 64;
    if (pad) writeSync(this.#fd, new Uint8Array(pad));
    this.#offset += pad;
    for (let done = 0; done < bytes.byteLength; ) {
      done += writeSync(this.#fd, bytes, done, Math.min(bytes.byteLength - done, 1 << 30));
    }
    const at = { offset: this.#offset, length: bytes.byteLength };
    this.#offset += bytes.byteLength;
    if (!seen) this.#written.set(bytes.buffer, (seen = new Map()));
    seen.set(key, at);
    return at;
  }

  /** Writes the graph (initializers still held in memory go to the data file too) and renames both files. */
  commit(g: GraphBuilder, docString: string): void {
    try {
      const location = basename(this.#dataFile);
      const initializers = g.initializers.map((init): onnxProto.onnx.ITensorProto => {
        const base = { name: init.name, dataType: ONNX_TYPE[init.type], dims: init.dims };
        let at = init.external;
        if (!at && init.bytes!.byteLength < EXTERNAL_THRESHOLD) return { ...base, rawData: init.bytes! };
        at ??= this.#append(init.bytes!);
        return {
          ...base,
          dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
          externalData: [
            { key: 'location', value: location },
            { key: 'offset', value: String(at.offset) },
            { key: 'length', value: String(at.length) },
          ],
        };
      });
      closeSync(this.#fd!);
      this.#fd = null;
      const model = onnx.ModelProto.create({
        irVersion: 8,
        producerName: 'reverie',
        docString,
        opsetImport: [
          { domain: '', version: OPSET },
          { domain: 'com.microsoft', version: 1 },
        ],
        graph: {
          name: 'reverie_decoder',
          node: g.nodes,
          input: g.inputs,
          output: g.outputs,
          initializer: initializers,
        },
      });
      writeFileSync(this.#tmpModel, onnx.ModelProto.encode(model).finish());
      renameSync(this.#tmpData, this.#dataFile);
      renameSync(this.#tmpModel, this.#file);
    } finally {
      this.abort();
    }
  }

  /** Closes and removes whatever is left of the temporary files (a no-op after commit). */
  abort(): void {
    if (this.#fd !== null) closeSync(this.#fd);
    this.#fd = null;
    rmSync(this.#tmpData, { force: true });
    rmSync(this.#tmpModel, { force: true });
  }
}

/** Writes a graph built in memory (no sink) as `file` + `file.data`. */
export function writeModel(g: GraphBuilder, file: string, docString: string): void {
  new ModelFile(file).commit(g, docString);
}
