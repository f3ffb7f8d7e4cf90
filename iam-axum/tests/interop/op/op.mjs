// node-oidc-provider as an upstream OpenID Provider for iam-axum's upstream_login test.
// Usage: node op.mjs PORT CLIENT_ID CLIENT_SECRET REDIRECT_URI
// Prints {"issuer": "..."} once listening. Its development interactions sign anyone in with
// any password; every account has a verified email and the groups ["ops"], served at userinfo
// (the default `conformIdTokenClaims`), not in the ID token.
import Provider from 'oidc-provider';

const [port, clientId, clientSecret, redirectUri] = process.argv.slice(2);
const issuer = `http://127.0.0.1:${port}`;

const provider = new Provider(issuer, {
  clients: [{
    client_id: clientId,
    client_secret: clientSecret,
    redirect_uris: [redirectUri],
    grant_types: ['authorization_code'],
    response_types: ['code'],
  }],
  async findAccount(ctx, id) {
    return {
      accountId: id,
      async claims() {
        return {
          sub: id,
          preferred_username: id,
          email: `${id}@example.org`,
          email_verified: true,
          groups: ['ops'],
        };
      },
    };
  },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['preferred_username'],
    groups: ['groups'],
  },
  scopes: ['openid', 'email', 'profile', 'groups'],
  // The default: the scopes' claims are served at userinfo, not in the ID token.
  conformIdTokenClaims: true,
  features: { devInteractions: { enabled: true } },
  cookies: { keys: ['iam upstream_login test cookie key'] },
});
provider.on('server_error', (ctx, err) => console.error('op server_error', err));

provider.listen(Number(port), '127.0.0.1', () => {
  console.log(JSON.stringify({ issuer }));
});
