// The demo page in a real browser, against the real server.
//
//   cd tests/browser && npm ci && node --test .        (or: node --test tests/browser/)
//
// Environment: FLASHGATE_BIN (default <repo>/build/release/flashgate),
// FLASHGATE_TEST_OUTPUT (screenshots and the server log; default <repo>/test-output/browser),
// CHROMIUM_PATH (default /usr/bin/chromium, Debian's package).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const BIN = process.env.FLASHGATE_BIN || path.join(REPO, 'build', 'release', 'flashgate');
const OUTPUT = process.env.FLASHGATE_TEST_OUTPUT || path.join(REPO, 'test-output', 'browser');
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

const ADMIN_TOKEN = 'browser-admin-token-3b7e91c04d5a';
const PAYMENT_SECRET = 'browser-payment-secret-8f2d6a1c9e';

// Upper bounds for waiting, never performance claims: a slow 2-core machine must pass.
const READY_TIMEOUT_MS = 30_000;
const UI_TIMEOUT_MS = 60_000;
const TEST_TIMEOUT_MS = 240_000;

const uid = (prefix) => `${prefix}-${randomBytes(6).toString('hex')}`;
const inSeconds = (s) => new Date(Date.now() + s * 1000).toISOString();

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

// ---------------------------------------------------------------------------- the server

class Server {
  constructor(args = []) {
    this.log = [];
    this.exit = null;
    this.args = args;  // extra flags of `flashgate serve`
  }

  async start() {
    assert.ok(fs.existsSync(BIN), `flashgate binary not found at ${BIN} (build it or set FLASHGATE_BIN)`);
    this.port = await freePort();
    this.base = `http://127.0.0.1:${this.port}`;
    this.dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'flashgate-browser-'));
    this.proc = spawn(BIN, ['serve', '--listen', `127.0.0.1:${this.port}`, '--data-dir', this.dataDir, ...this.args], {
      env: {
        ...process.env,
        FLASHGATE_ADMIN_TOKEN: ADMIN_TOKEN,
        FLASHGATE_PAYMENT_SECRET: PAYMENT_SECRET,
        FLASHGATE_WINDOWS: '1',
        FLASHGATE_SERVICE_TIME: '400ms',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    for (const stream of [this.proc.stdout, this.proc.stderr]) {
      stream.setEncoding('utf8');
      stream.on('data', (chunk) => this.log.push(chunk));
    }
    this.exited = new Promise((resolve) => {
      this.proc.on('exit', (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
      });
    });
    const deadline = Date.now() + READY_TIMEOUT_MS;
    for (;;) {
      if (this.exit) throw new Error(`flashgate exited during start (${JSON.stringify(this.exit)}):\n${this.logText()}`);
      try {
        const res = await fetch(`${this.base}/healthz`);
        if (res.ok) return;
      } catch {
        /* not listening yet */
      }
      if (Date.now() > deadline) throw new Error(`flashgate not healthy within ${READY_TIMEOUT_MS} ms:\n${this.logText()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  logText() {
    return this.log.join('');
  }

  async stop() {
    if (!this.proc) return null;
    if (!this.exit) {
      this.proc.kill('SIGTERM');
      const timer = setTimeout(() => this.proc.kill('SIGKILL'), 20_000);
      await this.exited;
      clearTimeout(timer);
    }
    fs.mkdirSync(OUTPUT, { recursive: true });
    fs.writeFileSync(path.join(OUTPUT, 'server.log'), this.logText());
    fs.rmSync(this.dataDir, { recursive: true, force: true });
    return this.exit;
  }

  async api(method, urlPath, body, headers = {}) {
    const res = await fetch(this.base + urlPath, {
      method,
      headers: { 'Content-Type': 'application/json', ...headers },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    let json = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = { raw: text };
    }
    return { status: res.status, body: json };
  }

  async createSale(sale) {
    const res = await this.api('POST', '/api/admin/sales', sale, { Authorization: `Bearer ${ADMIN_TOKEN}` });
    assert.equal(res.status, 201, `create sale: ${JSON.stringify(res.body)}`);
    return res.body;
  }

  order(saleId, userId, headers = {}) {
    return this.api('POST', `/api/sales/${encodeURIComponent(saleId)}/orders`, userId ? { user_id: userId } : {}, headers);
  }

  // The payment provider's notification: HMAC-SHA256 (hex) of the raw body.
  pay(orderId, paymentId) {
    const raw = JSON.stringify({ order_id: orderId, payment_id: paymentId, amount: '129.00' });
    const signature = createHmac('sha256', PAYMENT_SECRET).update(raw).digest('hex');
    return this.api('POST', '/api/payments/notify', raw, { 'X-Signature': signature });
  }
}

// ---------------------------------------------------------------------------- page helpers

async function waitText(page, selector, pattern, timeout = UI_TIMEOUT_MS) {
  try {
    await page.waitForFunction(
      ([sel, source, flags]) => {
        const el = document.querySelector(sel);
        return !!el && new RegExp(source, flags).test(el.textContent || '');
      },
      [selector, pattern.source, pattern.flags],
      { timeout, polling: 50 },
    );
  } catch (err) {
    const now = await page.locator(selector).textContent().catch(() => '<missing>');
    throw new Error(`${selector} never matched ${pattern} (now: ${JSON.stringify(now)}): ${err.message}`);
  }
  return (await page.locator(selector).textContent()).trim();
}

async function shot(page, name) {
  fs.mkdirSync(OUTPUT, { recursive: true });
  const file = path.join(OUTPUT, name);
  await page.screenshot({ path: file, fullPage: true, animations: 'disabled' });
  return file;
}

function watchPageErrors(page) {
  const errors = [];
  page.on('pageerror', (err) => errors.push(String(err)));
  page.on('console', (msg) => {
    // An HTTP error answer (409 sold_out, …) is logged by the browser; that is not a script error.
    if (msg.type() === 'error' && !/Failed to load resource/.test(msg.text())) errors.push(`console: ${msg.text()}`);
  });
  return errors;
}

// ---------------------------------------------------------------------------- the tests

describe('the demo page', () => {
  const server = new Server();
  let browser;

  before(async () => {
    assert.ok(fs.existsSync(CHROMIUM), `chromium not found at ${CHROMIUM} (apt-get install -y chromium)`);
    await server.start();
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
      timeout: READY_TIMEOUT_MS * 2,
    });
  });

  after(async () => {
    if (browser) await browser.close().catch(() => {});
    const exit = await server.stop();
    if (exit && exit.code !== 0) console.error(`flashgate stopped with ${JSON.stringify(exit)}`);
  });

  async function newPage(viewport = { width: 1180, height: 900 }) {
    const context = await browser.newContext({ viewport, deviceScaleFactor: 1 });
    context.setDefaultTimeout(UI_TIMEOUT_MS);
    const page = await context.newPage();
    return { context, page, errors: watchPageErrors(page) };
  }

  test('buy: queue position, CONFIRMED, then PAID after the signed payment notification', { timeout: TEST_TIMEOUT_MS }, async () => {
    const saleId = uid('aurora');
    const item = 'Aurora ANC Headphones';
    await server.createSale({ sale_id: saleId, item, stock: 40 });

    const { context, page, errors } = await newPage();
    await page.goto(`${server.base}/?sale=${saleId}`);
    assert.equal(await page.inputValue('#sale-id'), saleId, 'the sale id is prefilled from ?sale=');
    await waitText(page, '#sale-item', new RegExp(item));
    await waitText(page, '#sale-state', /live/i);
    await waitText(page, '#sale-remaining', /^40$/);
    const userId = uid('browser');
    await page.fill('#user-id', userId);
    await page.waitForSelector('#buy:not([disabled])');

    // Fill the line first, so that the browser's user does not get the first place.
    const crowd = await Promise.all(Array.from({ length: 12 }, (_, i) => server.order(saleId, `crowd-${i}-${saleId}`)));
    for (const r of crowd) assert.equal(r.status, 202, JSON.stringify(r.body));

    const intake = page.waitForResponse((r) => r.request().method() === 'POST' && r.url().endsWith(`/api/sales/${saleId}/orders`));
    await page.click('#buy');
    const response = await intake;
    assert.equal(response.status(), 202);
    const order = await response.json();
    assert.equal(order.status, 'QUEUED');
    assert.ok(order.position > 1, `the browser's order should queue behind the crowd (position ${order.position})`);

    // While queued: the live position, then the result.
    const position = await waitText(page, '#position', /^\s*\d+\s*$/);
    assert.ok(Number(position) >= 1, `#position shows a number: ${position}`);
    // The server's estimate of the wait (estimated_wait_ms), once the windows' pace is measured.
    const eta = await waitText(page, '#eta', /about \d+ s\b/);
    const shown = Number(/about (\d+) s/.exec(eta)[1]);
    assert.ok(shown >= 1, `the estimated wait is a number of seconds: ${eta}`);
    await shot(page, '01-queued.png');
    assert.ok(
      Number(position) <= order.position,
      `the position on the page (${position}) is not behind the intake answer (${order.position})`,
    );

    await waitText(page, '#status', /CONFIRMED/);
    await waitText(page, '#order-id', new RegExp(order.order_id));
    assert.equal((await page.textContent('#position')).trim(), '', 'no queue position once out of the line');
    assert.ok(await page.isDisabled('#buy'), 'no second buy while the order awaits payment');
    const stored = await page.evaluate((id) => JSON.parse(localStorage.getItem(`flashgate.order.${id}`)), saleId);
    assert.equal(stored.order_id, order.order_id, 'the ticket is kept in localStorage per sale');
    assert.equal(await page.evaluate(() => localStorage.getItem('flashgate.user')), userId, 'the user id is remembered');

    const paid = await server.pay(order.order_id, uid('pay'));
    assert.equal(paid.status, 200, JSON.stringify(paid.body));
    await waitText(page, '#status', /PAID/);
    await waitText(page, '#status-headline', /yours/i);
    await shot(page, '02-paid.png');

    // A reload resumes following the order from the stored ticket.
    await page.reload();
    await waitText(page, '#status', /PAID/);
    assert.equal(await page.inputValue('#user-id'), userId);

    // The same page on a phone.
    const phone = await context.newPage();
    await phone.setViewportSize({ width: 390, height: 844 });
    await phone.goto(`${server.base}/?sale=${saleId}`);
    await waitText(phone, '#status', /PAID/);
    await shot(phone, '03-paid-phone.png');

    assert.deepEqual(errors, [], 'no script errors on the page');
    await context.close();
  });

  test('an upcoming sale shows a countdown and a disabled Buy button, and opens by itself', { timeout: TEST_TIMEOUT_MS }, async () => {
    const later = uid('later');
    await server.createSale({ sale_id: later, item: 'Nimbus Trail Sneakers', stock: 25, starts_at: inSeconds(3 * 3600 + 125) });
    const soon = uid('soon');
    await server.createSale({ sale_id: soon, item: 'Comet Mechanical Keyboard', stock: 10, starts_at: inSeconds(8) });

    const { context, page, errors } = await newPage();
    await page.goto(`${server.base}/?sale=${later}`);
    await waitText(page, '#sale-state', /upcoming/i);
    await page.waitForSelector('#countdown', { state: 'visible' });
    const first = await waitText(page, '#countdown', /^\s*0?3:0[0-9]:\d\d\s*$/);
    assert.ok(await page.isDisabled('#buy'), 'Buy is disabled before the start');
    await page.fill('#user-id', uid('early'));
    assert.ok(await page.isDisabled('#buy'), 'Buy stays disabled with a user id');
    // It counts down.
    await page.waitForFunction((t) => document.querySelector('#countdown').textContent.trim() !== t, first.trim(), {
      timeout: UI_TIMEOUT_MS,
    });
    await shot(page, '04-upcoming.png');

    // A sale that starts in a few seconds: the page refreshes it when the countdown ends.
    await page.fill('#sale-id', soon);
    await page.click('#load-sale');
    await waitText(page, '#sale-item', /Comet/);
    await page.waitForSelector('#buy:not([disabled])', { timeout: UI_TIMEOUT_MS });
    await waitText(page, '#sale-state', /live/i);
    assert.ok(await page.isHidden('#countdown'), 'no countdown once open');
    assert.match(page.url(), new RegExp(`[?&]sale=${soon}`), 'the address follows the loaded sale');

    assert.deepEqual(errors, [], 'no script errors on the page');
    await context.close();
  });

  test('a draw sale: a countdown to the draw, ENTERED, then the result as soon as it is drawn', { timeout: TEST_TIMEOUT_MS }, async () => {
    const saleId = uid('drop');
    await server.createSale({
      sale_id: saleId, item: 'Vega Limited Sneaker', stock: 2, starts_at: inSeconds(6),
      admission: 'draw', draw_window: '3s', prequeue: '1m',
    });
    const { context, page, errors } = await newPage();
    await page.goto(`${server.base}/?sale=${saleId}`);
    await waitText(page, '#sale-state', /upcoming/i);
    await waitText(page, '#countdown-label', /The draw in/);
    await page.fill('#user-id', uid('entrant'));
    await page.waitForSelector('#buy:not([disabled])');
    await waitText(page, '#buy-label', /Enter the draw/);

    const intake = page.waitForResponse((r) => r.request().method() === 'POST' && r.url().endsWith(`/api/sales/${saleId}/orders`));
    await page.click('#buy');
    const response = await intake;
    assert.equal(response.status(), 202);
    const order = await response.json();
    assert.equal(order.status, 'ENTERED');
    await waitText(page, '#status', /ENTERED/);
    await waitText(page, '#status-headline', /in the draw/i);
    assert.ok(await page.isDisabled('#buy'), 'one entry per buyer');
    await waitText(page, '#status-detail', /The draw is/);
    await shot(page, '07-draw-entered.png');

    // Two units, one entrant: drawn, then on through the windows.
    await waitText(page, '#status', /QUEUED|PROCESSING|CONFIRMED/);
    await waitText(page, '#status', /CONFIRMED/);
    await shot(page, '08-draw-drawn.png');
    assert.deepEqual(errors, [], 'no script errors on the page');
    await context.close();
  });

  test('without EventSource the page falls back to polling the status', { timeout: TEST_TIMEOUT_MS }, async () => {
    const saleId = uid('polling');
    await server.createSale({ sale_id: saleId, item: 'Halo Desk Lamp', stock: 10 });
    const { context, page, errors } = await newPage();
    await context.addInitScript(() => {
      delete window.EventSource;
    });
    await page.goto(`${server.base}/?sale=${saleId}`);
    await waitText(page, '#sale-item', /Halo/);
    assert.equal(await page.evaluate(() => typeof window.EventSource), 'undefined');
    for (let i = 0; i < 3; i++) assert.equal((await server.order(saleId, `crowd-${i}-${saleId}`)).status, 202);
    await page.fill('#user-id', uid('poller'));
    await page.click('#buy');
    await waitText(page, '#live-mode', /checking/i);
    await waitText(page, '#status', /CONFIRMED/);
    assert.ok(
      await page.evaluate(() => performance.getEntriesByType('resource').some((e) => e.name.includes('/api/orders/status?ticket='))),
      'the status was polled',
    );
    assert.deepEqual(errors, [], 'no script errors on the page');
    await context.close();
  });

  test('a sale of several items: the buyer picks one, sees what is left of each, and may buy another', { timeout: TEST_TIMEOUT_MS }, async () => {
    const saleId = uid('launch');
    await server.createSale({
      sale_id: saleId,
      items: [
        { item_id: 'phone', name: 'Lumen Phone', stock: 1 },
        { item_id: 'buds', name: 'Lumen Buds', stock: 5 },
      ],
    });
    const { context, page, errors } = await newPage();
    await page.goto(`${server.base}/?sale=${saleId}`);
    await page.waitForSelector('#item-choice:not([hidden])');
    assert.deepEqual(await page.$$eval('#item-id option', (os) => os.map((o) => o.value)), ['phone', 'buds']);
    const userId = uid('picker');
    await page.fill('#user-id', userId);
    await page.selectOption('#item-id', 'phone');
    await page.waitForSelector('#buy:not([disabled])');

    const phone = page.waitForResponse((r) => r.request().method() === 'POST' && r.url().endsWith(`/api/sales/${saleId}/orders`));
    await page.click('#buy');
    const phoneOrder = await (await phone).json();
    assert.equal(phoneOrder.item_id, 'phone', JSON.stringify(phoneOrder));
    await waitText(page, '#status', /CONFIRMED/);
    // The phone is gone: its option says so and cannot be picked; the buds still can.
    await page.waitForFunction(() => {
      const option = document.querySelector('#item-id option[value="phone"]');
      return option && option.disabled && /sold out/i.test(option.textContent);
    });
    await page.selectOption('#item-id', 'buds');
    await page.waitForSelector('#buy:not([disabled])');
    const buds = page.waitForResponse((r) => r.request().method() === 'POST' && r.url().endsWith(`/api/sales/${saleId}/orders`));
    await page.click('#buy');
    const budsResponse = await buds;
    assert.equal(budsResponse.status(), 202, 'an order of the phone does not block the buds');
    const budsOrder = await budsResponse.json();
    assert.equal(budsOrder.item_id, 'buds');
    assert.notEqual(budsOrder.order_id, phoneOrder.order_id);
    await shot(page, '06-items.png');
    assert.deepEqual(errors, [], 'no script errors on the page');
    await context.close();
  });

  test('a sale that does not exist says so', { timeout: TEST_TIMEOUT_MS }, async () => {
    const { context, page, errors } = await newPage();
    await page.goto(`${server.base}/?sale=${uid('nowhere')}`);
    await waitText(page, '#message', /could not find a sale/i);
    assert.deepEqual(errors, [], 'no script errors on the page');
    await context.close();
  });

  test('a sale that sells out under the user shows a friendly message', { timeout: TEST_TIMEOUT_MS }, async () => {
    const saleId = uid('last-one');
    await server.createSale({ sale_id: saleId, item: 'Orbit Smartwatch, last unit', stock: 1 });
    const { context, page, errors } = await newPage();
    await page.goto(`${server.base}/?sale=${saleId}`);
    await waitText(page, '#sale-remaining', /^1$/);
    await page.fill('#user-id', uid('late'));
    await page.waitForSelector('#buy:not([disabled])');

    const someoneElse = await server.order(saleId, uid('fast'));
    assert.equal(someoneElse.status, 202);
    await page.click('#buy');
    await waitText(page, '#message', /sold out/i);
    await waitText(page, '#sale-state', /sold out/i);
    assert.ok(await page.isDisabled('#buy'), 'Buy is disabled once sold out');
    await shot(page, '05-sold-out.png');

    assert.deepEqual(errors, [], 'no script errors on the page');
    await context.close();
  });
});

// ---------------------------------------------------------------------------- a shop's login

describe('the demo page with --buyer-auth jwt', () => {
  const keyDir = fs.mkdtempSync(path.join(os.tmpdir(), 'flashgate-buyer-key-'));
  const keyFile = path.join(keyDir, 'buyer.jwk');
  // `flashgate token` signs as the shop's login would; the first call makes the key and its JWKS.
  const tokenFor = (user) => execFileSync(BIN, ['token', '--user', user, '--key', keyFile, '--ttl', '10m']).toString().trim();
  tokenFor('warm-up');
  const server = new Server(['--buyer-auth', 'jwt', '--jwt-keys', `${keyFile}.jwks`]);
  let browser;

  before(async () => {
    await server.start();
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
      timeout: READY_TIMEOUT_MS * 2,
    });
  });

  after(async () => {
    if (browser) await browser.close().catch(() => {});
    await server.stop();
    fs.rmSync(keyDir, { recursive: true, force: true });
  });

  test('?token= buys as the buyer the token names; without it the server says who must log in', { timeout: TEST_TIMEOUT_MS }, async () => {
    const saleId = uid('login');
    await server.createSale({ sale_id: saleId, item: 'Orbit Smart Watch', stock: 5 });
    const buyer = uid('signed-in');
    const token = tokenFor(buyer);

    const context = await browser.newContext({ viewport: { width: 1180, height: 900 } });
    context.setDefaultTimeout(UI_TIMEOUT_MS);
    const page = await context.newPage();
    const errors = watchPageErrors(page);
    await page.goto(`${server.base}/?sale=${saleId}&token=${encodeURIComponent(token)}`);
    await waitText(page, '#sale-state', /live/i);
    assert.equal(await page.inputValue('#user-id'), buyer, 'the page shows the buyer of the token');
    assert.ok(await page.$eval('#user-id', (el) => el.readOnly), 'and does not let it be changed');
    await page.waitForSelector('#buy:not([disabled])');
    const intake = page.waitForResponse((r) => r.request().method() === 'POST' && r.url().endsWith(`/api/sales/${saleId}/orders`));
    await page.click('#buy');
    const response = await intake;
    assert.equal(response.request().headers()['authorization'], `Bearer ${token}`);
    assert.equal(response.status(), 202);
    const order = await response.json();
    await waitText(page, '#status', /QUEUED|PROCESSING|CONFIRMED/);
    await shot(page, '05-jwt-bought.png');

    // The server took the buyer from the token: the same buyer again is the same order.
    const again = await server.order(saleId, null, { Authorization: `Bearer ${token}` });
    assert.equal(again.status, 200, JSON.stringify(again.body));
    assert.equal(again.body.order_id, order.order_id);

    // No token: 401, shown on the page, nothing reserved.
    const anonymous = await context.newPage();
    await anonymous.goto(`${server.base}/?sale=${saleId}`);
    await waitText(anonymous, '#sale-state', /live/i);
    await anonymous.fill('#user-id', uid('nobody'));
    await anonymous.waitForSelector('#buy:not([disabled])');
    const refused = anonymous.waitForResponse((r) => r.request().method() === 'POST');
    await anonymous.click('#buy');
    assert.equal((await refused).status(), 401);
    await waitText(anonymous, '#message', /\S/);
    const sale = await server.api('GET', `/api/sales/${saleId}`);
    assert.equal(sale.body.remaining, 4);
    assert.deepEqual(errors, [], 'no script errors on the page');
    await context.close();
  });
});
