// A Myinfo v5 relying party on openid-client 6 (the certified library the Singpass Node demo uses),
// driven step by step by tests/http/test_fapi_openid_client.py:
//   node fapi_openid_client.mjs begin CONFIG.json           -> prints the authorization URL (PAR done)
//   node fapi_openid_client.mjs finish CONFIG.json CALLBACK -> prints {claims, userinfo, ...} as JSON

import * as client from 'openid-client';
import fs from 'node:fs';

const [, , step, cfgPath, callbackUrl] = process.argv;
const cfg = JSON.parse(fs.readFileSync(cfgPath, 'utf8'));
const statePath = cfgPath + '.state.json';

const strip = (jwk) => { const { use, alg, kid, ...rest } = jwk; return rest; };
const signingKey = await crypto.subtle.importKey('jwk', strip(cfg.sig), { name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign']);
const encKey = await crypto.subtle.importKey('jwk', strip(cfg.enc), { name: 'ECDH', namedCurve: 'P-256' }, false, ['deriveBits']);

const config = await client.discovery(
  new URL(cfg.issuer), cfg.client_id, {},
  client.PrivateKeyJwt({ key: signingKey, kid: cfg.sig.kid }),
  { execute: [client.allowInsecureRequests] },
);
client.enableDecryptingResponses(config, ['A256CBC-HS512', 'A256GCM'], { key: encKey, kid: cfg.enc.kid });

if (step === 'begin') {
  const pair = await client.randomDPoPKeyPair('ES256', { extractable: true });
  const dpop = client.getDPoPHandle(config, pair);
  const code_verifier = client.randomPKCECodeVerifier();
  const code_challenge = await client.calculatePKCECodeChallenge(code_verifier);
  const state = client.randomState();
  const nonce = client.randomNonce();
  const url = await client.buildAuthorizationUrlWithPAR(config, {
    redirect_uri: cfg.redirect_uri, scope: cfg.scope, code_challenge, code_challenge_method: 'S256', state, nonce,
  }, { DPoP: dpop });
  fs.writeFileSync(statePath, JSON.stringify({
    code_verifier, state, nonce,
    priv: await crypto.subtle.exportKey('jwk', pair.privateKey),
    pub: await crypto.subtle.exportKey('jwk', pair.publicKey),
  }));
  console.log(url.href);
} else {
  const s = JSON.parse(fs.readFileSync(statePath, 'utf8'));
  const privateKey = await crypto.subtle.importKey('jwk', s.priv, { name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign']);
  const publicKey = await crypto.subtle.importKey('jwk', s.pub, { name: 'ECDSA', namedCurve: 'P-256' }, true, ['verify']);
  const dpop = client.getDPoPHandle(config, { privateKey, publicKey });
  const tokens = await client.authorizationCodeGrant(config, new URL(callbackUrl), {
    pkceCodeVerifier: s.code_verifier, expectedState: s.state, expectedNonce: s.nonce, idTokenExpected: true,
  }, undefined, { DPoP: dpop });
  const claims = tokens.claims();
  const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub, { DPoP: dpop });
  console.log(JSON.stringify({ claims, userinfo, token_type: tokens.token_type, scope: tokens.scope }));
}
