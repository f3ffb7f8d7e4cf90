// A relying party built on openid-client (default settings), driven by iam-axum's
// oidc_interop tests over stdin/stdout:
//   env: ISSUER, CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, RP_MODE ("oidc" or "oauth2"),
//        SCOPE (optional), NODE_EXTRA_CA_CERTS (the test CA).
//   out: {"authorize_url": ...}
//   in:  the callback URL the browser was sent to
//   out: {"claims": {...}, "userinfo": {...}, "nonce": ...} (OIDC) or
//        {"access_token": ..., "token_type": ..., "scope": ...} (OAuth 2.0),
//        or {"error": ...} and exit status 1.
import * as client from 'openid-client';
import { createInterface } from 'node:readline';

function env(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
}

async function firstLine() {
  const rl = createInterface({ input: process.stdin });
  for await (const line of rl) {
    rl.close();
    return line.trim();
  }
  throw new Error('no callback URL on stdin');
}

async function main() {
  const oidc = (process.env.RP_MODE ?? 'oidc') === 'oidc';
  const redirectUri = env('REDIRECT_URI');
  const scope = process.env.SCOPE ?? (oidc ? 'openid profile email' : 'profile');
  // Discovery: /.well-known/openid-configuration (OIDC) or RFC 8414 metadata (OAuth 2.0);
  // the client authenticates with client_secret_post, the library's default.
  const config = await client.discovery(
    new URL(env('ISSUER')),
    env('CLIENT_ID'),
    env('CLIENT_SECRET'),
    undefined,
    oidc ? undefined : { algorithm: 'oauth2' },
  );

  const pkceCodeVerifier = client.randomPKCECodeVerifier();
  const expectedState = client.randomState();
  const expectedNonce = oidc ? client.randomNonce() : undefined;
  const params = {
    redirect_uri: redirectUri,
    scope,
    code_challenge: await client.calculatePKCECodeChallenge(pkceCodeVerifier),
    code_challenge_method: 'S256',
    state: expectedState,
  };
  if (oidc) params.nonce = expectedNonce;
  const url = client.buildAuthorizationUrl(config, params);
  process.stdout.write(`${JSON.stringify({ authorize_url: url.href })}\n`);

  const callback = new URL(await firstLine());
  const tokens = await client.authorizationCodeGrant(config, callback, {
    pkceCodeVerifier,
    expectedState,
    expectedNonce,
    idTokenExpected: oidc,
  });
  if (!oidc) {
    return {
      access_token: tokens.access_token,
      token_type: tokens.token_type,
      scope: tokens.scope,
    };
  }
  const claims = tokens.claims();
  const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
  return { claims, userinfo, nonce: expectedNonce };
}

// The error with what caused it: the failed check, the OAuth error or the HTTP answer.
function describe(e) {
  const c = e?.cause;
  let cause = '';
  if (c instanceof Error) cause = `(${c.code ?? c.name}: ${c.message})`;
  else if (c instanceof Response) cause = `(HTTP ${c.status} from ${c.url})`;
  else if (c?.error) cause = `(${c.error}: ${c.error_description ?? ''})`;
  return `${e?.code ?? e?.name}: ${e?.message} ${cause}`.trim();
}

try {
  const out = await main();
  process.stdout.write(`${JSON.stringify(out)}\n`);
} catch (e) {
  process.stdout.write(`${JSON.stringify({ error: describe(e) })}\n`);
  process.exitCode = 1;
}
