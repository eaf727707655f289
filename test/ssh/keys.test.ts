import ssh2 from "ssh2";
import { describe, expect, it } from "vitest";
import { generateKeyPair, publicKeyLine } from "../../src/ssh/index.ts";

describe("generateKeyPair", () => {
  // ssh2 writes about one ed25519 key in 500 malformed (a public key starting
  // with a zero byte); 3,000 draws meet one with a probability of about 99.8%.
  it("only hands out keys that ssh2 itself can read back (its generator's malformed keys are drawn again)", () => {
    for (let i = 0; i < 3000; i++) {
      const kp = generateKeyPair("metalwave-test");
      expect(ssh2.utils.parseKey(kp.privateKey)).not.toBeInstanceOf(Error);
      expect(publicKeyLine(kp.privateKey, "test", "metalwave-test")).toBe(kp.publicKey);
    }
  });
});
