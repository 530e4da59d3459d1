// A real OpenID Connect issuer for the llms-auth tests (oidc-provider 8.x, in memory).
//
// Environment:
//   OIDC_TEST_CLIENT_ID, OIDC_TEST_CLIENT_SECRET  the one confidential client
//   OIDC_TEST_REDIRECT_URIS                       its redirect URIs, comma-separated
//   PORT                                          default 0: any free port
//   OIDC_TEST_EXIT_WITH_STDIN=1                   exit when stdin closes (the test harness
//                                                 holds it open, so a killed test run
//                                                 leaves no issuer behind)
//
// Listens on 127.0.0.1 only and, once listening, prints one line to stdout:
//   ISSUER http://127.0.0.1:PORT
// (oidc-provider's own notices may come before it.) Exits on SIGTERM or SIGINT.
//
// Sign-in uses oidc-provider's development pages: a login form (fields `login` and
// `password`, button `button[type=submit]`) and a consent form (button
// `button[type=submit]`, "Continue"). The password of each account is `pw-<login>`; a wrong
// password or an unknown login shows the login form again with "Invalid login or password."
// in `p.llms-test-error`.
//
// ID tokens are RS256, signed with a key made at start, and carry sub, preferred_username,
// name, email, email_verified and groups: scope `profile` brings preferred_username, name
// and groups, `email` brings email, and `groups` (if asked) groups alone.

import { generateKeyPairSync } from 'node:crypto';
import { createServer } from 'node:http';
import * as querystring from 'node:querystring';

import Provider from 'oidc-provider';

/** The test accounts: login -> the claims it signs in with. */
const ACCOUNTS = {
  alice: { preferred_username: 'alice', name: 'Alice Admin', groups: ['llms-admins', 'staff'] },
  bob: { preferred_username: 'bob', name: 'Bob Staff', groups: ['staff'] },
  carol: { preferred_username: 'carol', name: 'Carol Nogroups', groups: [] },
  // A name the relying party must refuse as a username.
  mallory: { preferred_username: 'not a valid name!', name: 'Mallory', groups: ['staff'] },
  // A name already held by an account of another provider.
  taken: { preferred_username: 'admin', name: 'Taken Name', groups: ['staff'] },
};

/** The password each account signs in with. */
const passwordOf = (login) => `pw-${login}`;

/** Login pages served by oidc-provider's development interactions. */
const INTERACTION_PATH = /^\/interaction\/[^/]+$/;

function required(name) {
  const value = process.env[name];
  if (!value) {
    console.error(`issuer.mjs: ${name} must be set`);
    process.exit(2);
  }
  return value;
}

const clientId = required('OIDC_TEST_CLIENT_ID');
const clientSecret = required('OIDC_TEST_CLIENT_SECRET');
const redirectUris = required('OIDC_TEST_REDIRECT_URIS')
  .split(',')
  .map((uri) => uri.trim())
  .filter(Boolean);
const port = Number(process.env.PORT ?? 0);

// Warnings that are expected here, each once per start: development interactions and the
// in-memory store are on purpose, and the password check below reads the login form's body
// before oidc-provider does.
const EXPECTED_WARNINGS = [
  'a quick start development-only feature devInteractions is enabled',
  'already parsed request body detected',
  'a quick start development-only in-memory adapter is used',
];
const warn = console.warn.bind(console);
console.warn = (...args) => {
  const text = args.map(String).join(' ');
  if (!EXPECTED_WARNINGS.some((expected) => text.includes(expected))) warn(...args);
};

/** oidc-provider's `findAccount`: the known logins only. */
async function findAccount(ctx, id) {
  if (!Object.hasOwn(ACCOUNTS, id)) return undefined;
  const account = ACCOUNTS[id];
  return {
    accountId: id,
    async claims() {
      return {
        sub: id,
        preferred_username: account.preferred_username,
        name: account.name,
        email: `${id}@example.test`,
        email_verified: true,
        groups: [...account.groups],
      };
    },
  };
}

/** Reads a whole request body (the login form is small). */
async function readBody(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > 56 * 1024) throw new Error('request body too large');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/**
 * Checks the login form's password, which the development interactions ignore. A wrong
 * password or an unknown login goes back to the login page, which then says so. Also keeps
 * the pages offline (the development layout imports a web font).
 */
async function checkPassword(ctx, next) {
  if (!INTERACTION_PATH.test(ctx.path)) return next();

  if (ctx.method === 'POST') {
    const body = await readBody(ctx.req);
    const form = querystring.parse(body.toString('utf8'));
    if (form.prompt === 'login') {
      const login = String(form.login ?? '');
      const known = Object.hasOwn(ACCOUNTS, login);
      if (!known || form.password !== passwordOf(login)) {
        console.error(`issuer.mjs: refused sign-in of ${JSON.stringify(login)}`);
        ctx.status = 303;
        ctx.redirect(`${ctx.path}?failed=1`);
        return undefined;
      }
    }
    // oidc-provider's body parser takes an already read body from here.
    ctx.req.body = body;
    return next();
  }

  await next();
  if (ctx.method === 'GET' && typeof ctx.body === 'string') {
    let page = ctx.body.replace(/@import url\(https:[^)]*\);/g, '');
    if (ctx.query.failed) {
      page = page.replace(
        '<form',
        '<p class="llms-test-error" role="alert">Invalid login or password.</p><form',
      );
    }
    ctx.body = page;
  }
  return undefined;
}

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = {
  ...privateKey.export({ format: 'jwk' }),
  kid: 'llms-test-rs256',
  alg: 'RS256',
  use: 'sig',
};

const server = createServer();
server.listen(port, '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        redirect_uris: redirectUris,
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    clientAuthMethods: ['client_secret_basic', 'client_secret_post'],
    responseTypes: ['code'],
    findAccount,
    jwks: { keys: [signingKey] },
    scopes: ['openid', 'profile', 'email', 'groups'],
    claims: {
      openid: ['sub'],
      profile: ['preferred_username', 'name', 'groups'],
      email: ['email', 'email_verified'],
      groups: ['groups'],
    },
    // Scope claims in the ID token too, not only from the userinfo endpoint.
    conformIdTokenClaims: false,
    pkce: { methods: ['S256'], required: () => true },
    features: { devInteractions: { enabled: true } },
    cookies: {
      keys: ['llms-auth-test-oidc-cookie-key'],
      // Browsers drop SameSite=None cookies without Secure, and this is plain http.
      long: { signed: true, sameSite: 'lax' },
      short: { signed: true, sameSite: 'lax' },
    },
    renderError(ctx, out) {
      ctx.type = 'html';
      ctx.body = `<!DOCTYPE html><title>oops</title><h1>oops! something went wrong</h1>`
        + `<pre class="llms-test-oidc-error">${escapeHtml(JSON.stringify(out, null, 2))}</pre>`;
    },
  });

  provider.use(checkPassword);
  provider.on('server_error', (ctx, error) => {
    console.error('issuer.mjs: server error', error);
  });
  for (const event of [
    'authorization.error',
    'grant.error',
    'userinfo.error',
    'discovery.error',
  ]) {
    provider.on(event, (ctx, error) => {
      const detail = error.error_description ? `: ${error.error_description}` : '';
      console.error(`issuer.mjs: ${event} ${error.error ?? error.message}${detail}`);
    });
  }

  server.on('request', provider.callback());
  process.stdout.write(`ISSUER ${issuer}\n`);
});

server.on('error', (error) => {
  console.error('issuer.mjs: cannot listen:', error.message);
  process.exit(1);
});

function escapeHtml(text) {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function stop() {
  server.close();
  server.closeAllConnections();
  process.exit(0);
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
if (process.env.OIDC_TEST_EXIT_WITH_STDIN === '1') {
  process.stdin.on('close', stop);
  process.stdin.on('end', stop);
  process.stdin.resume();
}
