// A real OpenID Provider (oidc-provider) on loopback for the end-to-end tests.
//
// Environment:
//   OP_PORT      port to listen on (127.0.0.1 only)
//   OP_KEYS      path of a private JWKS (see keys.mjs); the first key of each type signs, every key
//                is published, so rotation is "write a new first key and restart"
//   OP_REDIRECTS comma-separated redirect URIs of the `web` client (authorization code flow)
//   OP_POST_LOGOUT_REDIRECTS  comma-separated post_logout_redirect_uris of the `web` client
//   OP_ACCESS_TOKEN_TTL       lifetime of access tokens in seconds (default 600), for refresh tests
//   OP_REFRESH_WITHOUT_OFFLINE_ACCESS=1  issue refresh tokens to `web` on every code exchange, as
//                Keycloak and Entra ID do, not only when `offline_access` was asked with prompt=consent
//   OP_TOKEN_PADDING          length of a `padding` claim added to access tokens (default none), so a
//                session holding them is large enough to be split into several cookies
//
// Clients: `svc` (client credentials, secret `svc-secret`) and `web` (authorization code with PKCE
// and refresh tokens, secret `web-secret`). Resources: https://orders-api (JWT access tokens, RS256,
// audience orders-api), https://orders-api-ec (ES256, audience orders-api) and https://billing-api
// (audience billing-api, for wrong-audience tests); https://opaque-api issues opaque access tokens
// (audience orders-api) that only introspection can check. Access tokens carry roles, groups and
// realm_access.roles (Keycloak's shape).
import fs from 'node:fs';
import Provider from 'oidc-provider';

const port = Number(process.env.OP_PORT || 0);
const issuer = `http://127.0.0.1:${port}`;
const jwks = JSON.parse(fs.readFileSync(process.env.OP_KEYS, 'utf8'));
const redirects = (process.env.OP_REDIRECTS || `${issuer}/unused`).split(',');
const postLogoutRedirects = (process.env.OP_POST_LOGOUT_REDIRECTS || '').split(',').filter(Boolean);
const accessTokenTTL = Number(process.env.OP_ACCESS_TOKEN_TTL || 600);
const padding = Number(process.env.OP_TOKEN_PADDING || 0);

const resources = {
  'https://orders-api': { audience: 'orders-api', alg: 'RS256' },
  'https://orders-api-ec': { audience: 'orders-api', alg: 'ES256' },
  'https://billing-api': { audience: 'billing-api', alg: 'RS256' },
  'https://opaque-api': { audience: 'orders-api', format: 'opaque' },
};

const entitlements = {
  roles: ['reader', 'order-manager'],
  groups: ['staff'],
  realm_access: { roles: ['customer', 'offline_access'] },
};

const configuration = {
  jwks,
  clients: [
    {
      client_id: 'svc',
      client_secret: 'svc-secret',
      grant_types: ['client_credentials'],
      redirect_uris: [],
      response_types: [],
    },
    {
      client_id: 'web',
      client_secret: 'web-secret',
      grant_types: ['authorization_code', 'refresh_token'],
      redirect_uris: redirects,
      response_types: ['code'],
      id_token_signed_response_alg: 'RS256',
      ...(postLogoutRedirects.length ? { post_logout_redirect_uris: postLogoutRedirects } : {}),
    },
  ],
  pkce: { required: () => true },
  scopes: ['openid', 'profile', 'email', 'offline_access', 'orders:read', 'orders:write', 'admin'],
  claims: { openid: ['sub'], email: ['email'], profile: ['name'] },
  features: {
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    revocation: { enabled: true },
    devInteractions: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => 'https://orders-api',
      useGrantedResource: () => true,
      getResourceServerInfo: (_ctx, indicator) => {
        const rs = resources[indicator];
        if (!rs) throw new Error(`unknown resource ${indicator}`);
        return {
          scope: 'openid orders:read orders:write admin',
          audience: rs.audience,
          accessTokenTTL,
          accessTokenFormat: rs.format || 'jwt',
          ...(rs.alg ? { jwt: { sign: { alg: rs.alg } } } : {}),
        };
      },
    },
  },
  extraTokenClaims: () => (padding ? { ...entitlements, padding: 'p'.repeat(padding) } : entitlements),
  ...(process.env.OP_REFRESH_WITHOUT_OFFLINE_ACCESS === '1'
    ? { issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token') }
    : {}),
  findAccount: (_ctx, sub) => ({
    accountId: sub,
    claims: () => ({ sub, email: `${sub}@example.test`, name: `User ${sub}` }),
  }),
  ttl: { AccessToken: accessTokenTTL, ClientCredentials: accessTokenTTL, IdToken: 600, AuthorizationCode: 60, RefreshToken: 3600 },
};

const provider = new Provider(issuer, configuration);
provider.on('server_error', (_ctx, err) => console.error('op server_error', err));
const server = provider.listen(port, '127.0.0.1', () => {
  console.log(`op listening ${issuer}`);
});
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
