// The descriptions `resources add` gives scopes when the admin names none are shown in the
// reader's language; what the admin wrote (in English or per language) is shown as written.
import { describe, expect, it } from 'vitest';
import { buildScopes } from '../../src/cli/resources.js';
import { createI18n } from '../../src/i18n/index.js';

const i18n = createI18n();
const defaults = buildScopes({ scope: [], defaultScope: [], writeScope: [] });

describe('default scope descriptions', () => {
  it('are the English catalogue texts the pages translate', () => {
    const en = i18n.catalogues.en;
    expect(defaults.map((s) => s.description)).toEqual([en['scope.default.read'], en['scope.default.write']]);
  });

  it.each([
    ['en', ['Read data and list tools', 'Change data and call tools that write']],
    ['ja', ['データの読み取りとツール一覧の表示', 'データの変更と書き込みツールの実行']],
    ['ko', ['데이터 읽기 및 도구 목록 보기', '데이터 변경 및 쓰기 도구 실행']],
  ] as const)('read in %s', (locale, texts) => {
    expect(defaults.map((s) => i18n.describe(locale, s))).toEqual(texts);
  });

  it('give way to a translation the admin stored, language by language', () => {
    const read = { description: 'Read data and list tools', descriptions: { ja: '読み取り専用' } };
    expect(i18n.describe('ja', read)).toBe('読み取り専用');
    expect(i18n.describe('ko', read)).toBe('데이터 읽기 및 도구 목록 보기');
  });

  it('leave a description the admin wrote as it is', () => {
    expect(i18n.describe('ja', { description: 'Read orders' })).toBe('Read orders');
    expect(i18n.describe('ko', { description: 'read data and list tools' })).toBe('read data and list tools');
    expect(i18n.describe('ja', {})).toBe('');
  });
});
