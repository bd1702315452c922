/**
 * A small gitignore-syntax matcher, enough to apply `.funcignore` the way azd does when it zips a
 * service folder (azd reads the file as gitignore rules): comments and blank lines, `!` negation (the
 * last matching rule wins), a leading or inner `/` anchoring a rule to the root, a trailing `/` for
 * folders only, `*`, `?`, `[...]` and `**`. As in git, a file inside an ignored folder stays ignored
 * whatever a later rule says, because the walk never enters that folder.
 */
import { lstatSync, readdirSync, statSync } from 'node:fs';
import * as nodePath from 'node:path';

interface Rule {
  /** The rule as written, for messages. */
  source: string;
  negated: boolean;
  directoryOnly: boolean;
  regex: RegExp;
}

/** Parsed rules of one ignore file. */
export interface IgnoreRules {
  /** Whether `relativePath` (`/`-separated, from the root) is ignored. */
  ignores(relativePath: string, isDirectory: boolean): boolean;
  /** Whether a packager leaves `relativePath` out: it or one of its folders is ignored. */
  excludes(relativePath: string, isDirectory: boolean): boolean;
}

/**
 * Parse gitignore-syntax text.
 * @param text the file's content
 * @returns the rules
 */
export function parseIgnoreRules(text: string): IgnoreRules {
  const rules: Rule[] = [];
  for (const raw of text.split(/\r?\n/)) {
    let line = raw.replace(/(?<!\\)\s+$/, '');
    if (line === '' || line.startsWith('#')) continue;
    const negated = line.startsWith('!');
    if (negated) line = line.slice(1);
    const directoryOnly = line.endsWith('/');
    if (directoryOnly) line = line.slice(0, -1);
    // A slash anywhere but at the end ties the rule to the root; otherwise it matches at any depth.
    const anchored = line.includes('/');
    if (line.startsWith('/')) line = line.slice(1);
    const body = globToRegex(line);
    rules.push({ source: raw, negated, directoryOnly, regex: new RegExp(`^${anchored ? '' : '(?:.*/)?'}${body}$`) });
  }
  const ignores = (relativePath: string, isDirectory: boolean) => {
    let ignored = false;
    for (const rule of rules) {
      if (rule.directoryOnly && !isDirectory) continue;
      if (rule.regex.test(relativePath)) ignored = !rule.negated;
    }
    return ignored;
  };
  return {
    ignores,
    excludes(relativePath, isDirectory) {
      const parts = relativePath.split('/');
      for (let i = 1; i < parts.length; i++) if (ignores(parts.slice(0, i).join('/'), true)) return true;
      return ignores(relativePath, isDirectory);
    },
  };
}

function globToRegex(glob: string): string {
  let out = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*' && glob[i + 1] === '*') {
      const atStart = i === 0 || glob[i - 1] === '/';
      const atEnd = i + 2 === glob.length || glob[i + 2] === '/';
      if (atStart && atEnd) {
        // `**/` is any number of folders (none included); a final `**` is everything below.
        if (i + 2 === glob.length) out += '.*';
        else {
          out += '(?:.*/)?';
          i++; // the slash
        }
        i++;
        continue;
      }
      out += '[^/]*';
      i++;
    } else if (c === '*') out += '[^/]*';
    else if (c === '?') out += '[^/]';
    else if (c === '[') {
      const close = glob.indexOf(']', i + 1);
      if (close < 0) out += '\\[';
      else {
        const inner = glob
          .slice(i + 1, close)
          .replace(/^!/, '^')
          .replace(/\\/g, '\\\\');
        out += `[${inner}]`;
        i = close;
      }
    } else if (c === '\\' && i + 1 < glob.length) out += escapeRegex(glob[++i]!);
    else out += escapeRegex(c);
  }
  return out;
}

function escapeRegex(c: string): string {
  return /[.*+?^${}()|[\]\\/]/.test(c) ? `\\${c}` : c;
}

/** One file of a package. */
export interface PackageFile {
  /** `/`-separated path from the root. */
  path: string;
  size: number;
}

/**
 * The files under `root` the rules keep, as a packager walking the folder would see them: ignored
 * folders are not entered, symbolic links are listed but not followed.
 * @param root folder to walk
 * @param rules the ignore rules
 * @returns kept files, sorted by path
 */
export function packageFiles(root: string, rules: IgnoreRules): PackageFile[] {
  const out: PackageFile[] = [];
  const visit = (dir: string, prefix: string) => {
    for (const name of readdirSync(dir).sort()) {
      const relative = prefix ? `${prefix}/${name}` : name;
      const full = nodePath.join(dir, name);
      const stat = lstatSync(full);
      // A link to a folder (a worktree's shared node_modules) is matched as a folder but never entered.
      const isDirectory = stat.isDirectory() || (stat.isSymbolicLink() && statSync(full, { throwIfNoEntry: false })?.isDirectory() === true);
      if (rules.ignores(relative, isDirectory)) continue;
      if (stat.isDirectory()) visit(full, relative);
      else out.push({ path: relative, size: stat.size });
    }
  };
  visit(root, '');
  return out;
}
