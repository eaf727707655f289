/**
 * What `metalwave serve` checks before it listens, so that bad configuration stops it
 * at once (a ConfigError naming the field: exit 2, which the systemd unit's
 * `RestartPreventExitStatus=2` does not restart) instead of a healthy-looking service
 * that answers its first rollout with 500. The token and the MAAS API key are read
 * (and so checked) by their own loaders; this covers what only a run used to read.
 */
import type { Config } from "../config.ts";
import { ConfigError } from "../errors.ts";
import { loadPrivateKey } from "../ssh/keys.ts";
import { openKnownHosts } from "../ssh/known-hosts.ts";
import { localStateDir } from "../store/index.ts";

export interface StartupCheckContext {
  /** The region is the embedded simulator (it makes its own SSH key). */
  embeddedRegion: boolean;
}

export function checkServeConfig(config: Config, ctx: StartupCheckContext): void {
  if (config.layers.enabled && !ctx.embeddedRegion && !config.ssh.privateKeyFile) {
    throw new ConfigError(
      "ssh.privateKeyFile",
      "layering reaches deployed machines over SSH and needs metalwave's private key; set ssh.privateKeyFile, or layers.enabled: false to stop at Deployed",
    );
  }
  // Readable and a key ssh2 can use (the message names the file, never the key).
  if (config.ssh.privateKeyFile) loadPrivateKey(config.ssh.privateKeyFile);
  // The pinned host keys read (and the old JSON pins migrated) now, not at the first SSH connection.
  if (config.layers.enabled && !ctx.embeddedRegion) openKnownHosts(config, localStateDir(config.store));
}
