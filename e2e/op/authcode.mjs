// Drives the authorization code flow with PKCE against server.mjs without a browser, through the
// development login and consent pages, and prints the token response as JSON.
// `node authcode.mjs ISSUER REDIRECT_URI [USER]`
import crypto from 'node:crypto';

const [issuer, redirectUri, user = 'alice'] = process.argv.slice(2);
const b64url = (buf) => buf.toString('base64url');
const verifier = b64url(crypto.randomBytes(32));
const challenge = b64url(crypto.createHash('sha256').update(verifier).digest());
const jar = new Map();

function remember(res) {
  for (const line of res.headers.getSetCookie()) {
    const [pair] = line.split(';');
    const eq = pair.indexOf('=');
    jar.set(pair.slice(0, eq), pair.slice(eq + 1));
  }
}
const cookies = () => [...jar].map(([k, v]) => `${k}=${v}`).join('; ');

async function go(url, init = {}) {
  const res = await fetch(url, { ...init, redirect: 'manual', headers: { ...(init.headers || {}), cookie: cookies() } });
  remember(res);
  return res;
}

// Follows redirects until the redirect URI (returned) or a page (fetched and returned).
async function follow(res) {
  while (res.status >= 300 && res.status < 400) {
    const next = new URL(res.headers.get('location'), issuer).href;
    if (next.startsWith(redirectUri)) return { done: new URL(next) };
    res = await go(next);
  }
  return { page: res, url: res.url };
}

const auth = new URL(`${issuer}/auth`);
Object.entries({
  client_id: 'web', response_type: 'code', redirect_uri: redirectUri, scope: 'openid email profile offline_access',
  state: b64url(crypto.randomBytes(16)), nonce: b64url(crypto.randomBytes(16)), prompt: 'consent',
  code_challenge: challenge, code_challenge_method: 'S256', resource: 'https://orders-api',
}).forEach(([k, v]) => auth.searchParams.set(k, v));

let step = await follow(await go(auth.href));
for (let i = 0; i < 6 && !step.done; i += 1) {
  const html = await step.page.text();
  const action = /action="([^"]+)"/.exec(html)?.[1];
  if (!action) throw new Error(`no form on interaction page: ${html.slice(0, 200)}`);
  const form = new URLSearchParams();
  for (const [, name, value] of html.matchAll(/<input[^>]*type="hidden"[^>]*name="([^"]+)"[^>]*value="([^"]*)"/g)) {
    form.set(name, value);
  }
  if (/name="login"/.test(html)) {
    form.set('login', user);
    form.set('password', 'pw');
  }
  step = await follow(await go(new URL(action, issuer).href, { method: 'POST', body: form, headers: { 'content-type': 'application/x-www-form-urlencoded' } }));
}
if (!step.done) throw new Error('flow did not reach the redirect URI');
const code = step.done.searchParams.get('code');
const token = await fetch(`${issuer}/token`, {
  method: 'POST',
  headers: { authorization: `Basic ${Buffer.from('web:web-secret').toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
  body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: redirectUri, code_verifier: verifier, resource: 'https://orders-api' }),
});
const body = await token.json();
if (!token.ok) throw new Error(`token endpoint: ${JSON.stringify(body)}`);
console.log(JSON.stringify(body));
