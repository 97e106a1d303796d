// Looking texts up: fallback to English, plurals, handler texts found by their English wording, and
// sentences with markup that stay escaped whatever the catalogue or the values hold.
import { describe, expect, it } from 'vitest';
import type { Catalogues } from '../../src/i18n/catalogue.js';
import { durationMessage } from '../../src/i18n/duration.js';
import { escapeHtml, fillHtml } from '../../src/i18n/markup.js';
import { createTranslator } from '../../src/i18n/translate.js';

const catalogues: Catalogues = {
  en: {
    'a.hello': 'Hello {name}',
    'a.onlyEnglish': 'Only in English',
    'a.files.one': '{n} file',
    'a.files.other': '{n} files',
    'server.x.wrong': 'Wrong username or password.',
    'server.x.noUser': 'There is no user named {name}.',
    'server.x.wait': 'Try again in {n} seconds.',
  },
  ja: {
    'a.hello': 'こんにちは、{name} さん',
    'a.files.other': '{n} 個のファイル',
    'server.x.wrong': 'ユーザー名またはパスワードが正しくありません。',
    'server.x.noUser': '「{name}」というユーザーは存在しません。',
    'server.x.wait': '{n} 秒後にもう一度お試しください。',
  },
  ko: {},
};
const tr = createTranslator(catalogues);

describe('translator', () => {
  it('fills placeholders, and falls back to English, then to the key', () => {
    expect(tr.t('ja', 'a.hello', { name: 'alice' })).toBe('こんにちは、alice さん');
    expect(tr.t('ja', 'a.onlyEnglish')).toBe('Only in English');
    expect(tr.t('ko', 'a.hello', { name: 'bob' })).toBe('Hello bob');
    expect(tr.t('ja', 'a.nothing')).toBe('a.nothing');
  });

  it('chooses the plural form by the language rules', () => {
    expect(tr.t('en', 'a.files', { n: 1 })).toBe('1 file');
    expect(tr.t('en', 'a.files', { n: 2 })).toBe('2 files');
    expect(tr.t('ja', 'a.files', { n: 1 })).toBe('1 個のファイル');
    expect(tr.t('ko', 'a.files', { n: 3 })).toBe('3 files');
  });

  it('translates an English handler text by its wording, with its values', () => {
    expect(tr.text('ja', 'Wrong username or password.')).toBe('ユーザー名またはパスワードが正しくありません。');
    expect(tr.text('ja', 'There is no user named <b>x</b>.')).toBe('「<b>x</b>」というユーザーは存在しません。');
    expect(tr.text('ja', 'Try again in 45 seconds.')).toBe('45 秒後にもう一度お試しください。');
    expect(tr.text('en', 'Wrong username or password.')).toBe('Wrong username or password.');
    // Unknown text stays as it is; a key is not looked up as text.
    expect(tr.text('ja', 'Something new.')).toBe('Something new.');
    expect(tr.text('ja', 'a.hello')).toBe('a.hello');
    expect(tr.show('ja', { key: 'a.hello', params: { name: 'x' } })).toBe('こんにちは、x さん');
    expect(tr.show('ja', undefined)).toBeUndefined();
  });

  it('states durations in the largest whole unit, never rounding up', () => {
    expect(durationMessage(90 * 86_400)).toEqual({ key: 'duration.days', params: { n: 90 } });
    expect(durationMessage(86_399)).toEqual({ key: 'duration.hours', params: { n: 23 } });
    expect(durationMessage(300)).toEqual({ key: 'duration.minutes', params: { n: 5 } });
    expect(durationMessage(59)).toEqual({ key: 'duration.seconds', params: { n: 59 } });
  });
});

describe('sentences with markup', () => {
  it('escapes the catalogue text and every value', () => {
    expect(fillHtml('<b>{a}</b> & {b}', { a: '<script>', b: { text: '"x"', tag: 'strong' } })).toBe(
      '&lt;b&gt;&lt;script&gt;&lt;/b&gt; &amp; <strong>&quot;x&quot;</strong>',
    );
  });

  it('wraps values only in the allowed elements, classes and local links', () => {
    expect(fillHtml('{a}', { a: { text: 'x', tag: 'script' } })).toBe('x');
    expect(fillHtml('{a}', { a: { text: 'x', tag: 'span', cls: 'badge" onclick="y' } })).toBe('<span>x</span>');
    expect(fillHtml('{a}', { a: { text: 'x', tag: 'span', cls: 'badge write' } })).toBe(
      '<span class="badge write">x</span>',
    );
    expect(fillHtml('{a}', { a: { text: 'x', tag: 'a', href: '/account' } })).toBe('<a href="/account">x</a>');
    for (const href of ['https://evil.example/', '//evil.example', 'javascript:alert(1)', '/a"b']) {
      expect(fillHtml('{a}', { a: { text: 'x', tag: 'a', href } })).toBe('x');
    }
  });

  it('isolates a value with right-to-left or bidi control characters, and only such a value', () => {
    const name = 'Claude Desktop \u202e moc.cihportna :deifirev';
    expect(fillHtml('{client} wants access', { client: { text: name, tag: 'strong' } })).toBe(
      `<strong><bdi>${name}</bdi></strong> wants access`,
    );
    expect(fillHtml('{a}', { a: '\u05e9\u05dc\u05d5\u05dd' })).toBe('<bdi>\u05e9\u05dc\u05d5\u05dd</bdi>');
    expect(fillHtml('{a}', { a: 'x\u2067y' })).toBe('<bdi>x\u2067y</bdi>');
    expect(fillHtml('{a}', { a: 'plain 名前 (beta)' })).toBe('plain 名前 (beta)');
  });

  it('leaves an unknown placeholder visible rather than dropping text', () => {
    expect(fillHtml('{a} {missing}', { a: 1 })).toBe('1 {missing}');
    expect(escapeHtml(`<&>"'`)).toBe('&lt;&amp;&gt;&quot;&#39;');
  });
});
