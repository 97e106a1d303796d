// Reads settings declared with src/config/define.ts out of the environment. Every variable is
// checked and every problem is collected, so one start names all the bad variables at once.
// Values never appear in a message: a message says which variable and what it must be.
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { type SettingMeta, settingRegistry } from './define.js';

export type Env = Record<string, string | undefined>;

/** Invalid configuration: `problems` lists one line per bad variable, the message all of them. */
export class ConfigError extends Error {
  override name = 'ConfigError';
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    const [first] = problems;
    super(
      problems.length === 1 && first !== undefined
        ? first
        : `${problems.length} settings are invalid: ${problems.join('; ')}`,
    );
    this.problems = Object.freeze([...problems]);
  }
}

/** Collects problems; each names its variable, which is then known to be invalid. */
export class Problems {
  readonly #lines: string[] = [];
  readonly #invalid = new Set<string>();

  /**
   * `message` either starts with a variable name and is used as it is, or is the rest of a
   * sentence ("must be …") or a detail, and gets the variable name in front. One line per
   * variable: the first thing found wrong with it.
   */
  add(variable: string, message: string): void {
    if (this.#invalid.has(variable)) return;
    this.#invalid.add(variable);
    const named = message.startsWith(variable) || /^[A-Z][A-Z0-9_]*_[A-Z0-9_]+\b/.test(message);
    this.#lines.push(named ? message : sentence(variable, message));
  }

  /** Marks variables invalid without a message of their own (their problem is already listed). */
  invalidate(...variables: string[]): void {
    for (const v of variables) this.#invalid.add(v);
  }

  /** Runs a check over several settings only when each of them is valid on its own. */
  whenValid(variables: readonly string[], check: () => void): void {
    if (variables.every((v) => !this.#invalid.has(v))) check();
  }

  get any(): boolean {
    return this.#lines.length > 0;
  }

  throwIfAny(): void {
    if (this.#lines.length > 0) throw new ConfigError(this.#lines);
  }
}

/**
 * A secret from `NAME` or from the file `NAME_FILE` names (trimmed); both at once is an error.
 * Secrets never come from the command line: process lists and shell history keep them.
 */
export function readSecret(env: Env, name: string, problems: Problems): string | undefined {
  const direct = nonEmpty(env[name]);
  const file = nonEmpty(env[`${name}_FILE`]);
  if (direct !== undefined && file !== undefined) {
    problems.add(name, `${name} and ${name}_FILE are both set; set only one`);
    return undefined;
  }
  if (file === undefined) return direct;
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    problems.add(name, `${name}_FILE: cannot read the file it names`);
    return undefined;
  }
}

const nonEmpty = (value: string | undefined) => (value === undefined || value === '' ? undefined : value);

export interface SettingLeaf {
  /** Where the value lands in the parsed object, e.g. ['loginThrottle', 'perUser']. */
  readonly path: readonly string[];
  readonly meta: SettingMeta;
  readonly description: string;
  readonly schema: z.ZodType;
}

export interface SettingGroup {
  readonly path: readonly string[];
  readonly title: string;
  readonly description: string;
  readonly settings: readonly SettingLeaf[];
}

/** The settings of a schema, group by group (the top level first), in declaration order. */
export function settingGroups(tree: z.ZodObject, path: readonly string[] = []): SettingGroup[] {
  const own: SettingLeaf[] = [];
  const nested: SettingGroup[] = [];
  for (const [key, schema] of Object.entries(tree.shape as Record<string, z.ZodType>)) {
    const meta = settingRegistry.get(schema);
    if (meta) own.push({ path: [...path, key], meta, description: schema.description ?? '', schema });
    else if (schema instanceof z.ZodObject) nested.push(...settingGroups(schema, [...path, key]));
    else throw new Error(`${[...path, key].join('.')} is neither a setting nor a group of settings`);
  }
  const title = z.globalRegistry.get(tree)?.title ?? path.join('.');
  return [{ path, title, description: tree.description ?? '', settings: own }, ...nested];
}

export function settingLeaves(tree: z.ZodObject): SettingLeaf[] {
  return settingGroups(tree).flatMap((g) => g.settings);
}

/**
 * Parses every setting of `tree` from `env`. A setting that is invalid is reported to `problems`
 * and left undefined in the result: read the result only after `problems.throwIfAny()`, or inside
 * `problems.whenValid` for the settings used.
 */
export function readSettings<T extends z.ZodObject>(tree: T, env: Env, problems: Problems): z.output<T> {
  const result: Record<string, unknown> = {};
  for (const leaf of settingLeaves(tree)) {
    const { env: name, secret, required } = leaf.meta;
    const raw = secret ? readSecret(env, name, problems) : nonEmpty(env[name]);
    let value: unknown;
    const label = secret ? `${name} (or ${name}_FILE)` : name;
    if (raw === undefined && required !== undefined) {
      problems.add(name, `${label} is required: ${required}`);
    } else {
      const parsed = leaf.schema.safeParse(raw);
      // One line per variable: the first thing wrong with it.
      if (parsed.success) value = parsed.data;
      else problems.add(name, sentence(label, parsed.error.issues[0]?.message));
    }
    setPath(result, leaf.path, value);
  }
  return result as z.output<T>;
}

/** "X must be …" when the message goes on the sentence, "X: Detail" when it stands alone. */
export function sentence(subject: string, message = 'is invalid'): string {
  return /^[a-z(]/.test(message) ? `${subject} ${message}` : `${subject}: ${message}`;
}

function setPath(target: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    node[key] ??= {};
    node = node[key] as Record<string, unknown>;
  }
  const last = path[path.length - 1];
  if (last !== undefined) node[last] = value;
}

/** Each setting's default, parsed (undefined for settings without one): for programmatic configs. */
export function settingDefaults<T extends z.ZodObject>(tree: T): z.output<T> {
  const result: Record<string, unknown> = {};
  for (const leaf of settingLeaves(tree)) {
    setPath(result, leaf.path, leaf.meta.default === undefined ? undefined : leaf.schema.parse(leaf.meta.default));
  }
  return result as z.output<T>;
}
