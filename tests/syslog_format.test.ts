/**
 * Syslog framing (src/log/syslog_format.ts): exact header bytes per format, since a receiver parses
 * them by position and a wrong space or PRI files every line under the wrong program or severity.
 */

import { test } from "node:test";
import assert from "node:assert/strict";
import {
  octetCount,
  parseFacility,
  parseSeverity,
  SYSLOG_DEFAULT_MAX_LENGTH,
  SYSLOG_FACILITIES,
  SYSLOG_SEVERITIES,
  SyslogFramer,
  utf8ByteLength,
} from "../src/log/syslog_format.ts";
import type { SyslogHeaderOptions } from "../src/log/syslog_format.ts";

/** 2026-02-06T09:05:03.007Z: a single-digit day, and every field needing its padding. */
const FEB_6 = Date.UTC(2026, 1, 6, 9, 5, 3, 7);
/** 2026-11-24T10:00:00.123Z. */
const NOV_24 = Date.UTC(2026, 10, 24, 10, 0, 0, 123);

function framer(overrides: Partial<SyslogHeaderOptions> = {}): SyslogFramer {
  return new SyslogFramer({
    format: "local",
    facility: SYSLOG_FACILITIES.local0,
    tag: "haproxy",
    pid: 4242,
    hostname: "",
    utc: true,
    ...overrides,
  });
}

/** RFC 5424 6's ABNF for a message with NILVALUE structured data and a free-form MSG. */
const RFC5424_LINE = new RegExp(
  "^<(?:[0-9]|[1-9][0-9]|1[0-8][0-9]|19[01])>" + // PRI: 0..191
    "1 " + // VERSION
    "\\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\\d|3[01])T(?:[01]\\d|2[0-3]):[0-5]\\d:(?:[0-5]\\d|60)" +
    "(?:\\.\\d{1,6})?(?:Z|[+-](?:[01]\\d|2[0-3]):[0-5]\\d) " + // TIMESTAMP
    "[\\x21-\\x7e]{1,255} " + // HOSTNAME (or "-")
    "[\\x21-\\x7e]{1,48} " + // APP-NAME
    "[\\x21-\\x7e]{1,128} " + // PROCID
    "[\\x21-\\x7e]{1,32} " + // MSGID
    "(?:-|(?:\\[[^\\]]*\\])+)" + // STRUCTURED-DATA
    "(?: .*)?$", // MSG
  "s",
);

test("syslog: the facility and severity tables are HAProxy's, in order", () => {
  assert.deepEqual(Object.keys(SYSLOG_FACILITIES), [
    "kern",
    "user",
    "mail",
    "daemon",
    "auth",
    "syslog",
    "lpr",
    "news",
    "uucp",
    "cron",
    "auth2",
    "ftp",
    "ntp",
    "audit",
    "alert",
    "cron2",
    "local0",
    "local1",
    "local2",
    "local3",
    "local4",
    "local5",
    "local6",
    "local7",
  ]);
  assert.deepEqual(Object.values(SYSLOG_FACILITIES), Array.from({ length: 24 }, (_, i) => i));
  assert.deepEqual(Object.keys(SYSLOG_SEVERITIES), [
    "emerg",
    "alert",
    "crit",
    "err",
    "warning",
    "notice",
    "info",
    "debug",
  ]);
  assert.deepEqual(Object.values(SYSLOG_SEVERITIES), [0, 1, 2, 3, 4, 5, 6, 7]);
});

test("syslog: PRI is facility * 8 + severity", () => {
  const cases: Array<[number, number, string]> = [
    [SYSLOG_FACILITIES.local0, SYSLOG_SEVERITIES.info, "<134>"],
    [SYSLOG_FACILITIES.kern, SYSLOG_SEVERITIES.emerg, "<0>"],
    [SYSLOG_FACILITIES.local7, SYSLOG_SEVERITIES.debug, "<191>"],
  ];
  for (const [facility, severity, pri] of cases) {
    assert.ok(framer({ facility }).frame(severity, "m", FEB_6).startsWith(`${pri}Feb`));
    assert.ok(framer({ facility, format: "rfc5424" }).frame(severity, "m", FEB_6).startsWith(`${pri}1 `));
  }
});

test("syslog: local line (HAProxy's default), day padded with a space, never a host name", () => {
  assert.equal(
    framer().frame(SYSLOG_SEVERITIES.info, "GET / HTTP/1.1", FEB_6),
    "<134>Feb  6 09:05:03 haproxy[4242]: GET / HTTP/1.1",
  );
  assert.equal(
    framer({ hostname: "lb1" }).frame(SYSLOG_SEVERITIES.notice, "up", NOV_24),
    "<133>Nov 24 10:00:00 haproxy[4242]: up",
  );
});

test("syslog: rfc3164 line always carries HOSTNAME, \"localhost\" when none is known (as HAProxy)", () => {
  assert.equal(
    framer({ format: "rfc3164", hostname: "lb1" }).frame(SYSLOG_SEVERITIES.info, "GET / HTTP/1.1", FEB_6),
    "<134>Feb  6 09:05:03 lb1 haproxy[4242]: GET / HTTP/1.1",
  );
  assert.equal(
    framer({ format: "rfc3164", hostname: "lb1", pid: null }).frame(SYSLOG_SEVERITIES.notice, "up", NOV_24),
    "<133>Nov 24 10:00:00 lb1 haproxy: up",
  );
  // RFC 3164 4.1.2: HOSTNAME is mandatory, so a strict receiver never takes the tag for it.
  assert.equal(
    framer({ format: "rfc3164" }).frame(SYSLOG_SEVERITIES.info, "x", FEB_6),
    "<134>Feb  6 09:05:03 localhost haproxy[4242]: x",
  );
});

test("syslog: rfc5424 line, with milliseconds, numeric offset and NILVALUEs", () => {
  const line = framer({ format: "rfc5424", hostname: "host", tag: "tag", pid: 99 })
    .frame(SYSLOG_SEVERITIES.info, "message", NOV_24);
  assert.equal(line, "<134>1 2026-11-24T10:00:00.123+00:00 host tag 99 - - message");
  assert.match(line, RFC5424_LINE);

  const noHost = framer({ format: "rfc5424" }).frame(SYSLOG_SEVERITIES.emerg, "x y", FEB_6);
  assert.equal(noHost, "<128>1 2026-02-06T09:05:03.007+00:00 - haproxy 4242 - - x y");
  assert.match(noHost, RFC5424_LINE);
  assert.match(framer({ format: "rfc5424", facility: 23 }).frame(7, "", NOV_24), RFC5424_LINE);
});

test("syslog: rfc5424 in local time prints the host's offset for that instant", () => {
  const line = framer({ format: "rfc5424", utc: false }).frame(SYSLOG_SEVERITIES.info, "m", NOV_24);
  assert.match(line, RFC5424_LINE);
  const date = new Date(NOV_24);
  const offset = -date.getTimezoneOffset();
  const sign = offset < 0 ? "-" : "+";
  const pad = (n: number) => String(n).padStart(2, "0");
  const expected = `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T` +
    `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.123` +
    `${sign}${pad(Math.floor(Math.abs(offset) / 60))}:${pad(Math.abs(offset) % 60)}`;
  assert.equal(line, `<134>1 ${expected} - haproxy 4242 - - m`);
});

test("syslog: raw is the message alone", () => {
  assert.equal(framer({ format: "raw", hostname: "lb1" }).frame(3, "just this", FEB_6), "just this");
});

test("syslog: the whole line, header included, is cut to maxLength without a marker", () => {
  assert.equal(framer().maxLength, SYSLOG_DEFAULT_MAX_LENGTH);
  const header = "<134>Feb  6 09:05:03 haproxy[4242]: ";
  const f = framer({ maxLength: header.length + 5 });
  assert.equal(f.frame(6, "12345", FEB_6), `${header}12345`);
  assert.equal(f.frame(6, "123456789", FEB_6), `${header}12345`);
  assert.equal(framer({ maxLength: 10 }).frame(6, "message", FEB_6), "<134>Feb  ");

  const long = framer().frame(6, "x".repeat(5000), FEB_6);
  assert.equal(long.length, 1024);
  assert.ok(long.startsWith(header));

  assert.equal(framer({ format: "raw", maxLength: 4 }).frame(6, "abcdefgh", FEB_6), "abcd");
});

test("syslog: truncation never splits a surrogate pair", () => {
  const raw = framer({ format: "raw", maxLength: 6 });
  // "ab" + U+1F600 (two code units, 4 bytes) + "c": the pair is kept or dropped whole.
  assert.equal(raw.frame(6, "ab\u{1F600}c", FEB_6), "ab\u{1F600}");
  assert.equal(raw.frame(6, "abc\u{1F600}", FEB_6), "abc");
  assert.equal(raw.frame(6, "a\u{1F600}\u{1F600}", FEB_6), "a\u{1F600}");
  const header = "<134>Feb  6 09:05:03 haproxy[4242]: ";
  const cut = framer({ maxLength: header.length + 1 }).frame(6, "\u{1F600}", FEB_6);
  assert.equal(cut, header);
  assert.ok(!/[\ud800-\udbff]$/.test(cut));
});

test("syslog: maxLength counts UTF-8 bytes, as HAProxy does, and never cuts inside a character", () => {
  const raw = framer({ format: "raw", maxLength: 5 });
  assert.equal(raw.frame(6, "ééé", FEB_6), "éé", "3 characters, 6 bytes: the third does not fit");
  assert.equal(raw.frame(6, "aéé", FEB_6), "aéé");
  assert.equal(raw.frame(6, "a€€", FEB_6), "a€", "a euro sign is 3 bytes");
  assert.equal(raw.frame(6, "a\u{1F600}b", FEB_6), "a\u{1F600}", "the pair is 4 bytes");
  assert.equal(framer({ format: "raw", maxLength: 3 }).frame(6, "\u{1F600}", FEB_6), "");
});

test("syslog: octet counting counts UTF-8 bytes", () => {
  assert.equal(octetCount("<134>hello"), "10 <134>hello");
  assert.equal(octetCount(""), "0 ");
  assert.equal(octetCount("é"), "2 é");
  assert.equal(octetCount("aé€\u{1F600}"), "10 aé€\u{1F600}");
  const encoder = new TextEncoder();
  for (
    const text of [
      "plain ascii",
      "caf\u00e9",
      "\u20ac100",
      "\u{1F600}x\u{10FFFF}",
      "\ud800 lone",
      "end \udc00",
    ]
  ) {
    assert.equal(utf8ByteLength(text), encoder.encode(text).length, JSON.stringify(text));
  }
});

test("syslog: the timestamp is recomputed when the second changes, not within one", () => {
  const rfc3164 = framer();
  const rfc5424 = framer({ format: "rfc5424" });
  const base = Date.UTC(2026, 1, 6, 9, 5, 3, 0);
  const original = Date.prototype.getUTCSeconds;
  let calls = 0;
  Date.prototype.getUTCSeconds = function (this: Date): number {
    calls++;
    return original.call(this);
  };
  try {
    assert.equal(rfc3164.frame(6, "a", base), "<134>Feb  6 09:05:03 haproxy[4242]: a");
    assert.equal(rfc3164.frame(6, "b", base + 999), "<134>Feb  6 09:05:03 haproxy[4242]: b");
    assert.equal(calls, 1);
    assert.equal(rfc3164.frame(6, "c", base + 1000), "<134>Feb  6 09:05:04 haproxy[4242]: c");
    assert.equal(calls, 2);

    calls = 0;
    assert.equal(
      rfc5424.frame(6, "a", base + 998),
      "<134>1 2026-02-06T09:05:03.998+00:00 - haproxy 4242 - - a",
    );
    assert.equal(
      rfc5424.frame(6, "b", base + 999),
      "<134>1 2026-02-06T09:05:03.999+00:00 - haproxy 4242 - - b",
    );
    assert.equal(calls, 1);
    assert.equal(
      rfc5424.frame(6, "c", base + 1000),
      "<134>1 2026-02-06T09:05:04.000+00:00 - haproxy 4242 - - c",
    );
    // A wall clock stepped back is a different second too.
    assert.equal(
      rfc5424.frame(6, "d", base + 1),
      "<134>1 2026-02-06T09:05:03.001+00:00 - haproxy 4242 - - d",
    );
    assert.equal(calls, 3);
  } finally {
    Date.prototype.getUTCSeconds = original;
  }
  // Across midnight and a year: every cached field follows.
  const newYear = Date.UTC(2026, 11, 31, 23, 59, 59, 500);
  assert.equal(rfc3164.frame(6, "x", newYear), "<134>Dec 31 23:59:59 haproxy[4242]: x");
  assert.equal(rfc3164.frame(6, "x", newYear + 500), "<134>Jan  1 00:00:00 haproxy[4242]: x");
});

test("syslog: facility and severity names parse to their codes, unknown names to undefined", () => {
  assert.equal(parseFacility("kern"), 0);
  assert.equal(parseFacility("local0"), 16);
  assert.equal(parseFacility("local7"), 23);
  assert.equal(parseFacility("cron2"), 15);
  assert.equal(parseSeverity("emerg"), 0);
  assert.equal(parseSeverity("info"), 6);
  assert.equal(parseSeverity("debug"), 7);
  for (const name of ["", "local8", "LOCAL0", "info ", "constructor", "toString", "__proto__"]) {
    assert.equal(parseFacility(name), undefined, name);
  }
  for (const name of ["", "warn", "error", "Info", "hasOwnProperty", "__proto__"]) {
    assert.equal(parseSeverity(name), undefined, name);
  }
});

test("syslog: bad options and severities are refused with the value quoted", () => {
  assert.throws(() => framer({ facility: 24 }), {
    message: 'Syslog facility "24" is not an integer between 0 and 23',
  });
  assert.throws(() => framer({ maxLength: 0 }), {
    message: 'Syslog line length "0" is not a positive integer',
  });
  assert.throws(() => framer({ tag: "ha proxy" }), {
    message: 'Syslog tag "ha proxy" must be printable ASCII without spaces',
  });
  assert.throws(() => framer({ tag: "" }), /Syslog tag ""/);
  assert.throws(() => framer({ hostname: "a\nb" }), /Syslog hostname/);
  assert.throws(() => framer({ pid: -1 }), { message: 'Syslog pid "-1" is not a non-negative integer' });
  assert.throws(() => framer({ format: "rfc5424", tag: "t".repeat(49) }), /longer than rfc5424's 48/);
  assert.throws(() => framer({ format: "short" as "raw" }), { message: 'Unknown syslog format "short"' });
  assert.throws(() => framer().frame(8, "m", FEB_6), {
    message: 'Syslog severity "8" is not an integer between 0 and 7',
  });
  assert.throws(() => framer().frame(-1, "m", FEB_6), RangeError);
});
