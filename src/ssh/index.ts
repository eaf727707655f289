export type { SshPort, SshTarget, ExecOptions, ExecResult, OutputStream, SshCommandResult, SshCommandEnd, SshCommandObserver } from "./port.ts";
export { SshError, SSH_ERROR_CODES, outputTail } from "./errors.ts";
export type { SshErrorCode } from "./errors.ts";
export { Ssh2Port, shQuote } from "./client.ts";
export type { Ssh2PortOptions, Ssh2PortStats } from "./client.ts";
export { MemoryKnownHosts, FileKnownHosts, openKnownHosts, callbackKnownHosts, decideHostKey, fingerprintOf } from "./known-hosts.ts";
export type { KnownHosts, KnownHostRecord, HostKeyPin, UnknownHostPolicy } from "./known-hosts.ts";
export { generateKeyPair, publicKeyLine, loadPrivateKey } from "./keys.ts";
export type { SshKeyPair } from "./keys.ts";
