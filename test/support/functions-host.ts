/**
 * Load function modules in a child process whose `@azure/functions-core` is a stand-in for the
 * Functions worker's (the worker injects that module the same way): the real @azure/functions turns
 * each app.* call into the function metadata the worker would send to the host, and the stand-in
 * collects it. Used to check registration as the host would see it, without a host.
 */
import { spawnSync } from 'node:child_process';
import * as nodePath from 'node:path';

const ROOT = nodePath.resolve(__dirname, '..', '..');

/** What one function registered, as the worker would report it. */
export interface RegisteredFunction {
  name: string;
  bindings: Record<string, Record<string, unknown>>;
  retryOptions?: Record<string, unknown>;
}

/**
 * Require the modules, in order, under the stand-in worker.
 *
 * @param modules absolute paths of the TypeScript modules to load
 * @param env the child's environment (undefined values are left out)
 * @returns the child's exit status, its stderr, and the functions registered (empty when it failed)
 */
export function registerUnderStandInHost(
  modules: string[],
  env: Record<string, string | undefined>,
): { status: number | null; stderr: string; functions: RegisteredFunction[] } {
  const script = `
    const Module = require('node:module');
    const registered = [];
    const core = {
      setProgrammingModel() {},
      registerHook() { return { dispose() {} }; },
      log() {},
      registerFunction(metadata) { registered.push(metadata); return { dispose() {} }; },
    };
    const load = Module._load;
    Module._load = function (request, ...rest) { return request === '@azure/functions-core' ? core : load.call(this, request, ...rest); };
    for (const file of ${JSON.stringify(modules)}) require(file);
    process.stdout.write(JSON.stringify(registered));
  `;
  const childEnv: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined) childEnv[k] = v;
  const child = spawnSync(process.execPath, ['--import', 'tsx', '-e', script], { cwd: ROOT, env: childEnv, encoding: 'utf8', timeout: 60_000 });
  return { status: child.status, stderr: child.stderr, functions: child.status === 0 ? (JSON.parse(child.stdout) as RegisteredFunction[]) : [] };
}
