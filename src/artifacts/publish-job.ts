import type { WasmInspection } from './wasm-inspector';

/** What a publish job carries from the upload to the push step (identifiers and facts, no secrets). */
export interface PublishJobInput {
  repository: string;
  tag: string | null;
  annotations: Record<string, string>;
  /** The layer's title annotation: the file name. */
  title: string;
  /** Fixed at upload, so that a re-run push step writes byte-identical config and manifest. */
  createdAt: string;
  wasm: { digest: string; size: number } & WasmInspection;
}

/** What the push step adds to the job result. */
export interface PushResult {
  repository: string;
  reference: string;
  manifestDigest: string;
  manifestMediaType: string;
  manifestSize: number;
  wasmDigest: string;
  tag: string | null;
  artifactId: string;
}
