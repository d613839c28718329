// docs_page.mjs - opens orderd's /docs in headless Chromium (Debian's
// /usr/bin/chromium, driven by the pinned playwright-core) and prints one
// JSON object: what the page logged, which requests failed, and which
// operations it rendered.  test_docs_page.py judges it.
//
//   node tests/integration/docs_page.mjs URL [SCREENSHOT.png]
import { chromium } from 'playwright-core';

const [url, screenshot] = process.argv.slice(2);
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const report = { console: [], pageErrors: [], requests: [], failedRequests: [], badResponses: [], sections: [], menu: [] };

const browser = await chromium.launch({
  executablePath: CHROMIUM,
  headless: true,
  // root (CI) cannot use Chromium's sandbox; the page is our own
  args: ['--no-sandbox', '--disable-gpu'],
});
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  page.on('console', (msg) => report.console.push({ type: msg.type(), text: msg.text() }));
  page.on('pageerror', (err) => report.pageErrors.push(String(err)));
  page.on('request', (req) => report.requests.push(req.url()));
  page.on('requestfailed', (req) => report.failedRequests.push(`${req.url()}: ${req.failure()?.errorText}`));
  page.on('response', (resp) => {
    if (resp.status() >= 400) report.badResponses.push(`${resp.status()} ${resp.url()}`);
  });
  const response = await page.goto(url, { waitUntil: 'networkidle', timeout: 60000 });
  report.status = response.status();
  report.contentType = response.headers()['content-type'];
  // Redoc has rendered the operations once their sections exist
  await page.waitForSelector('[data-section-id*="operation/"]', { timeout: 60000 });
  report.title = await page.title();
  report.sections = await page.$$eval('[data-section-id*="operation/"]',
    (els) => els.map((e) => e.getAttribute('data-section-id')));
  // open the first tag in the sidebar, as a reader would (Redoc keeps one
  // tag open at a time); the page scrolls to it
  await page.click('.menu-content li[data-item-id^="tag/"]:not([data-item-id*="/operation/"]) > label');
  await page.waitForTimeout(500); // the sidebar's expand animation
  report.menu = await page.$$eval('.menu-content li label', (els) => els.map((e) => e.textContent.trim()));
  report.visibleMenu = await page.$$eval('.menu-content li label',
    (els) => els.filter((e) => e.offsetParent !== null).map((e) => e.textContent.trim()));
  if (screenshot) await page.screenshot({ path: screenshot, fullPage: false });
} finally {
  await browser.close();
}
console.log(JSON.stringify(report));
