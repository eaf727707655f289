/**
 * metalwave's own SSH key: generated (ed25519, OpenSSH format) or read from a
 * file; the public line goes into cloud-init's ssh_authorized_keys. The private
 * key stays a string inside the client and is never logged.
 */
import { readFileSync } from "node:fs";
import ssh2 from "ssh2";
import { ConfigError } from "../errors.ts";

export interface SshKeyPair {
  /** OpenSSH private key (PEM-like text). Secret. */
  privateKey: string;
  /** "ssh-ed25519 AAAA... comment", for authorized_keys. */
  publicKey: string;
}

/**
 * ssh2's generator writes a malformed OpenSSH key when the ed25519 public key
 * begins with a zero byte (it stores 31 bytes, and its own parser then refuses
 * the key): about one key in 500. Such a key is drawn again.
 */
export function generateKeyPair(comment = "metalwave"): SshKeyPair {
  for (let attempt = 0; attempt < 16; attempt++) {
    const kp = ssh2.utils.generateKeyPairSync("ed25519", { comment });
    if (!(ssh2.utils.parseKey(kp.private) instanceof Error)) return { privateKey: kp.private, publicKey: kp.public.trim() };
  }
  throw new ConfigError("ssh key", "ssh2 produced no readable ed25519 key in 16 attempts");
}

/** The authorized_keys line for a private key; ConfigError naming `where` if it cannot be parsed. */
export function publicKeyLine(privateKey: string, where = "ssh.privateKey", comment = "metalwave"): string {
  const parsed = ssh2.utils.parseKey(privateKey);
  // Never include the parser's message: it may quote the input.
  if (parsed instanceof Error) throw new ConfigError(where, "not a private key ssh2 can read (OpenSSH, or PEM RSA/EC, unencrypted)");
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (key === undefined) throw new ConfigError(where, "no key found");
  return `${key.type} ${key.getPublicSSH().toString("base64")} ${comment}`;
}

export function loadPrivateKey(path: string, where = "ssh.privateKeyFile"): string {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new ConfigError(where, `cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? "error"}`);
  }
  publicKeyLine(text, where);
  return text;
}
