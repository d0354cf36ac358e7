// Solves an altcha v2 proof of work (PBKDF2/SHA-256, big-endian uint32 counter) off the main
// thread with WebCrypto, and posts back the base64 payload the server verifies (or null).
"use strict";

const toBytes = (hex) => new Uint8Array(hex.match(/../g).map((pair) => parseInt(pair, 16)));
const toHex = (buffer) =>
  Array.from(new Uint8Array(buffer), (byte) => byte.toString(16).padStart(2, "0")).join("");

self.onmessage = async (event) => {
  const challenge = event.data;
  const p = challenge.parameters;
  if (!self.crypto || !self.crypto.subtle || p.algorithm !== "PBKDF2/SHA-256") {
    self.postMessage(null); // the time lock still works
    return;
  }
  const nonce = toBytes(p.nonce);
  const salt = toBytes(p.salt);
  const password = new Uint8Array(nonce.length + 4);
  password.set(nonce);
  const view = new DataView(password.buffer);
  const started = Date.now();
  for (let counter = 0; counter <= 0xffffffff; counter++) {
    view.setUint32(nonce.length, counter);
    const key = await crypto.subtle.importKey("raw", password, "PBKDF2", false, ["deriveBits"]);
    const bits = await crypto.subtle.deriveBits(
      { name: "PBKDF2", hash: "SHA-256", salt, iterations: p.cost },
      key,
      p.keyLength * 8,
    );
    const derivedKey = toHex(bits);
    if (derivedKey.startsWith(p.keyPrefix)) {
      const solution = { counter, derivedKey, time: Date.now() - started };
      self.postMessage(btoa(JSON.stringify({ challenge, solution })));
      return;
    }
    if (p.expiresAt && Date.now() / 1000 > p.expiresAt) break;
  }
  self.postMessage(null);
};
