/**
 * `user`/`group`: parsing /etc/passwd and /etc/group, resolving the configured accounts to ids
 * (with every refusal), and applying them, against a fake runtime that serves fixture files.
 */

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { groupByName, parseGroup, parsePasswd, userById, userByName } from "../src/lifecycle/accounts.ts";
import { applyIdentity, resolveIdentity } from "../src/lifecycle/privileges.ts";
import { LifecycleError } from "../src/lifecycle/errors.ts";
import { loadConfigSources } from "../src/config/load.ts";
import type { GlobalConfig } from "../src/config/types.ts";
import type { Logger } from "../src/core/logger.ts";
import type { Runtime, RuntimeInfo } from "../src/runtime/types.ts";

const PASSWD = [
  "root:x:0:0:root:/root:/bin/bash",
  "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin",
  "# a comment line",
  "",
  "+nisuser::::::",
  "broken:x:notanumber:10::/:/bin/false",
  "short:x:7",
  "alice:x:1000:1000:Alice,,,:/home/alice:/bin/bash\r",
  "alice:x:2000:2000:second alice, ignored:/home/alice2:/bin/bash",
  "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin",
  "haproxy:x:107:113::/var/lib/haproxy:/usr/sbin/nologin",
].join("\n");

const GROUP = [
  "root:x:0:",
  "daemon:x:1:",
  "-nisgroup",
  "wheel:x:10:alice, bob",
  "bad:x:-3:",
  "alice:x:1000:",
  "haproxy:x:113:",
  "nogroup:x:65534:",
  "",
].join("\n");

/** /proc/self/status as Linux writes it, with the given ids. */
function procStatus(uid: number, gid: number): string {
  return `Name:\tnode\nUmask:\t0022\nState:\tS (sleeping)\nUid:\t${uid}\t${uid}\t${uid}\t${uid}\n` +
    `Gid:\t${gid}\t${gid}\t${gid}\t${gid}\nFDSize:\t64\nGroups:\t${gid}\n`;
}

/** The runtime members privileges.ts uses, with files served from memory and calls recorded. */
class FakeRuntime {
  info: RuntimeInfo;
  uid: number | Error;
  files = new Map<string, string>();
  reads: string[] = [];
  identityCalls: [number, number][] = [];
  identityFailure: Error | null = null;

  constructor(options: { uid?: number | Error; gid?: number; info?: Partial<RuntimeInfo> } = {}) {
    this.info = {
      name: "node", version: "24.21.0", os: "linux", arch: "x64", socketApi: "node:net", compiled: false,
      jail: "node-permission-model", affinity: false, identity: true, chroot: false, reusePort: true, inheritableSockets: true,
      tls: { ciphers: true, ciphersuites: true, versions: ["TLSv1.2", "TLSv1.3"], readBeforeHandshake: true, writeBeforeHandshake: true },
      byteSlabs: true,
      ...options.info,
    };
    this.uid = options.uid ?? 0;
    this.files.set("/etc/passwd", PASSWD);
    this.files.set("/etc/group", GROUP);
    if (typeof this.uid === "number") this.files.set("/proc/self/status", procStatus(this.uid, options.gid ?? this.uid));
  }

  readTextFile(path: string): Promise<string> {
    this.reads.push(path);
    const text = this.files.get(path);
    if (text === undefined) return Promise.reject(new Error(`ENOENT: no such file or directory, open '${path}'`));
    return Promise.resolve(text);
  }

  userId(): number {
    if (this.uid instanceof Error) throw this.uid;
    return this.uid;
  }

  setIdentity(uid: number, gid: number): void {
    if (this.identityFailure !== null) throw this.identityFailure;
    this.identityCalls.push([uid, gid]);
  }

  get runtime(): Runtime {
    return this as unknown as Runtime;
  }
}

/** A logger that keeps every message with its level. */
class RecordingLogger implements Logger {
  lines: string[] = [];
  emerg(message: string) { this.lines.push(`emerg: ${message}`); }
  alert(message: string) { this.lines.push(`alert: ${message}`); }
  error(message: string) { this.lines.push(`error: ${message}`); }
  warn(message: string) { this.lines.push(`warn: ${message}`); }
  notice(message: string) { this.lines.push(`notice: ${message}`); }
  info(message: string) { this.lines.push(`info: ${message}`); }
  debug(message: string) { this.lines.push(`debug: ${message}`); }
}

/** [global] as the configuration loader builds it from `lines`. */
function globalOf(...lines: string[]): GlobalConfig {
  const text = `[global]\n${lines.join("\n")}\n[frontends.web]\nbind = ":8080"\ndefault-backend = "app"\n` +
    `[backends.app]\nservers = [{ name = "a", address = "10.0.0.1:80" }]\n`;
  return loadConfigSources([{ name: "test.toml", text }]).config.global;
}

/** Resolves and expects a LifecycleError with LIFECYCLE_PRIVILEGES; returns its message. */
async function refusal(global: GlobalConfig, fake: FakeRuntime): Promise<string> {
  try {
    const identity = await resolveIdentity(global, fake.runtime);
    assert.fail(`expected a refusal, got ${JSON.stringify(identity)}`);
  } catch (error) {
    assert.ok(error instanceof LifecycleError, String(error));
    assert.equal(error.code, "LIFECYCLE_PRIVILEGES");
    return error.message;
  }
}

describe("accounts", () => {
  test("passwd: comments, blanks, NIS lines and malformed lines are skipped; CRLF is accepted", () => {
    const users = parsePasswd(PASSWD);
    assert.deepEqual(users.map((user) => user.name), ["root", "daemon", "alice", "alice", "nobody", "haproxy"]);
    assert.deepEqual(users[2], { name: "alice", uid: 1000, gid: 1000 });
    assert.deepEqual(userByName(users, "haproxy"), { name: "haproxy", uid: 107, gid: 113 });
    assert.equal(userByName(users, "broken"), undefined);
    assert.equal(userByName(users, "nisuser"), undefined);
  });

  test("passwd: the first line naming an account wins, by name and by id", () => {
    const users = parsePasswd(PASSWD);
    assert.equal(userByName(users, "alice")!.uid, 1000);
    assert.equal(userById(users, 65534)!.name, "nobody");
    assert.equal(userById(users, 2000)!.name, "alice");
    assert.equal(userById(users, 4242), undefined);
  });

  test("group: members are ignored, negative and missing ids skip the line", () => {
    const groups = parseGroup(GROUP);
    assert.deepEqual(groups.map((group) => group.name), ["root", "daemon", "wheel", "alice", "haproxy", "nogroup"]);
    assert.deepEqual(groupByName(groups, "wheel"), { name: "wheel", gid: 10 });
    assert.equal(groupByName(groups, "bad"), undefined);
    assert.equal(groupByName(groups, "nisgroup"), undefined);
  });

  test("ids beyond uid_t are malformed", () => {
    assert.deepEqual(parsePasswd("big:x:4294967295:0::/:/bin/sh\nok:x:4294967294:0::/:/bin/sh\nneg:x:-1:0::/:/bin/sh"), [
      { name: "ok", uid: 4294967294, gid: 0 },
    ]);
    assert.deepEqual(parseGroup("g:x:99999999999:\n:x:5:\nh:x:5"), [{ name: "h", gid: 5 }]);
  });
});

describe("resolveIdentity", () => {
  test("neither user nor group: null, and nothing is read", async () => {
    const fake = new FakeRuntime();
    assert.equal(await resolveIdentity(globalOf(), fake.runtime), null);
    assert.deepEqual(fake.reads, []);
  });

  test("a user name as root: its uid and primary group", async () => {
    const fake = new FakeRuntime();
    assert.deepEqual(await resolveIdentity(globalOf(`user = "nobody"`), fake.runtime), { uid: 65534, gid: 65534 });
    assert.deepEqual(await resolveIdentity(globalOf(`user = "haproxy"`), fake.runtime), { uid: 107, gid: 113 });
    assert.ok(!fake.reads.includes("/etc/group"), "no group named: /etc/group is not read");
  });

  test("user and group names", async () => {
    const fake = new FakeRuntime();
    assert.deepEqual(await resolveIdentity(globalOf(`user = "nobody"`, `group = "wheel"`), fake.runtime), { uid: 65534, gid: 10 });
  });

  test("numeric ids are taken as they are; a numeric user alone gets its primary group from /etc/passwd", async () => {
    const numbers = new FakeRuntime();
    assert.deepEqual(await resolveIdentity(globalOf(`user = 4242`, `group = 4343`), numbers.runtime), { uid: 4242, gid: 4343 });
    assert.deepEqual(numbers.reads, ["/proc/self/status"], "no account file is read for numbers");
    const fake = new FakeRuntime();
    assert.deepEqual(await resolveIdentity(globalOf(`user = 107`), fake.runtime), { uid: 107, gid: 113 });
    assert.deepEqual(await resolveIdentity(globalOf(`user = "alice"`, `group = 65534`), fake.runtime), { uid: 1000, gid: 65534 });
  });

  test("a numeric user unknown to /etc/passwd needs a group", async () => {
    assert.equal(
      await refusal(globalOf(`user = 4242`), new FakeRuntime()),
      `Unknown user 4242 (global.user): not in /etc/passwd, so it has no primary group: set "group" too`,
    );
  });

  test("group alone keeps the uid and changes the gid", async () => {
    assert.deepEqual(await resolveIdentity(globalOf(`group = "nogroup"`), new FakeRuntime().runtime), { uid: 0, gid: 65534 });
  });

  test("unknown accounts are named with their key", async () => {
    assert.equal(
      await refusal(globalOf(`user = "nobodyx"`), new FakeRuntime()),
      `Unknown user "nobodyx" (global.user): not in /etc/passwd`,
    );
    assert.equal(
      await refusal(globalOf(`user = "nobody"`, `group = "nogroupx"`), new FakeRuntime()),
      `Unknown group "nogroupx" (global.group): not in /etc/group`,
    );
    // Names are case-sensitive, as in glibc.
    assert.match(await refusal(globalOf(`user = "Nobody"`), new FakeRuntime()), /^Unknown user "Nobody"/);
  });

  test("an unreadable account file is an error naming it and what was looked up", async () => {
    const fake = new FakeRuntime();
    fake.files.delete("/etc/group");
    assert.equal(
      await refusal(globalOf(`group = "wheel"`), fake),
      `Cannot read "/etc/group" to look up group "wheel" (global.group): ENOENT: no such file or directory, open '/etc/group'`,
    );
  });

  test("already that user and group: nothing to do", async () => {
    const asNobody = new FakeRuntime({ uid: 65534 });
    assert.equal(await resolveIdentity(globalOf(`user = "nobody"`), asNobody.runtime), null);
    assert.equal(await resolveIdentity(globalOf(`user = 65534`, `group = "nogroup"`), asNobody.runtime), null);
    assert.equal(await resolveIdentity(globalOf(`group = 65534`), asNobody.runtime), null);
    const asRoot = new FakeRuntime({ uid: 0 });
    assert.equal(await resolveIdentity(globalOf(`user = "root"`), asRoot.runtime), null);
  });

  test("not root and a change is needed: refused, saying who we are", async () => {
    assert.equal(
      await refusal(globalOf(`user = "nobody"`), new FakeRuntime({ uid: 1000 })),
      `Cannot run as user "nobody" (uid 65534), gid 65534 (the user's primary group): this process runs as uid 1000, gid 1000, ` +
        `and only root can change its user and group; start the proxy as root or remove "user" and "group" from [global]`,
    );
    // The same user, another group: still a change only root can make.
    assert.match(
      await refusal(globalOf(`user = "alice"`, `group = "wheel"`), new FakeRuntime({ uid: 1000 })),
      /^Cannot run as user "alice" \(uid 1000\), group "wheel" \(gid 10\): this process runs as uid 1000, gid 1000, and only root/,
    );
    assert.match(
      await refusal(globalOf(`group = 10`), new FakeRuntime({ uid: 1000 })),
      /^Cannot run as uid 1000 \(unchanged\), gid 10: this process runs as uid 1000/,
    );
  });

  test("a runtime that cannot change identity: refused as root, never a silent continue", async () => {
    const node = new FakeRuntime({ info: { identity: false } });
    assert.equal(
      await refusal(globalOf(`user = "nobody"`), node),
      `Cannot run as user "nobody" (uid 65534), gid 65534 (the user's primary group): node 24.21.0 cannot change its user ` +
        `and group on linux (the runtime has no setuid and setgid); remove "user" and "group" from [global] or start the proxy as that user`,
    );
    const deno = new FakeRuntime({ info: { name: "deno", version: "2.9.6", identity: false } });
    assert.match(await refusal(globalOf(`group = "wheel"`), deno), /deno 2\.9\.6 cannot change .*Deno needs --allow-sys/);
    // Nothing to change: no need for the runtime to be able to.
    const already = new FakeRuntime({ uid: 65534, info: { identity: false } });
    assert.equal(await resolveIdentity(globalOf(`user = "nobody"`), already.runtime), null);
  });

  test("no user ids (Windows) or an unreadable uid: refused", async () => {
    const windows = new FakeRuntime({ uid: -1, info: { os: "win32", identity: false } });
    assert.equal(
      await refusal(globalOf(`user = "nobody"`), windows),
      `"user" and "group" cannot apply on win32: it has no user and group ids; remove them from [global]`,
    );
    const denied = new FakeRuntime({ uid: new Error("Cannot read the user id: Deno needs --allow-sys=uid") });
    assert.equal(
      await refusal(globalOf(`user = "nobody"`), denied),
      "Cannot tell which user this process runs as: Cannot read the user id: Deno needs --allow-sys=uid",
    );
  });

  test("where /proc does not tell the group: the same user without a group is enough, a named group is not", async () => {
    const mac = new FakeRuntime({ uid: 1000, info: { os: "darwin" } });
    assert.equal(await resolveIdentity(globalOf(`user = "alice"`), mac.runtime), null);
    assert.ok(!mac.reads.includes("/proc/self/status"), "/proc is not read off Linux");
    assert.match(await refusal(globalOf(`user = "alice"`, `group = "alice"`), mac), /this process runs as uid 1000, and only root/);
    const root = new FakeRuntime({ uid: 0, info: { os: "darwin" } });
    assert.deepEqual(await resolveIdentity(globalOf(`user = "root"`), root.runtime), { uid: 0, gid: 0 });
  });

  test("the identity is plain data: it survives JSON, as the master sends it to jailed workers", async () => {
    const identity = await resolveIdentity(globalOf(`user = "nobody"`, `group = "wheel"`), new FakeRuntime().runtime);
    assert.deepEqual(JSON.parse(JSON.stringify(identity)), identity);
    assert.deepEqual(Object.keys(identity!).sort(), ["gid", "uid"]);
  });
});

describe("applyIdentity", () => {
  test("null changes nothing", () => {
    const fake = new FakeRuntime();
    const logger = new RecordingLogger();
    applyIdentity(null, fake.runtime, logger);
    assert.deepEqual(fake.identityCalls, []);
    assert.deepEqual(logger.lines, []);
  });

  test("becomes the user and group, and says so", () => {
    const fake = new FakeRuntime();
    const logger = new RecordingLogger();
    applyIdentity({ uid: 65534, gid: 65534 }, fake.runtime, logger);
    assert.deepEqual(fake.identityCalls, [[65534, 65534]]);
    assert.deepEqual(logger.lines, [
      "notice: Running as uid 65534, gid 65534 with no other group (privileges dropped after binding)",
    ]);
  });

  test("a group without a user leaves root: warned", () => {
    const fake = new FakeRuntime();
    const logger = new RecordingLogger();
    applyIdentity({ uid: 0, gid: 65534 }, fake.runtime, logger);
    assert.deepEqual(fake.identityCalls, [[0, 65534]]);
    assert.match(logger.lines[1]!, /^warn: Still running as root \(uid 0\)/);
  });

  test("a refusal of the OS becomes a LifecycleError", () => {
    const fake = new FakeRuntime();
    fake.identityFailure = new Error("Cannot run as uid 65534, gid 65534: EPERM, Operation not permitted");
    const logger = new RecordingLogger();
    assert.throws(() => applyIdentity({ uid: 65534, gid: 65534 }, fake.runtime, logger), (error: unknown) => {
      assert.ok(error instanceof LifecycleError);
      assert.equal(error.code, "LIFECYCLE_PRIVILEGES");
      assert.equal(error.message, "Privilege drop failed: Cannot run as uid 65534, gid 65534: EPERM, Operation not permitted");
      return true;
    });
    assert.deepEqual(logger.lines, []);
  });
});
