import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { renderTemplate, renderUserData, TemplateError } from "../../src/layers/templates.ts";

describe("cloud-init user-data template", () => {
  it("renders valid cloud-config carrying the host's identity, roles and SSH keys", () => {
    const text = renderUserData({
      hostname: "node-1",
      systemId: "abc123",
      roles: ["compute", "storage"],
      sshAuthorizedKeys: ["ssh-ed25519 AAAAC3Nza metalwave@region"],
    });
    expect(text.startsWith("#cloud-config\n")).toBe(true);
    const doc = parse(text) as Record<string, unknown>;
    expect(doc["hostname"]).toBe("node-1");
    expect(doc["ssh_authorized_keys"]).toEqual(["ssh-ed25519 AAAAC3Nza metalwave@region"]);
    const files = doc["write_files"] as { path: string; content: string }[];
    expect(JSON.parse(files[0]!.content)).toEqual({ systemId: "abc123", roles: ["compute", "storage"] });
  });

  it("configures apt and snapd proxies when given, and nothing when not", () => {
    const withProxy = parse(
      renderUserData({ hostname: "n", systemId: "s", roles: [], sshAuthorizedKeys: [], proxy: { http: "http://proxy.lab:3128", https: "http://proxy.lab:3129" } }),
    ) as Record<string, unknown>;
    expect(withProxy["apt"]).toEqual({ http_proxy: "http://proxy.lab:3128", https_proxy: "http://proxy.lab:3129" });
    expect((withProxy["snap"] as { commands: string[][] }).commands).toEqual([
      ["snap", "set", "system", "proxy.http=http://proxy.lab:3128"],
      ["snap", "set", "system", "proxy.https=http://proxy.lab:3129"],
    ]);
    const without = parse(renderUserData({ hostname: "n", systemId: "s", roles: [], sshAuthorizedKeys: [] })) as Record<string, unknown>;
    expect(without["apt"]).toEqual({});
    expect((without["snap"] as { commands: string[][] }).commands).toEqual([]);
  });

  it("keeps the document valid when a value holds YAML or shell syntax", () => {
    const text = renderUserData({ hostname: "a: b\n- c", systemId: "x'y\"z", roles: [], sshAuthorizedKeys: [] });
    const doc = parse(text) as Record<string, unknown>;
    expect(doc["hostname"]).toBe("a: b\n- c");
    expect(doc["ssh_authorized_keys"]).toEqual([]);
  });

  it("refuses a placeholder without a value and a value without a placeholder, naming the template", () => {
    expect(() => renderTemplate("t.yaml", "a: {{missing}}", {})).toThrow(TemplateError);
    expect(() => renderTemplate("t.yaml", "a: {{missing}}", {})).toThrow(/t\.yaml: no value for \{\{missing\}\}/);
    expect(() => renderTemplate("t.yaml", "a: 1", { extra: 1 })).toThrow(/values without a placeholder: extra/);
  });
});
