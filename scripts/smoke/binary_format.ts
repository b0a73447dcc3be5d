/**
 * What an executable is built for, read from its first bytes: ELF (Linux, FreeBSD), Mach-O (macOS)
 * or PE (Windows), the architecture, and for ELF the program interpreter, which tells glibc from
 * musl and Linux from FreeBSD. Pure functions over bytes, so that the smoke test can check the
 * targets this machine cannot run, and the unit test can feed it synthetic headers.
 *
 * @module
 */

/** The operating systems and architectures of `scripts/build/targets.ts`. */
export type Os = "linux" | "freebsd" | "darwin" | "windows";
export type Arch = "x64" | "arm64";

/** What the headers say. `os` and `arch` are undefined where the headers name something else. */
export interface ExecutableHeader {
  readonly format: "ELF" | "Mach-O" | "PE";
  readonly os: Os | undefined;
  readonly arch: Arch | undefined;
  /** ELF: the PT_INTERP path; undefined for a static executable and other formats. */
  readonly interpreter: string | undefined;
  /** Mach-O: whether it carries a code signature (LC_CODE_SIGNATURE); undefined for other formats. */
  readonly signed?: boolean;
  /** PE: the subsystem; a console program is the only kind whose stdout and stderr work. */
  readonly subsystem: "console" | "gui" | undefined;
  /**
   * How long the file must be at least: the end of the last segment, section or table the headers
   * point at. A shorter file was cut (an interrupted build or download).
   */
  readonly extent: number;
  /** One line for humans: `ELF x86-64 linux, interpreter /lib64/ld-linux-x86-64.so.2`. */
  readonly description: string;
}

/** What a target's executable must be; `Target` of scripts/build/targets.ts fits. */
export interface ExpectedPlatform {
  readonly name: string;
  readonly os: Os;
  readonly arch: Arch;
  readonly libc: "glibc" | "musl" | undefined;
}

/** How many bytes of a file {@link readExecutableHeader} needs: every header it reads sits in them. */
export const HEADER_BYTES = 64 * 1024;

/**
 * A Bun executable embeds the whole runtime (about 90 to 120 MB); anything much smaller is a
 * failed or truncated build, not a proxy.
 */
export const MIN_EXECUTABLE_BYTES = 30 * 1024 * 1024;

/**
 * The interpreter each ELF target needs: the path is compiled into the binary, and a binary whose
 * loader does not exist at that path on the target system does not start at all.
 */
const ELF_INTERPRETERS: Readonly<Record<string, string>> = {
  "linux-x64": "/lib64/ld-linux-x86-64.so.2",
  "linux-arm64": "/lib/ld-linux-aarch64.so.1",
  "linux-x64-musl": "/lib/ld-musl-x86_64.so.1",
  "linux-arm64-musl": "/lib/ld-musl-aarch64.so.1",
  "freebsd-x64": "/libexec/ld-elf.so.1",
};

const ELF_MACHINES: Readonly<Record<number, Arch>> = { 62: "x64", 183: "arm64" };
const ELF_MACHINE_NAMES: Readonly<Record<number, string>> = { 62: "x86-64", 183: "aarch64" };
// EI_OSABI: most Linux executables say System V (0), some GNU (3); FreeBSD brands its own (9).
const ELF_OSABI_LINUX = new Set([0, 3]);
const ELF_OSABI_FREEBSD = 9;
const PT_INTERP = 3;

const MACHO_MAGIC_64 = 0xfeedfacf;
const MACHO_CPUS: Readonly<Record<number, Arch>> = { 0x01000007: "x64", 0x0100000c: "arm64" };
const MH_EXECUTE = 2;
const MACHO_HEADER_BYTES = 32;
const LC_SEGMENT_64 = 0x19;
const LC_CODE_SIGNATURE = 0x1d;

const PE_MACHINES: Readonly<Record<number, Arch>> = { 0x8664: "x64", 0xaa64: "arm64" };
const PE32_PLUS = 0x20b;
const IMAGE_FILE_DLL = 0x2000;
const SUBSYSTEMS: Readonly<Record<number, "console" | "gui">> = { 2: "gui", 3: "console" };

/** Little-endian reads that fail with "truncated" instead of reading past the end. */
class Reader {
  readonly bytes: Uint8Array;
  readonly view: DataView;
  readonly format: string;

  constructor(bytes: Uint8Array, format: string) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.format = format;
  }

  need(offset: number, length: number, what: string): void {
    if (offset < 0 || offset + length > this.bytes.length) {
      throw new Error(
        `Truncated ${this.format} file: ${what} at byte ${offset} lies beyond the ${this.bytes.length} bytes read`,
      );
    }
  }

  u8(offset: number, what: string): number {
    this.need(offset, 1, what);
    return this.view.getUint8(offset);
  }

  u16(offset: number, what: string): number {
    this.need(offset, 2, what);
    return this.view.getUint16(offset, true);
  }

  u32(offset: number, what: string): number {
    this.need(offset, 4, what);
    return this.view.getUint32(offset, true);
  }

  /** A 64-bit offset or size; anything past 2^53 is past any file we read anyway. */
  u64(offset: number, what: string): number {
    this.need(offset, 8, what);
    return Number(this.view.getBigUint64(offset, true));
  }
}

function startsWith(bytes: Uint8Array, prefix: readonly number[]): boolean {
  return prefix.every((byte, index) => bytes[index] === byte);
}

function hex(value: number): string {
  return `0x${value.toString(16)}`;
}

/**
 * Reads the headers of an executable from its first bytes (at least {@link HEADER_BYTES} of them,
 * or the whole file if shorter). Throws on an unknown magic number, a truncated header, or a
 * format variant no target uses (32-bit, big-endian, a library instead of an executable).
 */
export function readExecutableHeader(bytes: Uint8Array): ExecutableHeader {
  if (startsWith(bytes, [0x7f, 0x45, 0x4c, 0x46])) return readElf(new Reader(bytes, "ELF"));
  if (startsWith(bytes, [0x4d, 0x5a])) return readPe(new Reader(bytes, "PE"));
  if (bytes.length >= 4 && new Reader(bytes, "Mach-O").u32(0, "magic") === MACHO_MAGIC_64) {
    return readMachO(new Reader(bytes, "Mach-O"));
  }
  const magic = Array.from(bytes.subarray(0, 4), (byte) => byte.toString(16).padStart(2, "0")).join(" ");
  throw new Error(`Unknown executable format: the file starts with "${magic}", not ELF, Mach-O 64 or PE`);
}

function readElf(reader: Reader): ExecutableHeader {
  const elfClass = reader.u8(4, "EI_CLASS");
  if (elfClass !== 2) throw new Error(`Unsupported ELF class ${elfClass}: expected 2 (64-bit)`);
  const data = reader.u8(5, "EI_DATA");
  if (data !== 1) throw new Error(`Unsupported ELF data encoding ${data}: expected 1 (little-endian)`);
  const osAbi = reader.u8(7, "EI_OSABI");
  const type = reader.u16(16, "e_type");
  // ET_EXEC, or ET_DYN for a position-independent executable.
  if (type !== 2 && type !== 3) throw new Error(`Not an ELF executable: e_type is ${type}, expected 2 or 3`);
  const machine = reader.u16(18, "e_machine");
  const programHeaders = reader.u64(32, "e_phoff");
  const sectionHeaders = reader.u64(40, "e_shoff");
  const entrySize = reader.u16(54, "e_phentsize");
  const entries = reader.u16(56, "e_phnum");
  // The section header table usually closes the file; it is not needed to run, only to be whole.
  let extent = sectionHeaders + reader.u16(58, "e_shentsize") * reader.u16(60, "e_shnum");

  let interpreter: string | undefined;
  for (let index = 0; index < entries; index++) {
    const entry = programHeaders + index * entrySize;
    const segmentType = reader.u32(entry, `program header ${index}`);
    const offset = reader.u64(entry + 8, `program header ${index} p_offset`);
    const size = reader.u64(entry + 32, `program header ${index} p_filesz`);
    extent = Math.max(extent, offset + size);
    if (segmentType !== PT_INTERP) continue;
    reader.need(offset, size, "the interpreter path");
    const raw = new TextDecoder().decode(reader.bytes.subarray(offset, offset + size));
    interpreter = raw.replace(/\0+$/, "");
  }

  // FreeBSD marks its binaries in EI_OSABI and also uses its own loader path; either suffices.
  let os: Os | undefined;
  if (osAbi === ELF_OSABI_FREEBSD || interpreter?.startsWith("/libexec/ld-elf") === true) os = "freebsd";
  else if (ELF_OSABI_LINUX.has(osAbi)) os = "linux";

  const machineName = ELF_MACHINE_NAMES[machine] ?? `e_machine ${machine}`;
  const osName = os ?? `EI_OSABI ${osAbi}`;
  return {
    format: "ELF",
    os,
    arch: ELF_MACHINES[machine],
    interpreter,
    subsystem: undefined,
    extent,
    description: `ELF ${machineName} ${osName}, ${
      interpreter === undefined ? "static" : `interpreter ${interpreter}`
    }`,
  };
}

function readMachO(reader: Reader): ExecutableHeader {
  const cpu = reader.u32(4, "cputype");
  const fileType = reader.u32(12, "filetype");
  if (fileType !== MH_EXECUTE) {
    throw new Error(`Not a Mach-O executable: filetype is ${fileType}, expected 2`);
  }
  const commands = reader.u32(16, "ncmds");
  let extent = 0;
  let signed = false;
  for (let index = 0, command = MACHO_HEADER_BYTES; index < commands; index++) {
    const size = reader.u32(command + 4, `load command ${index}`);
    if (size < 8) throw new Error(`Invalid Mach-O file: load command ${index} has size ${size}`);
    const kind = reader.u32(command, `load command ${index}`);
    if (kind === LC_CODE_SIGNATURE) signed = true;
    if (kind === LC_SEGMENT_64) {
      extent = Math.max(extent, reader.u64(command + 40, "fileoff") + reader.u64(command + 48, "filesize"));
    }
    command += size;
  }
  const arch = MACHO_CPUS[cpu];
  return {
    format: "Mach-O",
    os: "darwin",
    arch,
    signed,
    interpreter: undefined,
    subsystem: undefined,
    extent,
    description: `Mach-O 64 ${arch === "x64" ? "x86_64" : arch ?? `cputype ${hex(cpu)}`}${signed ? ", signed" : ""}`,
  };
}

function readPe(reader: Reader): ExecutableHeader {
  const peHeader = reader.u32(0x3c, "e_lfanew");
  reader.need(peHeader, 4, "the PE signature");
  if (!startsWith(reader.bytes.subarray(peHeader), [0x50, 0x45, 0, 0])) {
    throw new Error(
      `Not a PE executable: no "PE\\0\\0" signature at e_lfanew ${hex(peHeader)} (an MS-DOS program?)`,
    );
  }
  const coff = peHeader + 4;
  const machine = reader.u16(coff, "Machine");
  const sections = reader.u16(coff + 2, "NumberOfSections");
  const optionalSize = reader.u16(coff + 16, "SizeOfOptionalHeader");
  const characteristics = reader.u16(coff + 18, "Characteristics");
  if ((characteristics & IMAGE_FILE_DLL) !== 0) throw new Error("Not a PE executable: it is a DLL");
  const optional = coff + 20;
  const magic = reader.u16(optional, "the optional header's magic");
  if (magic !== PE32_PLUS) {
    throw new Error(`Unsupported PE optional header ${hex(magic)}: expected 0x20b (PE32+)`);
  }
  // Subsystem sits at offset 68 of the optional header in PE32 and PE32+ alike.
  const subsystemValue = reader.u16(optional + 68, "Subsystem");
  const subsystem = SUBSYSTEMS[subsystemValue];
  // The certificate table (data directory 4) is the one addressed by file offset, not RVA.
  let extent = reader.u32(optional + 112 + 4 * 8, "the certificate table") +
    reader.u32(optional + 112 + 4 * 8 + 4, "the certificate table's size");
  for (let index = 0; index < sections; index++) {
    const section = optional + optionalSize + index * 40;
    extent = Math.max(
      extent,
      reader.u32(section + 20, `section ${index}`) + reader.u32(section + 16, `section ${index}`),
    );
  }
  const arch = PE_MACHINES[machine];
  return {
    format: "PE",
    os: "windows",
    arch,
    interpreter: undefined,
    subsystem,
    extent,
    description: `PE32+ ${arch ?? `machine ${hex(machine)}`} ${subsystem ?? `subsystem ${subsystemValue}`}`,
  };
}

const FORMATS: Readonly<Record<Os, ExecutableHeader["format"]>> = {
  linux: "ELF",
  freebsd: "ELF",
  darwin: "Mach-O",
  windows: "PE",
};

/** Why `header` is not an executable for `expected`; empty when it is. */
export function platformProblems(header: ExecutableHeader, expected: ExpectedPlatform): string[] {
  const problems: string[] = [];
  const format = FORMATS[expected.os];
  if (header.format !== format) problems.push(`format is ${header.format}, expected ${format}`);
  if (header.os !== expected.os) problems.push(`OS is ${header.os ?? "unknown"}, expected ${expected.os}`);
  if (header.arch !== expected.arch) {
    problems.push(`architecture is ${header.arch ?? "unknown"}, expected ${expected.arch}`);
  }
  const interpreter = ELF_INTERPRETERS[expected.name];
  if (
    format === "ELF" && header.format === "ELF" && interpreter !== undefined &&
    header.interpreter !== interpreter
  ) {
    const libc = expected.libc === undefined ? "" : ` (${expected.libc})`;
    problems.push(`interpreter is ${header.interpreter ?? "none"}, expected ${interpreter}${libc}`);
  }
  // The kernel of macOS on Apple silicon kills unsigned code; Bun signs its darwin builds ad hoc.
  if (expected.os === "darwin" && expected.arch === "arm64" && header.format === "Mach-O" && header.signed !== true) {
    problems.push("no code signature, which macOS on Apple silicon requires");
  }
  if (expected.os === "windows" && header.format === "PE" && header.subsystem !== "console") {
    problems.push(`subsystem is ${header.subsystem ?? "unknown"}, expected console`);
  }
  return problems;
}

/** Why an executable of `bytes` bytes cannot be a whole build; undefined when its size is plausible. */
export function sizeProblem(bytes: number): string | undefined {
  if (bytes >= MIN_EXECUTABLE_BYTES) return undefined;
  return `${megabytes(bytes)} is implausibly small: a Bun executable embeds its runtime (at least ${
    megabytes(MIN_EXECUTABLE_BYTES)
  })`;
}

/** Why a file of `bytes` bytes is shorter than its headers say; undefined when it is not. */
export function truncationProblem(header: ExecutableHeader, bytes: number): string | undefined {
  if (bytes >= header.extent) return undefined;
  return `truncated: the headers describe ${header.extent} bytes, the file has ${bytes}`;
}

/** `104.5 MB` (MiB, as `ls -lh` counts); bytes below 1 MB. */
export function megabytes(bytes: number): string {
  return bytes < 1024 * 1024 ? `${bytes} bytes` : `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}
