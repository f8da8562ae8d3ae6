// Reads what matters of a macOS executable (Mach-O, 64-bit): for the checks of the capture processes
// the package carries for macOS (scripts/build-prebuilt.mjs, test/e2e/package.test.ts), which are
// built on Linux and cannot be run here.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";

const MH_MAGIC_64 = 0xfeedfacf;
const MH_EXECUTE = 2;
const LC_LOAD_DYLIB = 0xc;
const LC_LOAD_WEAK_DYLIB = 0x80000018;
const LC_REEXPORT_DYLIB = 0x8000001f;
const LC_LAZY_LOAD_DYLIB = 0x20;
const LC_CODE_SIGNATURE = 0x1d;

/** CPU types of the two Macs (mach/machine.h), by Node's process.arch. */
export const MACHO_CPU = { arm64: 0x0100000c, x64: 0x01000007 };

const CSMAGIC_EMBEDDED_SIGNATURE = 0xfade0cc0;
const CSMAGIC_CODEDIRECTORY = 0xfade0c02;
const CS_ADHOC = 0x2;
const HASHES = { 1: "sha1", 2: "sha256" };

/**
 * Why the code signature at `off` (`size` bytes) does not hold, or undefined when it does: its code
 * directory's hash of each page of the file up to its code limit matches the page, as the kernel
 * checks on Apple Silicon. (An ad-hoc signature has no certificate to check.)
 */
function signatureProblem(b, off, size) {
  if (off + size > b.length || b.readUInt32BE(off) !== CSMAGIC_EMBEDDED_SIGNATURE) return "no embedded signature";
  const count = b.readUInt32BE(off + 8);
  for (let i = 0; i < count; i++) {
    const type = b.readUInt32BE(off + 12 + i * 8);
    if (type !== 0) continue; // the code directory's slot
    const cd = off + b.readUInt32BE(off + 16 + i * 8);
    if (b.readUInt32BE(cd) !== CSMAGIC_CODEDIRECTORY) return "no code directory";
    const flags = b.readUInt32BE(cd + 12);
    const hashOffset = b.readUInt32BE(cd + 16);
    const codeSlots = b.readUInt32BE(cd + 28);
    const codeLimit = b.readUInt32BE(cd + 32);
    const hashSize = b[cd + 36];
    const algorithm = HASHES[b[cd + 37]];
    const pageSize = 2 ** b[cd + 39];
    if (!algorithm) return `unknown hash type ${b[cd + 37]}`;
    if (!(flags & CS_ADHOC)) return "not an ad-hoc signature";
    if (codeSlots !== Math.ceil(codeLimit / pageSize)) return `${codeSlots} page hashes for ${codeLimit} bytes`;
    for (let page = 0; page < codeSlots; page++) {
      const data = b.subarray(page * pageSize, Math.min((page + 1) * pageSize, codeLimit));
      const want = b.subarray(cd + hashOffset + page * hashSize, cd + hashOffset + (page + 1) * hashSize);
      const got = createHash(algorithm).update(data).digest().subarray(0, hashSize);
      if (!got.equals(want)) return `page ${page}'s hash does not match its signature`;
    }
    return undefined;
  }
  return "no code directory";
}

/**
 * The facts of a Mach-O file: whether it is a 64-bit executable, its CPU type, the libraries it loads
 * and its code signature (LC_CODE_SIGNATURE: Apple Silicon kills an unsigned binary): `signed`, and
 * `signatureProblem` when its page hashes do not hold. Throws for a file that is not one.
 */
export function readMachO(path) {
  const b = readFileSync(path);
  if (b.length < 32 || b.readUInt32LE(0) !== MH_MAGIC_64) throw new Error(`${path} is not a 64-bit Mach-O file`);
  const cpu = b.readUInt32LE(4);
  const fileType = b.readUInt32LE(12);
  const ncmds = b.readUInt32LE(16);
  const libraries = [];
  let signed = false;
  let signature;
  let at = 32;
  for (let i = 0; i < ncmds; i++) {
    if (at + 8 > b.length) throw new Error(`${path}: load commands run past its end`);
    const cmd = b.readUInt32LE(at);
    const size = b.readUInt32LE(at + 4);
    if ([LC_LOAD_DYLIB, LC_LOAD_WEAK_DYLIB, LC_REEXPORT_DYLIB, LC_LAZY_LOAD_DYLIB].includes(cmd)) {
      const nameAt = at + b.readUInt32LE(at + 8);
      libraries.push(b.toString("latin1", nameAt, b.indexOf(0, nameAt)));
    }
    if (cmd === LC_CODE_SIGNATURE) {
      signed = true;
      signature = signatureProblem(b, b.readUInt32LE(at + 8), b.readUInt32LE(at + 12));
    }
    at += size;
  }
  return { executable: fileType === MH_EXECUTE, cpu, libraries, signed, signatureProblem: signature };
}

/** Why a Mach-O file is not what the package carries for `arch`, or undefined when it is. */
export function notMacExecutable(path, arch) {
  let m;
  try {
    m = readMachO(path);
  } catch (err) {
    return err.message;
  }
  if (!m.executable) return "not an executable (MH_EXECUTE)";
  if (m.cpu !== MACHO_CPU[arch]) return `built for CPU type 0x${m.cpu.toString(16)}, not ${arch}`;
  const others = m.libraries.filter((l) => l !== "/usr/lib/libSystem.B.dylib");
  if (others.length > 0) return `it loads ${others.join(", ")} besides libSystem`;
  if (arch === "arm64" && !m.signed) return "it has no code signature (Apple Silicon kills unsigned binaries)";
  if (m.signed && m.signatureProblem) return `its code signature does not hold: ${m.signatureProblem}`;
  return undefined;
}
