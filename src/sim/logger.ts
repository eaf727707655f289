/** The logger both simulated servers take (the region's HTTP API and the SSH hosts). */

/** pino's Logger satisfies this; so does a test double. */
export interface SimLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
}
