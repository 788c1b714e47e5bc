// SPDX-License-Identifier: MIT
//
// The browser harness: Debian's chromium (CHROMIUM, default /usr/bin/chromium) driven by
// playwright-core (pinned in package-lock.json), against a real `latchkey serve` started
// by ../server/lib.mjs. Every page a test opens is watched: console errors and warnings,
// uncaught page errors, Content-Security-Policy violations (Chromium reports each one as
// a console error "Refused to ..."), failed requests and subresources answered >= 400;
// pageProblems() returns them. Screenshots go to build/test-artifacts/browser/.

import { chromium } from 'playwright-core';
import { mkdirSync, existsSync } from 'node:fs';
import path from 'node:path';
import { after } from 'node:test';
import { ROOT } from '../server/lib.mjs';

export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
export const ARTIFACTS = path.join(ROOT, 'build', 'test-artifacts', 'browser');
export const DESKTOP = { width: 1280, height: 900 };
export const PHONE = { width: 390, height: 844 };

const browsers = new Set();
after(async () => {
	await Promise.all([...browsers].map((b) => b.close().catch(() => {})));
});

export async function launch() {
	if (!existsSync(CHROMIUM))
		throw new Error(`${CHROMIUM} is missing (Debian package chromium; make deps installs it)`);
	const b = await chromium.launch({
		executablePath: CHROMIUM,
		// the flags, exactly: no sandbox (root in CI), no GPU, nothing phoning home
		args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
			'--disable-component-update', '--disable-sync'],
		timeout: 30000,
	});
	browsers.add(b);
	b.on('disconnected', () => browsers.delete(b));
	return b;
}

// A new browser context (one "device": its own cookies) with a watched page.
export async function device(browser, { viewport = DESKTOP } = {}) {
	const ctx = await browser.newContext({ viewport });
	const page = await ctx.newPage();
	page.setDefaultTimeout(10000);
	watch(page);
	return { ctx, page };
}

// Chromium logs "Failed to load resource: ... status of N" for every response >= 400,
// documents included. A document's own status is the page's answer (a 401 for a wrong
// password, a 403 for a non-admin), which the tests assert where they expect it; such a
// line is not counted when it names a document that was answered with exactly that
// status. The same line for a stylesheet or an icon is a problem.
const LOAD_FAILED = /^Failed to load resource: the server responded with a status of (\d+)/;

function watch(page) {
	page.problems_ = [];
	page.documents_ = new Map(); // url -> statuses of document responses
	const add = (what) => page.problems_.push(`${what} (at ${page.url()})`);
	page.on('console', (m) => {
		if (m.type() !== 'error' && m.type() !== 'warning') return;
		const lf = m.text().match(LOAD_FAILED);
		const url = m.location()?.url;
		if (lf && url) {
			page.problems_.push({ url, status: Number(lf[1]), text: `console ${m.type()}: ${m.text()} (at ${url})` });
			return;
		}
		add(`console ${m.type()}: ${m.text()}`);
	});
	page.on('response', (r) => {
		if (r.request().resourceType() !== 'document') return;
		const seen = page.documents_.get(r.url()) || new Set();
		seen.add(r.status());
		page.documents_.set(r.url(), seen);
	});
	page.on('pageerror', (e) => add(`page error: ${e.message}`));
	page.on('requestfailed', (r) => {
		// a navigation the test itself cut short is not the page's fault
		if (!/ERR_ABORTED/.test(r.failure()?.errorText || '')) add(`request failed: ${r.url()} ${r.failure()?.errorText}`);
	});
	page.on('response', (r) => {
		if (r.status() >= 400 && r.request().resourceType() !== 'document')
			add(`subresource ${r.url()} answered ${r.status()}`);
	});
}

// What went wrong on the page so far (and forget it): [] when all is well.
export function pageProblems(page) {
	const p = page.problems_.filter((x) => typeof x === 'string' || !page.documents_.get(x.url)?.has(x.status))
		.map((x) => (typeof x === 'string' ? x : x.text));
	page.problems_ = [];
	return p;
}

export const pathOf = (page) => {
	const u = new URL(page.url());
	return u.pathname + u.search;
};

// Sign in through the form by keyboard only, from wherever the page is (it must show the
// sign-in form): type into the focused username field, Tab, password, Enter.
export async function keyboardSignIn(page, user, password) {
	await page.waitForSelector('form[action="/login"]');
	const focused = await page.evaluate(() => document.activeElement?.id);
	if (focused !== 'username') throw new Error(`the username field is not focused (focus on ${focused})`);
	await page.keyboard.type(user);
	await page.keyboard.press('Tab');
	await page.keyboard.type(password);
	await Promise.all([page.waitForNavigation(), page.keyboard.press('Enter')]);
}

// Go to /login and sign in; resolves when the account page (or return_to) is shown.
export async function signIn(page, base, user, password, returnTo) {
	await page.goto(base + '/login' + (returnTo ? '?return_to=' + encodeURIComponent(returnTo) : ''));
	await keyboardSignIn(page, user, password);
}

export async function screenshot(page, name) {
	mkdirSync(ARTIFACTS, { recursive: true });
	const vp = page.viewportSize();
	const shots = [];
	for (const [kind, size] of [['desktop', DESKTOP], ['phone', PHONE]]) {
		await page.setViewportSize(size);
		const file = path.join(ARTIFACTS, `${name}-${kind}.png`);
		await page.screenshot({ path: file, fullPage: true });
		shots.push(file);
	}
	await page.setViewportSize(vp);
	return shots;
}

// Accessibility checks that need no library: every visible form control has a label,
// every button an accessible name, ids are unique, one h1, a main landmark, images have
// alt, and nothing is wider than the viewport (no sideways scrolling on a phone).
export async function a11yProblems(page) {
	return page.evaluate(() => {
		const out = [];
		for (const el of document.querySelectorAll('input, select, textarea')) {
			if (el.type === 'hidden' || el.hidden) continue;
			if (!el.labels?.length && !el.getAttribute('aria-label')) out.push(`unlabelled ${el.outerHTML}`);
		}
		for (const b of document.querySelectorAll('button')) {
			const name = (b.getAttribute('aria-label') || b.textContent || '').trim();
			if (!name) out.push(`button without a name: ${b.outerHTML}`);
		}
		const ids = [...document.querySelectorAll('[id]')].map((e) => e.id);
		const dup = ids.filter((id, i) => ids.indexOf(id) !== i);
		if (dup.length) out.push(`duplicate ids: ${dup}`);
		if (document.querySelectorAll('h1').length !== 1) out.push('not exactly one h1');
		if (!document.querySelector('main')) out.push('no main landmark');
		if (!document.documentElement.lang) out.push('no lang on html');
		for (const img of document.querySelectorAll('img')) if (!img.hasAttribute('alt')) out.push(`img without alt: ${img.src}`);
		if (document.documentElement.scrollWidth > window.innerWidth + 1)
			out.push(`wider than the viewport: ${document.documentElement.scrollWidth} > ${window.innerWidth}`);
		return out;
	});
}

// WCAG 2.1 contrast ratio of two CSS rgb() colours.
export function contrast(a, b) {
	const lum = (c) => {
		const [r, g, bl] = c.match(/[\d.]+/g).slice(0, 3).map(Number).map((v) => {
			v /= 255;
			return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
		});
		return 0.2126 * r + 0.7152 * g + 0.0722 * bl;
	};
	const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p);
	return (x + 0.05) / (y + 0.05);
}

// Text elements whose colour against their nearest opaque background is below 4.5:1.
export async function lowContrast(page) {
	const pairs = await page.evaluate(() => {
		const bgOf = (el) => {
			for (let e = el; e; e = e.parentElement) {
				const c = getComputedStyle(e).backgroundColor;
				if (c && !/rgba\(.*, 0\)$/.test(c) && c !== 'transparent') return c;
			}
			return 'rgb(255, 255, 255)';
		};
		const out = [];
		for (const el of document.querySelectorAll('body *')) {
			const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
			if (!own || el.offsetParent === null) continue;
			out.push({ text: el.textContent.trim().slice(0, 40), fg: getComputedStyle(el).color, bg: bgOf(el) });
		}
		return out;
	});
	return pairs.filter((p) => contrast(p.fg, p.bg) < 4.5).map((p) => `${JSON.stringify(p.text)} ${p.fg} on ${p.bg}: ${contrast(p.fg, p.bg).toFixed(2)}`);
}
