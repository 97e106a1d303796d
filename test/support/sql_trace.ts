// Records the statements a server runs through its storage engine while a test sends requests:
// whether each ran inside a transaction, and how many transactions were opened. For tests about
// how the server uses the database (one transaction per token request, no repeated reads).
import type { Sql, SqlParams } from '../../src/storage/engine.js';

export interface Statement {
  sql: string;
  params: SqlParams | undefined;
  write: boolean;
  inTransaction: boolean;
}

/**
 * Records the statements the server runs through its engine while `during` runs: whether each ran
 * inside a transaction, and how many transactions were opened (nested ones join the outer one and
 * are not counted). The test sends one request at a time, so a depth count is enough.
 */
export async function traced(
  sql: Sql,
  during: () => Promise<void>,
): Promise<{ transactions: number; statements: Statement[] }> {
  const target = sql as unknown as Record<string, unknown>;
  const original = { transaction: sql.transaction, run: sql.run, get: sql.get, all: sql.all };
  let depth = 0;
  let transactions = 0;
  const statements: Statement[] = [];
  const note = (text: string, params: SqlParams | undefined, write: boolean) =>
    statements.push({ sql: text.replace(/\s+/g, ' ').trim(), params, write, inTransaction: depth > 0 });
  target.transaction = async <T>(fn: () => Promise<T>): Promise<T> => {
    if (depth === 0) transactions++;
    depth++;
    try {
      return (await original.transaction.call(sql, fn)) as T;
    } finally {
      depth--;
    }
  };
  target.run = (text: string, params?: SqlParams) => {
    note(text, params, true);
    return original.run.call(sql, text, params);
  };
  target.get = (text: string, params?: SqlParams) => {
    note(text, params, false);
    return original.get.call(sql, text, params);
  };
  target.all = (text: string, params?: SqlParams) => {
    note(text, params, false);
    return original.all.call(sql, text, params);
  };
  try {
    await during();
  } finally {
    Object.assign(target, original);
  }
  return { transactions, statements };
}
