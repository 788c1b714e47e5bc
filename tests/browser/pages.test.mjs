// SPDX-License-Identifier: MIT
//
// The sign-in, account and admin pages in a real browser (Debian's chromium through
// playwright-core), against a real server on SQLite with Secure __Host- cookies (Chromium
// takes Secure cookies from http://127.0.0.1, a potentially trustworthy origin). Each
// test is one user story; every page along the way is checked for console errors, CSP
// violations and failed subresources, and the three pages are screenshotted at desktop and
// phone width (build/test-artifacts/browser/).

import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, sleep } from '../server/lib.mjs';
import {
	launch, device, pageProblems, pathOf, keyboardSignIn, signIn, screenshot, a11yProblems,
	lowContrast, PHONE,
} from './lib.mjs';

let srv, browser;
const ALICE = 'alice-password-1';
const BOB = 'bob-password-12';

before(async () => {
	srv = await startServer({ insecure: false });
	await srv.addUser('alice', ALICE);
	await srv.addUser('bob', BOB);
	browser = await launch();
});

// What a page must never show: console errors, CSP violations, failed loads.
function clean(page) {
	assert.deepEqual(pageProblems(page), [], 'no console errors, CSP violations or failed loads');
}

const rows = (page) => page.locator('table tbody tr');

test('sign in by keyboard; the current device is marked; the cookie is out of reach of script', async () => {
	const { ctx, page } = await device(browser);
	await page.goto(srv.base + '/account');
	assert.equal(pathOf(page), '/login?return_to=/account', 'a page without a session sends the browser to /login');
	assert.deepEqual(await a11yProblems(page), []);
	assert.deepEqual(await lowContrast(page), [], 'text contrast at least 4.5:1 (WCAG 1.4.3)');
	await screenshot(page, 'login');
	clean(page);

	// a wrong password and an unknown user read the same, and neither signs in
	const statuses = [];
	page.on('response', (r) => { if (r.url().endsWith('/login') && r.request().method() === 'POST') statuses.push(r.status()); });
	await keyboardSignIn(page, 'alice', 'not-her-password');
	const wrong = await page.locator('[role=alert]').textContent();
	assert.equal(pathOf(page), '/login');
	await page.goto(srv.base + '/login?return_to=/account');
	await keyboardSignIn(page, 'nobody-here', 'not-her-password');
	const unknown = await page.locator('[role=alert]').textContent();
	assert.equal(unknown, wrong, 'the message does not tell whether the user exists');
	assert.deepEqual(statuses, [401, 401]);
	// the failed post kept return_to, so this sign-in still lands where it was going
	assert.equal(await page.locator('input[name=return_to]').getAttribute('value'), '/account');
	await keyboardSignIn(page, 'alice', ALICE);
	assert.equal(pathOf(page), '/account', 'after sign-in the browser lands on return_to');
	clean(page);

	const current = page.locator('tr.current');
	assert.equal(await current.count(), 1, 'exactly one device is this one');
	assert.match(await current.textContent(), /This device/);
	assert.match(await current.locator('.device').textContent(), /^(Headless )?Chrome \d+ on Linux$/,
		'browser and OS named from the user agent');
	assert.match(await current.textContent(), /127\.0\.0\.1/);
	assert.match(await current.textContent(), /just now/);

	const jar = await ctx.cookies(srv.base);
	const sc = jar.find((c) => c.name === '__Host-latchkey');
	assert.ok(sc, 'the session cookie is set');
	assert.equal(sc.httpOnly, true);
	assert.equal(sc.secure, true);
	assert.equal(sc.sameSite, 'Lax');
	assert.equal(sc.path, '/');
	const visible = await page.evaluate(() => document.cookie);
	assert.ok(!visible.includes('__Host-latchkey=') && !visible.includes(sc.value),
		`document.cookie shows no session cookie (it shows ${JSON.stringify(visible)})`);

	// every state-changing form carries the CSRF token
	const forms = await page.evaluate(() => [...document.querySelectorAll('form')]
		.filter((f) => f.method === 'post').map((f) => [f.action, !!f.querySelector('input[name=csrf]')?.value]));
	assert.ok(forms.length >= 3);
	for (const [action, has] of forms) assert.ok(has, `form to ${action} has a CSRF token`);

	// keyboard: the first Tab reaches the skip link, focus is visible, and the order follows
	// the page (header navigation, then the device table, then the password form)
	await page.evaluate(() => document.activeElement?.blur());
	await page.keyboard.press('Tab');
	assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Skip to content');
	const order = [];
	for (let i = 0; i < 12; i++) {
		await page.keyboard.press('Tab');
		const o = await page.evaluate(() => {
			const e = document.activeElement;
			if (e === document.body) return null; /* past the last control */
			const st = getComputedStyle(e);
			return { text: (e.getAttribute('aria-label') || e.textContent || e.id || e.name).trim(), outline: st.outlineStyle !== 'none' && parseFloat(st.outlineWidth) >= 2 };
		});
		if (!o) break;
		order.push(o);
	}
	for (const o of order) assert.ok(o.outline, `focus is visible on ${o.text}`);
	const names = order.map((o) => o.text);
	const at = (want) => names.findIndex((n) => (want instanceof RegExp ? want.test(n) : n === want));
	const seq = ['Account', 'Sign out', /^Sign out this device, (Headless )?Chrome \d+ on Linux, 127\.0\.0\.1$/, 'current', 'new', 'confirm', 'Change password'].map(at);
	assert.ok(seq.every((i, k) => i >= 0 && (k === 0 || i > seq[k - 1])),
		`focus order follows the page: ${JSON.stringify(names)}`);

	assert.deepEqual(await a11yProblems(page), []);
	assert.deepEqual(await lowContrast(page), []);
	await screenshot(page, 'account');
	await page.setViewportSize(PHONE);
	assert.deepEqual(await a11yProblems(page), [], 'no sideways scrolling at phone width');
	clean(page);
	await ctx.close();
});

test('a second device is listed, revoked from the first, and sent to /login on its next navigation', async () => {
	const a = await device(browser);
	const b = await device(browser);
	await signIn(a.page, srv.base, 'alice', ALICE);
	await signIn(b.page, srv.base, 'alice', ALICE);
	assert.equal(pathOf(b.page), '/account');
	await a.page.reload();
	const before = await rows(a.page).count();
	assert.ok(before >= 2, 'both devices are listed');

	// the newest other device is b's: revoke it by its button
	const other = a.page.locator('tbody tr:not(.current)').first();
	await Promise.all([a.page.waitForNavigation(), other.locator('button').click()]);
	assert.equal(pathOf(a.page), '/account?done=revoked');
	assert.match(await a.page.locator('[role=status]').textContent(), /signed out/);
	assert.equal(await rows(a.page).count(), before - 1);

	await b.page.goto(srv.base + '/account');
	assert.equal(pathOf(b.page), '/login?return_to=/account&ended=1');
	assert.match(await b.page.locator('[role=status]').textContent(), /session has ended/);
	assert.ok(!(await b.ctx.cookies(srv.base)).some((c) => c.name === '__Host-latchkey'),
		'the dead cookie was cleared');
	// and back in, to where it was going
	await keyboardSignIn(b.page, 'alice', ALICE);
	assert.equal(pathOf(b.page), '/account');

	// "sign out everywhere else" from a ends b (and any other) but not a
	await a.page.reload();
	await Promise.all([a.page.waitForNavigation(), a.page.getByRole('button', { name: 'Sign out everywhere else' }).click()]);
	assert.equal(pathOf(a.page), '/account?done=others');
	assert.equal(await rows(a.page).count(), 1);
	assert.match(await a.page.locator('p.muted').first().textContent(), /No other device/);
	await b.page.goto(srv.base + '/account');
	assert.match(pathOf(b.page), /^\/login\?return_to=\/account&ended=1$/);

	// the revoked device's form posts go to /login too, not to a JSON error
	await signIn(b.page, srv.base, 'alice', ALICE);
	await a.page.reload();
	await Promise.all([a.page.waitForNavigation(), a.page.locator('tr:not(.current) button').first().click()]);
	await Promise.all([b.page.waitForNavigation(), b.page.getByRole('button', { name: 'Sign out everywhere else' }).click()]);
	assert.equal(pathOf(b.page), '/login?return_to=/account&ended=1');

	// sign out from the header
	await Promise.all([a.page.waitForNavigation(), a.page.locator('header').getByRole('button', { name: 'Sign out' }).click()]);
	assert.equal(pathOf(a.page), '/login');
	await a.page.goto(srv.base + '/account');
	assert.match(pathOf(a.page), /^\/login\?return_to=\/account/);
	clean(a.page);
	clean(b.page);
	await a.ctx.close();
	await b.ctx.close();
});

test('changing the password signs out the other devices and keeps this one', async () => {
	const a = await device(browser);
	const b = await device(browser);
	await signIn(a.page, srv.base, 'bob', BOB);
	await signIn(b.page, srv.base, 'bob', BOB);
	await a.page.reload();
	assert.equal(await rows(a.page).count(), 2);
	const oldCookie = (await a.ctx.cookies(srv.base)).find((c) => c.name === '__Host-latchkey').value;

	const submit = async (cur, next, again) => {
		await a.page.fill('#current', cur);
		await a.page.fill('#new', next);
		await a.page.fill('#confirm', again);
		const [resp] = await Promise.all([a.page.waitForNavigation(), a.page.getByRole('button', { name: 'Change password' }).click()]);
		return resp;
	};
	let resp = await submit(BOB, 'bob-new-password', 'bob-new-passw0rd');
	assert.equal(resp.status(), 400);
	assert.match(await a.page.locator('[role=alert]').textContent(), /differ/);
	resp = await submit('wrong-current-pw', 'bob-new-password', 'bob-new-password');
	assert.equal(resp.status(), 401);
	assert.match(await a.page.locator('[role=alert]').textContent(), /current password is wrong/);
	// too short: the browser's own minlength stops it first; the server says the same
	await a.page.evaluate(() => document.querySelectorAll('input[minlength]').forEach((i) => i.removeAttribute('minlength')));
	resp = await submit(BOB, 'short', 'short');
	assert.equal(resp.status(), 400);
	assert.match(await a.page.locator('[role=alert]').textContent(), /8 to 1023 characters/);

	resp = await submit(BOB, 'bob-new-password', 'bob-new-password');
	assert.equal(pathOf(a.page), '/account?done=password');
	assert.match(await a.page.locator('[role=status]').textContent(), /password was changed/);
	assert.equal(await rows(a.page).count(), 1, 'only this device is left');
	assert.equal(await a.page.locator('tr.current').count(), 1);
	const newCookie = (await a.ctx.cookies(srv.base)).find((c) => c.name === '__Host-latchkey').value;
	assert.notEqual(newCookie, oldCookie, 'a new session id after the change');
	const stale = await srv.fetch('/me', { cookie: oldCookie });
	assert.equal(stale.status, 401, 'the old session id is dead');

	await b.page.goto(srv.base + '/account');
	assert.equal(pathOf(b.page), '/login?return_to=/account&ended=1', 'the other device is signed out');
	await keyboardSignIn(b.page, 'bob', BOB);
	assert.equal(pathOf(b.page), '/login', 'the old password no longer works');
	await keyboardSignIn(b.page, 'bob', 'bob-new-password');
	assert.equal(pathOf(b.page), '/account');
	clean(a.page);
	clean(b.page);
	await a.ctx.close();
	await b.ctx.close();
});

test('admin: users with search, a user\'s sessions, revoke one, sign everyone out', async () => {
	const adm = await device(browser);
	const al = await device(browser);
	const bo = await device(browser);
	await signIn(al.page, srv.base, 'alice', ALICE);
	await signIn(bo.page, srv.base, 'bob', 'bob-new-password');

	// a user without the role gets a page saying so, not the admin page
	const denied = await al.page.goto(srv.base + '/admin');
	assert.equal(denied.status(), 403);
	assert.match(await al.page.locator('h1').textContent(), /Not allowed/);
	assert.equal(await al.page.locator('nav a[href="/admin"]').count(), 0, 'no admin link for non-admins');

	await signIn(adm.page, srv.base, 'admin', srv.adminPassword, '/admin');
	assert.equal(pathOf(adm.page), '/admin', 'return_to=/admin honoured');
	const names = await adm.page.locator('tbody tr td:first-child').allTextContents();
	assert.deepEqual(names.sort(), ['admin', 'alice', 'bob']);
	assert.deepEqual(await a11yProblems(adm.page), []);
	assert.deepEqual(await lowContrast(adm.page), []);
	await screenshot(adm.page, 'admin');

	await adm.page.fill('#q', 'ali');
	await Promise.all([adm.page.waitForNavigation(), adm.page.keyboard.press('Enter')]);
	assert.equal(pathOf(adm.page), '/admin?q=ali');
	assert.deepEqual(await adm.page.locator('tbody tr td:first-child').allTextContents(), ['alice']);
	assert.equal(await adm.page.inputValue('#q'), 'ali');

	await Promise.all([adm.page.waitForNavigation(), adm.page.getByRole('link', { name: 'alice' }).click()]);
	assert.equal(pathOf(adm.page), '/admin?user=alice');
	assert.match(await adm.page.locator('h2').first().textContent(), /Sessions of alice/);
	const n = await rows(adm.page).count();
	assert.ok(n >= 1);
	await Promise.all([adm.page.waitForNavigation(), rows(adm.page).first().locator('button').click()]);
	assert.equal(pathOf(adm.page), '/admin?user=alice&done=session');
	assert.equal(await rows(adm.page).count(), n - 1);
	await al.page.goto(srv.base + '/account');
	assert.match(pathOf(al.page), /^\/login/, 'alice\'s revoked session is gone');
	await signIn(al.page, srv.base, 'alice', ALICE);

	// a user's "sign out everywhere" from the list
	await adm.page.goto(srv.base + '/admin');
	await Promise.all([adm.page.waitForNavigation(), adm.page.getByRole('button', { name: 'Sign bob out everywhere' }).click()]);
	assert.equal(pathOf(adm.page), '/admin?done=user');
	await bo.page.goto(srv.base + '/account');
	assert.match(pathOf(bo.page), /^\/login/);
	await signIn(bo.page, srv.base, 'bob', 'bob-new-password');

	// sign everyone out: the admin too
	await Promise.all([adm.page.waitForNavigation(), adm.page.getByRole('button', { name: 'Sign everyone out' }).click()]);
	assert.equal(pathOf(adm.page), '/login');
	for (const d of [al, bo, adm]) {
		await d.page.goto(srv.base + '/account');
		assert.match(pathOf(d.page), /^\/login\?return_to=\/account/, 'every device is signed out');
	}
	for (const d of [adm, al, bo]) {
		clean(d.page);
		await d.ctx.close();
	}
});

test('return_to is only a same-origin path; a page with a query comes back whole', async () => {
	const { ctx, page } = await device(browser);
	for (const evil of ['//evil.example/x', 'https://evil.example/', '/\\evil.example', ' /account', 'javascript:alert(1)']) {
		await signIn(page, srv.base, 'alice', ALICE, evil);
		assert.equal(pathOf(page), '/account', `return_to ${JSON.stringify(evil)} is ignored`);
		await page.context().clearCookies();
	}
	await signIn(page, srv.base, 'admin', srv.adminPassword);
	await ctx.clearCookies();
	await page.goto(srv.base + '/admin?q=bob');
	assert.equal(pathOf(page), '/login?return_to=/admin%3Fq%3Dbob');
	await keyboardSignIn(page, 'admin', srv.adminPassword);
	assert.equal(pathOf(page), '/admin?q=bob');
	clean(page);
	await ctx.close();
});

test('two sign-in tabs: the form of the first still signs in after the second loaded', async () => {
	const { ctx, page } = await device(browser);
	await page.goto(srv.base + '/login');
	const second = await ctx.newPage();
	await second.goto(srv.base + '/login');
	await second.close();
	await page.bringToFront();
	await page.focus('#username');
	await keyboardSignIn(page, 'alice', ALICE);
	assert.equal(pathOf(page), '/account');
	clean(page);
	await ctx.close();
});

test('an expired session: pages go to /login, the API answers 401 JSON', async () => {
	const short = await startServer({ insecure: false, args: ['--idle-timeout', '2s'] });
	const { ctx, page } = await device(browser);
	await signIn(page, short.base, 'admin', short.adminPassword);
	assert.equal(pathOf(page), '/account');
	await sleep(3200);
	const api = await page.request.get(short.base + '/me', { headers: { Accept: 'application/json' } });
	assert.equal(api.status(), 401);
	assert.equal((await api.json()).error, 'unauthorized');
	await page.goto(short.base + '/account');
	assert.equal(pathOf(page), '/login?return_to=/account&ended=1');
	clean(page);
	await ctx.close();
	await short.stop();
});
