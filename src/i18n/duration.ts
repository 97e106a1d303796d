// A lifetime from the configuration ("1209600" seconds) as a reader says it ("14 days", "14 日間",
// "14일"): the largest whole unit, rounded down, so the page never promises more than the server gives.
import type { Message } from './translate.js';

const UNITS = [
  ['days', 86_400],
  ['hours', 3_600],
  ['minutes', 60],
] as const;

export function durationMessage(seconds: number): Message {
  for (const [unit, size] of UNITS) {
    if (seconds >= size) return { key: `duration.${unit}`, params: { n: Math.floor(seconds / size) } };
  }
  return { key: 'duration.seconds', params: { n: Math.max(0, Math.floor(seconds)) } };
}
