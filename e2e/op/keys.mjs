// Writes a private JWKS for server.mjs: `node keys.mjs OUT KID:TYPE [KID:TYPE ...]` with TYPE
// `rsa` (RS256) or `ec` (ES256, P-256). Existing keys in OUT are kept after the new ones, so
// running it again with a new kid rotates: the new key signs, the old one stays published.
import crypto from 'node:crypto';
import fs from 'node:fs';

const [out, ...specs] = process.argv.slice(2);
const old = fs.existsSync(out) ? JSON.parse(fs.readFileSync(out, 'utf8')).keys : [];
const fresh = specs.map((spec) => {
  const [kid, type] = spec.split(':');
  const pair = type === 'ec'
    ? crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' })
    : crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...pair.privateKey.export({ format: 'jwk' }), kid, use: 'sig', alg: type === 'ec' ? 'ES256' : 'RS256' };
});
const kept = old.filter((k) => !fresh.some((f) => f.kid === k.kid));
fs.writeFileSync(out, JSON.stringify({ keys: [...fresh, ...kept] }));
