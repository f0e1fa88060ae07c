import { describe, expect, it } from "vitest";
import { REDACTED, Sanitizer } from "../../src/export/sanitize.js";

const s = new Sanitizer();
const R = REDACTED;

describe("Sanitizer.text", () => {
  it.each([
    ["app --password=hunter2 --user=bob", `app --password=${R} --user=bob`],
    ["app --password hunter2 -v", `app --password ${R} -v`],
    ["mysql -u root -phunter2 db", `mysql -u root -p${R} db`],
    ["/usr/bin/mysqldump -phunter2", `/usr/bin/mysqldump -p${R}`],
    ["curl https://x/api?token=abc123&x=1", `curl https://x/api?token=${R}&x=1`],
    [
      'curl -H "Authorization: Bearer eyJhbGci.x.y" https://x',
      `curl -H "Authorization: Bearer ${R}" https://x`,
    ],
    ["git clone https://bob:s3cr3t@github.com/x.git", `git clone https://bob:${R}@github.com/x.git`],
    [
      "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY aws s3 ls",
      `AWS_SECRET_ACCESS_KEY=${R} aws s3 ls`,
    ],
    ["app --api-key=k-123 --client_secret=zzz", `app --api-key=${R} --client_secret=${R}`],
  ])("%s", (input, expected) => {
    expect(s.text(input)).toBe(expected);
  });

  it("leaves ordinary command lines alone", () => {
    for (const text of [
      "cat /etc/shadow",
      "ls -la /tmp",
      "ssh -p 2222 host",
      "grep -r key_name src",
      "nc -p 80 host",
    ]) {
      expect(s.text(text)).toBe(text);
    }
  });

  it("applies configured patterns (group 1, or the whole match)", () => {
    const custom = new Sanitizer({ patterns: ["--pin[= ](\\d+)", "ghp_[A-Za-z0-9]{36}"] });
    expect(custom.text("tool --pin=1234")).toBe(`tool --pin=${R}`);
    expect(custom.text(`gh auth ghp_${"a".repeat(36)}`)).toBe(`gh auth ${R}`);
    expect(() => new Sanitizer({ patterns: ["("] })).toThrow(/bad sanitize pattern/);
  });

  it("can be turned off", () => {
    expect(new Sanitizer({ enabled: false }).text("x --password=a")).toBe("x --password=a");
  });
});

describe("Sanitizer.argv", () => {
  it.each([
    [
      ["mysql", "-uroot", "-phunter2"],
      ["mysql", "-uroot", `-p${R}`],
    ],
    [
      ["redis-cli", "-a", "hunter2", "ping"],
      ["redis-cli", "-a", R, "ping"],
    ],
    [
      ["app", "--token", "abc"],
      ["app", "--token", R],
    ],
    [
      ["curl", "-u", "bob:pw", "https://x"],
      ["curl", "-u", `bob:${R}`, "https://x"],
    ],
    [
      ["curl", "-H", "Authorization: Basic Ym9iOnB3", "x"],
      ["curl", "-H", `Authorization: ${R}`, "x"],
    ],
    [
      ["ssh", "-p", "22", "host"],
      ["ssh", "-p", "22", "host"],
    ],
  ])("%j", (input, expected) => {
    expect(s.argv(input)).toEqual(expected);
  });

  it("returns the same array when nothing changed", () => {
    const argv = ["cat", "/etc/passwd"];
    expect(s.argv(argv)).toBe(argv);
  });
});

describe("Sanitizer env", () => {
  it("redacts values of secret-named variables and secrets inside others", () => {
    expect(s.envValue("DB_PASSWORD", "x")).toBe(R);
    expect(s.envValue("GITHUB_TOKEN", "x")).toBe(R);
    expect(s.envValue("PATH", "/usr/bin")).toBe("/usr/bin");
    expect(s.envValue("DATABASE_URL", "postgres://u:pw@db/x")).toBe(`postgres://u:${R}@db/x`);
    expect(s.envText("HOME=/root API_KEY=abc LANG=C")).toBe(`HOME=/root API_KEY=${R} LANG=C`);
  });
});
