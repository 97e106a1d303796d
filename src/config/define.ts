// How a setting is declared. A setting is one zod schema that carries everything about it: its
// environment variable, its default (written as it would be in the environment), what it accepts,
// and a `.describe()` text. The schemas in server_settings.ts and proxy_settings.ts are the only
// place a setting is declared: the loaders read them, the TypeScript types are inferred from them,
// and docs/configuration.md is generated from them (scripts/gen-config-docs.mjs).
import { z } from 'zod';
import { isHostPattern, normaliseHostName } from '../lib/host_names.js';
import { parseDuration } from '../lib/duration.js';

export interface SettingMeta {
  /** The environment variable, prefix included. */
  readonly env: string;
  /** The default as it would be written in the environment; undefined when unset means "none". */
  readonly default?: string;
  /** What the variable accepts, for the reference ("duration, 30s to 1d"). */
  readonly values: string;
  /** Read from the variable or from the file its `_FILE` variable names; never in an error or log. */
  readonly secret?: boolean;
  /** Set for a setting without a default that must be given: says what to give. */
  readonly required?: string;
}

/** Metadata of every setting; `.describe()` keeps it (zod copies metadata to the described clone). */
export const settingRegistry = z.registry<SettingMeta>();

/** A kind of value: how its environment string is parsed, and how the reference names it. */
export interface Kind<T> {
  readonly schema: z.ZodType<T, string>;
  readonly values: string;
}

type Setting<T> = z.ZodType<T, string | undefined>;

/** A setting with a default. */
export function setting<T>(env: string, kind: Kind<T>, options: { default: string }): Setting<T>;
/** A setting that must be given (`required` says what to give), possibly a secret. */
export function setting<T>(env: string, kind: Kind<T>, options: { required: string; secret?: boolean }): Setting<T>;
/** An optional setting, possibly a secret: undefined when unset. */
export function setting<T>(env: string, kind: Kind<T>, options?: { secret?: boolean }): Setting<T | undefined>;
export function setting<T>(
  env: string,
  kind: Kind<T>,
  options: { default?: string; required?: string; secret?: boolean } = {},
): Setting<T> | Setting<T | undefined> {
  const meta: SettingMeta = { env, values: kind.values, ...options };
  if (options.default !== undefined) return kind.schema.prefault(options.default).register(settingRegistry, meta);
  // A required setting's absence is reported by the reader (src/config/read.ts) with its hint.
  if (options.required !== undefined) return (kind.schema as Setting<T>).register(settingRegistry, meta);
  return kind.schema.optional().register(settingRegistry, meta);
}

// ---- kinds --------------------------------------------------------------------------------------

const DAY = 86400;

export { DAY };

/** 90 → "90s", 900 → "15m", 86400 → "1d": the shortest exact form, as the reference shows it. */
export function formatSeconds(seconds: number): string {
  if (seconds === 0) return '0';
  if (seconds % DAY === 0) return `${seconds / DAY}d`;
  if (seconds % 3600 === 0) return `${seconds / 3600}h`;
  if (seconds % 60 === 0) return `${seconds / 60}m`;
  return `${seconds}s`;
}

/** Seconds, written 300, 300s, 5m, 12h or 30d. */
export function duration(min: number, max: number): Kind<number> {
  return {
    values: `duration, ${formatSeconds(min)} to ${formatSeconds(max)}`,
    schema: z.string().transform((raw, ctx) => {
      const seconds = parseDuration(raw);
      if (seconds === undefined) {
        ctx.addIssue({ code: 'custom', message: 'must be a duration like 300, 300s, 5m, 12h or 30d' });
        return z.NEVER;
      }
      if (seconds < min || seconds > max) {
        ctx.addIssue({ code: 'custom', message: `must be between ${min}s and ${max}s` });
        return z.NEVER;
      }
      return seconds;
    }),
  };
}

/** A whole number in [min, max]. */
export function count(min: number, max: number): Kind<number> {
  const message = `must be a whole number from ${min} to ${max}`;
  return {
    values: `whole number, ${min} to ${max}`,
    schema: z
      .string()
      .regex(/^\d{1,10}$/, message)
      .transform(Number)
      .refine((n) => n >= min && n <= max, message),
  };
}

export function port(min = 1): Kind<number> {
  const message = `must be a port number from ${min} to 65535`;
  return {
    values: `port, ${min} to 65535`,
    schema: z
      .string()
      .regex(/^\d{1,5}$/, message)
      .transform(Number)
      .refine((n) => n >= min && n <= 65535, message),
  };
}

export const flag: Kind<boolean> = {
  values: '`true` or `false` (`1`, `0`)',
  schema: z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1'),
};

export const onOff: Kind<boolean> = {
  values: '`on` or `off`',
  schema: z.enum(['on', 'off']).transform((v) => v === 'on'),
};

export function oneOf<const T extends readonly [string, ...string[]]>(options: T): Kind<T[number]> {
  return { values: options.map((o) => `\`${o}\``).join(', '), schema: z.enum(options) };
}

export function text(values = 'text'): Kind<string> {
  return { values, schema: z.string().min(1) };
}

/** A file path; whether the file can be read is checked where it is used. */
export const filePath: Kind<string> = text('file path');

/** A secret of at least `min` characters. */
export function secret(min: number, hint = ''): Kind<string> {
  return {
    values: min > 1 ? `secret, at least ${min} characters` : 'secret',
    schema: z.string().min(min, `must be at least ${min} characters${hint}`),
  };
}

/** A list separated by commas (or by `separator`), each item matching `item`. */
export function list(
  values: string,
  item: RegExp,
  message: string,
  { separator = /,/, lowerCase = false, min = 0 }: { separator?: RegExp; lowerCase?: boolean; min?: number } = {},
): Kind<string[]> {
  return {
    values,
    schema: z.string().transform((raw, ctx) => {
      const items = raw
        .split(separator)
        .map((d) => (lowerCase ? d.trim().toLowerCase() : d.trim()))
        .filter((d) => d !== '');
      if (items.length < min || !items.every((d) => item.test(d))) {
        ctx.addIssue({ code: 'custom', message });
        return z.NEVER;
      }
      return items;
    }),
  };
}

/**
 * Host names or `*.`-prefixed patterns, comma-separated: the one host-name grammar of
 * src/lib/host_names.ts, so a name the lists accept is never refused by a domain block.
 */
export const domainList: Kind<string[]> = {
  values: 'comma-separated host names or `*.example.com` patterns',
  schema: z.string().transform((raw, ctx) => {
    const items = raw
      .split(',')
      .map(normaliseHostName)
      .filter((d) => d !== '');
    if (!items.every(isHostPattern)) {
      ctx.addIssue({ code: 'custom', message: 'must be a comma-separated list of host names or *.domain patterns' });
      return z.NEVER;
    }
    return items;
  }),
};

// ---- frozen results -----------------------------------------------------------------------------

export type Frozen<T> = T extends (...args: never[]) => unknown
  ? T
  : T extends readonly (infer U)[]
    ? readonly Frozen<U>[]
    : T extends object
      ? { readonly [K in keyof T]: Frozen<T[K]> }
      : T;

export function deepFreeze<T>(value: T): Frozen<T> {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value as Frozen<T>;
}
