// An agent named "Claude Desktop \u202e moc.cihportna :deifirev" in a real browser: without bidi
// isolation the right-to-left override runs on to the end of the paragraph, so the page reads
// "Claude Desktop verified: antrophic.com" and our own sentence after it comes out reversed. The
// name must stay in its own box and our words around it in reading order.
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { renameStoredClient, SPOOF } from '../i18n/bidi.js';
import { useChromium } from '../support/browser.js';
import { authorizationUrl, type BrowserAgent, startBrowserAgent } from '../support/browser_agent.js';

const PASSWORD = 'correct horse battery staple';

interface Box {
  left: number;
  right: number;
  top: number;
  bottom: number;
}

/**
 * The line boxes, in page coordinates, of each piece of the consent page's lead paragraph: the
 * agent's name, our badge, and each word of our sentence after it. Runs in the page (a string, as
 * the project's tsconfig has no DOM types).
 */
const LEAD_BOXES = `(() => {
  const lead = document.querySelector('p.lead');
  const rects = (range) => [...range.getClientRects()].filter((r) => r.width > 0)
    .map((r) => ({ left: r.left, right: r.right, top: r.top, bottom: r.bottom }));
  const of = (node) => { const r = document.createRange(); r.selectNodeContents(node); return rects(r); };
  const words = [];
  const walker = document.createTreeWalker(lead, NodeFilter.SHOW_TEXT);
  let seenBadge = false;
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    if (n.parentElement.closest('.badge')) { seenBadge = true; continue; }
    if (!seenBadge) continue;
    for (const m of n.data.matchAll(/\\S+/g)) {
      const r = document.createRange();
      r.setStart(n, m.index);
      r.setEnd(n, m.index + m[0].length);
      words.push({ word: m[0], boxes: rects(r) });
    }
  }
  return {
    name: of(lead.querySelector('.client-name')),
    badge: of(lead.querySelector('.badge')),
    words,
  };
})()`;

/** `a` comes entirely before `b` in left-to-right reading order (an earlier line, or left of it on the same line). */
function before(a: Box, b: Box): boolean {
  const sameLine = a.top < b.bottom && b.top < a.bottom;
  return sameLine ? a.right <= b.left + 0.5 : a.bottom <= b.top + 0.5;
}

describe('a right-to-left override in an agent name, in a real browser', () => {
  let agent: BrowserAgent;
  const browser = useChromium();
  let context: BrowserContext | undefined;
  let page: Page;

  beforeAll(async () => {
    agent = await startBrowserAgent({
      agentName: 'Plain Agent',
      resource: 'https://orders.example.com/mcp',
      resourceName: 'Orders DB',
      password: PASSWORD,
    });
    renameStoredClient(agent.server, agent.client.client_id, SPOOF);
  });
  afterAll(async () => {
    await agent?.close();
  });
  beforeEach(async () => {
    context = await browser().newContext({ viewport: { width: 800, height: 900 } });
    page = await context.newPage();
  });
  afterEach(async () => {
    await context?.close();
    context = undefined;
  });

  it('keeps the badge after the name and our sentence in order on the consent page', async () => {
    await page.goto(authorizationUrl(agent).url);
    await page.getByLabel('Username', { exact: true }).fill('alice');
    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('heading', { name: 'Allow access?' }).waitFor();

    const got = (await page.evaluate(LEAD_BOXES)) as {
      name: Box[];
      badge: Box[];
      words: { word: string; boxes: Box[] }[];
    };
    expect(got.words.map((w) => w.word).join(' ')).toBe('wants to act as alice on the MCP server Orders DB :');
    const pieces = [got.name, got.badge, ...got.words.map((w) => w.boxes)];
    for (const boxes of pieces) expect(boxes.length).toBeGreaterThan(0);
    // Each piece ends before the next one starts: the name, then the badge, then our words in order.
    for (let i = 1; i < pieces.length; i++) {
      const prev = pieces[i - 1]?.at(-1) as Box;
      const next = pieces[i]?.[0] as Box;
      expect(before(prev, next), `piece ${i - 1} before piece ${i}`).toBe(true);
    }
  });
});
