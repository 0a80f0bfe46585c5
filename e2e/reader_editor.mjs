// Browser end-to-end test of the chorus site, run by crates/chorus/tests/browser.rs:
//   node e2e/reader_editor.mjs BASE_URL STORY_ID EDITOR PASSWORD SCREENSHOT_DIR [FOREIGN_STORY_ID]
// Debian's chromium (/usr/bin/chromium, or $CHROMIUM) driven by playwright-core, with
// JavaScript switched off in the pages: the site must work without it.
// A reader opens a story, expands a citation and files a report; an editor logs in,
// accepts it and publishes a revision; the reader sees revision 2, the diff and the
// report's status. Exits non-zero with a message on the first failed expectation.
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';

const [base, storyId, editor, password, shots, foreignId] = process.argv.slice(2);
if (!shots) {
  console.error('usage: node reader_editor.mjs BASE_URL STORY_ID EDITOR PASSWORD SCREENSHOT_DIR');
  process.exit(2);
}
mkdirSync(shots, { recursive: true });

function expect(ok, what) {
  if (!ok) throw new Error(`expectation failed: ${what}`);
  console.log(`ok - ${what}`);
}

const FIREFOX_LIKE = 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0';
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
});
try {
  // ---------------------------------------------------------------- the reader (French)
  const reader = await browser.newContext({
    javaScriptEnabled: false, locale: 'fr-FR', userAgent: FIREFOX_LIKE, viewport: { width: 1200, height: 900 },
  });
  const page = await reader.newPage();
  const cspViolations = [];
  page.on('console', (m) => { if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text()); });

  let res = await page.goto(`${base}/`);
  expect(res.status() === 200, 'front page loads');
  expect(await page.locator('html').getAttribute('lang') === 'fr', 'Accept-Language picks the French edition');
  expect(await page.locator('h1').innerText() === 'Actualités', 'French interface');
  expect(await page.locator('header').count() === 1 && await page.locator('main').count() === 1
    && await page.locator('footer').count() === 1, 'landmarks: header, main, footer');
  await page.screenshot({ path: `${shots}/1-front-fr.png`, fullPage: false });

  res = await page.goto(`${base}/stories/${storyId}`);
  expect(res.status() === 200, 'story page loads');
  const byline = await page.locator('p.byline').innerText();
  expect(/version 1/.test(byline), `byline shows revision 1: "${byline}"`);
  expect(/Rédigé par/.test(byline), 'byline in French');
  const views = Number(await page.locator('.views').innerText());
  expect(views >= 1, `view counter shows ${views}`);
  await page.reload();
  expect(Number(await page.locator('.views').innerText()) === views, 'a reload does not add a view');

  // Expand the first citation (a <details>: works without JavaScript).
  const cite = page.locator('details.cite').first();
  expect(await cite.getAttribute('open') === null, 'citation starts closed');
  await cite.locator('summary').click();
  expect(await cite.getAttribute('open') !== null, 'citation opens');
  const passage = cite.locator('li').first();
  expect(await passage.isVisible(), 'supporting passage visible');
  expect((await passage.locator('q').innerText()).length > 10, 'the original sentence is quoted');
  await page.screenshot({ path: `${shots}/2-story-citation-open.png`, fullPage: false });
  // Text contrast (WCAG 2 AA: 4.5:1, 3:1 for large text) of everything on the page.
  const lowContrast = await page.evaluate(() => {
    const rgb = (c) => (c.match(/[\d.]+/g) || []).map(Number);
    const lum = ([r, g, b]) => {
      const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
      return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
    };
    const background = (e) => {
      for (; e; e = e.parentElement) {
        const c = rgb(getComputedStyle(e).backgroundColor);
        if (c.length === 3 || (c.length === 4 && c[3] > 0)) return c.slice(0, 3);
      }
      return [255, 255, 255];
    };
    const bad = [];
    for (const e of document.querySelectorAll('body *')) {
      const own = [...e.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
      const box = e.getBoundingClientRect();
      if (!own || box.width === 0 || box.height === 0) continue;
      const st = getComputedStyle(e);
      const [a, b] = [lum(rgb(st.color).slice(0, 3)), lum(background(e))];
      const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
      const size = parseFloat(st.fontSize);
      const large = size >= 24 || (size >= 18.66 && Number(st.fontWeight) >= 700);
      if (ratio < (large ? 3 : 4.5)) bad.push(`${e.tagName.toLowerCase()}.${e.className} ${ratio.toFixed(2)}`);
    }
    return bad;
  });
  expect(lowContrast.length === 0, `text contrast at least WCAG AA (${lowContrast.slice(0, 5).join(', ')})`);
  expect(await page.locator('section.coverage dt').count() >= 5, 'coverage panel: languages, countries, types, counts');
  expect(await page.locator('li.outlet').count() >= 1, 'sources grouped by outlet');

  // Every form field has a label.
  for (const id of ['report-body', 'report-url']) {
    expect(await page.locator(`label[for="${id}"]`).count() === 1, `field ${id} is labelled`);
  }
  await page.locator('input[name="kind"][value="factual"]').check();
  await page.locator('#report-body').fill('Le nombre de manifestants cité dans le premier paragraphe est faux.');
  await page.locator('#report-url').fill('https://fr.globalvoices.org/');
  await page.locator('form.report button[type="submit"]').click();
  await page.waitForURL(/\/reports\/[a-z0-9]+/);
  const reportId = (await page.locator('.report-id').innerText()).trim();
  expect(/^[a-z0-9]{10}$/.test(reportId), `report filed with id ${reportId}`);
  expect(/ouvert/.test(await page.locator('.status').innerText()), 'report is open');
  await page.screenshot({ path: `${shots}/3-report-filed.png` });

  // ---------------------------------------------------------------- the editor
  const desk = await browser.newContext({ javaScriptEnabled: false, locale: 'en-GB', userAgent: FIREFOX_LIKE });
  const ed = await desk.newPage();
  await ed.goto(`${base}/editor`);
  expect(/\/editor\/login$/.test(ed.url()), 'the desk asks for a login');
  await ed.locator('#name').fill(editor);
  await ed.locator('#password').fill('wrong password');
  await ed.locator('form.editor button[type="submit"]').click();
  expect(/Wrong name or password/.test(await ed.content()), 'a wrong password is refused');
  await ed.goto(`${base}/editor/login`);
  await ed.locator('#name').fill(editor);
  await ed.locator('#password').fill(password);
  await ed.locator('form.editor button[type="submit"]').click();
  await ed.waitForURL(/\/editor$/);
  const cookies = await desk.cookies();
  const session = cookies.find((c) => c.name === 'chorus_session');
  expect(session && session.httpOnly && session.sameSite === 'Strict', 'session cookie is HttpOnly and SameSite=Strict');
  const item = ed.locator(`section[data-report-id="${reportId}"]`);
  expect(await item.count() === 1, 'the report is in the queue');
  await ed.screenshot({ path: `${shots}/4-editor-queue.png`, fullPage: false });
  await item.locator('textarea[name="reason"]').fill('Vérifié : le chiffre venait d\'une seule source.');
  await item.locator('button[value="accepted"]').click();
  await ed.waitForURL(/done=resolved/);

  await ed.goto(`${base}/editor/stories/${storyId}/edit?lang=fr&report=${reportId}`);
  const body = ed.locator('#body');
  const text = await body.inputValue();
  const lines = text.split('\n');
  lines[0] = `${lines[0]} (Selon plusieurs sources.)`;
  await body.fill(lines.join('\n'));
  await ed.locator('#note').fill('Précision sur le nombre de manifestants (signalement de lecteur).');
  await ed.locator('form.editor button[type="submit"]').click();
  await ed.waitForURL(new RegExp(`/stories/${storyId}`));
  expect(/version 2/.test(await ed.locator('p.byline').innerText()), 'the editor sees revision 2');

  // ---------------------------------------------------------------- the reader again
  await page.goto(`${base}/stories/${storyId}`);
  const byline2 = await page.locator('p.byline').innerText();
  expect(/version 2/.test(byline2) && byline2.includes(editor), `reader sees revision 2 by ${editor}`);
  expect(await page.locator('.label.edited').count() >= 1, 'the corrected sentence is marked');
  await page.locator('p.byline a').first().click();
  await page.waitForURL(/\/revisions/);
  expect(/Précision sur le nombre/.test(await page.content()), 'history shows the change note');
  await page.screenshot({ path: `${shots}/5-history.png` });
  await page.goto(`${base}/stories/${storyId}/revisions/2?lang=fr`);
  expect(await page.locator('.diff ins').count() >= 1, 'the diff marks inserted words');
  expect(/Selon plusieurs sources/.test(await page.locator('.diff ins').allInnerTexts().then((t) => t.join(' '))),
    'the inserted words are the correction');
  await page.screenshot({ path: `${shots}/6-diff.png` });
  await page.goto(`${base}/reports/${reportId}?lang=fr`);
  expect(/accepté/.test(await page.locator('.status').innerText()), 'the report is accepted');
  expect(await page.locator('a.revision-link').count() === 1, 'the report links to the revision');
  await page.screenshot({ path: `${shots}/7-report-accepted.png` });

  // ---------------------------------------------------------------- a German reader
  const german = await browser.newContext({ javaScriptEnabled: false, locale: 'de-DE', userAgent: FIREFOX_LIKE,
    viewport: { width: 1200, height: 900 } });
  const de = await german.newPage();
  if (foreignId) {
    await de.goto(`${base}/stories/${foreignId}`);
    expect(await de.locator('p.notice').count() === 1, 'a story without German sources shows the notice');
    const bodyLang = await de.locator('div.body').getAttribute('lang');
    const langs = await de.locator('div.body .sentence').evaluateAll((els) => els.map((e) => e.getAttribute('lang')));
    expect(langs.length >= 1 && langs.every((l) => l === bodyLang),
      `one language in the article (${bodyLang}: ${langs.join(',')})`);
    await de.screenshot({ path: `${shots}/9-german-reader-notice.png`, fullPage: false });
  }
  await de.goto(`${base}/stories/${storyId}`);
  expect(await de.locator('p.notice').count() === 0, 'the model-written German edition is shown, no notice');
  expect(await de.locator('div.body').getAttribute('lang') === 'de', 'German edition');
  expect(await de.locator('.label.generated').count() >= 1, 'generated sentences are marked');
  const deCite = de.locator('details.cite').first();
  await deCite.locator('summary').click();
  const mt = deCite.locator('.machine-translated').first();
  expect(await mt.isVisible(), 'the citation shows the model\'s translation of the original');
  expect(/maschinell übersetzt/.test(await mt.innerText()), 'labelled as machine-translated');
  await de.screenshot({ path: `${shots}/10-german-machine-translated.png`, fullPage: false });

  // A phone-sized screen.
  const phone = await browser.newContext({ javaScriptEnabled: false, locale: 'de-DE', userAgent: FIREFOX_LIKE,
    viewport: { width: 375, height: 800 } });
  const small = await phone.newPage();
  await small.goto(`${base}/stories/${storyId}`);
  await small.screenshot({ path: `${shots}/8-phone-de.png`, fullPage: false });
  const [overflow, culprit] = await small.evaluate(() => {
    const w = window.innerWidth;
    const wide = [...document.querySelectorAll('body *')].filter((e) => e.getBoundingClientRect().right > w + 1);
    const e = wide[wide.length - 1];
    return [document.documentElement.scrollWidth - w, e ? `${e.tagName.toLowerCase()}.${e.className} "${(e.textContent || '').slice(0, 60)}"` : ''];
  });
  expect(overflow <= 1, `no sideways scrolling on a 375 px screen (${overflow} px ${culprit})`);
  expect(cspViolations.length === 0, `no Content-Security-Policy violations (${cspViolations.join('; ')})`);
  console.log('all browser checks passed');
} finally {
  await browser.close();
}
