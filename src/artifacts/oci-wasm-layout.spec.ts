import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { OCI_MANIFEST_MEDIA_TYPE, sha256Digest } from '../registry/oci-media-types';
import { WASM_CONFIG_MEDIA_TYPE, WASM_LAYER_MEDIA_TYPE } from '../registry/oci-media-types';
import { buildWasmConfig, buildWasmManifest, sanitizeLayerTitle } from './oci-wasm-layout';
import { WasmInspector } from '../wasm/wasm-inspector';

const fixture = (name: string): Buffer => readFileSync(join(__dirname, '__fixtures__', name));
const sha256Hex = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

function inspect(wasm: Uint8Array) {
  const inspector = new WasmInspector();
  inspector.push(wasm);
  return inspector.finish();
}

const CREATED = new Date('2026-01-01T00:00:00Z');

const httpComponent = fixture('hello-http.wasm');
const coreModule = fixture('hello-module.wasm');

/** sha256 of the fixtures, as `sha256sum` prints them (see __fixtures__/README.md). */
const HTTP_COMPONENT_SHA256 = '939fb3d3e40f17d1937b87ae0b3230983c31c86d32d08604f9f97b158dd1788b';
const CORE_MODULE_SHA256 = '787f74d6515f030d8439b348d35dae921bfe7f469038f52a79acee5b4645dcfd';

const HTTP_COMPONENT_CONFIG =
  '{"created":"2026-01-01T00:00:00Z","author":null,"architecture":"wasm","os":"wasip2",' +
  `"layerDigests":["sha256:${HTTP_COMPONENT_SHA256}"],` +
  '"component":{"exports":["wasi:http/incoming-handler@0.2.0"],' +
  '"imports":["wasi:clocks/monotonic-clock@0.2.0","wasi:io/error@0.2.0","wasi:io/streams@0.2.0","wasi:http/types@0.2.0"],' +
  '"target":null}}';
const HTTP_COMPONENT_CONFIG_SHA256 = 'a34d64dcc788728c74546497ed7dbfe547388fd37e029eee63220d3ed0be48eb';

const CORE_MODULE_CONFIG =
  '{"created":"2026-01-01T00:00:00Z","author":null,"architecture":"wasm","os":"wasip1",' + `"layerDigests":["sha256:${CORE_MODULE_SHA256}"],"component":null}`;
const CORE_MODULE_CONFIG_SHA256 = 'c8cf82fd1b9877d9c9ea29c8a045e1c9d7ba64d42b9d5222771e15020146197b';

const HTTP_COMPONENT_MANIFEST =
  '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",' +
  `"config":{"mediaType":"application/vnd.wasm.config.v0+json","digest":"sha256:${HTTP_COMPONENT_CONFIG_SHA256}","size":368},` +
  `"layers":[{"mediaType":"application/wasm","digest":"sha256:${HTTP_COMPONENT_SHA256}","size":7353,` +
  '"annotations":{"org.opencontainers.image.title":"hello-http.wasm"}}],' +
  '"annotations":{"org.opencontainers.image.created":"2026-01-01T00:00:00Z"}}';
const HTTP_COMPONENT_MANIFEST_SHA256 = '4260b4815cfe23cc5e941d33d8cb1caaeb6de4591ad76e98200f6215945eaf26';

describe('media types', () => {
  it('are the oci-wasm ones that wkg and wasmCloud accept', () => {
    expect(WASM_CONFIG_MEDIA_TYPE).toBe('application/vnd.wasm.config.v0+json');
    expect(WASM_LAYER_MEDIA_TYPE).toBe('application/wasm');
    expect(OCI_MANIFEST_MEDIA_TYPE).toBe('application/vnd.oci.image.manifest.v1+json');
  });
});

describe('sha256Digest', () => {
  it('is the sha256 of the .wasm file, as the layer digest', () => {
    expect(sha256Digest(httpComponent)).toBe(`sha256:${HTTP_COMPONENT_SHA256}`);
    expect(sha256Digest(coreModule)).toBe(`sha256:${CORE_MODULE_SHA256}`);
    expect(sha256Digest(httpComponent)).toBe(`sha256:${sha256Hex(httpComponent)}`);
  });
});

describe('buildWasmConfig', () => {
  it('writes the exact config bytes for a component', () => {
    const config = buildWasmConfig({ inspection: inspect(httpComponent), wasmDigest: sha256Digest(httpComponent), created: CREATED });

    expect(config.bytes.toString('utf8')).toBe(HTTP_COMPONENT_CONFIG);
    expect(config.digest).toBe(`sha256:${HTTP_COMPONENT_CONFIG_SHA256}`);
    expect(config.digest).toBe(`sha256:${sha256Hex(config.bytes)}`);
    expect(config.size).toBe(368);
    expect(config.size).toBe(config.bytes.length);
    expect(JSON.parse(HTTP_COMPONENT_CONFIG)).toEqual(config.json);
  });

  it('writes `component: null` for a core module, as rust-oci-wasm does', () => {
    const config = buildWasmConfig({ inspection: inspect(coreModule), wasmDigest: sha256Digest(coreModule), created: CREATED });

    expect(config.bytes.toString('utf8')).toBe(CORE_MODULE_CONFIG);
    expect(config.digest).toBe(`sha256:${CORE_MODULE_CONFIG_SHA256}`);
    expect(config.size).toBe(192);
  });

  it('writes the creation time in UTC with seconds precision', () => {
    const config = buildWasmConfig({
      inspection: inspect(coreModule),
      wasmDigest: sha256Digest(coreModule),
      created: new Date('2026-03-04T05:06:07.891+02:00'),
    });
    expect(config.json.created).toBe('2026-03-04T03:06:07Z');
  });

  it('writes the author when one is given', () => {
    const config = buildWasmConfig({
      inspection: inspect(coreModule),
      wasmDigest: sha256Digest(coreModule),
      created: CREATED,
      author: 'Build Bot <build@example.com>',
    });
    expect(config.bytes.toString('utf8')).toContain('"created":"2026-01-01T00:00:00Z","author":"Build Bot <build@example.com>","architecture"');
  });

  it('rejects a digest that is not sha256 and an invalid date', () => {
    const inspection = inspect(coreModule);
    expect(() => buildWasmConfig({ inspection, wasmDigest: HTTP_COMPONENT_SHA256, created: CREATED })).toThrow(/wasmDigest must be a sha256 digest/);
    expect(() => buildWasmConfig({ inspection, wasmDigest: `sha256:${HTTP_COMPONENT_SHA256.toUpperCase()}`, created: CREATED })).toThrow(TypeError);
    expect(() => buildWasmConfig({ inspection, wasmDigest: sha256Digest(coreModule), created: new Date('nope') })).toThrow(RangeError);
  });
});

describe('buildWasmManifest', () => {
  const config = buildWasmConfig({ inspection: inspect(httpComponent), wasmDigest: sha256Digest(httpComponent), created: CREATED });
  const layer = { digest: sha256Digest(httpComponent), size: httpComponent.length, title: 'hello-http.wasm' };

  it('writes the exact manifest bytes', () => {
    const manifest = buildWasmManifest({ config, layer, created: CREATED });

    expect(manifest.bytes.toString('utf8')).toBe(HTTP_COMPONENT_MANIFEST);
    expect(manifest.digest).toBe(`sha256:${HTTP_COMPONENT_MANIFEST_SHA256}`);
    expect(manifest.digest).toBe(`sha256:${sha256Hex(manifest.bytes)}`);
    expect(manifest.size).toBe(511);
    expect(manifest.json.layers[0].digest).toBe(`sha256:${sha256Hex(httpComponent)}`);
    expect(manifest.json.config.digest).toBe(`sha256:${sha256Hex(config.bytes)}`);
  });

  it('adds user annotations after the creation time, sorted by key', () => {
    const manifest = buildWasmManifest({
      config,
      layer,
      created: CREATED,
      annotations: { 'org.opencontainers.image.version': '1.2.3', 'org.opencontainers.image.authors': 'ACME' },
    });
    expect(manifest.bytes.toString('utf8')).toContain(
      '"annotations":{"org.opencontainers.image.created":"2026-01-01T00:00:00Z",' + '"org.opencontainers.image.authors":"ACME","org.opencontainers.image.version":"1.2.3"}}',
    );
  });

  it('refuses a user annotation for the creation time and malformed descriptors', () => {
    expect(() => buildWasmManifest({ config, layer, created: CREATED, annotations: { 'org.opencontainers.image.created': 'yesterday' } })).toThrow(
      /org.opencontainers.image.created annotation is set from the creation date/,
    );
    expect(() => buildWasmManifest({ config: { ...config, size: -1 }, layer, created: CREATED })).toThrow(/config.size/);
    expect(() => buildWasmManifest({ config, layer: { ...layer, digest: 'sha512:00' }, created: CREATED })).toThrow(/layer.digest/);
  });
});

describe('sanitizeLayerTitle', () => {
  it.each([
    ['hello-http.wasm', 'hello-http.wasm'],
    ['hello-http', 'hello-http.wasm'],
    ['registry.example:5000/acme/tools/hello-http', 'hello-http.wasm'],
    ['C:\\builds\\out\\Hello_World.WASM', 'Hello_World.wasm'],
    ['my component (final).wasm', 'my-component-final.wasm'],
    ['../../etc/passwd', 'passwd.wasm'],
    ['..', 'component.wasm'],
    ['.wasm', 'component.wasm'],
    ['', 'component.wasm'],
    ['café@1.0', 'caf-1.0.wasm'],
    ['-dash.', 'dash.wasm'],
  ])('%j → %j', (input, expected) => {
    expect(sanitizeLayerTitle(input)).toBe(expected);
  });

  it('keeps titles to a file name length', () => {
    const title = sanitizeLayerTitle('a'.repeat(1000));
    expect(title).toHaveLength(255);
    expect(title.endsWith('.wasm')).toBe(true);
  });
});
