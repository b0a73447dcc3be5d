/**
 * What tcp and http sessions share to write their traffic log lines: the termination-state letters
 * and the parts of a {@link LogRecord} that come from the connection, the frontend, the backend and
 * the server rather than from the protocol.
 *
 * Termination states are HAProxy's (configuration manual, 8.5): the first letter says who or what
 * ended the session, the second in which phase. Sessions keep the first abnormal event's code
 * and log "--" when nothing went wrong.
 *
 * @module
 */

import type { Connection } from "../runtime/types.ts";
import type { Backend } from "../core/backend.ts";
import type { Server } from "../core/server.ts";
import type { ServerSlot } from "../core/server_slot.ts";
import type { LogRecord } from "../log/record.ts";
import type { SessionHost } from "./session_host.ts";

/** Nothing went wrong: the two letters HAProxy prints for a normal end. */
export const TERMINATION_NORMAL = "--";
/** HAProxy's persistence letters (no cookie persistence here): appended to every state for %tsc. */
const NO_PERSISTENCE = "--";

/** Which phase a session was in when it ended (the second letter). */
export const PHASE_LETTER_REQUEST = "R";
export const PHASE_LETTER_QUEUE = "Q";
export const PHASE_LETTER_CONNECT = "C";
export const PHASE_LETTER_HEADERS = "H";
export const PHASE_LETTER_DATA = "D";

/** Starts `record` for a client connection just accepted (http: for each request on it). */
export function startRecord(record: LogRecord, host: SessionHost, client: Connection): void {
  record.clientAddress = client.remote.address;
  record.clientPort = client.remote.port;
  record.frontendAddress = client.local.address;
  record.frontendPort = client.local.port;
  record.frontendName = host.name;
  record.proxied = client.proxied ?? null;
  const tls = client.tls;
  if (tls === undefined) {
    if (record.tlsVersion !== "") clearTlsFacts(record);
    return;
  }
  record.tlsVersion = tls.version;
  record.tlsCipher = tls.cipher;
  record.tlsServerName = tls.serverName;
  record.tlsAlpn = tls.alpn;
  record.tlsPeerCertificate = tls.peerCertificate;
  record.tlsPeerError = tls.peerError;
  record.tlsPeerSubject = tls.peerSubject;
}

function clearTlsFacts(record: LogRecord): void {
  record.tlsVersion = "";
  record.tlsCipher = "";
  record.tlsServerName = "";
  record.tlsAlpn = "";
  record.tlsPeerCertificate = "none";
  record.tlsPeerError = "";
  record.tlsPeerSubject = "";
}

/** The counts and the termination state, taken when the line is written. */
export function finishRecord(
  record: LogRecord,
  host: SessionHost,
  backend: Backend | null,
  server: Server | null,
  termination: string | null,
): void {
  record.backendName = backend === null ? "" : backend.name;
  record.processConnections = host.processSessions;
  record.frontendConnections = host.activeSessions;
  record.backendConnections = backend === null ? 0 : backend.activeConnections;
  record.serverConnections = server === null ? 0 : server.activeConnections;
  record.terminationState = (termination ?? TERMINATION_NORMAL) + NO_PERSISTENCE;
}

/** Records the server a session reached (or last tried): %s, %si, %sp. */
export function fillServer(record: LogRecord, server: Server | null, clientPort: number): void {
  if (server === null) {
    record.serverName = null;
    record.serverAddress = "";
    record.serverPort = 0;
    return;
  }
  record.serverName = server.name;
  record.serverAddress = server.host;
  record.serverPort = server.port ?? clientPort;
}

/** %sq and %bq: the requests ahead of a slot just queued, in its server's queue and in the backend's. */
export function recordQueuePosition(record: LogRecord, backend: Backend, slot: ServerSlot): void {
  const queue = slot.queue!;
  const inBackendQueue = queue === backend.queue;
  record.serverQueue = inBackendQueue ? 0 : queue.length - 1;
  record.backendQueue = inBackendQueue ? queue.length - 1 : backend.queue.length;
}
