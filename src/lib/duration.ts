// "300", "300s", "5m", "14d" → seconds. Used by config for TTLs.
const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

export function parseDuration(value: string): number | undefined {
  const match = /^(\d{1,9})\s*([smhd]?)$/.exec(value.trim());
  if (!match) return undefined;
  const amount = Number(match[1]);
  const unit = UNITS[match[2] || 's'] ?? 1;
  return amount * unit;
}

export function epochSeconds(now: number = Date.now()): number {
  return Math.floor(now / 1000);
}
