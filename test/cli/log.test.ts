/** The logger's lines: each key once, secrets censored, and the text format a person reads. */
import { describe, expect, it } from "vitest";
import { createLogger } from "../../src/log.ts";

function capture(format: "json" | "text", colour = false) {
  const lines: string[] = [];
  const logger = createLogger({ level: "debug", format, colour, write: (l) => void lines.push(l) });
  return { logger, lines };
}

describe("log lines", () => {
  it("a child re-binding a key writes it once, with the innermost value", () => {
    const { logger, lines } = capture("json");
    logger.child({ component: "runner" }).child({ component: "layers" }).info({ systemId: "abc" }, "step ran");
    expect(lines).toHaveLength(1);
    expect(lines[0]!.match(/"component"/g)).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ component: "layers", systemId: "abc", msg: "step ran", level: 30 });
  });

  it("the text format: time, level, component, message, then fields; no colour unless asked", () => {
    const { logger, lines } = capture("text");
    logger.child({ component: "layers" }).warn({ controllers: 1, note: "two words", err: { message: "boom" } }, "HA waits");
    expect(lines[0]).toMatch(/^\d\d:\d\d:\d\d\.\d{3} WARN {2}layers: HA waits controllers=1 note="two words" err="boom"\n$/);
    expect(lines[0]).not.toContain("\x1b[");
    const coloured = capture("text", true);
    coloured.logger.error("bad");
    expect(coloured.lines[0]).toContain("\x1b[31mERROR");
  });

  it("secrets are censored in either format", () => {
    for (const format of ["json", "text"] as const) {
      const { logger, lines } = capture(format);
      logger.info({ config: { maas: { apiKey: "c:t:s3cret" } }, token: "t0ken" }, "loaded");
      expect(lines[0]).not.toMatch(/s3cret|t0ken/);
      expect(lines[0]).toContain("[redacted]");
    }
  });
});
