/**
 * The dashboard page as built by `npm run build` (scripts/build-dashboard.mjs): one HTML file with its
 * script and styles inline, and the Content-Security-Policy pinned to their hashes. Read once per
 * process. The page holds no key and no data: it asks the API for both from the browser.
 */
import { existsSync, readFileSync } from 'node:fs';
import * as nodePath from 'node:path';
import { appRoot } from '../host/pipelines';

/** The built page and the headers it is served with. */
export interface DashboardPage {
  html: string;
  headers: Record<string, string>;
}

let cached: DashboardPage | undefined;

/**
 * The built dashboard page.
 *
 * @param root the app root (default: the folder of the package this module belongs to)
 * @returns the page and its headers
 * @throws Error naming the missing file and the command that builds it
 */
export function dashboardPage(root: string = appRoot()): DashboardPage {
  if (cached) return cached;
  const folder = nodePath.join(root, 'dist', 'dashboard');
  const htmlFile = nodePath.join(folder, 'index.html');
  if (!existsSync(htmlFile)) throw new Error(`the dashboard page is not built (${htmlFile} is missing): run npm run build`);
  const meta = JSON.parse(readFileSync(nodePath.join(folder, 'page.json'), 'utf8')) as { contentSecurityPolicy: string };
  cached = {
    html: readFileSync(htmlFile, 'utf8'),
    headers: {
      'content-type': 'text/html; charset=utf-8',
      'content-security-policy': meta.contentSecurityPolicy,
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      // The key arrives in the page's own URL: never cache a page that was asked for with one.
      'cache-control': 'no-store',
    },
  };
  return cached;
}
