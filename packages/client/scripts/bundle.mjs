// The browser bundle: the SDK and socket.io-client in one ES module, for a <script type="module">
// without a bundler (the demo page uses it). Apps with a bundler import the package instead.
import { build } from 'esbuild';

await build({
  entryPoints: ['src/index.ts'],
  outfile: 'dist/browser/realtime-client.js',
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: ['es2020'],
  minify: true,
  sourcemap: true,
  legalComments: 'linked',
  logLevel: 'warning',
});
