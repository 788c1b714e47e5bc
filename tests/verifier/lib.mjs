// SPDX-License-Identifier: MIT
//
// lkcheck (tests/verify/lkcheck.c) as a child process: one lk_verifier made from an issuer
// URL, fed commands on stdin, one answer line each. Started and stopped by PID.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { existsSync } from 'node:fs';
import { BIN } from '../tokens/lib.mjs';

export * from '../multi/lib.mjs';

export const LKCHECK = process.env.LKCHECK || path.join(path.dirname(BIN), 'tests', 'lkcheck');
export const haveLkcheck = existsSync(LKCHECK);

export class Checker {
	constructor(proc) {
		this.proc = proc;
		this.buf = '';
		this.err = '';
		this.waiting = [];
		proc.stdout.setEncoding('utf8').on('data', (d) => {
			this.buf += d;
			let i;
			while ((i = this.buf.indexOf('\n')) >= 0) {
				const line = this.buf.slice(0, i);
				this.buf = this.buf.slice(i + 1);
				const w = this.waiting.shift();
				if (w) w.resolve(line);
			}
		});
		proc.stderr.setEncoding('utf8').on('data', (d) => { this.err += d; });
		this.gone = new Promise((r) => proc.once('exit', (code, signal) => {
			this.exited = { code, signal };
			for (const w of this.waiting.splice(0)) w.reject(new Error(`lkcheck exited ${code ?? signal}: ${this.err}`));
			r(this.exited);
		}));
	}
	line(ms = 20000) {
		return new Promise((resolve, reject) => {
			const t = setTimeout(() => reject(new Error(`lkcheck: no answer in ${ms} ms`)), ms);
			this.waiting.push({ resolve: (l) => { clearTimeout(t); resolve(l); }, reject });
		});
	}
	async cmd(text, ms) {
		const p = this.line(ms);
		this.proc.stdin.write(text + '\n');
		return p;
	}
	// "ok SUB" | "invalid REASON"
	verify(token) { return this.cmd(`verify ${token}`); }
	// Poll until refused (or accepted, ok = true) within ms: {verdict, reason, ms}
	async until(token, ms = 2000, ok = false) {
		const l = await this.cmd(`${ok ? 'untilok' : 'until'} ${token} ${ms}`, ms + 10000);
		const [verdict, reason, t] = l.split(' ');
		return { verdict, reason, ms: Number(t), line: l };
	}
	async stats() { return JSON.parse(await this.cmd('stats')); }
	async stop() {
		if (!this.exited) {
			this.proc.stdin.end();
			const t = setTimeout(() => this.proc.kill('SIGKILL'), 5000);
			await this.gone;
			clearTimeout(t);
		}
		return this.exited;
	}
}

// Start lkcheck for issuer with client credentials (or none): resolves the Checker once it
// printed "ready"; rejects with its "error ..." line otherwise.
export async function startChecker(issuer, client, args = []) {
	const env = { ...process.env };
	delete env.LATCHKEY_CLIENT_ID;
	delete env.LATCHKEY_CLIENT_SECRET;
	if (client) {
		env.LATCHKEY_CLIENT_ID = client.id;
		env.LATCHKEY_CLIENT_SECRET = client.secret;
	}
	const proc = spawn(LKCHECK, ['--issuer', issuer, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
	const c = new Checker(proc);
	const first = await c.line(20000);
	if (first !== 'ready') {
		await c.stop();
		throw new Error(`lkcheck did not start: ${first} ${c.err}`);
	}
	return c;
}
