import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import {
  createServer as createTcpServer,
  isIPv4,
  isIPv6,
  type Server as TcpServer,
  type Socket as TcpSocket,
} from 'node:net';
import * as packet from 'dns-packet';
import type { FailoverConfig } from '../config/failover.ts';
import { failoverRecordSet } from '../config/failover-records.ts';
import type { DnsRecordSet, DnsZone, FailoverStore, Log } from '../ports.ts';

/** Response codes (RFC 1035 4.1.1): the low four bits of the flags. */
const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;
type Rcode = (typeof RCODE)[keyof typeof RCODE];

/** A query is a header and one question: anything much larger is not one, and is dropped unread. */
const MAX_QUERY_BYTES = 1024;
/** Plain DNS over UDP (RFC 1035); a client that says so with EDNS gets up to the 1232 of DNS Flag Day 2020. */
const UDP_ANSWER_BYTES = 512;
const EDNS_ANSWER_BYTES = 1232;
/** Queries answered at once; a flood beyond it is dropped (as a busy server would), not queued. */
const MAX_IN_FLIGHT = 64;
const MAX_TCP_CONNECTIONS = 32;
const TCP_IDLE_MS = 10_000;

export interface LocalDnsServerOptions {
  readonly failover: FailoverConfig;
  /** The local zone (`records` mode's truth, and any other record set kept in it). */
  readonly zone: DnsZone;
  /** The switch (`switch` mode's truth). */
  readonly failoverStore: FailoverStore;
  readonly log: Log;
  /** UDP and TCP port on `host`; 0 picks a free one (the same for both). */
  readonly port: number;
  /** @default 127.0.0.1 */
  readonly host?: string;
}

export interface LocalDnsServer {
  readonly host: string;
  readonly port: number;
  /** `host:port`, as the dns probe's `server` and `dig @host -p port` take it. */
  readonly address: string;
  stop(): Promise<void>;
}

const normalize = (name: string) => name.toLowerCase().replace(/\.$/, '');

/**
 * The zone's answers: what an authoritative name server for `failover.zoneName` would say. The
 * failover record follows the switch in `switch` mode (as Route 53's failover routing does while
 * the PRIMARY health check follows the switch) and the local zone in `records` mode; every other
 * name is looked up in the local zone.
 */
export class LocalZoneAnswers {
  private readonly zoneName: string;
  private readonly recordName: string;

  constructor(
    private readonly failover: FailoverConfig,
    private readonly zone: DnsZone,
    private readonly failoverStore: FailoverStore,
  ) {
    this.zoneName = normalize(failover.zoneName);
    this.recordName = normalize(failover.record.name);
  }

  inZone(name: string): boolean {
    const n = normalize(name);
    return n === this.zoneName || n.endsWith(`.${this.zoneName}`);
  }

  isApex(name: string): boolean {
    return normalize(name) === this.zoneName;
  }

  /** The record sets the zone holds for a name (none: the name does not exist). */
  async recordSets(name: string): Promise<DnsRecordSet[]> {
    const n = normalize(name);
    if (n === this.recordName && this.failover.mode === 'switch') {
      const { active } = await this.failoverStore.getFailoverState();
      return [failoverRecordSet(this.failover, active)];
    }
    const found = await Promise.all(
      (['A', 'AAAA', 'CNAME'] as const).map((type) => this.zone.getRecord(n, type)),
    );
    return found.filter((set): set is DnsRecordSet => set !== undefined);
  }

  soa(): packet.Answer {
    return {
      type: 'SOA',
      name: this.zoneName,
      ttl: this.failover.record.ttl,
      data: {
        mname: `ns.${this.zoneName}`,
        rname: `hostmaster.${this.zoneName}`,
        serial: 1,
        refresh: 3600,
        retry: 600,
        expire: 86_400,
        // The negative-caching TTL: an NXDOMAIN is remembered no longer than the record would be.
        minimum: this.failover.record.ttl,
      },
    };
  }
}

/**
 * One record set as answers. An A or AAAA set whose value is not an address of that family holds an
 * alias target (Route 53's alias records point at an ALB's or CloudFront's name, which Route 53
 * resolves itself): the local zone cannot resolve it, so it is answered as a CNAME to that name.
 */
function answersOf(question: packet.Question, set: DnsRecordSet): packet.Answer[] {
  const isAddress = set.type === 'A' ? isIPv4 : set.type === 'AAAA' ? isIPv6 : () => false;
  return set.values.map((value) => ({
    type: set.type !== 'CNAME' && isAddress(value) ? set.type : 'CNAME',
    name: question.name,
    ttl: set.ttl,
    class: 'IN',
    data: value,
  }));
}

/** Answers one decoded query (never throws: a failed lookup is SERVFAIL). */
export async function answerQuery(
  query: packet.DecodedPacket,
  answers: LocalZoneAnswers,
  log: Log,
): Promise<{ rcode: Rcode; answers: packet.Answer[]; authorities: packet.Answer[] }> {
  const none = { answers: [], authorities: [] };
  // dns-packet decodes the opcode too; its types leave it out.
  if ((query as { opcode?: string }).opcode !== 'QUERY') return { rcode: RCODE.NOTIMP, ...none };
  const question = query.questions?.[0];
  if (query.questions?.length !== 1 || !question) return { rcode: RCODE.FORMERR, ...none };
  if (question.class !== undefined && question.class !== 'IN' && question.class !== 'ANY')
    return { rcode: RCODE.REFUSED, ...none };
  // Not ours: an authoritative-only server refuses rather than recursing.
  if (!answers.inZone(question.name)) return { rcode: RCODE.REFUSED, ...none };
  let sets: DnsRecordSet[];
  try {
    sets = await answers.recordSets(question.name);
  } catch (error) {
    log.warn('local DNS: the zone could not be read', { error: (error as Error).message });
    return { rcode: RCODE.SERVFAIL, ...none };
  }
  const soa = answers.soa();
  if (question.type === 'SOA' && answers.isApex(question.name)) {
    return { rcode: RCODE.NOERROR, answers: [{ ...soa, name: question.name }], authorities: [] };
  }
  if (sets.length === 0 && !answers.isApex(question.name)) {
    return { rcode: RCODE.NXDOMAIN, answers: [], authorities: [soa] };
  }
  const type = question.type as string;
  const exact = sets.filter((set) => type === 'ANY' || set.type === type);
  // A CNAME stands for the name whatever type was asked (RFC 1034 3.6.2).
  const chosen = exact.length > 0 ? exact : sets.filter((set) => set.type === 'CNAME');
  const found = chosen.flatMap((set) => answersOf(question, set));
  // The name exists but not with this type: NODATA, the SOA in the authority section.
  return found.length > 0
    ? { rcode: RCODE.NOERROR, answers: found, authorities: [] }
    : { rcode: RCODE.NOERROR, answers: [], authorities: [soa] };
}

/**
 * Encodes the response within `limit` bytes: over it, the answers are left out and the TC flag set,
 * so the client asks again over TCP (RFC 1035 4.2.1). Undefined when it cannot be encoded at all.
 */
function encodeResponse(
  query: packet.DecodedPacket,
  result: { rcode: Rcode; answers: packet.Answer[]; authorities: packet.Answer[] },
  limit: number,
): Buffer | undefined {
  const question = query.questions?.length === 1 ? query.questions : [];
  const flags =
    packet.AUTHORITATIVE_ANSWER | (query.flag_rd ? packet.RECURSION_DESIRED : 0) | (result.rcode & 0xf);
  const build = (truncated: boolean): packet.Packet => ({
    type: 'response',
    id: query.id,
    flags: flags | (truncated ? packet.TRUNCATED_RESPONSE : 0),
    questions: question,
    answers: truncated ? [] : result.answers,
    authorities: truncated ? [] : result.authorities,
  });
  try {
    const full = packet.encode(build(false));
    if (full.length <= limit) return full;
    return packet.encode(build(true));
  } catch {
    // A configured value that is no address of its type (a typo in the config): SERVFAIL.
    try {
      return packet.encode({ ...build(true), flags: (flags & ~0xf) | RCODE.SERVFAIL });
    } catch {
      return undefined;
    }
  }
}

/** Decodes a query; undefined for anything that is not one (malformed, a response, too large). */
function decodeQuery(message: Buffer): packet.DecodedPacket | undefined {
  if (message.length < 12 || message.length > MAX_QUERY_BYTES) return undefined;
  try {
    const decoded = packet.decode(message);
    // A response sent to us is dropped: answering it could start a loop between two servers.
    if (decoded.flag_qr) return undefined;
    return decoded;
  } catch {
    return undefined;
  }
}

/** The largest UDP answer the client accepts: 512, or its EDNS payload size up to 1232. */
function udpLimit(query: packet.DecodedPacket): number {
  const opt = query.additionals?.find((record) => record.type === 'OPT') as packet.OptAnswer | undefined;
  if (!opt) return UDP_ANSWER_BYTES;
  return Math.min(Math.max(opt.udpPayloadSize, UDP_ANSWER_BYTES), EDNS_ANSWER_BYTES);
}

/**
 * The local runtime's DNS listener: answers authoritatively (AA) for `failover.zoneName` over UDP and
 * TCP on 127.0.0.1, so `dig @127.0.0.1 -p <port> <record>` and the dns probe (`server`) see the
 * switch. Packets are parsed with dns-packet; malformed ones are dropped and the listener goes on.
 */
export async function startLocalDnsServer(options: LocalDnsServerOptions): Promise<LocalDnsServer> {
  const host = options.host ?? '127.0.0.1';
  const { log } = options;
  const zoneAnswers = new LocalZoneAnswers(options.failover, options.zone, options.failoverStore);
  let inFlight = 0;

  const respond = async (message: Buffer, limit: (query: packet.DecodedPacket) => number) => {
    const query = decodeQuery(message);
    if (!query) return undefined;
    if (inFlight >= MAX_IN_FLIGHT) return undefined;
    inFlight++;
    try {
      const result = await answerQuery(query, zoneAnswers, log);
      return encodeResponse(query, result, limit(query));
    } finally {
      inFlight--;
    }
  };

  const makeUdp = () => {
    const socket = createSocket({ type: 'udp4' });
    socket.on('message', (message: Buffer, remote: RemoteInfo) => {
      void respond(message, udpLimit).then(
        (response) => {
          if (!response) return;
          try {
            socket.send(response, remote.port, remote.address, () => {});
          } catch {
            // The socket closed meanwhile (stop): the client asks again.
          }
        },
        (error: Error) => log.warn('local DNS: a query failed', { error: error.message }),
      );
    });
    // A send to a vanished client (ICMP unreachable) must not take the listener down.
    socket.on('error', (error) => log.warn('local DNS (UDP)', { error: error.message }));
    return socket;
  };

  const sockets = new Set<TcpSocket>();
  const tcp = createTcpServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.setTimeout(TCP_IDLE_MS, () => socket.destroy());
    socket.on('error', () => socket.destroy());
    let buffered = Buffer.alloc(0);
    let busy = false;
    const drain = async () => {
      if (busy) return;
      busy = true;
      try {
        while (buffered.length >= 2) {
          const length = buffered.readUInt16BE(0);
          if (length < 12 || length > MAX_QUERY_BYTES) return void socket.destroy();
          if (buffered.length < 2 + length) break;
          const message = buffered.subarray(2, 2 + length);
          buffered = buffered.subarray(2 + length);
          const response = await respond(message, () => 65_535);
          if (!response) return void socket.destroy();
          const framed = Buffer.alloc(2 + response.length);
          framed.writeUInt16BE(response.length, 0);
          response.copy(framed, 2);
          if (!socket.destroyed) socket.write(framed);
        }
      } catch (error) {
        log.warn('local DNS: a TCP query failed', { error: (error as Error).message });
        socket.destroy();
      } finally {
        busy = false;
      }
    };
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      // Bounded: at most one whole query and the next one's start wait here.
      if (buffered.length > 2 * (2 + MAX_QUERY_BYTES)) return void socket.destroy();
      void drain();
    });
  });
  tcp.maxConnections = MAX_TCP_CONNECTIONS;
  tcp.on('error', (error) => log.warn('local DNS (TCP)', { error: error.message }));

  const { udp, port } = await bindBoth(makeUdp, tcp, options.port, host);
  return {
    host,
    port,
    address: `${host}:${port}`,
    async stop() {
      await Promise.all([
        new Promise<void>((done) => udp.close(() => done())),
        new Promise<void>((done) => {
          tcp.close(() => done());
          for (const socket of sockets) socket.destroy();
        }),
      ]);
    },
  };
}

/** UDP and TCP on one port; with port 0, the free UDP port may be taken for TCP: try another. */
async function bindBoth(
  makeUdp: () => Socket,
  tcp: TcpServer,
  wanted: number,
  host: string,
): Promise<{ udp: Socket; port: number }> {
  for (let attempt = 1; ; attempt++) {
    const udp = makeUdp();
    const port = await bindUdp(udp, wanted, host).catch((error: Error) => {
      udp.close();
      throw error;
    });
    try {
      await listenTcp(tcp, port, host);
      return { udp, port };
    } catch (error) {
      await new Promise<void>((done) => udp.close(() => done()));
      if (wanted !== 0 || attempt >= 10 || (error as { code?: string }).code !== 'EADDRINUSE') throw error;
    }
  }
}

function bindUdp(socket: Socket, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const failed = (error: Error) => reject(error);
    socket.once('error', failed);
    socket.bind(port, host, () => {
      socket.off('error', failed);
      resolve(socket.address().port);
    });
  });
}

function listenTcp(server: TcpServer, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/**
 * `records` mode starts from the primary's value when the zone has no record yet: a new deployment
 * does not start out failed over. A record already there is kept, so a restart never fails back.
 */
export async function seedLocalZone(failover: FailoverConfig, zone: DnsZone): Promise<boolean> {
  if (failover.mode !== 'records') return false;
  const wanted = failoverRecordSet(failover, 'primary');
  if (await zone.getRecord(wanted.name, wanted.type)) return false;
  await zone.upsertRecord(wanted);
  return true;
}
