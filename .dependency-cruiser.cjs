/**
 * The layering rules of DESIGN.md "Layout": dependencies point one way, features → engine → libraries →
 * platform. `npm run depcruise` checks src/ against them (and `npm test` runs it first).
 *
 * The folder lists are the single place that says which folder sits in which layer: a new folder must
 * be added to one of them (the `unlayered-folder` rule fails until it is).
 */
const FEATURES = ['artifacts', 'signing', 'verification', 'transparency', 'webhooks', 'probes', 'builds', 'auth'];
const ENGINE = ['pipeline'];
const LIBRARIES = ['registry', 'signature-formats', 'sigstore', 'wasm', 'x509'];
const PLATFORM = ['access', 'common', 'config', 'database', 'logging', 'metrics', 'health', 'lifecycle', 'admin', 'openapi'];
/** Above every layer: the entry points (cli/) and the library surface for embedding programs (embedding/, with src/index.ts). */
const COMPOSITION = ['cli', 'embedding'];

const under = (folders) => `^src/(${folders.join('|')})/`;
const LAYERED = [...FEATURES, ...ENGINE, ...LIBRARIES, ...PLATFORM, ...COMPOSITION];

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'platform-imports-upward',
      comment: 'The platform (common, config, database, …) serves everyone and imports no library, engine, feature or composition file.',
      severity: 'error',
      from: { path: under(PLATFORM) },
      to: { path: [under([...LIBRARIES, ...ENGINE, ...FEATURES, ...COMPOSITION]), '^src/[^/]+\\.ts$'] },
    },
    {
      name: 'library-imports-upward',
      comment: 'Libraries (registry, signature formats, Sigstore, X.509) are framework-free building blocks: they never import the engine or a feature.',
      severity: 'error',
      from: { path: under(LIBRARIES) },
      to: { path: [under([...ENGINE, ...FEATURES, ...COMPOSITION]), '^src/[^/]+\\.ts$'] },
    },
    {
      name: 'engine-imports-feature',
      comment: 'The pipeline knows no feature: features register step handlers and observers with it.',
      severity: 'error',
      from: { path: under(ENGINE) },
      to: { path: [under([...FEATURES, ...COMPOSITION]), '^src/[^/]+\\.ts$'] },
    },
    {
      name: 'cross-feature-import',
      comment: 'A feature never imports another one: shared pieces move down into a library, or are inverted through an engine registry or injection token.',
      severity: 'error',
      from: { path: `^src/(${FEATURES.join('|')})/` },
      to: { path: under(FEATURES), pathNot: '^src/$1/' },
    },
    {
      name: 'library-imports-framework',
      comment: 'Libraries are framework-free: no Nest, and no HTTP problem types (problems are made at the edge).',
      severity: 'error',
      from: { path: under(LIBRARIES), pathNot: '\\.spec\\.ts$' },
      to: { path: ['(^|/)node_modules/@nestjs/', '^@nestjs/', '^src/common/problem[^/]*$'] },
    },
    {
      name: 'cli-client-imports-service',
      comment: 'The command-line client (src/cli/client) speaks HTTP to the service: it imports none of the service code, only its own files and packages.',
      severity: 'error',
      from: { path: '^src/cli/client/' },
      to: { path: '^src/', pathNot: '^src/cli/client/' },
    },
    {
      name: 'folder-cycle',
      comment: 'No import cycle between folders: two folders that need each other are one folder, or one of them holds a piece that belongs lower.',
      severity: 'error',
      scope: 'folder',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'unlayered-folder',
      comment: 'Every folder of src/ belongs to a layer: add a new one to a list in .dependency-cruiser.cjs.',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^src/[^/]+/', pathNot: [under(LAYERED)] },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: ['^dist/', '\\.d\\.ts$', '\\.spec\\.ts$', '/__fixtures__/'] },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: require('node:path').join(__dirname, 'tsconfig.json') },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'], extensions: ['.ts', '.js', '.json'] },
  },
};
