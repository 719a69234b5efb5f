/**
 * The part of the WebAssembly JS API the pool uses, typed here: the package compiles with lib ES2022 and
 * @types/node, which do not declare the `WebAssembly` global (lib.dom does, packages that use it would get
 * duplicate declarations from a global one).
 */

/** A compiled `WebAssembly.Module`. */
export type WasmModule = object;

export interface WasmMemory {
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
  grow(pages: number): number;
}

export interface WasmGlobal {
  value: number;
}

export interface WasmInstance {
  readonly exports: Record<string, unknown>;
}

export interface WasmExportDescriptor {
  readonly name: string;
  readonly kind: 'function' | 'table' | 'memory' | 'global' | 'tag';
}

export interface WasmImportDescriptor extends WasmExportDescriptor {
  readonly module: string;
}

export interface WebAssemblyApi {
  Module: {
    new (bytes: Uint8Array): WasmModule;
    exports(module: WasmModule): WasmExportDescriptor[];
    imports(module: WasmModule): WasmImportDescriptor[];
  };
  Instance: new (module: WasmModule, imports: Record<string, Record<string, unknown>>) => WasmInstance;
  Memory: new (descriptor: { initial: number; maximum?: number; shared?: boolean }) => WasmMemory;
}

/** The global `WebAssembly` object, undefined where the runtime has none. */
export function webAssembly(): WebAssemblyApi | undefined {
  return (globalThis as unknown as { WebAssembly?: WebAssemblyApi }).WebAssembly;
}

/** Bytes of one WebAssembly memory page. */
export const WASM_PAGE_BYTES = 65536;
/** Pages of the largest wasm32 memory (4 GiB). */
export const WASM_MAX_PAGES = 65536;
