// The dashboard in real Chromium (playwright-core): what the page says, the bytes it loads
// and receives (Chrome's own network accounting, over CDP), console errors, axe-core.
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { repositoryRoot } from '../../src/lib/paths.js';

export const CHROMIUM = '/usr/bin/chromium';
export const SCREENSHOTS = path.join(repositoryRoot, 'test-results');

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

export interface DashboardPage {
  page: Page;
  /** Console errors and warnings, page errors. */
  errors: string[];
  /** Bytes on the wire (headers included) of each finished load, by path. */
  loaded: Map<string, number>;
  /** Bytes of the event stream received so far. */
  streamBytes(): number;
  /** Content-Encoding of each response, by path. */
  encodings: Map<string, string | undefined>;
  text(selector: string): Promise<string>;
  /** The big figure; null while it reads "…" (measuring). */
  speed(): Promise<number | null>;
  /** Violations axe-core finds: "rule: help (n nodes)". */
  axe(): Promise<string[]>;
  screenshot(name: string): Promise<void>;
}

const require = createRequire(import.meta.url);
let axeSource: string | undefined;

export async function openDashboard(browser: Browser, url: string, viewport = { width: 1280, height: 800 }): Promise<DashboardPage> {
  const page = await browser.newPage({ viewport });
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') errors.push(`${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (err) => errors.push(`page error: ${err.message}`));
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  const paths = new Map<string, string>();
  const loaded = new Map<string, number>();
  const encodings = new Map<string, string | undefined>();
  let stream = 0;
  cdp.on('Network.requestWillBeSent', (e) => paths.set(e.requestId, new URL(e.request.url).pathname));
  cdp.on('Network.responseReceived', (e) => {
    const headers = Object.fromEntries(Object.entries(e.response.headers).map(([k, v]) => [k.toLowerCase(), v]));
    encodings.set(new URL(e.response.url).pathname, headers['content-encoding']);
  });
  cdp.on('Network.dataReceived', (e) => {
    if (paths.get(e.requestId) === '/events') stream += e.dataLength;
  });
  cdp.on('Network.loadingFinished', (e) => {
    const at = paths.get(e.requestId);
    if (at && at !== '/events') loaded.set(at, e.encodedDataLength);
  });
  await page.goto(`${url}/`);
  const text = async (selector: string) => ((await page.locator(selector).textContent()) ?? '').trim();
  return {
    page,
    errors,
    loaded,
    encodings,
    streamBytes: () => stream,
    text,
    async speed() {
      const shown = await text('#speed');
      return shown === '…' ? null : Number(shown.replace(/,/g, ''));
    },
    async axe() {
      axeSource ??= await readFile(require.resolve('axe-core/axe.min.js'), 'utf8');
      // Evaluated over CDP, which the page's Content-Security-Policy does not govern.
      await page.evaluate(axeSource);
      return page.evaluate(async () => {
        const axe = (window as unknown as { axe: { run(): Promise<{ violations: { id: string; help: string; nodes: unknown[] }[] }> } }).axe;
        const result = await axe.run();
        return result.violations.map((v) => `${v.id}: ${v.help} (${v.nodes.length} nodes)`);
      });
    },
    async screenshot(name) {
      await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`) });
    },
  };
}
