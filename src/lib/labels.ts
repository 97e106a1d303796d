// Classification labels on MCP servers, and what each one makes the server do without any
// per-agent rule (docs/operating.md#classification-labels).
export const LABELS = ['public', 'internal', 'confidential', 'personal_data'] as const;
export type Label = (typeof LABELS)[number];

export const isLabel = (value: unknown): value is Label => (LABELS as readonly unknown[]).includes(value);

/** Labels whose tokens get the shorter lifetime (MCP_OAUTH_SENSITIVE_TOKEN_TTL). */
export const SENSITIVE_LABELS: readonly Label[] = ['confidential', 'personal_data'];

export interface LabelRules {
  /** Access-token lifetime, seconds, for servers labelled confidential or personal data. */
  sensitiveTokenTtl: number;
  /** Labels whose servers give agents no write scope. */
  readOnly: readonly string[];
  /** Labels whose servers need an admin's approval of each new agent. */
  approval: readonly string[];
  /** Labels whose servers (and tools) need a sign-in with a second factor. */
  secondFactor?: readonly string[];
}

export function tokenTtlFor(label: Label | undefined, ttl: number, rules: LabelRules): number {
  return label && SENSITIVE_LABELS.includes(label) ? Math.min(ttl, rules.sensitiveTokenTtl) : ttl;
}
