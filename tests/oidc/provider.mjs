// A real OpenID provider (panva's oidc-provider, pinned in package-lock.json) standing in for
// ProConnect in the R-AUTH-2 tests. Started by tests/api/signin/oidc_provider.py:
//
//   node provider.mjs <config.json>
//
// config.json: { port, issuer, alg, clients: [...], accounts: { id: claims }, keys: [private JWK] }
// It prints "ready <issuer>" once it listens. Test-only routes, outside the provider:
//   POST /test/rotate   body: a private JWK; it becomes the signing key (old keys stay published)
//   GET  /test/stats    how many times the JWKS and the discovery document were fetched
import { readFileSync } from 'node:fs';
import http from 'node:http';

import Provider from 'oidc-provider';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const stats = { jwks: 0, discovery: 0 };
let keys = config.keys;

// ProConnect's claims (proconnect-espace-partenaires, scope-claims.md): one scope per claim.
const CLAIMS = {
  openid: ['sub'],
  email: ['email'],
  given_name: ['given_name'],
  usual_name: ['usual_name'],
  uid: ['uid'],
  siret: ['siret'],
  idp_id: ['idp_id'],
  organizational_unit: ['organizational_unit'],
  belonging_population: ['belonging_population'],
  roles: ['roles'],
  organization_label: ['organization_label'],
};

function makeProvider() {
  const provider = new Provider(config.issuer, {
    clients: config.clients,
    jwks: { keys },
    claims: CLAIMS,
    // ProConnect puts the requested claims in the ID token as well as in the userinfo.
    conformIdTokenClaims: false,
    pkce: { required: () => true },
    features: {
      devInteractions: { enabled: true },
      rpInitiatedLogout: { enabled: true },
      jwtUserinfo: { enabled: true },
    },
    enabledJWA: { idTokenSigningAlgValues: ['RS256', 'ES256'], userinfoSigningAlgValues: ['RS256', 'ES256'] },
    cookies: { keys: ['test-only-cookie-key-0123456789abcdef'] },
    async findAccount(ctx, id) {
      const claims = config.accounts[id];
      if (!claims) return undefined;
      return { accountId: id, async claims() { return { sub: id, ...claims }; } };
    },
  });
  provider.proxy = false;
  return provider;
}

let provider = makeProvider();

const server = http.createServer((req, res) => {
  const path = new URL(req.url, config.issuer).pathname;
  if (path === '/test/stats') {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(stats));
    return;
  }
  if (path === '/test/rotate' && req.method === 'POST') {
    let body = '';
    req.on('data', (chunk) => { body += chunk; });
    req.on('end', () => {
      keys = [JSON.parse(body), ...keys];
      provider = makeProvider(); // the memory adapter is shared: sessions and grants survive
      res.end('rotated');
    });
    return;
  }
  if (path === '/jwks') stats.jwks += 1;
  if (path === '/.well-known/openid-configuration') stats.discovery += 1;
  provider.callback()(req, res);
});

server.listen(config.port, '127.0.0.1', () => {
  process.stdout.write(`ready ${config.issuer}\n`);
});
