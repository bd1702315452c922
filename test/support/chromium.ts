/**
 * Headless Chromium driven over the DevTools protocol through a pipe (`--remote-debugging-pipe`: the
 * browser reads commands from fd 3 and writes answers to fd 4, each message JSON ended by a NUL), so
 * the browser tests need neither a WebSocket library nor a free port. Debian's `chromium` package,
 * started with `--headless --no-sandbox --disable-gpu`.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as nodePath from 'node:path';
import type { Readable, Writable } from 'node:stream';

/** Where the browser is, or undefined when this machine has none. */
export function chromiumPath(): string | undefined {
  for (const candidate of [process.env.SLUICE_CHROMIUM, 'chromium', 'chromium-browser', 'google-chrome']) {
    if (!candidate) continue;
    const found = spawnSync('sh', ['-c', `command -v ${candidate}`], { encoding: 'utf8' });
    if (found.status === 0 && found.stdout.trim()) return found.stdout.trim();
  }
  return undefined;
}

interface Pending {
  resolve(result: Record<string, unknown>): void;
  reject(err: Error): void;
}

/** A message the browser sent without being asked (an event). */
export interface BrowserEvent {
  method: string;
  params: Record<string, unknown>;
  sessionId?: string;
}

/** One page of a running browser. */
export interface Page {
  /** Send a command to the page's session. */
  send(method: string, params?: Record<string, unknown>): Promise<Record<string, unknown>>;
  /** Evaluate an expression in the page and return its value (promises awaited). */
  evaluate<T>(expression: string): Promise<T>;
  /** Console errors, uncaught exceptions and failed loads seen so far. */
  readonly problems: string[];
  /** Requests the page sent: URL and headers. */
  readonly requests: { url: string; headers: Record<string, string> }[];
  /** Navigate and wait for the load event. */
  open(url: string): Promise<void>;
  /** Resize the viewport (CSS pixels); `mobile` turns on touch and the mobile viewport. */
  resize(width: number, height: number, mobile?: boolean): Promise<void>;
  /** A PNG of the whole page. */
  screenshot(): Promise<Buffer>;
}

/** A headless Chromium process. */
export class Browser {
  private readonly child: ChildProcess;
  private readonly profile: string;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly listeners = new Set<(event: BrowserEvent) => void>();
  private buffer = '';
  private exited = false;

  private constructor(executable: string) {
    this.profile = mkdtempSync(nodePath.join(tmpdir(), 'sluice-chromium-'));
    const args = [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--remote-debugging-pipe',
      `--user-data-dir=${this.profile}`,
      '--no-first-run',
      '--no-default-browser-check',
      '--disable-extensions',
      '--disable-background-networking',
      '--hide-scrollbars',
      '--mute-audio',
      'about:blank',
    ];
    this.child = spawn(executable, args, { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'] });
    this.child.stderr!.resume();
    const output = this.child.stdio[4] as Readable;
    output.setEncoding('utf8');
    output.on('data', (chunk: string) => this.receive(chunk));
    this.child.on('exit', () => {
      this.exited = true;
      for (const p of this.pending.values()) p.reject(new Error('chromium exited'));
      this.pending.clear();
    });
  }

  /** Start a browser; fails when none is installed. */
  static async launch(executable = chromiumPath()): Promise<Browser> {
    if (!executable) throw new Error('no chromium on this machine (apt-get install chromium, or set SLUICE_CHROMIUM)');
    const browser = new Browser(executable);
    await browser.command('Browser.getVersion');
    return browser;
  }

  private receive(chunk: string): void {
    this.buffer += chunk;
    for (let end = this.buffer.indexOf('\0'); end >= 0; end = this.buffer.indexOf('\0')) {
      const message = JSON.parse(this.buffer.slice(0, end)) as {
        id?: number;
        result?: Record<string, unknown>;
        error?: { message: string };
        method?: string;
        params?: Record<string, unknown>;
        sessionId?: string;
      };
      this.buffer = this.buffer.slice(end + 1);
      if (message.id !== undefined) {
        const waiting = this.pending.get(message.id);
        this.pending.delete(message.id);
        if (message.error) waiting?.reject(new Error(message.error.message));
        else waiting?.resolve(message.result ?? {});
      } else if (message.method) {
        for (const listener of this.listeners) listener({ method: message.method, params: message.params ?? {}, sessionId: message.sessionId });
      }
    }
  }

  /** Send a browser-level command (or a session's, with `sessionId`). */
  command(method: string, params: Record<string, unknown> = {}, sessionId?: string): Promise<Record<string, unknown>> {
    if (this.exited) return Promise.reject(new Error('chromium exited'));
    const id = this.nextId++;
    const input = this.child.stdio[3] as Writable;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      input.write(`${JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) })}\0`);
    });
  }

  /** Open a new page (tab) with its own session. */
  async newPage(): Promise<Page> {
    const { targetId } = (await this.command('Target.createTarget', { url: 'about:blank' })) as { targetId: string };
    const { sessionId } = (await this.command('Target.attachToTarget', { targetId, flatten: true })) as { sessionId: string };
    const problems: string[] = [];
    const requests: { url: string; headers: Record<string, string> }[] = [];
    let loaded: (() => void) | undefined;
    this.listeners.add((event) => {
      if (event.sessionId !== sessionId) return;
      const p = event.params as Record<string, never>;
      if (event.method === 'Runtime.exceptionThrown') {
        const details = p.exceptionDetails as { text?: string; exception?: { description?: string } };
        problems.push(`exception: ${details.exception?.description ?? details.text}`);
      } else if (event.method === 'Runtime.consoleAPICalled' && (p.type === 'error' || p.type === 'assert')) {
        problems.push(`console.${p.type}: ${(p.args as { value?: unknown; description?: string }[]).map((a) => a.value ?? a.description).join(' ')}`);
      } else if (event.method === 'Log.entryAdded') {
        const entry = p.entry as { level: string; text: string; url?: string };
        if (entry.level === 'error') problems.push(`log: ${entry.text}${entry.url ? ` (${entry.url})` : ''}`);
      } else if (event.method === 'Network.requestWillBeSent') {
        const request = p.request as { url: string; headers: Record<string, string> };
        requests.push({ url: request.url, headers: request.headers });
      } else if (event.method === 'Page.loadEventFired') {
        loaded?.();
      }
    });
    const send = (method: string, params: Record<string, unknown> = {}) => this.command(method, params, sessionId);
    await Promise.all([send('Runtime.enable'), send('Log.enable'), send('Page.enable'), send('Network.enable')]);
    return {
      send,
      problems,
      requests,
      async evaluate<T>(expression: string): Promise<T> {
        const answer = (await send('Runtime.evaluate', { expression, awaitPromise: true, returnByValue: true })) as {
          result: { value?: T };
          exceptionDetails?: { text: string; exception?: { description?: string } };
        };
        if (answer.exceptionDetails) throw new Error(`in the page: ${answer.exceptionDetails.exception?.description ?? answer.exceptionDetails.text}`);
        return answer.result.value as T;
      },
      async open(url: string): Promise<void> {
        const load = new Promise<void>((resolve) => (loaded = resolve));
        const answer = (await send('Page.navigate', { url })) as { errorText?: string };
        if (answer.errorText) throw new Error(`could not open ${url}: ${answer.errorText}`);
        await load;
      },
      async resize(width: number, height: number, mobile = false): Promise<void> {
        await send('Emulation.setDeviceMetricsOverride', { width, height, deviceScaleFactor: 1, mobile });
        await send('Emulation.setTouchEmulationEnabled', { enabled: mobile });
      },
      async screenshot(): Promise<Buffer> {
        const { data } = (await send('Page.captureScreenshot', { format: 'png', captureBeyondViewport: true })) as { data: string };
        return Buffer.from(data, 'base64');
      },
    };
  }

  /** Stop the browser and remove its profile. */
  async close(): Promise<void> {
    if (!this.exited) {
      const exited = new Promise((resolve) => this.child.once('exit', resolve));
      this.command('Browser.close').catch(() => undefined);
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(this.profile, { recursive: true, force: true });
  }
}
