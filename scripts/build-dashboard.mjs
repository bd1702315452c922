// Builds the dashboard page (dashboard/) into one self-contained HTML file, dist/dashboard/index.html:
// the script (the page and uPlot, bundled by esbuild) and the styles inline, so the page needs no CDN
// and no second request. dist/dashboard/page.json carries the Content-Security-Policy the server sends
// with it, pinned to the hashes of exactly this script and style.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { build } from 'esbuild';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const require = createRequire(import.meta.url);
const out = path.join(root, 'dist', 'dashboard');

const bundle = await build({
  entryPoints: [path.join(root, 'dashboard', 'app.ts')],
  bundle: true,
  format: 'iife',
  target: 'es2020',
  minify: true,
  write: false,
  legalComments: 'none',
  logLevel: 'warning',
});
// A `</script>` inside the bundle would end the inline element early.
const script = bundle.outputFiles[0].text.replace(/<\/script/gi, '<\\/script');
const style = [readFileSync(require.resolve('uplot/dist/uPlot.min.css'), 'utf8'), readFileSync(path.join(root, 'dashboard', 'style.css'), 'utf8')].join('\n');
const template = readFileSync(path.join(root, 'dashboard', 'index.html'), 'utf8');
const html = template.replace('/*STYLE*/', () => style).replace('/*SCRIPT*/', () => script);
const inline = (tag) => html.slice(html.indexOf(`<${tag}>`) + tag.length + 2, html.indexOf(`</${tag}>`));
const hash = (text) => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;
const csp = [
  "default-src 'none'",
  `script-src ${hash(inline('script'))}`,
  // Element styles set from script (uPlot's cursor and legend, the bars) are not inline styles to CSP.
  `style-src ${hash(inline('style'))}`,
  "connect-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');
mkdirSync(out, { recursive: true });
writeFileSync(path.join(out, 'index.html'), html);
writeFileSync(path.join(out, 'page.json'), JSON.stringify({ contentSecurityPolicy: csp, bytes: Buffer.byteLength(html) }, null, 2));
console.log(`dashboard: dist/dashboard/index.html, ${Math.round(Buffer.byteLength(html) / 1024)} KiB`);
