/**
 * The executable header reader of the smoke test (scripts/smoke/binary_format.ts), on small
 * synthetic ELF, Mach-O and PE headers laid out as the specifications say, and on the executable
 * of the runtime running this test.
 */

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { closeSync, openSync, readSync } from "node:fs";
import {
  HEADER_BYTES,
  MIN_EXECUTABLE_BYTES,
  platformProblems,
  readExecutableHeader,
  sizeProblem,
  truncationProblem,
} from "../scripts/smoke/binary_format.ts";
import type { ExpectedPlatform } from "../scripts/smoke/binary_format.ts";
import { hostTarget, TARGETS } from "../scripts/build/targets.ts";

function target(name: string): ExpectedPlatform {
  const found = TARGETS.find((candidate) => candidate.name === name);
  assert.ok(found !== undefined, name);
  return found;
}

/** A 64-bit little-endian ELF header with one PT_LOAD and, when given, one PT_INTERP. */
function elf(
  options: { machine: number; osAbi?: number; interpreter?: string; type?: number; sectionHeaders?: number },
): Uint8Array {
  const interpreter = options.interpreter === undefined
    ? undefined
    : new TextEncoder().encode(`${options.interpreter}\0`);
  const headers = interpreter === undefined ? 1 : 2;
  const interpreterOffset = 64 + headers * 56;
  const bytes = new Uint8Array(interpreterOffset + (interpreter?.length ?? 0));
  const view = new DataView(bytes.buffer);
  bytes.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, options.osAbi ?? 0]);
  view.setUint16(16, options.type ?? 2, true);
  view.setUint16(18, options.machine, true);
  view.setBigUint64(32, 64n, true); // e_phoff
  if (options.sectionHeaders !== undefined) {
    view.setBigUint64(40, BigInt(options.sectionHeaders), true); // e_shoff
    view.setUint16(58, 64, true); // e_shentsize
    view.setUint16(60, 10, true); // e_shnum
  }
  view.setUint16(52, 64, true); // e_ehsize
  view.setUint16(54, 56, true); // e_phentsize
  view.setUint16(56, headers, true); // e_phnum
  view.setUint32(64, 1, true); // PT_LOAD
  if (interpreter !== undefined) {
    view.setUint32(64 + 56, 3, true); // PT_INTERP
    view.setBigUint64(64 + 56 + 8, BigInt(interpreterOffset), true);
    view.setBigUint64(64 + 56 + 32, BigInt(interpreter.length), true);
    bytes.set(interpreter, interpreterOffset);
  }
  return bytes;
}

/**
 * A 64-bit Mach-O header (mach_header_64, 32 bytes), one LC_SEGMENT_64 covering `segmentEnd` bytes
 * and, when `signed`, an LC_CODE_SIGNATURE.
 */
function machO(cpuType: number, fileType = 2, segmentEnd = 120, signed = true): Uint8Array {
  const bytes = new Uint8Array(32 + 72 + 16);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, 0xfeedfacf, true);
  view.setUint32(4, cpuType, true);
  view.setUint32(12, fileType, true);
  view.setUint32(16, signed ? 2 : 1, true); // ncmds
  view.setUint32(20, signed ? 88 : 72, true); // sizeofcmds
  view.setUint32(32, 0x19, true); // LC_SEGMENT_64
  view.setUint32(36, 72, true); // cmdsize
  view.setBigUint64(32 + 40, 0n, true); // fileoff
  view.setBigUint64(32 + 48, BigInt(segmentEnd), true); // filesize
  if (signed) {
    view.setUint32(104, 0x1d, true); // LC_CODE_SIGNATURE
    view.setUint32(108, 16, true); // cmdsize
  }
  return bytes;
}

/** An MS-DOS stub pointing at a PE signature, a COFF header, a PE32+ optional header and one section. */
function pe(
  options: { machine: number; subsystem?: number; characteristics?: number; sectionEnd?: number },
): Uint8Array {
  const peHeader = 0x80;
  const sectionTable = peHeader + 4 + 20 + 240;
  const bytes = new Uint8Array(sectionTable + 40);
  const view = new DataView(bytes.buffer);
  bytes.set([0x4d, 0x5a]);
  view.setUint32(0x3c, peHeader, true);
  bytes.set([0x50, 0x45, 0, 0], peHeader);
  view.setUint16(peHeader + 4, options.machine, true);
  view.setUint16(peHeader + 4 + 2, 1, true); // NumberOfSections
  view.setUint16(peHeader + 4 + 16, 240, true); // SizeOfOptionalHeader
  view.setUint16(peHeader + 4 + 18, options.characteristics ?? 0x22, true); // EXECUTABLE_IMAGE | LARGE_ADDRESS_AWARE
  view.setUint16(peHeader + 24, 0x20b, true);
  view.setUint16(peHeader + 24 + 68, options.subsystem ?? 3, true);
  view.setUint32(sectionTable + 16, 0x200, true); // SizeOfRawData
  view.setUint32(sectionTable + 20, (options.sectionEnd ?? bytes.length) - 0x200, true); // PointerToRawData
  return bytes;
}

describe("ELF", () => {
  test("a glibc x86-64 Linux executable", () => {
    const header = readExecutableHeader(elf({ machine: 62, interpreter: "/lib64/ld-linux-x86-64.so.2" }));
    assert.equal(header.format, "ELF");
    assert.equal(header.os, "linux");
    assert.equal(header.arch, "x64");
    assert.equal(header.interpreter, "/lib64/ld-linux-x86-64.so.2");
    assert.equal(header.description, "ELF x86-64 linux, interpreter /lib64/ld-linux-x86-64.so.2");
    assert.deepEqual(platformProblems(header, target("linux-x64")), []);
  });

  test("a musl aarch64 executable fits linux-arm64-musl, not linux-arm64 nor linux-x64-musl", () => {
    const header = readExecutableHeader(
      elf({ machine: 183, osAbi: 3, interpreter: "/lib/ld-musl-aarch64.so.1" }),
    );
    assert.equal(header.arch, "arm64");
    assert.deepEqual(platformProblems(header, target("linux-arm64-musl")), []);
    assert.deepEqual(platformProblems(header, target("linux-arm64")), [
      "interpreter is /lib/ld-musl-aarch64.so.1, expected /lib/ld-linux-aarch64.so.1 (glibc)",
    ]);
    assert.deepEqual(platformProblems(header, target("linux-x64-musl")), [
      "architecture is arm64, expected x64",
      "interpreter is /lib/ld-musl-aarch64.so.1, expected /lib/ld-musl-x86_64.so.1 (musl)",
    ]);
  });

  test("FreeBSD is told by EI_OSABI 9 and by its loader path", () => {
    const branded = readExecutableHeader(elf({ machine: 62, osAbi: 9, interpreter: "/libexec/ld-elf.so.1" }));
    assert.equal(branded.os, "freebsd");
    assert.deepEqual(platformProblems(branded, target("freebsd-x64")), []);
    assert.equal(
      readExecutableHeader(elf({ machine: 62, osAbi: 0, interpreter: "/libexec/ld-elf.so.1" })).os,
      "freebsd",
    );
    const linux = readExecutableHeader(elf({ machine: 62, interpreter: "/lib64/ld-linux-x86-64.so.2" }));
    assert.deepEqual(platformProblems(linux, target("freebsd-x64")), [
      "OS is linux, expected freebsd",
      "interpreter is /lib64/ld-linux-x86-64.so.2, expected /libexec/ld-elf.so.1",
    ]);
  });

  test("an unknown machine, OS ABI or a static executable is reported, not guessed", () => {
    const header = readExecutableHeader(elf({ machine: 40, osAbi: 6 }));
    assert.equal(header.arch, undefined);
    assert.equal(header.os, undefined);
    assert.equal(header.description, "ELF e_machine 40 EI_OSABI 6, static");
    assert.deepEqual(platformProblems(header, target("linux-x64")), [
      "OS is unknown, expected linux",
      "architecture is unknown, expected x64",
      "interpreter is none, expected /lib64/ld-linux-x86-64.so.2 (glibc)",
    ]);
  });

  test("the wrong format for the target", () => {
    const header = readExecutableHeader(elf({ machine: 62, interpreter: "/lib64/ld-linux-x86-64.so.2" }));
    assert.deepEqual(platformProblems(header, target("windows-x64")), [
      "format is ELF, expected PE",
      "OS is linux, expected windows",
    ]);
  });

  test("truncated headers, 32-bit, big-endian and relocatable files are refused", () => {
    const whole = elf({ machine: 62, interpreter: "/lib64/ld-linux-x86-64.so.2" });
    assert.throws(
      () => readExecutableHeader(whole.subarray(0, 19)),
      /^Error: Truncated ELF file: e_machine at byte 18/,
    );
    assert.throws(
      () => readExecutableHeader(whole.subarray(0, 122)),
      /Truncated ELF file: program header 1 at byte 120/,
    );
    assert.throws(
      () => readExecutableHeader(whole.subarray(0, whole.length - 3)),
      /Truncated ELF file: the interpreter path/,
    );
    const thirtyTwo = whole.slice();
    thirtyTwo[4] = 1;
    assert.throws(() => readExecutableHeader(thirtyTwo), /Unsupported ELF class 1: expected 2 \(64-bit\)/);
    const bigEndian = whole.slice();
    bigEndian[5] = 2;
    assert.throws(() => readExecutableHeader(bigEndian), /Unsupported ELF data encoding 2/);
    assert.throws(
      () => readExecutableHeader(elf({ machine: 62, type: 1 })),
      /Not an ELF executable: e_type is 1/,
    );
  });
});

describe("Mach-O", () => {
  test("x86_64 and arm64 executables", () => {
    const intel = readExecutableHeader(machO(0x01000007));
    assert.equal(intel.description, "Mach-O 64 x86_64, signed");
    assert.deepEqual(platformProblems(intel, target("darwin-x64")), []);
    const apple = readExecutableHeader(machO(0x0100000c));
    assert.equal(apple.arch, "arm64");
    assert.deepEqual(platformProblems(apple, target("darwin-arm64")), []);
    assert.deepEqual(platformProblems(apple, target("darwin-x64")), ["architecture is arm64, expected x64"]);
    const unsigned = readExecutableHeader(machO(0x0100000c, 2, 104, false));
    assert.equal(unsigned.signed, false);
    assert.deepEqual(platformProblems(unsigned, target("darwin-arm64")), [
      "no code signature, which macOS on Apple silicon requires",
    ]);
    assert.deepEqual(platformProblems(readExecutableHeader(machO(0x01000007, 2, 104, false)), target("darwin-x64")), []);
    assert.deepEqual(platformProblems(apple, target("linux-arm64")), [
      "format is Mach-O, expected ELF",
      "OS is darwin, expected linux",
    ]);
  });

  test("a dylib, a truncated header and an unknown CPU", () => {
    assert.throws(() => readExecutableHeader(machO(0x0100000c, 6)), /Not a Mach-O executable: filetype is 6/);
    assert.throws(
      () => readExecutableHeader(machO(0x0100000c).subarray(0, 10)),
      /Truncated Mach-O file: filetype/,
    );
    assert.throws(
      () => readExecutableHeader(machO(0x0100000c).subarray(0, 60)),
      /Truncated Mach-O file: fileoff at byte 72/,
    );
    const unknown = readExecutableHeader(machO(0x12));
    assert.equal(unknown.description, "Mach-O 64 cputype 0x12, signed");
    assert.deepEqual(platformProblems(unknown, target("darwin-arm64")), [
      "architecture is unknown, expected arm64",
    ]);
  });
});

describe("PE", () => {
  test("an x64 console executable", () => {
    const header = readExecutableHeader(pe({ machine: 0x8664 }));
    assert.equal(header.format, "PE");
    assert.equal(header.os, "windows");
    assert.equal(header.subsystem, "console");
    assert.equal(header.description, "PE32+ x64 console");
    assert.deepEqual(platformProblems(header, target("windows-x64")), []);
  });

  test("an arm64 or GUI executable does not fit windows-x64", () => {
    assert.deepEqual(platformProblems(readExecutableHeader(pe({ machine: 0xaa64 })), target("windows-x64")), [
      "architecture is arm64, expected x64",
    ]);
    assert.deepEqual(
      platformProblems(readExecutableHeader(pe({ machine: 0x8664, subsystem: 2 })), target("windows-x64")),
      [
        "subsystem is gui, expected console",
      ],
    );
  });

  test("an MS-DOS program, a DLL and a header cut short are refused", () => {
    const dos = pe({ machine: 0x8664 });
    dos[0x80] = 0x4e;
    assert.throws(() => readExecutableHeader(dos), /no "PE\\0\\0" signature at e_lfanew 0x80/);
    assert.throws(
      () => readExecutableHeader(pe({ machine: 0x8664, characteristics: 0x2022 })),
      /it is a DLL/,
    );
    assert.throws(
      () => readExecutableHeader(pe({ machine: 0x8664 }).subarray(0, 0x84)),
      /Truncated PE file: Machine/,
    );
    assert.throws(
      () => readExecutableHeader(new Uint8Array([0x4d, 0x5a, 0, 0])),
      /Truncated PE file: e_lfanew/,
    );
    assert.throws(
      () => readExecutableHeader(pe({ machine: 0x8664 }).subarray(0, 0x80 + 264 + 10)),
      /Truncated PE file: section 0/,
    );
  });
});

describe("anything else", () => {
  test("an unknown magic number names the bytes it found", () => {
    assert.throws(
      () => readExecutableHeader(new TextEncoder().encode("#!/bin/sh\n")),
      /Unknown executable format: the file starts with "23 21 2f 62", not ELF, Mach-O 64 or PE/,
    );
    assert.throws(
      () => readExecutableHeader(new Uint8Array(0)),
      /Unknown executable format: the file starts with ""/,
    );
    // 32-bit Mach-O: not a magic any target uses.
    assert.throws(
      () => readExecutableHeader(new Uint8Array([0xce, 0xfa, 0xed, 0xfe, 7, 0, 0, 0])),
      /Unknown executable format/,
    );
  });

  test("sizes: a Bun executable is tens of MB, less is a broken build", () => {
    assert.equal(sizeProblem(104 * 1024 * 1024), undefined);
    assert.equal(sizeProblem(MIN_EXECUTABLE_BYTES), undefined);
    assert.match(sizeProblem(MIN_EXECUTABLE_BYTES - 1)!, /^30\.0 MB is implausibly small/);
    assert.match(
      sizeProblem(12_345)!,
      /^12345 bytes is implausibly small: a Bun executable embeds its runtime \(at least 30\.0 MB\)$/,
    );
  });

  test("a file shorter than its headers say was cut", () => {
    const cases = [
      readExecutableHeader(
        elf({ machine: 62, interpreter: "/lib64/ld-linux-x86-64.so.2", sectionHeaders: 99_360 }),
      ),
      readExecutableHeader(machO(0x0100000c, 2, 100_000)),
      readExecutableHeader(pe({ machine: 0x8664, sectionEnd: 100_000 })),
    ];
    for (const header of cases) {
      assert.equal(header.extent, 100_000, header.format);
      assert.equal(truncationProblem(header, 100_000), undefined);
      assert.equal(truncationProblem(header, 150_000), undefined);
      assert.equal(
        truncationProblem(header, 99_999),
        "truncated: the headers describe 100000 bytes, the file has 99999",
      );
    }
  });

  test("the executable running this test is read as this machine's platform", () => {
    const bytes = new Uint8Array(HEADER_BYTES);
    const file = openSync(process.execPath, "r");
    let length: number;
    try {
      length = readSync(file, bytes, 0, bytes.length, 0);
    } finally {
      closeSync(file);
    }
    const header = readExecutableHeader(bytes.subarray(0, length));
    assert.deepEqual(platformProblems(header, hostTarget()), [], header.description);
  });
});
