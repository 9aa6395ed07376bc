/** The small part of the DNS wire format (RFC 1035) the embedded server needs. */
import { formatIp6 } from './ipv6.js';

export const TYPE_A = 1;
export const TYPE_PTR = 12;
export const TYPE_MX = 15;
export const TYPE_OPT = 41;
export const TYPE_AAAA = 28;
export const CLASS_IN = 1;
export const RCODE_NOERROR = 0;
export const RCODE_SERVFAIL = 2;
export const RCODE_REFUSED = 5;

export interface Question {
  id: number;
  flags: number;
  /** As asked, in its own case (DNS names compare case-insensitively; a network name does not). */
  name: string;
  type: number;
  cls: number;
  /** Offset just past the question: what gets copied into the answer. */
  questionEnd: number;
  /** The UDP payload size of the query's EDNS0 OPT record, when it has one. */
  udpSize?: number;
}

/** The first question of a query; undefined when the packet is not a well-formed query. */
export function parseQuery(buf: Buffer): Question | undefined {
  if (buf.length < 12) return undefined;
  const flags = buf.readUInt16BE(2);
  if (flags & 0x8000) return undefined; // a response
  if (buf.readUInt16BE(4) < 1) return undefined;
  const labels: string[] = [];
  let off = 12;
  for (;;) {
    if (off >= buf.length) return undefined;
    const len = buf[off]!;
    if (len === 0) {
      off++;
      break;
    }
    if (len & 0xc0 || off + 1 + len > buf.length) return undefined; // no compression in questions
    labels.push(buf.toString('latin1', off + 1, off + 1 + len));
    off += 1 + len;
  }
  if (off + 4 > buf.length) return undefined;
  const q: Question = { id: buf.readUInt16BE(0), flags, name: labels.join('.'), type: buf.readUInt16BE(off), cls: buf.readUInt16BE(off + 2), questionEnd: off + 4 };
  // An OPT record (root name, type 41) right after the question: its class is the UDP size.
  const opt = q.questionEnd;
  if (buf.readUInt16BE(10) >= 1 && opt + 5 <= buf.length && buf[opt] === 0 && buf.readUInt16BE(opt + 1) === TYPE_OPT) q.udpSize = buf.readUInt16BE(opt + 3);
  return q;
}

/** Whether `name` fits the wire format (labels of 1–63 bytes, 255 in all): a container name may not. */
export function encodableName(name: string): boolean {
  const labels = name.split('.').filter(Boolean);
  return labels.every((l) => Buffer.byteLength(l, 'latin1') <= 63) && labels.reduce((n, l) => n + l.length + 1, 1) <= 255;
}

function encodeName(name: string): Buffer {
  // A longer label's length would not fit its byte and the rest would be read as records.
  if (!encodableName(name)) throw new RangeError(`name does not fit in a DNS message: ${name.slice(0, 80)}`);
  const parts = name.split('.').filter(Boolean).map((l) => {
    const b = Buffer.from(l, 'latin1');
    return Buffer.concat([Buffer.from([b.length]), b]);
  });
  return Buffer.concat([...parts, Buffer.from([0])]);
}

export type Answer = { type: typeof TYPE_A; ip: number } | { type: typeof TYPE_AAAA; ip6: Buffer } | { type: typeof TYPE_PTR; name: string };

function rdataOf(a: Answer): Buffer {
  if (a.type === TYPE_A) return Buffer.from([a.ip >>> 24, (a.ip >>> 16) & 255, (a.ip >>> 8) & 255, a.ip & 255]);
  if (a.type === TYPE_AAAA) return a.ip6;
  return encodeName(a.name);
}

/**
 * A response to `q` (question copied from the query) with the given answers and rcode. With
 * `maxSize` (a UDP answer), the answers that do not fit are left out and the TC bit is set, so
 * that the client asks again over TCP.
 */
export function buildResponse(query: Buffer, q: Question, rcode: number, answers: Answer[], ttl = 600, maxSize = Infinity): Buffer {
  const header = Buffer.alloc(12);
  const question = query.subarray(12, q.questionEnd);
  const records = answers.map((a) => [a, rdataOf(a)] as const);
  let size = header.length + question.length;
  let fit = 0;
  while (fit < records.length && size + 12 + records[fit]![1].length <= maxSize) size += 12 + records[fit++]![1].length;
  const truncated = fit < records.length;
  header.writeUInt16BE(q.id, 0);
  // QR, opcode 0, AA, TC when cut, RD copied, RA, rcode
  header.writeUInt16BE(0x8000 | 0x0400 | (truncated ? 0x0200 : 0) | (q.flags & 0x0100) | 0x0080 | (rcode & 0xf), 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(fit, 6);
  const parts: Buffer[] = [header, question];
  for (const [a, rdata] of records.slice(0, fit)) {
    const rr = Buffer.alloc(12);
    rr.writeUInt16BE(0xc00c, 0); // pointer to the question's name
    rr.writeUInt16BE(a.type, 2);
    rr.writeUInt16BE(CLASS_IN, 4);
    rr.writeUInt32BE(ttl, 6);
    rr.writeUInt16BE(rdata.length, 10);
    parts.push(rr, rdata);
  }
  return Buffer.concat(parts);
}

/** For tests and the resolver: a standard recursive query. */
export function buildQuery(id: number, name: string, type: number): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(id, 0);
  header.writeUInt16BE(0x0100, 2);
  header.writeUInt16BE(1, 4);
  const tail = Buffer.alloc(4);
  tail.writeUInt16BE(type, 0);
  tail.writeUInt16BE(CLASS_IN, 2);
  return Buffer.concat([header, encodeName(name), tail]);
}

/** The rcode and A/AAAA-record addresses of a response (answers must use name pointers or names). */
export function parseResponse(buf: Buffer): { id: number; rcode: number; addresses: string[] } {
  const id = buf.readUInt16BE(0);
  const rcode = buf.readUInt16BE(2) & 0xf;
  const qd = buf.readUInt16BE(4);
  const an = buf.readUInt16BE(6);
  let off = 12;
  const skipName = () => {
    for (;;) {
      const len = buf[off]!;
      if (len === 0) return void off++;
      if ((len & 0xc0) === 0xc0) return void (off += 2);
      off += 1 + len;
    }
  };
  for (let i = 0; i < qd; i++) {
    skipName();
    off += 4;
  }
  const addresses: string[] = [];
  for (let i = 0; i < an; i++) {
    skipName();
    const type = buf.readUInt16BE(off);
    const len = buf.readUInt16BE(off + 8);
    if (type === TYPE_A && len === 4) addresses.push([...buf.subarray(off + 10, off + 14)].join('.'));
    if (type === TYPE_AAAA && len === 16) {
      const hex = buf.subarray(off + 10, off + 26).toString('hex');
      addresses.push(formatIp6(BigInt(`0x${hex}`)));
    }
    off += 10 + len;
  }
  return { id, rcode, addresses };
}
