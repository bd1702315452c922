/**
 * What a table's definition says about the table for people and the catalog: who owns it, its tags,
 * and a comment per column (its `description` is checked with the other strings). Tables and bronze
 * sources take the same keys, so a catalog entry reads them the same way whichever layer it is.
 *
 * The rules are strict because these values are searched and filtered on: an owner is an e-mail
 * address (a person or a group mailbox, as Entra names them) or a team name; a tag is one word such
 * as `pii`, `finance` or `domain:sales` (letters, digits and `_ . : = / -`), so that `?tag=` matches
 * exactly what was written.
 */

/** Most characters of an owner. */
export const OWNER_MAX = 256;
/** Most tags one table carries. */
export const TAGS_MAX = 32;
/** Most characters of one column comment. */
export const COMMENT_MAX = 1024;

const EMAIL = /^[^\s@<>()[\]\\,;:"]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$/;
const TEAM = /^[\p{L}\p{N}][\p{L}\p{N} ._&'()-]*$/u;
/** A tag as written in the YAML and matched by `?tag=`. */
export const TAG_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:=/-]{0,63}$/;

/**
 * Why an owner is refused, or null when it is fine.
 *
 * @param owner the value of `owner:`
 * @returns the problem, for the YAML path's message
 */
export function ownerProblem(owner: unknown): string | null {
  if (typeof owner !== 'string')
    return `expected an e-mail address or a team name, got ${owner === null ? 'null' : Array.isArray(owner) ? 'a list' : typeof owner}`;
  const text = owner.trim();
  if (text === '') return 'expected an e-mail address or a team name, got an empty string';
  if (text.length > OWNER_MAX) return `at most ${OWNER_MAX} characters, got ${text.length}`;
  if (text.includes('@')) return EMAIL.test(text) ? null : `"${text}" is not an e-mail address (name@example.com)`;
  return TEAM.test(text)
    ? null
    : `"${text}" is neither an e-mail address nor a team name (letters, digits, spaces and . _ & ' ( ) -, starting with a letter or digit)`;
}

/**
 * Why a tag is refused, or null when it is fine.
 *
 * @param tag one entry of `tags:`
 * @returns the problem
 */
export function tagProblem(tag: unknown): string | null {
  if (typeof tag !== 'string') return `expected a tag, got ${tag === null ? 'null' : Array.isArray(tag) ? 'a list' : typeof tag}`;
  if (!TAG_PATTERN.test(tag))
    return `"${tag}" is not a tag: one word of letters, digits and _ . : = / - (at most 64 characters, starting with a letter or digit), e.g. pii or domain:sales`;
  return null;
}

/**
 * Why a column comment is refused, or null when it is fine.
 *
 * @param comment the value under `comments.<column>`
 * @returns the problem
 */
export function commentProblem(comment: unknown): string | null {
  if (typeof comment !== 'string' || comment.trim() === '') return 'expected the column comment, a non-empty string';
  if (comment.length > COMMENT_MAX) return `at most ${COMMENT_MAX} characters, got ${comment.length}`;
  return null;
}
