// SPDX-License-Identifier: MIT
//
// Cross-site request forgery and framing, in a real browser: a page served from another
// loopback origin (127.0.0.1 on another port: same site, so the SameSite=Lax cookie IS
// sent and the Origin check and CSRF token must hold; and http://localhost: another site,
// where the cookie stays home) posts forms at sign-out, revoke, revoke-others, change of
// password and sign-everyone-out, and frames the account page. None of it may change
// anything: the victim's devices are the same afterwards. (OWASP CSRF Prevention Cheat
// Sheet; Fetch Metadata; CSP frame-ancestors, CSP Level 2 §7.7.)

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startServer } from '../server/lib.mjs';
import { launch, device, pageProblems, pathOf, signIn } from './lib.mjs';

let srv, browser, evil, evilPort;
let attack = '';

before(async () => {
	srv = await startServer({ insecure: false });
	browser = await launch();
	// the attacker's site: whatever `attack` holds, as a page with no CSP of ours
	evil = http.createServer((req, res) => {
		res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
		res.end(`<!doctype html><html><body>${attack}</body></html>`);
	});
	await new Promise((r) => evil.listen(0, '127.0.0.1', r));
	evilPort = evil.address().port;
});
after(() => new Promise((r) => evil.close(r)));

function form(action, fields) {
	const inputs = Object.entries(fields).map(([k, v]) => `<input type="hidden" name="${k}" value="${v}">`).join('');
	return `<form method="post" action="${srv.base}${action}">${inputs}<button id="go">Win a prize</button></form>`;
}

async function devicesOf(page) {
	await page.goto(srv.base + '/account');
	assert.equal(pathOf(page), '/account', 'still signed in');
	return page.locator('tbody tr').allTextContents();
}

test('forms on another origin cannot sign out, revoke, change the password or sign everyone out', async () => {
	const victim = await device(browser);
	const other = await device(browser);
	await signIn(other.page, srv.base, 'admin', srv.adminPassword);
	await signIn(victim.page, srv.base, 'admin', srv.adminPassword);
	const before = await devicesOf(victim.page);
	assert.equal(before.length, 2);
	const otherId = await victim.page.locator('tbody tr:not(.current) input[name=id]').getAttribute('value');
	const csrfGuess = 'A'.repeat(43);

	const attempts = [
		['/logout', {}],
		['/logout', { csrf: csrfGuess }],
		['/account/revoke', { id: otherId, csrf: csrfGuess }],
		['/sessions/revoke-others', { csrf: csrfGuess }],
		['/account/password', { current_password: 'x', new_password: 'pwned-password', confirm_password: 'pwned-password', csrf: csrfGuess }],
		['/admin/revoke-all', { csrf: csrfGuess }],
		['/admin/sessions/revoke', { id: otherId, csrf: csrfGuess }],
	];
	for (const origin of [`http://127.0.0.1:${evilPort}`, `http://localhost:${evilPort}`]) {
		for (const [action, fields] of attempts) {
			attack = form(action, fields);
			await victim.page.goto(origin + '/');
			const [resp] = await Promise.all([victim.page.waitForNavigation(), victim.page.click('#go')]);
			const sameSite = origin.includes('127.0.0.1');
			// same site: the cookie went along and the Origin check refused the post (403);
			// another site: the Lax cookie stayed home, so there was no session to act on
			if (sameSite)
				assert.equal(resp.status(), 403, `${action} from ${origin}: refused`);
			else
				assert.ok([401, 403].includes(resp.status()) || pathOf(victim.page).startsWith('/login'),
					`${action} from ${origin}: no session reached it (${resp.status()} ${victim.page.url()})`);
			assert.deepEqual((await devicesOf(victim.page)).length, before.length, `${action} from ${origin} changed nothing`);
		}
	}
	// both devices still work, and the password is still the old one
	await other.page.goto(srv.base + '/account');
	assert.equal(pathOf(other.page), '/account');
	const r = await srv.login('admin', srv.adminPassword);
	assert.equal(r.status, 200);
	assert.deepEqual(pageProblems(other.page), []);
	await victim.ctx.close();
	await other.ctx.close();
});

test('another origin cannot frame the pages (frame-ancestors \'none\', X-Frame-Options: DENY)', async () => {
	const victim = await device(browser);
	await signIn(victim.page, srv.base, 'admin', srv.adminPassword);
	for (const p of ['/login', '/account', '/admin']) {
		attack = `<iframe id="f" src="${srv.base}${p}" width="600" height="400"></iframe>`;
		await victim.page.goto(`http://127.0.0.1:${evilPort}/`);
		await victim.page.waitForTimeout(300);
		const frame = victim.page.frames().find((f) => f !== victim.page.mainFrame());
		assert.ok(frame, 'the iframe exists');
		// a refused frame shows Chromium's error page, never ours
		const h1 = await frame.evaluate(() => document.querySelector('main h1')?.textContent ?? null).catch(() => null);
		assert.equal(h1, null, `${p} did not render inside another origin's frame`);
		pageProblems(victim.page); // the refusal is logged on the attacker's page: expected
	}
	await victim.ctx.close();
});

test('every page sends the security headers; no CSP allows inline code', async () => {
	const { ctx, page } = await device(browser);
	await signIn(page, srv.base, 'admin', srv.adminPassword);
	for (const p of ['/login', '/account', '/admin', '/admin?user=admin', '/admin?q=adm']) {
		const resp = await page.goto(srv.base + p);
		const h = resp.headers();
		const csp = h['content-security-policy'] || '';
		assert.match(csp, /frame-ancestors 'none'/, `${p}: CSP frame-ancestors`);
		assert.match(csp, /default-src 'none'/, `${p}: CSP default-src`);
		assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|\*/, `${p}: no unsafe-inline`);
		assert.match(csp, /form-action 'self'/);
		assert.equal(h['x-content-type-options'], 'nosniff');
		assert.equal(h['referrer-policy'], 'same-origin');
		assert.equal(h['x-frame-options'], 'DENY');
		assert.equal(h['cache-control'], 'no-store', `${p}: authenticated pages are not stored`);
		// no inline script or style anywhere: nothing the CSP would have to allow
		const inline = await page.evaluate(() => ({
			scripts: document.querySelectorAll('script').length,
			styles: document.querySelectorAll('style, [style]').length,
			handlers: [...document.querySelectorAll('*')].filter((e) => [...e.attributes].some((a) => a.name.startsWith('on'))).length,
		}));
		assert.deepEqual(inline, { scripts: 0, styles: 0, handlers: 0 }, `${p}: no inline script, style or handler`);
	}
	const css = await page.goto(srv.base + '/static/latchkey.css');
	assert.match(css.headers()['content-type'], /^text\/css/);
	assert.ok((await css.text()).length < 8192, 'one small stylesheet');
	// a browser on a JSON reply asks for /favicon.ico by itself: no 404 on its console
	const me = await page.goto(srv.base + '/me');
	assert.equal(me.status(), 200);
	const ico = await page.request.get(srv.base + '/favicon.ico');
	assert.equal(ico.status(), 200);
	assert.equal(ico.headers()['content-type'], 'image/svg+xml');
	assert.deepEqual(pageProblems(page), []);
	await ctx.close();
});
