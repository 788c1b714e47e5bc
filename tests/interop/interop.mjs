// Interop between the latchkey CLI and panva/jose (the pinned version in package.json).
//
//   node interop.mjs /path/to/latchkey
//
// For every JWS algorithm latchkey supports:
//   (a) jose makes the key and the token; `latchkey jwt verify` accepts it (bare JWK file and
//       JWKS file), and rejects a tampered payload or signature with `invalid: bad_signature`;
//   (b) `latchkey jwk generate` makes the key: jose imports the private JWK, agrees on the
//       RFC 7638 kid, verifies `latchkey jwt sign` tokens, and signs tokens latchkey verifies;
//   (c) the JWKS from `latchkey jwk public` works in jose's createLocalJWKSet.
// Output is TAP; exit status 1 when anything failed.

import { spawnSync } from 'node:child_process';
import { createHmac, createPublicKey, generateKeyPairSync, sign as cryptoSign } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { isDeepStrictEqual, inspect } from 'node:util';
import * as jose from 'jose';

const ALGS = ['HS256', 'HS384', 'HS512', 'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512',
	'ES256', 'ES384', 'ES512', 'EdDSA'];
const ISS = 'https://issuer.example';
const AUD = 'interop-api';
const isHmac = (alg) => alg.startsWith('HS');

const bin = process.argv[2] ? resolve(process.argv[2]) : '';
const dir = mkdtempSync(join(tmpdir(), 'latchkey-interop-'));
const cleanup = () => rmSync(dir, { recursive: true, force: true });
process.on('exit', cleanup);
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(130));

let n = 0;
let failed = 0;
const diag = (text) => console.log(String(text).split('\n').map((l) => `# ${l}`).join('\n'));

class Fail extends Error {}
const must = (cond, msg) => { if (!cond) throw new Fail(msg); };

// test(desc, fn): fn may be async; a throw is a failure with its message as diagnostics.
async function test(desc, fn) {
	n += 1;
	try {
		await fn();
		console.log(`ok ${n} - ${desc}`);
	} catch (e) {
		failed += 1;
		console.log(`not ok ${n} - ${desc}`);
		diag(e instanceof Fail ? e.message : (e && e.stack) || inspect(e));
	}
}

// latchkey(args, input): run the binary; {status, stdout, stderr}.
function latchkey(args, input) {
	const r = spawnSync(bin, args, { input: input ?? '', encoding: 'utf8', timeout: 60_000 });
	// EPIPE only means the program exited without reading all of its stdin.
	if (r.error && !(r.error.code === 'EPIPE' && r.status !== null)) {
		throw new Fail(`cannot run ${bin} ${args.join(' ')}: ${r.error.message}`);
	}
	return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr, args };
}
const show = (r) => `latchkey ${r.args.map((a) => (a.length > 80 ? a.slice(0, 77) + '...' : a)).join(' ')}\n`
	+ `exit ${r.status}${r.signal ? ` (signal ${r.signal})` : ''}\n`
	+ `stdout: ${r.stdout.slice(0, 800)}\nstderr: ${r.stderr.slice(0, 800)}`;
function ok(r) { must(r.status === 0, `expected exit 0\n${show(r)}`); return r.stdout; }
function json(r) {
	const out = ok(r);
	try { return JSON.parse(out); } catch { throw new Fail(`stdout is not JSON\n${show(r)}`); }
}
function rejected(r, reason) {
	must(r.status === 1 && r.stdout === '' && r.stderr === `invalid: ${reason}\n`,
		`expected exit 1, empty stdout, stderr exactly "invalid: ${reason}\\n"\n${show(r)}`);
}
function write(name, value) {
	const p = join(dir, name);
	writeFileSync(p, typeof value === 'string' ? value : JSON.stringify(value));
	return p;
}
const eq = (got, want, what) => must(isDeepStrictEqual(got, want),
	`${what}: got ${inspect(got, { depth: 5 })}, want ${inspect(want, { depth: 5 })}`);

const b64u = (buf) => Buffer.from(buf).toString('base64url');
const unb64u = (s) => Buffer.from(s, 'base64url');

// A token whose payload was swapped after signing (the signature stays as it was).
function tamperPayload(token) {
	const [h, p, s] = token.split('.');
	const claims = JSON.parse(unb64u(p).toString());
	claims.sub = 'mallory';
	return `${h}.${b64u(JSON.stringify(claims))}.${s}`;
}
// A token with one bit flipped in the middle of its signature (still strict base64url).
function tamperSignature(token) {
	const [h, p, s] = token.split('.');
	const sig = unb64u(s);
	sig[sig.length >> 1] ^= 0x01;
	return `${h}.${p}.${b64u(sig)}`;
}

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

function claimsFor(alg, who) {
	const now = Math.floor(Date.now() / 1000);
	return { iss: ISS, sub: `${who}-${alg}`, aud: AUD, exp: now + 600, iat: now, jti: `jti-${who}-${alg}`, scope: 'read write' };
}

async function main() {
	if (!bin || !existsSync(bin)) {
		await test('latchkey binary exists', () => { throw new Fail(`no binary at "${bin}" (usage: node interop.mjs LATCHKEY_BINARY)`); });
		return;
	}
	let joseVersion = '?';
	try { joseVersion = JSON.parse(readFileSync(new URL('./node_modules/jose/package.json', import.meta.url))).version; } catch { /* display only */ }
	diag(`jose ${joseVersion}, node ${process.version}, ${bin}`);

	const joseRing = [];   // public JWKs (with kid) of every asymmetric jose key
	const joseTokens = []; // [alg, token]
	const lkRingPriv = []; // latchkey private JWKs, asymmetric
	const lkTokens = [];   // [alg, token] signed by latchkey

	for (const alg of ALGS) {
		// ------------------------------------------------ (a) jose -> latchkey
		const kid = `jose-${alg}`;
		let verifyKey;  // JWK latchkey verifies with (public, or the secret for HS)
		let signKey;
		if (isHmac(alg)) {
			signKey = await jose.generateSecret(alg, { extractable: true });
			verifyKey = { ...(await jose.exportJWK(signKey)), kid };
		} else {
			const { publicKey, privateKey } = await jose.generateKeyPair(alg, { extractable: true });
			signKey = privateKey;
			verifyKey = { ...(await jose.exportJWK(publicKey)), kid };
			joseRing.push({ ...verifyKey, alg, use: 'sig' });
		}
		const claims = claimsFor(alg, 'jose');
		const token = await new jose.SignJWT({ scope: claims.scope })
			.setProtectedHeader({ alg, typ: 'JWT', kid })
			.setIssuer(claims.iss).setSubject(claims.sub).setAudience(claims.aud)
			.setExpirationTime(claims.exp).setIssuedAt(claims.iat).setJti(claims.jti)
			.sign(signKey);
		if (!isHmac(alg)) joseTokens.push([alg, token]);
		const jwkFile = write(`jose-${alg}.jwk.json`, verifyKey);
		const jwksFile = write(`jose-${alg}.jwks.json`, { keys: [{ ...verifyKey, alg, use: 'sig' }] });

		await test(`${alg} jose->latchkey`, () => {
			const out = json(latchkey(['jwt', 'verify', '--jwks', jwkFile, '--iss', ISS, '--aud', AUD, token]));
			eq(out, jose.decodeJwt(token), 'payload printed by latchkey');
			eq(out, claims, 'claims');
		});
		await test(`${alg} jose->latchkey, JWKS with alg/use, --alg ${alg}, token on stdin`, () => {
			const out = json(latchkey(['jwt', 'verify', '--jwks', jwksFile, '--alg', alg, '--iss', ISS, '--aud', AUD, '-'], token));
			eq(out, claims, 'claims');
		});
		await test(`${alg} jose->latchkey tampered payload -> invalid: bad_signature`, () => {
			rejected(latchkey(['jwt', 'verify', '--jwks', jwkFile, '--iss', ISS, '--aud', AUD, tamperPayload(token)]), 'bad_signature');
		});
		await test(`${alg} jose->latchkey flipped signature bit -> invalid: bad_signature`, () => {
			rejected(latchkey(['jwt', 'verify', '--jwks', jwksFile, tamperSignature(token)]), 'bad_signature');
		});

		// ------------------------------------------------ (b) latchkey keys and tokens -> jose
		let priv;
		let privFile;
		await test(`${alg} latchkey jwk generate -> jose importJWK`, async () => {
			priv = json(latchkey(['jwk', 'generate', '--alg', alg]));
			must(priv.alg === alg, `alg member is ${inspect(priv.alg)}, want ${alg}`);
			must(typeof priv.kid === 'string' && priv.kid.length > 0, `kid member is ${inspect(priv.kid)}`);
			const key = await jose.importJWK(priv, alg);
			if (!isHmac(alg)) must(key.type === 'private', `jose imported a ${key.type} key, want private`);
			privFile = write(`lk-${alg}.key.json`, priv);
		});
		if (!priv) continue;
		if (!isHmac(alg)) lkRingPriv.push(priv);

		await test(`${alg} latchkey default kid = jose calculateJwkThumbprint (RFC 7638)`, async () => {
			eq(priv.kid, await jose.calculateJwkThumbprint(priv, 'sha256'), 'kid');
		});

		let lkJwks;
		let lkToken;
		const lkClaims = claimsFor(alg, 'latchkey');
		await test(`${alg} latchkey->jose jwtVerify`, async () => {
			lkToken = ok(latchkey(['jwt', 'sign', '--key', privFile, JSON.stringify(lkClaims)])).trim();
			lkJwks = json(latchkey(['jwk', 'public', privFile]));
			const key = isHmac(alg) ? await jose.importJWK(priv, alg) : await jose.importJWK(lkJwks.keys[0], alg);
			const { payload, protectedHeader } = await jose.jwtVerify(lkToken, key,
				{ algorithms: [alg], issuer: ISS, audience: AUD, typ: 'JWT' });
			eq(protectedHeader, { alg, typ: 'JWT', kid: priv.kid }, 'protected header');
			eq(payload, lkClaims, 'payload');
			lkTokens.push([alg, lkToken]);
		});

		await test(`${alg} latchkey --exp-in 15m -> jose sees exp = iat + 900`, async () => {
			const t = ok(latchkey(['jwt', 'sign', '--key', privFile, '--exp-in', '15m', '-'], JSON.stringify({ sub: 'x' }))).trim();
			const key = await jose.importJWK(isHmac(alg) ? priv : lkJwks.keys[0], alg);
			const { payload } = await jose.jwtVerify(t, key, { algorithms: [alg] });
			must(Number.isInteger(payload.iat) && payload.exp === payload.iat + 900, `exp ${payload.exp}, iat ${payload.iat}`);
			must(Math.abs(payload.iat - Date.now() / 1000) < 10, `iat ${payload.iat} is not now`);
		});

		await test(`${alg} jose signs with the latchkey key -> latchkey verifies`, async () => {
			const t = await new jose.SignJWT({ sub: 'cross' })
				.setProtectedHeader({ alg, kid: priv.kid }).setIssuer(ISS).setExpirationTime('5m')
				.sign(await jose.importJWK(priv, alg));
			const verifyWith = isHmac(alg) ? privFile : write(`lk-${alg}.jwks.json`, lkJwks);
			eq(json(latchkey(['jwt', 'verify', '--jwks', verifyWith, '--iss', ISS, t])).sub, 'cross', 'sub');
		});

		// ------------------------------------------------ (c) latchkey jwk public -> createLocalJWKSet
		if (isHmac(alg)) {
			await test(`${alg} latchkey jwk public publishes no oct key`, () => {
				eq(lkJwks, { keys: [] }, 'jwk public output');
			});
		} else {
			await test(`${alg} latchkey jwk public -> jose createLocalJWKSet`, async () => {
				must(lkJwks && Array.isArray(lkJwks.keys) && lkJwks.keys.length === 1, `jwk public output ${inspect(lkJwks)}`);
				const leaked = PRIVATE_MEMBERS.filter((m) => m in lkJwks.keys[0]);
				must(leaked.length === 0, `public JWK carries private members ${leaked}`);
				const { payload, protectedHeader } = await jose.jwtVerify(lkToken, jose.createLocalJWKSet(lkJwks),
					{ algorithms: [alg], issuer: ISS, audience: AUD });
				eq(protectedHeader.kid, priv.kid, 'kid');
				eq(payload, lkClaims, 'payload');
			});
		}
	}

	// ------------------------------------------------ key rings
	await test('jose JWKS of every asymmetric key: latchkey picks each token\'s key by kid', () => {
		const ring = write('jose-ring.jwks.json', { keys: joseRing });
		must(joseTokens.length === 10, `have ${joseTokens.length} jose tokens`);
		const bad = [];
		for (const [alg, t] of joseTokens) {
			const r = latchkey(['jwt', 'verify', '--jwks', ring, '--iss', ISS, '--aud', AUD, t]);
			if (r.status !== 0) bad.push(`${alg}:\n${show(r)}`);
		}
		must(bad.length === 0, bad.join('\n'));
	});

	await test('latchkey jwk public of a private JWKS -> jose createLocalJWKSet verifies every latchkey token', async () => {
		must(lkRingPriv.length === 10, `have ${lkRingPriv.length} latchkey keys`);
		const ringFile = write('lk-ring.key.json', { keys: lkRingPriv });
		const ring = json(latchkey(['jwk', 'public', ringFile]));
		eq(ring.keys.map((k) => k.kid), lkRingPriv.map((k) => k.kid), 'kids');
		const JWKS = jose.createLocalJWKSet(ring);
		for (const [alg, t] of lkTokens.filter(([a]) => !isHmac(a))) {
			const { protectedHeader } = await jose.jwtVerify(t, JWKS, { issuer: ISS, audience: AUD });
			eq(protectedHeader.alg, alg, 'alg');
		}
	});

	// ------------------------------------------------ keys and headers that must never verify
	await test('RSA-1024 key (node:crypto) -> latchkey invalid: weak_key', () => {
		const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
		const file = write('rsa1024.jwks.json', { keys: [{ ...publicKey.export({ format: 'jwk' }), kid: 'weak', alg: 'RS256' }] });
		const si = `${b64u(JSON.stringify({ alg: 'RS256', kid: 'weak' }))}.${b64u(JSON.stringify({ sub: 'a' }))}`;
		const t = `${si}.${b64u(cryptoSign('sha256', Buffer.from(si), privateKey))}`;
		rejected(latchkey(['jwt', 'verify', '--jwks', file, t]), 'weak_key');
	});

	await test('jose token carrying the attacker\'s key in a "jwk" header, real kid -> invalid: bad_signature', async () => {
		const legit = joseRing.find((k) => k.alg === 'ES256');
		const attacker = await jose.generateKeyPair('ES256', { extractable: true });
		const t = await new jose.SignJWT({ sub: 'mallory' })
			.setProtectedHeader({ alg: 'ES256', kid: legit.kid, jwk: await jose.exportJWK(attacker.publicKey) })
			.setExpirationTime('5m').sign(attacker.privateKey);
		rejected(latchkey(['jwt', 'verify', '--jwks', write('legit-es.jwks.json', { keys: [legit] }), t]), 'bad_signature');
	});

	await test('HS256 token keyed with the RSA public key (alg confusion) -> invalid: alg_not_allowed', () => {
		const legit = joseRing.find((k) => k.alg === 'RS256');
		const pem = createPublicKey({ key: legit, format: 'jwk' }).export({ type: 'spki', format: 'pem' });
		const si = `${b64u(JSON.stringify({ alg: 'HS256', typ: 'JWT', kid: legit.kid }))}.${b64u(JSON.stringify({ sub: 'mallory' }))}`;
		const t = `${si}.${b64u(createHmac('sha256', pem).update(si).digest())}`;
		rejected(latchkey(['jwt', 'verify', '--jwks', write('legit-rs.jwks.json', { keys: [legit] }), t]), 'alg_not_allowed');
	});

	await test('jose token with alg none (UnsecuredJWT) -> latchkey invalid: alg_none', () => {
		const ring = write('jose-ring2.jwks.json', { keys: joseRing });
		const t = new jose.UnsecuredJWT({ sub: 'nobody' }).setIssuer(ISS).setExpirationTime('5m').encode();
		rejected(latchkey(['jwt', 'verify', '--jwks', ring, t]), 'alg_none');
	});
}

try {
	await main();
} catch (e) {
	await test('interop harness ran to the end', () => { throw e; });
}
console.log(`1..${n}`);
if (failed) diag(`${failed} of ${n} failed`);
process.exitCode = failed ? 1 : 0;
