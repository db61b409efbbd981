// A certified OpenID provider (panva's oidc-provider, OpenID Certified) run on loopback for the single
// sign-on tests, with its own development login pages: any login name signs in as that subject, and the
// subject's claims (email, name, groups) are read from ACCOUNTS_FILE at every sign-in, so a test changes
// a person's groups at the provider by rewriting that file. The file's `amr` and `acr` stand for how the
// person proved who they are (password only, or with a second factor) and reach the ID token.
//
// Environment: PORT, ACCOUNTS_FILE, CLIENT_ID, CLIENT_SECRET, and BACKCHANNEL_LOGOUT_URI (optional: where
// the app takes back-channel logouts, told when a session ends here). The client may return to any loopback
// address or the Django test client's "testserver" host on the app's callback path: the app under test
// runs on a port chosen after this provider has started.
import { readFileSync } from 'node:fs';

import Provider from 'oidc-provider';

const port = Number(process.env.PORT);
const issuer = `http://127.0.0.1:${port}`;
const callbackPath = '/accounts/sso/callback/';
const afterLogoutPath = '/accounts/login/';

function account(sub) {
  const people = JSON.parse(readFileSync(process.env.ACCOUNTS_FILE, 'utf8'));
  return people[sub] ?? { email: `${sub}@example.org`, email_verified: true, groups: [] };
}

const configuration = {
  clients: [
    {
      client_id: process.env.CLIENT_ID,
      client_secret: process.env.CLIENT_SECRET,
      redirect_uris: [`http://127.0.0.1${callbackPath}`],
      post_logout_redirect_uris: [`http://127.0.0.1${afterLogoutPath}`],
      grant_types: ['authorization_code'],
      ...(process.env.BACKCHANNEL_LOGOUT_URI
        ? { backchannel_logout_uri: process.env.BACKCHANNEL_LOGOUT_URI, backchannel_logout_session_required: true }
        : {}),
      response_types: ['code'],
    },
  ],
  scopes: ['openid', 'email', 'profile', 'groups'],
  claims: {
    openid: ['sub', 'acr', 'amr'],
    email: ['email', 'email_verified'],
    profile: ['name', 'preferred_username'],
    groups: ['groups'],
  },
  async findAccount(ctx, sub) {
    return {
      accountId: sub,
      async claims() {
        const { email, email_verified, name, groups } = account(sub);
        return { sub, email, email_verified, name, preferred_username: sub, groups };
      },
    };
  },
  // The provider refuses to call loopback addresses (its guard against SSRF); the app under test is on
  // loopback, so its back-channel logouts go out without that guard here, in tests only.
  fetch: (url, options) => fetch(url, { ...options, dispatcher: undefined }),
  acrValues: ['urn:ecg-review:test:password', 'urn:ecg-review:test:two-factor'],
  cookies: { keys: ['ecg-review-tests-only'] },
  features: {
    devInteractions: { enabled: true },
    rpInitiatedLogout: { enabled: true },
    backchannelLogout: { enabled: true },
  },
  // The consent step is granted for what the client asks: the tests are about the app, not consent.
  async loadExistingGrant(ctx) {
    const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
    grant.addOIDCScope('openid email profile groups');
    await grant.save();
    return grant;
  },
};

const provider = new Provider(issuer, configuration);

// The development login page signs in by name alone; the authentication methods a real provider would
// record at that step are taken from the accounts file instead.
const finishInteraction = provider.interactionFinished.bind(provider);
provider.interactionFinished = (req, res, result, options) => {
  if (result.login) {
    const { amr, acr } = account(result.login.accountId);
    result.login = { ...result.login, ...(amr ? { amr } : {}), ...(acr ? { acr } : {}) };
  }
  return finishInteraction(req, res, result, options);
};

function appAddress(value, path) {
  try {
    const url = new URL(value);
    const loopback = ['127.0.0.1', 'localhost', 'testserver'].includes(url.hostname);
    return url.protocol === 'http:' && loopback && url.pathname === path && !url.search && !url.hash;
  } catch {
    return false;
  }
}

provider.Client.prototype.redirectUriAllowed = (value) => appAddress(value, callbackPath);
provider.Client.prototype.postLogoutRedirectUriAllowed = (value) => appAddress(value, afterLogoutPath);

// Printed to the log the tests show when something fails.
provider.on('backchannel.success', (ctx, client, accountId, sid) => {
  console.log(`back-channel logout sent to ${client.clientId} for ${accountId} (${sid})`);
});
provider.on('backchannel.error', (ctx, error, client, accountId) => {
  console.log(`back-channel logout to ${client.clientId} for ${accountId} failed: ${error} ${error.cause ?? ""}`);
});

provider.listen(port, '127.0.0.1', () => {
  console.log(`oidc-provider listening on ${issuer}`);
});
