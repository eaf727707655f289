/**
 * Seeded ed25519 host keys in OpenSSH format (what ssh2's parser reads). A key is a
 * pure function of (seed, system_id, deployment number), so a redeploy changes it
 * and a restarted simulator presents the same key for the same deployment.
 */
import { createHash, createPrivateKey, createPublicKey } from "node:crypto";

const PKCS8_ED25519_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");

function sshString(b: Buffer | string): Buffer {
  const body = typeof b === "string" ? Buffer.from(b, "latin1") : b;
  const len = Buffer.alloc(4);
  len.writeUInt32BE(body.length);
  return Buffer.concat([len, body]);
}

function uint32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

export interface SeededHostKey {
  /** OpenSSH private key text for ssh2's Server `hostKeys`. */
  privateKey: string;
  /** The public key blob (what a client fingerprints). */
  publicBlob: Buffer;
}

export function seededHostKey(seed: number, systemId: string, deployment: number): SeededHostKey {
  const secret = createHash("sha256").update(`metalwave-sim-hostkey:${seed}:${systemId}:${deployment}`).digest();
  const priv = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, secret]), format: "der", type: "pkcs8" });
  const jwk = createPublicKey(priv).export({ format: "jwk" });
  const pub = Buffer.from(jwk.x ?? "", "base64url");
  const publicBlob = Buffer.concat([sshString("ssh-ed25519"), sshString(pub)]);
  const check = createHash("sha256").update(secret).digest().readUInt32BE(0);
  let privSection = Buffer.concat([uint32(check), uint32(check), sshString("ssh-ed25519"), sshString(pub), sshString(Buffer.concat([secret, pub])), sshString(`root@${systemId}`)]);
  const pad: number[] = [];
  for (let i = 1; (privSection.length + pad.length) % 8 !== 0; i++) pad.push(i);
  privSection = Buffer.concat([privSection, Buffer.from(pad)]);
  const body = Buffer.concat([Buffer.from("openssh-key-v1\0", "latin1"), sshString("none"), sshString("none"), sshString(""), uint32(1), sshString(publicBlob), sshString(privSection)]);
  const b64 = body.toString("base64").replace(/(.{70})/g, "$1\n").trimEnd();
  return { privateKey: `-----BEGIN OPENSSH PRIVATE KEY-----\n${b64}\n-----END OPENSSH PRIVATE KEY-----\n`, publicBlob };
}
