// Sentences with emphasis inside them ("<strong>Agent X</strong> wants to act as <strong>alice</strong>"):
// the word order differs between languages, so the whole sentence is one catalogue text and the
// emphasised parts are placeholders. Everything is escaped here: the catalogue text and every value.
// Only an element from the fixed list below, with an optional class name, can wrap a value; a
// catalogue can never inject markup.

const TAGS = new Set(['strong', 'em', 'code', 'span', 'a']);
const CLASS = /^[a-z][a-z0-9 -]{0,60}$/;
/** Links may only point to a path on this server. */
const LOCAL_HREF = /^\/[A-Za-z0-9/_-]*$/;

/** A placeholder value: plain text, or text wrapped in one allowed element. */
export type Part = string | number | { text: string | number; tag?: string; cls?: string; href?: string };

export function escapeHtml(value: string): string {
  return value
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/**
 * Characters that can reorder text around them: right-to-left letters (the blocks Unicode assigns
 * bidi class R or AL by default, DerivedBidiClass.txt) and the explicit marks, embeddings,
 * overrides and isolates (Bidi_Control). Text without any of them is laid out left to right in our
 * (left-to-right) languages whatever surrounds it, so only text with one is wrapped.
 */
const BIDI_SENSITIVE =
  /[\u0590-\u08FF\uFB1D-\uFDFF\uFE70-\uFEFE\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]|[\u{10800}-\u{10FFF}\u{1E800}-\u{1EFFF}]/u;

/**
 * Escaped text, in a bidi isolate (<bdi>: HTML §4.5.24, UAX #9 isolates) when it holds anything
 * that could reorder it or the text around it: a name with U+202E then stays in its own box.
 */
export function isolatedHtml(value: string): string {
  const text = escapeHtml(value);
  return BIDI_SENSITIVE.test(value) ? `<bdi>${text}</bdi>` : text;
}

/**
 * The same for plain text where no element may go (an <option>'s label): the isolate is made with
 * FIRST STRONG ISOLATE and POP DIRECTIONAL ISOLATE (U+2068, U+2069) around the text.
 */
export function isolatedText(value: string): string {
  return BIDI_SENSITIVE.test(value) ? `\u2068${value}\u2069` : value;
}

function renderPart(part: Part | undefined): string | undefined {
  if (part === undefined || part === null) return undefined;
  if (typeof part !== 'object') return isolatedHtml(String(part));
  const text = isolatedHtml(String(part.text ?? ''));
  const tag = part.tag && TAGS.has(part.tag) ? part.tag : undefined;
  if (!tag) return text;
  if (tag === 'a' && !(part.href && LOCAL_HREF.test(part.href))) return text;
  const href = tag === 'a' ? ` href="${part.href}"` : '';
  const cls = part.cls && CLASS.test(part.cls) ? ` class="${part.cls}"` : '';
  return `<${tag}${href}${cls}>${text}</${tag}>`;
}

/**
 * The catalogue text with every {name} replaced by its escaped (and possibly wrapped) part. Every
 * part is isolated when it needs to be (isolatedHtml): the values are names and addresses agents
 * and users chose, and a right-to-left override in one must not reorder the rest of our sentence.
 */
export function fillHtml(text: string, parts: Readonly<Record<string, Part>>): string {
  return text
    .split(/\{([A-Za-z0-9_]+)\}/)
    .map((piece, i) => {
      if (i % 2 === 0) return escapeHtml(piece);
      return renderPart(parts[piece]) ?? escapeHtml(`{${piece}}`);
    })
    .join('');
}
