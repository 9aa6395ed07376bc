/**
 * Layering of src/ (npm run check:layers). From the top:
 *   front ends   api/ (Docker Engine API), cli/ (+ client/, its HTTP client), cri/ (Kubernetes CRI),
 *                buildkit/ (BuildKit's gRPC API on api/'s /grpc and /session connections)
 *   daemon/      wiring and the services that implement api/backend.ts
 *   lower layers runtime/ network/ layer/ image/ distribution/ container/ volume/ build/
 *   lib/         at the bottom: imports nothing of src/ but lib/
 * Nothing imports upward, there are no cycles, and the CLI never imports daemon code.
 * Lower layers may use api/'s wire types (`import type`), never its code.
 */
const LOWER = '^src/(runtime|network|layer|image|distribution|container|containerfs|volume|build)/';

// Generated from the vendored CRI proto (scripts/gen-cri-types.sh): its descriptor types refer to
// each other, as protobuf's own do.
const GENERATED = '^src/cri/gen/';

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'Import cycles make load order and ownership unclear (a lazy import() is no load-order cycle).',
      from: { path: '^src/', pathNot: GENERATED },
      to: { circular: true, dependencyTypesNot: ['dynamic-import'], viaOnly: { dependencyTypesNot: ['dynamic-import'] } },
    },
    {
      name: 'cli-not-daemon',
      severity: 'error',
      comment: 'The CLI talks to wharfd over the API (client/), never by importing daemon code.',
      from: { path: '^src/(cli|client)/' },
      to: { path: '^src/daemon/' },
    },
    {
      name: 'cli-only-front-end-code',
      severity: 'error',
      comment: 'The CLI may use the client, api wire types, pure parsing code (image references, build files, lib) and the safe containerfs extractor (cp).',
      from: { path: '^src/(cli|client)/' },
      to: { path: '^src/', pathNot: '^src/(cli|client|api|image|build|lib|daemon|containerfs)/' },
    },
    {
      name: 'api-not-daemon-or-cli',
      severity: 'error',
      comment: 'api/ routes call the interfaces of api/backend.ts; daemon/ implements them.',
      from: { path: '^src/api/' },
      to: { path: '^src/(daemon|cli|client|cri|buildkit)/' },
    },
    {
      name: 'cri-not-daemon-or-cli',
      severity: 'error',
      comment: 'The CRI endpoint calls the interfaces of cri/backend.ts and cri/streaming/types.ts; daemon/cri/ implements them.',
      from: { path: '^src/cri/' },
      to: { path: '^src/(daemon|cli|client|api)/' },
    },
    {
      name: 'buildkit-not-daemon-or-cli',
      severity: 'error',
      comment: 'The BuildKit API runs builds through the DockerfileBuilder interface of buildkit/controller.ts; daemon/ implements it.',
      from: { path: '^src/buildkit/' },
      to: { path: '^src/(daemon|cli|client|cri)/' },
    },
    {
      name: 'buildkit-only-api-types',
      severity: 'error',
      comment: "buildkit/ may use api/'s wire types (import type) but never its code.",
      from: { path: '^src/buildkit/' },
      to: { path: '^src/api/', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'lower-not-upward',
      severity: 'error',
      comment: 'Lower layers never import daemon/ or a front end.',
      from: { path: `${LOWER}` },
      to: { path: '^src/(daemon|cli|client|cri|buildkit)/' },
    },
    {
      name: 'lower-only-api-types',
      severity: 'error',
      comment: "Lower layers may use api/'s wire types (import type) but never its code.",
      from: { path: `${LOWER}` },
      to: { path: '^src/api/', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'lib-at-the-bottom',
      severity: 'error',
      comment: 'lib/ is shared by everyone and imports nothing of src/ but lib/.',
      from: { path: '^src/lib/' },
      to: { path: '^src/', pathNot: '^src/lib/' },
    },
    {
      name: 'src-not-tests',
      severity: 'error',
      comment: 'Product code never imports test or bench code.',
      from: { path: '^src/' },
      to: { path: '^(test|bench)/' },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      comment: 'An import that resolves to nothing.',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'], extensions: ['.ts', '.js'] },
  },
};
